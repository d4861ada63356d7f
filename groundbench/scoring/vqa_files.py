"""Official VQA accuracy of a results file, as GT-Vision-Lab/VQA ``vqaEvaluation/vqaEval.py`` computes it.

Inputs (VQA v2, Goyal et al. 2017; VQA-CP v2, Agrawal et al. 2018):
* questions:   ``{"questions": [{"image_id", "question", "question_id"}]}`` or a bare list of them (VQA-CP);
* annotations: ``{"annotations": [{"question_id", "image_id", "question_type", "answer_type", "answers":
  [{"answer", "answer_confidence", "answer_id"}], "multiple_choice_answer"}]}`` or a bare list (VQA-CP);
* results:     ``[{"question_id": int, "answer": str}]``, exactly one per annotated question (vqa.py loadRes
  refuses a results file whose question ids differ from the annotations'); read and checked by
  ``results_file.read_results``, the validator ``groundbench eval --results`` uses too (integer ids, string
  answers, no duplicates; errors name the file and the record).
Questions and annotations are read and paired by ``data/vqa.py`` (either layout; trimmed annotation files
get ``answer_type`` / ``question_type`` derived, which the report states under "warnings"). Per question the
accuracy is ``metrics/vqa.vqa_accuracy`` (the official normalisation, quirks included); overall, per answer
type and per question type it is the mean over questions, in percent, in full precision (the official
script rounds to 2 decimals for display only).
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from ..data.vqa import pair, read_annotations, read_questions
from ..errors import GroundbenchError
from ..metrics.stats import bootstrap_mean_ci
from ..metrics.vqa import ANSWER_TYPES, vqa_accuracy
from ..results_file import read_results
from .common import captured_warnings, describe_ids

__all__ = ["check_coverage", "read_results", "render_vqa", "score_vqa"]


def check_coverage(answers: dict[int, str], annotated: list[int], results_path: Path, annotations_path: Path) -> None:
    """The results answer exactly the annotated questions: unknown and missing ids are errors naming them."""
    known = set(annotated)
    unknown = [qid for qid in answers if qid not in known]
    if unknown:
        raise GroundbenchError(f"question ids not in the annotations {annotations_path.name} "
                               f"({describe_ids(unknown)})", path=results_path)
    missing = [qid for qid in annotated if qid not in answers]
    if missing:
        raise GroundbenchError(f"annotated questions without a result; the official evaluation needs one answer per "
                               f"question of {annotations_path.name} ({describe_ids(missing)})", path=results_path)


def _group(values: list[float]) -> dict:
    """{"accuracy": mean in %, "ci95": bootstrap 95% interval in % (metrics/stats.py), "count"}."""
    mean, lo, hi = bootstrap_mean_ci(np.asarray(values, dtype=np.float64) * 100.0)
    return {"accuracy": mean, "ci95": [lo, hi], "count": len(values)}


def score_vqa(questions: str | Path, annotations: str | Path, results: str | Path) -> dict:
    """The report: ``overall``, ``answer_types``, ``question_types`` ({name: {"accuracy" (%), "ci95", "count"}}),
    the input paths and ``warnings`` (messages about the inputs, e.g. fields derived in trimmed files)."""
    questions, annotations, results = Path(questions), Path(annotations), Path(results)
    with captured_warnings() as warnings:
        records = pair(read_questions(questions), read_annotations(annotations), questions, annotations)
    if not records:
        raise GroundbenchError("no annotated questions to score", path=annotations)
    answers = read_results(results)
    check_coverage(answers, [r["question_id"] for r in records], results, annotations)
    per_question = [vqa_accuracy(answers[r["question_id"]], r["answers"]) for r in records]
    by_answer_type: dict[str, list[float]] = defaultdict(list)
    by_question_type: dict[str, list[float]] = defaultdict(list)
    for record, acc in zip(records, per_question):
        by_answer_type[record["answer_type"]].append(acc)
        by_question_type[record["question_type"]].append(acc)
    answer_order = [t for t in ANSWER_TYPES if t in by_answer_type] + sorted(set(by_answer_type) - set(ANSWER_TYPES))
    return {
        "questions": str(questions), "annotations": str(annotations), "results": str(results),
        "overall": _group(per_question),
        "answer_types": {name: _group(by_answer_type[name]) for name in answer_order},
        "question_types": {name: _group(by_question_type[name]) for name in sorted(by_question_type)},
        "warnings": list(warnings),
    }


def render_vqa(report: dict) -> str:
    """The report as a github table: accuracy (2 decimals, as the official script prints), 95% CI, count."""
    from tabulate import tabulate

    def row(label: str, entry: dict) -> list:
        lo, hi = entry["ci95"]
        return [label, f"{entry['accuracy']:.2f}", f"[{lo:.2f}, {hi:.2f}]", entry["count"]]

    rows = [row("overall", report["overall"])]
    rows += [row(f"answer type: {name}", entry) for name, entry in report["answer_types"].items()]
    rows += [row(f"question type: {name}", entry) for name, entry in report["question_types"].items()]
    return tabulate(rows, headers=["", "accuracy (%)", "95% CI", "n"], tablefmt="github", disable_numparse=True,
                    colalign=("left", "right", "left", "right"))
