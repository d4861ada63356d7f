"""Result records: schema, round trip, stamping, and validation errors that name file and field."""
from __future__ import annotations

import copy
import json
from datetime import datetime

import pytest

from groundbench.errors import GroundbenchError
from groundbench.results import (
    SCHEMA,
    Metric,
    ResultRecord,
    default_direction,
    load_record,
    make_record,
    record_from_dict,
    save_record,
)

GOOD = {
    "schema": "groundbench.result/1",
    "benchmark": "synth-vqacp",
    "method": "hint",
    "model": "updn",
    "seed": 1,
    "metrics": {
        "test/accuracy": {"value": 41.5, "direction": "higher", "n": 200, "ci95": [39.0, 44.0], "undefined": 0},
        "test/cpig": {"value": 0.25, "direction": "lower", "n": 120, "ci95": None, "undefined": 0},
        "test/spearman_grad": {"value": None, "direction": "higher", "n": 0, "ci95": None, "undefined": 200},
    },
    "config": {"lambda": 10.0, "epochs": 3},
    "code_version": "0.1.0+gabc1234",
    "date": "2025-01-02T03:04:05+00:00",
    "source": "measured",
}


def test_directions():
    assert default_direction("test/cpig") == "lower"
    assert default_direction("val/cpig") == "lower"
    for name in ("val/accuracy", "test/accuracy_yes_no", "test/spearman_grad", "test/occl_attn", "test/top_iou"):
        assert default_direction(name) == "higher"


def test_round_trip_is_exact(tmp_path):
    rec = record_from_dict(copy.deepcopy(GOOD), path="x")
    assert rec.metrics["test/accuracy"] == Metric(41.5, "higher", 200, (39.0, 44.0), 0)
    assert rec.metrics["test/spearman_grad"].value is None
    assert rec.measured
    path = save_record(tmp_path / "sub" / "r.json", rec)
    assert json.loads(path.read_text()) == GOOD
    assert load_record(path) == rec


def test_make_record_stamps_version_date_and_directions():
    rec = make_record("synth-vqacp", "updn", "updn", 0, {"test/accuracy": 40, "test/cpig": 0.5, "val/accuracy": None},
                      {"epochs": 2}, code_version="0.1.0+gdeadbee")
    assert rec.schema == SCHEMA and rec.source == "measured"
    assert rec.code_version == "0.1.0+gdeadbee"
    assert datetime.fromisoformat(rec.date).tzinfo is not None
    assert rec.metrics["test/cpig"].direction == "lower"
    assert rec.metrics["test/accuracy"] == Metric(40.0, "higher")
    assert rec.metrics["val/accuracy"].value is None
    stamped = make_record("b", "m", "updn", None, {})
    assert stamped.code_version.startswith("0.")


def test_reported_record_without_counts(tmp_path):
    data = copy.deepcopy(GOOD)
    data.update(seed=None, source="Selvaraju et al., ICCV 2019", metrics={"test/top_iou": {"value": 0.63, "direction": "higher"}})
    rec = record_from_dict(data, path="r.json")
    assert not rec.measured
    assert rec.metrics["test/top_iou"] == Metric(0.63, "higher", None, None, 0)


def _broken(path_in_record, value):
    data = copy.deepcopy(GOOD)
    target = data
    *parents, last = path_in_record
    for key in parents:
        target = target[key]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return data


_DELETE = object()


@pytest.mark.parametrize(
    "where, value, field, words",
    [
        (("schema",), "groundbench.result/2", "schema", "unsupported version"),
        (("schema",), "something", "schema", "expected 'groundbench.result/1'"),
        (("method",), _DELETE, "method", "missing"),
        (("method",), "", "method", "non-empty string"),
        (("seed",), "1", "seed", "integer or null"),
        (("seed",), True, "seed", "integer or null"),
        (("date",), "yesterday", "date", "ISO 8601"),
        (("config",), [], "config", "JSON object"),
        (("extra",), 1, "extra", "unknown field"),
        (("metrics",), [], "metrics", "metric name -> metric"),
        (("metrics", "accuracy"), {"value": 1, "direction": "higher"}, "metrics.accuracy", "<split>/<name>"),
        (("metrics", "test/accuracy", "direction"), "up", "metrics.test/accuracy.direction", "'higher' or 'lower'"),
        (("metrics", "test/accuracy", "direction"), _DELETE, "metrics.test/accuracy.direction", "missing"),
        (("metrics", "test/accuracy", "value"), "41", "metrics.test/accuracy.value", "finite number"),
        (("metrics", "test/accuracy", "value"), float("nan"), "metrics.test/accuracy.value", "finite number"),
        (("metrics", "test/accuracy", "n"), -1, "metrics.test/accuracy.n", "count"),
        (("metrics", "test/accuracy", "ci95"), [2.0, 1.0], "metrics.test/accuracy.ci95", "low <= high"),
        (("metrics", "test/accuracy", "undefined"), 1.5, "metrics.test/accuracy.undefined", "count"),
        (("metrics", "test/accuracy", "stderr"), 0.1, "metrics.test/accuracy.stderr", "unknown field"),
    ],
)
def test_bad_field_is_named(tmp_path, where, value, field, words):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_broken(where, value)))
    with pytest.raises(GroundbenchError) as err:
        load_record(path)
    msg = str(err.value)
    assert msg.startswith(str(path)) and f"field '{field}'" in msg and words in msg
    assert "\n" not in msg


def test_unreadable_files(tmp_path):
    with pytest.raises(GroundbenchError, match="result record not found"):
        load_record(tmp_path / "none.json")
    (tmp_path / "t.json").write_text("{broken")
    with pytest.raises(GroundbenchError, match="not valid JSON"):
        load_record(tmp_path / "t.json")
    (tmp_path / "l.json").write_text("[1, 2]")
    with pytest.raises(GroundbenchError, match="JSON object"):
        load_record(tmp_path / "l.json")


def test_save_validates_before_writing(tmp_path):
    rec = record_from_dict(copy.deepcopy(GOOD), path="x")
    bad = ResultRecord(**{**rec.__dict__, "metrics": {"test/accuracy": Metric(1.0, "sideways")}})
    with pytest.raises(GroundbenchError, match="direction"):
        save_record(tmp_path / "r.json", bad)
    assert not (tmp_path / "r.json").exists()
