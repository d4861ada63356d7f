"""Official VQA results files: a JSON list of {"question_id": int, "answer": str} (VQA evaluation API)."""
from __future__ import annotations

from pathlib import Path

from .data.store import VQAStore
from .errors import GroundbenchError
from .io import read_json, require_fields
from .metrics.vqa import vqa_accuracy


def score_results_file(path: Path, store: VQAStore, split: str) -> tuple[list[float], list[str]]:
    """Per-question official accuracy ([0, 1]) and answer type for every question of ``split``.

    Every question of the split must have exactly one answer in the file; extra question ids are errors.
    """
    results = read_json(path, what="results file")
    if not isinstance(results, list):
        raise GroundbenchError("a results file is a JSON list of {question_id, answer}", path=path)
    answers: dict[int, str] = {}
    for i, item in enumerate(results):
        require_fields(item, ("question_id", "answer"), path=path, record_id=i)
        qid = item["question_id"]
        if qid in answers:
            raise GroundbenchError(f"question {qid} answered twice", path=path, record=i)
        answers[qid] = str(item["answer"])
    records = store.records(split)
    known = {r["question_id"] for r in records}
    extra = set(answers) - known
    if extra:
        raise GroundbenchError(f"{len(extra)} question ids not in split '{split}', e.g. {min(extra)}", path=path)
    missing = [r["question_id"] for r in records if r["question_id"] not in answers]
    if missing:
        raise GroundbenchError(f"{len(missing)} questions of split '{split}' have no answer, e.g. {missing[0]}", path=path)
    return ([vqa_accuracy(answers[r["question_id"]], r["answers"]) for r in records],
            [r["answer_type"] for r in records])
