"""Readers of the COCO files a caption results file is scored with; every problem is a one-line error naming
the file and the record (or the ids: their count and the first few).

* caption annotations (Chen et al. 2015, cocodataset.org/#format-data): ``{"images": [{"id", ...}],
  "annotations": [{"image_id", "id", "caption"}]}``; the images listed are the images scored.
* results (the COCO caption evaluation's format, coco-caption ``loadRes``): ``[{"image_id": int, "caption": str}]``,
  one per image of the annotations.
* instances: ``{"images": [{"id", ...}], "categories": [{"id", "name"}], "annotations": [{"image_id",
  "category_id"}]}`` (only these fields are read).
"""
from __future__ import annotations

from pathlib import Path

from ..errors import GroundbenchError
from ..io import read_json, require_fields
from ..metrics.chair import tokenize
from .common import describe_ids


def _list(data: object, key: str, path: Path) -> list:
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise GroundbenchError(f"expected a JSON object with a '{key}' list", path=path)
    return data[key]


def _integer(entry: dict, name: str, path: Path, record: str) -> int:
    value = entry[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise GroundbenchError(f"field '{name}' must be an integer, got {value!r}", path=path, record=record)
    return value


def _image_ids(data: object, path: Path) -> list[int]:
    """The ids of a COCO file's ``images``, in file order; duplicates are an error."""
    ids: dict[int, None] = {}
    for i, entry in enumerate(_list(data, "images", path)):
        require_fields(entry, ("id",), path=path, record_id=f"images[{i}]")
        image_id = _integer(entry, "id", path, f"images[{i}]")
        if image_id in ids:
            raise GroundbenchError("duplicate image id", path=path, record=f"image {image_id}")
        ids[image_id] = None
    return list(ids)


def _caption_text(value: object, path: Path, record: str) -> str:
    """A caption must be a string with at least one word (a-z or 0-9)."""
    if not isinstance(value, str) or not value.strip():
        raise GroundbenchError(f"caption must be a non-empty string, got {value!r}", path=path, record=record)
    if not tokenize(value):
        raise GroundbenchError(f"caption has no words: {value!r}", path=path, record=record)
    return value


def read_references(path: str | Path) -> dict[int, list[str]]:
    """{image_id: its reference captions (by annotation id)} for every image listed; an image with none,
    an annotation of an unlisted image, a duplicate annotation id or an empty caption is an error."""
    path = Path(path)
    data = read_json(path, what="COCO caption annotations file")
    by_image: dict[int, list[tuple[int, str]]] = {image_id: [] for image_id in _image_ids(data, path)}
    seen: set[int] = set()
    for i, entry in enumerate(_list(data, "annotations", path)):
        rid = f"annotations[{i}]"
        require_fields(entry, ("id", "image_id", "caption"), path=path, record_id=rid)
        ann_id = _integer(entry, "id", path, rid)
        rid = f"annotation {ann_id}"
        if ann_id in seen:
            raise GroundbenchError("duplicate annotation id", path=path, record=rid)
        seen.add(ann_id)
        image_id = _integer(entry, "image_id", path, rid)
        if image_id not in by_image:
            raise GroundbenchError(f"image_id {image_id} is not among this file's images", path=path, record=rid)
        by_image[image_id].append((ann_id, _caption_text(entry["caption"], path, rid)))
    if not by_image:
        raise GroundbenchError("no images to score", path=path)
    empty = [image_id for image_id, caps in by_image.items() if not caps]
    if empty:
        raise GroundbenchError(f"images without a reference caption ({describe_ids(empty)})", path=path)
    return {image_id: [caption for _, caption in sorted(caps)] for image_id, caps in by_image.items()}


def read_caption_results(path: str | Path, images: list[int], annotations: Path) -> dict[int, str]:
    """{image_id: caption} of a results file, one caption for each of ``images`` (the annotations' images,
    in that order); duplicated, unknown and missing image ids are errors naming them."""
    path = Path(path)
    results = read_json(path, what="results file")
    if not isinstance(results, list):
        raise GroundbenchError("a caption results file is a JSON list of {\"image_id\", \"caption\"}", path=path)
    captions: dict[int, str] = {}
    duplicated: list[int] = []
    for i, entry in enumerate(results):
        require_fields(entry, ("image_id", "caption"), path=path, record_id=f"#{i}")
        image_id = _integer(entry, "image_id", path, f"#{i}")
        if image_id in captions:
            duplicated.append(image_id)
        captions[image_id] = _caption_text(entry["caption"], path, f"image {image_id}")
    if duplicated:
        raise GroundbenchError(f"images captioned more than once ({describe_ids(duplicated)})", path=path)
    known = set(images)
    unknown = [i for i in captions if i not in known]
    if unknown:
        raise GroundbenchError(f"image ids not in the annotations {annotations.name} ({describe_ids(unknown)})",
                               path=path)
    missing = [i for i in images if i not in captions]
    if missing:
        raise GroundbenchError(f"images of {annotations.name} without a caption ({describe_ids(missing)})", path=path)
    return {i: captions[i] for i in images}


def read_instance_categories(path: str | Path, images: list[int]) -> dict[int, set[str]]:
    """{image_id: names of the categories annotated in it} for ``images``, each of which the instances file
    must list (an image may have no annotation); unknown category ids are errors naming the record."""
    path = Path(path)
    data = read_json(path, what="COCO instances file")
    listed = set(_image_ids(data, path))
    missing = [i for i in images if i not in listed]
    if missing:
        raise GroundbenchError(f"images of the caption annotations not listed in this instances file "
                               f"({describe_ids(missing)})", path=path)
    names: dict[int, str] = {}
    for i, entry in enumerate(_list(data, "categories", path)):
        require_fields(entry, ("id", "name"), path=path, record_id=f"categories[{i}]")
        cid = _integer(entry, "id", path, f"categories[{i}]")
        if not isinstance(entry["name"], str) or not entry["name"].strip():
            raise GroundbenchError(f"category name must be a non-empty string, got {entry['name']!r}", path=path,
                                   record=f"category {cid}")
        names[cid] = entry["name"].strip()
    wanted = set(images)
    objects: dict[int, set[str]] = {image_id: set() for image_id in images}
    for i, entry in enumerate(_list(data, "annotations", path)):
        rid = f"annotations[{i}]"
        require_fields(entry, ("image_id", "category_id"), path=path, record_id=rid)
        image_id, cid = _integer(entry, "image_id", path, rid), _integer(entry, "category_id", path, rid)
        if cid not in names:
            raise GroundbenchError(f"unknown category id {cid}", path=path, record=rid)
        if image_id in wanted:
            objects[image_id].add(names[cid])
    return objects
