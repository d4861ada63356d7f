"""Grounding of per-proposal importance computed outside groundbench, against a prepared store's human maps.

The importance file is an ``.npz`` archive (``numpy.savez``; read with ``allow_pickle=False``, never unpickled):
* VQA store (``groundbench data vqa``): ``question_id`` [N] integer, ``importance`` [N, K] real;
* caption store (``groundbench data captioning``): ``image_id`` [N] integer, ``category`` [N] (integer index
  into the store's categories.json, or the category names as strings), ``importance`` [N, K] real.
K is the store's proposals per image (its manifest's ``k_max``), in the order of the store's boxes (the
bottom-up TSV's); the entries past an image's ``num_boxes`` are padding, ignored, but must still be finite.
Every row must belong to ``--split``, once. Rows whose question (or image and category) has a human map are
scored; the others are counted. Metrics (HINT, Selvaraju et al. 2019, Sec. 5; ``metrics/grounding.py``):
* ``spearman``: Spearman's rank correlation of the importance with the human importance (HINT Eq. 1) over
  the image's real proposals (undefined rows, e.g. constant importance, are counted, not scored);
* ``top_iou``: IoU of the most important proposal's box with the human map binarised at 0.5 x its maximum.
Each is reported as the mean with a bootstrap 95% interval and n (``metrics/stats.summarise``).
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from ..data.caption_store import STORE_FORMAT as CAPTION_FORMAT
from ..data.caption_store import CaptionStore
from ..data.store import VQAStore
from ..errors import GroundbenchError
from ..io import read_json
from ..metrics.grounding import GROUNDING_METRICS, spearman, top_proposal_iou
from ..metrics.stats import summarise
from .common import describe_ids

VQA_KEYS = ("question_id", "importance")
CAPTION_KEYS = ("image_id", "category", "importance")
DIRECTIONS = {"spearman": GROUNDING_METRICS["spearman_grad"].direction,
              "top_iou": GROUNDING_METRICS["top_iou"].direction}


def read_importance(path: str | Path, keys: tuple[str, ...], k: int) -> dict[str, np.ndarray]:
    """The arrays ``keys`` of the archive: ids [N] integer (``category`` may be strings), importance [N, K]
    real and finite; a missing key, a wrong dtype or shape is a one-line error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise GroundbenchError("importance file not found", path=path)
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise GroundbenchError(f"not a readable .npz archive ({exc})", path=path) from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise GroundbenchError(f"expected an .npz archive with arrays {', '.join(keys)} (numpy.savez), "
                               f"got a single array", path=path)
    with data:
        missing = [key for key in keys if key not in data.files]
        if missing:
            raise GroundbenchError(f"missing array(s) {', '.join(missing)}; the archive has "
                                   f"{', '.join(data.files) or 'none'} (expected {', '.join(keys)})", path=path)
        try:
            arrays = {key: data[key] for key in keys}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise GroundbenchError(f"unreadable array in the archive ({exc})", path=path) from None
    importance = arrays["importance"]
    if importance.dtype == bool or not np.issubdtype(importance.dtype, np.number) \
            or np.issubdtype(importance.dtype, np.complexfloating):
        raise GroundbenchError(f"'importance' must hold real numbers, got dtype {importance.dtype}", path=path)
    if importance.ndim != 2 or importance.shape[1] != k:
        raise GroundbenchError(f"'importance' has shape {list(importance.shape)}; expected [N, {k}] "
                               f"(N rows, K = {k} proposals per image in this store)", path=path)
    n = importance.shape[0]
    if n == 0:
        raise GroundbenchError("the archive has no rows", path=path)
    for key in keys[:-1]:
        array = arrays[key]
        if array.shape != (n,):
            raise GroundbenchError(f"'{key}' has shape {list(array.shape)}; expected [{n}] (one per importance row)",
                                   path=path)
        strings = key == "category" and np.issubdtype(array.dtype, np.str_)
        if not strings and (array.dtype == bool or not np.issubdtype(array.dtype, np.integer)):
            raise GroundbenchError(f"'{key}' must hold integers, got dtype {array.dtype}", path=path)
    return arrays


def _finite(importance: np.ndarray, ids: list, path: Path) -> np.ndarray:
    importance = importance.astype(np.float64)
    bad = ~np.isfinite(importance).all(axis=1)
    if bad.any():
        named = [key for key, flag in zip(ids, bad.tolist()) if flag]
        raise GroundbenchError(f"rows with NaN or infinite importance ({describe_ids(named)})", path=path)
    return importance


def _check_ids(ids: list, known: set | None, path: Path, what: str, split: str) -> None:
    """No id twice; every id belongs to the split (``known``; None: not checked here)."""
    seen: set = set()
    duplicated = [i for i in ids if i in seen or seen.add(i)]
    if duplicated:
        raise GroundbenchError(f"{what} listed more than once ({describe_ids(duplicated)})", path=path)
    unknown = [] if known is None else [i for i in ids if i not in known]
    if unknown:
        raise GroundbenchError(f"{what} not in split '{split}' of the store ({describe_ids(unknown)})", path=path)


def _vqa_rows(store, split: str, path: Path) -> tuple[np.ndarray, list[int], list[int], object, int]:
    """(importance [N, K], image id per row, human row per row (-1: no map), human arrays, maps in split)."""
    arrays = read_importance(path, VQA_KEYS, store.features.k_max)
    qids = [int(q) for q in arrays["question_id"].tolist()]
    image_of = {r["question_id"]: r["image_id"] for r in store.records(split)}
    _check_ids(qids, set(image_of), path, "question ids", split)
    importance = _finite(arrays["importance"], qids, path)
    human = store.human(split)
    row_of = {int(q): i for i, q in enumerate(human.question_ids.tolist())}
    return importance, [image_of[q] for q in qids], [row_of.get(q, -1) for q in qids], human, len(row_of)


def _caption_rows(store, split: str, path: Path) -> tuple[np.ndarray, list[int], list[int], object, int]:
    """As ``_vqa_rows`` for a caption store, rows keyed by (image_id, category)."""
    arrays = read_importance(path, CAPTION_KEYS, store.features.k_max)
    index = {name: i for i, name in enumerate(store.categories)}
    categories = []
    for value in arrays["category"].tolist():
        if isinstance(value, str):
            if value not in index:
                raise GroundbenchError(f"category {value!r} is not a category of the store "
                                       f"({len(store.categories)} in categories.json)", path=path)
            value = index[value]
        elif not 0 <= value < len(store.categories):
            raise GroundbenchError(f"category index {value} is out of range (the store has "
                                   f"{len(store.categories)} categories)", path=path)
        categories.append(int(value))
    images = [int(i) for i in arrays["image_id"].tolist()]
    split_images = {r["image_id"] for r in store.records(split)}
    unknown = [i for i in images if i not in split_images]
    if unknown:
        raise GroundbenchError(f"image ids not in split '{split}' of the store ({describe_ids(unknown)})", path=path)
    keys = list(zip(images, categories))
    _check_ids(keys, None, path, "(image_id, category) pairs", split)
    importance = _finite(arrays["importance"], keys, path)
    human = store.human(split)
    row_of = human.row_index()
    return importance, images, [row_of.get(key, -1) for key in keys], human, len(row_of)


def open_any_store(root: str | Path) -> VQAStore | CaptionStore:
    """A caption store when the manifest says so, else a VQA store (whose opening checks everything)."""
    manifest = Path(root) / "manifest.json"
    found = read_json(manifest, what="store manifest") if manifest.is_file() else None
    if isinstance(found, dict) and found.get("format") == CAPTION_FORMAT:
        return CaptionStore.open(root)
    return VQAStore.open(root)


def grounding_values(importance, human, hat_mask, image_rows, features) -> dict[str, np.ndarray]:
    """Per-row Spearman and top-proposal IoU [R] (NaN where undefined): importance, human [R, K]; hat_mask
    [R, G, G]; image_rows [R] rows of the store's feature arrays (boxes, num_boxes, image size)."""
    rows = np.asarray(image_rows, dtype=np.int64)
    k = importance.shape[1]
    mask = torch.arange(k)[None, :] < torch.as_tensor(features.num_boxes[rows].astype(np.int64))[:, None]
    boxes = torch.as_tensor(np.asarray(features.array("boxes")[rows], dtype=np.float32))
    size = torch.as_tensor(features.image_size[rows].astype(np.float64))
    scores = torch.as_tensor(importance)
    rho = spearman(scores, torch.as_tensor(np.asarray(human, dtype=np.float64)), mask)[0]
    iou = top_proposal_iou(scores, boxes, size, torch.as_tensor(hat_mask), mask)
    return {"spearman": rho.numpy(), "top_iou": iou.numpy()}


def score_grounding(data: str | Path, importance: str | Path, split: str = "test") -> dict:
    """The report: inputs, row counts and ``splits`` {split: {"spearman", "top_iou": {"value", "ci95", "n",
    "undefined", "direction"}}} (the shape of ``groundbench eval`` reports)."""
    path = Path(importance)
    store = open_any_store(data)
    captioning = isinstance(store, CaptionStore)
    store.records(split)  # an unknown split is an error naming the store's splits
    rows, images, human_index, human, maps = (_caption_rows if captioning else _vqa_rows)(store, split, path)
    keep = np.asarray(human_index) >= 0
    if not keep.any():
        raise GroundbenchError(f"none of the {len(human_index)} rows has a human map in split '{split}' "
                               f"({maps} have one)", path=path)
    chosen = np.asarray(human_index)[keep]
    features = store.features
    values = grounding_values(rows[keep], human.importance[chosen], human.hat_mask[chosen],
                              [features.row_of[i] for i in np.asarray(images)[keep].tolist()], features)
    metrics = {name: dict(summarise(per_row), direction=DIRECTIONS[name]) for name, per_row in values.items()}
    return {
        "data": str(data), "task": "captioning" if captioning else "vqa", "importance": str(path), "split": split,
        "rows": len(human_index), "rows_with_human_map": int(keep.sum()),
        "rows_without_human_map": int((~keep).sum()), "human_maps_without_importance": maps - int(keep.sum()),
        "splits": {split: metrics},
    }
