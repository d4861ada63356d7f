"""Run a command and report its peak anonymous resident memory (RssAnon, summed over the process and its
children, sampled every 50 ms) and its wall time, as one JSON line on stderr.

Memory-mapped feature pages are file-backed page cache (reclaimable) and are not counted, as in
bench_scaling's PeakMemory; VmHWM (which counts them) is not what bounds a machine's RAM here.
Usage: ``python -m benchmarks.peak_rss [--label NAME] -- groundbench train updn ...``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from .common import memory_status


def _children(pid: int) -> list[int]:
    """pid and all its descendants (from /proc/*/stat parent links)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(parents.get(p, []))
    return out


def rss_anon(pid: int) -> int:
    """RssAnon of pid and its descendants, in bytes (0 for processes gone meanwhile)."""
    total = 0
    for p in _children(pid):
        try:
            total += memory_status(p).get("RssAnon", 0)
        except OSError:
            pass
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="")
    parser.add_argument("--period", type=float, default=0.05)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    start = time.perf_counter()
    child = subprocess.Popen(command)
    peak = 0
    while child.poll() is None:
        peak = max(peak, rss_anon(child.pid))
        time.sleep(args.period)
    print(json.dumps({"label": args.label, "command": " ".join(command), "returncode": child.returncode,
                      "seconds": round(time.perf_counter() - start, 1), "peak_rss_anon_mb": round(peak / 2 ** 20, 1)}),
          file=sys.stderr)
    return child.returncode


if __name__ == "__main__":
    sys.exit(main())
