"""Captioning through the command line on a tiny synthetic captioning world: train, fine-tune, eval, demo,
leaderboard, and the clean errors for misuse."""
import json
import shutil

import pytest
from click.testing import CliRunner

from groundbench.cli import main

from test_cli import fails_cleanly

requires_java = pytest.mark.skipif(shutil.which("java") is None, reason="caption metrics need Java (CI has it)")


def invoke(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, env=env)


@pytest.fixture(scope="module")
def cap(tmp_path_factory):
    root = tmp_path_factory.mktemp("cap")
    cache = root / "cache"
    env = {"GROUNDBENCH_CACHE": str(cache)}
    # the users' first command, with a small world and few epochs (the only changes from the defaults)
    result = invoke("demo", "--task", "captioning", "--images", 150, "--epochs", 2, "--methods", "updn,hint",
                    "--out", root / "demo", "--device", "cpu", env=env)
    assert result.exit_code == 0, result.output
    return root, cache, env, result.output


@requires_java
def test_captioning_demo_writes_records_with_caption_metrics_chair_and_grounding(cap):
    root, _, _, output = cap
    assert "Generating the synthetic captioning world" in output
    folder = root / "demo" / "records" / "synth-captions-robust"
    assert sorted(p.name for p in folder.glob("*.json")) == ["hint-s0.json", "updn-s0.json"]
    record = json.loads((folder / "hint-s0.json").read_text())
    metrics = record["metrics"]
    for name in ("cider", "bleu4", "meteor", "rouge_l", "chair_i", "chair_s", "spearman_grad", "spearman_attn",
                 "occl_grad", "top_iou"):
        assert f"test/{name}" in metrics, name
    assert metrics["test/chair_s"]["direction"] == "lower"
    assert metrics["test/spearman_grad"]["n"] > 0
    assert -1 <= metrics["test/spearman_grad"]["value"] <= 1
    assert record["config"]["train"]["selection"].startswith("val CIDEr-D")
    assert "test/cider" in output  # the table


@requires_java
def test_train_hint_captioning_robust_pretrains_first_then_eval_scores_it(cap, tmp_path):
    _, cache, env, _ = cap
    run = tmp_path / "hint"
    result = invoke("train", "hint", "--task", "captioning", "--split", "robust", "--epochs", 1, "--out", run,
                    "--data", next((cache / "synthetic").glob("synth-captions-1*/robust")), env=env)
    assert result.exit_code == 0, result.output
    assert "pretraining UpDn first" in result.output
    report_path = tmp_path / "report.json"
    result = invoke("eval", "--checkpoint", run / "best.safetensors", "--split", "test", "--out", report_path, env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    assert report["task"] == "captioning"
    test = report["splits"]["test"]
    assert 0 <= test["cider"]["value"] <= 10 and 0 <= test["chair_i"]["value"] <= 1
    assert len(report["captions"]["test"]) == test["cider"]["n"]
    assert "chair_s" in result.output and "spearman_grad" in result.output


def test_misuse_is_a_clean_error(cap, tmp_path):
    root, cache, env, _ = cap
    vqa_like = tmp_path / "not-a-store"
    vqa_like.mkdir()
    fails_cleanly(invoke("train", "updn", "--task", "captioning", "--split", "nope", env=env), "unknown split")
    fails_cleanly(invoke("train", "blind", "--task", "captioning", env=env), "no captioning model")
    fails_cleanly(invoke("train", "updn", "--task", "captioning", "--data", vqa_like, env=env), "manifest")
    store = next((cache / "synthetic").glob("synth-captions-1*/robust"))
    fails_cleanly(invoke("train", "updn", "--task", "captioning", "--split", "standard", "--data", store, env=env),
                  "split scheme")
    ckpt = root / "demo" / "updn-s0" / "best.safetensors"
    vqa_cache = tmp_path / "vqa"
    result = invoke("data", "synth", "--images", 60, "--out", vqa_cache / "w", "--quiet")
    assert result.exit_code == 0, result.output
    fails_cleanly(invoke("eval", "--checkpoint", ckpt, "--data", vqa_cache / "w", env=env))


@requires_java
def test_supervision_curve_for_captioning(cap, tmp_path):
    """`curve --task captioning`: a store with masks on every train image, fraction 0 = the pretrained captioner."""
    root, cache, env, _ = cap
    out = tmp_path / "curve"
    result = invoke("curve", "--task", "captioning", "--images", 150, "--epochs", 1, "--fractions", "0,0.5,1",
                    "--out", out, "--device", "cpu", env=env)
    assert result.exit_code == 0, result.output
    data = json.loads((out / "curve.json").read_text())
    assert data["task"] == "captioning" and data["headline"] == "cider" and data["split"] == "robust"
    counts = [p["train_images_with_masks"] for p in data["points"]]
    assert counts[0] == 0 and 0 < counts[1] < counts[2] == data["train_images"]
    assert all(0 <= p["test_cider"]["value"] for p in data["points"])
    assert data["points"][1]["test_spearman_grad"]["n"] > 0
    assert (out / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_hint_tbptt_trains_a_captioner_and_refuses_what_it_cannot_do(cap, tmp_path):
    """hint-tbptt: HINT with the importance truncated to the last --horizon decoder steps (captioning only)."""
    root, cache, env, _ = cap
    store = next((cache / "synthetic").glob("synth-captions-1*/robust"))
    init = root / "demo" / "updn-s0" / "best.safetensors"
    run = tmp_path / "tbptt"
    result = invoke("train", "hint-tbptt", "--task", "captioning", "--data", store, "--init", init, "--epochs", 1,
                    "--horizon", 1, "--out", run, env=env)
    assert result.exit_code == 0, result.output
    meta = json.loads((run / "best.json").read_text())["metadata"]
    assert meta["method"] == {"name": "hint-tbptt", "hyperparameters": {
        "epochs": 1, "batch_size": 64, "lr": 0.0002, "lam": 1.0, "horizon": 1}}
    fails_cleanly(invoke("train", "hint-tbptt", "--cache-dir", tmp_path / "c"), "applies to captioning only")
    fails_cleanly(invoke("train", "hint", "--task", "captioning", "--horizon", 2, env=env),
                  "--horizon does not apply to 'hint'")
    fails_cleanly(invoke("train", "hint-tbptt", "--task", "captioning", "--horizon", 0, env=env),
                  "horizon must be an integer >= 1")
    fails_cleanly(invoke("train", "hint-tbptt", "--task", "captioning", "--nproc", 2, env=env), "one process only")
    fails_cleanly(invoke("demo", "--methods", "updn,hint-tbptt", "--out", tmp_path / "d", env=env),
                  "applies to captioning only")
    assert not (tmp_path / "d").exists()
    assert not (tmp_path / "c").exists()
