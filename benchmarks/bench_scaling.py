"""Scaling: data preparation time, UpDn training / evaluation throughput and peak RAM at growing world sizes.

For each number of images (full: 5k, 20k, 40k images, K 36, D 2048, float16 features written straight into the
memory-mapped store, data/feature_npy.py; ``--small``: 100, 200, 400 images, D 128, for CI) two fresh
processes run: ``prepare`` generates the synthetic world and prepares its store (``build_world(...,
feature_dtype="float16")``: scenes, questions, PNGs, HAT maps, features, then prepare_vqa); ``train`` opens
the store and runs one UpDn epoch (the trainer's step: forward + loss, backward, clip 0.25, Adamax; batch 256,
shuffled; the world's model, 256 hidden) then scores val (batch 512, no_grad). ``--train-questions N`` times
only the first N questions of the shuffled epoch (the step is the same throughout, so every size runs the same
number of steps; default 8192 in the full run, where a whole 40k-image epoch takes ~30 min on a 2-core CPU,
256 in ``--small``; 0 = the whole epoch). ``BENCH_NOTE`` (environment) is copied into the summary record.
Peak RAM is the peak anonymous resident memory (RssAnon, sampled every 10 ms by a thread): the memory-mapped
feature pages are file-backed, reclaimable page cache and show only in VmHWM (ru_maxrss), reported too.
Figures: ``scaling_<n>`` per size and ``scaling``, with ``prepare_growth`` (prepare time ratio largest /
smallest over the images ratio: 1 = linear) and ``train_memory_flat`` (train peak RssAnon smallest / largest; target >= 0.8, and <= 4 GB at the largest).
Usage: ``python -m benchmarks.bench_scaling [--small] [--sizes 5000 20000] [--train-questions N] [--keep DIR]``.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .common import emit, memory_status

FULL = {"sizes": (5000, 20000, 40000), "d": 2048, "train_questions": 8192}
SMALL = {"sizes": (100, 200, 400), "d": 128, "train_questions": 256}
K, BATCH, EVAL_BATCH, FLAT_TARGET, RAM_LIMIT_MB = 36, 256, 512, 0.8, 4096
ROOT = Path(__file__).resolve().parent.parent


class PeakMemory:
    """Peak RssAnon of this process, sampled every ``period`` s by a daemon thread while in the block."""

    def __init__(self, period: float = 0.01):
        self.period, self.peak, self._stop = period, 0, threading.Event()

    status = staticmethod(memory_status)

    def _sample(self) -> None:
        while not self._stop.wait(self.period):
            self.peak = max(self.peak, self.status()["RssAnon"])

    def __enter__(self) -> "PeakMemory":
        self.peak = self.status()["RssAnon"]
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.status()["RssAnon"])


def mb(n_bytes: float) -> float:
    return round(n_bytes / 2 ** 20, 1)


def child_prepare(out: str, images: int, d: int) -> dict:
    from groundbench.data.synthetic import WorldParams, build_world

    params = WorldParams(n_images=images, feature_dim=d, n_proposals=K)
    with PeakMemory() as memory:
        start = time.perf_counter()
        build_world(out, params, progress=False, feature_dtype="float16")
        seconds = time.perf_counter() - start
    manifest = json.loads((Path(out) / "manifest.json").read_text())
    features = Path(out) / "features" / "features.npy"
    return {"prepare_s": round(seconds, 2), "prepare_images_per_s": round(images / seconds, 1),
            "prepare_peak_rss_anon_mb": mb(memory.peak), "prepare_vm_hwm_mb": mb(memory.status()["VmHWM"]),
            "questions": manifest["splits"], "features_gb": round(features.stat().st_size / 1e9, 3),
            "feature_dtype": "float16"}


def child_train(out: str, train_questions: int | None) -> dict:
    import torch

    from groundbench.data.store import VQAStore
    from groundbench.methods import build_method
    from groundbench.models import build_model
    from groundbench.tasks.vqa import VQATask, soft_accuracy

    torch.manual_seed(0)
    task, method = VQATask(), build_method("updn")
    with PeakMemory() as train_memory:
        store = VQAStore.open(out)
        model = build_model("updn", task.model_config(store, "updn"))
        optimizer = torch.optim.Adamax(model.parameters(), lr=method.lr)
        loader = task.loader(task.train_dataset(store, human_only=False, hint_fraction=None, seed=0), BATCH,
                             shuffle=True, seed=0)
        model.train()
        start, seen = time.perf_counter(), 0
        for batch in loader:
            loss, _ = method.loss(model, batch, task)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
            optimizer.step()
            seen += len(batch)
            if train_questions is not None and seen >= train_questions:
                break
        train_s = time.perf_counter() - start
    with PeakMemory() as eval_memory:
        model.eval()
        val = task.loader(store.dataset("val"), EVAL_BATCH, shuffle=False)
        start = time.perf_counter()
        soft_accuracy(model, val, "cpu")
        eval_s = time.perf_counter() - start
    return {"epoch_questions": len(loader.dataset), "timed_questions": seen, "train_s": round(train_s, 2),
            "train_questions_per_s": round(seen / train_s, 1), "train_peak_rss_anon_mb": mb(train_memory.peak),
            "val_questions": len(val.dataset), "eval_questions_per_s": round(len(val.dataset) / eval_s, 1),
            "eval_peak_rss_anon_mb": mb(eval_memory.peak),
            "vm_hwm_mb": mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)}


def _child(*args: object) -> dict:
    done = subprocess.run([sys.executable, "-m", "benchmarks.bench_scaling", "--child", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise RuntimeError(f"bench_scaling child {args[:2]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(small: bool = False, sizes: tuple[int, ...] | None = None, train_questions: int | None = -1,
        keep: str | None = None) -> list[dict]:
    mode = SMALL if small else FULL
    sizes = tuple(sizes or mode["sizes"])
    limit = mode["train_questions"] if train_questions == -1 else train_questions
    records, by_size = [], {}
    with tempfile.TemporaryDirectory(dir=keep) as tmp:
        for n in sizes:
            store = Path(tmp) / f"world{n}"
            figures = {**_child("prepare", store, n, mode["d"]), **_child("train", store, limit if limit else 0)}
            by_size[n] = figures
            records.append(emit({"name": f"scaling_{n}", "images": n, "k": K, "d": mode["d"], "batch": BATCH,
                                 **figures}))
    return records + [emit(summary(by_size, mode["d"], small, limit))]


def summary(by_size: dict[int, dict], d: int, small: bool, limit: int | None) -> dict:
    """The ``scaling`` record from the per-size figures ({images: figures})."""
    small_n, large_n = min(by_size), max(by_size)
    growth = (by_size[large_n]["prepare_s"] / by_size[small_n]["prepare_s"]) / (large_n / small_n)
    flat = by_size[small_n]["train_peak_rss_anon_mb"] / by_size[large_n]["train_peak_rss_anon_mb"]
    peak = max(max(f["train_peak_rss_anon_mb"], f["eval_peak_rss_anon_mb"]) for f in by_size.values())
    return {"name": "scaling", "sizes": list(by_size), "d": d, "k": K, "small": small,
            "train_questions_limit": limit, "prepare_growth": round(growth, 3), "train_memory_flat": round(flat, 3),
            "target": FLAT_TARGET, "peak_rss_anon_mb": peak, "ram_limit_mb": RAM_LIMIT_MB,
            "ok": bool(flat >= FLAT_TARGET and peak <= RAM_LIMIT_MB),
            **({"note": os.environ["BENCH_NOTE"]} if os.environ.get("BENCH_NOTE") else {})}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="100 / 200 / 400 images, D 128 (CI)")
    parser.add_argument("--sizes", type=int, nargs="+", help="numbers of images (default: the mode's)")
    parser.add_argument("--train-questions", type=int, default=-1,
                        help="time only the first N questions of the epoch (0: the whole epoch; default: the mode's)")
    parser.add_argument("--keep", help="folder for the temporary worlds (default: the system's temp folder)")
    args = parser.parse_args(argv)
    return run(args.small, args.sizes, args.train_questions, args.keep)


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--child":
        kind, out = sys.argv[2], sys.argv[3]
        if kind == "prepare":
            result = child_prepare(out, int(sys.argv[4]), int(sys.argv[5]))
        else:
            result = child_train(out, int(sys.argv[4]) or None)
        print(json.dumps(result))
    else:
        main()
