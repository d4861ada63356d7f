"""groundbench leaderboard --baseline: cells whose paired per-seed difference from the baseline row has a 95%
t-interval excluding 0 are marked, in every format; hand-computed intervals; a missing baseline is an error."""
import json
import math

import pytest
from click.testing import CliRunner

from groundbench.cli import main
from groundbench.errors import GroundbenchError
from groundbench.leaderboard import build_leaderboard
from groundbench.leaderboard_significance import mark_against
from groundbench.results import make_record, save_record

T_975_DF2 = 4.302652729911275


@pytest.fixture
def records(tmp_path):
    rows = {"updn": [40.0, 41.0, 42.0], "hint": [45.0, 47.0, 46.0], "finetune": [41.0, 40.0, 43.0]}
    for method, values in rows.items():
        for seed, value in enumerate(values):
            save_record(tmp_path / "synth-vqacp" / f"{method}-s{seed}.json",
                        make_record("synth-vqacp", method, "updn", seed, {"test/accuracy": value},
                                    code_version="t", date="2026-01-01"))
    return tmp_path


def test_paired_intervals_by_hand(records):
    (table,) = mark_against(build_leaderboard(records, benchmark="synth-vqacp"), "updn")
    cells = {r.method: r.cells["test/accuracy"] for r in table.rows}
    assert cells["updn"].versus is None
    hint = cells["hint"].versus  # differences 5, 6, 4: mean 5, sd 1
    half = T_975_DF2 / math.sqrt(3)
    assert hint["difference"] == pytest.approx(5) and hint["ci95"] == pytest.approx([5 - half, 5 + half])
    assert hint["significant"] and hint["seeds"] == [0, 1, 2]
    assert not cells["finetune"].versus["significant"]  # differences 1, -1, 1


def test_every_format_marks_and_json_carries_it(records):
    run = lambda *a: CliRunner().invoke(main, ["leaderboard", "--dir", str(records), "--baseline", "updn", *a])  # noqa: E731
    text = run().output
    assert "46.00 ± 1.00†" in text and "41.33 ± 1.53 " in text and "from the updn row" in text
    assert "†" in run("--format", "latex").output
    assert "<sup" in run("--format", "html").output
    data = json.loads(run("--format", "json").output)
    hint = next(r for r in data[0]["rows"] if r["method"] == "hint")
    assert hint["cells"]["test/accuracy"]["versus"]["significant"] is True
    plain = CliRunner().invoke(main, ["leaderboard", "--dir", str(records)]).output
    assert "†" not in plain


def test_missing_baseline_is_named(records):
    with pytest.raises(GroundbenchError, match="no measured 'blind' row in benchmark synth-vqacp"):
        mark_against(build_leaderboard(records), "blind")
    result = CliRunner().invoke(main, ["leaderboard", "--dir", str(records), "--baseline", "blind"])
    assert result.exit_code == 2 and "error: no measured 'blind' row" in result.output
