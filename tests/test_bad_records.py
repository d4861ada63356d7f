"""Issue 10, results files, result records and the leaderboard: every bad input is one line naming the file
and the record, exit 2, no traceback, no output file left behind."""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import groundbench.cli.evaluate as evaluate_cli
import groundbench.io as gio
from groundbench.cli import main
from groundbench.errors import GroundbenchError
from groundbench.leaderboard import load_records
from groundbench.results import metric_range, record_from_dict
from groundbench.results_file import describe_json, read_results

from test_cli import fails_cleanly, invoke

REPO = Path(__file__).resolve().parent.parent
DEEP = 100_000


def dump(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def deep_list(depth: int = DEEP) -> list:
    """[[[...]]] ``depth`` levels deep, built without recursion."""
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


# --- results files: `groundbench eval --results` (a store) and `groundbench score vqa` (official files) ----------

QIDS = (1000, 1001, 1002)


class FakeStore:
    """The two things ``eval --results`` asks of a VQA store."""

    def records(self, split):
        return [{"question_id": q, "answers": ["yes"] * 10, "answer_type": "yes/no"} for q in QIDS]

    def upper_bound(self, split):
        return 1.0


def official_files(folder: Path, qids) -> tuple[Path, Path]:
    """VQA-CP style questions and annotations files (bare lists): every human said "yes"."""
    q = dump(folder / "q.json", [{"image_id": 7, "question": "is it?", "question_id": q} for q in qids])
    a = dump(folder / "a.json", [{"question_id": q, "image_id": 7, "question_type": "is it", "answer_type": "yes/no",
                                  "multiple_choice_answer": "yes", "answers": [
                                      {"answer": "yes", "answer_confidence": "yes", "answer_id": j + 1}
                                      for j in range(10)]} for q in qids])
    return q, a


@pytest.fixture
def run_results(tmp_path, monkeypatch):
    """run(items) -> CliRunner results of eval --results and score vqa on the same results list; asserts that
    neither left a report behind."""
    monkeypatch.setattr(evaluate_cli, "open_data", lambda *a, **k: (FakeStore(), None))
    q, a = official_files(tmp_path, QIDS)

    def run(items):
        results, out = dump(tmp_path / "R.json", items), tmp_path / "report.json"
        ran = [invoke("eval", "--results", results, "--data", tmp_path, "--split", "test", "--out", out),
               invoke("score", "vqa", "--questions", q, "--annotations", a, "--results", results, "--out", out)]
        assert not out.exists() or all(r.exit_code == 0 for r in ran)
        return ran
    return run


def good(qid):
    return {"question_id": qid, "answer": "yes"}


def test_the_fake_store_scores_a_good_file(run_results):
    assert [r.exit_code for r in run_results([good(q) for q in QIDS])] == [0, 0]


@pytest.mark.parametrize("qid, shown", [
    ("1000", "got the string '1000'"),  # was "not in split": say what is wrong with it
    ([1000], "got a list [1000]"),
    (True, "got true"),
    (1.5, "got 1.5 (a number with a decimal point"),
    (1000.0, "got 1000.0 (a number with a decimal point"),  # integral floats too (results_file.py docstring)
    (None, "got null"),
    ({"id": 1000}, "got an object {'id': 1000}"),
])
def test_question_id_must_be_an_integer(run_results, qid, shown):
    items = [good(1000), good(1001), {"question_id": qid, "answer": "yes"}]  # mixed types: the third is bad
    for result in run_results(items):
        line = fails_cleanly(result, "R.json: record 2:", "field 'question_id' must be an integer", shown)
        assert "not in" not in line


@pytest.mark.parametrize("answer, shown", [
    (None, "got null"), (2, "got the number 2"), (1.5, "got 1.5"), (["yes"], "got a list ['yes']"),
    (True, "got true"), ({"a": "yes"}, "got an object"),
])
def test_answer_must_be_a_string(run_results, answer, shown):
    items = [good(1000), {"question_id": 1001, "answer": answer}, good(1002)]
    for result in run_results(items):
        fails_cleanly(result, "R.json: record 1 (question 1001):", "field 'answer' must be a string", shown)


def test_unknown_missing_and_doubled_ids_are_named(run_results):
    for result, where in zip(run_results([good(q) for q in (*QIDS, 5, 6)]), ("split 'test'", "annotations")):
        fails_cleanly(result, "R.json", where, "(2: 5, 6)")
    for result in run_results([good(1000), good(1001)]):
        fails_cleanly(result, "R.json", "without a", "(1: 1002)")
    for result in run_results([good(q) for q in (*QIDS, 1001)]):
        fails_cleanly(result, "R.json", "more than once", "(1: 1001)")


def test_deeply_nested_ids_and_answers_are_shown_briefly(tmp_path, monkeypatch):
    assert describe_json(deep_list()).startswith("a list [[")  # no RecursionError, one short line
    monkeypatch.setattr("groundbench.results_file.read_json", lambda *a, **k: [{"question_id": deep_list(),
                                                                              "answer": "yes"}])
    with pytest.raises(GroundbenchError, match=r"record 0: field 'question_id' must be an integer, got a list") as err:
        read_results(tmp_path / "R.json")
    assert len(str(err.value)) < 200


# --- result records and the leaderboard -----------------------------------------------------------------------

RECORD = {
    "schema": "groundbench.result/1", "benchmark": "b", "method": "updn", "model": "updn", "seed": 0,
    "metrics": {"test/accuracy": {"value": 50.0, "direction": "higher", "n": 10, "ci95": [40.0, 60.0],
                                  "undefined": 0}},
    "config": {}, "code_version": "0.1.0", "date": "2025-01-01T00:00:00+00:00", "source": "measured",
}


def record(**metrics) -> dict:
    """RECORD with extra metrics: name (``__`` for ``/``) -> value or a full metric entry."""
    data = copy.deepcopy(RECORD)
    for key, m in metrics.items():
        entry = m if isinstance(m, dict) else {"value": m, "direction": "higher", "n": None, "ci95": None,
                                               "undefined": 0}
        data["metrics"][key.replace("__", "/")] = entry
    return data


def leaderboard(root: Path, *args):
    return invoke("leaderboard", "--dir", root, *args)


@pytest.mark.parametrize("name, value, bounds", [
    ("test/accuracy", 1e308, "[0, 100]"), ("test/accuracy_yes_no", -0.5, "[0, 100]"),
    ("test/spearman_grad", 1.5, "[-1, 1]"), ("test/occl_attn", -1.01, "[-1, 1]"),
    ("test/spearman_grad@circle", 2, "[-1, 1]"), ("test/top_iou", 1.2, "[0, 1]"), ("test/chair_i", 1.5, "[0, 1]"),
    ("test/chair_s", -0.1, "[0, 1]"), ("test/cpig", 1.5, "[0, 1]"), ("val/cider", 10.5, "[0, 10]"),
    ("test/bleu4", 1.1, "[0, 1]"), ("test/meteor", 2.0, "[0, 1]"), ("test/rouge_l", 1.01, "[0, 1]"),
])
def test_values_outside_their_metric_range(tmp_path, name, value, bounds):
    dump(tmp_path / "r.json", record(**{name.replace("/", "__"): value}))
    fails_cleanly(leaderboard(tmp_path), f"r.json: field 'metrics.{name}.value'", "outside " + bounds)


def test_range_edges_and_unknown_metrics_load(tmp_path):
    dump(tmp_path / "r.json", record(test__accuracy_other=100, val__cider=10.0, test__spearman_attn=-1.0,
                                     test__chair_i=0, test__my_score=-1e300))
    assert invoke("leaderboard", "--dir", tmp_path, "--columns", "test/my_score").exit_code == 0
    assert metric_range("test/my_score") is None and metric_range("val/spearman_grad@star") == (-1.0, 1.0)


@pytest.mark.parametrize("field, value, needles", [
    ("value", float("inf"), ["finite number", "inf"]),  # json.dumps writes Infinity, json.load reads it
    ("value", 10**400, ["finite number", "..."]),  # an int beyond the float range, shown abbreviated
    ("value", deep_list(50), ["finite number", "[[...]]"]),
    ("n", -1, ["count >= 0"]), ("n", 1.5, ["count >= 0"]), ("n", True, ["count >= 0"]),
    ("n", 10**400, ["count >= 0", "at most 2**53"]), ("undefined", 2**60, ["at most 2**53"]),
    ("ci95", [float("nan"), 60.0], ["finite, low <= high"]),
    ("ci95", [55.0, 60.0], ["does not hold the value 50.0"]),
    ("ci95", [-5.0, 60.0], ["ci95'", "outside [0, 100]"]),
])
def test_bad_metric_fields(tmp_path, field, value, needles):
    data = copy.deepcopy(RECORD)
    data["metrics"]["test/accuracy"][field] = value
    dump(tmp_path / "r.json", data)
    fails_cleanly(leaderboard(tmp_path), f"r.json: field 'metrics.test/accuracy.{field}'", *needles)


def test_interval_rules(tmp_path):
    entry = {"value": None, "direction": "higher", "n": 0, "ci95": [0.1, 0.2], "undefined": 3}
    dump(tmp_path / "r.json", record(test__top_iou=entry))
    fails_cleanly(leaderboard(tmp_path), "field 'metrics.test/top_iou.ci95'", "without a value")
    # METEOR and BLEU are corpus statistics; their interval is the per-image mean's (evaluate_captions.py)
    meteor = {"value": 0.30, "direction": "higher", "n": 601, "ci95": [0.305, 0.32], "undefined": 0}
    dump(tmp_path / "r.json", record(test__meteor=meteor))
    assert leaderboard(tmp_path).exit_code == 0


def test_text_fields_are_one_line(tmp_path):
    data = copy.deepcopy(RECORD)
    data["method"] = "updn\n| injected | row |"
    dump(tmp_path / "r.json", data)
    fails_cleanly(leaderboard(tmp_path), "r.json: field 'method'", "one line")
    data = copy.deepcopy(RECORD)
    data["metrics"]["test/accuracy\n"] = data["metrics"]["test/accuracy"]
    dump(tmp_path / "r.json", data)
    fails_cleanly(leaderboard(tmp_path), "r.json: field 'metrics.'test/accuracy\\n''", "<split>/<name>")


def test_mean_of_huge_finite_values_is_finite(tmp_path):
    for seed in (0, 1):
        data = record(test__my_score=1.7e308)
        data["seed"] = seed
        dump(tmp_path / f"s{seed}.json", data)
    result = invoke("leaderboard", "--dir", tmp_path, "--columns", "test/my_score", "--format", "json")
    assert result.exit_code == 0, result.output
    cell = json.loads(result.stdout)[0]["rows"][0]["cells"]["test/my_score"]
    assert cell["mean"] == 1.7e308 and cell["std"] == 0.0
    dump(tmp_path / "s1.json", {**data, "metrics": {"test/my_score": {**data["metrics"]["test/my_score"],
                                                                        "value": -1.7e308}}})
    fails_cleanly(invoke("leaderboard", "--dir", tmp_path, "--columns", "test/my_score"), "s0.json",
                  "metric 'test/my_score'", "beyond the float range", "s1.json")


def test_deeply_nested_record_through_the_leaderboard(tmp_path):
    """100,000 levels in a metric value: an error naming the record whether io.read_json refuses the nesting or
    parses it (then the value is no number) - never a RecursionError."""
    text = json.dumps(RECORD).replace('"value": 50.0', '"value": ' + "[" * DEEP + "]" * DEEP, 1)
    (tmp_path / "deep.json").write_text(text, encoding="utf-8")
    fails_cleanly(leaderboard(tmp_path), "deep.json")


def test_deep_values_in_memory_give_short_messages():
    for where in ("value", "direction", "n"):
        data = copy.deepcopy(RECORD)
        data["metrics"]["test/accuracy"][where] = deep_list()
        with pytest.raises(GroundbenchError) as err:
            record_from_dict(data, path="deep.json")
        assert len(str(err.value)) < 200 and "\n" not in str(err.value)


def test_every_committed_record_loads_and_renders_the_committed_tables():
    assert len(load_records(REPO / "leaderboards")) >= 50
    for bench in ("synth-vqacp", "synth-captions-standard", "synth-captions-robust"):
        result = invoke("leaderboard", "--dir", REPO / "leaderboards" / "records", "--benchmark", bench)
        assert result.exit_code == 0 and result.stdout == (REPO / "leaderboards" / f"{bench}.md").read_text()


# --- --out: a folder, a path under a file, a read-only folder; checked before any work ------------------------

def read_only(monkeypatch, folder: Path) -> None:
    """``folder`` cannot be written: chmod for a normal user; root writes anyway, so ask os.access instead."""
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:
        real = os.access
        monkeypatch.setattr(gio.os, "access", lambda p, mode, **k: False if Path(p) == folder else real(p, mode, **k))


@pytest.mark.parametrize("case", ["folder", "under a file", "read-only"])
def test_out_paths(tmp_path, monkeypatch, case):
    (tmp_path / "file").write_text("x")
    out, needle = {"folder": (tmp_path, "it is a folder"), "under a file": (tmp_path / "file" / "t.md", "is a file"),
                   "read-only": (tmp_path / "ro" / "t.md", "not writable")}[case]
    if case == "read-only":
        read_only(monkeypatch, tmp_path / "ro")
    records = tmp_path / "records"
    records.mkdir()
    dump(records / "bad.json", {"schema": "groundbench.result/1"})  # --out is checked before records are read
    before = sorted(tmp_path.rglob("*"))
    fails_cleanly(invoke("leaderboard", "--dir", records, "--out", out), str(out), needle)
    q, a = official_files(tmp_path, [1])
    r = dump(tmp_path / "r.json", [{"question_id": 1, "answer": "yes"}])
    fails_cleanly(invoke("score", "vqa", "--questions", q, "--annotations", a, "--results", r, "--out", out),
                  str(out), needle)
    assert sorted(tmp_path.rglob("*")) == sorted(before + [q, a, r])  # nothing written, not even a temporary
