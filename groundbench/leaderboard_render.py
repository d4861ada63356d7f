"""Render leaderboard tables (leaderboard.py) as Markdown, LaTeX or CSV; HTML is leaderboard_html.py.

Every format keeps measured rows and numbers reported in papers apart: Markdown as separate tables under a
bold block title, LaTeX as blocks with a title row, CSV with a ``block`` column. Bold marks the best value of
a column within its block only; reference rows (leaderboard.REFERENCE_METHODS: bounds such as oracle attention)
are a block of their own, labelled, and never bold. Formatting only: no aggregation here.
"""
from __future__ import annotations

import csv
import html
import io
from pathlib import Path
from dataclasses import dataclass
from typing import Sequence

from tabulate import tabulate

from .errors import GroundbenchError
from .leaderboard import FORMATS, REFERENCE_METHODS, Cell, Row, Table, best_of, column_digits
from .leaderboard_benchmarks import title

_DASH = "—"
LEGEND = (
    "Values are mean ± sample std (ddof=1) over seeds; (k/n) = only k of the n seeds define the metric. "
    "↑ higher is better, ↓ lower is better; bold = best in its column within its block. Accuracies and human "
    "preference in %; CIDEr-D on pycocoevalcap's scale (1.0 = 100 as papers print it). Rows in a 'Reported in "
    "papers' block are numbers printed in the cited paper, in the setting named on the row (real data); they "
    "are not measured here and never averaged with, or ranked against, measured rows."
)
_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


@dataclass
class Block:
    """Rows shown together: ``kind`` 'measured', 'reference' (measured bounds, not competitors: never bold),
    'reported' (papers, this benchmark) or 'beside' (papers, the real analogue); ``best`` maps each column to
    the indices of its best rows within the block."""

    kind: str
    benchmark: str
    title: str
    rows: list[Row]
    best: dict[str, set[int]]

    @property
    def reported(self) -> bool:
        return self.kind not in ("measured", "reference")

    def method_name(self, row: Row) -> str:
        """The row's method as shown: a reference row's carries its label ('oracle-attention (reference: ...)')."""
        return f"{row.method} ({REFERENCE_METHODS[row.method]})" if self.kind == "reference" else row.method


def blocks(table: Table) -> list[Block]:
    """The table's rows as blocks, in display order: measured here, reference rows (measured bounds, not ranked),
    reported for this benchmark, reported for the real analogue. Empty blocks are left out."""
    def block(kind: str, bench: str, head: str, rows: list[Row]) -> Block:
        about = title(bench) if kind not in ("measured", "reference") else ""
        name = f"{head}: {bench}" + (f" ({about})" if about else "")
        best = {c: set() if kind == "reference" else best_of(rows, c, table.directions[c]) for c in table.columns}
        return Block(kind, bench, name, rows, best)

    competitors = [r for r in table.rows if r.measured and not r.reference]
    out = [block("measured", table.benchmark, "Measured here", competitors),
           block("reference", table.benchmark, "Reference rows, measured here: bounds, not competitors (never ranked)",
                 [r for r in table.rows if r.reference]),
           block("reported", table.benchmark, "Reported in papers, not measured here",
                 [r for r in table.rows if not r.measured])]
    if table.beside_benchmark is not None:
        out.append(block("beside", table.beside_benchmark, "Reported in papers for the real setting this world "
                         "imitates (not measured here; never averaged with or ranked against the rows above)",
                         table.beside))
    return [b for b in out if b.rows]


class Style:
    """How one output format writes text, bold, ±, arrows and the dash for a missing value."""

    def __init__(self, fmt: str):
        if fmt not in FORMATS:
            raise GroundbenchError(f"unknown table format '{fmt}' (choose from {', '.join(FORMATS)})")
        self.fmt = fmt

    def text(self, s: str) -> str:
        if self.fmt == "latex":
            return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in s)
        if self.fmt == "html":
            return html.escape(s)
        if self.fmt == "csv":
            return s
        return s.replace("|", "\\|")

    def bold(self, s: str) -> str:
        return {"markdown": f"**{s}**", "latex": rf"\textbf{{{s}}}", "html": f"<b>{s}</b>", "csv": s}[self.fmt]

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


def cell_text(cell: Cell, digits: int, n_seeds: int, style: Style) -> str:
    """'mean ± std (k/n)' in ``style``; the dash when no seed defines the metric."""
    if cell.mean is None:
        return style.dash
    text = f"{cell.mean:.{digits}f}"
    if cell.std is not None:
        text += f"{style.pm}{cell.std:.{digits}f}"
    if cell.n_values < n_seeds:
        text += f" ({cell.n_values}/{n_seeds})"
    if cell.versus is not None and cell.versus["significant"]:
        text += "†"  # leaderboard_significance.MARK
    return text


def _values(row: Row, columns: Sequence[str], best: dict[str, set[int]], i: int, style: Style) -> list[str]:
    out = []
    for c in columns:
        text = cell_text(row.cells[c], column_digits(c), len(row.seeds), style)
        out.append(style.bold(text) if i in best[c] else text)
    return out


def shown_columns(table: Table, block: Block) -> list[str]:
    """A block's columns: all of the table's for measured rows; for a reported block, those it has a value in."""
    if not block.reported:
        return list(table.columns)
    return [c for c in table.columns if any(r.cells[c].mean is not None for r in block.rows)]


def _markdown_block(table: Table, block: Block) -> str:
    style = Style("markdown")
    cols = shown_columns(table, block)
    lead = ["method", "model", "paper row", "setting", "source"] if block.reported else \
        ["method", "model", "seeds", "source"]
    headers = lead + [f"{c} {style.arrow(table.directions[c])}" for c in cols]
    body = []
    for i, row in enumerate(block.rows):
        first = [row.method, row.model, row.label, row.setting, row.source] if block.reported else \
            [block.method_name(row), row.model, str(len(row.seeds)), row.source]
        body.append([style.text(x) for x in first] + _values(row, cols, block.best, i, style))
    align = ["left"] * len(lead) + ["right"] * len(cols)
    text = tabulate(body, headers=headers, tablefmt="pipe", disable_numparse=True, colalign=align)
    return f"**{style.text(block.title)}**\n\n{text}\n"


def render_table(table: Table, fmt: str = "markdown") -> str:
    """One benchmark's table (no title, no legend) in ``fmt``: markdown or latex."""
    if fmt == "markdown":
        return "\n".join(_markdown_block(table, b) for b in blocks(table))
    if fmt == "latex":
        return _latex_table(table)
    raise GroundbenchError(f"render_table writes markdown or latex, not '{fmt}'")


def _latex_table(table: Table) -> str:
    style = Style("latex")
    lead = ["method", "model", "seeds", "source", "setting"]
    width = len(lead) + len(table.columns)
    head = [style.text(x) for x in lead] + [f"{style.text(c)} {style.arrow(table.directions[c])}"
                                             for c in table.columns]
    lines = [r"\begin{tabular}{" + "l" * len(lead) + "r" * len(table.columns) + "}", r"\hline",
             " & ".join(head) + r" \\"]
    for block in blocks(table):
        lines += [r"\hline", rf"\multicolumn{{{width}}}{{l}}{{\textit{{{style.text(block.title)}}}}} \\", r"\hline"]
        for i, row in enumerate(block.rows):
            seeds = "reported" if block.reported else str(len(row.seeds))
            first = [style.text(block.method_name(row)), style.text(row.model), seeds, style.text(row.source),
                     style.text(row.setting)]
            lines.append(" & ".join(first + _values(row, table.columns, block.best, i, style)) + r" \\")
    lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines)


CSV_LEAD = ("benchmark_table", "block", "benchmark", "method", "model", "paper_row", "setting", "source", "seeds",
            "records")


def render_csv(tables: Sequence[Table]) -> str:
    """One CSV of every row of every table: the lead columns (CSV_LEAD; ``block`` is measured / reported /
    beside, ``benchmark`` the benchmark the row's numbers are from), then per metric its mean and std
    (``<metric>`` and ``<metric> std``; empty when undefined). Metrics are the union over tables, in order."""
    metrics = list(dict.fromkeys(c for t in tables for c in t.columns))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(list(CSV_LEAD) + [name for c in metrics for name in (c, f"{c} std")])
    for table in tables:
        for block in blocks(table):
            for row in block.rows:
                seeds = "" if block.reported else len(row.seeds)
                line = [table.benchmark, block.kind, row.benchmark, row.method, row.model, row.label, row.setting,
                        row.source, seeds, " ".join(row.records)]
                for c in metrics:
                    cell = row.cells.get(c)
                    line += ["" if cell is None or cell.mean is None else repr(cell.mean),
                             "" if cell is None or cell.std is None else repr(cell.std)]
                writer.writerow(line)
    return buffer.getvalue()


def render(tables: Sequence[Table], fmt: str = "markdown", *, root: str | Path | None = None,
           out: str | Path | None = None) -> str:
    """All tables in ``fmt``, one titled section per benchmark, then a legend; ends with a newline.

    ``root`` (where the record names are relative to) and ``out`` (where the text goes) only matter for html,
    whose rows link to their record files by relative path.
    """
    Style(fmt)  # an unknown format is an error before anything is rendered
    if fmt == "csv":
        return render_csv(tables)
    if fmt == "html":
        from .leaderboard_html import render_page

        return render_page(tables, root=root, out=out)
    parts = []
    for table in tables:
        about = title(table.benchmark)
        if fmt == "markdown":
            parts.append(f"## {table.benchmark}\n\n" + (f"{about}.\n\n" if about else "") + render_table(table))
        else:
            parts.append(f"% benchmark: {table.benchmark}" + (f" ({about})" if about else "") +
                         f"\n{render_table(table, 'latex')}\n")
    parts.append(LEGEND + "\n" if fmt == "markdown" else f"% {LEGEND}\n")
    return "\n".join(parts)
