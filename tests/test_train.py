import json

import pytest
import torch

from groundbench.checkpoint import load_checkpoint
from groundbench.errors import GroundbenchError
from groundbench.methods import build_method
from groundbench.tasks.vqa import VQATask
from groundbench.train import TrainConfig, Trainer

from fakes import make_batch, tiny_model

BATCHES = [make_batch(seed=s) for s in range(3)]


def select(model):
    with torch.no_grad():
        out = model(BATCHES[0].v, BATCHES[0].boxes, BATCHES[0].mask, BATCHES[0].q)
    return float(out.logits.gather(1, BATCHES[0].target.argmax(1, keepdim=True)).mean())


def run(tmp_path, epochs, resume=False):
    torch.manual_seed(0)
    model = tiny_model()
    trainer = Trainer(model, build_method("updn"), VQATask(), TrainConfig(epochs=epochs, lr=0.01), tmp_path,
                      {"model": {"name": "updn"}}, select)
    if resume:
        trainer.resume()
    trainer.fit(lambda epoch: BATCHES, len(BATCHES))
    return trainer


def test_checkpoints_each_epoch_and_best_by_validation(tmp_path):
    trainer = run(tmp_path, 3)
    history = json.loads((tmp_path / "history.json").read_text())
    assert [h["epoch"] for h in history["history"]] == [1, 2, 3]
    scores = [h["val_score"] for h in history["history"]]
    assert history["best_epoch"] == 1 + scores.index(max(scores))
    _, meta = load_checkpoint(tmp_path / "best.safetensors")
    assert meta["epoch"] == history["best_epoch"]
    _, last = load_checkpoint(tmp_path / "last.safetensors")
    assert last["epoch"] == 3 and "optimizer" in last
    assert trainer.state.epoch == 3


def test_resume_continues_exactly_where_it_stopped(tmp_path):
    straight = run(tmp_path / "a", 3)
    run(tmp_path / "b", 2)
    resumed = run(tmp_path / "b", 3, resume=True)
    for (name, p), q in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.allclose(p, q, atol=1e-6), name
    assert len(resumed.state.history) == 3


def test_resume_without_a_run_is_a_clear_error(tmp_path):
    with pytest.raises(GroundbenchError, match="nothing to resume"):
        run(tmp_path, 1, resume=True)


def test_observed_values_join_the_history_but_not_the_selection(tmp_path):
    torch.manual_seed(0)
    calls = []

    def observe(model):
        calls.append(model.training)
        return {"probe": -float(len(calls))}  # falls every epoch: would pick epoch 1 if it were selected on

    trainer = Trainer(tiny_model(), build_method("updn"), VQATask(), TrainConfig(epochs=3, lr=0.01), tmp_path,
                      {"model": {"name": "updn"}}, select, observe=observe)
    trainer.fit(lambda epoch: BATCHES, len(BATCHES))
    history = json.loads((tmp_path / "history.json").read_text())
    assert [h["probe"] for h in history["history"]] == [-1.0, -2.0, -3.0]
    assert calls == [False, False, False]  # observed in eval mode, after selection
    scores = [h["val_score"] for h in history["history"]]
    assert history["best_epoch"] == 1 + scores.index(max(scores))


def test_resume_state_without_its_random_streams_is_named(tmp_path):
    from groundbench.checkpoint import save_checkpoint

    run(tmp_path, 1)
    tensors, meta = load_checkpoint(tmp_path / "last.safetensors")
    del meta["rng"]["numpy"]
    save_checkpoint(tmp_path / "last.safetensors", tensors, meta)
    with pytest.raises(GroundbenchError, match="random generators are incomplete") as info:
        run(tmp_path, 2, resume=True)
    assert str(tmp_path / "last.safetensors") in str(info.value)
    del meta["rng"]
    save_checkpoint(tmp_path / "last.safetensors", tensors, meta)
    with pytest.raises(GroundbenchError, match="not a resumable state"):
        run(tmp_path, 2, resume=True)


def test_two_preparations_of_one_store_are_refused(tmp_path):
    import subprocess
    import sys
    import time

    from groundbench.data.prepare import prepare_vqa

    from vqa_fixtures import write_raw_root

    write_raw_root(tmp_path / "raw", "cp")
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from groundbench.locking import exclusive\n"
                               f"with exclusive({str(out)!r}, 'another preparation'):\n"
                               "    print('held', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(GroundbenchError, match="another groundbench process is writing here"):
            prepare_vqa(tmp_path / "raw", out, progress=False, min_answer_count=1)
    finally:
        holder.kill()
        holder.wait()
    assert not (out / "manifest.json").exists()
    time.sleep(0.1)
    prepare_vqa(tmp_path / "raw", out, progress=False, min_answer_count=1)  # the lock died with its holder
    assert (out / "manifest.json").exists()
