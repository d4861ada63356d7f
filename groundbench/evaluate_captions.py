"""Score a captioner on the splits of a caption store: COCO caption metrics, CHAIR and grounding per visual word.

Caption metrics are computed on beam-search captions (beam 3 by default) against every reference caption of
the image with pycocoevalcap's scorers (PTB tokenizer and METEOR need Java); CHAIR on the same captions with
the store's visual-word list; grounding on every visual-word occurrence of the reference captions whose
category has a human mask (teacher forcing: the word's log-probability at its ground-truth step).
"""
from __future__ import annotations

import sys
from collections import defaultdict
from typing import Iterable

import numpy as np
import torch
from tqdm import tqdm

from .importance.caption_rows import caption_attention_rows, caption_gradient_rows, caption_occlusion_rows
from .metrics.grounding_eval import GroundingAccumulator
from .metrics.stats import summarise

BEAM_SIZE = 3
EMPTY = "<empty>"  # stands for an empty generated caption in the scorers (they reject empty strings)
TOP_WORDS = 8  # per-category breakdown of spearman_grad for this many most frequent visual-word categories


def generate(model, store, split: str, device: str, *, beam_size: int = BEAM_SIZE,
             batch_size: int = 128) -> dict[int, str]:
    """One caption per image of ``split``: {image_id: caption}; beam_size 1 is greedy decoding."""
    from .data.caption_dataset import caption_loader
    from .models.decoding import beam_search, greedy_decode
    from .models.stepwise import stepwise

    loader = caption_loader(store.image_dataset(split), batch_size, shuffle=False)
    captions: dict[int, str] = {}
    model.eval()
    decoder = stepwise(model)
    with torch.no_grad():
        for batch in tqdm(loader, file=sys.stderr, leave=False, desc=f"captions {split}", dynamic_ncols=True):
            batch = batch.to(device)
            if beam_size == 1:
                words = greedy_decode(decoder, batch.v, batch.boxes, batch.mask)
            else:
                words = beam_search(decoder, batch.v, batch.boxes, batch.mask, beam_size=beam_size)
            for image_id, ids in zip(batch.image_ids, words.tolist()):
                captions[int(image_id)] = store.decode(ids)
    return captions


def val_cider(model, store, device: str) -> float:
    """Selection score: CIDEr-D of greedy val captions on the store's own tokens, in-process (no Java)."""
    from .metrics.captions import cider_d

    res = generate(model, store, "val", device, beam_size=1)
    gts = {r["image_id"]: [" ".join(t) for t in r["tokens"]] for r in store.records("val")}
    score, _ = cider_d(gts, {i: res[i] if res[i].strip() else EMPTY for i in gts})
    return float(score)


def _entry(values, direction: str, **extra) -> dict:
    """A metric entry {value, ci95, n, undefined, direction} from per-image values (bootstrap 95% CI)."""
    entry = summarise(np.asarray(values, dtype=np.float64))
    entry.update(direction=direction, **extra)
    return entry


def chair_i_entry(hallucinated: np.ndarray, mentions: np.ndarray, *, n_boot: int = 1000, seed: int = 0) -> dict:
    """CHAIR-i (a ratio of sums over images) with a bootstrap 95% interval resampling images; None when no
    caption mentions an object. hallucinated, mentions: [N] counts per image."""
    hallucinated, mentions = np.asarray(hallucinated, np.float64), np.asarray(mentions, np.float64)
    n, total = len(mentions), float(mentions.sum())
    if total == 0:
        return {"value": None, "ci95": None, "n": n, "undefined": n, "direction": "lower"}
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    num, den = hallucinated[idx].sum(1), mentions[idx].sum(1)
    ratios = num[den > 0] / den[den > 0]
    low, high = np.percentile(ratios, [2.5, 97.5])
    return {"value": float(hallucinated.sum() / total), "ci95": [float(low), float(high)], "n": n,
            "undefined": int((mentions == 0).sum()), "direction": "lower"}


def caption_report(store, split: str, captions: dict[int, str]) -> dict[str, dict]:
    """Caption metrics (CIDEr-D, BLEU-1..4, METEOR, ROUGE-L) and CHAIR-i / CHAIR-s of ``captions``."""
    from .metrics.captions import caption_metrics
    from .metrics.chair import VisualWords, chair

    refs = store.references(split)
    gts = {i: refs[i] for i in sorted(refs)}
    # an empty caption (the model said <eos> first) is scored as the placeholder EMPTY: it matches nothing
    res = {i: captions[i] if captions[i].strip() else EMPTY for i in gts}
    out: dict[str, dict] = {}
    for name, m in caption_metrics(gts, res).items():
        if m.get("per_image") is not None:
            out[name] = _entry(m["per_image"], "lower" if name.startswith("chair") else "higher")
            out[name]["value"] = float(m["value"])  # the corpus value as pycocoevalcap reports it
        else:
            out[name] = {"value": float(m["value"]), "ci95": None, "n": len(gts), "undefined": 0,
                         "direction": "higher"}
    words = VisualWords.from_mapping(store.visual_words, plurals=False)  # the map holds its plurals
    hall = chair(res, store.objects(split), words)
    out["chair_i"] = chair_i_entry(hall["chair_i"]["per_image"], hall["chair_i"]["mentions_per_image"])
    out["chair_s"] = _entry(hall["chair_s"]["per_image"], "lower")
    return out


def grounding_report(model, store, split: str, device: str, *, batch_size: int = 64) -> dict[str, dict | None]:
    """Grounding metrics over the visual-word rows of the FIRST reference caption of every image of ``split``
    (+ ``spearman_grad@<category>`` for the most frequent categories). One caption per image keeps
    occlusion (K teacher-forced passes per row) affordable on a CPU and weighs every image once."""
    from .data.caption_dataset import caption_loader

    accumulator = GroundingAccumulator(model)
    categories: list[int] = []
    loader = caption_loader(store.image_dataset(split), batch_size, shuffle=False)
    model.eval()
    for batch in tqdm(loader, file=sys.stderr, leave=False, desc=f"grounding {split}", dynamic_ncols=True):
        batch = batch.to(device)
        if batch.row_batch.numel() == 0:
            continue
        alpha = caption_gradient_rows(model, batch)
        with torch.no_grad():
            out = model(batch.v, batch.boxes, batch.mask, batch.tokens[:, :-1])
        predicted = out.logits[batch.row_batch, batch.row_step].argmax(-1)
        occlusion = caption_occlusion_rows(model, batch)
        rows = batch.row_batch
        accumulator.add_rows(alpha=alpha, attention=caption_attention_rows(out.attention, batch), occlusion=occlusion,
                             human=batch.human, mask=batch.mask[rows], boxes=batch.boxes[rows],
                             image_size=batch.image_size[rows], hat_mask=batch.hat_mask,
                             correct=predicted == batch.row_word)
        categories.extend(batch.row_category.tolist())
    report = accumulator.result()
    rho = accumulator.per_question()["spearman_grad"]
    by_category: dict[int, list[float]] = defaultdict(list)
    for category, value in zip(categories, rho.tolist()):
        by_category[category].append(value)
    frequent = sorted(by_category, key=lambda c: (-len(by_category[c]), c))[:TOP_WORDS]
    for category in frequent:
        name = store.categories[category].replace(" ", "_")
        report[f"spearman_grad@{name}"] = _entry(by_category[category], "higher")
    return report


def evaluate_captions(model, store, splits: Iterable[str], device: str = "cpu", grounding: bool = True,
                      beam_size: int = BEAM_SIZE) -> dict:
    """Report: {"splits": {split: {metric: {value, ci95, n, undefined, direction}}}, "captions": {...}}."""
    from .metrics.captions import require_java

    require_java("the PTB tokenizer and METEOR of `groundbench eval` on captions")
    report: dict = {"splits": {}, "captions": {}, "beam_size": beam_size}
    for split in splits:
        captions = generate(model, store, split, device, beam_size=beam_size)
        metrics = caption_report(store, split, captions)
        if grounding:
            metrics.update(grounding_report(model, store, split, device))
        report["splits"][split] = metrics
        report["captions"][split] = [{"image_id": i, "caption": c} for i, c in sorted(captions.items())]
        report.setdefault("empty_captions", {})[split] = sum(not c.strip() for c in captions.values())
    return report
