"""The claims table (claims.py) as markdown, and its place in the README between two markers."""
from __future__ import annotations

from pathlib import Path

from tabulate import tabulate

from .errors import GroundbenchError

BEGIN, END = "<!-- claims:begin -->", "<!-- claims:end -->"


def _fmt(x: float | None, metric: str) -> str:
    if x is None:
        return "–"
    return f"{x:.2f}" if "accuracy" in metric else f"{x:.3f}"


def _paper(row: dict) -> str:
    a, b = row["paper"]
    text = f"+{b:g}" if a is None else f"{a:g} → {b:g}"  # as printed in the paper
    return f"{text} ({row['paper_setting']})"


def _measured(row: dict) -> str:
    if "difference" not in row:
        return "–"
    metric = row["metric"]
    where = row["benchmark"] + ("" if not row.get("seeds") else f", {len(row['seeds'])} seed" +
                                ("s" if len(row["seeds"]) != 1 else ""))
    return f"{_fmt(row['a'], metric)} → {_fmt(row['b'], metric)} ({where})"


def _difference(row: dict) -> str:
    if "difference" not in row:
        return "–"
    metric = row["metric"]
    text = f"{row['difference']:+.3f}" if "accuracy" not in metric else f"{row['difference']:+.2f}"
    if row.get("ci95"):
        low, high = row["ci95"]
        text += f" [{_fmt(low, metric)}, {_fmt(high, metric)}]"
    return text


def claims_markdown(rows: list[dict]) -> str:
    """One line per claim: the claim, the paper's numbers and setting, ours, the difference with its 95% interval
    over seeds (a t-interval), the verdict."""
    table = [[row["claim"], _paper(row), _measured(row), _difference(row), row["verdict"]] for row in rows]
    return tabulate(table, headers=["claim (HINT paper)", "paper", "measured here", "B − A [95% CI]", "verdict"],
                    tablefmt="github") + "\n"


def replace_between_markers(text: str, block: str, path: Path) -> str:
    """``text`` with everything between BEGIN and END replaced by ``block``; the markers must be there once."""
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise GroundbenchError(f"needs one '{BEGIN}' line followed by one '{END}' line", path=path)
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{block}{END}{tail}"
