"""Glue between the CLI and the parts: find the data, build a model for it, run a method on it."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from . import __version__
from .checkpoint import code_version, load_checkpoint
from .data.dataset import make_loader
from .data.store import VQAStore
from .errors import GroundbenchError
from .methods import build_method
from .methods.base import Method
from .models import build_model
from .train import TrainConfig, Trainer, seed_everything

Echo = Callable[[str], None]

# Model sizes for the synthetic world (CPU-sized); real data uses the reference sizes (UpDnConfig defaults).
SYNTHETIC_MODEL = {"num_hid": 256, "word_dim": 100}


def default_cache_root() -> Path:
    """$GROUNDBENCH_CACHE, else ~/.cache/groundbench (read here, at the edge, never stored globally)."""
    return Path(os.environ.get("GROUNDBENCH_CACHE", Path.home() / ".cache" / "groundbench"))


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass
class DataRef:
    """Where a run's data lives: the synthetic world (rebuilt on demand from its params) or a store."""

    kind: str  # "synthetic" | "store"
    path: Path
    params: dict | None = None

    def to_dict(self) -> dict:
        return {"kind": self.kind, "path": str(self.path), "params": self.params}


def synthetic_store(cache_root: Path, echo: Echo, params: dict | None = None) -> tuple[VQAStore, DataRef]:
    """The synthetic world's store in the cache, generated on first use (and said so)."""
    from .data.synthetic import WorldParams, build_world, default_world_dir, world_is_built

    world = WorldParams.from_dict(params) if params else WorldParams()
    out = default_world_dir(cache_root) if params is None else default_world_dir(cache_root, world)
    if not ((out / "manifest.json").exists() and world_is_built(out / "raw", world)):
        echo(f"Generating the synthetic world (first use) into {out} ...")
        build_world(out, world)
    return VQAStore.open(out), DataRef("synthetic", out, world.to_dict())


def open_data(data: Path | None, cache_root: Path, echo: Echo) -> tuple[VQAStore, DataRef]:
    """``--data DIR`` (a prepared store) or, with none, the synthetic default."""
    if data is None:
        return synthetic_store(cache_root, echo)
    return VQAStore.open(data), DataRef("store", Path(data).resolve())


def data_from_metadata(meta: dict, data: Path | None, cache_root: Path, echo: Echo) -> VQAStore:
    """Re-open the data a checkpoint was trained on (or ``data`` when given); answers must agree."""
    ref = meta.get("data") or {}
    if data is not None:
        store = VQAStore.open(data)
    elif ref.get("kind") == "synthetic":
        store, _ = synthetic_store(cache_root, echo, ref.get("params"))
    elif ref.get("kind") == "store":
        store = VQAStore.open(ref["path"])
    else:
        raise GroundbenchError("checkpoint metadata names no data; pass --data DIR")
    if list(store.answers) != list(meta["answers"]):
        raise GroundbenchError("the data's answer vocabulary differs from the checkpoint's", path=store.root)
    return store


def model_config_for(store: VQAStore, model_name: str, overrides: dict | None = None) -> dict:
    """Model config sized to the store: vocabulary, answers, feature dimension (+ synthetic sizes)."""
    config = {"num_tokens": len(store.vocab) + 2, "num_answers": len(store.answers),
              "v_dim": int(store.manifest["feature_dim"])}
    if store.manifest.get("source") == "synthetic":
        config.update(SYNTHETIC_MODEL)
    config.update(overrides or {})
    return config


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


def soft_accuracy(model: torch.nn.Module, loader, device: str) -> float:
    """Validation score for model selection: mean soft score of the argmax answer, in % (the reference's
    compute_score_with_logits); the official metric is reported by ``groundbench eval``."""
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in loader:
            batch = batch.to(device)
            pred = model(batch.v, batch.boxes, batch.mask, batch.q).logits.argmax(1)
            total += float(batch.target.gather(1, pred.unsqueeze(1)).sum())
            count += len(batch)
    return 100.0 * total / max(count, 1)


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


def train_run(spec: RunSpec, store: VQAStore, ref: DataRef, echo: Echo,
              observe: Callable[[torch.nn.Module], dict] | None = None) -> Path:
    """Train ``spec.method`` on ``store``; returns the best checkpoint's path. ``observe(model)`` adds
    values to each epoch's history (diagnostics such as ``groundbench.trace``), never to selection."""
    method: Method = build_method(spec.method, spec.method_overrides)
    seed_everything(spec.seed)
    init = spec.init
    if spec.resume:
        model, last_meta = model_from_checkpoint(spec.out / "last.safetensors", spec.device)
        model_config, init = last_meta["model"]["config"], last_meta["train"]["init"]
        model.train()
    elif method.fine_tune:
        if init is None:
            raise GroundbenchError(f"method '{method.name}' fine-tunes a pretrained model: pass --init CHECKPOINT")
        model, init_meta = model_from_checkpoint(init, spec.device)
        if list(init_meta["answers"]) != list(store.answers):
            raise GroundbenchError("the --init checkpoint was trained on other answers than this data", path=init)
        model_config = init_meta["model"]["config"]
        model.train()
    else:
        model_config = model_config_for(store, method.model, spec.model_overrides)
        model = build_model(method.model, model_config)
    train_set = store.dataset("train", human_only=method.fine_tune, hint_fraction=spec.hint_fraction, seed=spec.seed)
    if len(train_set) == 0:
        raise GroundbenchError("no training questions (no human maps in train?)", path=store.root)
    loader = make_loader(train_set, method.batch_size, shuffle=True, seed=spec.seed)
    val_loader = make_loader(store.dataset("val"), 512, shuffle=False)
    metadata = {
        "format": "groundbench-checkpoint", "groundbench_version": __version__, "code_version": code_version(),
        "task": spec.task, "split": spec.split, "seed": spec.seed,
        "model": {"name": method.model, "config": model_config},
        "method": {"name": method.name, "hyperparameters": method.hyperparameters()},
        "train": {"init": None if init is None else str(init), "hint_fraction": spec.hint_fraction,
                  "train_questions": len(train_set), "device": spec.device, "selection": "val soft accuracy"},
        "data": ref.to_dict(), "answers": list(store.answers), "vocab": list(store.vocab),
    }
    config = TrainConfig(epochs=method.epochs, lr=method.lr, seed=spec.seed, device=spec.device)
    trainer = Trainer(model, method, config, spec.out, metadata,
                      select=lambda m: soft_accuracy(m, val_loader, spec.device), observe=observe)
    if spec.resume:
        trainer.resume()
        echo(f"Resuming {spec.out} after epoch {trainer.state.epoch}")
    echo(f"Training {method.name} ({method.model}) on {len(train_set)} questions for {method.epochs} epochs -> {spec.out}")
    state = trainer.fit(lambda epoch: loader, len(loader))
    echo(f"Best val score {state.best_score:.2f} at epoch {state.best_epoch}: {spec.out / 'best.safetensors'}")
    return spec.out / "best.safetensors"
