"""Which rows of a table differ from a chosen baseline row beyond seed-to-seed noise.

For every measured row and metric, the per-seed paired differences d_s = row_s - baseline_s over the seeds
both rows have (the same seed shares its pretrained UpDn and data order, so the pairing removes most of the
seed-to-seed spread); their mean and 95% Student-t interval over seeds (metrics/stats.t_interval). A cell is
marked significant when that interval excludes 0 (at least 2 shared seeds). The result goes into each cell's
``versus`` ({"baseline", "difference", "ci95", "seeds", "significant"}); renderers mark significant cells.
Reported rows are never compared (they share no seeds with anything measured here).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from .errors import GroundbenchError
from .leaderboard import Row, Table
from .metrics.stats import t_interval

MARK = "†"


def legend(baseline: str) -> str:
    return (f"{MARK}: the paired per-seed difference from the {baseline} row has a 95% t-interval over seeds that "
            "excludes 0 (seeds shared with it; at least 2).")


def _versus(row: Row, base: Row, column: str, baseline: str) -> dict | None:
    mine, theirs = row.by_seed.get(column, {}), base.by_seed.get(column, {})
    seeds = sorted(s for s in set(mine) & set(theirs) if s is not None)
    if not seeds:
        return None
    mean, interval = t_interval([mine[s] - theirs[s] for s in seeds])
    return {"baseline": baseline, "difference": mean, "ci95": None if interval is None else list(interval),
            "seeds": seeds, "significant": interval is not None and (interval[0] > 0 or interval[1] < 0)}


def mark_against(tables: Sequence[Table], baseline: str) -> list[Table]:
    """The tables with every measured cell's ``versus`` filled against the measured row of method ``baseline``;
    a table without such a row is an error naming the methods it has."""
    out = []
    for table in tables:
        bases = [r for r in table.rows if r.measured and r.method == baseline]
        if not bases:
            methods = ", ".join(sorted({r.method for r in table.rows if r.measured}))
            raise GroundbenchError(f"no measured '{baseline}' row in benchmark {table.benchmark} to compare with "
                                   f"(rows: {methods})")
        base = bases[0]
        rows = []
        for row in table.rows:
            if row.measured and row is not base:
                cells = {c: replace(cell, versus=_versus(row, base, c, baseline)) for c, cell in row.cells.items()}
                row = replace(row, cells=cells)
            rows.append(row)
        out.append(replace(table, rows=rows))
    return out
