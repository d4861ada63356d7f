"""Oracle importance of a synthetic world's questions: HINT Eq. 1 (Selvaraju et al. 2019) applied to the exact
union mask of the scene objects each answer depends on (no blur, no stray blobs: the noisy VQA-HAT-style maps of
data/synthetic/hat.py are drawn from the same masks), for every question of every split.

Cached in the prepared store beside its other arrays: ``oracle_{split}.npy`` [N, K] float32, one row per record
of ``{split}.json`` in that order, memory-mapped when read. Built on first use (``load_oracle``) from the world's
``raw/scenes.json`` and ``raw/relevant_objects.json`` (a synthetic store keeps its raw folder inside it), each
array written atomically, then the stamp ``.stamps/oracle.json`` (a key over those inputs and manifest.json, and
every array's bytes and sha256, as data/stamps.py stamps the prepare steps); an array whose size or sum no longer
matches, or a changed input, is rebuilt. The manifest is left as prepare wrote it (checkpoints record its sha256).
A store without the raw world (real data: VQA-CP has no oracle) is a GroundbenchError naming the store.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from ..errors import GroundbenchError
from ..importance.human import human_importance
from ..io import atomic_open, read_json
from .feature_arrays import FeatureArrays
from .npy import load_npy
from .stamps import Steps, fingerprint, sha256_file, stamp_key

log = logging.getLogger("groundbench.data")

ORACLE_VERSION = 1  # bump when the computation changes: cached arrays are rebuilt
RAW_INPUTS = ("raw/scenes.json", "raw/relevant_objects.json")
STEP = "oracle"


def union_importance(masks: np.ndarray, relevant: list[list[int]], boxes: np.ndarray, num_boxes: int) -> np.ndarray:
    """Eq. 1 of each question on one image: masks [N, H, W] bool (the image's objects), relevant: per question
    the indices of its objects, boxes [K, 4] pixels (the first ``num_boxes`` real) -> [Q, K] float32.
    The map of a question is its objects' union, 1 inside and 0 outside; no object (an empty map) gives 0 rows."""
    q, k = len(relevant), boxes.shape[0]
    maps = np.zeros((q, *masks.shape[1:]), dtype=np.float64)
    for i, objects in enumerate(relevant):
        if objects:
            maps[i] = masks[list(objects)].any(0)
    box = torch.from_numpy(np.broadcast_to(np.asarray(boxes, np.float32), (q, k, 4)).copy())
    mask = (torch.arange(k) < int(num_boxes))[None].expand(q, k)
    return human_importance(torch.from_numpy(maps), box, mask).numpy()


def compute_oracle(records: list[dict], scenes: dict[int, dict], relevant: dict[str, list[int]],
                   features: FeatureArrays, where: Path) -> np.ndarray:
    """[len(records), K] float32: the oracle importance of each record (in order), image by image."""
    from .synthetic.render import object_masks
    from .synthetic.scenes import Scene

    out = np.zeros((len(records), features.k_max), dtype=np.float32)
    by_image: dict[int, list[int]] = defaultdict(list)
    for i, record in enumerate(records):
        by_image[record["image_id"]].append(i)
    boxes = features.array("boxes")
    for image_id, rows in by_image.items():
        if image_id not in scenes:
            raise GroundbenchError(f"image {image_id} is not in raw/scenes.json", path=where)
        missing = [records[i]["question_id"] for i in rows if str(records[i]["question_id"]) not in relevant]
        if missing:
            raise GroundbenchError(f"question {missing[0]} is not in raw/relevant_objects.json", path=where)
        scene = Scene.from_dict(scenes[image_id])
        row = features.row_of[image_id]
        if tuple(int(x) for x in features.image_size[row]) != (scene.width, scene.height):
            raise GroundbenchError(f"image {image_id}: the scene's size is not the features' image size", path=where)
        objects = [relevant[str(records[i]["question_id"])] for i in rows]
        out[rows] = union_importance(object_masks(scene), objects, np.asarray(boxes[row]), int(features.num_boxes[row]))
    return out


def _write_npy(path: Path, array: np.ndarray) -> Path:
    with atomic_open(path, "wb") as handle:
        np.save(handle, array, allow_pickle=False)
    return path


def has_raw_world(root: Path) -> bool:
    """Whether the store at ``root`` holds the synthetic world's raw scenes (the oracle's inputs)."""
    return all((root / rel).is_file() for rel in RAW_INPUTS)


def load_oracle(root: Path, records: dict[str, list[dict]], features: FeatureArrays,
                prepare: str) -> dict[str, np.ndarray]:
    """split -> oracle importance [N_split, K] float32 (rows in the split's record order), memory-mapped from the
    cache, which is built first when absent or stale (see the module docstring). ``records``: split -> records."""
    root = Path(root)
    if not has_raw_world(root):
        raise GroundbenchError("this store has no oracle importance: it needs the synthetic world's "
                               "raw/scenes.json and raw/relevant_objects.json (real data has none)", path=root)
    key = stamp_key(STEP, ORACLE_VERSION, sha256_file(root / "manifest.json"),
                    fingerprint([root / rel for rel in RAW_INPUTS], root), sorted(records))
    steps = Steps(root)
    paths = {split: root / f"oracle_{split}.npy" for split in records}
    if not steps.done(STEP, key):
        arrays = _compute_all(root, records, features)
        try:
            steps.finish(STEP, key, [_write_npy(paths[s], arrays[s]) for s in records])
        except (GroundbenchError, OSError) as exc:  # a read-only store: use the arrays without caching them
            log.warning("oracle importance not cached in %s (%s)", root, exc)
            return arrays
    out = {}
    for split, path in paths.items():
        array = load_npy(path, prepare, "f", 2, mmap=True)
        if array.shape != (len(records[split]), features.k_max):
            raise GroundbenchError(f"holds {tuple(array.shape)}, expected [{len(records[split])}, {features.k_max}]; "
                                   f"delete it to rebuild", path=path)
        out[split] = array
    return out


def _compute_all(root: Path, records: dict[str, list[dict]], features: FeatureArrays) -> dict[str, np.ndarray]:
    scenes_path, relevant_path = (root / rel for rel in RAW_INPUTS)
    scenes = {int(s["image_id"]): s for s in read_json(scenes_path, what="synthetic scenes")}
    relevant = read_json(relevant_path, what="relevant objects")
    if not isinstance(relevant, dict):
        raise GroundbenchError("expected an object: question id -> object indices", path=relevant_path)
    return {split: compute_oracle(rows, scenes, relevant, features, root / "raw") for split, rows in records.items()}
