"""``groundbench leaderboard``: render the result records under a directory as one table per benchmark.

``--out`` is checked before any record is read (io.check_writable: a folder, a path under a file, a folder that
cannot be written are one-line errors) and written atomically (io.atomic_open): never a half-written table.
A table of a synthetic world shows, below its measured rows, the paper's rows for the real setting it imitates
(leaderboard_benchmarks.py): those under ``--dir``, else those under ``--reported`` (default: the ones shipped in
``leaderboards/reported``), so ``--dir leaderboards/records`` or a folder of submitted runs shows them too.
"""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..io import atomic_open, check_writable
from ..leaderboard import FORMATS, SHIPPED_REPORTED, build_leaderboard, load_records, table_to_dict
from ..leaderboard_render import render


@click.command("leaderboard")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=Path("leaderboards"), show_default=True,
              help="directory searched recursively for result records (*.json), measured and reported")
@click.option("--benchmark", default=None, help="only this benchmark, e.g. synth-vqacp or vqacp-v2")
@click.option("--format", "fmt", type=click.Choice(FORMATS + ("json",)), default="markdown", show_default=True,
              help="markdown, latex, csv (one row per table row, mean and std per metric), html (one "
                   "self-contained page: sortable, grouped columns, rows linked to their records), json (the "
                   "aggregated tables as plain data)")
@click.option("--columns", default=None, help="comma-separated metric names, e.g. test/accuracy,test/spearman_grad")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="write here (atomically) instead of printing; html links records relative to this file")
@click.option("--reported", type=click.Path(path_type=Path), default=None,
              help="paper rows to show beside a synthetic world's table when --dir holds none for its real "
                   "analogue [this source tree's leaderboards/reported]")
@click.option("--baseline", default=None, help="mark (†) the cells of each measured row whose paired per-seed "
              "difference from this method's row has a 95%% t-interval excluding 0, e.g. --baseline updn")
def leaderboard(directory: Path, benchmark: str | None, fmt: str, columns: str | None, out: Path | None,
                reported: Path | None, baseline: str | None) -> None:
    """Tables of mean ± std over seeds: rows are methods, columns are metrics (never edited by hand)."""
    if out is not None:
        check_writable(out)
    cols = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    tables = build_leaderboard(directory, benchmark=benchmark, columns=cols,
                               reported=SHIPPED_REPORTED if reported is None else reported)
    if not tables:
        if benchmark is not None:
            names = sorted({rec.benchmark for _, rec in load_records(directory)})
            known = f" (records exist for: {', '.join(names)})" if names else ""
            click.echo(f"no result records for benchmark '{benchmark}' under {directory}{known}")
        else:
            click.echo(f"no result records under {directory}")
        return
    if baseline is not None:
        from ..leaderboard_significance import legend, mark_against

        tables = mark_against(tables, baseline)
    if fmt == "json":
        text = json.dumps([table_to_dict(t) for t in tables], indent=2) + "\n"
    else:
        text = render(tables, fmt, root=directory, out=out)
        if baseline is not None and fmt in ("markdown", "latex"):
            text += ("" if fmt == "markdown" else "% ") + legend(baseline) + "\n"
    if out is None:
        click.echo(text, nl=False)
        return
    with atomic_open(out, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    click.echo(f"wrote {out} ({len(tables)} table{'s' if len(tables) != 1 else ''}, {fmt})")
