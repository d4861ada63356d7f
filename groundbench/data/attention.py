"""VQA-HAT human attention maps (Das et al. 2016) -> proposal importance (HINT, Eq. 1) and a grid mask.

Layout under the data root: ``vqahat_train/{question_id}_1.png`` (one annotator) and
``vqahat_val/{question_id}_{1,2,3}.png`` (several), grey-scale at their own resolution; a question's
maps are looked up by id in both folders, whichever split the question lands in (so question ids must be
unique across splits: data/vqa.check_unique_across_splits).
Each map is resized to its image's size (bilinear), scaled to [0, 1], and the annotators are averaged;
maps not at their image's size are counted ("resized"). A map that is not a readable image, or is all
zero (no importance can be defined), or an entry named like a map that is not a file (a folder, a broken
link, a symlink loop) is left out and counted; a question none of whose maps is usable has no human
importance (excluded from HINT). The counts go to the store manifest's "maps".
The grid mask for the top-proposal IoU metric: the averaged map box-filtered onto a G x G grid in
normalised image coordinates (G = HAT_GRID), binarised at ``>= 0.5 x`` the grid map's maximum.
"""
from __future__ import annotations

import logging
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from ..errors import GroundbenchError
from ..importance.human import human_importance
from ..io import atomic_open
from .batch import HAT_GRID
from .feature_arrays import PREPARE, FeatureArrays
from .npy import load_npz
from .packed_masks import PackedMasks

log = logging.getLogger("groundbench.data")

HAT_DIRS = ("vqahat_train", "vqahat_val")
HAT_THRESHOLD = 0.5
_MAP_NAME = re.compile(r"^(\d+)_(\d+)\.png$")


def find_maps(root: str | Path) -> dict[int, list[Path]]:
    """question_id -> its entries named ``{qid}_{n}.png`` (all annotators, both folders), sorted; entries that
    are not files are listed too (average_map counts them); other names are ignored."""
    found: dict[int, list[Path]] = {}
    for folder in HAT_DIRS:
        directory = Path(root) / folder
        if not directory.is_dir():
            continue
        for path in directory.iterdir():
            match = _MAP_NAME.match(path.name)
            if match:
                found.setdefault(int(match.group(1)), []).append(path)
    return {qid: sorted(paths) for qid, paths in sorted(found.items())}


def load_map(path: Path, width: int, height: int) -> tuple[np.ndarray | None, tuple[int, int] | None]:
    """(map as float64 [height, width] in [0, 1], resized bilinearly; its size (w, h) in the file), or
    (None, None) if not a readable image."""
    try:
        with Image.open(path) as image:
            image.load()
            size = image.size
            grey = image.convert("L").resize((int(width), int(height)), Image.BILINEAR)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None, None
    return np.asarray(grey, dtype=np.float64) / 255.0, size


def read_map(path: Path, width: int, height: int) -> np.ndarray | None:
    """A map as float64 [height, width] in [0, 1], resized bilinearly; None if not a readable image."""
    return load_map(path, width, height)[0]


@dataclass
class MapCounts:
    """Map files used / left out, and questions with at least one usable map / with none."""

    used: int = 0
    excluded_unreadable: int = 0
    excluded_all_zero: int = 0
    questions: int = 0
    questions_excluded: int = 0
    excluded_not_a_file: int = 0
    resized: int = 0
    examples: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"used": self.used, "excluded_unreadable": self.excluded_unreadable,
                "excluded_all_zero": self.excluded_all_zero, "questions": self.questions,
                "questions_excluded": self.questions_excluded, "excluded_not_a_file": self.excluded_not_a_file,
                "resized": self.resized}


def average_map(paths: list[Path], width: int, height: int, counts: MapCounts) -> np.ndarray | None:
    """Mean of the usable maps of one question, [height, width]; None if none is usable (counted). Used maps
    not at the image's size are counted as resized."""
    total, used = None, 0
    for path in paths:
        if not path.is_file():
            counts.excluded_not_a_file += 1
            counts.examples.setdefault("not_a_file", str(path))
            continue
        array, size = load_map(path, width, height)
        if array is None:
            counts.excluded_unreadable += 1
            counts.examples.setdefault("unreadable", str(path))
        elif not array.any():
            counts.excluded_all_zero += 1
            counts.examples.setdefault("all_zero", str(path))
        else:
            total = array if total is None else total + array
            used += 1
            if size != (int(width), int(height)):
                counts.resized += 1
                counts.examples.setdefault("resized", f"{path} ({size[0]}x{size[1]}, image {width}x{height})")
    counts.used += used
    return None if total is None else total / used


def grid_mask(avg: np.ndarray, grid: int = HAT_GRID, threshold: float = HAT_THRESHOLD) -> np.ndarray:
    """avg: [H, W] -> bool [grid, grid] (rows = y): box-filtered to the grid, >= threshold x its maximum."""
    small = Image.fromarray(avg.astype(np.float32), mode="F").resize((grid, grid), Image.BOX)
    values = np.asarray(small, dtype=np.float64)
    peak = values.max()
    return values >= threshold * peak if peak > 0 else np.zeros((grid, grid), dtype=bool)


def proposal_importance(avg: np.ndarray, boxes: np.ndarray, num_boxes: int) -> np.ndarray:
    """Eq. 1 for every proposal: avg [H, W], boxes [K, 4] pixels, the first ``num_boxes`` real -> [K] float32."""
    k = boxes.shape[0]
    mask = torch.arange(k) < int(num_boxes)
    scores = human_importance(torch.from_numpy(avg)[None], torch.from_numpy(np.array(boxes, dtype=np.float32))[None], mask[None])
    return scores[0].numpy()


@dataclass
class HumanArrays:
    """question_ids [M] int64, importance [M, K] float32, hat_mask [M, G, G] bool (an array, or the same masks
    bit-packed: data/packed_masks.PackedMasks, as compute_human and read_human give them)."""

    question_ids: np.ndarray
    importance: np.ndarray
    hat_mask: np.ndarray


def compute_human(records: list[dict], maps: dict[int, list[Path]], features: FeatureArrays, counts: MapCounts,
                  *, grid: int = HAT_GRID, progress: bool = True, desc: str = "maps") -> HumanArrays:
    """Human importance and grid masks for the ``records`` (one split) that have usable maps.

    The outputs are preallocated and filled row by row: a list of small per-question arrays interleaved with
    the freed map-sized temporaries fragments the heap (measured: 8x the anonymous memory at 5k images)."""
    k = features.k_max
    boxes = features.array("boxes")
    todo = [r for r in records if r["question_id"] in maps]
    qids, importance = np.zeros(len(todo), np.int64), np.zeros((len(todo), k), np.float32)
    packed, m = np.zeros((len(todo), (grid * grid + 7) // 8), np.uint8), 0
    for record in tqdm(todo, desc=desc, unit="q", file=sys.stderr, disable=not progress or not todo):
        row = features.row_of[record["image_id"]]
        width, height = (int(x) for x in features.image_size[row])
        avg = average_map(maps[record["question_id"]], width, height, counts)
        if avg is None:
            counts.questions_excluded += 1
            continue
        counts.questions += 1
        qids[m] = record["question_id"]
        importance[m] = proposal_importance(avg, np.asarray(boxes[row]), int(features.num_boxes[row]))
        packed[m], m = np.packbits(grid_mask(avg, grid).reshape(-1)), m + 1
    return HumanArrays(qids[:m], importance[:m], PackedMasks(packed[:m], grid))


def write_human(path: str | Path, arrays: HumanArrays) -> Path:
    """``human_{split}.npz``: question_ids, importance, hat_mask packed along the flattened grid, grid."""
    masks = arrays.hat_mask if isinstance(arrays.hat_mask, PackedMasks) else PackedMasks.pack(arrays.hat_mask)
    packed, grid = masks.packed, masks.grid
    with atomic_open(path, "wb") as handle:
        np.savez(handle, question_ids=arrays.question_ids, importance=arrays.importance,
                 hat_mask=packed, grid=np.int64(grid))
    return Path(path)


HUMAN_NPZ = {"question_ids": ("iu", 1), "importance": ("f", 2), "hat_mask": ("u", 2), "grid": ("iu", 0)}


def check_packed(data: dict[str, np.ndarray], rows: int, path: Path, prepare: str) -> PackedMasks:
    """hat_mask packed by write_human, as PackedMasks [rows, G, G], after checking the shapes agree."""
    grid = int(data["grid"])
    if not 1 <= grid <= 4096 or data["hat_mask"].shape != (rows, (grid * grid + 7) // 8) \
            or data["importance"].shape[0] != rows or data["hat_mask"].dtype != np.uint8:
        raise GroundbenchError(f"arrays disagree (rows {rows}, importance {data['importance'].shape}, hat_mask "
                               f"{data['hat_mask'].shape}, grid {grid}); re-run {prepare}", path=path)
    return PackedMasks(data["hat_mask"], grid)


def unpack_masks(data: dict[str, np.ndarray], rows: int, path: Path, prepare: str) -> np.ndarray:
    """hat_mask packed by write_human -> bool [rows, G, G], after checking the shapes agree."""
    return np.asarray(check_packed(data, rows, path, prepare))


def read_human(path: str | Path, prepare: str = PREPARE) -> HumanArrays:
    """Inverse of write_human (hat_mask as PackedMasks [M, G, G], unpacked row by row when indexed); read without
    pickle and checked (data/npy.py): a damaged file is a GroundbenchError naming it."""
    data = load_npz(Path(path), prepare, HUMAN_NPZ)
    mask = check_packed(data, data["question_ids"].shape[0], Path(path), prepare)
    return HumanArrays(data["question_ids"].astype(np.int64), data["importance"].astype(np.float32), mask)
