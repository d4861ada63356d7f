"""Stepwise decoding for any teacher-forced captioner (models/protocol.py's CaptionModel): a model without
``encode`` / ``init_state`` / ``step`` is re-run on the whole prefix at each step, so greedy decoding and beam
search (models/decoding.py) work on it unchanged, at O(T^2) cost instead of O(T)."""
from __future__ import annotations

import torch


class PrefixStepper:
    """encode/init_state/step over ``model(v, boxes, mask, tokens)``: the state is the token prefix [B, t]."""

    def __init__(self, model: torch.nn.Module):
        self.model = model

    def encode(self, v: torch.Tensor, boxes: torch.Tensor, mask: torch.Tensor) -> tuple:
        """ctx = (v [B, K, D], boxes [B, K, 4], mask [B, K]) - decoding repeats it per beam."""
        return v, boxes, mask

    def init_state(self, ctx: tuple) -> tuple[torch.Tensor]:
        """The empty prefix [B, 0]."""
        return (ctx[0].new_zeros((ctx[0].shape[0], 0), dtype=torch.long),)

    def step(self, ctx: tuple, state: tuple, prev_word: torch.Tensor):
        """Append prev_word [B] to the prefix and score the next word: (logits [B, V], attention [B, K] | None,
        state)."""
        prefix = torch.cat([state[0], prev_word.view(-1, 1)], dim=1)
        out = self.model(*ctx, prefix)
        attention = None if out.attention is None else out.attention[:, -1]
        return out.logits[:, -1], attention, (prefix,)


def has_stepwise(model) -> bool:
    """Whether ``model`` offers the decoder's own encode / init_state / step (models/protocol.py)."""
    return all(callable(getattr(model, name, None)) for name in ("encode", "init_state", "step"))


def stepwise(model):
    """``model`` itself when it offers encode/init_state/step, else a PrefixStepper around it."""
    if has_stepwise(model):
        return model
    return PrefixStepper(model)
