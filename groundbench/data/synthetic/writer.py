"""Write the world's raw root in the official formats: VQA-CP v2 JSON, bottom-up TSV, VQA-HAT PNGs.

raw/vqacp_v2_{train,test}_{questions,annotations}.json, raw/trainval_36/synth_trainval_36.tsv,
raw/vqahat_train/{qid}_1.png, raw/vqahat_val/{qid}_{1..n}.png, raw/images/{image_id}.png,
raw/scenes.json, raw/relevant_objects.json (question id -> object indices), raw/world.json
(version and parameters). The root is built in a temporary folder and renamed into place.
With a ``feature_dtype`` (a large world: data/feature_npy.py) the features go to raw/features/*.npy in the
store's layout, image by image through memory maps, instead of the TSV; world.json then says so ("features").
"""
from __future__ import annotations

import contextlib
from collections import defaultdict
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from PIL import Image
from tqdm import tqdm

from ...io import atomic_open, write_json
from ..feature_npy import FEATURES_DIR, NpyFeatureWriter
from ..features import format_tsv_row
from ..splits import in_val_holdout
from ..world_cache import write_folder
from .hat import gets_train_map, hat_map
from .params import WORLD_VERSION, WorldParams
from .proposals import attribute_embeddings, image_features, propose_boxes
from .questions import Question, candidate_questions, human_answers
from .render import object_masks, render_image
from .resplit import TEST, TRAIN, resplit
from .scenes import Scene, generate_scene, image_ids

TSV_PATH = "trainval_36/synth_trainval_36.tsv"
PNG_LEVEL = 1


def plan_world(params: WorldParams) -> tuple[dict[int, Scene], list[tuple[Question, str]]]:
    """Scenes of every image and the kept (question, split) pairs: everything but pixels and features."""
    scenes = {i: generate_scene(i, params) for i in image_ids(params)}
    candidates = {i: candidate_questions(scene, params) for i, scene in scenes.items()}
    return scenes, resplit(candidates, params)


def coco_split(image_id: int) -> str:
    """The COCO split an image is said to come from (VQA-CP mixes both): every third image is val2014."""
    return "val2014" if image_id % 3 == 0 else "train2014"


def question_record(q: Question) -> dict:
    return {"image_id": q.image_id, "question": q.text, "question_id": q.question_id,
            "coco_split": coco_split(q.image_id)}


def annotation_record(q: Question, params: WorldParams) -> dict:
    return {"question_type": q.question_type, "multiple_choice_answer": q.answer, "answers": human_answers(q, params),
            "image_id": q.image_id, "answer_type": q.answer_type, "question_id": q.question_id}


def map_files(q: Question, split: str, params: WorldParams) -> list[tuple[str, int]]:
    """(relative path, annotator) of every map this question gets: val (held-out train) and test questions
    get hat_annotators maps in vqahat_val/; other train questions one map in vqahat_train/ if drawn."""
    if split == TEST or in_val_holdout(q.image_id):
        return [(f"vqahat_val/{q.question_id}_{a}.png", a) for a in range(1, params.hat_annotators + 1)]
    if gets_train_map(q.question_id, params):
        return [(f"vqahat_train/{q.question_id}_1.png", 1)]
    return []


def _save_png(array: np.ndarray, path: Path) -> None:
    Image.fromarray(array).save(path, compress_level=PNG_LEVEL)


def write_raw(raw_dir: Path, params: WorldParams, *, progress: bool = True, feature_dtype: str | None = None) -> Path:
    """Generate the world and write ``raw_dir`` (replaced as a whole, only once complete); ``feature_dtype``
    None: features in the bottom-up TSV (float32), else raw/features/*.npy of that dtype."""
    return write_folder(raw_dir, lambda tmp: _write_into(tmp, params, progress, feature_dtype))


def world_stamp(params: WorldParams, feature_dtype: str | None = None) -> dict:
    """world.json: version and parameters, plus the feature layout when it is not the TSV."""
    stamp = {"world_version": WORLD_VERSION, "params": params.to_dict()}
    return stamp if feature_dtype is None else {**stamp, "features": {"format": "npy", "dtype": feature_dtype}}


@contextlib.contextmanager
def _feature_sink(root: Path, params: WorldParams, n_images: int,
                  feature_dtype: str | None) -> Iterator[Callable[..., None]]:
    """``add(image_id, w, h, boxes, features)`` into the TSV (feature_dtype None) or the npy arrays."""
    if feature_dtype is None:
        with atomic_open(root / TSV_PATH, "w", encoding="ascii", newline="\n") as tsv:
            yield lambda *row: tsv.write(format_tsv_row(*row))
    else:
        with NpyFeatureWriter(root / FEATURES_DIR, n_images, params.n_proposals, params.feature_dim,
                              feature_dtype) as writer:
            yield writer.add


def _write_into(root: Path, params: WorldParams, progress: bool, feature_dtype: str | None = None) -> None:
    scenes, kept = plan_world(params)
    by_image: dict[int, list[tuple[Question, str]]] = defaultdict(list)
    for q, split in kept:
        by_image[q.image_id].append((q, split))
    for folder in ("images", "vqahat_train", "vqahat_val") + (("trainval_36",) if feature_dtype is None else ()):
        (root / folder).mkdir()
    embeddings = attribute_embeddings(params)
    with _feature_sink(root, params, len(scenes), feature_dtype) as add_features:
        for image_id in tqdm(sorted(scenes), desc="synthetic world", unit="img", disable=not progress):
            scene = scenes[image_id]
            masks = object_masks(scene)
            _save_png(render_image(scene, masks), root / "images" / f"{image_id}.png")
            boxes = propose_boxes(scene, masks, params)
            feats = image_features(scene, masks, boxes, embeddings, params)
            add_features(image_id, scene.width, scene.height, boxes, feats)
            for q, split in by_image.get(image_id, []):
                for rel, annotator in map_files(q, split, params):
                    _save_png(hat_map(masks, q.relevant, params, q.question_id, annotator), root / rel)
    for split in (TRAIN, TEST):
        chosen = [q for q, s in kept if s == split]
        write_json(root / f"vqacp_v2_{split}_questions.json", [question_record(q) for q in chosen], indent=None)
        write_json(root / f"vqacp_v2_{split}_annotations.json", [annotation_record(q, params) for q in chosen],
                   indent=None)
    write_json(root / "scenes.json", [scenes[i].to_dict() for i in sorted(scenes)], indent=None)
    write_json(root / "relevant_objects.json", {str(q.question_id): list(q.relevant) for q, _ in kept}, indent=None)
    write_json(root / "world.json", world_stamp(params, feature_dtype))
