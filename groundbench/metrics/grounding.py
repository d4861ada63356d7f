"""Grounding metrics over proposals: Spearman rank correlation, top-proposal IoU, CPIG.

Every function is batched over questions and reads importance as [B, K] with a proposal mask.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class MetricSpec:
    """A grounding metric as reported: its name, which direction is better, what it measures."""

    name: str
    direction: str  # "higher" or "lower"
    description: str


COLLAPSE_CV = 0.1  # collapsed: importance varies across proposals by less than 10% of its mean magnitude

GROUNDING_METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec("spearman_grad", "higher",
                   "Spearman rank correlation of gradient importance (gt answer, Eq. 2) with human importance (Eq. 1)"),
        MetricSpec("spearman_attn", "higher",
                   "Spearman rank correlation of attention weights with human importance (Eq. 1)"),
        MetricSpec("occl_grad", "higher",
                   "Spearman rank correlation of occlusion importance (predicted answer) with gradient importance"),
        MetricSpec("occl_attn", "higher",
                   "Spearman rank correlation of occlusion importance (predicted answer) with attention weights"),
        MetricSpec("top_iou", "higher",
                   "IoU of the most attended proposal's box with the human map binarised at 0.5 x its max"),
        MetricSpec("collapse_grad", "lower",
                   f"Share of questions whose gradient importance is near-constant across the proposals (std below "
                   f"{COLLAPSE_CV} x the mean absolute importance): Eq. 3's degenerate optimum"),
        MetricSpec("cpig", "lower",
                   "Share of correctly answered questions whose most sensitive proposal (gradient) is not "
                   "among the human top-3 (Shrestha et al. 2020)"),
    )
}


def _as_tensor(x) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(x)


def average_ranks(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-row ranks 1..n_b of the valid entries of x [B, K], ties get their average rank; 0 where masked.

    Same ranks as scipy.stats.rankdata(method="average") on each row's valid entries.
    """
    x = x.to(torch.float64)
    keyed = torch.where(mask, x, torch.full_like(x, float("inf")))
    sorted_x, order = torch.sort(keyed, dim=1, stable=True)
    n_rows, k = x.shape
    pos = torch.arange(k, device=x.device).expand(n_rows, k)
    starts = torch.ones_like(sorted_x, dtype=torch.bool)
    starts[:, 1:] = sorted_x[:, 1:] != sorted_x[:, :-1]
    ends = torch.ones_like(starts)
    ends[:, :-1] = starts[:, 1:]
    # first position of each tie group: running max of the start positions
    first = torch.where(starts, pos, torch.zeros_like(pos)).cummax(dim=1).values
    # last position: running min of the end positions, scanning from the right
    last_rev = torch.where(ends, pos, torch.full_like(pos, k)).flip(1).cummin(dim=1).values
    last = last_rev.flip(1)
    sorted_ranks = (first + last).to(torch.float64) / 2.0 + 1.0
    ranks = torch.empty_like(sorted_ranks).scatter_(1, order, sorted_ranks)
    return torch.where(mask, ranks, torch.zeros_like(ranks))


def spearman(a, b, mask) -> tuple[torch.Tensor, torch.Tensor]:
    """Spearman's rho per row of a, b [B, K] over the proposals where mask [B, K] is True.

    Pearson correlation of average ranks (ties share their mean rank), as scipy.stats.spearmanr.
    Returns rho [B] float64 and defined [B] bool. A row is undefined (rho NaN) when it has fewer
    than 2 valid proposals, when either side is constant over them, or when a valid value is not
    finite: such rows are to be counted and reported, never scored 0.
    """
    a, b = _as_tensor(a).to(torch.float64), _as_tensor(b).to(torch.float64)
    mask = _as_tensor(mask).to(device=a.device, dtype=torch.bool)
    finite = torch.where(mask, torch.isfinite(a) & torch.isfinite(b), torch.ones_like(mask)).all(dim=1)
    ra, rb = average_ranks(a, mask), average_ranks(b, mask)
    n = mask.sum(dim=1).to(torch.float64)
    centre = ((n + 1.0) / 2.0).unsqueeze(1)
    weight = mask.to(torch.float64)
    ca, cb = (ra - centre) * weight, (rb - centre) * weight
    var_a, var_b = (ca * ca).sum(1), (cb * cb).sum(1)
    defined = (n >= 2) & (var_a > 0) & (var_b > 0) & finite
    denom = torch.sqrt(torch.where(defined, var_a * var_b, torch.ones_like(var_a)))
    rho = ((ca * cb).sum(1) / denom).clamp(-1.0, 1.0)
    rho = torch.where(defined, rho, torch.full_like(rho, float("nan")))
    return rho, defined


def box_cells(boxes: torch.Tensor, image_size: torch.Tensor, grid: int) -> torch.Tensor:
    """Rasterise boxes [B, 4] (x1, y1, x2, y2 pixels) onto a grid x grid mask [B, grid, grid] (row = y).

    Boxes are normalised by the image size [B, 2] (width, height); cell (i, j) spans
    [j/G, (j+1)/G) x [i/G, (i+1)/G) and belongs to the box when its centre ((j+.5)/G, (i+.5)/G)
    lies in [x1/W, x2/W) x [y1/H, y2/H). A box too small to contain a cell centre covers no cell.
    """
    boxes = boxes.to(torch.float64)
    size = image_size.to(device=boxes.device, dtype=torch.float64).clamp_min(1e-12)
    x1, y1, x2, y2 = boxes.unbind(-1)
    w, h = size[:, 0], size[:, 1]
    centres = (torch.arange(grid, device=boxes.device, dtype=torch.float64) + 0.5) / grid
    in_x = (centres >= (x1 / w).unsqueeze(1)) & (centres < (x2 / w).unsqueeze(1))  # [B, G] columns
    in_y = (centres >= (y1 / h).unsqueeze(1)) & (centres < (y2 / h).unsqueeze(1))  # [B, G] rows
    return in_y.unsqueeze(2) & in_x.unsqueeze(1)


def top_proposal_iou(scores, boxes, image_size, hat_mask, mask) -> torch.Tensor:
    """IoU [B] float64 of the highest-scoring proposal's box with the binarised human map.

    scores: [B, K]; boxes: [B, K, 4] pixels; image_size: [B, 2] (width, height); hat_mask: [B, G, G]
    bool (row = y, column = x, normalised image coordinates; binarised upstream at 0.5 x the max of
    the averaged human map); mask: [B, K]. The box is rasterised by ``box_cells`` (cell centres).
    NaN where undefined: no valid proposal, or both the box's cells and the human mask are empty.
    """
    scores, boxes = _as_tensor(scores).to(torch.float64), _as_tensor(boxes)
    mask = _as_tensor(mask).to(device=scores.device, dtype=torch.bool)
    hat = _as_tensor(hat_mask).to(device=scores.device, dtype=torch.bool)
    keyed = torch.where(mask, scores, torch.full_like(scores, -float("inf")))
    top = keyed.argmax(dim=1)
    top_boxes = boxes.gather(1, top.view(-1, 1, 1).expand(-1, 1, 4)).squeeze(1)
    cells = box_cells(top_boxes, _as_tensor(image_size), hat.shape[-1])
    inter = (cells & hat).flatten(1).sum(1).to(torch.float64)
    union = (cells | hat).flatten(1).sum(1).to(torch.float64)
    defined = mask.any(dim=1) & (union > 0)
    iou = inter / union.clamp_min(1.0)
    return torch.where(defined, iou, torch.full_like(iou, float("nan")))


def cpig(grad, human, mask, correct, *, top: int = 3) -> torch.Tensor:
    """Per-question CPIG indicator [B] float64 (Shrestha et al. 2020, "correct prediction, improper grounding").

    1.0 when the question is answered correctly and its most sensitive proposal (highest gradient
    importance ``grad`` [B, K]) is NOT among the human top-``top`` proposals (``human`` [B, K]),
    0.0 when it is; NaN for incorrectly answered questions and rows with no valid proposal. The human
    top-3 includes every proposal tied with the third-highest human score; with fewer than 3 valid
    proposals all of them are in it. The mean over questions is the CPIG rate (lower is better).
    """
    grad, human = _as_tensor(grad).to(torch.float64), _as_tensor(human).to(torch.float64)
    mask = _as_tensor(mask).to(device=grad.device, dtype=torch.bool)
    correct = _as_tensor(correct).to(device=grad.device, dtype=torch.bool)
    most_sensitive = torch.where(mask, grad, torch.full_like(grad, -float("inf"))).argmax(dim=1)
    keyed_human = torch.where(mask, human, torch.full_like(human, -float("inf")))
    kth = min(top, human.shape[1])
    threshold = keyed_human.topk(kth, dim=1).values[:, -1]
    n_valid = mask.sum(dim=1)
    threshold = torch.where(n_valid >= kth, threshold, torch.full_like(threshold, -float("inf")))
    chosen = keyed_human.gather(1, most_sensitive.view(-1, 1)).squeeze(1)
    in_top = chosen >= threshold
    indicator = (~in_top).to(torch.float64)
    defined = correct & (n_valid > 0)
    return torch.where(defined, indicator, torch.full_like(indicator, float("nan")))


def collapsed(importance, mask, *, cv: float = COLLAPSE_CV) -> torch.Tensor:
    """Per-question collapse indicator [B] float64: 1.0 when the importance over the valid proposals is
    near-constant, ``std <= cv * mean(|importance|)`` (all zero counts as collapsed), else 0.0; NaN for rows
    with fewer than 2 valid proposals. importance: [B, K]; mask: [B, K] bool. Eq. 3's ranking loss is 0 when
    every importance of a row is equal, so a model can lower it without ranking anything; this shows it."""
    x = _as_tensor(importance).to(torch.float64)
    mask = _as_tensor(mask).to(device=x.device, dtype=torch.bool)
    n = mask.sum(dim=1).to(torch.float64)
    zero = torch.zeros_like(x)
    mean = torch.where(mask, x, zero).sum(dim=1) / n.clamp(min=1)
    spread = torch.where(mask, (x - mean[:, None]) ** 2, zero).sum(dim=1) / n.clamp(min=1)
    scale = torch.where(mask, x.abs(), zero).sum(dim=1) / n.clamp(min=1)
    indicator = (spread.sqrt() <= cv * scale).to(torch.float64)
    return torch.where(n >= 2, indicator, torch.full_like(indicator, float("nan")))
