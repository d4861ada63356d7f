"""Eq. 1 human importance: integral images vs the naive per-box loop (36 boxes, one 448 x 448 map).

The reference is Eq. 1 read literally, one box at a time: a pixel mask of the box, then the mean of
the map inside it and outside it. Target: the integral-image version at least 50x faster.
"""
from __future__ import annotations

import torch

from groundbench.importance.human import box_pixel_bounds, human_importance

from .common import compare, emit, result

SIZE, BOXES, TARGET = 448, 36, 50.0


def naive_human_importance(maps: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Eq. 1 per box: maps [B, H, W], boxes [B, K, 4] pixels -> [B, K] (same pixel convention)."""
    maps = maps.to(torch.float64)
    n, height, width = maps.shape
    bounds = box_pixel_bounds(boxes, height, width)
    rows = torch.arange(height).view(-1, 1)
    cols = torch.arange(width).view(1, -1)
    out = torch.zeros(boxes.shape[:2], dtype=torch.float64)
    for b in range(n):
        for k in range(boxes.shape[1]):
            c0, r0, c1, r1 = bounds[b, k].tolist()
            inside = (rows >= r0) & (rows < r1) & (cols >= c0) & (cols < c1)
            n_in = int(inside.sum())
            n_out = height * width - n_in
            e_in = float((maps[b] * inside).sum()) / n_in if n_in else 0.0
            e_out = float((maps[b] * ~inside).sum()) / n_out if n_out else 0.0
            out[b, k] = e_in / (e_in + e_out) if e_in + e_out > 0 else 0.0
    return out


def run() -> dict:
    """Time both on one random 448 x 448 map with 36 random boxes; check they agree to 1e-6."""
    torch.manual_seed(0)
    maps = torch.rand(1, SIZE, SIZE) ** 4
    corners = torch.rand(1, BOXES, 2, 2) * SIZE
    boxes = torch.cat([corners.amin(2), corners.amax(2)], dim=-1)
    ours = human_importance(maps, boxes).double()
    reference = naive_human_importance(maps, boxes)
    max_diff = float((ours - reference).abs().max())
    if max_diff > 1e-6:
        raise AssertionError(f"integral and naive human importance differ by {max_diff}")
    reference_s, ours_s = compare(lambda: naive_human_importance(maps, boxes), lambda: human_importance(maps, boxes),
                                  repeat=10, ours_per_round=10)
    return result("human_importance_integral_vs_naive", reference_s, ours_s, TARGET,
                  boxes=BOXES, map_size=SIZE, max_abs_diff=max_diff)


def main() -> dict:
    return emit(run())


if __name__ == "__main__":
    main()
