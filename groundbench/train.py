"""The training loop: epochs, progress with ETA, a checkpoint each epoch, best-by-validation, resume.

It knows nothing about which model, method or task it runs: ``method.loss(model, batch, task)`` gives the
loss and ``select(model) -> float`` the validation score (higher is better) used to keep the best checkpoint.
"""
from __future__ import annotations

import math
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
from tqdm import tqdm

from . import distributed, precision
from .checkpoint import flatten_optimizer_state, load_checkpoint, save_checkpoint, unflatten_optimizer_state
from .errors import GroundbenchError
from .io import read_json, write_json
from .methods.base import Method
from .tasks.base import Task

OPTIM_PREFIX = "optim."


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; returns a torch Generator for data shuffling."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@dataclass
class TrainConfig:
    """Schedule of one run; grad_clip 0.25 and Adamax as the UpDn reference (train.py)."""

    epochs: int
    lr: float
    seed: int = 0
    grad_clip: float = 0.25
    device: str = "cpu"
    precision: str = "fp32"  # a resolved name of precision.PRECISIONS (fp32: the plain, bit-stable path)
    compile: bool = False  # torch.compile the training forward (plain methods only: precision.check_compile)


@dataclass
class TrainState:
    epoch: int = 0
    best_score: float = -math.inf
    best_epoch: int = -1
    history: list[dict] = field(default_factory=list)


def rng_state(generators: dict[str, torch.Generator], device: str) -> dict:
    """Every random stream a run draws from, as JSON: torch (dropout, hint-random's draws), CUDA, Python,
    NumPy, and the named generators (the training loader's shuffling)."""
    version, mt, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"torch": torch.get_rng_state().tolist(), "python": [version, list(mt), gauss],
             "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
             "generators": {k: g.get_state().tolist() for k, g in generators.items()}}
    if str(device).startswith("cuda") and torch.cuda.is_available():
        state["cuda"] = [s.tolist() for s in torch.cuda.get_rng_state_all()]
    return state


def set_rng_state(state: dict, generators: dict[str, torch.Generator], path: Path) -> None:
    """Restore what ``rng_state`` saved; a state that lacks a stream is a one-line error naming the file."""
    try:
        torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
        version, mt, gauss = state["python"]
        random.setstate((version, tuple(mt), gauss))
        name, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
        for key, generator in generators.items():
            generator.set_state(torch.tensor(state["generators"][key], dtype=torch.uint8))
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([torch.tensor(s, dtype=torch.uint8) for s in state["cuda"]])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise GroundbenchError(f"the resume state's random generators are incomplete or corrupt ({type(exc).__name__}: "
                               f"{exc}); restart the run without --resume", path=path) from None


class Trainer:
    """Runs ``method`` on ``model`` over ``train_batches`` and writes RUN/last.* and RUN/best.*.

    Resume is exact: RUN/last.safetensors holds, at the end of each epoch, the weights, the optimizer, the
    epoch counter, best score, history and every random stream (``rng_state``; pass the training loader's
    shuffling generator in ``generators``), so a run killed at any instant and resumed gives the same weights,
    bit for bit, as one never interrupted - on the same torch build, device and thread count.

    Under torchrun (``distributed.active()``) the model trains wrapped in DistributedDataParallel; pass the
    rank's ``distributed.ShardedBatches`` as ``shards`` (loss weights of an uneven last batch). Rank 0 alone
    validates (the score is broadcast), writes files and prints; see groundbench/distributed.py.
    """

    def __init__(self, model: torch.nn.Module, method: Method, task: Task, config: TrainConfig, run_dir: Path,
                 metadata: dict, select: Callable[[torch.nn.Module], float],
                 observe: Callable[[torch.nn.Module], dict] | None = None,
                 generators: dict[str, torch.Generator] | None = None,
                 shards: distributed.ShardedBatches | None = None):
        self.model = model.to(config.device)
        self.parallel = distributed.active()
        self.main = distributed.is_main()
        self.shards = shards
        self.train_model = distributed.wrap(self.model, config.device) if self.parallel else self.model
        if config.compile:
            precision.check_compile(method)
            self.train_model = precision.compiled(self.train_model)
        self.amp = precision.Amp(precision.PRECISIONS[config.precision], config.device)
        self.method = method
        self.task = task
        self.config = config
        self.run_dir = Path(run_dir)
        self.metadata = metadata
        self.select = select
        self.observe = observe  # extra per-epoch values for the history (diagnostics); never used to select
        self.optimizer = torch.optim.Adamax(self.model.parameters(), lr=config.lr)
        self.generators = dict(generators or {})
        self.state = TrainState()

    # -- checkpoints -------------------------------------------------------------------------------
    def _save(self, name: str) -> Path:
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        meta = dict(self.metadata, epoch=self.state.epoch, best_score=self.state.best_score,
                    best_epoch=self.state.best_epoch, history=self.state.history)
        if name == "last":
            optim_tensors, optim_meta = flatten_optimizer_state(self.optimizer.state_dict())
            tensors.update({OPTIM_PREFIX + k: v for k, v in optim_tensors.items()})
            meta["optimizer"] = optim_meta
            meta["rng"] = rng_state(self.generators, self.config.device)
            if self.amp.scaler is not None:  # fp16: the loss scale and its growth tracker (plain numbers)
                meta["grad_scaler"] = self.amp.scaler.state_dict()
        return save_checkpoint(self.run_dir / f"{name}.safetensors", tensors, meta)

    def resume(self) -> None:
        """Continue from RUN/last.safetensors: weights, optimizer, epoch counter, best score, history, RNGs and
        (fp16) the GradScaler's loss scale."""
        path = self.run_dir / "last.safetensors"
        if not path.exists():
            raise GroundbenchError("nothing to resume: no last.safetensors", path=self.run_dir)
        tensors, meta = load_checkpoint(path)
        weights = {k: v for k, v in tensors.items() if not k.startswith(OPTIM_PREFIX)}
        optim = {k[len(OPTIM_PREFIX):]: v for k, v in tensors.items() if k.startswith(OPTIM_PREFIX)}
        try:
            state = TrainState(int(meta["epoch"]), float(meta["best_score"]), int(meta["best_epoch"]),
                               list(meta["history"]))
            optimizer_meta, rng = meta["optimizer"], meta["rng"]
        except (KeyError, TypeError, ValueError) as exc:
            raise GroundbenchError(f"not a resumable state: {type(exc).__name__} {exc} in its metadata; restart "
                                   "the run without --resume", path=path) from None
        try:
            self.model.load_state_dict(weights)
            self.optimizer.load_state_dict(unflatten_optimizer_state(optim, optimizer_meta, path=path))
        except (RuntimeError, ValueError, KeyError) as exc:
            raise GroundbenchError(f"the resume state does not fit this model / optimizer ({str(exc).splitlines()[0]})",
                                   path=path) from None
        set_rng_state(rng, self.generators, path)
        if self.amp.scaler is not None and isinstance(meta.get("grad_scaler"), dict):
            self.amp.scaler.load_state_dict(meta["grad_scaler"])  # older fp16 runs: the scale restarts
        self.state = state

    # -- the loop ----------------------------------------------------------------------------------
    def fit(self, train_batches: Callable[[int], Iterable], num_batches: int) -> TrainState:
        """Train until ``config.epochs``; ``train_batches(epoch)`` yields that epoch's batches."""
        device = self.config.device
        while self.state.epoch < self.config.epochs:
            epoch = self.state.epoch + 1
            self.train_model.train()
            start, totals, seen = time.time(), {}, 0
            bar = tqdm(train_batches(epoch), total=num_batches, file=sys.stderr, leave=False, disable=not self.main,
                       desc=f"{self.method.name} epoch {epoch}/{self.config.epochs}", dynamic_ncols=True)
            for step, batch in enumerate(bar):
                batch = batch.to(device)
                with self.amp.autocast():  # fp32: no autocast
                    loss, logs = self.method.loss(self.train_model, batch, self.task)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"non-finite loss at epoch {epoch}: {logs}")
                if self.shards is not None and self.shards.weight(step) != 1.0:
                    loss = loss * self.shards.weight(step)  # an uneven last global batch (distributed.py)
                self.optimizer.zero_grad(set_to_none=True)
                self.amp.backward(loss)
                self.amp.step(self.optimizer, self.model.parameters(), self.config.grad_clip)
                seen += 1
                for key, value in logs.items():
                    totals[key] = totals.get(key, 0.0) + value
                bar.set_postfix({k: f"{v / seen:.3f}" for k, v in totals.items()})
            bar.close()
            self.model.eval()
            score = float(self.select(self.model)) if self.main else 0.0
            means = {k: v / max(seen, 1) for k, v in totals.items()}
            if self.parallel:  # every rank agrees on the score (so on "best"); the logs are the ranks' mean
                score, means = distributed.broadcast_float(score), distributed.mean_over_ranks(means)
            record = {"epoch": epoch, "seconds": round(time.time() - start, 2), "val_score": score, **means}
            if self.observe is not None and self.main:
                record.update(self.observe(self.model))
            self.state.epoch = epoch
            self.state.history.append(record)
            improved = score > self.state.best_score
            if improved:
                self.state.best_score, self.state.best_epoch = score, epoch
            if not self.main:
                continue
            if improved:
                self._save("best")
            self._save("last")
            remaining = (self.config.epochs - epoch) * record["seconds"]
            tqdm.write(f"[{self.method.name}] epoch {epoch}/{self.config.epochs}  "
                       + "  ".join(f"{k} {v:.4f}" for k, v in record.items() if k not in ("epoch", "seconds"))
                       + f"  ({record['seconds']:.1f}s{', best' if improved else ''}; ETA {remaining:.0f}s)",
                       file=sys.stderr)
        if self.main:
            write_json(self.run_dir / "history.json", {"best_epoch": self.state.best_epoch,
                                                       "best_val_score": self.state.best_score,
                                                       "history": self.state.history})
        distributed.barrier()  # the other ranks go on only once rank 0's files are written
        return self.state


def history_of(run_dir: Path) -> dict:
    """The saved history of a finished run."""
    return read_json(Path(run_dir) / "history.json", what="run history")
