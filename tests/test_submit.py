"""``groundbench submit``: a trained run -> evaluated -> validated record -> ``groundbench leaderboard`` (the round
trip through the CLI on a tiny world), and every refusal as one line with its reason, exit 2."""
from __future__ import annotations

import json
import shutil

import pytest
from safetensors.torch import save_file
import torch

import groundbench.submit as submit_mod
from groundbench.checkpoint import read_checkpoint_metadata
from groundbench.errors import GroundbenchError
from groundbench.leaderboard_benchmarks import BENCHMARKS, benchmark_for_store
from groundbench.results import load_record, make_record, save_record

from test_cli import fails_cleanly, invoke
from test_leaderboard import REPO


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 60-image synthetic store and UpDn trained on it for one epoch (its checkpoint names the store)."""
    root = tmp_path_factory.mktemp("submit")
    result = invoke("data", "synth", "--images", 60, "--out", root / "world", "--quiet")
    assert result.exit_code == 0, result.output
    result = invoke("train", "updn", "--data", root / "world", "--epochs", 1, "--out", root / "run", "--device", "cpu")
    assert result.exit_code == 0, result.output
    return root


def _stderr_line(result, *needles) -> str:
    """Refusals after the evaluation: stdout said 'Evaluating ...'; stderr is the one-line reason."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("\r")]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def _fake_report(**changes) -> dict:
    metric = {"value": 50.0, "direction": "higher", "n": 10, "ci95": [40.0, 60.0], "undefined": 0}
    report = {"splits": {"val": {"accuracy": dict(metric)}, "test": {"accuracy": dict(metric)}}}
    for where, value in changes.items():
        split, name = where.split("__")
        report["splits"].setdefault(split, {})[name] = value
    return report


def test_submit_then_leaderboard_round_trip(run, tmp_path):
    board = tmp_path / "board"
    shutil.copytree(REPO / "leaderboards" / "reported", board / "reported")
    result = invoke("submit", run / "run", "--benchmark", "synth-vqacp", "--records", board / "records",
                    "--device", "cpu")
    assert result.exit_code == 0, result.output
    path = board / "records" / "synth-vqacp" / "updn-s0.json"
    assert f"to synth-vqacp: {path}" in result.stdout and f"groundbench leaderboard --dir {board}" in result.stdout
    record = load_record(path)
    meta = read_checkpoint_metadata(run / "run")
    assert (record.benchmark, record.method, record.seed, record.source) == ("synth-vqacp", "updn", 0, "measured")
    assert record.config["data_manifest_sha256"] == meta["data_manifest_sha256"]
    assert record.config["train_code_version"] == meta["code_version"]
    assert {"val/accuracy", "test/accuracy", "test/spearman_grad", "test/top_iou"} <= set(record.metrics)
    assert [p.name for p in path.parent.iterdir()] == ["updn-s0.json"]  # no lock file, no temporary left
    shown = invoke("leaderboard", "--dir", board, "--benchmark", "synth-vqacp", "--format", "json")
    assert shown.exit_code == 0, shown.output
    (table,) = json.loads(shown.stdout)
    assert [(r["method"], r["records"]) for r in table["rows"]] == [("updn", ["records/synth-vqacp/updn-s0.json"])]
    assert table["rows"][0]["cells"]["test/accuracy"]["mean"] == record.metrics["test/accuracy"].value
    assert table["beside"]["benchmark"] == "vqacp-v2" and len(table["beside"]["rows"]) == 8  # the paper's rows
    page = invoke("leaderboard", "--dir", board, "--benchmark", "synth-vqacp", "--format", "html", "--out",
                  board / "synth-vqacp.html")
    assert page.exit_code == 0 and 'href="records/synth-vqacp/updn-s0.json"' in (board / "synth-vqacp.html").read_text()
    # the same run again: refused, then --replace (the evaluation faked: the numbers need not be recomputed)
    fails_cleanly(invoke("submit", run / "run", "--benchmark", "synth-vqacp", "--records", board / "records"),
                  "updn-s0.json", "already there", "--replace")


def test_replace_overwrites(run, tmp_path, monkeypatch):
    monkeypatch.setattr(submit_mod, "evaluate_run", lambda *a: _fake_report())
    records = tmp_path / "records"
    for flags in ((), ("--replace",)):
        result = invoke("submit", run / "run", "--benchmark", "synth-vqacp", "--records", records, *flags)
        assert result.exit_code == 0, result.output
    assert load_record(records / "synth-vqacp" / "updn-s0.json").metrics["val/accuracy"].value == 50.0


@pytest.mark.parametrize("benchmark, needles", [
    ("vqa-v2", ("benchmark 'vqa-v2' is vqa on split scheme 'v2'", "this run is vqa on 'cp'")),
    ("synth-captions-robust", ("benchmark 'synth-captions-robust' is captioning",)),
    ("vqacp-v2", ("the data is synthetic split 'cp' (benchmark 'synth-vqacp'), not benchmark 'vqacp-v2'",)),
    ("nope", ("unknown benchmark 'nope'", "synth-vqacp")),
])
def test_benchmark_that_is_not_the_runs_is_refused(run, tmp_path, benchmark, needles):
    fails_cleanly(invoke("submit", run / "run", "--benchmark", benchmark, "--records", tmp_path), *needles)
    assert not any(tmp_path.rglob("*.json"))


def _row_record(run, tmp_path, seed: int, **config) -> None:
    """A record of the same row (synth-vqacp, updn, updn) but another seed, with ``config`` overrides."""
    meta = read_checkpoint_metadata(run / "run")
    base = {"data_manifest_sha256": meta["data_manifest_sha256"], "train_code_version": meta["code_version"]}
    version = config.pop("code_version", None)
    rec = make_record("synth-vqacp", "updn", "updn", seed, {"test/accuracy": 1.0}, {**base, **config},
                      code_version=version)
    save_record(tmp_path / "synth-vqacp" / f"updn-s{seed}.json", rec)


@pytest.mark.parametrize("changes, needle", [
    ({"code_version": "0.0.1+gdeadbee"}, "mixed evaluation code version in one row: '0.0.1+gdeadbee' there"),
    ({"train_code_version": "0.0.1+gdeadbee"}, "mixed training code version in one row"),
    ({"data_manifest_sha256": "0" * 64}, "mixed data checksum (manifest sha256) in one row"),
])
def test_mixed_versions_or_data_within_one_row_are_refused(run, tmp_path, monkeypatch, changes, needle):
    monkeypatch.setattr(submit_mod, "evaluate_run", lambda *a: pytest.fail("refused before the evaluation"))
    _row_record(run, tmp_path, 7, **changes)
    fails_cleanly(invoke("submit", run / "run", "--benchmark", "synth-vqacp", "--records", tmp_path),
                  "updn-s0.json: cannot submit", needle, "updn-s7.json")


def test_a_consistent_row_accepts_another_seed(run, tmp_path, monkeypatch):
    monkeypatch.setattr(submit_mod, "evaluate_run", lambda *a: _fake_report())
    _row_record(run, tmp_path, 7)
    result = invoke("submit", run / "run", "--benchmark", "synth-vqacp", "--records", tmp_path)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "synth-vqacp").iterdir()) == ["updn-s0.json", "updn-s7.json"]


@pytest.mark.parametrize("report, needles", [
    (_fake_report(testdev__accuracy={"value": 1.0, "direction": "higher"}),
     ("metric 'testdev/accuracy': unknown split 'testdev'", "scores val, test")),
    (_fake_report(test__my_score={"value": 1.0, "n": 3}), ("field 'metrics.test/my_score.direction': missing",)),
    (_fake_report(test__accuracy={"value": 150.0, "direction": "higher"}), ("outside [0, 100]",)),
])
def test_malformed_metrics_are_refused_after_the_evaluation(run, tmp_path, monkeypatch, report, needles):
    monkeypatch.setattr(submit_mod, "evaluate_run", lambda *a: report)
    result = invoke("submit", run / "run", "--benchmark", "synth-vqacp", "--records", tmp_path)
    _stderr_line(result, "updn-s0.json", *needles)
    assert not any(tmp_path.rglob("*.json"))


def test_direction_that_differs_from_the_folder_is_refused(run, tmp_path, monkeypatch):
    monkeypatch.setattr(submit_mod, "evaluate_run",
                        lambda *a: _fake_report(test__my_score={"value": 1.0, "direction": "lower"}))
    rec = make_record("synth-vqacp", "hint", "updn", 0, {"test/my_score": 2.0}, code_version="x")
    save_record(tmp_path / "synth-vqacp" / "hint-s0.json", rec)
    _stderr_line(invoke("submit", run / "run", "--benchmark", "synth-vqacp", "--records", tmp_path),
                 "metric 'test/my_score' is 'lower'-is-better here but 'higher'", "hint-s0.json")


def test_not_a_groundbench_run_is_refused(tmp_path):
    save_file({"w": torch.zeros(2)}, str(tmp_path / "plain.safetensors"))
    fails_cleanly(invoke("submit", tmp_path / "plain.safetensors", "--benchmark", "synth-vqacp", "--records",
                         tmp_path / "r"), "plain.safetensors", "not a groundbench checkpoint")
    fails_cleanly(invoke("submit", tmp_path / "nowhere", "--benchmark", "synth-vqacp"), "checkpoint not found")


class _Store:
    def __init__(self, root, source="synthetic", scheme="cp"):
        self.root, self.manifest = root, {"source": source, "split_scheme": scheme}
        (root / "manifest.json").write_text(json.dumps({"a": source}))


def test_other_data_than_the_runs_is_refused(tmp_path):
    store = _Store(tmp_path)
    bench = BENCHMARKS["synth-vqacp"]
    sha = submit_mod.check_store(store, "vqa", bench, {}, tmp_path)
    assert submit_mod.check_store(store, "vqa", bench, {"data_manifest_sha256": sha}, tmp_path) == sha
    with pytest.raises(GroundbenchError, match="not the data the run was trained on"):
        submit_mod.check_store(store, "vqa", bench, {"data_manifest_sha256": "f" * 64}, tmp_path)
    with pytest.raises(GroundbenchError, match=r"the data is vqa-v2 split 'v2' \(benchmark 'vqa-v2'\)"):
        submit_mod.check_store(_Store(tmp_path, "vqa-v2", "v2"), "vqa", bench, {}, tmp_path)


def test_every_benchmark_is_found_from_its_store():
    for bench in BENCHMARKS.values():
        assert benchmark_for_store(bench.task, bench.source, bench.split_scheme) is bench
        assert bench.analogue is None or (not bench.real and BENCHMARKS[bench.analogue].real)
    assert benchmark_for_store("vqa", "coco", "robust") is None
