"""COCO caption metrics and CHAIR of a caption results file (the files are described in ``coco_files``).

* CIDEr-D, BLEU-1..4, METEOR, ROUGE-L: ``metrics/captions.caption_metrics`` (pycocoevalcap's PTB tokenizer
  and scorers, as the COCO caption evaluation; Java needed). SPICE is not run.
* CHAIR-i / CHAIR-s (Rohrbach et al. 2018, Sec. 3): ``metrics/chair.chair`` with a visual-word list (default:
  CHAIR's COCO synonym list, ``data/lists/chair_synonyms.txt``). An image's objects are, as in the reference
  code (LisaAnne/Hallucination ``utils/chair.py``), the categories of its instance annotations (``--instances``;
  each category name is looked up as a visual word) plus the categories its reference captions mention.
  Without instances the objects come from the reference captions only, which the report states.
Every image of the annotations must have exactly one result caption (the coco-caption tool would score the
images of the results file only; a partial file is refused here rather than scored on a subset).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..metrics.captions import caption_metrics, require_java
from ..metrics.chair import VisualWords, chair, find_objects, tokenize
from ..metrics.stats import summarise
from .coco_files import read_caption_results, read_instance_categories, read_references

DEFAULT_WORDS = Path(__file__).resolve().parent.parent / "data" / "lists" / "chair_synonyms.txt"
FROM_BOTH = "instance annotations and reference captions"
FROM_CAPTIONS = "reference captions only (no --instances given)"


def image_objects(references: dict[int, list[str]], instances: dict[int, set[str]] | None,
                  words: VisualWords) -> tuple[dict[int, set[str]], list[str]]:
    """({image_id: visual-word categories present}, instance category names that are no visual word).

    Present = the categories the reference captions mention (find_objects) plus those of the instance
    annotations, each instance category name mapped through the word list (the reference's synonym lookup).
    """
    unlisted: set[str] = set()
    objects: dict[int, set[str]] = {}
    for image_id, refs in references.items():
        present = {category for ref in refs for _, category in find_objects(tokenize(ref), words)}
        for name in (instances or {}).get(image_id, ()):
            category = words.words.get(" ".join(tokenize(name)))
            if category is None:
                unlisted.add(name)
            else:
                present.add(category)
        objects[image_id] = present
    return objects, sorted(unlisted)


def _entry(values, direction: str, value: float | None = None) -> dict:
    """{value, ci95, n, undefined, direction} from per-image values [N] (metrics/stats.summarise); ``value``
    replaces the mean when the metric's corpus value is not the mean of its per-image values."""
    entry = summarise(np.asarray(values, dtype=np.float64))
    if value is not None:
        entry["value"] = float(value)
    entry["direction"] = direction
    return entry


def score_captions(annotations: str | Path, results: str | Path, *, instances: str | Path | None = None,
                   words: str | Path | None = None) -> dict:
    """The report: input paths, the word list, where the objects come from, CHAIR counts and ``metrics``
    {name: {"value", "ci95" (None for BLEU, a corpus statistic), "n", "undefined", "direction"}} with the
    caption metrics on pycocoevalcap's scale (CIDEr-D x10, the others 0..1) and CHAIR-i / CHAIR-s in 0..1."""
    from ..evaluate_captions import chair_i_entry

    annotations, results = Path(annotations), Path(results)
    words_path = Path(words) if words is not None else DEFAULT_WORDS
    vocabulary = VisualWords.from_file(words_path)
    references = read_references(annotations)
    images = list(references)
    captions = read_caption_results(results, images, annotations)
    found = read_instance_categories(instances, images) if instances is not None else None
    objects, unlisted = image_objects(references, found, vocabulary)
    require_java("the PTB tokenizer and METEOR of `groundbench score captions`")
    metrics: dict[str, dict] = {}
    for name, m in caption_metrics(references, captions, tokenize=True).items():
        if m["per_image"] is None:
            metrics[name] = {"value": float(m["value"]), "ci95": None, "n": len(images), "undefined": 0,
                             "direction": m["direction"]}
        else:
            metrics[name] = _entry(m["per_image"], m["direction"], m["value"])
    hall = chair(captions, objects, vocabulary)
    metrics["chair_i"] = chair_i_entry(hall["chair_i"]["per_image"], hall["chair_i"]["mentions_per_image"])
    metrics["chair_s"] = _entry(hall["chair_s"]["per_image"], "lower")
    return {
        "annotations": str(annotations), "results": str(results),
        "instances": None if instances is None else str(instances), "visual_words": str(words_path),
        "objects_from": FROM_BOTH if instances is not None else FROM_CAPTIONS,
        "images": len(images), "metrics": metrics,
        "chair": {"mentions": hall["mentions"], "hallucinated": hall["hallucinated"],
                  "unlisted_instance_categories": unlisted},
    }
