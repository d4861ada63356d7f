"""``groundbench compare``: the paired statistics against hand-computed cases, and the command on one seed's
UpDn and HINT runs of a tiny synthetic world (and on official results files)."""
import json
import shutil
from collections import Counter

import numpy as np
import pytest

from groundbench.compare import ItemValues, align, compare_metric
from groundbench.errors import GroundbenchError
from groundbench.metrics.paired import binomial_two_sided_half, mcnemar_exact, paired_bootstrap

from test_cli import fails_cleanly, invoke

requires_java = pytest.mark.skipif(shutil.which("java") is None, reason="caption metrics need Java (CI has it)")


# -- the statistics -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("a_only, b_only, expected", [
    (0, 0, 1.0),                  # no discordant pair
    (0, 5, 2 / 32),               # 2 * P(X <= 0), X ~ Bin(5, 1/2)
    (1, 4, 2 * (1 + 5) / 32),     # 2 * (C(5,0) + C(5,1)) / 2^5 = 0.375
    (3, 3, 1.0),                  # balanced: 2 * P(X <= 3) > 1, capped
    (2, 8, 2 * (1 + 10 + 45) / 1024),
])
def test_mcnemar_exact_matches_hand_computed_p_values(a_only, b_only, expected):
    a = [1] * a_only + [0] * b_only + [1, 1, 0]  # the last three are concordant: they do not count
    b = [0] * a_only + [1] * b_only + [1, 1, 0]
    result = mcnemar_exact(a, b)
    assert (result["a_only"], result["b_only"], result["n"]) == (a_only, b_only, a_only + b_only + 3)
    assert result["p_value"] == pytest.approx(expected, rel=1e-12)


def test_binomial_p_value_agrees_with_scipy_small_and_large():
    stats = pytest.importorskip("scipy.stats")
    for k, n in [(0, 1), (7, 20), (100, 250), (9000, 20000), (14000, 30000)]:
        assert binomial_two_sided_half(k, n) == pytest.approx(stats.binomtest(k, n, 0.5).pvalue, rel=1e-8)


def test_mcnemar_needs_binary_outcomes_of_equal_length():
    with pytest.raises(ValueError, match="binary"):
        mcnemar_exact([0.5, 1], [1, 1])
    with pytest.raises(ValueError, match="length"):
        mcnemar_exact([1, 0], [1])
    assert mcnemar_exact([], [])["p_value"] is None


def test_bootstrap_of_identical_values_is_zero_with_p_one():
    a = np.random.default_rng(1).random(50)
    result = paired_bootstrap(a, a.copy(), n_boot=500)
    assert result["difference"] == 0 and result["ci95"] == [0.0, 0.0] and result["p_value"] == 1.0


def test_bootstrap_of_a_large_constant_shift_has_the_smallest_p():
    a = np.random.default_rng(2).random(40)
    result = paired_bootstrap(a, a + 10.0, n_boot=999)
    assert result["difference"] == pytest.approx(10.0)
    assert result["ci95"] == pytest.approx([10.0, 10.0])
    assert result["p_value"] == pytest.approx(1 / 1000)  # the add-one floor: no resample is as far as the null


def test_bootstrap_two_items_by_hand():
    # differences (0, 1): a resample's mean is 0, 0.5 or 1 with chances 1/4, 1/2, 1/4; delta = 0.5, and the
    # resamples at least 0.5 from it (0 or 1) have chance 1/2 -> p ~ 0.5; the 95% interval is [0, 1]
    result = paired_bootstrap([0.0, 0.0], [0.0, 1.0], n_boot=20_000, seed=3)
    assert result["difference"] == 0.5
    assert result["p_value"] == pytest.approx(0.5, abs=0.02)
    assert result["ci95"] == [0.0, 1.0]


def test_bootstrap_is_seeded_and_handles_tiny_inputs():
    rng = np.random.default_rng(4)
    a, b = rng.random(30), rng.random(30)
    assert paired_bootstrap(a, b, seed=7, n_boot=300) == paired_bootstrap(a, b, seed=7, n_boot=300)
    assert paired_bootstrap([], [])["difference"] is None
    one = paired_bootstrap([1.0], [2.0])
    assert one["difference"] == 1.0 and one["p_value"] is None  # nothing to resample
    with pytest.raises(ValueError, match="finite"):
        paired_bootstrap([np.nan, 1.0], [1.0, 1.0])


def test_items_are_aligned_by_id_and_undefined_rows_counted():
    a = ItemValues((1, 2, 3, 4), np.array([0.1, np.nan, 0.3, 0.4]))
    b = ItemValues((4, 3, 2, 1), np.array([0.8, np.nan, 0.5, 0.2]))
    x, y, undefined = align(a, b, "rho")
    assert x.tolist() == [0.1, 0.4] and y.tolist() == [0.2, 0.8] and undefined == 2
    with pytest.raises(GroundbenchError, match="different items"):
        align(a, ItemValues((1, 2, 3, 5), np.zeros(4)), "rho")


def test_binary_metrics_are_tested_with_mcnemar_and_name_the_better_run():
    a = ItemValues(tuple(range(20)), np.array([1.0] * 2 + [0.0] * 18), direction="lower", binary=True)
    b = ItemValues(tuple(range(20)), np.array([1.0] * 14 + [0.0] * 6), direction="lower", binary=True)
    entry = compare_metric(a, b, "chair_s", n_boot=500, seed=0, alpha=0.05)
    assert entry["test"] == "McNemar exact" and entry["mcnemar"]["b_only"] == 12
    assert entry["p_value"] == pytest.approx(2 / 2 ** 12)
    assert entry["significant"] and entry["better"] == "A"  # lower is better and B hallucinates more


# -- the command ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One seed's UpDn and HINT on a tiny synthetic world with human maps on every train question."""
    root = tmp_path_factory.mktemp("compare")
    world, cache = root / "world", root / "cache"
    assert invoke("data", "synth", "--images", 60, "--hat-fraction", 1, "--out", world, "--quiet").exit_code == 0
    common = ("--data", world, "--device", "cpu", "--cache-dir", cache, "--epochs", 1)
    result = invoke("train", "updn", "--out", root / "updn", *common)
    assert result.exit_code == 0, result.output
    result = invoke("train", "hint", "--init", root / "updn", "--out", root / "hint", "--batch-size", 32,
                    "--lr", 0.002, "--lam", 1, *common)
    assert result.exit_code == 0, result.output
    return root, world, cache


def _compare(runs, tmp_path, *args):
    _, _, cache = runs
    out = tmp_path / "report.json"
    result = invoke("compare", *args, "--cache-dir", cache, "--device", "cpu", "--resamples", 2000, "--out", out)
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text()), result.output


def test_a_run_compared_with_itself_differs_in_nothing(runs, tmp_path):
    root, _, _ = runs
    report, output = _compare(runs, tmp_path, root / "updn", root / "updn" / "best.safetensors")
    assert report["task"] == "vqa" and report["split"] == "test"
    assert set(report["metrics"]) == {"accuracy", "fully_correct", "spearman_grad", "spearman_attn"}
    for name, m in report["metrics"].items():
        assert m["difference"] == 0 and m["ci95"] == [0, 0] and m["p_value"] == 1, name
        assert not m["significant"] and m["n"] > 0
    assert report["metrics"]["fully_correct"]["mcnemar"] == {"a_only": 0, "b_only": 0, "p_value": 1.0}
    assert "| accuracy ↑" in output and "significant at 0.05" in output


def test_one_seeds_hint_and_updn_differ_significantly_in_grounding(runs, tmp_path):
    root, _, _ = runs
    report, output = _compare(runs, tmp_path, root / "updn", root / "hint")
    rho = report["metrics"]["spearman_grad"]
    assert report["a"]["method"] == "updn" and report["b"]["method"] == "hint"
    assert rho["significant"] and rho["p_value"] < 0.01 and rho["better"] == "B"
    assert rho["difference"] > 0.1 and rho["ci95"][0] > 0  # HINT ranks proposals more like the humans
    assert "yes (B better)" in output


def _oracle_results(world, path):
    from groundbench.data.store import VQAStore

    records = VQAStore.open(world).records("test")
    path.write_text(json.dumps([{"question_id": r["question_id"], "answer": Counter(r["answers"]).most_common(1)[0][0]}
                                for r in records]))
    return path


def test_results_files_are_compared_like_checkpoints(runs, tmp_path):
    root, world, _ = runs
    oracle = _oracle_results(world, tmp_path / "oracle.json")
    report, _ = _compare(runs, tmp_path, "--results-a", oracle, "--results-b", oracle, "--data", world)
    assert set(report["metrics"]) == {"accuracy", "fully_correct"}
    assert all(m["p_value"] == 1 for m in report["metrics"].values())
    report, _ = _compare(runs, tmp_path, root / "updn", "--results-b", oracle)  # the checkpoint's data
    accuracy, correct = report["metrics"]["accuracy"], report["metrics"]["fully_correct"]
    assert accuracy["better"] == "B" and accuracy["p_value"] < 0.01 and accuracy["b"] > 90
    assert correct["test"] == "McNemar exact" and correct["p_value"] < 1e-6 and correct["better"] == "B"


def _altered(runs, tmp_path, change):
    from groundbench.checkpoint import load_checkpoint, save_checkpoint

    tensors, meta = load_checkpoint(runs[0] / "hint" / "best.safetensors")
    change(meta)
    return save_checkpoint(tmp_path / "altered.safetensors", tensors, meta)


@pytest.mark.parametrize("change, needle", [
    (lambda m: m.update(task="captioning"), "compare runs of one task"),
    (lambda m: m.update(data_manifest_sha256="0" * 64), "trained on different data"),
    (lambda m: m.update(answers=m["answers"][::-1]), "answer lists differ (first at index 0"),
])
def test_runs_of_other_tasks_or_data_are_refused(runs, tmp_path, change, needle):
    line = fails_cleanly(invoke("compare", runs[0] / "updn", _altered(runs, tmp_path, change),
                                "--cache-dir", runs[2]), needle)
    assert "altered.safetensors" in line


def test_misuse_is_one_line(runs, tmp_path):
    root, world, cache = runs
    fails_cleanly(invoke("compare", root / "updn", tmp_path / "nope.safetensors"), "nope.safetensors")
    fails_cleanly(invoke("compare", root / "updn"), "run B is missing")
    fails_cleanly(invoke("compare", root / "updn", root / "hint", "--results-a", tmp_path / "a.json"), "too many runs")
    fails_cleanly(invoke("compare", root / "updn", root / "hint", "--split", "nope", "--cache-dir", cache),
                  "unknown split 'nope'")
    fails_cleanly(invoke("compare", "--results-a", tmp_path / "a.json", "--results-b", tmp_path / "a.json"),
                  "results file not found")
    (tmp_path / "a.json").write_text("[]")
    fails_cleanly(invoke("compare", "--results-a", tmp_path / "a.json", "--results-b", tmp_path / "a.json"),
                  "pass --data")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    fails_cleanly(invoke("compare", root / "updn", root / "hint", "--out", blocker / "r.json"), "cannot write")


@requires_java
def test_caption_results_files_differ_in_cider(tmp_path):
    world = tmp_path / "captions"
    assert invoke("data", "synth-captions", "--images", 40, "--out", world, "--quiet").exit_code == 0
    from groundbench.data.caption_store import CaptionStore

    references = CaptionStore.open(world / "robust").references("test")
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps([{"image_id": i, "caption": refs[0]} for i, refs in references.items()]))
    bad.write_text(json.dumps([{"image_id": i, "caption": "a picture"} for i in references]))
    out = tmp_path / "report.json"
    result = invoke("compare", "--results-a", bad, "--results-b", good, "--data", world / "robust", "--out", out,
                    "--resamples", 2000)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["task"] == "captioning" and set(report["metrics"]) == {"cider", "chair_s"}
    cider = report["metrics"]["cider"]
    assert cider["significant"] and cider["better"] == "B" and cider["n"] == len(references)
