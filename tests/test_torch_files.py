"""Plain PyTorch weights: state dict round trips, wrappers, the static pickle scan, refusals, `export`."""
from __future__ import annotations

import io
import json
import pathlib
import pickle
import zipfile

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save_file

from groundbench.checkpoint import load_checkpoint, save_checkpoint
from groundbench.cli import main
from groundbench.errors import GroundbenchError
from groundbench.pickle_scan import ALLOWED_GLOBALS, UnsafePickle, check_torch_file, scan_pickle
from groundbench.torch_files import EXPORT_SCHEMA, load_state_dict_file, save_state_dict_file

from fakes import tiny_model

HINT = "torch.save(model.state_dict(), PATH)"
LAYOUTS = {"zip": True, "legacy": False}


def _state_dict():
    g = torch.Generator().manual_seed(0)
    sd = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4)).state_dict()
    sd["half"] = torch.randn(5, dtype=torch.float16, generator=g)
    sd["bf16"] = torch.randn(2, dtype=torch.bfloat16, generator=g)
    sd["ids"] = torch.arange(6, dtype=torch.int64).view(2, 3)
    sd["mask"] = torch.tensor([True, False])
    sd["strided"] = torch.randn(3, 4, generator=g).t()
    sd["scalar"] = torch.tensor(2.5)
    return sd


def _assert_same(loaded, expected):
    assert set(loaded) == set(expected)
    for name, t in expected.items():
        assert loaded[name].dtype == t.dtype and torch.equal(loaded[name], t), name
        assert type(loaded[name]) is torch.Tensor


def _one_line_error(call, *needles):
    with pytest.raises(GroundbenchError) as err:
        call()
    msg = str(err.value)
    assert "\n" not in msg and "Traceback" not in msg, msg
    for needle in needles:
        assert needle in msg, msg
    return msg


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("wrapper", [None, "state_dict", "model", "model_state_dict"])
def test_round_trip_both_layouts_and_wrappers(tmp_path, layout, wrapper):
    sd = _state_dict()
    obj = sd if wrapper is None else {wrapper: sd, "epoch": 7, "lr": 0.1, "arch": "mlp", "betas": (0.9, 0.99)}
    path = tmp_path / "model.pt"
    torch.save(obj, path, _use_new_zipfile_serialization=LAYOUTS[layout])
    assert check_torch_file(path) == layout
    tensors, meta = load_state_dict_file(path)
    _assert_same(tensors, sd)
    assert meta is None


@pytest.mark.parametrize("layout", LAYOUTS)
def test_parameters_and_new_dtypes_load_as_plain_tensors(tmp_path, layout):
    sd = {"p": torch.nn.Parameter(torch.ones(3)), "w": torch.zeros(2)}
    if layout == "zip":  # torch itself cannot read uint16 back from the legacy layout
        sd["u16"] = torch.tensor([1, 2, 60000], dtype=torch.int32).to(torch.uint16)
    torch.save(sd, tmp_path / "m.pth", _use_new_zipfile_serialization=LAYOUTS[layout])
    tensors, _ = load_state_dict_file(tmp_path / "m.pth")
    _assert_same(tensors, {k: v.detach() for k, v in sd.items()})


def test_data_parallel_prefix_is_stripped_only_when_every_key_has_it(tmp_path):
    sd = _state_dict()
    torch.save({f"module.{k}": v for k, v in sd.items()}, tmp_path / "dp.pt")
    _assert_same(load_state_dict_file(tmp_path / "dp.pt")[0], sd)
    mixed = {"module.a": torch.zeros(1), "b": torch.ones(1)}
    torch.save({"model_state_dict": mixed}, tmp_path / "mixed.bin")
    assert set(load_state_dict_file(tmp_path / "mixed.bin")[0]) == {"module.a", "b"}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_whole_pickled_module_is_refused(tmp_path, layout):
    path = tmp_path / "net.pt"
    torch.save(torch.nn.Linear(2, 2), path, _use_new_zipfile_serialization=LAYOUTS[layout])
    _one_line_error(lambda: load_state_dict_file(path), str(path),
                    "a pickled object of class torch.nn.modules.linear.Linear", HINT)


def test_optimizer_numpy_and_non_tensor_values_are_refused(tmp_path):
    model = torch.nn.Linear(2, 2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 2)).sum().backward()
    opt.step()
    torch.save(opt.state_dict(), tmp_path / "opt.pt")
    _one_line_error(lambda: load_state_dict_file(tmp_path / "opt.pt"), "an optimizer state dict")
    torch.save({"w": np.ones(3)}, tmp_path / "np.pt")
    _one_line_error(lambda: load_state_dict_file(tmp_path / "np.pt"), "numpy data (numpy.", HINT)
    torch.save({"w": torch.zeros(2), "note": "hello"}, tmp_path / "note.pt")
    _one_line_error(lambda: load_state_dict_file(tmp_path / "note.pt"), "entry 'note' is a str")
    torch.save({"model": {"w": torch.zeros(2), "n": 3}, "epoch": 1}, tmp_path / "n.pt")
    _one_line_error(lambda: load_state_dict_file(tmp_path / "n.pt"), "entry 'n' is a int")
    torch.save(torch.zeros(3), tmp_path / "t.pt")
    _one_line_error(lambda: load_state_dict_file(tmp_path / "t.pt"), "holds a tensor, not a state dict")


class _Trap:
    """Unpickling this object creates ``marker`` (it must never happen)."""

    def __init__(self, marker: pathlib.Path, how: str):
        self.marker, self.how = marker, how

    def __reduce__(self):
        if self.how == "open":
            return (open, (str(self.marker), "w"))
        return (pathlib.Path.touch, (self.marker,))


def _write_trap(path: pathlib.Path, kind: str, trap: _Trap) -> None:
    if kind == "raw-pickle":  # a bare pickle named .pt, as a legacy torch file starts
        path.write_bytes(pickle.dumps({"w": trap}, protocol=2))
    elif kind == "torch-legacy":
        torch.save({"w": torch.zeros(2), "x": trap}, path, _use_new_zipfile_serialization=False)
    elif kind == "torch-zip":
        torch.save({"w": torch.zeros(2), "x": trap}, path)
    else:  # a clean torch zip whose data.pkl was swapped for a protocol-4 pickle (STACK_GLOBAL)
        clean = io.BytesIO()
        torch.save({"w": torch.zeros(2)}, clean)
        with zipfile.ZipFile(clean) as src, zipfile.ZipFile(path, "w") as dst:
            for item in src.infolist():
                data = src.read(item)
                if item.filename.endswith("data.pkl"):
                    data = pickle.dumps({"w": trap}, protocol=4)
                dst.writestr(item, data)


@pytest.mark.parametrize("how", ["open", "touch"])
@pytest.mark.parametrize("kind", ["raw-pickle", "torch-legacy", "torch-zip", "zip-protocol-4"])
def test_unsafe_pickle_is_refused_before_torch_load_and_never_runs(tmp_path, monkeypatch, kind, how):
    marker = tmp_path / "pwned.marker"
    path = tmp_path / "model.pt"
    _write_trap(path, kind, _Trap(marker, how))
    real_load = torch.load

    def forbidden(*args, **kwargs):
        pytest.fail("torch.load reached on a malicious file")  # a BaseException: no except clause hides it

    monkeypatch.setattr(torch, "load", forbidden)
    msg = _one_line_error(lambda: load_state_dict_file(path), str(path), HINT, "never runs code")
    named = ["a pickled call to io.open"] if how == "open" else ["builtins.getattr", "pathlib.Path.touch"]
    assert any(name in msg for name in named), msg
    assert not marker.exists()
    monkeypatch.setattr(torch, "load", real_load)
    # the trap is real: unpickling the file without the scan does create the marker
    try:
        pickle.loads(path.read_bytes()) if kind == "raw-pickle" else torch.load(path, weights_only=False)
    except Exception:  # whatever happens after the trap has fired does not matter
        pass
    assert marker.exists()


def test_scan_resolves_stack_global_through_the_memo():
    # PROTO 4; push "builtins", "open", memoize both, drop them, fetch them back from the memo; STACK_GLOBAL
    data = (b"\x80\x04\x8c\x08builtins\x94\x8c\x04open\x94" + b"00" + b"h\x00h\x01\x93" + b"." )
    assert scan_pickle(io.BytesIO(data)) == ["builtins.open"]


def test_scan_refuses_names_it_cannot_resolve_and_extension_codes():
    # STACK_GLOBAL whose module name is the result of a call, not a string constant
    unknown = b"\x80\x04ccollections\nOrderedDict\n)R\x8c\x01x\x93."
    with pytest.raises(UnsafePickle, match="cannot be checked"):
        scan_pickle(io.BytesIO(unknown))
    with pytest.raises(UnsafePickle, match="extension registry"):
        scan_pickle(io.BytesIO(b"\x80\x02\x82\x01."))
    with pytest.raises(ValueError):
        scan_pickle(io.BytesIO(b"\x80\x02t."))  # TUPLE without MARK


def test_allowlist_is_small_and_excludes_dangerous_names():
    assert "collections.OrderedDict" in ALLOWED_GLOBALS and "torch._utils._rebuild_tensor_v2" in ALLOWED_GLOBALS
    for name in ("builtins.open", "builtins.getattr", "builtins.eval", "os.system", "posix.system",
                 "torch.load", "torch.device", "numpy.ndarray", "_codecs.encode", "builtins.set"):
        assert name not in ALLOWED_GLOBALS


@pytest.mark.parametrize("layout", LAYOUTS)
def test_truncated_and_corrupt_files_are_one_line_errors(tmp_path, layout):
    path = tmp_path / "model.pt"
    torch.save(_state_dict(), path, _use_new_zipfile_serialization=LAYOUTS[layout])
    data = path.read_bytes()
    for size in (len(data) - 7, len(data) // 2, 40, 3):
        path.write_bytes(data[:size])
        _one_line_error(lambda: load_state_dict_file(path), str(path))
    path.write_bytes(b"")
    _one_line_error(lambda: load_state_dict_file(path), str(path))
    path.write_bytes(b"hello, these are no weights")
    _one_line_error(lambda: load_state_dict_file(path), str(path), "not a torch.save file")
    save_file({"w": torch.zeros(2)}, str(path))  # safetensors content under a .pt name is read by content
    assert torch.equal(load_state_dict_file(path)[0]["w"], torch.zeros(2))
    _one_line_error(lambda: load_state_dict_file(tmp_path / "nope.pt"), "not found")


def test_protocol_4_files_get_a_one_line_error_from_torch(tmp_path):
    torch.save(_state_dict(), tmp_path / "p4.pt", pickle_protocol=4)
    try:
        tensors, _ = load_state_dict_file(tmp_path / "p4.pt")  # a newer torch may read it
    except GroundbenchError as exc:
        assert "\n" not in str(exc) and "weights-only" in str(exc)
    else:
        _assert_same(tensors, _state_dict())


def test_safetensors_foreign_and_groundbench(tmp_path):
    sd = {k: v.contiguous() for k, v in _state_dict().items()}
    save_file(sd, str(tmp_path / "model.safetensors"))
    tensors, meta = load_state_dict_file(tmp_path / "model.safetensors")
    _assert_same(tensors, sd)
    assert meta is None
    # a groundbench last.safetensors gives its metadata, without what only resuming needs
    full = {**sd, "optim.optimizer/state/0/exp_avg": torch.zeros(2)}
    meta_in = {"model": {"name": "x", "config": {}}, "seed": 1, "optimizer": {"tree": {}}, "rng": {"torch": [1]}}
    save_checkpoint(tmp_path / "run" / "last.safetensors", full, meta_in)
    tensors, meta = load_state_dict_file(tmp_path / "run" / "last.safetensors")
    _assert_same(tensors, sd)
    assert meta == {"model": {"name": "x", "config": {}}, "seed": 1}


def test_sidecar_metadata_foreign_json_and_stale_sidecar(tmp_path):
    sd = {"w": torch.randn(2, 3), "b": torch.zeros(3)}
    meta = {"model": {"name": "updn", "config": {"num_hid": 4}}, "vocab": ["a", "b"], "seed": 2}
    path = save_state_dict_file(tmp_path / "m.pt", sd, meta)
    tensors, got = load_state_dict_file(path)
    _assert_same(tensors, sd)
    assert got == meta
    (tmp_path / "m.json").write_text(json.dumps({"architectures": ["Bert"]}))  # someone else's JSON
    assert load_state_dict_file(path)[1] is None
    save_state_dict_file(tmp_path / "m.pt", sd, meta)
    torch.save({"w": torch.randn(5)}, path)  # weights replaced, sidecar left behind
    _one_line_error(lambda: load_state_dict_file(path), "m.json", "does not describe m.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.pt"]  # no temporary files left


def _checkpoint(tmp_path):
    model = tiny_model()
    meta = {"model": {"name": "updn", "config": {"num_tokens": 22, "num_answers": 5, "v_dim": 8,
                                                 "num_hid": 16, "word_dim": 8}},
            "task": "vqa", "vocab": ["<pad>", "what"], "answers": ["yes", "no"], "seed": 0, "code_version": "0+test"}
    save_checkpoint(tmp_path / "run" / "best.safetensors", model.state_dict(), meta)
    return model, meta


def test_export_cli_round_trip(tmp_path):
    model, meta = _checkpoint(tmp_path)
    dest = tmp_path / "out" / "model.pt"
    result = CliRunner().invoke(main, ["export", str(tmp_path / "run"), "--to", str(dest)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output
    tensors, got = load_state_dict_file(dest)
    _assert_same(tensors, model.state_dict())
    assert got == meta == load_checkpoint(tmp_path / "run")[1]
    sidecar = json.loads((tmp_path / "out" / "model.json").read_text())
    assert sidecar["schema"] == EXPORT_SCHEMA and sidecar["file"] == "model.pt"
    assert sidecar["tensors"] == {k: {"dtype": str(v.dtype)[6:], "shape": list(v.shape)}
                                  for k, v in model.state_dict().items()}
    # the export is a plain state dict: stock torch.load(weights_only=True) and load_state_dict accept it
    fresh = tiny_model(seed=1)
    fresh.load_state_dict(torch.load(dest, weights_only=True))
    for a, b in zip(fresh.state_dict().values(), model.state_dict().values()):
        assert torch.equal(a, b)
    # a checkpoint file works as well as a run directory
    result = CliRunner().invoke(main, ["export", str(tmp_path / "run" / "best.safetensors"), "--to",
                                       str(tmp_path / "w.bin")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert load_state_dict_file(tmp_path / "w.bin")[1] == meta


@pytest.mark.parametrize("args, needle", [
    (["--to", "model.safetensors"], "must end in .pt, .pth, .bin"),
    (["--to", "model"], "must end in .pt, .pth, .bin"),
])
def test_export_cli_bad_suffix_and_missing_run(tmp_path, monkeypatch, args, needle):
    _checkpoint(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["export", "run", *args], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], result.output
    assert not list(tmp_path.glob("model*"))
    result = CliRunner().invoke(main, ["export", "nowhere", "--to", "m.pt"], catch_exceptions=False)
    assert result.exit_code == 2 and "checkpoint not found" in result.output
