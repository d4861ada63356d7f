"""The RGB pixels of an image of a store: the synthetic worlds' rendered PNGs (re-rendered from scenes.json when a
PNG is gone), or a real image found under ``--images DIR`` by its COCO file name.

Both synthetic worlds keep what they drew: ``<world>/raw/images/{image_id}.png`` (data/synthetic/writer.py and
data/synthetic_captions/writer.py) beside ``raw/scenes.json``; a VQA store is the world folder itself, a
captioning store one of its split folders (``<world>/robust``), so the raw folder is looked up at both levels.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import GroundbenchError
from ..io import read_json

COCO_SETS = ("train2014", "val2014")
SUFFIXES = (".jpg", ".jpeg", ".png")


def coco_names(image_id: int) -> list[str]:
    """The file names an image may have: ``COCO_{train,val}2014_{id:012d}.jpg``, then ``{id}.jpg|.jpeg|.png``."""
    return [f"COCO_{s}_{int(image_id):012d}.jpg" for s in COCO_SETS] + [f"{int(image_id)}{s}" for s in SUFFIXES]


def find_image_file(directory: str | Path, image_id: int) -> Path:
    """The image's file under ``directory``: its COCO names directly in it, in ``train2014/`` / ``val2014/`` /
    ``images/``, else anywhere below it (the first in sorted order); a one-line error when there is none."""
    directory = Path(directory)
    if not directory.is_dir():
        raise GroundbenchError("--images must be a folder of images", path=directory)
    names = coco_names(image_id)
    for folder in (directory, *(directory / s for s in COCO_SETS), directory / "images"):
        for name in names:
            if (folder / name).is_file():
                return folder / name
    for name in names:
        found = sorted(p for p in directory.rglob(name) if p.is_file())
        if found:
            return found[0]
    raise GroundbenchError(f"no file for image {image_id} under this folder (looked for {names[0]}, {names[1]} "
                           f"or {names[2]})", path=directory)


def read_rgb(path: Path) -> np.ndarray:
    """image [H, W, 3] uint8 of an image file; a one-line error when it is not a readable image."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise GroundbenchError(f"not a readable image ({exc})", path=path) from None


def synthetic_raw_dir(store) -> Path | None:
    """The synthetic world's raw folder (``raw/`` holding world.json) of a store, or None for real data."""
    if not str(store.manifest.get("source", "")).startswith("synthetic"):
        return None
    root = Path(store.root)
    for raw in (root / "raw", root.parent / "raw"):
        if (raw / "world.json").is_file():
            return raw
    return None


def render_from_scenes(raw: Path, image_id: int) -> np.ndarray | None:
    """image [H, W, 3] uint8 re-rendered from ``raw/scenes.json`` (the renderer is deterministic), or None."""
    from ..data.synthetic.render import object_masks, render_image
    from ..data.synthetic.scenes import Scene

    path = raw / "scenes.json"
    if not path.is_file():
        return None
    for entry in read_json(path, what="scene list"):
        if isinstance(entry, dict) and entry.get("image_id") == int(image_id):
            scene = Scene.from_dict(entry)
            return render_image(scene, object_masks(scene))
    return None


def load_image(store, image_id: int, images_dir: str | Path | None = None) -> np.ndarray:
    """image [H, W, 3] uint8 of ``image_id``: from ``images_dir`` when given, else the synthetic world's own
    picture; real data without ``images_dir`` is a one-line error asking for ``--images DIR``."""
    if images_dir is not None:
        return read_rgb(find_image_file(images_dir, image_id))
    raw = synthetic_raw_dir(store)
    if raw is None:
        raise GroundbenchError("this data is not a synthetic world: pass --images DIR (a folder holding "
                               f"COCO_val2014_{int(image_id):012d}.jpg or {int(image_id)}.jpg)", path=store.root)
    png = raw / "images" / f"{int(image_id)}.png"
    if png.is_file():
        return read_rgb(png)
    image = render_from_scenes(raw, image_id)
    if image is None:
        raise GroundbenchError(f"the synthetic world has no picture of image {image_id} (no images/{image_id}.png "
                               "nor a scene to re-render)", path=raw)
    return image
