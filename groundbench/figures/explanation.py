"""What one checkpoint's row of an ``explain`` figure shows: one grounded decision's proposal importances."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..metrics.grounding import spearman


@dataclass
class Explanation:
    """One grounding row of one model (a VQA question, or a caption's visual word) over K proposals.

    prompt: the question, or the reference caption with the word marked; truth: the ground-truth answer / word;
    prediction: the model's answer / word at that step; correct: whether the prediction is right; note: a
    second line (the soft score, the generated caption); target: which decision the gradient is of.
    boxes: [K, 4] (x1, y1, x2, y2) pixels; mask: [K] bool (real proposals); image_size: (width, height) of
    the boxes' image; gradient: [K] Eq. 2 importance; attention: [K] or None (a model without attention);
    human: [K] Eq. 1 importance or None (no human map); hat_mask: [G, G] bool (rows = y) or None.
    """

    prompt: str
    truth: str
    prediction: str
    correct: bool
    note: str
    target: str
    boxes: np.ndarray
    mask: np.ndarray
    image_size: tuple[int, int]
    gradient: np.ndarray
    attention: np.ndarray | None
    human: np.ndarray | None
    hat_mask: np.ndarray | None


def rank_correlation(importance: np.ndarray | None, human: np.ndarray | None, mask: np.ndarray) -> float | None:
    """Spearman's rho of ``importance`` [K] with ``human`` [K] over the real proposals (metrics/grounding.py),
    None when either is missing or rho is undefined (constant importance)."""
    if importance is None or human is None:
        return None
    rho, defined = spearman(torch.as_tensor(importance, dtype=torch.float64)[None],
                            torch.as_tensor(human, dtype=torch.float64)[None],
                            torch.as_tensor(mask, dtype=torch.bool)[None])
    return float(rho[0]) if bool(defined[0]) else None


def as_numpy(x: torch.Tensor | None) -> np.ndarray | None:
    """A tensor (any device) -> a detached float64 / bool numpy copy; None stays None."""
    if x is None:
        return None
    x = x.detach().cpu()
    return x.numpy().copy() if x.dtype == torch.bool else x.double().numpy().copy()
