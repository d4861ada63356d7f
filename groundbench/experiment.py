"""Glue between the CLI and the parts: find the data, build a model for it, run a method on it.

Nothing here branches on the task: the task object (groundbench/tasks/) opens its data, sizes its model,
builds its loaders and selection score, and checks a checkpoint against the data.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from . import __version__
from .checkpoint import code_version, load_checkpoint
from .errors import GroundbenchError
from .methods import build_method
from .methods.base import Method
from .models import build_model
from .recipes import fingerprint
from .tasks import DataRef, Task, get_task
from .train import TrainConfig, Trainer, seed_everything

Echo = Callable[[str], None]

__all__ = ["DataRef", "Echo", "RunSpec", "data_from_metadata", "default_cache_root", "default_device",
           "ensure_pretrained", "model_from_checkpoint", "open_data", "synthetic_store", "train_run"]


def default_cache_root() -> Path:
    """$GROUNDBENCH_CACHE, else ~/.cache/groundbench (read here, at the edge, never stored globally)."""
    return Path(os.environ.get("GROUNDBENCH_CACHE", Path.home() / ".cache" / "groundbench"))


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def synthetic_store(cache_root: Path, echo: Echo, params: dict | None = None):
    """The synthetic VQA world's store in the cache, generated on first use (and said so)."""
    return get_task("vqa").synthetic(cache_root, echo, params)


def open_data(data: Path | None, cache_root: Path, echo: Echo, task: str = "vqa", split: str | None = None):
    """``--data DIR`` (a prepared store of ``task``) or, with none, the task's synthetic default."""
    t = get_task(task)
    if data is None:
        return t.synthetic(cache_root, echo, None, split)
    return t.open_store(data), DataRef("store", Path(data).resolve())


def data_from_metadata(meta: dict, data: Path | None, cache_root: Path, echo: Echo, path: Path | None = None):
    """Re-open the data a checkpoint was trained on (or ``data`` when given); vocabularies must agree."""
    task = get_task(meta.get("task", "vqa"))
    ref = meta.get("data") or {}
    if data is not None:
        store = task.open_store(data)
    elif ref.get("kind", "").startswith("synthetic"):
        store, _ = task.synthetic(cache_root, echo, ref.get("params"), meta.get("split"))
    elif ref.get("kind") == "store":
        store = task.open_store(ref["path"])
    else:
        raise GroundbenchError("checkpoint metadata names no data; pass --data DIR", path=path)
    task.check_checkpoint(meta, store, path)
    return store


def model_from_checkpoint(path: Path, device: str = "cpu") -> tuple[torch.nn.Module, dict]:
    """Rebuild the model from the checkpoint alone (metadata names the model and its config)."""
    tensors, meta = load_checkpoint(path)
    try:
        model = build_model(meta["model"]["name"], meta["model"]["config"])
        weights = {k: v for k, v in tensors.items() if not k.startswith("optim.")}
        model.load_state_dict(weights)
    except KeyError as exc:
        raise GroundbenchError(f"checkpoint metadata lacks {exc}", path=path) from None
    except RuntimeError as exc:
        raise GroundbenchError(f"weights do not fit the model: {str(exc).splitlines()[0]}", path=path) from None
    return model.to(device).eval(), meta


@dataclass
class RunSpec:
    """Everything one ``groundbench train`` needs."""

    method: str
    task: str
    split: str
    out: Path
    seed: int = 0
    device: str = "cpu"
    init: Path | None = None
    hint_fraction: float | None = None
    resume: bool = False
    method_overrides: dict | None = None
    model_overrides: dict | None = None


def resolve_method(name: str, task: Task, overrides: dict | None = None) -> Method:
    """Method ``name`` with the task's defaults, then ``overrides`` (a recipe, the command line)."""
    from .methods import METHODS

    if name not in METHODS:
        return build_method(name)  # the unknown-method error
    defaults = task.method_defaults(name, METHODS[name].fine_tune)
    return build_method(name, {**defaults, **(overrides or {})})


def ensure_pretrained(store: Any, ref: DataRef, task: str, split: str, seed: int, device: str, cache_root: Path,
                      echo: Echo) -> Path:
    """The cached pretrained UpDn for this data and seed, trained first if absent (and said so)."""
    run = cache_root / "pretrained" / f"updn-{task}-{split}-s{seed}-{fingerprint(ref.to_dict())}"
    best = run / "best.safetensors"
    if (run / "history.json").exists() and best.exists():
        echo(f"No --init given: using the cached pretrained UpDn {best}")
        return best
    echo(f"No --init given: pretraining UpDn first into {run}")
    return train_run(RunSpec("updn", task, split, run, seed=seed, device=device), store, ref, echo)


def _initial_model(spec: RunSpec, method: Method, task: Task, store: Any) -> tuple[torch.nn.Module, dict, Path | None]:
    """(model, {"name", "config"}, init checkpoint) for a resumed, fine-tuned or fresh run."""
    if spec.resume:
        model, last_meta = model_from_checkpoint(spec.out / "last.safetensors", spec.device)
        model.train()
        return model, last_meta["model"], last_meta["train"]["init"]
    if method.fine_tune:
        if spec.init is None:
            raise GroundbenchError(f"method '{method.name}' fine-tunes a pretrained model: pass --init CHECKPOINT")
        model, init_meta = model_from_checkpoint(spec.init, spec.device)
        if init_meta.get("task", "vqa") != task.name:
            raise GroundbenchError(f"the --init checkpoint is a {init_meta.get('task')} model, not {task.name}",
                                   path=spec.init)
        try:
            task.check_checkpoint(init_meta, store, spec.init)
        except GroundbenchError:
            raise GroundbenchError("the --init checkpoint was trained on other data (its vocabulary differs)",
                                   path=spec.init) from None
        model.train()
        return model, {"name": init_meta["model"]["name"], "config": init_meta["model"]["config"]}, spec.init
    model_name = task.model_name(method.model)
    config = task.model_config(store, model_name, spec.model_overrides)
    return build_model(model_name, config), {"name": model_name, "config": config}, None


def train_run(spec: RunSpec, store: Any, ref: DataRef, echo: Echo,
              observe: Callable[[torch.nn.Module], dict] | None = None) -> Path:
    """Train ``spec.method`` on ``store``; returns the best checkpoint's path. ``observe(model)`` adds
    values to each epoch's history (diagnostics such as ``groundbench.trace``), never to selection."""
    task = get_task(spec.task)
    method = resolve_method(spec.method, task, spec.method_overrides)
    seed_everything(spec.seed)
    model, model_spec, init = _initial_model(spec, method, task, store)
    train_set = task.train_dataset(store, human_only=method.fine_tune, hint_fraction=spec.hint_fraction, seed=spec.seed)
    if len(train_set) == 0:
        raise GroundbenchError("no training examples (no human maps in train?)", path=store.root)
    loader = task.loader(train_set, method.batch_size, shuffle=True, seed=spec.seed)
    select = task.selector(store, spec.device)
    metadata = {
        "format": "groundbench-checkpoint", "groundbench_version": __version__, "code_version": code_version(),
        "task": spec.task, "split": spec.split, "seed": spec.seed,
        "model": model_spec,
        "method": {"name": method.name, "hyperparameters": method.hyperparameters()},
        "train": {"init": None if init is None else str(init), "hint_fraction": spec.hint_fraction,
                  "train_questions": len(train_set), "device": spec.device, "selection": task.selection},
        "data": ref.to_dict(), **task.metadata(store),
    }
    config = TrainConfig(epochs=method.epochs, lr=method.lr, seed=spec.seed, device=spec.device)
    trainer = Trainer(model, method, task, config, spec.out, metadata, select=select, observe=observe)
    if spec.resume:
        trainer.resume()
        echo(f"Resuming {spec.out} after epoch {trainer.state.epoch}")
    echo(f"Training {method.name} ({metadata['model']['name']}, {task.name}) on {len(train_set)} examples for "
         f"{method.epochs} epochs -> {spec.out}")
    state = trainer.fit(lambda epoch: loader, len(loader))
    echo(f"Best val score {state.best_score:.2f} at epoch {state.best_epoch}: {spec.out / 'best.safetensors'}")
    return spec.out / "best.safetensors"

