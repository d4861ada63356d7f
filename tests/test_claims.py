"""The claims table: verdicts from hand-made records with hand-computed intervals, missing records, the curve
claim, the README markers, and the committed README table equals what the committed records give."""
import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from groundbench.claims import check_claims
from groundbench.claims_render import BEGIN, END, claims_markdown, replace_between_markers
from groundbench.cli import main
from groundbench.errors import GroundbenchError
from groundbench.results import make_record, save_record

ROOT = Path(__file__).resolve().parent.parent
T_975_DF2 = 4.302652729911275  # scipy.stats.t.ppf(0.975, 2)


def _write(root, benchmark, method, values):
    for seed, metrics in enumerate(values):
        record = make_record(benchmark, method, "updn", seed, metrics, code_version="test", date="2026-01-01")
        save_record(root / "records" / benchmark / f"{method}-s{seed}.json", record)


def _by_key(rows):
    return {row["key"]: row for row in rows}


def test_verdicts_and_intervals_by_hand(tmp_path):
    _write(tmp_path, "synth-vqacp", "updn", [{"test/accuracy": 40.0, "test/spearman_grad": 0.1},
                                             {"test/accuracy": 41.0, "test/spearman_grad": 0.2},
                                             {"test/accuracy": 42.0, "test/spearman_grad": 0.3}])
    _write(tmp_path, "synth-vqacp", "hint", [{"test/accuracy": 45.0, "test/spearman_grad": 0.1},
                                             {"test/accuracy": 47.0, "test/spearman_grad": 0.0},
                                             {"test/accuracy": 46.0, "test/spearman_grad": 0.2}])
    _write(tmp_path, "synth-vqacp", "attn-align", [{"test/accuracy": 50.0}, {"test/accuracy": 51.0},
                                                   {"test/accuracy": 52.5}])
    rows = _by_key(check_claims(tmp_path))
    acc = rows["vqacp-accuracy"]  # differences 5, 6, 4: mean 5, sd 1, half-width t * 1 / sqrt(3)
    half = T_975_DF2 / math.sqrt(3)
    assert acc["difference"] == pytest.approx(5.0) and acc["ci95"] == pytest.approx([5 - half, 5 + half])
    assert acc["verdict"] == "holds" and acc["seeds"] == [0, 1, 2] and acc["a"] == pytest.approx(41.0)
    rho = rows["vqa-spearman"]  # differences 0, -0.2, -0.1: mean -0.1, sd 0.1
    assert rho["ci95"] == pytest.approx([-0.1 - 0.1 * half, -0.1 + 0.1 * half])
    assert rho["verdict"] == "not shown (the interval holds 0)"
    assert rows["attn-align-no-gain"]["verdict"].startswith("does not hold")  # +10 in every seed
    assert rows["top-iou"]["verdict"].startswith("not measurable here")  # no top_iou values
    assert rows["caption-cider"]["verdict"] == ("not measurable here (no records: synth-captions-robust/updn, "
                                                "synth-captions-robust/hint)")
    assert rows["few-maps"]["verdict"] == "not measurable here (no supervision-curve.json)"
    assert rows["human-trust"]["verdict"] == "not measurable here (needs human raters)"
    table = claims_markdown(list(rows.values()))
    assert "+5.00 [" in table and "39.49 → 46.73" in table


def test_negative_difference_and_the_curve(tmp_path):
    _write(tmp_path, "synth-captions-robust", "updn", [{"test/cider": 1.0}, {"test/cider": 1.1}])
    _write(tmp_path, "synth-captions-robust", "hint", [{"test/cider": 0.8}, {"test/cider": 0.92}])
    point = lambda fraction, value, low, high: {"fraction": fraction, "test_accuracy": {  # noqa: E731
        "value": value, "ci95": [low, high], "n": 100, "undefined": 0, "direction": "higher"}}
    (tmp_path / "supervision-curve.json").write_text(json.dumps(
        {"seed": 0, "points": [point(0.0, 40, 39, 41), point(0.02, 45, 44, 46), point(0.06, 41, 40, 42)]}))
    rows = _by_key(check_claims(tmp_path))
    assert rows["caption-cider"]["verdict"] == "does not hold (the difference is negative)"  # -0.2, -0.18
    assert rows["few-maps"]["verdict"] == "holds; measured at 2% of maps"
    assert rows["few-maps"]["difference"] == 5


def test_readme_markers(tmp_path):
    text = f"intro\n{BEGIN}\nold\n{END}\nrest\n"
    assert replace_between_markers(text, "new\n", tmp_path) == f"intro\n{BEGIN}\nnew\n{END}\nrest\n"
    with pytest.raises(GroundbenchError, match="needs one"):
        replace_between_markers("no markers", "x", tmp_path / "README.md")


def test_committed_readme_table_is_what_the_committed_records_give(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"a\n{BEGIN}\n{END}\n")
    result = CliRunner().invoke(main, ["claims", "--dir", str(ROOT / "leaderboards"), "--readme", str(readme),
                                       "--json", str(tmp_path / "claims.json")])
    assert result.exit_code == 0, result.output
    ours = readme.read_text().split(BEGIN)[1].split(END)[0]
    committed = (ROOT / "README.md").read_text().split(BEGIN)[1].split(END)[0]
    assert ours == committed
    assert json.loads((tmp_path / "claims.json").read_text()) == json.loads(
        (ROOT / "leaderboards" / "claims.json").read_text())
