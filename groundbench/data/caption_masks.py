"""COCO instance masks -> human importance of every proposal per (image, category) (HINT paper, Eq. 1).

A category's human map in an image is the union of its instance masks (polygons, uncompressed or compressed
RLE, crowd regions included), merged with pycocotools as ``COCO.annToRLE`` does (``frPyObjects``, ``merge``)
at the image's size, and read from its run lengths without decoding it to pixels (data/rle.py). Eq. 1 per
proposal in integer arithmetic (``data/binary_masks.BoxBounds``, once per image), equal bit for bit to the general map
path of the VQA-HAT maps (``data/attention.proposal_importance``) on the decoded mask; the G x G grid mask
(``data/box_grid.exact_grid_mask``) has the cells of that path's ``data/attention.grid_mask`` with exact cell
means. A category whose union mask has no pixel (a sliver polygon) gets no row and is counted.
"""
from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_api
from tqdm import tqdm

from ..errors import GroundbenchError
from ..io import atomic_open
from .attention import HAT_THRESHOLD, unpack_masks
from .binary_masks import BoxBounds
from .batch import HAT_GRID
from .box_grid import exact_grid_mask
from .coco import Instances
from .feature_arrays import PREPARE, FeatureArrays
from .npy import load_npz
from .rle import one_segments, rle_counts


def annotation_rle(segmentation: list | dict, height: int, width: int) -> dict:
    """One annotation's mask as a single RLE (polygons merged; uncompressed RLE compressed)."""
    if isinstance(segmentation, list):
        return mask_api.merge(mask_api.frPyObjects(segmentation, height, width))
    if isinstance(segmentation["counts"], list):
        return mask_api.frPyObjects(segmentation, height, width)
    return {"size": list(segmentation["size"]), "counts": segmentation["counts"]}


def category_rle(annotations: list[dict], height: int, width: int) -> dict:
    """Union of the annotations' masks as one compressed RLE: every polygon of every annotation in one
    ``frPyObjects``, then one ``merge`` with the RLE annotations (the union of the same pixels: the same RLE as
    merging annotation by annotation)."""
    polygons = [p for a in annotations if isinstance(a["segmentation"], list) for p in a["segmentation"]]
    rles = list(mask_api.frPyObjects(polygons, height, width)) if polygons else []
    rles += [annotation_rle(a["segmentation"], height, width) for a in annotations
             if not isinstance(a["segmentation"], list)]
    return mask_api.merge(rles, intersect=0)


def category_mask(annotations: list[dict], height: int, width: int) -> np.ndarray:
    """Union of the annotations' masks -> [height, width] uint8 in {0, 1}."""
    with warnings.catch_warnings():  # pycocotools 2.0.x under numpy 2: a DeprecationWarning on every decode
        warnings.filterwarnings("ignore", message="__array__ implementation", category=DeprecationWarning)
        return mask_api.decode(category_rle(annotations, height, width))


def category_segments(annotations: list[dict], height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Union of the annotations' masks as its vertical 1-segments (data/rle.py), never decoded to pixels."""
    return one_segments(rle_counts(category_rle(annotations, height, width)["counts"]), height)


@dataclass
class CaptionHumanArrays:
    """One split's rows: image_ids [M] int64, category [M] int64 (index into categories.json),
    importance [M, K] float32 (Eq. 1), hat_mask [M, G, G] bool (rows = y)."""

    image_ids: np.ndarray
    category: np.ndarray
    importance: np.ndarray
    hat_mask: np.ndarray

    def row_index(self) -> dict[tuple[int, int], int]:
        """{(image_id, category): row}."""
        return {(int(i), int(c)): r for r, (i, c) in enumerate(zip(self.image_ids.tolist(), self.category.tolist()))}


def check_image_sizes(image_ids: list[int], instances: Instances, features: FeatureArrays) -> None:
    """The feature TSV's image_w / image_h must be the instances file's size (masks are at that size)."""
    for image_id in image_ids:
        fw, fh = (int(x) for x in features.image_size[features.row_of[image_id]])
        if (fw, fh) != instances.images[image_id]:
            w, h = instances.images[image_id]
            raise GroundbenchError(f"the feature TSV gives this image as {fw}x{fh}, the instances file as {w}x{h} "
                                   "(features of other images?)", path=instances.file_of[image_id],
                                   record=f"image {image_id}")


def compute_caption_human(records: list[dict], instances: Instances, features: FeatureArrays,
                          categories: list[str], counts: dict, *, grid: int = HAT_GRID, progress: bool = True,
                          desc: str = "masks") -> CaptionHumanArrays:
    """Rows (image, category) for every record with ``has_masks`` and every category of its ``objects``,
    in category order; ``counts["empty_masks"]`` counts left-out empty unions."""
    index = {name: i for i, name in enumerate(categories)}
    all_boxes, k = features.array("boxes"), features.k_max
    todo = [r for r in records if r["has_masks"]]
    # rows are filled into arrays sized for the most rows the records can give (one per listed object), so
    # memory does not fragment with per-row allocations between the large per-mask temporaries
    most = sum(len(r["objects"]) for r in todo)
    image_ids, category = np.zeros(most, np.int64), np.zeros(most, np.int64)
    importance, masks = np.zeros((most, k), np.float32), np.zeros((most, grid, grid), bool)
    m = 0
    for record in tqdm(todo, desc=desc, unit="img", file=sys.stderr, disable=not progress or not todo):
        image_id = record["image_id"]
        row = features.row_of[image_id]
        width, height = instances.images[image_id]
        boxes = BoxBounds.of(np.asarray(all_boxes[row]), int(features.num_boxes[row]), height, width)
        by_category: dict[str, list[dict]] = {}
        for ann in instances.annotations.get(image_id, []):
            by_category.setdefault(instances.categories[ann["category_id"]], []).append(ann)
        for name in sorted(record["objects"], key=index.__getitem__):
            union = category_segments(by_category[name], height, width)
            if union[0].size == 0:
                counts["empty_masks"] = counts.get("empty_masks", 0) + 1
                continue
            image_ids[m], category[m] = image_id, index[name]
            importance[m] = boxes.importance(union)
            masks[m] = exact_grid_mask(union, height, width, grid, HAT_THRESHOLD)
            m += 1
    return CaptionHumanArrays(image_ids[:m].copy(), category[:m].copy(), importance[:m].copy(), masks[:m].copy())


def write_caption_human(path: str | Path, arrays: CaptionHumanArrays) -> Path:
    """``human_{split}.npz``: image_ids, category, importance, hat_mask packed along the flattened grid, grid."""
    m, grid = arrays.hat_mask.shape[0], arrays.hat_mask.shape[-1]
    packed = np.packbits(arrays.hat_mask.reshape(m, grid * grid), axis=1)
    with atomic_open(path, "wb") as handle:
        np.savez(handle, image_ids=arrays.image_ids, category=arrays.category, importance=arrays.importance,
                 hat_mask=packed, grid=np.int64(grid))
    return Path(path)


CAPTION_HUMAN_NPZ = {"image_ids": ("iu", 1), "category": ("iu", 1), "importance": ("f", 2), "hat_mask": ("u", 2),
                     "grid": ("iu", 0)}


def read_caption_human(path: str | Path, prepare: str = PREPARE) -> CaptionHumanArrays:
    """Inverse of write_caption_human (hat_mask unpacked to bool [M, G, G]); read without pickle and checked
    (data/npy.py): a damaged file is a GroundbenchError naming it."""
    data = load_npz(Path(path), prepare, CAPTION_HUMAN_NPZ)
    rows = data["image_ids"].shape[0]
    if data["category"].shape != (rows,):
        raise GroundbenchError(f"'category' has {data['category'].shape[0]} rows, 'image_ids' {rows}; re-run "
                               f"{prepare}", path=path)
    mask = unpack_masks(data, rows, Path(path), prepare)
    return CaptionHumanArrays(data["image_ids"].astype(np.int64), data["category"].astype(np.int64),
                              data["importance"].astype(np.float32), mask)
