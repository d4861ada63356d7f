"""COCO run-length masks read without decoding them to pixels: the run lengths of a compressed RLE string, the
vertical segments of its 1-runs, and the ones inside boxes (Eq. 1) or grid cells (the grid mask) counted from
those segments.

COCO RLE (pycocotools maskApi.c, ``rleToString`` / ``rleFrString``): the mask is flattened in column-major
order (index x * H + y) and stored as alternating run lengths, zeros first. The compressed string writes each
value in 5-bit groups, least significant first, as characters 48 + group, with bit 0x20 set while more groups
follow and bit 0x10 of the last group the sign; from the third value on, a value is stored as its difference
to the value two places before.
"""
from __future__ import annotations

import numpy as np


def rle_counts(counts: bytes | str) -> np.ndarray:
    """The run lengths [N] int64 of a compressed COCO RLE string (pycocotools' ``counts``)."""
    raw = np.frombuffer(counts.encode("ascii") if isinstance(counts, str) else bytes(counts), dtype=np.uint8)
    if raw.size == 0:
        return np.zeros(0, dtype=np.int64)
    c = raw.astype(np.int64) - 48
    last = (c & 0x20) == 0  # the last group of a value
    ends = np.flatnonzero(last)
    starts = np.concatenate([[0], ends[:-1] + 1])
    group = np.repeat(np.arange(ends.size), ends - starts + 1)  # value index of each character
    values = np.add.reduceat((c & 0x1F) << (5 * (np.arange(c.size) - starts[group])), starts)  # disjoint bits
    negative = (c[ends] & 0x10) != 0
    values = np.where(negative, values - (np.int64(1) << (5 * (ends - starts + 1))), values)
    runs = values.copy()
    runs[1::2] = np.cumsum(values[1::2])  # from the third value on, each adds the one two places before
    runs[2::2] = np.cumsum(values[2::2])
    return runs


def one_segments(runs: np.ndarray, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 1-runs of ``runs`` (column-major, zeros first) cut at column ends: (x [S] int64, y0, y1 [S] int32),
    the pixels (y0 .. y1 - 1, x) of one column, in column order."""
    edges = np.concatenate([[0], np.cumsum(runs)])
    start, end = edges[1:-1:2], edges[2::2]  # 1-run i covers flat indices [start, end)
    keep = end > start
    start, end = start[keep], end[keep]
    first, last = start // height, (end - 1) // height
    n = last - first + 1
    run = np.repeat(np.arange(start.size), n)
    x = first[run] + (np.arange(run.size) - np.repeat(np.cumsum(n) - n, n))
    y0 = np.maximum(start[run] - x * height, 0)
    y1 = np.minimum(end[run] - x * height, height)
    return x, y0.astype(np.int32), y1.astype(np.int32)


def expand(first: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranges first[i] .. first[i] + count[i] - 1 laid end to end: (owner i [N], value [N]) int64."""
    count = np.maximum(count, 0)
    owner = np.repeat(np.arange(first.size), count)
    return owner, first[owner] + np.arange(owner.size) - np.repeat(np.cumsum(count) - count, count)


def box_counts(segments: tuple[np.ndarray, np.ndarray, np.ndarray], c0: np.ndarray, r0: np.ndarray,
               c1: np.ndarray, r1: np.ndarray) -> np.ndarray:
    """[K] int64: the ones of mask[r0:r1, c0:c1] for each box (pixel bounds [K] each), from segments in column
    order (as one_segments gives them): each box's columns hold a range of the segments; their overlaps with
    the box's rows are summed."""
    x, y0, y1 = segments
    first = np.searchsorted(x, c0)
    box, seg = expand(first, np.searchsorted(x, c1) - first)
    overlap = np.minimum(y1[seg], r1[box]) - np.maximum(y0[seg], r0[box])
    return np.bincount(box, weights=np.maximum(overlap, 0), minlength=c0.size).astype(np.int64)  # exact: < 2^53


def bands_of(first: np.ndarray, count: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """For bands of pixels along an axis (first [G], number [G], non-decreasing; they may overlap or leave
    gaps): the bands holding pixel p of 0 .. size - 1 are low[p] .. high[p] - 1; returns (low, high) [size]."""
    p = np.arange(size)
    return np.searchsorted(first + count, p, side="right"), np.searchsorted(first, p, side="right")


def band_counts(segments: tuple[np.ndarray, np.ndarray, np.ndarray], columns: tuple[np.ndarray, ...],
                rows: tuple[np.ndarray, ...]) -> np.ndarray:
    """[Gy, Gx] int64: the ones in each cell of a grid of column and row bands, each given as (first, number,
    low, high) (the bands and bands_of them); a pixel counts in every cell holding it."""
    x, y0, y1 = segments
    (cf, cn, clo, chi), (rf, rn, rlo, rhi) = columns, rows
    held, col = expand(clo[x], chi[x] - clo[x])  # (segment, column band) pairs
    top, bottom = y0[held], y1[held] - 1
    pair, row = expand(rlo[top], rhi[bottom] - rlo[top])  # ... times the row bands its rows meet
    seg = held[pair]
    overlap = np.minimum(y1[seg], rf[row] + rn[row]) - np.maximum(y0[seg], rf[row])
    cells = np.bincount(row * cf.size + col[pair], weights=np.maximum(overlap, 0), minlength=rf.size * cf.size)
    return cells.reshape(rf.size, cf.size).astype(np.int64)  # exact: counts < 2^53
