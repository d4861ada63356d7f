"""Human importance of proposals from an attention map: HINT paper (Selvaraju et al. 2019), Eq. 1."""
from __future__ import annotations

import numpy as np
import torch


def pixel_bounds(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """Integer pixel bounds [..., 4] (c0, r0, c1, r1), half-open, clipped to the image; boxes: [..., 4] pixels.

    A box (x1, y1, x2, y2) covers columns round(x1) .. round(x2) - 1 and rows round(y1) .. round(y2) - 1
    (round half to even); a box whose rounded width or height is <= 0 has zero area.
    """
    b = np.rint(np.asarray(boxes, dtype=np.float64))
    np.minimum(np.maximum(b, 0.0, out=b), np.array([width, height, width, height], dtype=np.float64), out=b)
    np.maximum(b[..., 2:], b[..., :2], out=b[..., 2:])
    return b.astype(np.int64)


def box_pixel_bounds(boxes: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``pixel_bounds`` for a tensor: boxes [B, K, 4] pixels -> [B, K, 4] long (c0, r0, c1, r1)."""
    return torch.from_numpy(pixel_bounds(boxes.detach().cpu().numpy(), height, width))


def eq1_from_masses(inside: np.ndarray, total: np.ndarray | float, area: np.ndarray, pixels: int) -> np.ndarray:
    """Eq. 1 from masses: inside [..., K] float64 (map mass in each box), total (the map's mass), area [..., K]
    float64 (box pixels), pixels = H x W -> s [..., K] float64. s = (in / a) / (in / a + out / rest) =
    in * rest / (in * rest + out * a), without dividing by 0: a zero-area box has in = 0 (s = 0); a
    whole-image box has rest = out = 0 (s = 1 when in > 0)."""
    outside = np.maximum(total - inside, 0.0)
    rest = pixels - area
    num = inside * rest
    den = num + outside * area
    return np.where(den > 0, num / np.maximum(den, 1e-300), (rest == 0) & (inside > 0))


def human_importance(maps: torch.Tensor, boxes: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 1: s_r = E_in / (E_in + E_out), E_in = mass inside / a_r, E_out = mass outside / (HW - a_r).

    maps: [B, H, W] non-negative, already at the image's size; boxes: [B, K, 4] pixels; mask: [B, K].
    Returns [B, K] float32 in [0, 1] on the maps' device, 0 where masked (computed on the CPU: it is a
    data-preparation step). An integral image kept only at the 2K box columns (row prefix sums in float64,
    then prefix sums down those columns) makes it O(HW + HK); the one pass over the map is a torch cumsum,
    the O(HK) bookkeeping is numpy, whose per-call overhead is a fraction of torch's on small arrays.
    Degenerate cases: an all-zero map gives 0 for every box (callers exclude such maps); a zero-area box
    has E_in = 0, so s = 0; a box covering the whole image has E_out = 0, so s = 1 (or 0 on an empty map).
    """
    n, height, width = maps.shape
    k = boxes.shape[1]
    c0, r0, c1, r1 = np.moveaxis(pixel_bounds(boxes.detach().cpu().numpy(), height, width), -1, 0)  # [B, K] each
    prefix = maps.detach().to("cpu", torch.float64, copy=True).cumsum_(2)  # [B, H, W]: sum of map[r, :c + 1]
    cols = np.concatenate([c0, c1], axis=1)  # [B, 2K]
    rows = prefix.numpy()
    at = np.maximum(cols - 1, 0)
    # integral[:, r, j] = sum of map[:r + 1, :col_j] (prefix sums down the 2K picked columns, in place);
    # the entries of a column col_j == 0 or a row r == 0 are the empty sum and are read as 0 below.
    integral = np.stack([rows[i][:, at[i]] for i in range(n)])  # [B, H, 2K]
    torch.from_numpy(integral).cumsum_(1)
    # The four corners of every box, [4, B, K]: integral at (r1, c1), (r0, c1), (r1, c0), (r0, c0).
    r = np.stack([r1, r0, r1, r0])
    j = np.stack([np.arange(k, 2 * k), np.arange(k, 2 * k), np.arange(k), np.arange(k)])[:, None, :]
    batch = np.arange(n)[None, :, None]
    corners = np.where((r > 0) & (cols[batch, j] > 0), integral[batch, np.maximum(r - 1, 0), j], 0.0)
    inside = corners[0] - corners[1] - corners[2] + corners[3]  # [B, K]
    total = prefix[:, :, -1].sum(1, keepdim=True).numpy()
    score = eq1_from_masses(inside, total, ((c1 - c0) * (r1 - r0)).astype(np.float64), height * width)
    if mask is not None:
        score = score * mask.detach().cpu().numpy()
    return torch.from_numpy(score.astype(np.float32)).to(maps.device)
