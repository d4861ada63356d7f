"""Readers of the VQA v2 / VQA-CP v2 files: both layouts, pairing, every bad input named by file + record."""
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from groundbench.data.splits import in_val_holdout
from groundbench.data.vqa import (assign_splits, build_answer_vocab, pair, raw_files, read_annotations,
                                  read_questions, read_raw, soft_target, store_record)
from groundbench.errors import GroundbenchError
from vqa_fixtures import VAL_FRACTION, answer_dicts, make_qa, write_raw_root

REAL = Path(__file__).parent / "fixtures" / "vqav2"


def _dump(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def _qa(tmp_path, n_images=2):
    qs, anns = make_qa(list(range(1, n_images + 1)), "train2014", np.random.default_rng(0))
    return qs, anns


def test_cp_lists_and_v2_wrapped_read_the_same(tmp_path):
    for scheme in ("cp", "v2"):
        info = write_raw_root(tmp_path / scheme, scheme)
        raw = read_raw(tmp_path / scheme, scheme)
        assert set(raw) == ({"train", "test"} if scheme == "cp" else {"train", "val"})
        first = raw["train"][0]
        ann = min(info["annotations"]["train"], key=lambda a: a["question_id"])
        assert first["question_id"] == ann["question_id"]
        assert first["answers"] == [a["answer"] for a in ann["answers"]]
        assert first["answer_type"] == ann["answer_type"] and first["question_type"] == ann["question_type"]
        assert first["question"] == "Is there a dog?"


def test_real_vqa_v2_fixture(caplog):
    questions = read_questions(REAL / "questions.json")
    assert sorted(questions) == [458752000, 458752001, 458752002]
    assert questions[458752000]["question"] == "What is this photo taken looking through?"
    with caplog.at_level(logging.WARNING, logger="groundbench.data"):
        annotations = read_annotations(REAL / "annotations.json")
    # the shared copy is trimmed to question_id + answers: the rest is derived, with a warning
    assert "derived" in caplog.text
    records = pair(questions, annotations, REAL / "questions.json", REAL / "annotations.json")
    net = records[0]
    assert net["image_id"] == 458752 and len(net["answers"]) == 10
    assert net["multiple_choice_answer"] == "net" and net["answer_type"] == "other"


def test_questions_and_annotations_disagree_on_ids(tmp_path):
    qs, anns = _qa(tmp_path)
    q = _dump(tmp_path / "q.json", qs)
    a = _dump(tmp_path / "a.json", anns[:-1])
    with pytest.raises(GroundbenchError) as err:
        pair(read_questions(q), read_annotations(a), q, a)
    assert "a.json" in str(err.value) and f"record {qs[-1]['question_id']}" in str(err.value)
    a = _dump(tmp_path / "a.json", anns + [dict(anns[0], question_id=999)])
    with pytest.raises(GroundbenchError, match="record 999: annotation has no question"):
        pair(read_questions(q), read_annotations(a), q, a)


def test_image_id_disagreement(tmp_path):
    qs, anns = _qa(tmp_path)
    anns[0]["image_id"] = 77
    q, a = _dump(tmp_path / "q.json", qs), _dump(tmp_path / "a.json", anns)
    with pytest.raises(GroundbenchError, match=f"record {anns[0]['question_id']}: image_id 77 disagrees"):
        pair(read_questions(q), read_annotations(a), q, a)


def test_annotation_without_answers_is_an_error(tmp_path):
    _, anns = _qa(tmp_path)
    anns[1]["answers"] = []
    a = _dump(tmp_path / "a.json", anns)
    with pytest.raises(GroundbenchError) as err:
        read_annotations(a)
    assert str(err.value) == f"{a}: record {anns[1]['question_id']}: annotation has no answers"


def test_fewer_than_ten_answers_accepted_with_warning(tmp_path, caplog):
    _, anns = _qa(tmp_path)
    anns[2]["answers"] = answer_dicts(["red", "red", "blue"])
    a = _dump(tmp_path / "a.json", anns)
    with caplog.at_level(logging.WARNING, logger="groundbench.data"):
        out = read_annotations(a)
    assert out[anns[2]["question_id"]]["answers"] == ["red", "red", "blue"]
    assert "fewer than 10 answers" in caplog.text and f"record {anns[2]['question_id']}" in caplog.text


@pytest.mark.parametrize("mutate, message", [
    (lambda q: q[0].pop("image_id"), "missing field 'image_id'"),
    (lambda q: q[0].update(question_id="7"), "field 'question_id' must be an integer"),
    (lambda q: q[0].update(question=""), "field 'question' must be a non-empty string"),
    (lambda q: q.append(dict(q[0])), "duplicate question_id"),
])
def test_bad_question_records(tmp_path, mutate, message):
    qs, _ = _qa(tmp_path)
    mutate(qs)
    with pytest.raises(GroundbenchError, match=message) as err:
        read_questions(_dump(tmp_path / "q.json", qs))
    assert "q.json" in str(err.value) and "record" in str(err.value)


def test_bad_answer_entries_and_layouts(tmp_path):
    _, anns = _qa(tmp_path)
    anns[0]["answers"][3] = {"answer_id": 4}
    with pytest.raises(GroundbenchError, match=r"answers\[3\] must be an object"):
        read_annotations(_dump(tmp_path / "a.json", anns))
    with pytest.raises(GroundbenchError, match="with a 'annotations' list"):
        read_annotations(_dump(tmp_path / "b.json", {"questions": []}))
    with pytest.raises(GroundbenchError, match="not valid JSON"):
        (tmp_path / "c.json").write_text("[{", encoding="utf-8")
        read_annotations(tmp_path / "c.json")
    with pytest.raises(GroundbenchError, match="questions file not found"):
        read_questions(tmp_path / "missing.json")


def test_raw_file_names():
    cp = raw_files("/r", "cp")
    assert cp["test"][1].name == "vqacp_v2_test_annotations.json"
    v2 = raw_files("/r", "v2")
    assert v2["val"][0].name == "v2_OpenEnded_mscoco_val2014_questions.json"
    assert v2["train"][1].name == "v2_mscoco_train2014_annotations.json"
    with pytest.raises(GroundbenchError, match="unknown split scheme"):
        raw_files("/r", "v3")


def test_cp_val_is_held_out_by_image(tmp_path):
    write_raw_root(tmp_path, "cp")
    splits = assign_splits(read_raw(tmp_path, "cp"), "cp", VAL_FRACTION)
    assert set(splits) == {"train", "val", "test"} and splits["val"] and splits["train"]
    assert all(in_val_holdout(r["image_id"], VAL_FRACTION) for r in splits["val"])
    assert not {r["image_id"] for r in splits["val"]} & {r["image_id"] for r in splits["train"]}


def test_answer_vocab_counts_questions_and_orders_deterministically():
    records = [{"multiple_choice_answer": a} for a in ["Two", "2", "2", "yes", "yes", "no", "dog"]]
    assert build_answer_vocab(records, 2) == ["2", "yes"]
    assert build_answer_vocab(records, 1) == ["2", "yes", "dog", "no"]


def test_soft_targets_and_store_record():
    label = {"red": 0, "blue": 1, "green": 2}
    answers = ["red"] * 5 + ["Blue"] * 2 + ["pink"] * 3
    assert soft_target(answers, label) == ([0, 1], [1.0, 0.6])
    record = store_record({"question_id": 1, "image_id": 2, "question": "q?", "question_type": "what color",
                           "answer_type": "other", "answers": answers, "multiple_choice_answer": "red"}, label)
    assert record["labels"] == [0, 1] and record["scores"] == [1.0, 0.6] and record["answers"] == answers
    assert set(record) == {"question_id", "image_id", "question", "question_type", "answer_type", "answers",
                           "labels", "scores"}
