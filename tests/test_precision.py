"""Mixed precision (precision.py), --compile, and the CUDA data path (workers, pinned batches) on CPU."""
import json
import shutil

import pytest
import torch

from groundbench import precision
from groundbench.checkpoint import load_checkpoint
from groundbench.data.dataset import for_device, make_loader
from groundbench.data.store import VQAStore
from groundbench.errors import GroundbenchError
from groundbench.methods import build_method
from groundbench.models.updn_vqa import UpDnConfig, UpDnVQA
from groundbench.tasks.vqa import VQATask
from groundbench.train import TrainConfig, Trainer

from bad_inputs import built  # noqa: F401  (a small prepared store, module-scoped fixture)
from fakes import make_batch, tiny_model
from test_cli import fails_cleanly, invoke

VQA = VQATask()
BATCHES = [make_batch(b=8, seed=s) for s in range(3)]


def trained(tmp_path, method="updn", init_scale=None, model=tiny_model, **config):
    torch.manual_seed(0)
    trainer = Trainer(model(), build_method(method), VQA, TrainConfig(epochs=1, lr=0.01, **config), tmp_path,
                      {"model": {"name": "updn"}}, lambda model: 0.0)
    if init_scale is not None:  # fp16: the default 2**16 overflows (steps skipped) in the first steps
        trainer.amp.scaler = torch.amp.GradScaler("cpu", init_scale=init_scale)
    trainer.fit(lambda epoch: BATCHES, len(BATCHES))
    return trainer


def test_auto_is_fp32_on_cpu_and_names_are_checked():
    assert precision.resolve("auto", "cpu").name == "fp32"
    assert precision.resolve("bf16", "cpu").dtype is torch.bfloat16
    assert precision.resolve("fp16", "cpu").scaled
    with pytest.raises(GroundbenchError, match="--precision fp8"):
        precision.resolve("fp8", "cpu")


@pytest.mark.parametrize("method", ["updn", "hint"])
def test_fp32_trainer_is_the_plain_loop_bit_for_bit(tmp_path, method):
    trainer = trained(tmp_path, method)
    torch.manual_seed(0)
    model, m = tiny_model(), build_method(method)
    optimizer = torch.optim.Adamax(model.parameters(), lr=0.01)
    model.train()
    for batch in BATCHES:
        loss, _ = m.loss(model, batch, VQA)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        optimizer.step()
    for (name, p), q in zip(model.state_dict().items(), trainer.model.state_dict().values()):
        assert torch.equal(p, q), name


@pytest.mark.parametrize("method", ["updn", "hint"])
def test_bf16_agrees_with_fp32_within_the_tolerance(method):
    """At the synthetic world's model size (D = 64, 256 hidden, K = 36), untrained: the hardest case measured
    (trained models agree better; README, 'Mixed precision and speed')."""
    torch.manual_seed(0)
    model = UpDnVQA(UpDnConfig(num_tokens=22, num_answers=23, v_dim=64, word_dim=100, num_hid=256)).train()
    batch = make_batch(b=32, k=36, d=64, a=23, t=14, seed=1)
    result = precision.agreement(model, batch, VQA, build_method(method), precision.PRECISIONS["bf16"], "cpu")
    assert result.failures() == [], result.summary()
    assert result.rows == 32 and result.importance_max_rel < 0.1 and result.loss_rel < 1e-3
    assert model.training  # restored after the eval-mode check


def test_the_check_leaves_the_random_streams_alone():
    model, batch = tiny_model().train(), make_batch()
    before = torch.get_rng_state()
    precision.agreement(model, batch, VQA, build_method("hint-random"), precision.PRECISIONS["bf16"], "cpu")
    assert torch.equal(before, torch.get_rng_state())


def test_a_missed_check_refuses_an_explicit_choice_and_falls_back_under_auto(monkeypatch):
    model, batch = tiny_model().train(), make_batch()
    never = precision.Tolerance(min_spearman=2.0, max_loss_rel=0.0, min_grad_cosine=2.0)
    notes = []
    with pytest.raises(GroundbenchError, match="--precision bf16 does not agree with fp32.*--precision fp32"):
        precision.choose("bf16", "cpu", model, lambda: batch, VQA, build_method("hint"), notes.append, never)
    monkeypatch.setattr(precision, "bf16_supported", lambda device: True)  # auto picks bf16, as on a GPU
    chosen = precision.choose("auto", "cpu", model, lambda: batch, VQA, build_method("hint"), notes.append, never)
    assert chosen.name == "fp32" and len(notes) == 1 and notes[0].startswith("note: bf16 misses")
    chosen = precision.choose("auto", "cpu", model, lambda: batch, VQA, build_method("hint"), notes.append)
    assert chosen.name == "bf16" and "Spearman" in notes[-1]


@pytest.mark.parametrize("name", ["bf16", "fp16"])
def test_hint_trains_under_autocast_and_the_grad_scaler(tmp_path, name):
    """HINT's create_graph gradient and the backward through it, under autocast (and fp16's GradScaler)."""
    reference = trained(tmp_path / "fp32", "hint")
    reduced = trained(tmp_path / name, "hint", precision=name, init_scale=256.0 if name == "fp16" else None)
    ref, low = reference.state.history[0], reduced.state.history[0]
    assert low["rank"] == pytest.approx(ref["rank"], rel=0.02) and low["task"] == pytest.approx(ref["task"], rel=0.02)
    torch.manual_seed(0)
    start = torch.cat([p.reshape(-1) for p in tiny_model().parameters()])
    moved = [torch.cat([p.detach().reshape(-1) for p in t.model.parameters()]) - start for t in (reference, reduced)]
    assert torch.isfinite(moved[1]).all() and torch.cosine_similarity(*moved, dim=0) > 0.95  # same updates
    if name == "fp16":  # every step was taken: no overflow at this scale, the scale never backed off
        assert reduced.amp.scaler.get_scale() == 256.0
    assert (reduced.amp.scaler is not None) == (name == "fp16")


def test_fp16_skips_overflowing_steps_and_backs_off(tmp_path):
    trainer = trained(tmp_path, "hint", precision="fp16")
    assert trainer.amp.scaler.get_scale() < 2.0 ** 16
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


def test_compile_is_refused_for_second_order_methods(tmp_path):
    with pytest.raises(GroundbenchError, match="--compile does not apply to 'hint'"):
        trained(tmp_path, "hint", compile=True)
    line = fails_cleanly(invoke("train", "hint-random", "--compile", "--cache-dir", tmp_path / "c", "--out",
                                tmp_path / "r"), "--compile does not apply to 'hint-random'")
    assert "double backward" in line and not (tmp_path / "c").exists()


@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("g++") is None,
                    reason="torch.compile on CPU generates C++ (needs a C compiler); ~30 s here")
def test_compile_trains_updn_like_eager(tmp_path):
    def model():  # no dropout: compiled code draws its dropout masks from another generator
        return UpDnVQA(UpDnConfig(num_tokens=22, num_answers=5, v_dim=8, word_dim=8, num_hid=16, att_dropout=0.0,
                                  cls_dropout=0.0))

    eager = trained(tmp_path / "eager", "updn", model=model)
    fast = trained(tmp_path / "compiled", "updn", model=model, compile=True)
    assert fast.state.history[0]["task"] == pytest.approx(eager.state.history[0]["task"], rel=1e-4)
    for (key, p), q in zip(eager.model.state_dict().items(), fast.model.state_dict().values()):
        assert torch.allclose(p, q, atol=1e-3), key  # attention.linear.bias: a ~0 gradient, Adamax steps on noise


def test_workers_read_the_memory_mapped_store_in_the_same_order(built):  # noqa: F811
    dataset = VQAStore.open(built[0] / "store").dataset("train")
    plain = make_loader(dataset, 3, shuffle=True, seed=5)
    assert for_device(plain, "cpu") is plain  # the CPU default: no workers, no pinning, the same loader
    fed = for_device(make_loader(dataset, 3, shuffle=True, seed=5), "cpu", workers=2)
    assert fed.num_workers == 2 and not fed.pin_memory
    for _ in range(2):  # two epochs: the same draws from the shared generator per epoch
        for a, b in zip(plain, fed, strict=True):
            assert a.question_ids == b.question_ids and torch.equal(a.v, b.v) and torch.equal(a.human, b.human)
    assert torch.equal(plain.generator.get_state(), fed.generator.get_state())


def test_batch_to_cpu_is_the_same_batch():
    batch = make_batch()
    moved = batch.to("cpu")
    assert all(torch.equal(getattr(batch, n), getattr(moved, n)) for n in ("v", "mask", "q", "target", "hat_mask"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="pinned memory needs CUDA")
def test_pinned_batches_copy_to_the_gpu():
    batch = make_batch().pin_memory()
    assert batch.v.is_pinned() and torch.equal(batch.to("cuda").v.cpu(), batch.v)


def test_train_records_a_reduced_precision_and_uses_workers(built, tmp_path, monkeypatch):  # noqa: F811
    out = tmp_path / "run"
    args = ("train", "updn", "--data", built[0] / "store", "--epochs", 1, "--out", out, "--device", "cpu",
            "--precision", "bf16", "--workers", 1)
    # the fixture store has K = 4 proposals: one swapped pair costs Spearman 0.2 on a row, and the check refuses
    fails_cleanly(invoke(*args), "--precision bf16 does not agree with fp32", "train with --precision fp32")
    monkeypatch.setattr(precision, "TOLERANCE", precision.Tolerance(min_spearman=0.5))
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert "precision bf16: bf16 vs fp32" in result.output
    _, meta = load_checkpoint(out / "best.safetensors")
    assert meta["train"]["precision"] == "bf16" and "compiled" not in meta["train"]


def test_eval_scores_under_autocast_and_records_the_precision(built, tmp_path):  # noqa: F811
    run = tmp_path / "run"
    trained_run = invoke("train", "updn", "--data", built[0] / "store", "--epochs", 1, "--out", run, "--device", "cpu")
    assert trained_run.exit_code == 0, trained_run.output
    reports = {}
    for name in ("fp32", "bf16"):
        out = tmp_path / f"{name}.json"
        result = invoke("eval", "--checkpoint", run, "--precision", name, "--out", out, "--device", "cpu")
        assert result.exit_code == 0, result.output
        reports[name] = json.loads(out.read_text())
    default = tmp_path / "default.json"
    assert invoke("eval", "--checkpoint", run, "--out", default, "--device", "cpu").exit_code == 0
    assert json.loads(default.read_text())["splits"] == reports["fp32"]["splits"]  # fp32 is the default
    assert (reports["fp32"]["precision"], reports["bf16"]["precision"]) == ("fp32", "bf16")
    for split, metrics in reports["fp32"]["splits"].items():
        low = reports["bf16"]["splits"][split]
        assert abs(low["accuracy"]["value"] - metrics["accuracy"]["value"]) <= 100.0 / metrics["accuracy"]["n"] * 2
        assert abs(low["spearman_grad"]["value"] - metrics["spearman_grad"]["value"]) < 0.1
    values = [(m, v["value"]) for m, v in reports["fp32"]["splits"]["test"].items() if v and v.get("value") is not None]
    assert any(reports["bf16"]["splits"]["test"][m]["value"] != v for m, v in values)  # autocast did run


def test_fp16_resume_restores_the_loss_scale_and_continues_bit_for_bit(tmp_path):
    """The default scale 2**16 overflows and backs off in the first steps: a resumed run must carry the
    backed-off scale on (a fresh 2**16 would skip steps again and give other weights)."""
    def trainer(run, epochs):
        torch.manual_seed(0)
        return Trainer(tiny_model(), build_method("hint"), VQA, TrainConfig(epochs=epochs, lr=0.01, precision="fp16"),
                       run, {"model": {"name": "updn"}}, lambda model: 0.0)
    straight = trainer(tmp_path / "straight", 2)
    straight.fit(lambda epoch: BATCHES, len(BATCHES))
    first = trainer(tmp_path / "resumed", 1)
    first.fit(lambda epoch: BATCHES, len(BATCHES))
    assert first.amp.scaler.get_scale() < 2.0 ** 16  # it backed off: the state to carry over
    resumed = trainer(tmp_path / "resumed", 2)
    resumed.resume()
    assert resumed.amp.scaler.get_scale() == first.amp.scaler.get_scale()
    resumed.fit(lambda epoch: BATCHES, len(BATCHES))
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
