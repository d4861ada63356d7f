"""COCO instance masks -> per-proposal human importance (HINT paper, Eq. 1) and the grid mask, per image.

What is timed is one COCO-like image, 640 x 480, with 36 proposals of realistic sizes (sides log-uniform
in 24 .. 640 / 480 px) and 3 annotated categories of 1-3 instances each (seeded random star-shaped
polygons of 12-40 vertices and radius 30-160 px; one instance of the first image a crowd region in
uncompressed RLE, as the official instances files store them); 8 such images, time per image reported.
For every (image, category):

* ours: the production path, exactly as ``data/caption_masks.compute_caption_human`` calls it:
  ``category_segments`` (pycocotools ``frPyObjects`` / ``merge`` of the union, then its run lengths read as
  vertical segments, data/rle.py: the mask is never decoded to pixels), ``data/binary_masks.BoxBounds``
  (Eq. 1 from box counts of the runs, equal bit for bit to the general float64 path on the decoded mask) and
  ``data/box_grid.exact_grid_mask`` (the 64 x 64 cells of PIL's box filter, exact cell means).
* reference, written straightforwardly: every instance decoded as pycocotools' ``COCO.annToMask`` does
  (one ``decode`` per instance), the union by ``|=``; then Eq. 1 per box in a Python loop,
  s_r = E_in / (E_in + E_out) with E_in = (mask pixels inside box r) / a_r and E_out = (mask pixels
  outside) / (HW - a_r), the inside count a numpy slice-sum of the decoded mask (boxes rounded to pixels
  as ``importance/human.pixel_bounds``); the grid mask as the mean of each grid cell over the pixels whose
  centre falls in it (the cells PIL's BOX filter uses here), >= 0.5 x the largest cell mean.

Both must agree (Eq. 1 to 1e-6, grid masks exactly) before timing; ours must also equal, bit for bit, Eq. 1 of
the decoded mask (``binary_importance``) and PIL's ``data/attention.grid_mask`` of it (the path before; the
two grids can differ only at exact ties, which these images do not have).
Target: ours >= 5x the reference. The record also holds a per-stage breakdown in seconds per image (ours:
merge, runs / segments, Eq. 1, grid; the decoding path before: decode, Eq. 1 by int32 block sums, PIL grid;
the reference: decode, Eq. 1 box loop, grid).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
from pycocotools import mask as mask_api

from groundbench.data.attention import HAT_THRESHOLD, grid_mask
from groundbench.data.batch import HAT_GRID
from groundbench.data.binary_masks import BoxBounds, binary_importance, segment_importance
from groundbench.data.box_grid import exact_grid_mask
from groundbench.data.caption_masks import category_mask, category_rle, category_segments
from groundbench.data.rle import one_segments, rle_counts
from groundbench.importance.human import pixel_bounds

from .common import best_time, compare, emit, result

WIDTH, HEIGHT, K, IMAGES, CATEGORIES, TARGET = 640, 480, 36, 8, 3, 5.0


def star_polygon(rng: np.random.Generator) -> list[float]:
    """A random star-shaped polygon (flat [x1, y1, ...]) inside the image."""
    n, radius = int(rng.integers(12, 41)), rng.uniform(30, 160)
    cx, cy = rng.uniform(0, WIDTH), rng.uniform(0, HEIGHT)
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    r = radius * rng.uniform(0.5, 1.0, n)
    xs = np.clip(cx + r * np.cos(angles), 0, WIDTH - 1)
    ys = np.clip(cy + r * np.sin(angles), 0, HEIGHT - 1)
    return np.round(np.stack([xs, ys], 1).reshape(-1), 2).tolist()


def uncompressed_rle(mask: np.ndarray) -> dict:
    """Official-file crowd RLE: column-major run lengths starting with a run of zeros."""
    flat = mask.T.reshape(-1)
    change = np.flatnonzero(np.diff(flat)) + 1
    edges = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(edges).tolist()
    return {"size": [HEIGHT, WIDTH], "counts": ([0] + runs) if flat[0] else runs}


def make_image(rng: np.random.Generator, with_rle: bool) -> tuple[list[list[dict]], np.ndarray]:
    """([annotations of each category], boxes [K, 4] float32 pixels)."""
    categories = []
    for c in range(CATEGORIES):
        anns = [{"segmentation": [star_polygon(rng)], "iscrowd": 0} for _ in range(int(rng.integers(1, 4)))]
        if with_rle and c == 0:
            crowd = mask_api.decode(mask_api.merge(mask_api.frPyObjects([star_polygon(rng)], HEIGHT, WIDTH)))
            anns.append({"segmentation": uncompressed_rle(crowd), "iscrowd": 1})
        categories.append(anns)
    size = np.exp(rng.uniform(np.log(24), np.log([WIDTH, HEIGHT]), (K, 2)))
    x0 = rng.uniform(0, 1, (K, 2)) * ([WIDTH, HEIGHT] - size)
    return categories, np.concatenate([x0, x0 + size], 1).astype(np.float32)


# -- ours: the production path (compute_caption_human's calls) ------------------------------------------------
def ours_category(anns: list[dict], boxes: BoxBounds) -> tuple[np.ndarray, np.ndarray]:
    union = category_segments(anns, HEIGHT, WIDTH)
    return boxes.importance(union), exact_grid_mask(union, HEIGHT, WIDTH, HAT_GRID, HAT_THRESHOLD)


def ours_image(categories: list[list[dict]], boxes: np.ndarray) -> None:
    """One image as compute_caption_human does it: the proposals' bounds once, then each category."""
    bounds = BoxBounds.of(boxes, K, HEIGHT, WIDTH)
    for anns in categories:
        ours_category(anns, bounds)


def decoded_category(anns: list[dict], boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The path before: decode the union, Eq. 1 by int32 block sums, PIL's grid."""
    union = category_mask(anns, HEIGHT, WIDTH)
    return binary_importance(union, boxes, K), grid_mask(union.astype(np.float32), HAT_GRID)


# -- reference: straightforward ----------------------------------------------------------------------------
def ann_to_mask(segmentation: list | dict) -> np.ndarray:
    """pycocotools COCO.annToRLE + annToMask for one annotation -> [H, W] uint8."""
    if isinstance(segmentation, list):
        rle = mask_api.merge(mask_api.frPyObjects(segmentation, HEIGHT, WIDTH))
    elif isinstance(segmentation["counts"], list):
        rle = mask_api.frPyObjects(segmentation, HEIGHT, WIDTH)
    else:
        rle = segmentation
    return mask_api.decode(rle)


def reference_union(anns: list[dict]) -> np.ndarray:
    union = np.zeros((HEIGHT, WIDTH), np.uint8)
    with warnings.catch_warnings():  # pycocotools under numpy 2 warns on every decode (as category_mask does)
        warnings.simplefilter("ignore", DeprecationWarning)
        for ann in anns:
            union |= ann_to_mask(ann["segmentation"])
    return union


def reference_importance(union: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Eq. 1 per box from the decoded mask (slice-sums), float64 [K]."""
    total = float(union.sum())
    out = np.zeros(len(boxes))
    for k, (c0, r0, c1, r1) in enumerate(pixel_bounds(boxes, HEIGHT, WIDTH).tolist()):
        inside = float(union[r0:r1, c0:c1].sum())
        area = (c1 - c0) * (r1 - r0)
        rest = HEIGHT * WIDTH - area
        e_in = inside / area if area else 0.0
        e_out = (total - inside) / rest if rest else 0.0
        out[k] = e_in / (e_in + e_out) if e_in + e_out > 0 else 0.0
    return out


def cell_starts(n: int, grid: int) -> np.ndarray:
    """First pixel of each grid cell: pixel p goes to cell ceil((p + 1/2) G / n) - 1 (its centre's cell)."""
    cell = ((2 * np.arange(n) + 1) * grid + 2 * n - 1) // (2 * n) - 1
    return np.searchsorted(cell, np.arange(grid))


def reference_grid(union: np.ndarray, grid: int = HAT_GRID) -> tuple[np.ndarray, np.ndarray]:
    """(bool [G, G] grid mask, the cell means) of a {0, 1} mask."""
    rows, cols = cell_starts(HEIGHT, grid), cell_starts(WIDTH, grid)
    sums = np.add.reduceat(np.add.reduceat(union.astype(np.int64), rows, 0), cols, 1)
    counts = np.outer(np.diff(np.append(rows, HEIGHT)), np.diff(np.append(cols, WIDTH)))
    means = sums / counts
    peak = means.max()
    return (means >= HAT_THRESHOLD * peak if peak > 0 else np.zeros((grid, grid), bool)), means


def reference_category(anns: list[dict], boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    union = reference_union(anns)
    return reference_importance(union, boxes), reference_grid(union)[0]


def per_image(images: list, fn) -> None:
    for categories, boxes in images:
        for anns in categories:
            fn(anns, boxes)


def breakdown(images: list) -> dict:
    """Seconds per image of each stage (best of 5; outputs dropped as they are made)."""
    anns = [cats for cats, _ in images]
    rles = [[category_rle(a, HEIGHT, WIDTH) for a in cats] for cats in anns]
    segments = [[category_segments(a, HEIGHT, WIDTH) for a in cats] for cats in anns]
    unions = [[category_mask(a, HEIGHT, WIDTH) for a in cats] for cats in anns]
    ref_unions = [[reference_union(a) for a in cats] for cats in anns]
    boxes = [b for _, b in images]

    def each(fn, data) -> float:
        def go():
            for xs, b in zip(data, boxes):
                for x in xs:
                    fn(x, b)
        return best_time(go) / len(images)

    return {"ours": {"merge": each(lambda a, b: category_rle(a, HEIGHT, WIDTH), anns),
                     "runs_segments": each(lambda r, b: one_segments(rle_counts(r["counts"]), HEIGHT), rles),
                     "eq1_segments": each(lambda s, b: segment_importance(s, b, K, HEIGHT, WIDTH), segments),
                     "grid_exact": each(lambda s, b: exact_grid_mask(s, HEIGHT, WIDTH, HAT_GRID, HAT_THRESHOLD),
                                        segments)},
            "decoding_path_before": {"decode": each(lambda a, b: category_mask(a, HEIGHT, WIDTH), anns),
                                     "eq1_integer": each(lambda u, b: binary_importance(u, b, K), unions),
                                     "grid_pil": each(lambda u, b: grid_mask(u.astype(np.float32), HAT_GRID), unions)},
            "reference": {"decode": each(lambda a, b: reference_union(a), anns),
                          "eq1_box_loop": each(reference_importance, ref_unions),
                          "grid_mask": each(lambda u, b: reference_grid(u), ref_unions)}}


def run() -> dict:
    rng = np.random.default_rng(0)
    images = [make_image(rng, with_rle=i == 0) for i in range(IMAGES)]
    max_diff, grid_differ = 0.0, 0
    for categories, boxes in images:
        for anns in categories:
            ours_s, ours_grid = ours_category(anns, BoxBounds.of(boxes, K, HEIGHT, WIDTH))
            ref_s, ref_grid = reference_category(anns, boxes)
            before_s, before_grid = decoded_category(anns, boxes)
            if not (np.array_equal(ours_s.view(np.uint32), before_s.view(np.uint32))
                    and np.array_equal(ours_grid, before_grid)):
                raise AssertionError("the run-length path differs from the decoding path")
            max_diff = max(max_diff, float(np.abs(ours_s.astype(np.float64) - ref_s).max()))
            grid_differ += int((ours_grid != ref_grid).sum())
    if max_diff >= 1e-6 or grid_differ:
        raise AssertionError(f"Eq. 1 differs by {max_diff}, grid masks in {grid_differ} cells")
    reference_s, ours_s = compare(lambda: per_image(images, reference_category),
                                  lambda: [ours_image(categories, boxes) for categories, boxes in images],
                                  repeat=7, ours_per_round=2)
    reference_s, ours_s = reference_s / IMAGES, ours_s / IMAGES
    instances = sum(len(a) for cats, _ in images for a in cats)
    return result("caption_masks_to_importance", reference_s, ours_s, TARGET, images_per_s=1 / ours_s,
                  reference_images_per_s=1 / reference_s, image=[WIDTH, HEIGHT], boxes=K, categories_per_image=CATEGORIES,
                  instances_per_image=instances / IMAGES, grid=HAT_GRID, max_abs_diff=max_diff,
                  grid_cells_differ=grid_differ, torch_threads=torch.get_num_threads(), breakdown_s_per_image=breakdown(images))


def main() -> dict:
    return emit(run())


if __name__ == "__main__":
    main()
