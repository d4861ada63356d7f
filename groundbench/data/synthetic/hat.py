"""Human attention maps like VQA-HAT (Das et al. 2016): grey-scale, on the objects the answer depends on.

Imperfect as human maps are: each relevant object is only partly covered (a random share in
[hat_min_coverage, 1], cut along a random direction), the map is blurred, and a share ``hat_stray`` of
its mass sits on stray blobs (half on distractor objects, half anywhere).
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from .params import WorldParams, stream

N_STRAY_BLOBS = (1, 3)


def gets_train_map(question_id: int, params: WorldParams) -> bool:
    """A train question has a map iff its own uniform draw u < hat_fraction (nested over fractions)."""
    return bool(stream(params, "hat_select", question_id).random() < params.hat_fraction)


def _partial(mask: np.ndarray, share: float, rng) -> np.ndarray:
    """The first ``share`` of the mask's pixels along a random direction: [H, W] bool."""
    rows, cols = np.nonzero(mask)
    angle = rng.uniform(0, 2 * np.pi)
    proj = cols * np.cos(angle) + rows * np.sin(angle)
    keep = proj <= np.quantile(proj, share)
    out = np.zeros_like(mask)
    out[rows[keep], cols[keep]] = True
    return out


def _blob(height: int, width: int, cx: float, cy: float, sd: float) -> np.ndarray:
    ys, xs = np.arange(height)[:, None], np.arange(width)[None, :]
    return np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sd * sd))


def hat_map(masks: np.ndarray, relevant: tuple[int, ...], params: WorldParams, question_id: int,
            annotator: int) -> np.ndarray:
    """One annotator's map: masks [N, H, W] bool, relevant object indices -> [H, W] uint8 (max 255)."""
    rng = stream(params, "hat", question_id, annotator)
    n, height, width = masks.shape
    targets = list(relevant) if relevant else list(range(n))
    focus = np.zeros((height, width), dtype=np.float64)
    for i in targets:
        focus += _partial(masks[i], rng.uniform(params.hat_min_coverage, 1.0), rng)
    focus = gaussian_filter(focus, sigma=params.hat_blur * params.image_size)
    stray = np.zeros_like(focus)
    distractors = [i for i in range(n) if i not in targets]
    for _ in range(int(rng.integers(N_STRAY_BLOBS[0], N_STRAY_BLOBS[1] + 1))):
        if distractors and rng.random() < 0.5:
            ys, xs = np.nonzero(masks[distractors[int(rng.integers(len(distractors)))]])
            cy, cx = ys.mean(), xs.mean()
        else:
            cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        stray += rng.uniform(0.5, 1.0) * _blob(height, width, cx, cy, rng.uniform(0.03, 0.08) * params.image_size)
    focus = (1.0 - params.hat_stray) * focus / max(focus.sum(), 1e-12)
    total = focus + params.hat_stray * stray / max(stray.sum(), 1e-12)
    return np.round(255.0 * total / total.max()).astype(np.uint8)
