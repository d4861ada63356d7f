"""Checks of a COCO instance segmentation before pycocotools decodes it (its C code has no bounds checks).

Format (cocodataset.org/#format-data, pycocotools maskApi): polygons ``[[x1, y1, x2, y2, ...], ...]`` in pixel
coordinates, or RLE ``{"size": [h, w], "counts": [runs...] | "compressed string"}``, column-major runs
starting with a run of 0s.

The published instances files hold a few polygons of fewer than 3 points (lines of 4 coordinates; the
reference Detectron loader keeps only polygons of >= 6 coordinates). Such a polygon is dropped and counted,
and an annotation left with no polygon is skipped and counted (``Skipped``, reported in the store
manifest). Everything else malformed is an error naming the file and the record: an odd number of
coordinates, non-numbers, a polygon lying outside the image, an RLE whose size is not the image's or whose
runs do not cover it exactly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GroundbenchError

EXAMPLES = 3  # record names kept per kind of skip


@dataclass
class Skipped:
    """Counted skips of published-data quirks: kind -> count, and the first few records of each kind."""

    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, where: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        listed = self.examples.setdefault(kind, [])
        if len(listed) < EXAMPLES:
            listed.append(where)

    def to_dict(self) -> dict:
        return {"counts": dict(sorted(self.counts.items())), "examples": dict(sorted(self.examples.items()))}

    def summary(self) -> str:
        """One line, e.g. ``2 polygons of fewer than 3 points (instances_train2014.json: annotation 5, ...)``."""
        labels = {"short_polygons": "polygons of fewer than 3 points dropped",
                  "annotations_without_polygon": "annotations left without a polygon skipped"}
        return "; ".join(f"{n} {labels.get(kind, kind)} ({', '.join(self.examples.get(kind, []))}"
                         f"{', ...' if n > len(self.examples.get(kind, [])) else ''})"
                         for kind, n in sorted(self.counts.items()))


def rle_string_counts(text: str) -> list[int] | None:
    """Run lengths of a compressed RLE string (pycocotools maskApi.c rleFrString); None if malformed."""
    counts: list[int] = []
    p = 0
    while p < len(text):
        x, k, more = 0, 0, True
        while more:
            if p >= len(text) or not 0 <= ord(text[p]) - 48 < 64:
                return None
            c = ord(text[p]) - 48
            x |= (c & 0x1F) << 5 * k
            more = bool(c & 0x20)
            p, k = p + 1, k + 1
            if not more and c & 0x10:
                x |= -1 << 5 * k
        counts.append(x + counts[-2] if len(counts) > 2 else x)
    return counts


def _check_polygon(poly: object, j: int, size: tuple[int, int], path: Path, rid: str) -> None:
    """Finite numbers, an even count, and a polygon that overlaps the image and stays within one image size
    of it (pycocotools walks every pixel step of each edge: huge coordinates would not end)."""
    width, height = size
    if not isinstance(poly, list) or not all(type(x) in (int, float) for x in poly) or not math.isfinite(sum(poly)):
        raise GroundbenchError(f"polygon {j} is not a list of finite numbers", path=path, record=rid)
    if len(poly) % 2:
        raise GroundbenchError(f"polygon {j} has an odd number of coordinates ({len(poly)})", path=path, record=rid)
    if not poly:
        return
    xs, ys = poly[0::2], poly[1::2]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    overlaps = x1 > 0 and x0 < width and y1 > 0 and y0 < height
    near = -width <= x0 and x1 <= 2 * width and -height <= y0 and y1 <= 2 * height
    if not (overlaps and near):
        raise GroundbenchError(f"polygon {j} lies outside the {width}x{height} image (x {x0:g}..{x1:g}, "
                               f"y {y0:g}..{y1:g})", path=path, record=rid)


def _check_rle(seg: dict, size: tuple[int, int], path: Path, rid: str) -> None:
    width, height = size
    rle_size, counts = seg.get("size"), seg.get("counts")
    if not isinstance(rle_size, list) or len(rle_size) != 2 or not all(type(x) is int for x in rle_size):
        raise GroundbenchError("RLE needs 'size': [height, width]", path=path, record=rid)
    if rle_size != [height, width]:
        raise GroundbenchError(f"RLE size {rle_size} disagrees with the image's [height, width] [{height}, {width}]",
                               path=path, record=rid)
    runs = rle_string_counts(counts) if isinstance(counts, str) else counts
    if not isinstance(runs, list) or not all(type(x) is int and x >= 0 for x in runs):
        raise GroundbenchError("RLE 'counts' must be non-negative integers or a compressed RLE string",
                               path=path, record=rid)
    if sum(runs) != height * width:
        raise GroundbenchError(f"RLE counts cover {sum(runs)} pixels, the {width}x{height} image has {height * width}",
                               path=path, record=rid)


def usable_segmentation(seg: object, size: tuple[int, int], path: Path, rid: str,
                        skipped: Skipped) -> list | dict | None:
    """The segmentation to decode: the checked RLE, or the polygons of >= 3 points (shorter ones dropped and
    counted); None (counted) when no polygon is left. size: the image's (width, height)."""
    if isinstance(seg, dict):
        _check_rle(seg, size, path, rid)
        return seg
    if not isinstance(seg, list):
        raise GroundbenchError("segmentation must be polygons (a list) or RLE (an object)", path=path, record=rid)
    if not seg:
        raise GroundbenchError("segmentation has no polygon", path=path, record=rid)
    kept = []
    for j, poly in enumerate(seg):
        _check_polygon(poly, j, size, path, rid)
        if len(poly) < 6:
            skipped.add("short_polygons", f"{path.name}: {rid} polygon {j}")
        else:
            kept.append(poly)
    if not kept:
        skipped.add("annotations_without_polygon", f"{path.name}: {rid}")
        return None
    return kept
