"""The G x G grid mask of a 0/1 mask in exact integer arithmetic, from its run-length segments (data/rle.py).

The cells are those of a box filter (Pillow's BOX resampling, libImaging/Resample.c ``precompute_coeffs``):
output cell j along an axis of n pixels averages the pixels p whose centre offset ((p - c) + 1/2) / f lies in
(-1/2, 1/2], with c = (j + 1/2) n / G and f = max(n / G, 1). A cell is on when its mean (ones / pixels) is
>= threshold x the largest cell mean, compared as fractions.

``attention.grid_mask`` computes the same cells through Pillow in floating point (float32 passes), whose
result can differ from the exact one in the last bits (and depends on the order of the two passes, which in
Pillow 13.0 is horizontal first for some sizes, vertical first for others); on a 0/1 mask the two agree except
at exact ties (a cell mean equal to threshold x peak).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .rle import band_counts, bands_of


def cell_windows(size: int, grid: int) -> tuple[np.ndarray, np.ndarray]:
    """(first pixel [G], number of pixels [G]) int64 of each cell along an axis of ``size`` pixels, as Pillow's
    ``precompute_coeffs`` finds them for BOX, in the same double arithmetic (so a pixel centre exactly on a cell
    boundary goes where Pillow puts it)."""
    scale = float(size) / grid
    filterscale = max(scale, 1.0)
    support, inverse = 0.5 * filterscale, 1.0 / filterscale
    center = (np.arange(grid) + 0.5) * scale
    low = np.maximum(np.trunc(center - support + 0.5), 0).astype(np.int64)
    high = np.minimum(np.trunc(center + support + 0.5).astype(np.int64), size)
    span = int((high - low).max()) if grid else 0
    pixel = low[:, None] + np.arange(span)[None, :]  # [G, span]
    offset = ((pixel.astype(np.float64) - center[:, None]) + 0.5) * inverse
    inside = (offset > -0.5) & (offset <= 0.5) & (pixel < high[:, None])
    count = inside.sum(1)  # the offset grows with the pixel, so each window is contiguous
    return np.where(count > 0, low + np.argmax(inside, axis=1), low), count


@lru_cache(maxsize=256)
def _plan(height: int, width: int, grid: int) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...], np.ndarray]:
    """Per image size (read-only arrays, cached: COCO has few sizes): the column and row bands of the cells
    (first, number, and the bands of every pixel) and the pixels per cell."""
    fx, nx = cell_windows(width, grid)
    fy, ny = cell_windows(height, grid)
    columns, rows = (fx, nx, *bands_of(fx, nx, width)), (fy, ny, *bands_of(fy, ny, height))
    pixels = np.outer(ny, nx)
    for array in (*columns, *rows, pixels):
        array.flags.writeable = False
    return columns, rows, pixels


def cell_sums(segments: tuple[np.ndarray, np.ndarray, np.ndarray], height: int, width: int,
              grid: int) -> tuple[np.ndarray, np.ndarray]:
    """(ones [G, G] int64, pixels [G, G] int64) of every cell (rows = y); the segments of an H x W mask."""
    columns, rows, pixels = _plan(int(height), int(width), int(grid))
    return band_counts(segments, columns, rows), pixels


def exact_grid_mask(segments: tuple[np.ndarray, np.ndarray, np.ndarray], height: int, width: int, grid: int,
                    threshold: float) -> np.ndarray:
    """bool [G, G] (rows = y): cells whose mean >= ``threshold`` x the largest mean; all False on an empty mask."""
    ones, pixels = cell_sums(segments, height, width, grid)
    means = ones / np.maximum(pixels, 1)  # for finding the peak only: distinct small fractions stay distinct
    peak = np.unravel_index(np.argmax(means), means.shape)
    top, area = int(ones[peak]), int(pixels[peak])
    if top == 0:
        return np.zeros((grid, grid), dtype=bool)
    num, den = float(threshold).as_integer_ratio()  # exact
    if den > 2 ** 20:
        raise ValueError(f"threshold {threshold} is not a short binary fraction")
    # ones / pixels >= threshold * top / area  <=>  ones * area * den >= num * top * pixels
    return (ones * area * den >= num * top * pixels) & (pixels > 0)  # an empty cell is off, as in PIL
