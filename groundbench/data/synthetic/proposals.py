"""Region proposals and their features, like bottom-up attention (Anderson et al. 2018) but procedural.

Each image gets K boxes: around every object a tight box, two jittered boxes and a part box; unions of
object pairs; background boxes to fill K. A box's feature is computed ONLY from what the box covers
(the coverage of each object times a fixed embedding of its attributes, the uncovered share times a
background embedding) plus noise, then ReLU: never from any question or answer.
"""
from __future__ import annotations

import numpy as np

from .params import COLOURS, SHAPES, SIZES, WorldParams, stream
from .render import mask_boxes
from .scenes import Scene

MAX_UNIONS = 4
_MIN_SIDE = 2.0


def attribute_embeddings(params: WorldParams) -> dict[str, np.ndarray]:
    """Fixed random embeddings (from the seed): shape [8, D], color [8, D], size [2, D], background [D]."""
    rng = stream(params, "embed")
    d = params.feature_dim
    return {"shape": rng.standard_normal((len(SHAPES), d)), "color": rng.standard_normal((len(COLOURS), d)),
            "size": rng.standard_normal((len(SIZES), d)), "background": rng.standard_normal(d)}


def _clip(box: np.ndarray, size: int) -> np.ndarray:
    """Clip (x1, y1, x2, y2) to the image and keep each side >= _MIN_SIDE pixels."""
    x1, y1, x2, y2 = np.clip(box, 0, size)
    x2 = min(max(x2, x1 + _MIN_SIDE), size)
    y2 = min(max(y2, y1 + _MIN_SIDE), size)
    return np.array([min(x1, x2 - _MIN_SIDE), min(y1, y2 - _MIN_SIDE), x2, y2], dtype=np.float32)


def _jitter(box: np.ndarray, sd: float, rng) -> np.ndarray:
    side = np.array([box[2] - box[0], box[3] - box[1]] * 2, dtype=np.float64)
    return box + rng.normal(0.0, 1.0, 4) * sd * side


def propose_boxes(scene: Scene, masks: np.ndarray, params: WorldParams) -> np.ndarray:
    """boxes: [K, 4] float32 pixels (x1, y1, x2, y2), shuffled so a box's index says nothing."""
    rng = stream(params, "proposals", scene.image_id)
    size = scene.width
    tight = mask_boxes(masks).astype(np.float64)
    boxes = []
    for box in tight:
        boxes.append(_jitter(box, 0.03, rng))
        boxes.append(_jitter(box, params.box_jitter, rng))
        boxes.append(_jitter(box, params.box_jitter, rng))
        x1, y1, x2, y2 = box
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        part = [(x1, y1, cx, y2), (cx, y1, x2, y2), (x1, y1, x2, cy), (x1, cy, x2, y2)][int(rng.integers(4))]
        boxes.append(_jitter(np.array(part), 0.05, rng))
    pairs = [(i, j) for i in range(len(tight)) for j in range(i + 1, len(tight))]
    for p in rng.permutation(len(pairs))[:MAX_UNIONS]:
        i, j = pairs[p]
        union = np.concatenate([np.minimum(tight[i, :2], tight[j, :2]), np.maximum(tight[i, 2:], tight[j, 2:])])
        boxes.append(_jitter(union, 0.03, rng))
    while len(boxes) < params.n_proposals:
        w, h = rng.uniform(0.08, 0.5, 2) * size
        x1, y1 = rng.uniform(0, size - w), rng.uniform(0, size - h)
        boxes.append(np.array([x1, y1, x1 + w, y1 + h]))
    out = np.stack([_clip(b, size) for b in boxes[: params.n_proposals]])
    return out[rng.permutation(len(out))]


def box_overlaps(boxes: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """coverage [K, N] = |box ∩ object| / |object|; purity [K, N] = |box ∩ object| / |box|.

    boxes: [K, 4] pixels (rounded to half-open bounds as groundbench.importance.human does); masks: [N, H, W].
    """
    n, height, width = masks.shape
    integral = np.zeros((n, height + 1, width + 1), dtype=np.int64)
    integral[:, 1:, 1:] = masks.astype(np.int64).cumsum(1).cumsum(2)
    b = np.round(boxes).astype(np.int64)
    c0, r0 = np.clip(b[:, 0], 0, width), np.clip(b[:, 1], 0, height)
    c1, r1 = np.maximum(np.clip(b[:, 2], 0, width), c0), np.maximum(np.clip(b[:, 3], 0, height), r0)
    inter = (integral[:, r1, c1] - integral[:, r0, c1] - integral[:, r1, c0] + integral[:, r0, c0]).T
    area_obj = np.maximum(integral[:, -1, -1], 1)[None, :]
    area_box = np.maximum((c1 - c0) * (r1 - r0), 1)[:, None]
    return inter / area_obj, inter / area_box


def object_embeddings(scene: Scene, embeddings: dict[str, np.ndarray], params: WorldParams) -> np.ndarray:
    """e_o = E_shape + E_color + E_size + object_noise * n_o: [N, D] (n_o from the image's feature stream)."""
    rng = stream(params, "features", scene.image_id, 0)
    rows = [embeddings["shape"][SHAPES.index(o.shape)] + embeddings["color"][COLOURS.index(o.color)]
            + embeddings["size"][SIZES.index(o.size)] for o in scene.objects]
    base = np.stack(rows) if rows else np.zeros((0, params.feature_dim))
    return base + params.object_noise * rng.standard_normal(base.shape)


def box_features(boxes: np.ndarray, masks: np.ndarray, obj_emb: np.ndarray, background: np.ndarray,
                 noise: np.ndarray) -> np.ndarray:
    """f_k = ReLU(sum_o cov[k,o] e_o + (1 - sum_o pur[k,o]) e_bg + noise_k): [K, D] float32, all >= 0.

    boxes: [K, 4]; masks: [N, H, W]; obj_emb: [N, D]; background: [D]; noise: [K, D].
    """
    coverage, purity = box_overlaps(boxes, masks)
    empty = np.clip(1.0 - purity.sum(1, keepdims=True), 0.0, 1.0)
    signal = coverage @ obj_emb + empty * background[None, :]
    return np.maximum(signal + noise, 0.0).astype(np.float32)


def image_features(scene: Scene, masks: np.ndarray, boxes: np.ndarray, embeddings: dict[str, np.ndarray],
                   params: WorldParams) -> np.ndarray:
    """Features [K, D] of an image's proposals, noise from the image's own feature stream."""
    noise = params.feature_noise * stream(params, "features", scene.image_id, 1).standard_normal(
        (boxes.shape[0], params.feature_dim))
    return box_features(boxes, masks, object_embeddings(scene, embeddings, params), embeddings["background"], noise)
