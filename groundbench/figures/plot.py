"""``groundbench plot``: result records as bars (per answer type, mean ± std over seeds per method) and a
supervision-curve JSON as the curve PNG (curve.plot_curve, the drawing ``groundbench curve`` writes)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..curve import CURVE_SCHEMA, plot_curve
from ..errors import GroundbenchError
from ..io import atomic_path, check_writable, read_json
from ..leaderboard import Table, build_leaderboard, load_records

ANSWER_TYPE_COLUMNS = ("test/accuracy", "test/accuracy_yes_no", "test/accuracy_number", "test/accuracy_other")
DPI = 120


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def _tick(column: str) -> str:
    """``test/accuracy_yes_no`` -> ``yes/no``; ``test/accuracy`` -> ``all``; other names without the split."""
    split, name = column.split("/", 1) if "/" in column else ("", column)
    if name == "accuracy":
        return "all"
    if name.startswith("accuracy_"):
        return name[len("accuracy_"):].replace("yes_no", "yes/no").replace("_", " ")
    return name


def bar_values(table: Table) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(row labels [M], means [M, C], stds [M, C]) of a leaderboard table; NaN where undefined, std 0 under 2
    seeds. A paper-reported row is labelled with its source."""
    labels, means, stds = [], [], []
    for row in table.rows:
        seeds = len(row.seeds)
        labels.append(f"{row.method} ({seeds} seed{'s' if seeds != 1 else ''})" if row.measured
                      else f"{row.method} ({row.source})")
        cells = [row.cells[c] for c in table.columns]
        means.append([np.nan if c.mean is None else c.mean for c in cells])
        stds.append([0.0 if c.std is None else c.std for c in cells])
    return labels, np.asarray(means, dtype=np.float64), np.asarray(stds, dtype=np.float64)


def draw_bars(table: Table, path: str | Path) -> Path:
    """Grouped bars: one group per column of ``table``, one bar per method (mean, error bar = std over seeds)."""
    plt = _pyplot()
    labels, means, stds = bar_values(table)
    m, c = means.shape
    width = 0.8 / max(m, 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 + 0.35 * m * c), 4.0), layout="constrained")
    colours = plt.get_cmap("tab10")
    x = np.arange(c)
    for i, label in enumerate(labels):
        ax.bar(x + (i - (m - 1) / 2) * width, np.nan_to_num(means[i]), width, yerr=stds[i], capsize=2,
               label=label, color=colours(i % 10), error_kw={"elinewidth": 0.8})
    ax.set_xticks(x, [_tick(col) for col in table.columns])
    split = {col.split("/", 1)[0] for col in table.columns}
    accuracy = all("accuracy" in col for col in table.columns)
    ax.set_ylabel(f"{'/'.join(sorted(split))} accuracy (%)" if accuracy else "value")
    ax.set_title(f"{table.benchmark}: mean ± std over seeds per method", fontsize=10)
    ax.legend(fontsize=7, ncols=2 if m > 4 else 1, loc="best")
    ax.grid(axis="y", alpha=0.3)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return Path(path)


def plot_records(directory: str | Path, benchmark: str, out: str | Path,
                 columns: Sequence[str] | None = None) -> Path:
    """Bars of ``benchmark``'s records under ``directory``; ``columns`` default: the per-answer-type accuracies
    (overall, yes/no, number, other) the records have. One-line errors: no records, no such columns."""
    check_writable(out)
    records = load_records(directory)
    names = sorted({rec.benchmark for _, rec in records})
    if benchmark not in names:
        known = f" (records exist for: {', '.join(names)})" if names else ""
        raise GroundbenchError(f"no result records for benchmark '{benchmark}'{known}", path=directory)
    present = {m for _, rec in records if rec.benchmark == benchmark for m in rec.metrics}
    wanted = list(columns) if columns else [c for c in ANSWER_TYPE_COLUMNS if c in present]
    missing = [c for c in wanted if c not in present]
    if not wanted or missing:
        what = f"no metric {', '.join(missing)}" if missing else "no per-answer-type accuracies"
        raise GroundbenchError(f"{what} in the records of '{benchmark}' (they have e.g. "
                               f"{', '.join(sorted(present)[:6])}; pass --columns)", path=directory)
    (table,) = build_leaderboard(directory, benchmark=benchmark, columns=wanted)
    return draw_bars(table, out)


def plot_curve_file(curve: str | Path, out: str | Path) -> Path:
    """The supervision curve PNG of a ``groundbench curve`` JSON (schema groundbench.curve/1)."""
    check_writable(out)
    result = read_json(curve, what="supervision curve")
    if not isinstance(result, dict) or result.get("schema") != CURVE_SCHEMA:
        raise GroundbenchError(f"not a supervision curve (schema '{CURVE_SCHEMA}', written by groundbench curve)",
                               path=curve)
    points = result.get("points")
    if not isinstance(points, list) or not points or not all(isinstance(p, dict) for p in points):
        raise GroundbenchError("the curve has no points", path=curve)
    try:
        return plot_curve(result, Path(out))
    except (KeyError, TypeError) as exc:
        raise GroundbenchError(f"a curve point lacks a field the plot reads ({exc})", path=curve) from None
