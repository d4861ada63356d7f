"""Readers of the official COCO caption-side files; every record is validated, and a bad one raises a
GroundbenchError naming the file and the record.

* ``captions_{train,val}2014.json``: COCO captions format (Chen et al. 2015, cocodataset.org/#format-data):
  ``{"images": [{"id", "width", "height", ...}], "annotations": [{"id", "image_id", "caption"}]}``.
* ``instances_{train,val}2014.json``: COCO instances format: ``images``, ``categories [{"id", "name"}]``,
  ``annotations [{"id", "image_id", "category_id", "segmentation", "iscrowd"}]``; segmentation is polygons
  ``[[x1, y1, ...], ...]`` or RLE ``{"size": [h, w], "counts": list | str}`` (pycocotools' maskApi format).
* ``dataset_coco.json``: Karpathy & Fei-Fei 2015's split, ``{"images": [{"cocoid", "split", "sentences": [{"sentid",
  "raw", "tokens"}]}]}``; restval -> train. Its sentences are the captions when the root has no captions files.
* ``split_robust_coco.json``: Lu et al. 2018 (Neural Baby Talk) robust split, ``{"train_id"|"val_id"|"test_id":
  [{"img_id"}]}``. Its val / test images come from BOTH 2014 sets, so both captions files are always read
  (or, without them, the Karpathy sentences: both cover all 123,287 images).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GroundbenchError
from ..io import read_json, require_fields, require_file
from .caption_text import tokenize_caption
from .coco_segmentation import Skipped, rle_string_counts, usable_segmentation  # noqa: F401 (re-exported)
from .ids import check_id, record_name

SPLITS = ("train", "val", "test")
CAPTION_FILES = ("captions_train2014.json", "captions_val2014.json")
INSTANCE_FILES = ("instances_train2014.json", "instances_val2014.json")
KARPATHY_FILE, ROBUST_FILE = "dataset_coco.json", "split_robust_coco.json"
FROM_CAPTIONS, FROM_SENTENCES = "captions_*2014.json", f"{KARPATHY_FILE} sentences"  # the manifest's caption_source
KARPATHY_SPLITS = {"train": "train", "restval": "train", "val": "val", "test": "test"}
ROBUST_KEYS = {"train_id": "train", "val_id": "val", "test_id": "test"}
SPLIT_FILES = {"robust": ROBUST_FILE, "karpathy": KARPATHY_FILE, "standard": KARPATHY_FILE}
SHIPPED_ROBUST = Path(__file__).parent / "lists" / ROBUST_FILE  # the published file (jiasenlu/NeuralBabyTalk, MIT)


def split_file(root: Path, scheme: str) -> Path:
    """The split file of ``scheme``: ROOT's own copy when present; for robust, else the shipped published file."""
    path = Path(root) / SPLIT_FILES[scheme]
    if scheme == "robust" and not path.exists():
        return SHIPPED_ROBUST
    return require_file(path, "split file", hint="see the README's COCO captioning layout")


def _list(data: object, key: str, path: Path) -> list:
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise GroundbenchError(f"expected a JSON object with a '{key}' list", path=path)
    return data[key]


def _int(entry: dict, name: str, path: Path, record: str) -> int:
    """An id or a size: a JSON integer in [0, 2**63) (data/ids.py)."""
    return check_id(entry[name], name, path, record)


def _rid(entry: object, key: str, label: str, i: int, where: str) -> str:
    """The record's name in errors: ``label <id>`` when the entry has its id, else ``where[i]``."""
    return str(record_name(entry, key, f"{where}[{i}]", label))


def _images(data: object, path: Path) -> dict[int, tuple[int, int]]:
    """image id -> (width, height) of a COCO file's ``images``."""
    images: dict[int, tuple[int, int]] = {}
    for i, entry in enumerate(_list(data, "images", path)):
        rid = _rid(entry, "id", "image", i, "images")
        require_fields(entry, ("id", "width", "height"), path=path, record_id=rid)
        image_id, width, height = (_int(entry, name, path, rid) for name in ("id", "width", "height"))
        if width <= 0 or height <= 0:
            raise GroundbenchError(f"image size {width}x{height} is not positive", path=path, record=rid)
        if image_id in images:
            raise GroundbenchError("duplicate image id", path=path, record=rid)
        images[image_id] = (width, height)
    return images


def _annotations(data: object, path: Path, fields: tuple[str, ...], images: dict) -> list[tuple[str, dict]]:
    """(record name, entry) of every annotation: fields present, unique integer id, a known image."""
    seen: set[int] = set()
    out = []
    for i, entry in enumerate(_list(data, "annotations", path)):
        rid = _rid(entry, "id", "annotation", i, "annotations")
        require_fields(entry, fields, path=path, record_id=rid)
        ann_id = _int(entry, "id", path, rid)
        if ann_id in seen:
            raise GroundbenchError("duplicate annotation id", path=path, record=rid)
        seen.add(ann_id)
        if _int(entry, "image_id", path, rid) not in images:
            raise GroundbenchError(f"image_id {entry['image_id']} is not among this file's images", path=path, record=rid)
        out.append((rid, entry))
    return out


@dataclass
class Captions:
    """Captions merged: image -> the file listing it, image -> raw captions (by annotation id / sentid)."""

    file_of: dict[int, Path] = field(default_factory=dict)
    captions: dict[int, list[str]] = field(default_factory=dict)
    annotation_ids: dict[int, Path] = field(default_factory=dict)
    missing: str = f"is in neither captions file ({', '.join(CAPTION_FILES)})"  # how split_images says it


def caption_source(root: Path) -> tuple[str, list[Path]]:
    """(FROM_CAPTIONS, both captions files) when ROOT has either; else (FROM_SENTENCES, [dataset_coco.json]) when
    ROOT has that; else an error naming the files looked for. Either split scheme may read the sentences: the
    Karpathy file covers all 123,287 images, as the captions files do."""
    root = Path(root)
    if not any((root / name).exists() for name in CAPTION_FILES) and (root / KARPATHY_FILE).exists():
        return FROM_SENTENCES, [require_file(root / KARPATHY_FILE, "Karpathy file")]
    if not any((root / name).exists() for name in (*CAPTION_FILES, KARPATHY_FILE)):
        raise GroundbenchError(f"no captions: looked for {', '.join(CAPTION_FILES)} and {KARPATHY_FILE} (whose "
                               "images[].sentences hold the captions too) in the data root", path=root)
    return FROM_CAPTIONS, [require_file(root / name, "file", hint=f"both captions files, or neither and the captions "
                                        f"come from {KARPATHY_FILE}'s sentences") for name in CAPTION_FILES]


def _caption_text(text: object, path: Path, rid: str, what: str = "caption") -> str:
    """A caption that is a string with a word (caption_text.tokenize_caption), else an error."""
    if not isinstance(text, str) or not text.strip():
        raise GroundbenchError(f"{what} is empty or whitespace: {text!r}", path=path, record=rid)
    if not tokenize_caption(text):
        raise GroundbenchError(f"{what} has no words: {text!r}", path=path, record=rid)
    return text


def read_sentences(path: Path) -> Captions:
    """Captions from ``dataset_coco.json``'s ``images[].sentences[]`` (``cocoid``: COCO image id; ``sentid``: the
    COCO caption annotation id; ``raw``: the caption text), sorted by sentid as read_captions sorts annotation ids.

    ``raw`` is read and tokenised like a captions file's caption, so a caption gives the same text and tokens from
    either source; ``tokens`` (Karpathy's lower-cased, punctuation-stripped words) is not read. On the published
    sentences of image 391895 it agrees with tokenize_caption(raw) ("cloud-wreathed" -> cloud, wreathed; tested),
    but its tokeniser is not ours, and the store keeps raw text too (the references of BLEU / CIDEr).
    An image without ``sentences`` or with none, a sentence without ``sentid`` / ``raw``, an empty or wordless
    ``raw``, a duplicate sentid or cocoid: errors naming the record.
    """
    merged = Captions(missing=f"has no sentences in {KARPATHY_FILE}")
    why = f"the data root has no {' / '.join(CAPTION_FILES)}, so the captions come from these sentences"
    for i, entry in enumerate(_list(read_json(path, what="Karpathy file"), "images", path)):
        rid = _rid(entry, "cocoid", "cocoid", i, "images")
        require_fields(entry, ("cocoid",), path=path, record_id=rid)
        image_id = _int(entry, "cocoid", path, rid)
        if not isinstance(entry.get("sentences"), list) or not entry["sentences"]:
            problem = "no 'sentences' list" if not isinstance(entry.get("sentences"), list) else "an empty 'sentences'"
            raise GroundbenchError(f"image has {problem} ({why})", path=path, record=rid)
        if image_id in merged.file_of:
            raise GroundbenchError("image listed twice", path=path, record=rid)
        items = []
        for j, sentence in enumerate(entry["sentences"]):
            sid = f"{rid} {_rid(sentence, 'sentid', 'sentid', j, 'sentences')}"
            require_fields(sentence, ("sentid", "raw"), path=path, record_id=sid)
            sentid = _int(sentence, "sentid", path, sid)
            if sentid in merged.annotation_ids:
                raise GroundbenchError("duplicate sentid", path=path, record=sid)
            merged.annotation_ids[sentid] = path
            items.append((sentid, _caption_text(sentence["raw"], path, sid, "sentence 'raw'")))
        merged.file_of[image_id], merged.captions[image_id] = path, [raw for _, raw in sorted(items)]
    return merged


def read_captions(paths: list[Path]) -> Captions:
    """Read and merge COCO captions files; empty / wordless captions, duplicate ids are errors."""
    merged = Captions()
    for path in paths:
        data = read_json(path, what="COCO captions file")
        images = _images(data, path)
        by_image: dict[int, list[tuple[int, str]]] = {image_id: [] for image_id in images}
        for rid, entry in _annotations(data, path, ("id", "image_id", "caption"), images):
            if entry["id"] in merged.annotation_ids:
                raise GroundbenchError(f"duplicate annotation id (also in {merged.annotation_ids[entry['id']].name})",
                                       path=path, record=rid)
            merged.annotation_ids[entry["id"]] = path
            by_image[entry["image_id"]].append((entry["id"], _caption_text(entry["caption"], path, rid)))
        for image_id, items in by_image.items():
            if image_id in merged.file_of:
                raise GroundbenchError(f"image also listed in {merged.file_of[image_id].name}", path=path,
                                       record=f"image {image_id}")
            merged.file_of[image_id] = path
            merged.captions[image_id] = [caption for _, caption in sorted(items)]
    return merged


@dataclass
class Instances:
    """Instances files merged: image -> (width, height) and its file; category id -> name; image -> annotations."""

    images: dict[int, tuple[int, int]] = field(default_factory=dict)
    file_of: dict[int, Path] = field(default_factory=dict)
    categories: dict[int, str] = field(default_factory=dict)
    annotations: dict[int, list[dict]] = field(default_factory=dict)
    skipped: Skipped = field(default_factory=Skipped)

    def objects(self, image_id: int) -> set[str]:
        """Names of the categories annotated in the image."""
        return {self.categories[a["category_id"]] for a in self.annotations.get(image_id, [])}


def read_instances(paths: list[Path]) -> Instances:
    """Read and merge COCO instances files (categories must agree across files); validates every annotation
    (data/coco_segmentation.py: published quirks are counted in ``skipped``, the rest are errors)."""
    merged = Instances()
    annotation_file: dict[int, Path] = {}
    for path in paths:
        data = read_json(path, what="COCO instances file")
        images = _images(data, path)
        names: dict[int, str] = {}
        for i, entry in enumerate(_list(data, "categories", path)):
            rid = _rid(entry, "id", "category", i, "categories")
            require_fields(entry, ("id", "name"), path=path, record_id=rid)
            cid, name = _int(entry, "id", path, rid), entry["name"]
            if not isinstance(name, str) or not name.strip():
                raise GroundbenchError(f"category name must be a non-empty string, got {name!r}", path=path, record=rid)
            if cid in names or name in names.values():
                raise GroundbenchError(f"duplicate category id or name {name!r}", path=path, record=rid)
            if merged.categories.get(cid, name) != name:
                raise GroundbenchError(f"category named {merged.categories[cid]!r} in another instances file",
                                       path=path, record=rid)
            names[cid] = name
        for rid, entry in _annotations(data, path, ("id", "image_id", "category_id", "segmentation"), images):
            if entry["id"] in annotation_file:
                raise GroundbenchError(f"duplicate annotation id (also in {annotation_file[entry['id']].name})",
                                       path=path, record=rid)
            annotation_file[entry["id"]] = path
            if _int(entry, "category_id", path, rid) not in names:
                raise GroundbenchError(f"unknown category id {entry['category_id']}", path=path, record=rid)
            if entry.get("iscrowd", 0) not in (0, 1):
                raise GroundbenchError(f"iscrowd must be 0 or 1, got {entry['iscrowd']!r}", path=path, record=rid)
            segmentation = usable_segmentation(entry["segmentation"], images[entry["image_id"]], path, rid,
                                               merged.skipped)
            if segmentation is not None:
                merged.annotations.setdefault(entry["image_id"], []).append({**entry, "segmentation": segmentation})
        for image_id, size in images.items():
            if image_id in merged.file_of:
                raise GroundbenchError(f"image also listed in {merged.file_of[image_id].name}", path=path,
                                       record=f"image {image_id}")
            merged.images[image_id], merged.file_of[image_id] = size, path
        merged.categories.update(names)
    return merged


def read_split(root: Path, scheme: str) -> tuple[Path, dict[int, str]]:
    """(split file, image id -> train / val / test) for ``scheme``: robust, or karpathy / standard."""
    path = split_file(root, scheme)
    data = read_json(path, what="split file")
    out: dict[int, str] = {}
    if scheme == "robust":
        if not isinstance(data, dict):
            raise GroundbenchError("expected a JSON object with 'train_id', 'val_id', 'test_id' lists", path=path)
        entries = [(f"{key}[{i}]", e, split) for key, split in ROBUST_KEYS.items()
                   for i, e in enumerate(_list(data, key, path))]
        field_name = "img_id"
    else:
        entries = [(f"images[{i}]", e, None) for i, e in enumerate(_list(data, "images", path))]
        field_name = "cocoid"
    for where, entry, split in entries:
        rid = str(record_name(entry, field_name, where, field_name))
        require_fields(entry, (field_name,) if split else (field_name, "split"), path=path, record_id=rid)
        image_id = _int(entry, field_name, path, rid)
        if split is None:
            if entry["split"] not in KARPATHY_SPLITS:
                raise GroundbenchError(f"split {entry['split']!r} is not one of {', '.join(KARPATHY_SPLITS)}",
                                       path=path, record=rid)
            split = KARPATHY_SPLITS[entry["split"]]
        if image_id in out:
            raise GroundbenchError(f"image listed twice (already in {out[image_id]})", path=path, record=rid)
        out[image_id] = split
    return path, out


def split_images(assignment: dict[int, str], split_path: Path, captions: Captions,
                 instances: Instances) -> dict[str, list[int]]:
    """Sorted image ids per split; an image the split names must have captions (captions files or Karpathy
    sentences) and be in an instances file."""
    shipped = (f"; this is the shipped published split, used because the data root has no {ROBUST_FILE}: it "
               "needs the full COCO 2014 files, or put a split of your own in the root") if split_path == SHIPPED_ROBUST else ""
    for image_id in sorted(assignment):
        split, rid = assignment[image_id], f"image {image_id}"
        if image_id not in captions.file_of:
            raise GroundbenchError(f"{split} image {image_id} {captions.missing}{shipped}", path=split_path, record=rid)
        if not captions.captions[image_id]:
            raise GroundbenchError(f"image has no captions (the {split} split of {split_path.name} names it)",
                                   path=captions.file_of[image_id], record=rid)
        if image_id not in instances.images:
            raise GroundbenchError(f"{split} image {image_id} is in neither instances file "
                                   f"({', '.join(INSTANCE_FILES)}){shipped}", path=split_path, record=rid)
    ids = {split: sorted(i for i, s in assignment.items() if s == split) for split in SPLITS}
    if not ids["train"]:
        raise GroundbenchError("the split names no train images", path=split_path)
    return ids
