"""Timing helpers shared by the benchmarks: best-of-N wall time and a JSON result line."""
from __future__ import annotations

import json
import time
from typing import Callable


def best_time(fn: Callable[[], object], *, repeat: int = 5, number: int = 1, warmup: int = 1) -> float:
    """Best (minimum) wall time in seconds of ``number`` calls to ``fn``, over ``repeat`` runs, per call."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def compare(reference: Callable[[], object], ours: Callable[[], object], *, repeat: int = 5,
            ours_per_round: int = 1) -> tuple[float, float]:
    """Best wall times (reference_s, ours_s) per call, alternating the two so that a change in machine
    load between them biases neither; ``ours_per_round`` extra calls of the fast one per round."""
    reference()
    ours()
    best_ref = best_ours = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        reference()
        best_ref = min(best_ref, time.perf_counter() - start)
        for _ in range(ours_per_round):
            start = time.perf_counter()
            ours()
            best_ours = min(best_ours, time.perf_counter() - start)
    return best_ref, best_ours


def result(name: str, reference_s: float, ours_s: float, target: float, **extra) -> dict:
    """The benchmark record {name, reference_s, ours_s, ratio, target, ok, ...}; ratio = reference / ours."""
    ratio = reference_s / ours_s if ours_s > 0 else float("inf")
    return {"name": name, "reference_s": reference_s, "ours_s": ours_s, "ratio": ratio,
            "target": target, "ok": bool(ratio >= target), **extra}


def emit(record: dict) -> dict:
    """Print ``record`` as one JSON line and return it."""
    print(json.dumps(record), flush=True)
    return record


def memory_status(pid: int | str = "self") -> dict[str, int]:
    """A process's RssAnon (anonymous resident memory) and VmHWM (peak resident set), in bytes (this process by
    default); OSError when the process is gone."""
    fields = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            name, _, value = line.partition(":")
            if name in ("RssAnon", "VmHWM"):
                fields[name] = int(value.split()[0]) * 1024
    return fields
