"""VQA v2 and VQA-CP v2 question / annotation files -> validated, paired records with soft targets.

Layouts (official names under one data root):
* VQA-CP v2 (Agrawal et al. 2018): ``vqacp_v2_{train,test}_{questions,annotations}.json``, plain JSON lists.
* VQA v2 (Goyal et al. 2017): ``v2_OpenEnded_mscoco_{train,val}2014_questions.json`` (``{"questions": [...]}``)
  and ``v2_mscoco_{train,val}2014_annotations.json`` (``{"annotations": [...]}``).
Either top-level form is accepted for either scheme. Answer vocabulary and soft scores follow
hengyuan-hu/bottom-up-attention-vqa tools/compute_softscore.py (filter_answers, compute_target).
Ids are JSON integers in [0, 2**63) (data/ids.py); question ids are unique within a file and across the
splits (the VQA-HAT maps are keyed by question id alone).
"""
from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from ..errors import GroundbenchError
from ..io import read_json, require_fields
from ..metrics.vqa import normalize_answer, soft_score
from .ids import check_id, record_name
from .splits import DEFAULT_VAL_FRACTION, in_val_holdout

log = logging.getLogger("groundbench.data")

SCHEMES = ("cp", "v2")
FULL_ANSWERS = 10
FALLBACK_QUESTION_TYPE = "none of the above"  # the VQA catch-all question type


def raw_files(root: str | Path, scheme: str) -> dict[str, tuple[Path, Path]]:
    """Official (questions, annotations) paths per raw split: cp -> train, test; v2 -> train, val."""
    root = Path(root)
    if scheme == "cp":
        return {s: (root / f"vqacp_v2_{s}_questions.json", root / f"vqacp_v2_{s}_annotations.json")
                for s in ("train", "test")}
    if scheme == "v2":
        return {s: (root / f"v2_OpenEnded_mscoco_{s}2014_questions.json", root / f"v2_mscoco_{s}2014_annotations.json")
                for s in ("train", "val")}
    raise GroundbenchError(f"unknown split scheme '{scheme}' (expected one of {', '.join(SCHEMES)})")


def _entries(path: Path, key: str) -> list:
    data = read_json(path, what=f"{key} file")
    if isinstance(data, dict):
        if key not in data:
            raise GroundbenchError(f"expected a JSON list or an object with a '{key}' list", path=path)
        data = data[key]
    if not isinstance(data, list):
        raise GroundbenchError(f"'{key}' must be a JSON list, got {type(data).__name__}", path=path)
    return data


def _int_field(entry: dict, name: str, path: Path, record: object) -> int:
    return check_id(entry[name], name, path, record)


def _unique_by_qid(entries: list, path: Path, fields: tuple[str, ...]) -> dict[int, dict]:
    out: dict[int, dict] = {}
    for i, entry in enumerate(entries):
        rid = record_name(entry, "question_id", f"#{i}")
        require_fields(entry, fields, path=path, record_id=rid)
        qid = _int_field(entry, "question_id", path, rid)
        if qid in out:
            raise GroundbenchError("duplicate question_id", path=path, record=qid)
        out[qid] = entry
    return out


def read_questions(path: str | Path) -> dict[int, dict]:
    """question_id -> {question_id, image_id, question}; either top-level form; errors name file + record."""
    path = Path(path)
    out = {}
    for qid, entry in _unique_by_qid(_entries(path, "questions"), path, ("question_id", "image_id", "question")).items():
        if not isinstance(entry["question"], str) or not entry["question"].strip():
            raise GroundbenchError("field 'question' must be a non-empty string", path=path, record=qid)
        out[qid] = {"question_id": qid, "image_id": _int_field(entry, "image_id", path, qid), "question": entry["question"]}
    return out


def _answer_strings(entry: dict, path: Path, qid: int) -> list[str]:
    answers = entry["answers"]
    if not isinstance(answers, list) or not answers:
        raise GroundbenchError("annotation has no answers", path=path, record=qid)
    out = []
    for j, item in enumerate(answers):
        if not isinstance(item, dict) or not isinstance(item.get("answer"), str):
            raise GroundbenchError(f"answers[{j}] must be an object with a string 'answer'", path=path, record=qid)
        out.append(item["answer"])
    return out


def _derived_answer_type(answer: str) -> str:
    return "yes/no" if answer in ("yes", "no") else "number" if answer.isdigit() else "other"


def read_annotations(path: str | Path) -> dict[int, dict]:
    """question_id -> {question_id, image_id|None, question_type, answer_type, multiple_choice_answer, answers}.

    ``question_id`` and a non-empty ``answers`` list are required. Fewer than 10 answers is accepted with
    a warning (scored on what is there). Missing ``image_id`` / ``question_type`` / ``answer_type`` /
    ``multiple_choice_answer`` (trimmed copies of the files) are derived with one warning per file:
    the image from the question, the most common normalised answer, its type, "none of the above".
    """
    path = Path(path)
    out, short, derived = {}, [], Counter()
    for qid, entry in _unique_by_qid(_entries(path, "annotations"), path, ("question_id", "answers")).items():
        answers = _answer_strings(entry, path, qid)
        if len(answers) < FULL_ANSWERS:
            short.append(qid)
        mc = entry.get("multiple_choice_answer")
        if not isinstance(mc, str):
            derived["multiple_choice_answer"] += 1
            mc = Counter(normalize_answer(a) for a in answers).most_common(1)[0][0]
        for name in ("image_id", "question_type", "answer_type"):
            if name not in entry:
                derived[name] += 1
        out[qid] = {
            "question_id": qid,
            "image_id": _int_field(entry, "image_id", path, qid) if "image_id" in entry else None,
            "question_type": str(entry.get("question_type", FALLBACK_QUESTION_TYPE)),
            "answer_type": str(entry.get("answer_type", _derived_answer_type(normalize_answer(mc)))),
            "multiple_choice_answer": mc,
            "answers": answers,
        }
    if short:
        log.warning("%s: %d annotation(s) with fewer than %d answers (first: record %s); accepted and scored "
                    "on the answers they have", path, len(short), FULL_ANSWERS, short[0])
    if derived:
        log.warning("%s: fields derived where missing: %s", path,
                    ", ".join(f"{name} ({n})" for name, n in sorted(derived.items())))
    return out


def pair(questions: dict[int, dict], annotations: dict[int, dict], qpath: Path, apath: Path) -> list[dict]:
    """Join questions and annotations by question_id; ids and image ids must agree. Sorted by question_id."""
    for qid in sorted(questions):
        if qid not in annotations:
            raise GroundbenchError(f"question has no annotation (questions file {qpath.name})", path=apath, record=qid)
    for qid in sorted(annotations):
        if qid not in questions:
            raise GroundbenchError(f"annotation has no question in {qpath.name}", path=apath, record=qid)
    records = []
    for qid in sorted(questions):
        q, a = questions[qid], annotations[qid]
        if a["image_id"] is not None and a["image_id"] != q["image_id"]:
            raise GroundbenchError(f"image_id {a['image_id']} disagrees with {q['image_id']} in {qpath.name}",
                                   path=apath, record=qid)
        records.append({**a, **q})
    return records


def check_unique_across_splits(raw: dict[str, list[dict]], files: dict[str, tuple[Path, Path]]) -> None:
    """Question ids must be unique across the raw splits: VQA-HAT maps (vqahat_train / vqahat_val) are keyed
    by question id alone and looked up in both folders, so a test question reusing a train question's id
    would get that question's human map. (The official files never reuse an id: VQA v2 ids are unique over
    train + val, and VQA-CP v2 re-splits those.) A reuse is a GroundbenchError naming both splits."""
    first: dict[int, str] = {}
    for split, records in raw.items():
        for record in records:
            qid = record["question_id"]
            if qid in first:
                other = first[qid]
                raise GroundbenchError(f"question_id also used in the {other} split ({files[other][0].name}); "
                                       "question ids must be unique across splits (VQA-HAT maps are keyed by "
                                       "question id)", path=files[split][0], record=qid)
            first[qid] = split


def read_raw(root: str | Path, scheme: str) -> dict[str, list[dict]]:
    """Raw split name -> paired records for the official files of ``scheme`` under ``root``; question ids
    unique across the splits (check_unique_across_splits)."""
    files = raw_files(root, scheme)
    raw = {split: pair(read_questions(q), read_annotations(a), q, a) for split, (q, a) in files.items()}
    check_unique_across_splits(raw, files)
    return raw


def assign_splits(raw: dict[str, list[dict]], scheme: str, val_fraction: float = DEFAULT_VAL_FRACTION) -> dict[str, list[dict]]:
    """Store splits: cp -> train / val (held out from train by image, see splits.py) / test; v2 -> train / val."""
    if scheme == "v2":
        return {"train": raw["train"], "val": raw["val"]}
    train = [r for r in raw["train"] if not in_val_holdout(r["image_id"], val_fraction)]
    val = [r for r in raw["train"] if in_val_holdout(r["image_id"], val_fraction)]
    return {"train": train, "val": val, "test": raw["test"]}


def build_answer_vocab(records: list[dict], min_count: int = 9) -> list[str]:
    """Normalised multiple_choice_answers given for >= ``min_count`` questions (compute_softscore.filter_answers).

    Ordered by descending count, then alphabetically, so the label ids are deterministic.
    """
    counts = Counter(normalize_answer(r["multiple_choice_answer"]) for r in records)
    return sorted((a for a, n in counts.items() if n >= min_count), key=lambda a: (-counts[a], a))


def soft_target(answers: list[str], answer_to_label: dict[str, int]) -> tuple[list[int], list[float]]:
    """(labels, scores) from the normalised human answers; out-of-vocabulary answers are dropped (score 0)."""
    counts = Counter(normalize_answer(a) for a in answers)
    labels = sorted(answer_to_label[a] for a in counts if a in answer_to_label)
    inverse = {answer_to_label[a]: a for a in counts if a in answer_to_label}
    return labels, [soft_score(counts[inverse[label]]) for label in labels]


def store_record(record: dict, answer_to_label: dict[str, int]) -> dict:
    """The record layout of a store's ``{split}.json`` (see DESIGN / prepare.py)."""
    labels, scores = soft_target(record["answers"], answer_to_label)
    return {
        "question_id": record["question_id"], "image_id": record["image_id"], "question": record["question"],
        "question_type": record["question_type"], "answer_type": record["answer_type"],
        "answers": list(record["answers"]), "labels": labels, "scores": scores,
    }
