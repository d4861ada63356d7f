"""``groundbench plot``: result records and the supervision curve as PNG (``plot bars``, ``plot curve``)."""
from __future__ import annotations

from pathlib import Path

import click

from ..figures.plot import plot_curve_file, plot_records

PATH = click.Path(path_type=Path)


@click.group()
def plot() -> None:
    """Draw results as PNG: per-answer-type bars from records, the supervision curve from its JSON."""


@plot.command()
@click.option("--dir", "directory", type=PATH, default=Path("leaderboards/records"), show_default=True,
              help="directory searched recursively for result records (*.json)")
@click.option("--benchmark", default="synth-vqacp", show_default=True)
@click.option("--columns", help="comma-separated metrics [test/accuracy and its answer types: yes/no, number, "
              "other]")
@click.option("--out", type=PATH, default=Path("answer-types.png"), show_default=True)
def bars(directory, benchmark, columns, out):
    """Per-answer-type accuracy of every method: mean ± std over seeds."""
    cols = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    plot_records(directory, benchmark, out, cols)
    click.echo(f"wrote {out}")


@plot.command()
@click.option("--curve", "curve_file", type=PATH, default=Path("leaderboards/supervision-curve.json"),
              show_default=True, help="a curve.json written by groundbench curve")
@click.option("--out", type=PATH, default=Path("supervision-curve.png"), show_default=True)
def curve(curve_file, out):
    """The amount-of-human-supervision curve (test accuracy and Spearman against the share with maps)."""
    plot_curve_file(curve_file, out)
    click.echo(f"wrote {out}")
