"""Data-parallel training (groundbench/distributed.py) on CPU with gloo, 2 processes under torchrun.

A 2-process run and a 1-process run with the same global batch must reach the same weights, for updn and
for hint (whose loss takes ``autograd.grad(create_graph=True)`` inside DDP). Not bit for bit: the gradient
of a global batch is summed in another order (two half-batch sums all-reduced instead of one sum), which
moves float32 results by ~1 ulp per step; Adamax then carries that along. Tolerance: every weight within
1e-4 (measured: <= 1.2e-5 after 12 updn steps and <= 2e-7 after 6 hint steps, while the steps move weights by
~2e-2), and the models' val logits within 1e-4. One tensor is left out of the weight check,
``attention.linear.bias``: it shifts the attention logits before a softmax, so its exact gradient is zero and
Adamax normalises rounding noise (a 1-thread and a 2-thread single-process run differ there by 4e-4 too); it
has no effect on any output, which the logits check covers. Dropout is off (a recipe's model_config), since
the ranks draw their own dropout masks.
"""
import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from click.testing import CliRunner

from groundbench.checkpoint import load_checkpoint
from groundbench.cli import main
from groundbench.data.dataset import make_loader
from groundbench.data.store import VQAStore
from groundbench.experiment import model_from_checkpoint

TOLERANCE = 1e-4
SOFTMAX_SHIFT = "attention.linear.bias"  # zero exact gradient (see the module docstring)
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]


def invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def run(command, cwd, env):
    done = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    invoke("data", "synth", "--images", 60, "--hat-fraction", 1, "--out", root / "world", "--quiet")  # 177 train qs
    recipe = root / "nodrop.json"
    recipe.write_text(json.dumps({"method": "updn", "task": "vqa",
                                  "model_config": {"att_dropout": 0.0, "cls_dropout": 0.0}}))
    cwd, cache = root / "cwd", root / "cache"
    cwd.mkdir()
    env = {**os.environ, "GROUNDBENCH_CACHE": str(cache), "PYTHONWARNINGS": "ignore"}
    return root, cwd, cache, env


def assert_same_model(one, two, init=None):
    """Weights within TOLERANCE (all but the softmax shift), and the val logits within TOLERANCE."""
    a, meta = load_checkpoint(one / "last.safetensors")
    b, _ = load_checkpoint(two / "last.safetensors")
    assert a.keys() == b.keys()
    weights = [k for k in a if not k.startswith("optim.") and k != SOFTMAX_SHIFT]
    worst = max(float((a[k] - b[k]).abs().max()) for k in weights)
    assert worst <= TOLERANCE, f"weights differ by {worst:.2e}"
    if init is not None:  # the runs did train: the weights moved 100x more than the runs differ
        start, _ = load_checkpoint(init)
        assert max(float((a[k] - start[k]).abs().max()) for k in weights) > 100 * worst
    x, _ = model_from_checkpoint(one / "last.safetensors")
    y, _ = model_from_checkpoint(two / "last.safetensors")
    batch = next(iter(make_loader(VQAStore.open(meta["data"]["path"]).dataset("val"), 512, shuffle=False)))
    with torch.no_grad():
        gap = float((x(batch.v, batch.boxes, batch.mask, batch.q).logits
                     - y(batch.v, batch.boxes, batch.mask, batch.q).logits).abs().max())
    assert gap <= TOLERANCE, f"val logits differ by {gap:.2e}"
    h1, h2 = (json.loads((d / "history.json").read_text()) for d in (one, two))
    assert h1["best_epoch"] == h2["best_epoch"]
    assert [e["val_score"] for e in h1["history"]] == pytest.approx([e["val_score"] for e in h2["history"]], abs=0.5)
    return h2


RANK_SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from groundbench import distributed
    from groundbench.errors import GroundbenchError
    from groundbench.experiment import RunSpec, open_data, train_run

    root = Path(sys.argv[1])
    with distributed.process_group("cpu") as device:
        rank = distributed.rank()
        try:
            distributed.check_global_batch(15)
            raise SystemExit("a global batch of 15 over 2 processes was accepted")
        except GroundbenchError as exc:
            assert "divisible by the 2 processes" in str(exc), exc
        store, ref = open_data(root / "world", root / "cache", print, "vqa")
        spec = RunSpec("updn", "vqa", "cp", root / f"updn-2-rank{rank}", device=device,
                       method_overrides={"epochs": 2, "batch_size": 16},
                       model_overrides={"att_dropout": 0.0, "cls_dropout": 0.0})
        train_run(spec, store, ref, lambda message: None)
""")


def test_updn_two_processes_match_one_and_only_rank_0_writes(work):
    """Global batch 16 over 177 examples: the last batch has 1 example, so rank 1 runs a weight-0 slice. Each
    rank is given its own run folder here: rank 0's gets the run, rank 1's must never be created."""
    root, cwd, cache, env = work
    invoke("train", "updn", "--data", root / "world", "--config", root / "nodrop.json", "--epochs", 2,
           "--batch-size", 16, "--out", root / "updn-1", "--device", "cpu", "--cache-dir", cache)
    script = root / "ranks.py"
    script.write_text(RANK_SCRIPT)
    run(TORCHRUN + [script, root], cwd, env)
    assert not (root / "updn-2-rank1").exists(), "rank 1 wrote files"
    names = lambda d: sorted(p.name for p in d.iterdir())  # noqa: E731
    assert names(root / "updn-2-rank0") == names(root / "updn-1")
    meta = json.loads((root / "updn-2-rank0" / "last.json").read_text())["metadata"]
    assert meta["train"]["processes"] == 2 and meta["method"]["hyperparameters"]["batch_size"] == 16
    assert "processes" not in json.loads((root / "updn-1" / "last.json").read_text())["metadata"]["train"]
    assert_same_model(root / "updn-1", root / "updn-2-rank0")
    assert not any(cwd.iterdir()) and not cache.exists()


def test_hint_second_order_under_ddp_via_nproc(work):
    """HINT fine-tuning with --nproc 2 (torchrun -m groundbench underneath): global batch 32, last batch 17
    split 9 / 8 with loss weights 18/17 and 16/17."""
    root, cwd, cache, env = work
    init = root / "updn-1" / "best.safetensors"
    if not init.exists():
        invoke("train", "updn", "--data", root / "world", "--config", root / "nodrop.json", "--epochs", 1,
               "--batch-size", 16, "--out", root / "updn-1", "--device", "cpu", "--cache-dir", cache)
    args = ["train", "hint", "--data", root / "world", "--init", init, "--epochs", 1, "--batch-size", 32,
            "--device", "cpu"]
    invoke(*args, "--out", root / "hint-1", "--cache-dir", cache)
    done = run([sys.executable, "-m", "groundbench", *args, "--out", root / "hint-2", "--nproc", 2], cwd, env)
    assert done.stdout.count("Training hint") == 1  # rank 0 alone prints
    history = assert_same_model(root / "hint-1", root / "hint-2", init=init)
    assert history["history"][0]["rank"] > 0
    assert sorted(p.name for p in (root / "hint-2").iterdir()) == sorted(p.name for p in (root / "hint-1").iterdir())
    assert not any(cwd.iterdir()) and not cache.exists()


def test_resume_is_refused_under_torchrun(work):
    root, cwd, cache, env = work
    done = subprocess.run(TORCHRUN[:-1] + ["1", "-m", "groundbench", "train", "updn", "--data", str(root / "world"),
                                           "--out", str(root / "r"), "--resume", "--device", "cpu"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "--resume is not supported under torchrun" in done.stderr
