"""What any scored model implements: proposal features in, answer scores or word scores (and attention) out."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch


@dataclass
class VQAOutput:
    """logits: [B, A] answer scores (before the sigmoid); attention: [B, K] weights or None."""

    logits: torch.Tensor
    attention: torch.Tensor | None = None


@dataclass
class CaptionOutput:
    """logits: [B, T, V] word scores per step (log_softmax gives log-probabilities); attention: [B, T, K]
    weights over the proposals at each step, or None."""

    logits: torch.Tensor
    attention: torch.Tensor | None = None


@runtime_checkable
class VQAModel(Protocol):
    """A VQA model: ``v`` [B, K, D] is the differentiable input that gradient importance and HINT use.

    boxes: [B, K, 4]; mask: [B, K] bool (True = real proposal); q: [B, T] token ids.
    """

    def __call__(self, v: torch.Tensor, boxes: torch.Tensor, mask: torch.Tensor, q: torch.Tensor) -> VQAOutput:
        ...


def split_forward(model) -> bool:
    """True when ``model`` also offers ``encode_question(q) -> state`` and
    ``answer_from_question(v, boxes, mask, state) -> VQAOutput`` (optional: lets occlusion, which
    re-scores one question K times, encode it once). ``forward`` must equal their composition."""
    return callable(getattr(model, "encode_question", None)) and callable(getattr(model, "answer_from_question", None))


@runtime_checkable
class CaptionModel(Protocol):
    """A captioning model, teacher-forced: ``v`` [B, K, D] is the differentiable input.

    boxes: [B, K, 4]; mask: [B, K] bool; tokens: [B, T] input word ids starting with <bos> (id 1), 0 = pad.
    Returns CaptionOutput(logits [B, T, V], attention [B, T, K] | None); logits[:, t] predicts tokens[:, t + 1].
    Decoding (greedy / beam search, models/decoding.py) additionally needs ``encode``, ``init_state`` and ``step``.
    """

    def __call__(self, v: torch.Tensor, boxes: torch.Tensor, mask: torch.Tensor, tokens: torch.Tensor) -> CaptionOutput:
        ...


def batch_inputs(model) -> tuple[str, ...]:
    """The optional Batch fields (data/batch.OPTIONAL, e.g. "oracle") that ``model`` takes as keyword inputs after
    (v, boxes, mask, q): its ``batch_inputs`` attribute, looked up through DistributedDataParallel (``module``)
    and torch.compile (``_orig_mod``) wrappers; () for every model of the plain protocol."""
    for candidate in (model, getattr(model, "module", None), getattr(model, "_orig_mod", None)):
        names = getattr(type(candidate), "batch_inputs", None) if candidate is not None else None
        if names:
            return tuple(names)
    return ()


def extra_inputs(model, batch, rows: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """{name: batch.name (rows ``rows`` of it)} for the fields ``model`` asks for (``batch_inputs``); {} for a
    plain model, so its call is unchanged. A field the batch does not carry is a GroundbenchError."""
    out = {}
    for name in batch_inputs(model):
        value = getattr(batch, name, None)
        if value is None:
            from ..errors import GroundbenchError

            raise GroundbenchError(f"the model takes the batch's '{name}', which this data does not carry "
                                   f"(only a synthetic world's store has it; see data/store.VQAStore.provide)")
        out[name] = value if rows is None else value[rows]
    return out
