"""The Batch every model, method, importance and metric reads: plain tensors plus per-question metadata."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

HAT_GRID = 64
TENSORS = ("v", "boxes", "mask", "q", "target", "human", "has_human", "image_size", "hat_mask")
OPTIONAL = ("oracle",)  # tensors present only when the data has them and a model asks for them


@dataclass
class Batch:
    """One mini-batch of VQA questions over K region proposals.

    v: [B, K, D] proposal features (the differentiable input); boxes: [B, K, 4] (x1, y1, x2, y2) pixels;
    mask: [B, K] bool, True for real proposals (False = padding); q: [B, T] token ids, 0 = padding;
    target: [B, A] soft answer scores (0, .3, .6, .9, 1); human: [B, K] human importance (Eq. 1),
    0 where ``has_human`` is False; has_human: [B] bool; image_size: [B, 2] (width, height);
    hat_mask: [B, G, G] bool, the binarised human map on a G x G grid over the image in normalised
    coordinates (G = HAT_GRID), all False where ``has_human`` is False. Optional (None unless the store has it
    and a model asks for it: data/store.VQAStore.provide): oracle [B, K], the oracle importance (Eq. 1 on
    the exact masks of the objects the answer depends on, data/oracle_importance.py).
    """

    v: torch.Tensor
    boxes: torch.Tensor
    mask: torch.Tensor
    q: torch.Tensor
    target: torch.Tensor
    human: torch.Tensor
    has_human: torch.Tensor
    image_size: torch.Tensor
    hat_mask: torch.Tensor
    question_ids: list[int] = field(default_factory=list)
    image_ids: list[int] = field(default_factory=list)
    answers: list[list[str]] = field(default_factory=list)
    answer_types: list[str] = field(default_factory=list)
    question_types: list[str] = field(default_factory=list)
    oracle: torch.Tensor | None = None

    def _tensors(self) -> tuple[str, ...]:
        return TENSORS + tuple(name for name in OPTIONAL if getattr(self, name) is not None)

    def to(self, device: torch.device | str) -> "Batch":
        """Move every tensor to ``device``; metadata lists stay as they are. Copies to a CUDA device are
        non-blocking (overlapped with compute when the batch is pinned: ``pin_memory``); any other copy is the
        ordinary synchronous one (a non-blocking device-to-host copy could be read before it lands)."""
        non_blocking = torch.device(device).type == "cuda"
        moved = {name: getattr(self, name).to(device, non_blocking=non_blocking) for name in self._tensors()}
        return replace(self, **moved)

    def pin_memory(self) -> "Batch":
        """The batch in page-locked memory (DataLoader(pin_memory=True) calls this in its pinning thread)."""
        return replace(self, **{name: getattr(self, name).pin_memory() for name in self._tensors()})

    def __len__(self) -> int:
        return int(self.v.shape[0])

    def select(self, index: torch.Tensor) -> "Batch":
        """Rows ``index`` ([B'] long or [B] bool) of every tensor and list."""
        if index.dtype == torch.bool:
            index = index.nonzero(as_tuple=True)[0]
        idx = index.tolist()
        tensors = {name: getattr(self, name)[index] for name in self._tensors()}
        lists = {
            name: [getattr(self, name)[i] for i in idx] if getattr(self, name) else []
            for name in ("question_ids", "image_ids", "answers", "answer_types", "question_types")
        }
        return replace(self, **tensors, **lists)
