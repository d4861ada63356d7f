"""Run every ``bench_*.py`` module in this folder and write their records to benchmarks/results.json.

Usage: ``python -m benchmarks.run_all [--only NAME ...]``. Each module provides ``run() -> dict``
(or a list of dicts); records are printed as JSON lines as they finish and written atomically.
"""
from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
from pathlib import Path

import torch

from groundbench.io import write_json

HERE = Path(__file__).resolve().parent


def bench_modules() -> list[str]:
    """Module names of the benchmarks beside this file, in name order."""
    return sorted(path.stem for path in HERE.glob("bench_*.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="module names to run (default: all)")
    parser.add_argument("--output", default=str(HERE / "results.json"))
    args = parser.parse_args(argv)
    names = bench_modules() if not args.only else [n if n.startswith("bench_") else f"bench_{n}" for n in args.only]
    records = []
    for name in names:
        module = importlib.import_module(f"{__package__ or 'benchmarks'}.{name}")
        produced = module.run()
        for record in produced if isinstance(produced, list) else [produced]:
            record = {"module": name, **record}
            print(json.dumps(record), flush=True)
            records.append(record)
    machine = {"python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform(),
               "processor": platform.processor(), "torch_threads": torch.get_num_threads()}
    write_json(args.output, {"machine": machine, "results": records})
    failed = [r["name"] for r in records if not r.get("ok", False)]
    if failed:
        print(f"below target: {', '.join(failed)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
