"""Leaderboard: validate result records, aggregate seeds (mean ± std) into plain tables (JSON first:
:func:`aggregate` -> :class:`Table`, :func:`table_to_dict`; leaderboard_render / leaderboard_html only format).
Rows are (benchmark, method, model, source) groups, so a paper-reported row is never averaged with a measured one;
a synthetic world's table carries in ``beside`` the reported rows of the real benchmark it imitates
(leaderboard_benchmarks.analogue), a block of its own, never compared with ours (``best`` is per block).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from .errors import GroundbenchError
from .io import read_json
from .leaderboard_benchmarks import BENCHMARKS, analogue, title
from .metrics.stats import mean_std
from .results import SCHEMA_PREFIX, ResultRecord, default_direction, record_from_dict

DEFAULT_COLUMNS = (
    "val/accuracy", "test/accuracy", "test/accuracy_yes_no", "test/accuracy_number", "test/accuracy_other",
    "val/cider", "test/cider", "test/bleu4", "test/meteor", "test/rouge_l", "test/chair_i", "test/chair_s",
    "test/spearman_grad", "test/spearman_attn", "test/occl_grad", "test/occl_attn",
    "test/top_iou", "test/cpig", "human/preferred",
)
METHOD_ORDER = ("blind", "san", "updn", "gvqa", "finetune", "attn-align", "advreg", "hint", "hint-tbptt", "hint-random",
                "hint-inverted")
# Measured bounds, not competitors: a block of their own (labelled so), never marked best.
REFERENCE_METHODS = {"oracle-attention": "reference: attention = human importance"}
FORMATS = ("markdown", "latex", "html", "csv")
# The paper rows shipped with this source tree (leaderboards/reported/, written by its make_reported.py); the
# CLI borrows them for tables whose --dir holds none. Absent from an installed wheel: then nothing is borrowed.
SHIPPED_REPORTED = Path(__file__).resolve().parent.parent / "leaderboards" / "reported"


@dataclass(frozen=True)
class Cell:
    """One metric of one row: mean and sample std (ddof=1, None under 2 seeds) over the seeds that have it.

    n_values: seeds with a defined value; n_questions: mean questions per seed (None if not reported).
    """

    mean: float | None
    std: float | None
    n_values: int
    n_questions: float | None
    versus: dict | None = None  # against a baseline row (leaderboard_significance.py), when one was asked for


@dataclass
class Row:
    """Records of one (method, model, source) on one benchmark, one per seed. ``setting`` and ``label`` (the
    paper's name for the row) come from a reported record's config; both are '' for measured rows."""

    method: str
    model: str
    source: str
    seeds: list[int | None]
    records: list[str]
    cells: dict[str, Cell] = field(default_factory=dict)
    benchmark: str = ""
    setting: str = ""
    label: str = ""
    by_seed: dict[str, dict] = field(default_factory=dict)  # column -> {seed: value}

    @property
    def measured(self) -> bool:
        return self.source == "measured"

    @property
    def reference(self) -> bool:  # a measured bound, not a rival (REFERENCE_METHODS)
        return self.measured and self.method in REFERENCE_METHODS


@dataclass
class Table:
    """One benchmark: ordered columns with their directions, ordered rows, and the reported rows of its real
    analogue (``beside``, from benchmark ``beside_benchmark``; empty when it has none or none were loaded)."""

    benchmark: str
    columns: list[str]
    directions: dict[str, str]
    rows: list[Row]
    beside: list[Row] = field(default_factory=list)
    beside_benchmark: str | None = None

    def best(self, column: str) -> set[int]:
        """Indices into ``rows`` of the best mean of ``column`` at display precision, measured rows compared
        among themselves and reported rows among themselves, reference rows never; empty under 2 values or all tied."""
        out: set[int] = set()
        for measured in (True, False):
            index = [i for i, r in enumerate(self.rows) if r.measured == measured and not r.reference]
            out |= {index[j] for j in best_of([self.rows[i] for i in index], column, self.directions[column])}
        return out


def best_of(rows: Sequence[Row], column: str, direction: str) -> set[int]:
    """Indices of ``rows`` holding the best mean of ``column`` at display precision; empty under 2 values or
    when all tie."""
    digits = column_digits(column)
    scored = [(i, round(r.cells[column].mean, digits)) for i, r in enumerate(rows) if r.cells[column].mean is not None]
    if len(scored) < 2:
        return set()
    pick = max if direction == "higher" else min
    target = pick(v for _, v in scored)
    winners = {i for i, v in scored if v == target}
    return set() if len(winners) == len(scored) else winners


def column_digits(name: str) -> int:
    """Decimals shown: 2 for accuracies and other percentages, 3 for correlations, IoU, CIDEr and CPIG."""
    base = name.rsplit("/", 1)[-1]
    return 2 if "accuracy" in base or base == "preferred" else 3


def load_records(root: str | Path) -> list[tuple[Path, ResultRecord]]:
    """Every result record under ``root`` (recursively, sorted by path), each validated.

    JSON files that declare another ``schema`` (checkpoint sidecars, curves) or are a JSON list (results files,
    leaderboards/claims.json: never a record), hidden paths and folders named ``*.json`` are skipped; any other
    JSON file must be a valid record (results.record_from_dict: fields, metric ranges), else GroundbenchError
    names it. Files are read with io.read_json (no RecursionError on deep JSON).
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
        if isinstance(data, list) or (isinstance(schema, str) and not schema.startswith(SCHEMA_PREFIX)):
            continue
        found.append((path, record_from_dict(data, path=path)))
    return found


def default_columns(benchmark: str, present: set[str]) -> list[str]:
    """The DEFAULT_COLUMNS some record of ``benchmark`` has; for a benchmark scored on val alone (VQA v2: no
    test split) each ``test/`` column reads ``val/`` instead."""
    bench = BENCHMARKS.get(benchmark)
    val_only = bench is not None and "test" not in bench.splits
    names = [c.replace("test/", "val/", 1) if val_only else c for c in DEFAULT_COLUMNS]
    return [c for c in dict.fromkeys(names) if c in present]


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
    return (not row.measured, row.reference, order, row.method, row.model, row.source)


_Members = list[tuple[str, ResultRecord]]


def _group(records: Iterable[tuple[Path | str, ResultRecord]], root: str | Path | None) -> dict[str, dict]:
    """benchmark -> (method, model, source) -> [(name, record)]; a repeated seed in one row is an error."""
    groups: dict[str, dict[tuple[str, str, str], _Members]] = {}
    for path, rec in records:
        name = str(Path(path).relative_to(root)) if root is not None else str(path)
        row = groups.setdefault(rec.benchmark, {}).setdefault((rec.method, rec.model, rec.source), [])
        for other_name, other in row:
            if other.seed == rec.seed:
                raise GroundbenchError(
                    f"same benchmark, method, model, source and seed ({rec.seed}) as {other_name}", path=path
                )
        row.append((name, rec))
    return groups


def _directions(groups: Iterable[dict[tuple[str, str, str], _Members]]) -> dict[str, tuple[str, str]]:
    """metric -> (direction, first record declaring it); one metric with two directions is an error."""
    directions: dict[str, tuple[str, str]] = {}
    for rows in groups:
        for members in rows.values():
            for name, rec in members:
                for metric, m in rec.metrics.items():
                    seen = directions.setdefault(metric, (m.direction, name))
                    if seen[0] != m.direction:
                        raise GroundbenchError(
                            f"metric '{metric}' is '{m.direction}'-is-better here but '{seen[0]}' in {seen[1]}",
                            path=name)
    return directions


def _rows(bench: str, rows: dict[tuple[str, str, str], _Members], cols: Sequence[str]) -> list[Row]:
    """The aggregated rows of one benchmark, sorted (measured first, then METHOD_ORDER)."""
    out = []
    for (method, model, source), members in rows.items():
        members.sort(key=lambda item: (item[1].seed is None, item[1].seed or 0))
        config = members[0][1].config
        row = Row(method, model, source, [r.seed for _, r in members], [n for n, _ in members], benchmark=bench,
                  setting=str(config.get("setting", "")) if source != "measured" else "",
                  label=str(config.get("paper_row", "")) if source != "measured" else "")
        for col in cols:
            named = [(n, r.metrics[col]) for n, r in members if col in r.metrics and r.metrics[col].value is not None]
            row.cells[col] = _cell([m.value for _, m in named], [m.n for _, m in named], col, [n for n, _ in named])
            row.by_seed[col] = {r.seed: m.value for r in (rec for _, rec in members)
                                if (m := r.metrics.get(col)) is not None and m.value is not None}
        out.append(row)
    return sorted(out, key=_row_key)


def aggregate(
    records: Iterable[tuple[Path | str, ResultRecord]],
    *,
    columns: Sequence[str] | None = None,
    benchmark: str | None = None,
    root: str | Path | None = None,
    reported: Iterable[tuple[Path | str, ResultRecord]] = (),
) -> list[Table]:
    """Group records into one Table per benchmark (sorted by name; only ``benchmark`` when given) and
    aggregate seeds; a synthetic world's table gets its real analogue's reported rows in ``beside``: those
    among ``records``, else those among ``reported`` (paper rows to borrow; they make no table of their own).

    ``columns`` None: the DEFAULT_COLUMNS that some record of the table has. Two records of one row with the
    same seed, or one metric declared with two directions, raise GroundbenchError naming the files.
    """
    groups = _group(records, root)
    borrowed = _group(((p, r) for p, r in reported if not r.measured), None)
    tables = []
    for bench in sorted(groups):
        if benchmark is not None and bench != benchmark:
            continue
        real = analogue(bench)
        paper = {key: members for key, members in groups.get(real, {}).items() if key[2] != "measured"}
        paper = paper or borrowed.get(real, {})
        directions = _directions([groups[bench], paper])
        own = {m for members in groups[bench].values() for _, rec in members for m in rec.metrics}
        cols = list(columns) if columns is not None else default_columns(bench, own)
        dirs = {c: directions[c][0] if c in directions else default_direction(c) for c in cols}
        tables.append(Table(bench, cols, dirs, _rows(bench, groups[bench], cols),
                            beside=_rows(real, paper, cols) if paper else [],
                            beside_benchmark=real if paper else None))
    return tables


def build_leaderboard(
    root: str | Path, *, benchmark: str | None = None, columns: Sequence[str] | None = None,
    reported: str | Path | None = None,
) -> list[Table]:
    """Load and validate every record under ``root`` and aggregate them (record names relative to root); the
    paper rows under ``reported`` (e.g. SHIPPED_REPORTED) are borrowed for analogues ``root`` has none of."""
    extra = []
    if reported is not None and Path(reported).is_dir():
        inside = {p.resolve() for p in Path(root).rglob("*.json")} if Path(root).is_dir() else set()
        extra = [(p.resolve(), r) for p, r in load_records(reported) if p.resolve() not in inside]
    return aggregate(load_records(root), columns=columns, benchmark=benchmark, root=root, reported=extra)


def _row_dict(row: Row, best: set[str]) -> dict[str, Any]:
    reference = {"reference": REFERENCE_METHODS[row.method]} if row.reference else {}  # absent on other rows
    return {
        "benchmark": row.benchmark,
        "method": row.method,
        "model": row.model,
        "source": row.source,
        "setting": row.setting,
        "paper_row": row.label,
        "seeds": row.seeds,
        "n_seeds": len(row.seeds),
        "records": row.records,
        "cells": {
            c: {"mean": cell.mean, "std": cell.std, "n_seeds": cell.n_values, "n_questions": cell.n_questions,
                **({"versus": cell.versus} if cell.versus is not None else {})}
            for c, cell in row.cells.items()
        },
        "best": sorted(best, key=list(row.cells).index),
        **reference,
    }


def table_to_dict(table: Table) -> dict[str, Any]:
    """The aggregated table as plain JSON-ready data (no formatting): ``rows`` of this benchmark (best among
    rows of the same kind) and ``beside``, the reported rows of its real analogue (best among themselves)."""
    beside_best = {c: best_of(table.beside, c, table.directions[c]) for c in table.columns}
    return {
        "benchmark": table.benchmark,
        "title": title(table.benchmark),
        "columns": [{"name": c, "direction": table.directions[c]} for c in table.columns],
        "rows": [_row_dict(r, {c for c in table.columns if i in table.best(c)}) for i, r in enumerate(table.rows)],
        "beside": None if table.beside_benchmark is None else {
            "benchmark": table.beside_benchmark,
            "title": title(table.beside_benchmark),
            "note": "numbers reported in papers for the real setting this benchmark imitates; not measured here",
            "rows": [_row_dict(r, {c for c in table.columns if i in beside_best[c]}) for i, r in enumerate(table.beside)],
        },
    }
