"""Per-item outcomes of one run on one split, and the paired comparison of two runs (``groundbench compare``).

Items are what the task's metrics average over, each with a stable id so two runs are aligned by id:
  VQA         questions (id: question_id): official accuracy, and "fully_correct" (official accuracy 1.0);
              grounding rows: the questions with a human map (id: question_id).
  captioning  images (id: image_id): CIDEr-D and CHAIR-s (0/1: the caption names an object not in the image);
              grounding rows: the visual-word occurrences of each image's first reference caption (id:
              "image_id:step"), as ``groundbench eval`` scores them.
The grounding values are Spearman's rho of gradient importance (Eq. 2) and of attention with the human
importance, per row (metrics/grounding.py); occlusion is not needed for them and is not computed. A row whose
rho is undefined (NaN) in either run is dropped from that metric and counted ("undefined").

McNemar's test needs a binary outcome per item. For VQA's soft accuracy the outcome is "fully correct": the
official accuracy is 1.0, i.e. the answer is one that enough annotators gave for the metric to count it as
entirely right (min(1, #humans / 3) = 1 on every leave-one-out subset: at least 4 of 10 annotators). This is
the official metric's own notion of a right answer, needs nothing but the per-question score (so results files
qualify too) and does not depend on how ties between human answers are broken, unlike "equals the most common
human answer"; the graded part of the metric is tested by the bootstrap on "accuracy". For captioning,
CHAIR-s is already 0/1 per image and is tested with McNemar.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tabulate import tabulate

from .errors import GroundbenchError
from .metrics.paired import mcnemar_exact, paired_bootstrap

FULLY_CORRECT = 1.0 - 1e-9  # official accuracy at or above this counts as fully correct (float slack)


@dataclass(frozen=True)
class ItemValues:
    """One metric's per-item values of one run: ids [N] (question ids, image ids, "image_id:step"), values
    [N] float64 (NaN = undefined). ``binary`` values are 0/1 and get McNemar's test; ``scale`` multiplies the
    means in the report (100: a share reported in %)."""

    ids: tuple
    values: np.ndarray
    direction: str = "higher"
    binary: bool = False
    scale: float = 1.0


def _series(ids, values, **kw) -> ItemValues:
    return ItemValues(tuple(ids), np.asarray(values, dtype=np.float64).ravel(), **kw)


# -- VQA ------------------------------------------------------------------------------------------------------
def accuracy_items(ids, scores) -> dict[str, ItemValues]:
    """"accuracy" (official, reported in %) and binary "fully_correct" from per-question scores [N] in [0, 1]."""
    scores = np.asarray(scores, dtype=np.float64)
    return {"accuracy": _series(ids, scores, scale=100.0),
            "fully_correct": _series(ids, scores >= FULLY_CORRECT, binary=True, scale=100.0)}


def vqa_grounding_items(model, store, split: str, device: str, *, batch_size: int = 256) -> dict[str, ItemValues]:
    """Per-question Spearman rho (gradient and, with attention, attention vs human) on ``split``'s questions
    with a human map, in split order; ids are question ids."""
    from .data.dataset import make_loader
    from .importance.attention import attention_importance
    from .importance.gradient import gradient_importance_and_output
    from .metrics.grounding import spearman

    ids, grad, attn = [], [], []
    model.eval()
    for batch in make_loader(store.dataset(split), batch_size, shuffle=False):
        if not bool(batch.has_human.any()):
            continue
        sub = batch.select(batch.has_human).to(device)
        mask = sub.mask.bool()
        alpha, output = gradient_importance_and_output(model, sub)
        grad.append(spearman(alpha.detach(), sub.human, mask)[0].cpu().numpy())
        attention = attention_importance(output, mask)
        if attention is not None:
            attn.append(spearman(attention.detach(), sub.human, mask)[0].cpu().numpy())
        ids.extend(int(q) for q in sub.question_ids)
    out = {"spearman_grad": _series(ids, np.concatenate(grad) if grad else [])}
    if attn and len(attn) == len(grad):
        out["spearman_attn"] = _series(ids, np.concatenate(attn))
    return out


def vqa_outcomes(model, store, split: str, device: str, *, grounding: bool = True) -> dict[str, ItemValues]:
    """Every VQA metric's per-item values of ``model`` on ``split`` (evaluate.predict + the grounding rows)."""
    from .evaluate import predict
    from .models.protocol import batch_inputs

    store.provide(batch_inputs(model))  # e.g. oracle-attention's oracle importance; else nothing
    predictions, scores, _, _ = predict(model, store, split, device, grounding=False)
    out = accuracy_items(list(predictions), scores)  # predictions are keyed in split order, like scores
    if grounding:
        out.update(vqa_grounding_items(model, store, split, device))
    return out


def vqa_results_outcomes(path: Path, store, split: str) -> dict[str, ItemValues]:
    """Accuracy items of an official VQA results file [{question_id, answer}] (every question of ``split``)."""
    from .results_file import score_results_file

    scores, _ = score_results_file(path, store, split)
    return accuracy_items([r["question_id"] for r in store.records(split)], scores)


# -- captioning -----------------------------------------------------------------------------------------------
def caption_items(store, split: str, captions: dict[int, str]) -> dict[str, ItemValues]:
    """Per-image CIDEr-D (PTB-tokenised as ``groundbench eval`` does; needs Java) and CHAIR-s (0/1) of one
    caption per image of ``split``; the idf of CIDEr-D comes from the references only, so two runs' per-image
    values are on the same scale."""
    from .evaluate_captions import EMPTY
    from .metrics.captions import caption_metrics
    from .metrics.chair import VisualWords, chair

    refs = store.references(split)
    ids = sorted(refs)
    gts = {i: refs[i] for i in ids}
    res = {i: captions[i] if captions[i].strip() else EMPTY for i in ids}
    cider = caption_metrics(gts, res, meteor=False)["cider"]["per_image"]
    words = VisualWords.from_mapping(store.visual_words, plurals=False)
    chair_s = chair(res, store.objects(split), words)["chair_s"]["per_image"]
    return {"cider": _series(ids, cider),
            "chair_s": _series(ids, chair_s, direction="lower", binary=True)}


def caption_grounding_items(model, store, split: str, device: str, *, batch_size: int = 64) -> dict[str, ItemValues]:
    """Per-row Spearman rho (gradient and attention vs the human mask) of the visual-word rows of every image's
    first reference caption (the rows of evaluate_captions.grounding_report); ids "image_id:step"."""
    from .data.caption_dataset import caption_loader
    from .importance.caption_rows import caption_attention_rows, caption_gradient_rows
    from .metrics.grounding import spearman

    ids, grad, attn = [], [], []
    model.eval()
    for batch in caption_loader(store.image_dataset(split), batch_size, shuffle=False):
        batch = batch.to(device)
        if batch.row_batch.numel() == 0:
            continue
        rows = batch.row_batch
        mask = batch.mask[rows].bool()
        alpha = caption_gradient_rows(model, batch)
        grad.append(spearman(alpha, batch.human, mask)[0].cpu().numpy())
        with torch.no_grad():
            out = model(batch.v, batch.boxes, batch.mask, batch.tokens[:, :-1])
        attention = caption_attention_rows(out.attention, batch)
        if attention is not None:
            attn.append(spearman(attention.detach(), batch.human, mask)[0].cpu().numpy())
        ids.extend(f"{batch.image_ids[b]}:{s}" for b, s in zip(rows.tolist(), batch.row_step.tolist()))
    out = {"spearman_grad": _series(ids, np.concatenate(grad) if grad else [])}
    if attn and len(attn) == len(grad):
        out["spearman_attn"] = _series(ids, np.concatenate(attn))
    return out


def caption_outcomes(model, store, split: str, device: str, *, grounding: bool = True) -> dict[str, ItemValues]:
    """Every captioning metric's per-item values of ``model`` on ``split`` (beam-search captions, as eval)."""
    from .evaluate_captions import generate

    out = caption_items(store, split, generate(model, store, split, device))
    if grounding:
        out.update(caption_grounding_items(model, store, split, device))
    return out


def caption_results_outcomes(path: Path, store, split: str) -> dict[str, ItemValues]:
    """Caption items of a COCO caption results file [{image_id, caption}] (one caption per image of ``split``)."""
    from .scoring.coco_files import read_caption_results

    images = sorted(store.references(split))
    return caption_items(store, split, read_caption_results(path, images, Path(store.root)))


# -- the comparison -------------------------------------------------------------------------------------------
def align(a: ItemValues, b: ItemValues, name: str) -> tuple[np.ndarray, np.ndarray, int]:
    """(a values [n], b values [n] in a's item order, #items dropped as undefined in either run)."""
    if len(a.ids) != len(b.ids) or set(a.ids) != set(b.ids):
        raise GroundbenchError(f"'{name}': the two runs were scored on different items ({len(a.ids)} vs "
                               f"{len(b.ids)}); compare runs on the same data and split")
    where = {item: k for k, item in enumerate(b.ids)}
    bv = b.values[[where[item] for item in a.ids]] if a.ids else b.values
    keep = np.isfinite(a.values) & np.isfinite(bv)
    return a.values[keep], bv[keep], int(np.count_nonzero(~keep))


def _scaled(value, scale: float):
    if value is None:
        return None
    return [v * scale for v in value] if isinstance(value, list) else value * scale


def compare_metric(a: ItemValues, b: ItemValues, name: str, *, n_boot: int, seed: int, alpha: float) -> dict:
    """One metric's comparison: {"a", "b", "difference" (B - A), "ci95", "p_value", "test", "n", "undefined",
    "significant", "better", "direction"} (+ "mcnemar" and "bootstrap_p_value" for binary outcomes)."""
    x, y, undefined = align(a, b, name)
    boot = paired_bootstrap(x, y, n_boot=n_boot, seed=seed)
    entry = {key: _scaled(boot[key], a.scale) for key in ("a", "b", "difference", "ci95")}
    entry.update(p_value=boot["p_value"], test="paired bootstrap", n=boot["n"], undefined=undefined,
                 direction=a.direction)
    if a.binary:
        exact = mcnemar_exact(x, y)
        entry.update(bootstrap_p_value=boot["p_value"], p_value=exact["p_value"], test="McNemar exact",
                     mcnemar={"a_only": exact["a_only"], "b_only": exact["b_only"], "p_value": exact["p_value"]})
    entry["significant"] = entry["p_value"] is not None and entry["p_value"] < alpha
    better = None
    if entry["significant"] and entry["difference"]:
        b_higher = entry["difference"] > 0
        better = "B" if b_higher == (a.direction == "higher") else "A"
    entry["better"] = better
    return entry


def compare_outcomes(a: dict[str, ItemValues], b: dict[str, ItemValues], *, n_boot: int = 10_000, seed: int = 0,
                     alpha: float = 0.05) -> dict[str, dict]:
    """{metric: compare_metric(...)} for every metric both runs have, in A's order."""
    return {name: compare_metric(a[name], b[name], name, n_boot=n_boot, seed=seed, alpha=alpha)
            for name in a if name in b}


def _number(value) -> str:
    if value is None:
        return "-"
    return f"{value:.1e}" if value and abs(value) < 1e-3 else f"{value:.3f}"


def render_comparison(report: dict) -> str:
    """The report's metrics as a table: metric, A, B, B - A, 95% CI, p, n, significant at alpha, test."""
    alpha = report["alpha"]
    rows = []
    for name, m in report["metrics"].items():
        ci = "-" if m["ci95"] is None else f"[{_number(m['ci95'][0])}, {_number(m['ci95'][1])}]"
        verdict = f"yes ({m['better']} better)" if m["significant"] and m["better"] else \
            "yes" if m["significant"] else "no"
        arrow = "↑" if m["direction"] == "higher" else "↓"
        n = f"{m['n']}" + (f" (+{m['undefined']} undefined)" if m["undefined"] else "")
        rows.append([f"{name} {arrow}", _number(m["a"]), _number(m["b"]), _number(m["difference"]), ci,
                     _number(m["p_value"]), n, verdict, m["test"]])
    return tabulate(rows, headers=["metric", "A", "B", "B − A", "95% CI", "p", "n", f"significant at {alpha}",
                                   "test"], tablefmt="github", disable_numparse=True)
