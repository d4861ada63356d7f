"""Eq. 1 of a 0/1 segmentation mask (COCO instances) in integer arithmetic, equal bit for bit to the general
map path (``importance/human.human_importance`` on the mask as float64): from the decoded mask
(``binary_importance``) or straight from its run lengths (``segment_importance``, what the captioning store uses).

On a 0/1 mask every mass is an integer, so box masses from int32 block sums equal the float64 sums of the
general path exactly, and Eq. 1 (``eq1_from_masses``) then gives the same float32 scores; a test checks it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..importance.human import eq1_from_masses, pixel_bounds
from .rle import box_counts


def _column_prefix(mask: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """[H, C] int32: ones in mask[r, :col] for each col of ``columns`` (0..W): block sums between the distinct
    columns (one pass over the mask), then running sums over the blocks."""
    width = mask.shape[1]
    starts = np.unique(np.concatenate([[0], columns[(columns > 0) & (columns < width)]]))  # starts[0] = 0
    blocks = np.cumsum(np.add.reduceat(mask, starts, axis=1, dtype=np.int32), axis=1)  # [H, U]
    ends = np.append(starts[1:], width)  # block u covers columns starts[u] .. ends[u] - 1
    return np.where(columns > 0, blocks[:, np.searchsorted(ends, np.maximum(columns, 1))], 0)


def _box_masses(prefix: np.ndarray, bounds: "BoxBounds") -> np.ndarray:
    """[K] float64 ones inside each box, from prefix [H, 2K + 1] (the box columns c0, c1, then W)."""
    k = bounds.c0.size
    integral = np.cumsum(prefix[:, :2 * k], axis=0)  # [H, 2K]: ones in mask[:r + 1, :col]

    def corner(r: np.ndarray, j: np.ndarray) -> np.ndarray:
        return np.where(r > 0, integral[np.maximum(r - 1, 0), j], 0)

    j0, j1 = np.arange(k), np.arange(k, 2 * k)
    r0, r1 = bounds.r0, bounds.r1
    return (corner(r1, j1) - corner(r0, j1) - corner(r1, j0) + corner(r0, j0)).astype(np.float64)


def binary_importance(mask: np.ndarray, boxes: np.ndarray, num_boxes: int) -> np.ndarray:
    """Eq. 1 of every proposal on mask [H, W] (0/1, any integer dtype); boxes [K, 4] pixels, the first
    ``num_boxes`` real -> [K] float32 (0 for padded proposals), equal to ``attention.proposal_importance``."""
    height, width = mask.shape
    bounds = BoxBounds.of(boxes, num_boxes, height, width)
    prefix = _column_prefix(mask, np.concatenate([bounds.c0, bounds.c1, [width]]))
    return bounds.scores(_box_masses(prefix, bounds), float(prefix[:, -1].sum()))


@dataclass(frozen=True)
class BoxBounds:
    """One image's proposals in pixels (importance/human.pixel_bounds), computed once for all its masks:
    c0, r0, c1, r1, area [K] (int64 bounds, float64 areas), real [K] bool (the first ``num_boxes``), H, W."""

    c0: np.ndarray
    r0: np.ndarray
    c1: np.ndarray
    r1: np.ndarray
    area: np.ndarray
    real: np.ndarray
    height: int
    width: int

    @classmethod
    def of(cls, boxes: np.ndarray, num_boxes: int, height: int, width: int) -> "BoxBounds":
        """boxes: [K, 4] pixels, the first ``num_boxes`` real."""
        c0, r0, c1, r1 = np.moveaxis(pixel_bounds(np.asarray(boxes, dtype=np.float32), height, width), -1, 0)
        return cls(c0, r0, c1, r1, ((c1 - c0) * (r1 - r0)).astype(np.float64), np.arange(c0.size) < int(num_boxes),
                   int(height), int(width))

    def scores(self, inside: np.ndarray, total: float) -> np.ndarray:
        """Eq. 1 from the masses inside each box [K] float64 and the mask's total -> [K] float32, 0 where padded."""
        return (eq1_from_masses(inside, total, self.area, self.height * self.width) * self.real).astype(np.float32)

    def importance(self, segments: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
        """Eq. 1 of every proposal from the run-length segments of a 0/1 mask of this image (data/rle.one_segments),
        never decoded: [K] float32, equal bit for bit to ``binary_importance`` of the decoded mask."""
        inside = box_counts(segments, self.c0, self.r0, self.c1, self.r1).astype(np.float64)
        return self.scores(inside, float((segments[2] - segments[1]).sum()))


def segment_importance(segments: tuple[np.ndarray, np.ndarray, np.ndarray], boxes: np.ndarray, num_boxes: int,
                       height: int, width: int) -> np.ndarray:
    """Eq. 1 of boxes [K, 4] (the first ``num_boxes`` real) from the segments of an H x W 0/1 mask -> [K] float32
    (BoxBounds.importance, for one mask)."""
    return BoxBounds.of(boxes, num_boxes, height, width).importance(segments)
