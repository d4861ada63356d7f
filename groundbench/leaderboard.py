"""Leaderboard: validate result records, aggregate seeds (mean ± std), render Markdown / LaTeX / HTML.

JSON first: :func:`aggregate` returns plain :class:`Table` objects and :func:`table_to_dict` their JSON
form; the renderers only format those. Rows are (benchmark, method, model, source) groups; paper-reported
rows (source = a citation) are kept apart from measured ones and marked in the ``source`` column.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from tabulate import tabulate

from .errors import GroundbenchError
from .io import read_json
from .metrics.stats import mean_std
from .results import SCHEMA_PREFIX, ResultRecord, default_direction, record_from_dict

DEFAULT_COLUMNS = (
    "val/accuracy", "test/accuracy", "test/accuracy_yes_no", "test/accuracy_number", "test/accuracy_other",
    "val/cider", "test/cider", "test/bleu4", "test/meteor", "test/rouge_l", "test/chair_i", "test/chair_s",
    "test/spearman_grad", "test/spearman_attn", "test/occl_grad", "test/occl_attn", "test/top_iou", "test/cpig",
)
METHOD_ORDER = ("blind", "updn", "finetune", "attn-align", "hint", "hint-random", "hint-inverted")
FORMATS = ("markdown", "latex", "html")
_LEAD = ("method", "model", "seeds", "source")
_DASH = "—"


@dataclass(frozen=True)
class Cell:
    """One metric of one row: mean and sample std (ddof=1, None under 2 seeds) over the seeds that have it.

    n_values: seeds with a defined value; n_questions: mean questions per seed (None if not reported).
    """

    mean: float | None
    std: float | None
    n_values: int
    n_questions: float | None


@dataclass
class Row:
    """Records of one (method, model, source) on one benchmark, one per seed."""

    method: str
    model: str
    source: str
    seeds: list[int | None]
    records: list[str]
    cells: dict[str, Cell] = field(default_factory=dict)

    @property
    def measured(self) -> bool:
        return self.source == "measured"


@dataclass
class Table:
    """One benchmark: ordered columns with their directions, ordered rows."""

    benchmark: str
    columns: list[str]
    directions: dict[str, str]
    rows: list[Row]

    def best(self, column: str) -> set[int]:
        """Rows holding the best mean of ``column`` at display precision; empty under 2 rows or when all tie."""
        digits = column_digits(column)
        scored = [(i, round(r.cells[column].mean, digits)) for i, r in enumerate(self.rows) if r.cells[column].mean is not None]
        if len(scored) < 2:
            return set()
        pick = max if self.directions[column] == "higher" else min
        target = pick(v for _, v in scored)
        winners = {i for i, v in scored if v == target}
        return set() if len(winners) == len(scored) else winners


def column_digits(name: str) -> int:
    """Decimals shown: 2 for accuracies (in %), 3 for correlations, IoU and CPIG."""
    return 2 if "accuracy" in name.rsplit("/", 1)[-1] else 3


def load_records(root: str | Path) -> list[tuple[Path, ResultRecord]]:
    """Every result record under ``root`` (recursively, sorted by path), each validated.

    JSON files that declare another ``schema`` (checkpoint sidecars, curves), hidden paths and folders named
    ``*.json`` are skipped; any other JSON file must be a valid record (results.record_from_dict: fields, metric
    ranges), else GroundbenchError names it. Files are read with io.read_json (no RecursionError on deep JSON).
    """
    root = Path(root)
    if not root.is_dir():
        raise GroundbenchError("leaderboard directory not found", path=root)
    found = []
    for path in sorted(root.rglob("*.json")):
        if any(part.startswith(".") for part in path.relative_to(root).parts) or path.is_dir():
            continue
        data = read_json(path, what="result record")
        schema = data.get("schema") if isinstance(data, dict) else None
        if isinstance(schema, str) and not schema.startswith(SCHEMA_PREFIX):
            continue
        found.append((path, record_from_dict(data, path=path)))
    return found


def _cell(values: list[float], counts: list[int | None], column: str, records: list[str]) -> Cell:
    """Mean and std over seeds (metrics/stats.mean_std); a std beyond the float range is an error naming the
    records (validated values are finite, but an unknown metric may hold any finite value)."""
    try:
        mean, std = mean_std(values)
    except OverflowError:
        raise GroundbenchError(f"metric '{column}': the std over seeds is beyond the float range (values too far "
                               f"apart in {', '.join(records)})", path=records[0]) from None
    n_q = math.fsum(counts) / len(counts) if counts and all(c is not None for c in counts) else None
    return Cell(mean=mean, std=std, n_values=len(values), n_questions=n_q)


def _row_key(row: Row) -> tuple:
    order = METHOD_ORDER.index(row.method) if row.method in METHOD_ORDER else len(METHOD_ORDER)
    return (not row.measured, order, row.method, row.model, row.source)


def aggregate(
    records: Iterable[tuple[Path | str, ResultRecord]],
    *,
    columns: Sequence[str] | None = None,
    benchmark: str | None = None,
    root: str | Path | None = None,
) -> list[Table]:
    """Group records into one Table per benchmark (sorted by name) and aggregate seeds.

    ``columns`` None: the DEFAULT_COLUMNS that some record of the table has. Two records of one row with the
    same seed, or one metric declared with two directions, raise GroundbenchError naming the files.
    """
    groups: dict[str, dict[tuple[str, str, str], list[tuple[str, ResultRecord]]]] = {}
    for path, rec in records:
        if benchmark is not None and rec.benchmark != benchmark:
            continue
        name = str(Path(path).relative_to(root)) if root is not None else str(path)
        row = groups.setdefault(rec.benchmark, {}).setdefault((rec.method, rec.model, rec.source), [])
        for other_name, other in row:
            if other.seed == rec.seed:
                raise GroundbenchError(
                    f"same benchmark, method, model, source and seed ({rec.seed}) as {other_name}", path=path
                )
        row.append((name, rec))
    tables = []
    for bench in sorted(groups):
        directions: dict[str, tuple[str, str]] = {}
        for members in groups[bench].values():
            for name, rec in members:
                for metric, m in rec.metrics.items():
                    seen = directions.setdefault(metric, (m.direction, name))
                    if seen[0] != m.direction:
                        raise GroundbenchError(
                            f"metric '{metric}' is '{m.direction}'-is-better here but '{seen[0]}' in {seen[1]}", path=name
                        )
        cols = list(columns) if columns is not None else [c for c in DEFAULT_COLUMNS if c in directions]
        rows = []
        for (method, model, source), members in groups[bench].items():
            members.sort(key=lambda item: (item[1].seed is None, item[1].seed or 0))
            row = Row(method, model, source, [r.seed for _, r in members], [n for n, _ in members])
            for col in cols:
                present = [r.metrics[col] for _, r in members if col in r.metrics and r.metrics[col].value is not None]
                names = [n for n, r in members if col in r.metrics and r.metrics[col].value is not None]
                row.cells[col] = _cell([m.value for m in present], [m.n for m in present], col, names)
            rows.append(row)
        rows.sort(key=_row_key)
        dirs = {c: directions[c][0] if c in directions else default_direction(c) for c in cols}
        tables.append(Table(bench, cols, dirs, rows))
    return tables


def build_leaderboard(
    root: str | Path, *, benchmark: str | None = None, columns: Sequence[str] | None = None
) -> list[Table]:
    """Load and validate every record under ``root`` and aggregate them (record names relative to root)."""
    return aggregate(load_records(root), columns=columns, benchmark=benchmark, root=root)


def table_to_dict(table: Table) -> dict[str, Any]:
    """The aggregated table as plain JSON-ready data (no formatting)."""
    return {
        "benchmark": table.benchmark,
        "columns": [{"name": c, "direction": table.directions[c]} for c in table.columns],
        "rows": [
            {
                "method": r.method,
                "model": r.model,
                "source": r.source,
                "seeds": r.seeds,
                "n_seeds": len(r.seeds),
                "records": r.records,
                "cells": {
                    c: {"mean": cell.mean, "std": cell.std, "n_seeds": cell.n_values, "n_questions": cell.n_questions}
                    for c, cell in r.cells.items()
                },
                "best": [c for c in table.columns if i in table.best(c)],
            }
            for i, r in enumerate(table.rows)
        ],
    }


_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


class _Style:
    """How one output format writes text, bold, ±, arrows and the dash for a missing value."""

    def __init__(self, fmt: str):
        if fmt not in FORMATS:
            raise GroundbenchError(f"unknown table format '{fmt}' (choose from {', '.join(FORMATS)})")
        self.fmt = fmt
        self.tablefmt = {"markdown": "pipe", "latex": "latex_raw", "html": "unsafehtml"}[fmt]

    def text(self, s: str) -> str:
        if self.fmt == "latex":
            return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in s)
        if self.fmt == "html":
            return html.escape(s)
        return s.replace("|", "\\|")

    def bold(self, s: str) -> str:
        return {"markdown": f"**{s}**", "latex": rf"\textbf{{{s}}}", "html": f"<b>{s}</b>"}[self.fmt]

    @property
    def pm(self) -> str:
        return r" $\pm$ " if self.fmt == "latex" else " ± "

    @property
    def dash(self) -> str:
        return "--" if self.fmt == "latex" else _DASH

    def arrow(self, direction: str) -> str:
        if self.fmt == "latex":
            return r"$\uparrow$" if direction == "higher" else r"$\downarrow$"
        return "↑" if direction == "higher" else "↓"


def _cell_text(cell: Cell, digits: int, n_seeds: int, style: _Style) -> str:
    if cell.mean is None:
        return style.dash
    text = f"{cell.mean:.{digits}f}"
    if cell.std is not None:
        text += f"{style.pm}{cell.std:.{digits}f}"
    if cell.n_values < n_seeds:
        text += f" ({cell.n_values}/{n_seeds})"
    return text


def render_table(table: Table, fmt: str = "markdown") -> str:
    """One benchmark's table (no title, no legend) in ``fmt``: markdown, latex or html."""
    style = _Style(fmt)
    headers = list(_LEAD) + [f"{style.text(c)} {style.arrow(table.directions[c])}" for c in table.columns]
    best = {c: table.best(c) for c in table.columns}
    body = []
    for i, row in enumerate(table.rows):
        seeds = str(len(row.seeds)) if row.measured else "reported"
        line = [style.text(row.method), style.text(row.model), seeds, style.text(row.source)]
        for c in table.columns:
            text = _cell_text(row.cells[c], column_digits(c), len(row.seeds), style)
            line.append(style.bold(text) if i in best[c] else text)
        body.append(line)
    align = ["left"] * len(_LEAD) + ["right"] * len(table.columns)
    return tabulate(body, headers=headers, tablefmt=style.tablefmt, disable_numparse=True, colalign=align)


_LEGEND = (
    "Values are mean ± sample std (ddof=1) over seeds; (k/n) = only k of the n seeds define the metric. "
    "↑ higher is better, ↓ lower is better; bold = best in its column. Accuracies in %. "
    "Rows whose source is a citation are numbers reported in that paper, not measured here."
)


def render(tables: Sequence[Table], fmt: str = "markdown") -> str:
    """All tables, one titled section per benchmark, then a legend; ends with a newline."""
    style = _Style(fmt)
    parts = []
    for table in tables:
        if fmt == "markdown":
            parts.append(f"## {table.benchmark}\n\n{render_table(table, fmt)}\n")
        elif fmt == "latex":
            parts.append(f"% benchmark: {table.benchmark}\n{render_table(table, fmt)}\n")
        else:
            parts.append(f"<h2>{style.text(table.benchmark)}</h2>\n{render_table(table, fmt)}\n")
    if fmt == "markdown":
        parts.append(_LEGEND + "\n")
    elif fmt == "latex":
        parts.append(f"% {_LEGEND}\n")
    else:
        parts.append(f"<p>{html.escape(_LEGEND)}</p>\n")
    return "\n".join(parts)
