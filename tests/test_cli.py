"""The command line end to end on a small synthetic world, and its answers to bad input."""
import json
import pickle

import pytest
from click.testing import CliRunner

from groundbench.cli import main


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def fails_cleanly(result, *needles):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    cache = root / "cache"
    result = invoke("demo", "--images", 120, "--epochs", 2, "--methods", "updn,blind,hint,hint-random",
                    "--out", root / "demo", "--cache-dir", cache, "--device", "cpu")
    assert result.exit_code == 0, result.output
    return root, cache, result.output


def test_demo_trains_scores_and_prints_a_table(world):
    root, _, output = world
    assert "Generating the synthetic world (first use)" in output
    records = sorted(p.name for p in (root / "demo" / "records" / "synth-vqacp").glob("*.json"))
    assert records == ["blind-s0.json", "hint-random-s0.json", "hint-s0.json", "updn-s0.json"]
    record = json.loads((root / "demo" / "records" / "synth-vqacp" / "hint-s0.json").read_text())
    assert record["metrics"]["test/spearman_grad"]["direction"] == "higher"
    assert record["metrics"]["test/cpig"]["direction"] == "lower"
    assert 0 <= record["metrics"]["test/accuracy"]["value"] <= 100
    for method in ("updn", "blind", "hint", "hint-random"):
        assert f"| {method}" in output


def test_eval_needs_only_the_checkpoint(world, tmp_path):
    root, cache, _ = world
    report = tmp_path / "report.json"
    result = invoke("eval", "--checkpoint", root / "demo" / "updn-s0", "--cache-dir", cache, "--out", report,
                    "--device", "cpu")
    assert result.exit_code == 0, result.output
    data = json.loads(report.read_text())
    assert set(data["splits"]) == {"val", "test"}
    assert data["splits"]["test"]["accuracy"]["n"] > 0
    assert "spearman_grad" in data["splits"]["test"]


def test_train_resume_continues_a_run(world, tmp_path):
    root, cache, _ = world
    data = cache / "synthetic"
    store = next(p for p in data.iterdir() if (p / "manifest.json").exists())
    out = tmp_path / "run"
    first = invoke("train", "updn", "--data", store, "--epochs", 1, "--out", out, "--device", "cpu")
    assert first.exit_code == 0, first.output
    again = invoke("train", "updn", "--data", store, "--epochs", 2, "--out", out, "--resume", "--device", "cpu")
    assert again.exit_code == 0, again.output
    assert "Resuming" in again.output
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history["history"]] == [1, 2]


def test_pickle_checkpoint_is_refused_without_unpickling(tmp_path):
    marker = tmp_path / "unpickled"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    bad = tmp_path / "model.pt"
    bad.write_bytes(pickle.dumps(Evil()))
    fails_cleanly(invoke("eval", "--checkpoint", bad), str(bad), "pickle")
    assert not marker.exists()


def test_missing_and_corrupt_checkpoints(tmp_path):
    fails_cleanly(invoke("eval", "--checkpoint", tmp_path / "nope.safetensors"), "nope.safetensors")
    corrupt = tmp_path / "bad.safetensors"
    corrupt.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage")
    fails_cleanly(invoke("eval", "--checkpoint", corrupt), "bad.safetensors")


def test_data_directory_without_the_expected_files(tmp_path):
    fails_cleanly(invoke("train", "updn", "--data", tmp_path, "--out", tmp_path / "r"), str(tmp_path))


def test_results_file_with_a_missing_field(world, tmp_path):
    root, cache, _ = world
    results = tmp_path / "results.json"
    results.write_text(json.dumps([{"question_id": 1}]))
    store = next(p for p in (cache / "synthetic").iterdir() if (p / "manifest.json").exists())
    line = fails_cleanly(invoke("eval", "--results", results, "--data", store, "--split", "test"), "results.json")
    assert "record 0" in line and "answer" in line


def test_wrong_split_is_clear(world):
    _, cache, _ = world
    store = next(p for p in (cache / "synthetic").iterdir() if (p / "manifest.json").exists())
    fails_cleanly(invoke("train", "updn", "--split", "v2", "--data", store), "split")
    fails_cleanly(invoke("train", "updn", "--split", "robust", "--data", store), "unknown split 'robust'")


def test_results_file_is_scored_with_the_official_metric(world, tmp_path):
    from groundbench.data.store import VQAStore
    from groundbench.metrics.vqa import vqa_accuracy

    _, cache, _ = world
    path = next(p for p in (cache / "synthetic").iterdir() if (p / "manifest.json").exists())
    records = VQAStore.open(path).records("test")
    answers = [{"question_id": r["question_id"], "answer": "yes" if i % 2 else r["answers"][0]}
               for i, r in enumerate(records)]
    results, report = tmp_path / "results.json", tmp_path / "report.json"
    results.write_text(json.dumps(answers))
    out = invoke("eval", "--results", results, "--data", path, "--split", "test", "--out", report)
    assert out.exit_code == 0, out.output
    expected = 100 * sum(vqa_accuracy(a["answer"], r["answers"]) for a, r in zip(answers, records)) / len(records)
    assert json.loads(report.read_text())["splits"]["test"]["accuracy"]["value"] == pytest.approx(expected)


def test_supervision_curve_writes_json_and_png(tmp_path):
    out = tmp_path / "curve"
    result = invoke("curve", "--images", 60, "--epochs", 1, "--fractions", "0,0.5,1", "--out", out,
                    "--cache-dir", tmp_path / "cache", "--device", "cpu")
    assert result.exit_code == 0, result.output
    data = json.loads((out / "curve.json").read_text())
    assert [p["fraction"] for p in data["points"]] == [0.0, 0.5, 1.0]
    counts = [p["train_questions_with_maps"] for p in data["points"]]
    assert counts[0] == 0 < counts[1] < counts[2] == data["train_questions"]
    assert (out / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fails_cleanly(invoke("curve", "--fractions", "0,2", "--out", out), "fractions")
    fails_cleanly(invoke("curve", "--method", "updn", "--out", out), "fine-tuning")
    fails_cleanly(invoke("curve", "--method", "hint-tbptt", "--out", tmp_path / "c2"), "applies to captioning only")
    assert not (tmp_path / "c2").exists()


def test_epoch_trace_observer_agrees_with_eval(world, tmp_path):
    """The per-epoch trace's Spearman is the mean that `groundbench eval` reports for the same model."""
    from groundbench.evaluate import evaluate
    from groundbench.experiment import data_from_metadata, model_from_checkpoint
    from groundbench.trace import split_observer

    root, cache, _ = world
    model, meta = model_from_checkpoint(root / "demo" / "hint-s0" / "best.safetensors")
    store = data_from_metadata(meta, None, cache, lambda *a, **k: None)
    traced = split_observer(store, ["test"], "cpu")(model.eval())
    report = evaluate(model, store, ["test"])["splits"]["test"]
    assert traced["test/spearman_grad"] == pytest.approx(report["spearman_grad"]["value"], abs=1e-9)
    assert 0 <= traced["test/soft_accuracy"] <= 100


@pytest.mark.parametrize("args, needle", [
    (("train", "hint", "--task", "speech"), "Invalid value for '--task'"),
    (("train", "hint", "--split", "robust", "--task", "vqa", "--data", "/nonexistent"), ""),
    (("evaluate",), "No such command 'evaluate'"),
    (("eval", "--checkpoint-file", "x"), "No such option"),
])
def test_misspelt_commands_and_options_are_one_line_errors(args, needle):
    fails_cleanly(invoke(*args), needle)


@pytest.mark.parametrize("extra, needle", [
    (("--epochs", -1), "epochs must be an integer >= 1"),
    (("--epochs", 0), "epochs must be an integer >= 1"),
    (("--lr", "nan"), "lr must be a finite number > 0"),
    (("--lr", -0.1), "lr must be a finite number > 0"),
    (("--lr", "inf"), "lr must be a finite number > 0"),
    (("--batch-size", 0), "batch_size must be an integer >= 1"),
    (("--lam", "nan"), "lam must be a finite number >= 0"),
    (("--seed", -1), "--seed"),
    (("--device", "cuda:7"), "--device cuda:7"),
    (("--device", "tpu"), "--device"),
])
def test_bad_training_options_fail_before_any_work(tmp_path, extra, needle):
    out = tmp_path / "run"
    fails_cleanly(invoke("train", "hint", "--cache-dir", tmp_path / "cache", "--out", out, *extra), needle)
    assert not (tmp_path / "cache").exists() and not (out / "last.safetensors").exists()


def test_unusable_output_paths_fail_before_any_work(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cache = tmp_path / "cache"
    fails_cleanly(invoke("train", "updn", "--cache-dir", cache, "--out", blocker), "cannot write here")
    fails_cleanly(invoke("train", "updn", "--cache-dir", cache, "--out", blocker / "run"), "cannot write here")
    assert not cache.exists()


def test_recipes_with_bad_settings_name_the_file(tmp_path):
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"method": "hint", "method_config": {"lr": "fast"}}))
    line = fails_cleanly(invoke("train", "hint", "--config", recipe, "--cache-dir", tmp_path / "c"), "lr must be")
    assert str(recipe) in line
    fails_cleanly(invoke("train", "hint", "--config", tmp_path / "missing.json"), "recipe not found", "missing.json")


def _altered_checkpoint(world, tmp_path, change_meta=None, change_tensors=None):
    from groundbench.checkpoint import load_checkpoint, save_checkpoint

    root, _, _ = world
    tensors, meta = load_checkpoint(root / "demo" / "updn-s0" / "best.safetensors")
    if change_meta:
        change_meta(meta)
    if change_tensors:
        change_tensors(tensors)
    return save_checkpoint(tmp_path / "altered.safetensors", tensors, meta)


@pytest.mark.parametrize("change, needle", [
    (lambda m: m.pop("model"), "'model.name' must be a string"),
    (lambda m: m["model"].update(config=[1, 2]), "'model.config' must be a JSON object"),
    (lambda m: m.update(task="speech"), "'task' must be one of"),
    (lambda m: m.update(method="hint"), "'method.name' must be a string"),
    (lambda m: m.update(answers=[1, 2]), "'answers' must be a list of strings"),
    (lambda m: m["model"].update(name="nosuchmodel"), "unknown model 'nosuchmodel'"),
    (lambda m: m["model"]["config"].update(num_hid="big"), ""),
])
def test_bad_checkpoint_metadata_is_named_before_any_evaluation(world, tmp_path, change, needle):
    path = _altered_checkpoint(world, tmp_path, change_meta=change)
    line = fails_cleanly(invoke("eval", "--checkpoint", path, "--cache-dir", world[1], "--device", "cpu"), needle)
    assert str(path) in line


def test_non_finite_and_misshapen_weights_are_named(world, tmp_path):
    from groundbench.checkpoint import load_checkpoint

    tensors, _ = load_checkpoint(world[0] / "demo" / "updn-s0" / "best.safetensors")
    name = next(k for k, v in tensors.items() if v.is_floating_point() and v.dim() == 1)
    path = _altered_checkpoint(world, tmp_path, change_tensors=lambda t: t.update({name: t[name] * float("nan")}))
    fails_cleanly(invoke("eval", "--checkpoint", path, "--cache-dir", world[1]), "non-finite weights", name)
    path = _altered_checkpoint(world, tmp_path, change_tensors=lambda t: t.update({name: t[name][:-1]}))
    fails_cleanly(invoke("eval", "--checkpoint", path, "--cache-dir", world[1]), f"'{name}' has shape")


def test_a_plain_zip_is_not_called_a_pickle(tmp_path):
    import zipfile

    path = tmp_path / "model.safetensors"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    fails_cleanly(invoke("eval", "--checkpoint", path), "zip archive")


def test_eval_checks_its_output_path_before_evaluating(world, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for out in (blocker / "report.json", tmp_path):
        fails_cleanly(invoke("eval", "--checkpoint", world[0] / "demo" / "updn-s0", "--cache-dir", world[1],
                             "--out", out), "cannot write")


def test_select_val_spearman_keeps_the_most_grounded_epoch(world, tmp_path):
    """--select val-spearman: the best epoch has the highest val Spearman, which is eval's val spearman_grad of
    that checkpoint; the criterion is in the metadata, and a resume under another criterion is refused."""
    from groundbench.evaluate import evaluate
    from groundbench.experiment import data_from_metadata, model_from_checkpoint

    root, cache, _ = world
    init = root / "demo" / "updn-s0"
    store_path = json.loads((init / "best.json").read_text())["metadata"]["data"]["path"]  # the demo's small world
    out = tmp_path / "hint-spearman"
    result = invoke("train", "hint", "--init", init, "--data", store_path, "--epochs", 2, "--select", "val-spearman",
                    "--out", out, "--cache-dir", cache, "--device", "cpu")
    assert result.exit_code == 0, result.output
    history = json.loads((out / "history.json").read_text())
    scores = [h["val_score"] for h in history["history"]]
    assert history["best_epoch"] == 1 + scores.index(max(scores))
    model, meta = model_from_checkpoint(out / "best.safetensors")
    assert meta["train"]["select"] == "val-spearman" and meta["train"]["selection"].startswith("val Spearman")
    store = data_from_metadata(meta, None, cache, lambda *a, **k: None)
    report = evaluate(model.eval(), store, ["val"])["splits"]["val"]
    assert max(scores) == pytest.approx(report["spearman_grad"]["value"], abs=1e-6)
    fails_cleanly(invoke("train", "hint", "--init", init, "--data", store_path, "--epochs", 3, "--out", out,
                         "--resume", "--cache-dir", cache, "--device", "cpu"),
                  "this run selects by val-spearman, not val-score")
