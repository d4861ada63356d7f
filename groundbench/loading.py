"""Any checkpoint a user has -> (model, metadata): our safetensors checkpoints, and plain PyTorch state dicts
(``.pt`` / ``.pth`` / ``.bin``, or a ``.safetensors`` without our metadata) with the model named by
``--model`` / ``--model-args`` or by the sidecar JSON ``groundbench export`` writes. Weights are read by
groundbench/torch_files.py, which never runs code from the file."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .errors import GroundbenchError
from .models import build_model, external_config, is_builtin

PLAIN_SUFFIXES = (".pt", ".pth", ".bin")


def check_metadata(meta: dict, path: Path) -> None:
    """The metadata keys evaluation and fine-tuning read, with their types, checked before any work."""
    from .tasks import TASKS

    def bad(key: str, want: str) -> None:
        raise GroundbenchError(f"checkpoint metadata: '{key}' must be {want}", path=path)

    if meta.get("task", "vqa") not in TASKS:
        bad("task", f"one of {', '.join(TASKS)} (got {meta.get('task')!r})")
    model = meta.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("name"), str):
        bad("model.name", "a string")
    if not isinstance(model.get("config"), dict):
        bad("model.config", "a JSON object")
    method = meta.get("method", {"name": "external"})
    if not isinstance(method, dict) or not isinstance(method.get("name"), str):
        bad("method.name", "a string")
    if meta.get("seed") is not None and (not isinstance(meta["seed"], int) or isinstance(meta["seed"], bool)):
        bad("seed", "an integer")
    if "data" in meta and not (isinstance(meta["data"], dict) or meta["data"] is None):
        bad("data", "a JSON object")
    for key in ("vocab", "answers", "categories"):
        if key in meta and not (isinstance(meta[key], list) and all(isinstance(w, str) for w in meta[key])):
            bad(key, "a list of strings")


def build_checked(meta: dict, path: Path) -> torch.nn.Module:
    """``build_model`` from checked metadata; its errors name the checkpoint."""
    try:
        return build_model(meta["model"]["name"], meta["model"]["config"])
    except GroundbenchError as exc:
        raise GroundbenchError(exc.message, path=path) from None


def load_weights(model: torch.nn.Module, tensors: dict[str, torch.Tensor], path: Path) -> None:
    """Strict ``load_state_dict``; missing / unexpected / misshapen keys are one line naming the first ones."""
    weights = {k: v for k, v in tensors.items() if not k.startswith("optim.")}
    own = model.state_dict()
    missing = [k for k in own if k not in weights]
    unexpected = [k for k in weights if k not in own]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
        raise GroundbenchError(f"weights do not fit the model: {'; '.join(parts)} keys", path=path)
    for key, value in weights.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise GroundbenchError(f"the checkpoint holds non-finite weights (NaN or inf) in '{key}'", path=path)
        if tuple(value.shape) != tuple(own[key].shape):
            raise GroundbenchError(f"weights do not fit the model: '{key}' has shape {list(value.shape)}, the model "
                                   f"expects {list(own[key].shape)}", path=path)
    model.load_state_dict(weights)


def model_spec_for(name: str, args: dict, task, store) -> dict:
    """{"name", "config"} for model ``name`` on ``store``: a built-in is sized by the task (args override);
    a user's class gets ``args`` plus the data sizes its constructor takes."""
    if is_builtin(name):
        return {"name": name, "config": task.model_config(store, name, args)}
    return {"name": name, "config": external_config(name, task.data_dims(store), args)}


def build_from_weights(tensors: dict[str, torch.Tensor], meta: dict | None, path: Path, device: str, *,
                       model: str | None = None, model_args: dict | None = None, task=None,
                       store=None) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The model for ``tensors``. With metadata (ours, or an export's sidecar) the metadata names the model and
    ``model`` only replaces the class; without, ``model`` must name it and ``task``/``store`` size it."""
    if meta is None:
        if model is None:
            raise GroundbenchError("a plain state dict does not say which model it holds: pass --model "
                                   "package.module:ClassName (and --model-args args.json)", path=path)
        if task is None or store is None:
            raise GroundbenchError("a plain state dict needs the data to size its model: pass --data", path=path)
        meta = {"task": task.name, "model": model_spec_for(model, model_args or {}, task, store),
                "method": {"name": "external", "hyperparameters": {}}, "seed": None,
                "source": {"kind": "plain-state-dict", "path": str(path)}}
    else:
        check_metadata(meta, path)
        if model is not None and model != meta["model"]["name"]:
            config = model_args if model_args is not None else meta["model"]["config"]
            meta = {**meta, "model": {"name": model, "config": config}}
    net = build_checked(meta, path)
    load_weights(net, tensors, path)
    return net.to(device).eval(), meta


def read_weights(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None, Path]:
    """(tensors, metadata or None, file) for a run directory, our checkpoint, or any plain weights file."""
    from .checkpoint import load_checkpoint, resolve_checkpoint

    path = resolve_checkpoint(path)
    if path.suffix == ".safetensors" and _has_our_metadata(path):
        tensors, meta = load_checkpoint(path)
        return tensors, meta, path
    from .torch_files import load_state_dict_file

    tensors, meta = load_state_dict_file(path)
    return tensors, meta, path


def _has_our_metadata(path: Path) -> bool:
    from .checkpoint import read_checkpoint_metadata

    try:
        read_checkpoint_metadata(path)
    except GroundbenchError:
        return False
    return True


def load_any_model(path: Path, device: str, *, model: str | None = None, model_args: dict | None = None,
                   task=None, store=None) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Read ``path`` (never unpickling) and rebuild its model; see ``build_from_weights``."""
    tensors, meta, path = read_weights(Path(path))
    return build_from_weights(tensors, meta, path, device, model=model, model_args=model_args, task=task,
                              store=store)
