"""Human importance of proposals from an attention map: HINT paper (Selvaraju et al. 2019), Eq. 1."""
from __future__ import annotations

import torch


def box_pixel_bounds(boxes: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Integer pixel bounds [B, K, 4] (c0, r0, c1, r1), half-open, clipped to the image.

    A box (x1, y1, x2, y2) in pixel coordinates covers columns round(x1) .. round(x2) - 1 and
    rows round(y1) .. round(y2) - 1; a box whose rounded width or height is <= 0 has zero area.
    """
    b = torch.round(boxes.to(torch.float64))
    c0 = b[..., 0].clamp(0, width)
    r0 = b[..., 1].clamp(0, height)
    c1 = torch.maximum(b[..., 2].clamp(0, width), c0)
    r1 = torch.maximum(b[..., 3].clamp(0, height), r0)
    return torch.stack([c0, r0, c1, r1], dim=-1).long()


def human_importance(maps: torch.Tensor, boxes: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 1: s_r = E_in / (E_in + E_out), E_in = mass inside / a_r, E_out = mass outside / (HW - a_r).

    maps: [B, H, W] non-negative, already at the image's size; boxes: [B, K, 4] pixels; mask: [B, K].
    Returns [B, K] float32 in [0, 1], 0 where masked. An integral image kept only at the
    2K box columns (row prefix sums, then prefix sums down those columns) makes it O(HW + HK).
    Degenerate cases: an all-zero map gives 0 for every box (callers exclude such maps);
    a zero-area box has E_in = 0, so s = 0; a box covering the whole image has E_out = 0, so s = 1
    (or 0 on an empty map).
    """
    n, height, width = maps.shape
    c0, r0, c1, r1 = box_pixel_bounds(boxes, height, width).unbind(-1)
    k = c0.shape[1]
    # The integral image, but only at the 2K columns the boxes need: row prefix sums (one pass over the
    # map, in float64), then prefix sums down the rows of those columns.
    # integral[:, r, j] = sum of map[:r, :col_j].
    rows = maps.to(torch.float64, copy=True).cumsum_(2)  # rows[:, r, c] = sum of map[r, :c + 1]
    cols = torch.cat([c0, c1], dim=1)  # [n, 2K]
    picked = rows.gather(2, (cols - 1).clamp_min(0).unsqueeze(1).expand(n, height, 2 * k))
    picked = picked * (cols > 0).unsqueeze(1)
    integral = torch.zeros(n, height + 1, 2 * k, dtype=torch.float64, device=maps.device)
    torch.cumsum(picked, 1, out=integral[:, 1:])
    # The four corners of every box in one gather: integral[b, r, j] at (r1, c1), (r0, c1), (r1, c0), (r0, c0).
    box = torch.arange(k, device=maps.device)
    r = torch.stack([r1, r0, r1, r0], dim=1)  # [n, 4, K]
    j = torch.stack([box + k, box + k, box, box]).expand(n, 4, k)
    corners = integral.view(n, -1).gather(1, (r * (2 * k) + j).view(n, -1)).view(n, 4, k)
    inside = corners[:, 0] - corners[:, 1] - corners[:, 2] + corners[:, 3]
    total = rows[:, :, -1].sum(1, keepdim=True)
    outside = (total - inside).clamp_min(0.0)
    area = ((c1 - c0) * (r1 - r0)).to(torch.float64)
    rest = height * width - area
    # s = (in / a) / (in / a + out / rest) = in * rest / (in * rest + out * a), without dividing by 0:
    # a zero-area box has in = 0 (s = 0); a whole-image box has rest = out = 0 (s = 1 when in > 0).
    num = inside * rest
    den = num + outside * area
    score = torch.where(den > 0, num / den.clamp_min(1e-300), ((rest == 0) & (inside > 0)).to(num.dtype))
    if mask is not None:
        score = score * mask.to(score.dtype)
    return score.to(torch.float32)
