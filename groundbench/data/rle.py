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
    """The 1-runs of ``runs`` (column-major, zeros first) cut at column ends: (x, y0, y1) [S] int64 each, the
    pixels (y0 .. y1 - 1, x) of one column, in order."""
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
    return x, y0, y1


def box_counts(segments: tuple[np.ndarray, np.ndarray, np.ndarray], c0: np.ndarray, r0: np.ndarray,
               c1: np.ndarray, r1: np.ndarray) -> np.ndarray:
    """[K] int64: the ones of mask[r0:r1, c0:c1] for each box (pixel bounds [K] each), summed over the segments
    whose column lies in [c0, c1) as the length of their overlap with rows [r0, r1)."""
    x, y0, y1 = (a[:, None] for a in segments)
    overlap = np.minimum(y1, r1[None, :]) - np.maximum(y0, r0[None, :])  # [S, K]
    inside = (x >= c0[None, :]) & (x < c1[None, :]) & (overlap > 0)
    return np.where(inside, overlap, 0).sum(0)


def column_bands(first: np.ndarray, count: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """For bands of columns (first [G], number [G] pixels, non-decreasing; they may overlap): the bands holding
    each column x of 0 .. W - 1 are low[x] .. high[x] - 1; returns (low, high) [W] int64."""
    x = np.arange(width)
    return np.searchsorted(first + count, x, side="right"), np.searchsorted(first, x, side="right")


def band_counts(segments: tuple[np.ndarray, np.ndarray, np.ndarray], bands: tuple[np.ndarray, np.ndarray],
                columns: int, rows: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """[Gy, Gx] int64: the ones in each cell of a grid of ``columns`` column bands (``bands`` from column_bands)
    and row bands ``rows`` (first [Gy], number [Gy] pixels); a segment counts in every band holding its column."""
    x, y0, y1 = segments
    low, high = bands[0][x], bands[1][x]
    per = np.maximum(high - low, 0)
    seg = np.repeat(np.arange(x.size), per)
    band = low[seg] + np.arange(seg.size) - np.repeat(np.cumsum(per) - per, per)
    order = np.argsort(band, kind="stable")
    seg, band = seg[order], band[order]
    top, n = rows
    overlap = np.clip(np.minimum(y1[seg, None], (top + n)[None, :]) - np.maximum(y0[seg, None], top[None, :]), 0, None)
    out = np.zeros((columns, top.size), dtype=np.int64)  # [Gx, Gy]
    if seg.size:
        starts = np.flatnonzero(np.concatenate([[True], band[1:] != band[:-1]]))
        out[band[starts]] = np.add.reduceat(overlap, starts, axis=0)
    return out.T
