"""The main job on the embedded default: synthetic world -> every method x seed -> evaluation -> records
-> leaderboard table."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .evaluate import evaluate, flat_metrics
from .experiment import DataRef, RunSpec, model_from_checkpoint, synthetic_store, train_run
from .leaderboard import aggregate, load_records
from .methods import METHODS
from .results import Metric, make_record, save_record

BENCHMARK = "synth-vqacp"
DEMO_METHODS = ("updn", "blind", "finetune", "hint", "attn-align", "hint-random", "hint-inverted")

Echo = Callable[[str], None]


@dataclass
class DemoSpec:
    out: Path
    records: Path
    seeds: int = 1
    methods: Sequence[str] = DEMO_METHODS
    device: str = "cpu"
    reuse: bool = True
    world: dict | None = None  # WorldParams overrides (None: the default world)
    epochs: int | None = None  # override every method's epochs (smoke runs)


def _finished(run: Path) -> bool:
    return (run / "history.json").exists() and (run / "best.safetensors").exists()


def _train(method: str, seed: int, spec: DemoSpec, store, ref: DataRef, echo: Echo, init: Path | None) -> Path:
    run = spec.out / f"{method}-s{seed}"
    if spec.reuse and _finished(run):
        echo(f"[demo] reusing finished run {run}")
        return run / "best.safetensors"
    overrides = None if spec.epochs is None else {"epochs": spec.epochs}
    return train_run(RunSpec(method, "vqa", "cp", run, seed=seed, device=spec.device, init=init,
                             method_overrides=overrides), store, ref, echo)


def record_run(checkpoint: Path, store, ref: DataRef, seed: int, device: str, records: Path, echo: Echo,
               benchmark: str = BENCHMARK) -> Path:
    """Evaluate a checkpoint on val and test and save its result record; returns the record's path."""
    model, meta = model_from_checkpoint(checkpoint, device)
    report = evaluate(model, store, ["val", "test"], device=device)
    metrics = {name: Metric(value=m["value"], direction=m["direction"], n=m["n"],
                            ci95=None if m.get("ci95") is None else tuple(m["ci95"]), undefined=m.get("undefined", 0))
               for name, m in flat_metrics(report).items() if m is not None}
    method = meta["method"]["name"]
    config = {"method": meta["method"], "model": meta["model"], "train": meta["train"], "data": ref.to_dict(),
              "best_epoch": meta.get("epoch"), "upper_bound": report["upper_bound"]}
    record = make_record(benchmark, method, meta["model"]["name"], seed, metrics, config)
    path = records / benchmark / f"{method}-s{seed}.json"
    save_record(path, record)
    acc = report["splits"]["test"]["accuracy"]["value"]
    echo(f"[demo] {method} seed {seed}: val {report['splits']['val']['accuracy']['value']:.2f}  test {acc:.2f}  -> {path}")
    return path


def run_demo(spec: DemoSpec, cache_root: Path, echo: Echo) -> list:
    """Train and score every method for every seed; returns the aggregated leaderboard tables."""
    params = None
    if spec.world:
        from .data.synthetic import WorldParams

        params = {**WorldParams().to_dict(), **spec.world}
    store, ref = synthetic_store(cache_root, echo, params)
    for seed in range(spec.seeds):
        pretrained = None
        for method in spec.methods:
            init = None
            if METHODS[method].fine_tune:
                pretrained = pretrained or _train("updn", seed, spec, store, ref, echo, None)
                init = pretrained
            checkpoint = _train(method, seed, spec, store, ref, echo, init)
            if method == "updn":
                pretrained = checkpoint
            record_run(checkpoint, store, ref, seed, spec.device, spec.records, echo)
    return aggregate(load_records(spec.records), benchmark=BENCHMARK, root=spec.records)
