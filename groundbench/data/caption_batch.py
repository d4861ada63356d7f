"""The CaptionBatch every captioning model, method, importance and metric reads: images with one caption each
(teacher-forcing tokens) and one grounding row per visual-word occurrence that has a human mask."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

IMAGE_TENSORS = ("v", "boxes", "mask", "image_size", "tokens")
ROW_TENSORS = ("row_step", "row_category", "row_word", "human", "hat_mask")
LISTS = ("image_ids", "caption_index", "references", "objects")


@dataclass
class CaptionBatch:
    """B images over K proposals and R grounding rows.

    v: [B, K, D] proposal features; boxes: [B, K, 4] (x1, y1, x2, y2) pixels; mask: [B, K] bool (True = real
    proposal); image_size: [B, 2] (w, h); tokens: [B, L] long, ``<bos> words <eos> <pad>...`` (L = 18): inputs
    ``tokens[:, :-1]``, targets ``tokens[:, 1:]``.
    Rows (one per visual-word occurrence in the TARGET sequence whose category has a human mask in the image):
    row_batch [R] long (image), row_step [R] long (``targets[row_batch, row_step] == row_word``),
    row_category [R] long (index into the store's categories), row_word [R] long, human [R, K] float32
    (Eq. 1 of the category's mask), hat_mask [R, G, G] bool (the mask on the grid, rows = y).
    Metadata: image_ids, caption_index (which of the image's captions; -1 for image items), references (all
    raw captions of the image), objects (category names annotated in the image).
    """

    v: torch.Tensor
    boxes: torch.Tensor
    mask: torch.Tensor
    image_size: torch.Tensor
    tokens: torch.Tensor
    row_batch: torch.Tensor
    row_step: torch.Tensor
    row_category: torch.Tensor
    row_word: torch.Tensor
    human: torch.Tensor
    hat_mask: torch.Tensor
    image_ids: list[int] = field(default_factory=list)
    caption_index: list[int] = field(default_factory=list)
    references: list[list[str]] = field(default_factory=list)
    objects: list[list[str]] = field(default_factory=list)

    def to(self, device: torch.device | str) -> "CaptionBatch":
        """Move every tensor to ``device``; metadata lists stay as they are."""
        names = (*IMAGE_TENSORS, "row_batch", *ROW_TENSORS)
        return replace(self, **{name: getattr(self, name).to(device) for name in names})

    def __len__(self) -> int:
        return int(self.v.shape[0])

    def select(self, index: torch.Tensor) -> "CaptionBatch":
        """Images ``index`` ([B'] long, or [B] bool); their rows follow them, ``row_batch`` renumbered to the
        new positions (rows grouped by new image, in their old order within an image)."""
        if index.dtype == torch.bool:
            index = index.nonzero(as_tuple=True)[0]
        index = index.to(self.v.device)
        idx = index.tolist()
        rows, new_batch = [], []
        for position, image in enumerate(idx):
            picked = (self.row_batch == image).nonzero(as_tuple=True)[0]
            rows.append(picked)
            new_batch.append(torch.full_like(picked, position))
        device = self.row_batch.device
        rows_t = torch.cat(rows) if rows else torch.zeros(0, dtype=torch.long, device=device)
        tensors = {name: getattr(self, name)[index] for name in IMAGE_TENSORS}
        tensors.update({name: getattr(self, name)[rows_t] for name in ROW_TENSORS})
        tensors["row_batch"] = torch.cat(new_batch) if new_batch else torch.zeros(0, dtype=torch.long, device=device)
        lists = {name: [getattr(self, name)[i] for i in idx] if getattr(self, name) else [] for name in LISTS}
        return replace(self, **tensors, **lists)
