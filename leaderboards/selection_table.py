"""Diagnostic: how much the conclusions depend on checkpoint selection (issue 12, "selection is a documented
choice"). Reads the per-epoch traces leaderboards/diagnostics/epoch-trace/<method>-s<seed>.json (written by
leaderboards/epoch_trace.py: val and test soft accuracy and gradient-vs-human Spearman after every epoch, the
traces never used to select) and, for each run, picks the epoch each criterion of `train --select` would keep:

* val-score: the highest val soft accuracy (the first such epoch, as the trainer keeps it: the run's best_epoch);
* val-spearman: the highest val Spearman (gradient importance vs human importance).

Test soft accuracy and test Spearman at each pick, mean ± std over seeds, go to
leaderboards/diagnostics/selection.json (JSON first) and selection.md. Run from the repository root:
    python leaderboards/selection_table.py
"""
import json
import re
import statistics
from pathlib import Path

from tabulate import tabulate

TRACES = Path("leaderboards/diagnostics/epoch-trace")
OUT = Path("leaderboards/diagnostics")
NAME = re.compile(r"^(?P<method>[a-z-]+)-s(?P<seed>\d+)\.json$")  # default schedule only (no -lr variants)
CRITERIA = {"val-score": "val/soft_accuracy", "val-spearman": "val/spearman_grad"}
METRICS = ("test/soft_accuracy", "test/spearman_grad")


def pick(history: list[dict], key: str) -> dict:
    """The first epoch with the highest ``key`` (strict improvement, as the trainer keeps best)."""
    best = None
    for entry in history:
        if entry.get(key) is not None and (best is None or entry[key] > best[key]):
            best = entry
    return best


def runs(traces: Path = TRACES) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for path in sorted(traces.glob("*.json")):
        match = NAME.match(path.name)
        if match:
            trace = json.loads(path.read_text())
            chosen = {c: pick(trace["history"], key) for c, key in CRITERIA.items()}
            if chosen["val-score"]["epoch"] != trace["best_epoch"]:
                raise SystemExit(f"{path}: val-score pick {chosen['val-score']['epoch']} is not the run's best epoch "
                                 f"{trace['best_epoch']}")
            out.setdefault(match["method"], []).append({"seed": int(match["seed"]), "file": path.name, **{
                c: {"epoch": e["epoch"], **{m: e[m] for m in METRICS}} for c, e in chosen.items()}})
    return out


def _ms(values: list[float]) -> str:
    mean = statistics.fmean(values)
    return f"{mean:.3f}" + (f" ± {statistics.stdev(values):.3f}" if len(values) > 1 else "")


def main(traces: Path = TRACES, out: Path = OUT) -> None:
    table = runs(traces)
    out.joinpath("selection.json").write_text(json.dumps({"schema": "groundbench.selection-diagnostic/1",
                                                          "criteria": CRITERIA, "runs": table}, indent=2) + "\n")
    rows = []
    for method, items in sorted(table.items()):
        for criterion in CRITERIA:
            picks = [r[criterion] for r in items]
            rows.append([method, criterion, len(items), _ms([p["epoch"] for p in picks]),
                         _ms([p["test/soft_accuracy"] for p in picks]), _ms([p["test/spearman_grad"] for p in picks])])
    text = tabulate(rows, headers=["method", "selection", "seeds", "epoch kept", "test soft accuracy",
                                   "test Spearman (grad)"], tablefmt="github")
    out.joinpath("selection.md").write_text("Made by `python leaderboards/selection_table.py` from the epoch traces "
                                            "(`leaderboards/epoch_trace.py METHOD --seed S`).\n\n" + text + "\n")
    print(text)


if __name__ == "__main__":
    main()
