"""Eq. 1 of a 0/1 segmentation mask (COCO instances) in integer arithmetic, equal bit for bit to the general
map path (``importance/human.human_importance`` on the mask as float64).

On a 0/1 mask every mass is an integer, so box masses from int32 block sums equal the float64 sums of the
general path exactly, and Eq. 1 (``eq1_from_masses``) then gives the same float32 scores; a test checks it.
"""
from __future__ import annotations

import numpy as np

from ..importance.human import eq1_from_masses, pixel_bounds


def binary_importance(mask: np.ndarray, boxes: np.ndarray, num_boxes: int) -> np.ndarray:
    """Eq. 1 of every proposal on mask [H, W] (0/1, any integer dtype); boxes [K, 4] pixels, the first
    ``num_boxes`` real -> [K] float32 (0 for padded proposals), equal to ``attention.proposal_importance``."""
    height, width = mask.shape
    k = boxes.shape[0]
    c0, r0, c1, r1 = np.moveaxis(pixel_bounds(np.asarray(boxes, dtype=np.float32), height, width), -1, 0)
    cols = np.concatenate([c0, c1])  # [2K]
    # ones in mask[r, :col] at the 2K box columns only: block sums between the sorted distinct columns (one
    # pass over the mask), then running sums over the blocks.
    starts = np.unique(np.concatenate([[0], cols[(cols > 0) & (cols < width)]]))  # [U], starts[0] = 0
    blocks = np.cumsum(np.add.reduceat(mask, starts, axis=1, dtype=np.int32), axis=1)  # [H, U]
    ends = np.append(starts[1:], width)  # block u covers columns starts[u] .. ends[u] - 1
    picked = np.where(cols > 0, blocks[:, np.searchsorted(ends, np.maximum(cols, 1))], 0)  # [H, 2K]
    integral = np.cumsum(picked, axis=0)  # [H, 2K]: ones in mask[:r + 1, :col]

    def corner(r: np.ndarray, j: np.ndarray) -> np.ndarray:
        return np.where(r > 0, integral[np.maximum(r - 1, 0), j], 0)

    j0, j1 = np.arange(k), np.arange(k, 2 * k)
    inside = (corner(r1, j1) - corner(r0, j1) - corner(r1, j0) + corner(r0, j0)).astype(np.float64)
    total = float(blocks[:, -1].sum())
    score = eq1_from_masses(inside, total, ((c1 - c0) * (r1 - r0)).astype(np.float64), height * width)
    return (score * (np.arange(k) < int(num_boxes))).astype(np.float32)
