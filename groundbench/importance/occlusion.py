"""Occlusion importance of proposals: how much the predicted answer's score drops without each region."""
from __future__ import annotations

import torch

from ..data.batch import Batch
from ..models.protocol import extra_inputs, split_forward


def _answer_and_base(model, batch: Batch, answer_index: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The answer to score ([B] long; default the unoccluded argmax) and its unoccluded logit [B]."""
    logits = model(batch.v, batch.boxes, batch.mask, batch.q, **extra_inputs(model, batch)).logits
    if answer_index is None:
        answer_index = logits.argmax(1)
    answer_index = answer_index.to(device=logits.device, dtype=torch.long)
    return answer_index, logits.gather(1, answer_index.view(-1, 1)).squeeze(1)


@torch.no_grad()
def occlusion_importance(
    model,
    batch: Batch,
    answer_index: torch.Tensor | None = None,
    *,
    chunk_size: int = 256,
) -> torch.Tensor:
    """Occlusion importance [B, K]: o_a(all proposals) - o_a(all but proposal k), o_a the logit of answer a.

    a = ``answer_index`` [B] (default: the predicted answer, argmax of the unoccluded logits).
    Removing proposal k means BOTH setting its mask entry to False (so it takes no attention) AND
    zeroing its features v[b, k, :]; its box is left as it is. Every (question, real proposal) pair
    becomes one row of an expanded batch ([B*K, ...] rows, at most ``chunk_size`` rows per forward
    pass to bound memory), so there is no Python loop over proposals. Padded proposals get 0.
    A question with a single real proposal is scored with an all-False mask: the model must handle it.
    Models with the optional split forward (models/protocol.py) encode each question once, not K times.
    Runs under torch.no_grad(); putting the model in eval mode is the caller's job.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be >= 1")
    answer_index, base = _answer_and_base(model, batch, answer_index)
    result = torch.zeros(batch.mask.shape, dtype=base.dtype, device=base.device)
    rows, cols = batch.mask.nonzero(as_tuple=True)
    if split_forward(model):
        state = model.encode_question(batch.q)

        def score(v, boxes, mask, b):
            return model.answer_from_question(v, boxes, mask, state[b], **extra_inputs(model, batch, b)).logits
    else:

        def score(v, boxes, mask, b):
            return model(v, boxes, mask, batch.q[b], **extra_inputs(model, batch, b)).logits

    for start in range(0, rows.numel(), chunk_size):
        b = rows[start:start + chunk_size]
        k = cols[start:start + chunk_size]
        n = torch.arange(b.numel(), device=b.device)
        v = batch.v[b].clone()
        v[n, k] = 0
        mask = batch.mask[b].clone()
        mask[n, k] = False
        logits = score(v, batch.boxes[b], mask, b)
        result[b, k] = base[b] - logits[n, answer_index[b]]
    return result


@torch.no_grad()
def occlusion_importance_loop(model, batch: Batch, answer_index: torch.Tensor | None = None) -> torch.Tensor:
    """The naive reference for ``occlusion_importance`` [B, K]: one forward pass per proposal index k.

    Same removal (mask False and features zeroed) and same answer; used by tests and benchmarks.
    """
    answer_index, base = _answer_and_base(model, batch, answer_index)
    result = torch.zeros(batch.mask.shape, dtype=base.dtype, device=base.device)
    for k in range(batch.mask.shape[1]):
        v = batch.v.clone()
        v[:, k] = 0
        mask = batch.mask.clone()
        mask[:, k] = False
        logits = model(v, batch.boxes, mask, batch.q, **extra_inputs(model, batch)).logits
        drop = base - logits.gather(1, answer_index.view(-1, 1)).squeeze(1)
        result[:, k] = torch.where(batch.mask[:, k], drop, torch.zeros_like(drop))
    return result
