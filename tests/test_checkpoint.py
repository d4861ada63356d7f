"""Checkpoints: safetensors round trip, pickle refusal without unpickling, corrupt files, optimizer state."""
from __future__ import annotations

import json
import os
import pickle
import struct
import subprocess

import pytest
import torch

from groundbench import __version__
from groundbench.checkpoint import (
    code_version,
    flatten_optimizer_state,
    load_checkpoint,
    read_checkpoint_metadata,
    save_checkpoint,
    unflatten_optimizer_state,
)
from groundbench.errors import GroundbenchError

META = {"model": {"name": "updn", "hidden": 8}, "vocab": ["<pad>", "what", "color"], "seed": 3, "epoch": 2}


def _tensors():
    g = torch.Generator().manual_seed(0)
    return {
        "w": torch.randn(3, 4, generator=g),
        "b": torch.arange(5, dtype=torch.int64),
        "half": torch.randn(2, dtype=torch.float16, generator=g),
        "scalar": torch.tensor(1.5),
    }


def test_round_trip_tensors_and_metadata(tmp_path):
    path = save_checkpoint(tmp_path / "run" / "best.safetensors", _tensors(), META)
    tensors, meta = load_checkpoint(path)
    assert meta == META
    assert set(tensors) == set(_tensors())
    for name, t in _tensors().items():
        assert tensors[name].dtype == t.dtype and torch.equal(tensors[name], t)
    # a run directory resolves to best.safetensors inside it
    tensors2, meta2 = load_checkpoint(tmp_path / "run")
    assert meta2 == META and torch.equal(tensors2["w"], tensors["w"])
    assert read_checkpoint_metadata(tmp_path / "run") == META


def test_sidecar_is_readable_copy_and_file_alone_suffices(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", _tensors(), META)
    sidecar = json.loads((tmp_path / "m.json").read_text())
    assert sidecar["schema"] == "groundbench.checkpoint/1"
    assert sidecar["metadata"] == META
    assert sidecar["tensors"]["w"] == {"dtype": "float32", "shape": [3, 4]}
    (tmp_path / "m.json").unlink()
    assert load_checkpoint(path)[1] == META
    # no temporary files are left behind by the atomic writes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


def test_shared_storage_and_noncontiguous_tensors_are_saved(tmp_path):
    base = torch.randn(4, 6)
    tensors = {"a": base, "tied": base, "t": base.t()}
    loaded, _ = load_checkpoint(save_checkpoint(tmp_path / "x.safetensors", tensors, {}))
    assert torch.equal(loaded["tied"], base) and torch.equal(loaded["t"], base.t())


def test_refuses_torch_save_zip_without_unpickling(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"w": torch.zeros(2)}, path)
    with pytest.raises(GroundbenchError) as err:
        load_checkpoint(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg
    assert "is a pickle/torch.save file; groundbench reads only safetensors checkpoints and never unpickles" in msg


class _Trap:
    """Unpickling this object creates the file named by ``marker`` (it must never happen)."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_refuses_pickle_and_never_runs_it(tmp_path, protocol):
    marker = tmp_path / "unpickled.marker"
    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps(_Trap(str(marker)), protocol=protocol))
    with pytest.raises(GroundbenchError, match="never unpickles"):
        load_checkpoint(path)
    with pytest.raises(GroundbenchError, match="never unpickles"):
        read_checkpoint_metadata(path)
    assert not marker.exists()
    # the trap is real: unpickling it does create the marker
    pickle.loads(path.read_bytes()).close()
    assert marker.exists()


def test_missing_file_and_directory_without_best(tmp_path):
    with pytest.raises(GroundbenchError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope.safetensors")
    (tmp_path / "run").mkdir()
    with pytest.raises(GroundbenchError, match="no best.safetensors"):
        load_checkpoint(tmp_path / "run")


def test_truncated_file(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", _tensors(), META)
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(GroundbenchError, match="truncated checkpoint") as err:
        load_checkpoint(path)
    assert str(path) in str(err.value)
    path.write_bytes(data[:20])
    with pytest.raises(GroundbenchError, match="bad header length"):
        load_checkpoint(path)
    path.write_bytes(data[:5])
    with pytest.raises(GroundbenchError, match="only 5 bytes"):
        load_checkpoint(path)


def test_corrupt_header_and_garbage(tmp_path):
    path = tmp_path / "g.safetensors"
    path.write_bytes(b"hello world, this is not a checkpoint at all")
    with pytest.raises(GroundbenchError, match="not a safetensors checkpoint"):
        load_checkpoint(path)
    header = b"{not json!!}"
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(GroundbenchError, match="not JSON"):
        load_checkpoint(path)


def test_safetensors_without_groundbench_metadata(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(GroundbenchError, match="no 'groundbench' metadata"):
        load_checkpoint(path)


def test_save_rejects_other_suffix_and_non_json_metadata(tmp_path):
    with pytest.raises(GroundbenchError, match="must end in .safetensors"):
        save_checkpoint(tmp_path / "model.pt", {}, {})
    with pytest.raises(ValueError, match="not plain JSON"):
        save_checkpoint(tmp_path / "m.safetensors", {}, {"bad": object()})
    assert not (tmp_path / "m.safetensors").exists()


@pytest.mark.parametrize("opt_cls", [torch.optim.Adam, torch.optim.Adamax])
def test_optimizer_state_round_trip_resumes_identically(tmp_path, opt_cls):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    opt = opt_cls(model.parameters(), lr=0.01, betas=(0.8, 0.95))
    x, y = torch.randn(8, 4), torch.randn(8, 2)

    def step(m, o):
        o.zero_grad()
        torch.nn.functional.mse_loss(m(x), y).backward()
        o.step()

    for _ in range(3):
        step(model, opt)
    opt_tensors, opt_meta = flatten_optimizer_state(opt.state_dict())
    assert all(name.startswith("optimizer/state/") for name in opt_tensors)
    weights = {f"model/{k}": v for k, v in model.state_dict().items()}
    path = save_checkpoint(tmp_path / "last.safetensors", {**weights, **opt_tensors}, {"optimizer": opt_meta})

    tensors, meta = load_checkpoint(path)
    restored = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    restored.load_state_dict({k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")})
    opt2 = opt_cls(restored.parameters(), lr=0.5)
    state = unflatten_optimizer_state(tensors, meta["optimizer"])
    assert state["param_groups"][0]["betas"] == (0.8, 0.95)
    assert set(state["state"]) == set(opt.state_dict()["state"])  # int keys survive
    opt2.load_state_dict(state)
    assert opt2.param_groups[0]["lr"] == 0.01
    step(model, opt)
    step(restored, opt2)
    for a, b in zip(model.parameters(), restored.parameters()):
        assert torch.equal(a, b)


def test_unflatten_missing_tensor_is_named_error():
    _, meta = flatten_optimizer_state({"state": {0: {"exp_avg": torch.zeros(2)}}, "param_groups": []})
    with pytest.raises(GroundbenchError, match="missing tensor 'optimizer/state/0/exp_avg'"):
        unflatten_optimizer_state({}, meta, path="x.safetensors")
    with pytest.raises(GroundbenchError, match="format"):
        unflatten_optimizer_state({}, {"tree": {}})


def test_code_version_without_git(tmp_path):
    assert code_version(tmp_path, git=str(tmp_path / "no-such-git")) == __version__
    # a directory that is not a checkout gives the plain version as well
    assert code_version(tmp_path) == __version__


def test_code_version_with_fake_git(tmp_path, monkeypatch):
    answers = {"--show-toplevel": str(tmp_path), "--short": "abc1234", "--porcelain": " M groundbench/x.py"}

    def fake_run(cmd, **kwargs):
        out = next(v for k, v in answers.items() if k in cmd)
        return subprocess.CompletedProcess(cmd, 0, stdout=out + "\n", stderr="")

    monkeypatch.setattr(subprocess, "run", fake_run)
    assert code_version(tmp_path) == f"{__version__}+gabc1234+dirty"
    answers["--porcelain"] = ""
    assert code_version(tmp_path) == f"{__version__}+gabc1234"
    answers["--show-toplevel"] = str(tmp_path.parent)  # a checkout around, not of, the package
    assert code_version(tmp_path) == __version__


def test_code_version_of_this_checkout_is_well_formed():
    version = code_version()
    assert version == __version__ or version.startswith(f"{__version__}+g")
    assert os.linesep not in version


def test_a_write_that_dies_half_way_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    """The rename is the only step that touches the target: a crash while writing leaves the old file whole."""
    import groundbench.checkpoint as checkpoint

    path = save_checkpoint(tmp_path / "last.safetensors", _tensors(), META)
    before = path.read_bytes()

    def dies(tensors, filename, metadata=None):
        with open(filename, "wb") as handle:
            handle.write(b"\x00" * 100)  # the first bytes of a new file ...
        raise KeyboardInterrupt  # ... then the process is interrupted

    monkeypatch.setattr(checkpoint, "save_file", dies)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"w": torch.zeros(2)}, {"epoch": 2})
    assert path.read_bytes() == before and load_checkpoint(path)[1] == META
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
