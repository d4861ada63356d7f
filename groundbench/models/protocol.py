"""What any scored VQA model implements: proposal features in, answer scores (and attention) out."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch


@dataclass
class VQAOutput:
    """logits: [B, A] answer scores (before the sigmoid); attention: [B, K] weights or None."""

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
