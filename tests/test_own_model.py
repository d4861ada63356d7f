"""Bring your own model: naming it (module:Class, entry points), the checks before training, and the example
model going train -> hint -> eval -> predictions through the CLI."""
import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from groundbench.cli import main
from groundbench.errors import GroundbenchError
from groundbench.models import build_model
from groundbench.models.external import constructor_kwargs, resolve_model_class

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = "examples.bilinear_vqa:BilinearPoolVQA"


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def fails_cleanly(result, *needles):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip() and not line.startswith("note:")]
    assert lines and lines[-1].startswith("error: ") and "Traceback" not in result.output, result.output
    for needle in needles:
        assert needle in lines[-1], lines[-1]
    return lines[-1]


def test_module_class_specs_resolve_from_the_working_directory(monkeypatch):
    monkeypatch.chdir(REPO)
    cls = resolve_model_class(EXAMPLE)
    assert cls.__name__ == "BilinearPoolVQA"
    kwargs = constructor_kwargs(cls, {"num_tokens": 10, "num_answers": 5, "v_dim": 8, "unused": 1}, {"hidden": 12})
    assert kwargs == {"num_tokens": 10, "num_answers": 5, "v_dim": 8, "hidden": 12}
    model = build_model(EXAMPLE, kwargs)
    out = model(torch.randn(2, 4, 8), torch.zeros(2, 4, 4), torch.ones(2, 4, dtype=torch.bool),
                torch.tensor([[3, 4, 0], [5, 0, 0]]))
    assert out.logits.shape == (2, 5) and torch.allclose(out.attention.sum(1), torch.ones(2))


@pytest.mark.parametrize("spec, needle", [
    ("examples.bilinear_vqa", "unknown model"),
    ("no_such_pkg.mod:Net", "cannot import 'no_such_pkg.mod'"),
    ("examples.bilinear_vqa:Nope", "has no attribute 'Nope'"),
    ("own_models:NOT_A_MODULE", "not a torch.nn.Module subclass"),
])
def test_bad_model_specs_are_one_line_errors(monkeypatch, spec, needle):
    monkeypatch.chdir(REPO)
    with pytest.raises(GroundbenchError, match=needle):
        resolve_model_class(spec)


def test_entry_points_of_installed_packages_name_models(tmp_path, monkeypatch):
    pkg = tmp_path / "thirdparty_nets"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from torch import nn\n\nclass TinyNet(nn.Module):\n"
                                     "    def __init__(self, v_dim=3):\n        super().__init__()\n"
                                     "        self.lin = nn.Linear(v_dim, 1)\n")
    dist = tmp_path / "thirdparty_nets-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty-nets\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[groundbench.models]\ntinynet = thirdparty_nets:TinyNet\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert resolve_model_class("tinynet").__name__ == "TinyNet"
    assert build_model("tinynet", {"v_dim": 7}).lin.in_features == 7
    with pytest.raises(GroundbenchError, match="tinynet"):
        resolve_model_class("othernet")


@pytest.fixture(scope="module")
def small_world(tmp_path_factory):
    root = tmp_path_factory.mktemp("own")
    result = invoke("data", "synth", "--images", 120, "--out", root / "world", "--quiet")
    assert result.exit_code == 0, result.output
    return root


def _train(world, method, *extra):
    return invoke("train", method, "--data", world / "world", "--device", "cpu", "--cache-dir", world / "cache",
                  *extra)


@pytest.mark.parametrize("model, method, needle", [
    ("own_models:DetachedVQA", "hint", "cannot be HINT-tuned"),
    ("own_models:TupleVQA", "updn", "return groundbench.models.protocol.VQAOutput"),
    ("own_models:NaNVQA", "updn", "non-finite"),
    ("own_models:WrongShapeVQA", "updn", "logits have shape"),
    ("own_models:NoAttentionVQA", "attn-align", "no attention weights"),
])
def test_models_that_cannot_do_what_the_method_needs_fail_before_training(small_world, monkeypatch, model, method,
                                                                          needle):
    monkeypatch.chdir(REPO / "tests")
    out = small_world / f"bad-{method}-{model.split(':')[1]}"
    result = _train(small_world, method, "--model", model, "--epochs", 1, "--out", out)
    fails_cleanly(result, needle)
    assert not (out / "best.safetensors").exists()


def test_a_model_without_attention_trains_with_a_note(small_world, monkeypatch):
    monkeypatch.chdir(REPO / "tests")
    out = small_world / "noatt"
    result = _train(small_world, "updn", "--model", "own_models:NoAttentionVQA", "--epochs", 1, "--out", out)
    assert result.exit_code == 0, result.output
    assert "no attention weights: attention metrics are skipped" in result.output
    report = small_world / "noatt.json"
    result = invoke("eval", "--checkpoint", out, "--out", report, "--device", "cpu", "--split", "test")
    assert result.exit_code == 0, result.output
    test = json.loads(report.read_text())["splits"]["test"]
    assert test["spearman_attn"] is None and test["spearman_grad"] is not None


def test_example_model_trains_hint_tunes_and_scores_through_the_cli(small_world, monkeypatch):
    monkeypatch.chdir(REPO)
    args = small_world / "args.json"
    args.write_text(json.dumps({"hidden": 32, "rank": 8}))
    pre, hint = small_world / "pre", small_world / "hint"
    result = _train(small_world, "updn", "--model", EXAMPLE, "--model-args", args, "--epochs", 2, "--out", pre)
    assert result.exit_code == 0, result.output
    meta = json.loads((pre / "best.json").read_text())["metadata"]
    assert meta["model"] == {"name": EXAMPLE, "config": {"num_tokens": meta["model"]["config"]["num_tokens"],
                                                         "num_answers": len(meta["answers"]), "v_dim": 64,
                                                         "hidden": 32, "rank": 8}}
    assert len(meta["data_manifest_sha256"]) == 64
    result = _train(small_world, "hint", "--model", EXAMPLE, "--init", pre, "--epochs", 2, "--out", hint)
    assert result.exit_code == 0, result.output
    hint_meta = json.loads((hint / "best.json").read_text())["metadata"]
    assert hint_meta["model"] == meta["model"] and hint_meta["method"]["name"] == "hint"
    report, preds = small_world / "hint-report.json", small_world / "preds.json"
    result = invoke("eval", "--checkpoint", hint, "--split", "test", "--out", report, "--predictions", preds,
                    "--device", "cpu")
    assert result.exit_code == 0, result.output
    test = json.loads(report.read_text())["splits"]["test"]
    assert test["accuracy"]["n"] > 0 and test["spearman_grad"]["n"] > 0 and test["spearman_attn"]["n"] > 0
    results = json.loads(preds.read_text())
    assert {"question_id", "answer"} == set(results[0]) and len(results) == test["accuracy"]["n"]
    # the predictions, scored from the official-format files alone, give eval's accuracy
    raw, scored = small_world / "world" / "raw", small_world / "scored.json"
    result = invoke("score", "vqa", "--questions", raw / "vqacp_v2_test_questions.json", "--annotations",
                    raw / "vqacp_v2_test_annotations.json", "--results", preds, "--out", scored)
    assert result.exit_code == 0, result.output
    overall = json.loads(scored.read_text())["overall"]
    assert overall["count"] == test["accuracy"]["n"]
    assert overall["accuracy"] == pytest.approx(test["accuracy"]["value"], abs=1e-9)
    # fine-tuning without naming the model again: the --init checkpoint's metadata names it
    result = _train(small_world, "attn-align", "--init", pre, "--epochs", 1, "--out", small_world / "aa")
    assert result.exit_code == 0, result.output


def test_a_plain_state_dict_needs_the_model_named(small_world, monkeypatch):
    monkeypatch.chdir(REPO)
    args = small_world / "args-plain.json"
    args.write_text(json.dumps({"hidden": 16, "rank": 4}))
    out = small_world / "plain"
    assert _train(small_world, "updn", "--model", EXAMPLE, "--model-args", args, "--epochs", 1,
                  "--out", out).exit_code == 0
    from safetensors.torch import load_file

    state = {k: v for k, v in load_file(str(out / "best.safetensors")).items()}
    pt = small_world / "theirs.pt"
    torch.save(state, pt)
    fails_cleanly(invoke("eval", "--checkpoint", pt, "--data", small_world / "world", "--device", "cpu"),
                  "pass --model")
    report = small_world / "plain.json"
    result = invoke("eval", "--checkpoint", pt, "--model", EXAMPLE, "--model-args", args, "--data",
                    small_world / "world", "--split", "test", "--out", report, "--device", "cpu")
    assert result.exit_code == 0, result.output
    ours = small_world / "ours.json"
    assert invoke("eval", "--checkpoint", out, "--split", "test", "--out", ours, "--device", "cpu").exit_code == 0
    a, b = json.loads(report.read_text()), json.loads(ours.read_text())
    assert a["splits"]["test"]["accuracy"] == b["splits"]["test"]["accuracy"]
    wrong = small_world / "args-wrong.json"
    wrong.write_text(json.dumps({"hidden": 8, "rank": 4}))
    fails_cleanly(invoke("eval", "--checkpoint", pt, "--model", EXAMPLE, "--model-args", wrong, "--data",
                         small_world / "world", "--device", "cpu"), "weights do not fit the model")


def test_example_captioner_trains_hint_tunes_and_captions(tmp_path, monkeypatch):
    """The captioning example has only a teacher-forced forward: decoding re-runs it on the prefix."""
    monkeypatch.chdir(REPO)
    result = invoke("data", "synth-captions", "--images", 150, "--out", tmp_path / "world", "--quiet")
    assert result.exit_code == 0, result.output
    data, spec = tmp_path / "world" / "robust", "examples.gru_captioner:DotAttentionGRUCaptioner"
    args = tmp_path / "args.json"
    args.write_text(json.dumps({"hidden": 32, "word_dim": 16}))
    common = ("--task", "captioning", "--data", data, "--device", "cpu", "--epochs", 1)
    result = invoke("train", "updn", *common, "--model", spec, "--model-args", args, "--out", tmp_path / "pre")
    assert result.exit_code == 0, result.output
    result = invoke("train", "hint", *common, "--init", tmp_path / "pre", "--out", tmp_path / "hint")
    assert result.exit_code == 0, result.output
    # hint-tbptt steps through the decoder (encode / init_state / step), which this model does not offer
    fails_cleanly(invoke("train", "hint-tbptt", *common, "--init", tmp_path / "pre", "--out", tmp_path / "tb"),
                  "no encode / init_state / step")
    assert not (tmp_path / "tb" / "best.safetensors").exists()
    preds, report = tmp_path / "captions.json", tmp_path / "report.json"
    result = invoke("eval", "--checkpoint", tmp_path / "hint", "--split", "test", "--predictions", preds,
                    "--out", report, "--device", "cpu")
    assert result.exit_code == 0, result.output
    captions = json.loads(preds.read_text())
    test = json.loads(report.read_text())["splits"]["test"]
    assert len(captions) == test["cider"]["n"] and all(set(c) == {"image_id", "caption"} for c in captions)
    assert test["spearman_grad"]["n"] > 0 and test["spearman_attn"]["n"] > 0


def test_an_export_evaluates_like_its_run(small_world, monkeypatch):
    monkeypatch.chdir(REPO)
    run = small_world / "export-run"
    assert _train(small_world, "updn", "--model", EXAMPLE, "--epochs", 1, "--out", run).exit_code == 0
    pt = small_world / "exported.pt"
    result = invoke("export", run, "--to", pt)
    assert result.exit_code == 0, result.output
    reports = []
    for checkpoint in (run, pt):
        report = small_world / f"export-{checkpoint.name}.json"
        result = invoke("eval", "--checkpoint", checkpoint, "--split", "test", "--out", report, "--device", "cpu")
        assert result.exit_code == 0, result.output
        reports.append(json.loads(report.read_text())["splits"]["test"])
    assert reports[0]["accuracy"] == reports[1]["accuracy"]
    assert reports[0]["spearman_grad"] == reports[1]["spearman_grad"]
