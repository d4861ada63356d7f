"""Score a model on the splits of a store: official VQA accuracy by answer type + grounding metrics."""
from __future__ import annotations

import sys
from typing import Iterable

import numpy as np
import torch
from tqdm import tqdm

from .data.dataset import make_loader
from .data.store import VQAStore
from .metrics.grounding_eval import GroundingAccumulator
from .metrics.stats import summarise
from .metrics.vqa import vqa_accuracy
from .models.protocol import extra_inputs

ANSWER_TYPES = {"yes/no": "accuracy_yes_no", "number": "accuracy_number", "other": "accuracy_other"}


def predict(model: torch.nn.Module, store: VQAStore, split: str, device: str, batch_size: int = 512,
            grounding: bool = True) -> tuple[dict[int, str], list[float], list[str], dict]:
    """Run ``model`` over ``split``: predictions, per-question official accuracy (in [0, 1]) and answer
    types (in split order), and the grounding metrics on questions with human maps (if ``grounding``)."""
    dataset = store.dataset(split)
    loader = make_loader(dataset, batch_size, shuffle=False)
    accumulator = GroundingAccumulator(model) if grounding else None
    predictions, scores, types = {}, [], []
    model.eval()
    for batch in tqdm(loader, file=sys.stderr, leave=False, desc=f"eval {split}", dynamic_ncols=True):
        batch = batch.to(device)
        with torch.no_grad():
            logits = model(batch.v, batch.boxes, batch.mask, batch.q, **extra_inputs(model, batch)).logits
            best = logits.argmax(1).tolist()
        for qid, index, answers, atype in zip(batch.question_ids, best, batch.answers, batch.answer_types):
            predictions[qid] = store.answers[index]
            scores.append(vqa_accuracy(store.answers[index], answers))
            types.append(atype)
        if accumulator is not None and bool(batch.has_human.any()):
            accumulator.process(batch)
    ground = accumulator.result() if accumulator is not None else {}
    return predictions, scores, types, ground


def accuracy_metrics(scores: Iterable[float], types: Iterable[str]) -> dict[str, dict]:
    """Official accuracy in %, overall and by answer type, with bootstrap 95% intervals and counts."""
    scores, types = np.asarray(list(scores), dtype=np.float64) * 100.0, np.asarray(list(types))
    out = {"accuracy": dict(summarise(scores), direction="higher")}
    for atype, name in ANSWER_TYPES.items():
        out[name] = dict(summarise(scores[types == atype]), direction="higher")
    return out


def evaluate(model: torch.nn.Module, store: VQAStore, splits: Iterable[str], device: str = "cpu",
             grounding: bool = True) -> dict:
    """Report: {split: {metric: {value, ci95, n, undefined, direction}}, ...} plus accuracy upper bounds."""
    report: dict = {"splits": {}, "upper_bound": {}}
    for split in splits:
        _, scores, types, ground = predict(model, store, split, device, grounding=grounding)
        report["splits"][split] = {**accuracy_metrics(scores, types), **ground}
        report["upper_bound"][split] = 100.0 * store.upper_bound(split)  # in %, like the accuracies
    return report


def flat_metrics(report: dict) -> dict[str, dict]:
    """{"<split>/<metric>": {...}} as result records store them."""
    return {f"{split}/{name}": value for split, metrics in report["splits"].items() for name, value in metrics.items()}
