"""Run every ``bench_*.py`` module in this folder and write their records to benchmarks/results.json.

Usage: ``python -m benchmarks.run_all [--only NAME ... [--merge]] [--output FILE]``. Each module provides
``run() -> dict`` (or a list of dicts); records are printed as JSON lines as they finish and written atomically.
``--merge`` (with ``--only``): the output file's existing records of the modules run are replaced by the new
ones, in place; the other modules' records are kept in their order, and modules new to the file are appended.
The file's ``machine`` is then this run's.
"""
from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
from pathlib import Path

import torch

from groundbench.errors import GroundbenchError
from groundbench.io import read_json, write_json

HERE = Path(__file__).resolve().parent


def bench_modules() -> list[str]:
    """Module names of the benchmarks beside this file, in name order."""
    return sorted(path.stem for path in HERE.glob("bench_*.py"))


def merge_records(old: list[dict], new: list[dict], names: list[str]) -> list[dict]:
    """``old`` with the records of the modules ``names`` replaced by those of ``new`` (at the place of each
    module's first old record; modules not in ``old`` appended, in ``names`` order)."""
    fresh: dict[str, list[dict]] = {name: [] for name in names}
    for record in new:
        fresh.setdefault(record["module"], []).append(record)
    merged, placed = [], set()
    for record in old:
        module = record.get("module") if isinstance(record, dict) else None
        if module not in fresh:
            merged.append(record)
        elif module not in placed:
            merged.extend(fresh[module])
            placed.add(module)
    for module, records in fresh.items():
        if module not in placed:
            merged.extend(records)
    return merged


def previous_records(path: Path) -> list[dict]:
    """The ``results`` list of an existing output file; [] when there is none."""
    if not path.exists():
        return []
    data = read_json(path, what="benchmark results file")
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise GroundbenchError("expected a JSON object with a 'results' list (a run_all output file)", path=path)
    return data["results"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="module names to run (default: all)")
    parser.add_argument("--output", default=str(HERE / "results.json"))
    parser.add_argument("--merge", action="store_true",
                        help="with --only: replace only those modules' records in the existing output file")
    args = parser.parse_args(argv)
    if args.merge and not args.only:
        parser.error("--merge needs --only NAME ...")
    names = bench_modules() if not args.only else [n if n.startswith("bench_") else f"bench_{n}" for n in args.only]
    try:  # read first: a bad file fails before anything runs
        old = previous_records(Path(args.output)) if args.merge else []
    except GroundbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
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
    write_json(args.output, {"machine": machine, "results": merge_records(old, records, names) if args.merge else records})
    failed = [r["name"] for r in records if not r.get("ok", False)]
    if failed:
        print(f"below target: {', '.join(failed)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
