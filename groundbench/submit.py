"""Submit a run to a leaderboard: evaluate its checkpoint, build a result record, validate it against the
benchmark and the records already there, and write it atomically as ``RECORDS/<benchmark>/<method>-s<seed>.json``.

"Evaluated" means evaluated by this command, on the data the checkpoint was trained on (or ``--data``): an
eval report written earlier does not name the data it scored, so a record built from it could carry neither a
data checksum nor a guarantee that its numbers are the checkpoint's. The evaluation is the one ``groundbench
eval`` and the demo run (``task.evaluate`` on every split but train).

Refused, each with its reason in one line (GroundbenchError), before the evaluation where it can be told:
an unknown benchmark; a benchmark whose task, split scheme or data source is not the run's; data other than
the data the run was trained on (manifest sha256); a record already there for the same method and seed
(unless ``replace``); a row (same benchmark, method, model) whose records were made by another code version
(of the evaluation or of the training) or on other data; and, after it, a metric of a split the benchmark
does not score, a metric without a direction or off its scale (results.record_from_dict), or a direction that
differs from the one other records of the folder give the same metric.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from .checkpoint import code_version, read_checkpoint_metadata, resolve_checkpoint
from .data.stamps import sha256_file
from .errors import GroundbenchError
from .evaluate import flat_metrics
from .io import check_writable
from .leaderboard import load_records
from .leaderboard_benchmarks import Benchmark, benchmark_for_store, get_benchmark
from .loading import check_metadata
from .results import MEASURED, SCHEMA, ResultRecord, record_from_dict, save_record
from .tasks import DataRef, get_task

Echo = Callable[[str], None]
_METRIC_FIELDS = ("value", "direction", "n", "ci95", "undefined")


@dataclass
class Submission:
    """One ``groundbench submit``: the run (directory or checkpoint), where it goes, and how to evaluate it."""

    run: Path
    benchmark: str
    records: Path = Path("leaderboards/records")
    replace: bool = False
    data: Path | None = None
    device: str = "cpu"


def refuse(reason: str, path: str | Path | None = None) -> GroundbenchError:
    """The one-line refusal: ``[path: ]cannot submit: reason``."""
    return GroundbenchError(f"cannot submit: {reason}", path=path)


def target_path(records: Path, benchmark: str, method: str, seed: int) -> Path:
    """Where the record of ``method`` / ``seed`` goes: RECORDS/<benchmark>/<method>-s<seed>.json (as the demo)."""
    return Path(records) / benchmark / f"{method}-s{seed}.json"


def check_run(meta: dict, bench: Benchmark, path: Path) -> None:
    """The run's task and split scheme (checkpoint metadata) are the benchmark's."""
    task, split = meta.get("task", "vqa"), meta.get("split")
    if (task, split) != (bench.task, bench.split_scheme):
        raise refuse(f"benchmark '{bench.name}' is {bench.task} on split scheme '{bench.split_scheme}', but this "
                     f"run is {task} on '{split}'", path)
    if not isinstance(meta.get("method"), dict) or not isinstance(meta.get("seed"), int):
        raise refuse("the checkpoint metadata names no method or seed (not a groundbench training run?)", path)


def check_store(store: Any, task: str, bench: Benchmark, meta: dict, path: Path) -> str:
    """The store is the benchmark's data and the data the run was trained on; returns its manifest sha256."""
    source, scheme = store.manifest.get("source"), store.manifest.get("split_scheme")
    found = benchmark_for_store(task, source, scheme)
    if found is None or found.name != bench.name:
        what = f"benchmark '{found.name}'" if found is not None else "no registered benchmark"
        raise refuse(f"the data is {source} split '{scheme}' ({what}), not benchmark '{bench.name}'", store.root)
    sha = sha256_file(Path(store.root) / "manifest.json")
    trained = meta.get("data_manifest_sha256")
    if trained is not None and trained != sha:
        raise refuse(f"this is not the data the run was trained on (manifest sha256 {sha[:12]}..., the run's "
                     f"{str(trained)[:12]}...)", store.root)
    return sha


def record_dict(report: dict, meta: dict, benchmark: str, config: dict[str, Any]) -> dict[str, Any]:
    """The record (JSON form, not yet validated) of an evaluation report of the checkpoint ``meta``; metric
    entries keep only the record's fields, so one without a direction stays without one (and is refused)."""
    metrics = {name: {k: m[k] for k in _METRIC_FIELDS if k in m} if isinstance(m, dict) else m
               for name, m in flat_metrics(report).items() if m is not None} if report else {}
    return {"schema": SCHEMA, "benchmark": benchmark, "method": meta["method"]["name"],
            "model": meta["model"]["name"], "seed": meta["seed"], "metrics": metrics,
            "config": {**config, "upper_bound": report.get("upper_bound")} if report.get("upper_bound") else config,
            "code_version": code_version(),
            "date": datetime.now(timezone.utc).replace(microsecond=0).isoformat(), "source": MEASURED}


def _row_conflict(record: ResultRecord, other: ResultRecord) -> str | None:
    """Why ``record`` cannot join the row of ``other`` (same benchmark, method, model), or None."""
    for what, key in (("evaluation code version", None), ("training code version", "train_code_version"),
                      ("data checksum (manifest sha256)", "data_manifest_sha256")):
        mine = record.code_version if key is None else record.config.get(key)
        theirs = other.code_version if key is None else other.config.get(key)
        if mine != theirs:
            return f"mixed {what} in one row: {theirs!r} there, {mine!r} here"
    return None


def check_record(data: dict, bench: Benchmark, records: Path, target: Path, replace: bool) -> ResultRecord:
    """Validate the record ``data`` for ``target`` against its schema, the benchmark and the records under
    ``records`` (module docstring); returns it typed."""
    record = record_from_dict(data, path=target)
    if record.benchmark != bench.name or not record.measured or record.seed is None:
        raise refuse(f"a submitted record is a measured run of benchmark '{bench.name}' with a seed", target)
    for name in record.metrics:
        split = name.split("/", 1)[0]
        if split not in bench.splits:
            raise refuse(f"metric '{name}': unknown split '{split}' (benchmark '{bench.name}' scores "
                         f"{', '.join(bench.splits)})", target)
    if target.exists() and not replace:
        raise refuse(f"a record for {record.method} seed {record.seed} is already there (pass --replace to "
                     "overwrite it)", target)
    existing = load_records(records) if Path(records).is_dir() else []
    for path, other in existing:
        if path.resolve() == target.resolve():
            continue
        for name, metric in record.metrics.items():
            if name in other.metrics and other.metrics[name].direction != metric.direction:
                raise refuse(f"metric '{name}' is '{metric.direction}'-is-better here but "
                             f"'{other.metrics[name].direction}' in {path}", target)
        if (other.benchmark, other.method, other.model, other.source) != (bench.name, record.method, record.model,
                                                                            MEASURED):
            continue
        if other.seed == record.seed:
            raise refuse(f"seed {record.seed} of this row is already recorded in {path}", target)
        conflict = _row_conflict(record, other)
        if conflict:
            raise refuse(f"{conflict} ({path}); submit the row's seeds from one code version and one data "
                         "build, or to another --records folder", target)
    return record


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``folder`` itself (no lock file left behind): a concurrent submit to the same
    benchmark waits until this one has checked and written its record."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def evaluate_run(checkpoint: Path, store: Any, task: str, device: str) -> dict:
    """The evaluation report of ``checkpoint`` on every split of ``store`` but train (as ``groundbench eval``)."""
    from .experiment import model_from_checkpoint

    model, _ = model_from_checkpoint(checkpoint, device)
    t = get_task(task)
    return t.evaluate(model, store, t.eval_splits(store), device=device)


def submit(spec: Submission, cache_root: Path, echo: Echo) -> tuple[Path, ResultRecord]:
    """Evaluate ``spec.run``, validate its record and write it; returns (record path, record)."""
    from .experiment import data_from_metadata

    bench = get_benchmark(spec.benchmark)
    checkpoint = resolve_checkpoint(spec.run)
    meta = read_checkpoint_metadata(checkpoint)
    check_metadata(meta, checkpoint)
    check_run(meta, bench, checkpoint)
    target = target_path(spec.records, bench.name, meta["method"]["name"], meta["seed"])
    check_writable(target)
    if target.exists() and not spec.replace:
        raise refuse(f"a record for {meta['method']['name']} seed {meta['seed']} is already there (pass --replace "
                     "to overwrite it)", target)
    task = meta.get("task", "vqa")
    store = data_from_metadata(meta, spec.data, cache_root, echo, path=checkpoint)
    sha = check_store(store, task, bench, meta, checkpoint)
    ref = DataRef("store", Path(spec.data).resolve()).to_dict() if spec.data is not None else meta.get("data")
    config = {"method": meta["method"], "model": meta["model"], "train": meta.get("train"), "data": ref,
              "best_epoch": meta.get("epoch"), "data_manifest_sha256": sha,
              "train_code_version": meta.get("code_version", ""), "submitted_from": str(checkpoint)}
    check_record(record_dict({}, meta, bench.name, config), bench, spec.records, target, spec.replace)
    echo(f"Evaluating {checkpoint} ({meta['method']['name']}, seed {meta['seed']}) on {store.root} ...")
    report = evaluate_run(checkpoint, store, task, spec.device)
    data = record_dict(report, meta, bench.name, config)
    with locked(target.parent):
        record = check_record(data, bench, spec.records, target, spec.replace)
        save_record(target, record)
    return target, record
