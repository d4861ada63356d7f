"""The oracle: answers every question from the true attributes of the objects it refers to.

It parses the question text (the six templates of questions.py) and reads scenes.json, so it checks
the world end to end: if it is not right on every question, the answers are not determined by the image.
"""
from __future__ import annotations

import re
from pathlib import Path

from ...errors import GroundbenchError
from ...io import read_json, require_fields
from ...metrics.vqa import vqa_accuracy
from .params import SHAPES, plural
from .scenes import Scene

_PLURAL_TO_SHAPE = {plural(s): s for s in SHAPES}
_TEMPLATES = (
    (re.compile(r"^what color is the (\w+)\?$"), "color"),
    (re.compile(r"^what shape is the (\w+) object\?$"), "shape"),
    (re.compile(r"^what size is the (\w+)\?$"), "size"),
    (re.compile(r"^how many (\w+) are there\?$"), "count"),
    (re.compile(r"^is the (\w+) (\w+)\?$"), "is_color"),
    (re.compile(r"^is there a (\w+) (\w+)\?$"), "exists"),
)


def _unique(objects: list, what: str) -> object:
    if len(objects) != 1:
        raise ValueError(f"{len(objects)} objects match '{what}' (the question needs exactly one)")
    return objects[0]


def oracle_answer(question: str, scene: Scene) -> str:
    """The true answer of ``question`` about ``scene``; ValueError if the question is not one of ours."""
    for pattern, family in _TEMPLATES:
        match = pattern.match(question)
        if not match:
            continue
        if family == "color":
            return _unique(scene.with_shape(match[1]), match[1]).color
        if family == "shape":
            return _unique(scene.with_color(match[1]), match[1]).shape
        if family == "size":
            return _unique(scene.with_shape(match[1]), match[1]).size
        if family == "count":
            return str(len(scene.with_shape(_PLURAL_TO_SHAPE[match[1]])))
        if family == "is_color":
            return "yes" if _unique(scene.with_shape(match[1]), match[1]).color == match[2] else "no"
        found = any(o.color == match[1] and o.shape == match[2] for o in scene.objects)
        return "yes" if found else "no"
    raise ValueError(f"not a question of the synthetic world: {question!r}")


def load_scenes(raw_dir: str | Path) -> dict[int, Scene]:
    """scenes.json -> image_id -> Scene."""
    path = Path(raw_dir) / "scenes.json"
    scenes = {}
    for i, record in enumerate(read_json(path, what="scene file")):
        require_fields(record, ("image_id", "width", "height", "objects"), path=path, record_id=i)
        scenes[int(record["image_id"])] = Scene.from_dict(record)
    return scenes


def oracle_accuracy(raw_dir: str | Path, split: str = "test") -> float:
    """Mean official VQA accuracy of the oracle on vqacp_v2_{split} (1.0 when the world is sound)."""
    raw_dir = Path(raw_dir)
    scenes = load_scenes(raw_dir)
    q_path = raw_dir / f"vqacp_v2_{split}_questions.json"
    a_path = raw_dir / f"vqacp_v2_{split}_annotations.json"
    questions = {q["question_id"]: q for q in read_json(q_path, what="question file")}
    scores = []
    for ann in read_json(a_path, what="annotation file"):
        require_fields(ann, ("question_id", "answers"), path=a_path, record_id=ann.get("question_id"))
        q = questions.get(ann["question_id"])
        if q is None:
            raise GroundbenchError("annotation has no question", path=q_path, record=ann["question_id"])
        try:
            pred = oracle_answer(q["question"], scenes[q["image_id"]])
        except (ValueError, KeyError) as exc:
            raise GroundbenchError(f"oracle cannot answer: {exc}", path=q_path, record=q["question_id"]) from None
        scores.append(vqa_accuracy(pred, [a["answer"] for a in ann["answers"]]))
    return sum(scores) / max(len(scores), 1)
