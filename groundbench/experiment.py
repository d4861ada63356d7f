"""Glue between the CLI and the parts: find the data, build a model for it, run a method on it.

Nothing here branches on the task: the task object (groundbench/tasks/) opens its data, sizes its model,
builds its loaders and selection score, and checks a checkpoint against the data.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from . import __version__, distributed, precision
from .checkpoint import code_version, load_checkpoint
from .data.dataset import for_device
from .data.stamps import sha256_file
from .locking import exclusive
from .loading import build_checked, check_metadata, load_any_model, load_weights, model_spec_for
from .models.checks import check_model
from .errors import GroundbenchError
from .io import read_json
from .methods import build_method
from .methods.base import Method
from .models import build_model
from .recipes import fingerprint
from .selection import get_selection
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


def check_device(device: str | None) -> str:
    """``device`` (default: cuda when available, else cpu) if torch can use it here; else a one-line error."""
    if device is None:
        return default_device()
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise GroundbenchError(f"--device '{device}' is not a torch device (cpu, cuda, cuda:1, ...)") from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise GroundbenchError(f"--device {device}: this torch ({torch.__version__}) sees no CUDA GPU; use "
                                   "--device cpu, or install a CUDA build of torch (README)")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise GroundbenchError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif parsed.type != "cpu":
        raise GroundbenchError(f"--device {device}: groundbench runs on cpu or cuda")
    return device


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
    """Rebuild the model from a groundbench checkpoint alone (metadata names the model and its config)."""
    tensors, meta = load_checkpoint(path)
    check_metadata(meta, Path(path))
    model = build_checked(meta, Path(path))
    load_weights(model, tensors, Path(path))
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
    model: str | None = None  # a user's model (--model): built-in name, package.module:Class or entry point
    model_args: dict | None = None  # its constructor arguments (--model-args)
    select: str = "val-score"  # the selection criterion (selection.py), val only
    precision: str = "auto"  # precision.CHOICES; auto: bf16 on capable CUDA, else fp32 (precision.py)
    compile: bool = False  # torch.compile the model (plain methods only)
    workers: int | None = None  # DataLoader workers; None: 0 on CPU, 4 on CUDA (data/dataset.for_device)


def resolve_method(name: str, task: Task, overrides: dict | None = None) -> Method:
    """Method ``name`` with the task's defaults, then ``overrides`` (a recipe, the command line)."""
    from .methods import METHODS

    if name not in METHODS:
        return build_method(name)  # the unknown-method error
    if task.name not in METHODS[name].tasks:
        raise GroundbenchError(f"'{name}' applies to {' and '.join(METHODS[name].tasks)} only, not {task.name}")
    defaults = task.method_defaults(name, METHODS[name].fine_tune)
    return build_method(name, {**defaults, **(overrides or {})})


def ensure_pretrained(store: Any, ref: DataRef, task: str, split: str, seed: int, device: str, cache_root: Path,
                      echo: Echo, model: str | None = None, model_args: dict | None = None) -> Path:
    """The cached pretrained model (UpDn, or the user's ``model``) for this data and seed, trained first with the
    task loss alone if absent (and said so)."""
    key = ref.to_dict() if model is None else [ref.to_dict(), model, model_args or {}]
    run = cache_root / "pretrained" / f"updn-{task}-{split}-s{seed}-{fingerprint(key)}"
    best = run / "best.safetensors"
    if (run / "history.json").exists() and best.exists():
        echo(f"No --init given: using the cached pretrained {model or 'UpDn'} {best}")
        return best
    echo(f"No --init given: pretraining {model or 'UpDn'} first into {run}")
    return train_run(RunSpec("updn", task, split, run, seed=seed, device=device, model=model, model_args=model_args),
                     store, ref, echo)


def _initial_model(spec: RunSpec, method: Method, task: Task, store: Any) -> tuple[torch.nn.Module, dict, Path | None]:
    """(model, {"name", "config"}, init checkpoint) for a resumed, fine-tuned or fresh run."""
    if spec.resume:
        last = spec.out / "last.safetensors"
        if not last.exists():
            raise GroundbenchError("nothing to resume: no last.safetensors", path=spec.out)
        model, last_meta = model_from_checkpoint(last, spec.device)
        _check_same_method(last_meta, method, last)
        model.train()
        return model, last_meta["model"], last_meta["train"]["init"]
    if method.fine_tune:
        if spec.init is None:
            raise GroundbenchError(f"method '{method.name}' fine-tunes a pretrained model: pass --init CHECKPOINT")
        model, init_meta = load_any_model(spec.init, spec.device, model=spec.model, model_args=spec.model_args,
                                          task=task, store=store)
        if init_meta.get("task", "vqa") != task.name:
            raise GroundbenchError(f"the --init checkpoint is a {init_meta.get('task')} model, not {task.name}",
                                   path=spec.init)
        if "vocab" in init_meta or "answers" in init_meta:
            task.check_checkpoint(init_meta, store, spec.init)
        model.train()
        return model, {"name": init_meta["model"]["name"], "config": init_meta["model"]["config"]}, spec.init
    if spec.model is not None:
        model_spec = model_spec_for(spec.model, spec.model_args or {}, task, store)
        return build_model(model_spec["name"], model_spec["config"]), model_spec, None
    model_name = task.model_name(method.model)
    config = task.model_config(store, model_name, spec.model_overrides)
    return build_model(model_name, config), {"name": model_name, "config": config}, None


def _check_same_method(meta: dict, method: Method, path: Path) -> None:
    """A resumed run keeps its method and settings; only ``epochs`` may grow (to extend a run)."""
    saved = meta.get("method", {})
    if saved.get("name") != method.name:
        raise GroundbenchError(f"this run trained '{saved.get('name')}', not '{method.name}'", path=path)
    ours, theirs = method.hyperparameters(), dict(saved.get("hyperparameters", {}))
    differ = [k for k in ours if k != "epochs" and k in theirs and ours[k] != theirs[k]]
    if differ:
        raise GroundbenchError("--resume with other settings than the run's: " + ", ".join(
            f"{k} {theirs[k]} -> {ours[k]}" for k in differ), path=path)


def _check_same_selection(path: Path, select: str) -> None:
    """A resumed run keeps its selection criterion (its best epoch was chosen by it)."""
    meta = read_json(path, what="checkpoint metadata").get("metadata", {}) if path.is_file() else {}
    saved = meta.get("train", {}).get("select", "val-score")
    if meta and saved != select:
        raise GroundbenchError(f"this run selects by {saved}, not {select}; resume it with --select {saved}",
                               path=path.parent)


def check_before_training(model: torch.nn.Module, model_spec: dict, method: Method, task: Task, store: Any,
                          train_set: Any, echo: Echo) -> None:
    """models/checks.py on the first few training examples (never changes the run's random stream)."""
    batch = next(iter(task.loader(torch.utils.data.Subset(train_set, range(min(8, len(train_set)))), 8,
                                  shuffle=False)))
    device = next(model.parameters()).device
    for note in check_model(model_spec["name"], model, task, batch.to(device), task.data_dims(store), method.requires):
        echo(f"note: {note}")


def _first_batch(task: Task, train_set: Any, batch_size: int, device: str) -> Any:
    """The first ``batch_size`` training examples in store order, on ``device`` (no random stream touched)."""
    subset = torch.utils.data.Subset(train_set, range(min(batch_size, len(train_set))))
    return next(iter(task.loader(subset, batch_size, shuffle=False))).to(device)


def train_run(spec: RunSpec, store: Any, ref: DataRef, echo: Echo,
              observe: Callable[[torch.nn.Module], dict] | None = None) -> Path:
    """Train ``spec.method`` on ``store``; returns the best checkpoint's path. ``observe(model)`` adds
    values to each epoch's history (diagnostics such as ``groundbench.trace``), never to selection.
    The run directory is locked for the whole run (one writer) and checked writable before any work.
    Under torchrun every rank calls this; rank 0 alone holds the lock and writes (distributed.py)."""
    if distributed.active() and spec.resume:
        raise GroundbenchError("--resume is not supported under torchrun / --nproc (each rank's random streams "
                               "are not checkpointed): resume the run single-process, or restart it", path=spec.out)
    lock = exclusive(spec.out, f"train {spec.method}") if distributed.is_main() else contextlib.nullcontext()
    with lock:
        return _train_locked(spec, store, ref, echo, observe)


def _train_locked(spec: RunSpec, store: Any, ref: DataRef, echo: Echo, observe) -> Path:
    task = get_task(spec.task)
    method = resolve_method(spec.method, task, spec.method_overrides)
    seed_everything(spec.seed)
    model, model_spec, init = _initial_model(spec, method, task, store)
    task.provide_inputs(model, store)  # e.g. the oracle importance (models/oracle_attention.py); else nothing
    train_set = task.train_dataset(store, human_only=method.fine_tune, hint_fraction=spec.hint_fraction, seed=spec.seed)
    if len(train_set) == 0:
        raise GroundbenchError("no training examples (no human maps in train?)", path=store.root)
    if spec.compile:
        precision.check_compile(method)
    check_before_training(model, model_spec, method, task, store, train_set, echo)
    amp = precision.choose(spec.precision, spec.device, model, lambda: _first_batch(task, train_set, method.batch_size,
                                                                                    spec.device), task, method, echo)
    loader = task.loader(train_set, method.batch_size, shuffle=True, seed=spec.seed)
    batches, shards = loader, None
    if distributed.active():  # this rank's slice of every global batch, same permutation as one process
        distributed.check_global_batch(method.batch_size)
        batches = distributed.shard_loader(loader)
        shards = batches.batch_sampler
    batches = for_device(batches, spec.device, spec.workers)  # same batch sampler (and shards), same order
    selection = get_selection(spec.select)
    select = selection.build(task, store, spec.device)
    metadata = {
        "format": "groundbench-checkpoint", "groundbench_version": __version__, "code_version": code_version(),
        "task": spec.task, "split": spec.split, "seed": spec.seed,
        "model": model_spec,
        "method": {"name": method.name, "hyperparameters": method.hyperparameters()},
        "train": {"init": None if init is None else str(init), "hint_fraction": spec.hint_fraction,
                  "train_questions": len(train_set), "device": spec.device, "selection": selection.describe(task),
                  "select": selection.name},
        "data": ref.to_dict(), "data_manifest_sha256": sha256_file(Path(store.root) / "manifest.json"),
        **task.metadata(store),
    }
    if distributed.active():
        metadata["train"]["processes"] = distributed.world_size()  # absent (1) in single-process runs
    if amp.name != "fp32":
        metadata["train"]["precision"] = amp.name  # absent: fp32 (the records' runs, unchanged)
    if spec.compile:
        metadata["train"]["compiled"] = True
        distributed.seed_rank_streams(spec.seed)
    config = TrainConfig(epochs=method.epochs, lr=method.lr, seed=spec.seed, device=spec.device,
                         precision=amp.name, compile=spec.compile)
    trainer = Trainer(model, method, task, config, spec.out, metadata, select=select, observe=observe,
                      generators={"train_loader": loader.generator}, shards=shards)
    if spec.resume:
        _check_same_selection(spec.out / "last.json", spec.select)
        trainer.resume()
        if trainer.state.epoch >= method.epochs and (spec.out / "history.json").exists():
            echo(f"{spec.out} already finished all {trainer.state.epoch} epochs; nothing to resume "
                 "(pass a larger --epochs to extend it)")
            return spec.out / "best.safetensors"
        echo(f"Resuming {spec.out} after epoch {trainer.state.epoch}")
    echo(f"Training {method.name} ({metadata['model']['name']}, {task.name}) on {len(train_set)} examples for "
         f"{method.epochs} epochs -> {spec.out}")
    state = trainer.fit(lambda epoch: batches, len(batches))
    echo(f"Best val score {state.best_score:.2f} at epoch {state.best_epoch}: {spec.out / 'best.safetensors'}")
    return spec.out / "best.safetensors"

