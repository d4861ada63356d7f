"""Proposal importance -> a heat map over the image: each box adds its importance to every pixel it covers.

A pixel's heat is the sum of the importance of the boxes covering it (boxes rounded to whole pixels as
importance/human.py does for Eq. 1), negative sums clipped to 0 (only evidence *for* the decision is drawn, as
Grad-CAM's ReLU), then divided by the largest value so every map reads on the same 0..1 colour scale.
Signed importances (Eq. 2's gradient, whose sign HINT never uses: its ranking loss reads only the order) are
first shifted so that the least important real proposal has 0 (``shift_to_zero``); attention and the human
importance (Eq. 1) are non-negative and painted as they are.
"""
from __future__ import annotations

import numpy as np

from ..importance.human import pixel_bounds


def box_sum_map(boxes: np.ndarray, importance: np.ndarray, height: int, width: int,
                mask: np.ndarray | None = None) -> np.ndarray:
    """heat [height, width] float64: sum over the real boxes k covering a pixel of importance[k].

    boxes: [K, 4] (x1, y1, x2, y2) pixels; importance: [K]; mask: [K] bool (True = real proposal; default all).
    A 2-D difference array (four corner updates per box, then two cumulative sums) makes it O(K + HW).
    """
    importance = np.asarray(importance, dtype=np.float64).reshape(-1)
    keep = np.ones(importance.shape[0], bool) if mask is None else np.asarray(mask, bool).reshape(-1)
    c0, r0, c1, r1 = pixel_bounds(np.asarray(boxes, dtype=np.float64).reshape(-1, 4), height, width).T
    diff = np.zeros((height + 1, width + 1), dtype=np.float64)
    for k in np.nonzero(keep & (c1 > c0) & (r1 > r0))[0]:
        diff[r0[k], c0[k]] += importance[k]
        diff[r0[k], c1[k]] -= importance[k]
        diff[r1[k], c0[k]] -= importance[k]
        diff[r1[k], c1[k]] += importance[k]
    return diff.cumsum(0).cumsum(1)[:height, :width]


def normalise_map(heat: np.ndarray) -> np.ndarray:
    """heat [H, W] -> [H, W] in [0, 1]: negatives clipped to 0, divided by the maximum (all 0 stays all 0)."""
    positive = np.clip(np.asarray(heat, dtype=np.float64), 0.0, None)
    peak = positive.max() if positive.size else 0.0
    return positive / peak if peak > 0 else positive


def shift_to_zero(importance: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """importance [K] minus its minimum over the real proposals (``mask`` [K] bool): the least important is 0."""
    values = np.asarray(importance, dtype=np.float64).reshape(-1)
    keep = np.ones(values.shape[0], bool) if mask is None else np.asarray(mask, bool).reshape(-1)
    return values - values[keep].min() if keep.any() else values


def importance_map(boxes: np.ndarray, importance: np.ndarray, height: int, width: int,
                   mask: np.ndarray | None = None, *, shift: bool = False) -> np.ndarray:
    """The normalised heat map [height, width] in [0, 1] of ``box_sum_map`` (of ``shift_to_zero`` first when
    ``shift``)."""
    values = shift_to_zero(importance, mask) if shift else importance
    return normalise_map(box_sum_map(boxes, values, height, width, mask))


def grid_to_image(grid: np.ndarray, height: int, width: int) -> np.ndarray:
    """A G x G grid mask (rows = y, normalised image coordinates) -> [height, width] bool, nearest cell."""
    grid = np.asarray(grid, bool)
    rows = np.minimum((np.arange(height) + 0.5) * grid.shape[0] // height, grid.shape[0] - 1).astype(int)
    cols = np.minimum((np.arange(width) + 0.5) * grid.shape[1] // width, grid.shape[1] - 1).astype(int)
    return grid[rows[:, None], cols[None, :]]


def top_box(importance: np.ndarray, mask: np.ndarray | None = None) -> int | None:
    """Index of the real proposal with the highest importance ([K] -> int), None when there is none."""
    values = np.asarray(importance, dtype=np.float64).reshape(-1)
    keep = np.ones(values.shape[0], bool) if mask is None else np.asarray(mask, bool).reshape(-1)
    if not keep.any():
        return None
    return int(np.argmax(np.where(keep, values, -np.inf)))
