"""Official VQA results files: a JSON list of {"question_id": int, "answer": str} (VQA evaluation API,
GT-Vision-Lab/VQA ``PythonHelperTools/vqaTools/vqa.py`` loadRes and ``vqaEvaluation/vqaEval.py``).

One validator, :func:`read_results`, serves ``groundbench eval --results`` (scored against a store, below) and
``groundbench score vqa`` (scoring/vqa_files.py). Stricter than the official API on purpose:

* ``question_id`` must be a JSON integer. Strings ("1000"), booleans and floats are errors, integral floats
  such as 1000.0 too: loadRes would match 1000.0 to 1000 (Python equality), but an id that went through a
  float has lost its digits above 2**53, so the writer is asked to write integers instead.
* ``answer`` must be a JSON string. vqaEval.py calls ``answer.replace`` and fails on anything else; before
  this check null became the answer "None" and numbers their ``str()``.

Errors name the file and the record: its 0-based position in the list, and its question id once known.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import GroundbenchError, show_value
from .io import read_json, require_fields
from .metrics.vqa import vqa_accuracy
from .scoring.common import describe_ids

if TYPE_CHECKING:
    from .data.store import VQAStore


def describe_json(value: Any) -> str:
    """A JSON value as a message shows it: null, true, 1000.0 (a number with a decimal point), the string '1000',
    a list [...], an object {...} (abbreviated: errors.show_value)."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, float):
        return f"{show_value(value)} (a number with a decimal point or exponent)"
    kind = {int: "the number", str: "the string", list: "a list", dict: "an object"}.get(type(value), "")
    return f"{kind} {show_value(value)}".strip()


def read_results(path: str | Path) -> dict[int, str]:
    """question_id -> answer of an official results file ``[{"question_id": int, "answer": str}]``.

    A record that is not an object, lacks a field, has a non-integer id or a non-string answer is an error
    naming it (module docstring); duplicated question ids are one error naming them (count and the first few).
    """
    path = Path(path)
    results = read_json(path, what="results file")
    if not isinstance(results, list):
        raise GroundbenchError("a VQA results file is a JSON list of {\"question_id\": int, \"answer\": str}",
                               path=path)
    answers: dict[int, str] = {}
    duplicated: list[int] = []
    for i, item in enumerate(results):
        require_fields(item, ("question_id", "answer"), path=path, record_id=i)
        qid, answer = item["question_id"], item["answer"]
        if isinstance(qid, bool) or not isinstance(qid, int):
            raise GroundbenchError(f"field 'question_id' must be an integer, got {describe_json(qid)}", path=path,
                                   record=i)
        if not isinstance(answer, str):
            raise GroundbenchError(f"field 'answer' must be a string, got {describe_json(answer)}", path=path,
                                   record=f"{i} (question {qid})")
        if qid in answers:
            duplicated.append(qid)
        answers[qid] = answer
    if duplicated:
        raise GroundbenchError(f"question ids answered more than once ({describe_ids(duplicated)})", path=path)
    return answers


def score_results_file(path: Path, store: VQAStore, split: str) -> tuple[list[float], list[str]]:
    """Per-question official accuracy ([0, 1]) and answer type for every question of ``split``.

    Every question of the split must have exactly one answer in the file; extra question ids are errors.
    """
    answers = read_results(path)
    records = store.records(split)
    known = {r["question_id"] for r in records}
    extra = [qid for qid in answers if qid not in known]
    if extra:
        raise GroundbenchError(f"question ids not in split '{split}' ({describe_ids(extra)})", path=path)
    missing = [r["question_id"] for r in records if r["question_id"] not in answers]
    if missing:
        raise GroundbenchError(f"questions of split '{split}' without an answer ({describe_ids(missing)})",
                               path=path)
    return ([vqa_accuracy(answers[r["question_id"]], r["answers"]) for r in records],
            [r["answer_type"] for r in records])
