"""Leaderboard: seed aggregation by hand, best-by-direction, golden renderings, the CLI, bad records; reported rows
beside measured ones (never averaged, never ranked together); the shipped paper rows against the transcription."""
from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from groundbench.cli import main
from groundbench.errors import GroundbenchError
from groundbench.leaderboard import aggregate, build_leaderboard, load_records, table_to_dict
from groundbench.leaderboard_render import render
from groundbench.leaderboard_benchmarks import analogue
from groundbench.leaderboard_render import CSV_LEAD, blocks
from groundbench.results import Metric, make_record, save_record

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("GROUNDBENCH_UPDATE_GOLDEN") == "1"
DATE = "2025-01-01T00:00:00+00:00"
HINT_PAPER = "Selvaraju et al., ICCV 2019 (arXiv:1902.03751)"


def _save(root, name, benchmark, method, seed, metrics, source="measured"):
    rec = make_record(benchmark, method, "updn", seed, metrics, {"recipe": method},
                      source=source, code_version="0.1.0", date=DATE)
    save_record(root / name, rec)


def write_fixture(root: Path) -> Path:
    """A small tree of records whose aggregates are easy to compute by hand."""
    syn = root / "synth"
    for seed, (acc, sp, cp) in enumerate([(40.0, -0.1, 0.5), (42.0, 0.0, 0.4), (44.0, 0.1, 0.3)]):
        _save(syn, f"updn-{seed}.json", "synth-vqacp", "updn", seed, {
            "val/accuracy": acc + 1, "test/accuracy": acc,
            "test/spearman_grad": Metric(sp, "higher", 100, (sp - 0.05, sp + 0.05), 3), "test/cpig": cp})
    for seed, (acc, sp, cp) in enumerate([(45.0, 0.2, 0.2), (46.0, 0.4, 0.25)]):
        _save(syn, f"hint-{seed}.json", "synth-vqacp", "hint", seed, {
            "val/accuracy": acc - 1, "test/accuracy": acc, "test/spearman_grad": sp, "test/cpig": cp})
    _save(syn, "blind-0.json", "synth-vqacp", "blind", 0, {"val/accuracy": 30.0, "test/accuracy": 20.0})
    _save(syn, "attn-0.json", "synth-vqacp", "attn-align", 0, {"test/accuracy": 41.0, "test/spearman_grad": None})
    _save(syn, "attn-1.json", "synth-vqacp", "attn-align", 1, {"test/accuracy": 43.0, "test/spearman_grad": 0.05})
    rep = root / "reported"
    _save(rep, "updn.json", "vqacp-v2", "updn", None, {"test/spearman_grad": -0.09, "test/top_iou": 0.57}, HINT_PAPER)
    _save(rep, "hint.json", "vqacp-v2", "hint", None, {"test/spearman_grad": 0.18, "test/top_iou": 0.63}, HINT_PAPER)
    (rep / "README.md").write_text("not a record\n")
    (root / "curve.json").write_text(json.dumps({"schema": "groundbench.curve/1", "points": []}))
    (root / "claims.json").write_text(json.dumps([{"key": "a list is never a record"}]))
    return root


@pytest.fixture
def tree(tmp_path):
    return write_fixture(tmp_path / "leaderboards")


def test_load_skips_other_schemas_and_non_json(tree):
    names = sorted(p.relative_to(tree).as_posix() for p, _ in load_records(tree))
    assert len(names) == 10 and "synth/updn-0.json" in names
    assert "curve.json" not in names and "claims.json" not in names


def test_aggregation_by_hand(tree):
    synth, reported = build_leaderboard(tree)
    assert (synth.benchmark, reported.benchmark) == ("synth-vqacp", "vqacp-v2")
    assert synth.columns == ["val/accuracy", "test/accuracy", "test/spearman_grad", "test/cpig"]
    assert [r.method for r in synth.rows] == ["blind", "updn", "attn-align", "hint"]  # METHOD_ORDER
    updn = synth.rows[1]
    assert updn.seeds == [0, 1, 2]
    acc = updn.cells["test/accuracy"]  # 40, 42, 44: mean 42, sample std 2
    assert acc.mean == pytest.approx(42.0) and acc.std == pytest.approx(2.0) and acc.n_values == 3
    sp = updn.cells["test/spearman_grad"]  # -0.1, 0, 0.1: mean 0, std 0.1; 100 questions each
    assert sp.mean == pytest.approx(0.0, abs=1e-12) and sp.std == pytest.approx(0.1) and sp.n_questions == 100
    hint = synth.rows[3]
    assert hint.cells["test/accuracy"].std == pytest.approx(2 ** -0.5)  # 45, 46
    assert hint.cells["test/spearman_grad"].n_questions is None
    attn = synth.rows[2].cells["test/spearman_grad"]  # undefined in seed 0: one value, no std
    assert (attn.mean, attn.std, attn.n_values) == (0.05, None, 1)
    blind = synth.rows[0]
    assert blind.cells["test/spearman_grad"].mean is None and blind.cells["test/accuracy"].std is None
    # best by direction: accuracy and spearman highest (hint), cpig lowest (hint: 0.225 < 0.4)
    assert synth.best("test/accuracy") == {3} and synth.best("test/cpig") == {3}
    assert synth.best("val/accuracy") == {3}  # hint 44.5 > updn 43 > blind 30
    assert synth.directions["test/cpig"] == "lower"
    assert not reported.rows[0].measured and reported.best("test/top_iou") == {1}


def test_table_as_plain_data(tree):
    data = table_to_dict(build_leaderboard(tree, benchmark="synth-vqacp")[0])
    assert json.loads(json.dumps(data)) == data
    updn = data["rows"][1]
    assert updn["n_seeds"] == 3 and updn["records"] == ["synth/updn-0.json", "synth/updn-1.json", "synth/updn-2.json"]
    assert updn["cells"]["test/accuracy"] == {"mean": 42.0, "std": 2.0, "n_seeds": 3, "n_questions": None}
    assert data["rows"][3]["best"] == ["val/accuracy", "test/accuracy", "test/spearman_grad", "test/cpig"]
    assert {"name": "test/cpig", "direction": "lower"} in data["columns"]


def test_explicit_columns_keep_missing_ones(tree):
    (table,) = build_leaderboard(tree, benchmark="vqacp-v2", columns=["test/top_iou", "test/occl_grad"])
    assert table.columns == ["test/top_iou", "test/occl_grad"]
    assert all(r.cells["test/occl_grad"].mean is None for r in table.rows)
    lines = [line for line in render([table], "latex").splitlines() if line.startswith("hint")]
    assert lines and lines[0].endswith(r"& -- \\")
    # Markdown shows a block of paper rows with the columns it has a value in
    assert "test/occl_grad" not in render([table]) and "test/top_iou" in render([table])


def test_all_tied_column_has_no_bold(tmp_path):
    for method in ("updn", "hint"):
        _save(tmp_path, f"{method}.json", "b", method, 0, {"test/accuracy": 50.0})
    (table,) = build_leaderboard(tmp_path)
    assert table.best("test/accuracy") == set()
    assert not any("**" in line for line in render([table]).splitlines() if line.startswith("|"))


@pytest.mark.parametrize("fmt, suffix", [("markdown", "md"), ("latex", "tex"), ("html", "html"), ("csv", "csv")])
def test_rendering_matches_golden(tree, fmt, suffix):
    text = render(build_leaderboard(tree), fmt)
    golden = GOLDEN / f"leaderboard.{suffix}"
    if UPDATE:
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_duplicate_seed_is_an_error(tree):
    _save(tree / "again", "updn-0-copy.json", "synth-vqacp", "updn", 0, {"test/accuracy": 1.0})
    with pytest.raises(GroundbenchError, match=r"source and seed \(0\) as ") as err:
        build_leaderboard(tree)
    assert "updn-0-copy.json" in str(err.value) and "synth/updn-0.json" in str(err.value)


def test_conflicting_directions_are_an_error(tree):
    _save(tree / "x", "odd.json", "synth-vqacp", "finetune", 0, {"test/accuracy": Metric(1.0, "lower")})
    with pytest.raises(GroundbenchError, match="test/accuracy"):
        build_leaderboard(tree)


def test_bad_record_names_the_file(tree):
    bad = tree / "synth" / "broken.json"
    bad.write_text(json.dumps({"schema": "groundbench.result/1", "benchmark": "synth-vqacp"}))
    with pytest.raises(GroundbenchError, match="field 'method': missing") as err:
        load_records(tree)
    assert str(bad) in str(err.value)


def test_aggregate_accepts_records_in_memory():
    rec = make_record("b", "hint", "updn", 0, {"test/accuracy": 1.0}, code_version="x", date=DATE)
    (table,) = aggregate([("mem.json", rec)])
    assert table.rows[0].records == ["mem.json"]


# --- the CLI ---------------------------------------------------------------------------------


def test_cli_prints_markdown_by_default(tree):
    result = CliRunner().invoke(main, ["leaderboard", "--dir", str(tree)])
    assert result.exit_code == 0, result.output
    assert result.stdout == (GOLDEN / "leaderboard.md").read_text(encoding="utf-8")


def test_cli_benchmark_format_and_out(tree, tmp_path):
    out = tmp_path / "out" / "table.tex"
    result = CliRunner().invoke(main, ["leaderboard", "--dir", str(tree), "--benchmark", "vqacp-v2",
                                       "--format", "latex", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.stdout
    text = out.read_text(encoding="utf-8")
    assert text == render(build_leaderboard(tree, benchmark="vqacp-v2"), "latex")
    assert "synth-vqacp" not in text and r"\begin{tabular}" in text
    assert [p.name for p in out.parent.iterdir()] == ["table.tex"]


def test_cli_json(tree):
    result = CliRunner().invoke(main, ["leaderboard", "--dir", str(tree), "--format", "json",
                                       "--columns", "test/accuracy"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [t["benchmark"] for t in data] == ["synth-vqacp", "vqacp-v2"]
    assert [c["name"] for c in data[0]["columns"]] == ["test/accuracy"]


def test_cli_no_records_exits_zero(tmp_path, tree):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no records here\n")
    result = CliRunner().invoke(main, ["leaderboard", "--dir", str(empty)])
    assert result.exit_code == 0 and "no result records under" in result.stdout
    result = CliRunner().invoke(main, ["leaderboard", "--dir", str(tree), "--benchmark", "nope"])
    assert result.exit_code == 0 and "records exist for: synth-vqacp, vqacp-v2" in result.stdout


def test_cli_bad_record_is_one_line_exit_2(tree):
    bad = tree / "synth" / "broken.json"
    bad.write_text("{ not json")
    result = CliRunner().invoke(main, ["leaderboard", "--dir", str(tree)])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and str(bad) in result.stderr
    assert "Traceback" not in result.output


def test_cli_missing_directory_exit_2(tmp_path):
    result = CliRunner().invoke(main, ["leaderboard", "--dir", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "leaderboard directory not found" in result.stderr


# --- reported rows beside measured ones ------------------------------------------------------------


def test_synthetic_table_shows_its_real_analogue_beside_never_averaged(tree):
    # a measured updn on synth-vqacp and the paper's updn on vqacp-v2: same method and model, never one row
    synth, real = build_leaderboard(tree)
    assert analogue("synth-vqacp") == "vqacp-v2" and synth.beside_benchmark == "vqacp-v2"
    assert [(r.method, r.benchmark, r.measured) for r in synth.beside] == [("updn", "vqacp-v2", False),
                                                                           ("hint", "vqacp-v2", False)]
    updn = next(r for r in synth.rows if r.method == "updn")
    assert updn.measured and updn.seeds == [0, 1, 2] and all(n.startswith("synth/") for n in updn.records)
    assert synth.beside[0].cells["test/spearman_grad"].mean == -0.09  # the paper's value, alone
    assert updn.cells["test/spearman_grad"].mean == pytest.approx(0.0, abs=1e-12)  # ours, alone
    # best is per block: the paper's hint (0.18) is not ranked against our hint (0.3)
    kinds = [(b.kind, b.best["test/spearman_grad"]) for b in blocks(synth)]
    assert kinds == [("measured", {3}), ("beside", {1})]
    data = table_to_dict(synth)
    assert data["beside"]["benchmark"] == "vqacp-v2" and data["beside"]["rows"][1]["best"] == ["test/spearman_grad"]
    assert all(r["source"] == "measured" for r in data["rows"])
    text = render([synth])
    measured, paper = text.split("**Reported in papers for the real setting")
    assert "-0.090" in paper and "-0.090" not in measured and "| hint " in paper and "0.300 ± 0.141" in measured
    assert real.beside == [] and real.beside_benchmark is None


def test_reported_and_measured_rows_of_one_benchmark_are_separate_blocks(tree):
    _save(tree / "real", "updn-s0.json", "vqacp-v2", "updn", 0, {"test/spearman_grad": 0.5, "test/top_iou": 0.1})
    (table,) = build_leaderboard(tree, benchmark="vqacp-v2")
    assert [(r.method, r.measured) for r in table.rows] == [("updn", True), ("updn", False), ("hint", False)]
    assert table.best("test/spearman_grad") == {2} and table.best("test/top_iou") == {2}  # within each kind
    assert [b.kind for b in blocks(table)] == ["measured", "reported"]
    latex = render([table], "latex")
    assert latex.index("Measured here") < latex.index("0.500") < latex.index("Reported in papers") < latex.index("-0.090")


def test_csv_parses_with_one_row_per_table_row(tree):
    text = render(build_leaderboard(tree), "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0])[:len(CSV_LEAD)] == list(CSV_LEAD)
    assert [(r["benchmark_table"], r["block"], r["method"]) for r in rows] == [
        ("synth-vqacp", "measured", "blind"), ("synth-vqacp", "measured", "updn"),
        ("synth-vqacp", "measured", "attn-align"), ("synth-vqacp", "measured", "hint"),
        ("synth-vqacp", "beside", "updn"), ("synth-vqacp", "beside", "hint"),
        ("vqacp-v2", "reported", "updn"), ("vqacp-v2", "reported", "hint")]
    updn = rows[1]
    assert float(updn["test/accuracy"]) == 42.0 and float(updn["test/accuracy std"]) == 2.0 and updn["seeds"] == "3"
    assert rows[0]["test/spearman_grad"] == "" and rows[4]["benchmark"] == "vqacp-v2" and rows[4]["seeds"] == ""
    assert rows[4]["test/top_iou"] == "" and rows[6]["test/top_iou"] == "0.57"  # not a column of synth-vqacp


def test_cli_csv_out(tree, tmp_path):
    out = tmp_path / "table.csv"
    result = CliRunner().invoke(main, ["leaderboard", "--dir", str(tree), "--format", "csv", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == render(build_leaderboard(tree), "csv")
