"""Write the captioning world's raw root in the official COCO formats (the spec's "Raw data formats").

raw/captions_{train,val}2014.json (COCO captions), raw/instances_{train,val}2014.json (COCO instances: one
annotation per object, compressed RLE, or a polygon for a polygon_fraction share), raw/split_robust_coco.json
(Lu et al. 2018 layout), raw/dataset_coco.json (Karpathy layout), raw/visual_words.txt,
raw/trainval_36/synth_captions_36.tsv (bottom-up TSV), raw/images/{image_id}.png, raw/scenes.json and
raw/world.json (version, parameters, held-out pairs). The root is built in a temporary folder beside it and
renamed into place, like groundbench/data/synthetic/writer.py.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as mask_api
from tqdm import tqdm

from ...io import atomic_open, write_json
from ..caption_text import tokenize_caption
from ..features import format_tsv_row
from ..synthetic.params import SHAPES
from ..synthetic.proposals import attribute_embeddings, image_features, propose_boxes
from ..synthetic.render import _outline, mask_boxes, object_masks, render_image
from ..synthetic.scenes import Scene, SceneObject
from ..synthetic.writer import coco_split
from ..world_cache import write_folder
from .captions import image_captions, visual_words_text
from .params import CAPTION_WORLD_VERSION, CaptionWorldParams, stream, vqa_world_params
from .scenes import generate_scenes
from .split import Pair, karpathy_split, partner_rates, robust_split

TSV_PATH = "trainval_36/synth_captions_36.tsv"
COCO_SETS = ("train2014", "val2014")
CATEGORIES = [{"id": i + 1, "name": s, "supercategory": "shape"} for i, s in enumerate(SHAPES)]
CIRCLE_SIDES = 24
PNG_LEVEL = 1


@dataclass
class CaptionWorldPlan:
    """Everything but pixels and features: scenes, captions and both splits."""

    scenes: dict[int, Scene]
    captions: dict[int, list[str]]
    robust: dict[int, str]
    heldout: list[Pair]
    karpathy: dict[int, str]


def plan_caption_world(params: CaptionWorldParams) -> CaptionWorldPlan:
    scenes = generate_scenes(params)
    captions = {i: image_captions(scene, params) for i, scene in scenes.items()}
    robust, heldout = robust_split(scenes, params)
    return CaptionWorldPlan(scenes, captions, robust, heldout, karpathy_split(sorted(scenes), params))


def polygon(obj: SceneObject) -> list[float]:
    """The shape outline as one COCO polygon [x1, y1, x2, y2, ...] (a CIRCLE_SIDES-gon for a circle).

    Vertices are the renderer's own; pycocotools rasterises a little inside PIL's fill (PIL includes the
    boundary pixels), so the polygon's mask covers most, not all, of the rendered object.
    """
    if obj.shape == "circle":
        points = [(obj.radius * math.cos(2 * math.pi * k / CIRCLE_SIDES),
                   obj.radius * math.sin(2 * math.pi * k / CIRCLE_SIDES)) for k in range(CIRCLE_SIDES)]
    else:
        points = _outline(obj.shape, obj.radius)
    return [round(v, 2) for dx, dy in points for v in (obj.x + dx, obj.y + dy)]


def segmentation(obj: SceneObject, mask: np.ndarray, as_polygon: bool) -> tuple[list | dict, float]:
    """(COCO segmentation, its area in pixels): polygons, or the rendered mask [H, W] as compressed RLE."""
    height, width = mask.shape
    if as_polygon:
        seg: list | dict = [polygon(obj)]
        area = float(mask_api.area(mask_api.merge(mask_api.frPyObjects(seg, height, width))))
        return seg, area
    rle = mask_api.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [height, width], "counts": rle["counts"].decode("ascii")}, float(mask.sum())


def image_record(scene: Scene) -> dict:
    return {"id": scene.image_id, "width": scene.width, "height": scene.height, "file_name": f"{scene.image_id}.png"}


def instance_records(scene: Scene, masks: np.ndarray, params: CaptionWorldParams, first_id: int) -> list[dict]:
    """One COCO instance annotation per object (ids from first_id); iscrowd 0, bbox [x, y, w, h]."""
    draws = stream(params, "polygons", scene.image_id).random(len(scene.objects))
    boxes = mask_boxes(masks) if len(scene.objects) else np.zeros((0, 4))
    out = []
    for k, (obj, mask) in enumerate(zip(scene.objects, masks)):
        seg, area = segmentation(obj, mask, bool(draws[k] < params.polygon_fraction))
        x1, y1, x2, y2 = (float(v) for v in boxes[k])
        out.append({"id": first_id + k, "image_id": scene.image_id, "category_id": SHAPES.index(obj.shape) + 1,
                    "segmentation": seg, "area": area, "bbox": [x1, y1, x2 - x1, y2 - y1], "iscrowd": 0})
    return out


def karpathy_file(plan: CaptionWorldPlan) -> dict:
    """dataset_coco.json: one entry per image with its split and tokenised sentences."""
    images, sent_id = [], 0
    for img_index, image_id in enumerate(sorted(plan.scenes)):
        sentences = []
        for raw in plan.captions[image_id]:
            sentences.append({"tokens": tokenize_caption(raw), "raw": raw, "imgid": img_index, "sentid": sent_id})
            sent_id += 1
        images.append({"filepath": coco_split(image_id), "filename": f"{image_id}.png", "imgid": img_index,
                       "split": plan.karpathy[image_id], "sentids": [s["sentid"] for s in sentences],
                       "cocoid": image_id, "sentences": sentences})
    return {"images": images, "dataset": "coco"}


def robust_file(plan: CaptionWorldPlan) -> dict:
    """split_robust_coco.json: {"train_id" | "val_id" | "test_id": [{"img_id"}]}."""
    return {f"{split}_id": [{"img_id": i} for i in sorted(plan.robust) if plan.robust[i] == split]
            for split in ("train", "val", "test")}


def world_record(plan: CaptionWorldPlan, params: CaptionWorldParams) -> dict:
    """world.json: the stamp (version, parameters) plus the held-out pairs and split sizes."""
    sizes = {"robust": {s: sum(v == s for v in plan.robust.values()) for s in ("train", "val", "test")},
             "standard": {s: sum(v == s for v in plan.karpathy.values()) for s in ("train", "restval", "val", "test")}}
    train = sorted(i for i, s in plan.robust.items() if s == "train")
    return {"world_version": CAPTION_WORLD_VERSION, "params": params.to_dict(),
            "heldout_pairs": [list(p) for p in plan.heldout], "splits": sizes,
            "train_partner_rates": {k: round(v, 4) for k, v in partner_rates(plan.scenes, train).items()}}


def write_caption_raw(raw_dir: Path, params: CaptionWorldParams, *, progress: bool = True) -> Path:
    """Generate the world and write ``raw_dir`` (replaced as a whole, only once complete)."""
    return write_folder(raw_dir, lambda tmp: _write_into(tmp, params, progress))


def _write_into(root: Path, params: CaptionWorldParams, progress: bool) -> None:
    plan = plan_caption_world(params)
    vqa_params = vqa_world_params(params)
    embeddings = attribute_embeddings(vqa_params)
    images = {s: [] for s in COCO_SETS}
    instances: dict[str, list[dict]] = {s: [] for s in COCO_SETS}
    captions: dict[str, list[dict]] = {s: [] for s in COCO_SETS}
    (root / "images").mkdir()
    ann_id = caption_id = 1
    with atomic_open(root / TSV_PATH, "w", encoding="ascii", newline="\n") as tsv:
        for image_id in tqdm(sorted(plan.scenes), desc="synthetic captions", unit="img", disable=not progress):
            scene, coco_set = plan.scenes[image_id], coco_split(image_id)
            masks = object_masks(scene)
            Image.fromarray(render_image(scene, masks)).save(root / "images" / f"{image_id}.png",
                                                             compress_level=PNG_LEVEL)
            boxes = propose_boxes(scene, masks, vqa_params)
            feats = image_features(scene, masks, boxes, embeddings, vqa_params)
            tsv.write(format_tsv_row(image_id, scene.width, scene.height, boxes, feats))
            images[coco_set].append(image_record(scene))
            records = instance_records(scene, masks, params, ann_id)
            instances[coco_set].extend(records)
            ann_id += len(records)
            for text in plan.captions[image_id]:
                captions[coco_set].append({"id": caption_id, "image_id": image_id, "caption": text})
                caption_id += 1
    info = {"description": f"groundbench synthetic captioning world {CAPTION_WORLD_VERSION}", "version": "1.0"}
    for coco_set in COCO_SETS:
        write_json(root / f"captions_{coco_set}.json",
                   {"info": info, "images": images[coco_set], "annotations": captions[coco_set]}, indent=None)
        write_json(root / f"instances_{coco_set}.json",
                   {"info": info, "images": images[coco_set], "annotations": instances[coco_set],
                    "categories": CATEGORIES}, indent=None)
    write_json(root / "split_robust_coco.json", robust_file(plan), indent=None)
    write_json(root / "dataset_coco.json", karpathy_file(plan), indent=None)
    with atomic_open(root / "visual_words.txt", "w", encoding="utf-8", newline="\n") as handle:
        handle.write(visual_words_text())
    write_json(root / "scenes.json", [plan.scenes[i].to_dict() for i in sorted(plan.scenes)], indent=None)
    write_json(root / "world.json", world_record(plan, params))
