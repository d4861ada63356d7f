"""``groundbench explain``: one question (VQA) or one visual word of an image's caption (captioning) through one or
two checkpoints (before / after HINT), drawn as the paper's Figure 3 / 4 (figures/draw.py).

Checkpoints are opened as ``groundbench eval`` opens them (loading.read_weights / build_from_weights, then the
data they were trained on, or ``--data``); the picture comes from the synthetic world or ``--images DIR``
(figures/images.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import GroundbenchError
from ..experiment import data_from_metadata
from ..io import check_writable
from ..loading import build_from_weights, read_weights
from .caption_view import explain_word
from .draw import draw_explanation
from .explanation import Explanation
from .images import load_image
from .vqa_view import explain_question

Echo = Callable[[str], None]
MAX_CHECKPOINTS = 2


@dataclass
class ExplainSpec:
    """One figure: 1-2 checkpoints, and either ``question_id`` (VQA) or ``image_id`` + ``word`` (captioning)."""

    checkpoints: list[Path]
    out: Path
    question_id: int | None = None
    image_id: int | None = None
    word: str | None = None
    images: Path | None = None
    data: Path | None = None
    labels: list[str] = field(default_factory=list)
    device: str = "cpu"


def check_spec(spec: ExplainSpec) -> None:
    """The options' combination, before any checkpoint is read: one-line errors."""
    if not 1 <= len(spec.checkpoints) <= MAX_CHECKPOINTS:
        raise GroundbenchError(f"give one or two --checkpoint (got {len(spec.checkpoints)})")
    if spec.labels and len(spec.labels) != len(spec.checkpoints):
        raise GroundbenchError(f"give one --label per --checkpoint ({len(spec.labels)} labels for "
                               f"{len(spec.checkpoints)} checkpoints)")
    if (spec.question_id is None) == (spec.image_id is None):
        raise GroundbenchError("give --question-id ID (VQA) or --image-id ID --word W (captioning)")
    if (spec.image_id is None) != (spec.word is None):
        raise GroundbenchError("captioning needs both --image-id and --word")
    if spec.out.suffix.lower() != ".png":
        raise GroundbenchError("--out must name a .png file", path=spec.out)
    if spec.images is not None and not spec.images.is_dir():
        raise GroundbenchError("--images must be a folder of images", path=spec.images)
    check_writable(spec.out)


def default_label(meta: dict, path: Path) -> str:
    """A row's label: the method and the run it came from (``hint · hint-s0``)."""
    run = path.name if path.is_dir() else f"{path.parent.name}/{path.name}"
    return f"{meta['method']['name']} · {run}"


def load_model(path: Path, device: str) -> tuple:
    """(model, metadata) of a checkpoint with metadata (ours, or an export beside its sidecar JSON), as
    loading.load_any_model reads it; a plain state dict without one is a one-line error."""
    tensors, meta, file = read_weights(Path(path))
    if meta is None:
        raise GroundbenchError("a plain state dict says nothing of its model, vocabulary or data: explain needs a "
                               "groundbench checkpoint, or an export beside its sidecar JSON", path=file)
    return build_from_weights(tensors, meta, file, device)


def _load(spec: ExplainSpec) -> list[tuple]:
    """(model, metadata, path) per checkpoint, all of one task (else a one-line error naming both)."""
    loaded = [(*load_model(path, spec.device), path) for path in spec.checkpoints]
    tasks = [meta.get("task", "vqa") for _, meta, _ in loaded]
    if len(set(tasks)) > 1:
        raise GroundbenchError("checkpoints of different tasks: " + ", ".join(
            f"{path} is {task}" for (_, _, path), task in zip(loaded, tasks)))
    wants = "vqa" if spec.question_id is not None else "captioning"
    if tasks[0] != wants:
        ask = "--question-id ID" if tasks[0] == "vqa" else "--image-id ID --word W"
        raise GroundbenchError(f"a {tasks[0]} checkpoint: explain it with {ask}", path=loaded[0][2])
    return loaded


def explain_one(model, store, spec: ExplainSpec) -> tuple[Explanation, int]:
    """(Explanation, image id) of the spec's question or word under one model."""
    if spec.question_id is not None:
        return explain_question(model, store, spec.question_id, spec.device)
    return explain_word(model, store, spec.image_id, spec.word, spec.device), int(spec.image_id)


def run_explain(spec: ExplainSpec, cache_root: Path, echo: Echo) -> Path:
    """Write the figure of ``spec`` to ``spec.out``; returns the path."""
    check_spec(spec)
    rows, image = [], None
    for i, (model, meta, path) in enumerate(_load(spec)):
        store = data_from_metadata(meta, spec.data, cache_root, echo, path=path)
        exp, image_id = explain_one(model, store, spec)
        if image is None:
            image = load_image(store, image_id, spec.images)
        rows.append((spec.labels[i] if spec.labels else default_label(meta, Path(path)), exp))
    kind = "vqa" if spec.question_id is not None else "captioning"
    return draw_explanation(image, rows, kind, spec.out)
