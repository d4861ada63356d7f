"""``groundbench data vqa``: convert the official VQA / VQA-CP files into a prepared store."""
from __future__ import annotations

from pathlib import Path

import click

from ..data.splits import DEFAULT_VAL_FRACTION

PATH = click.Path(path_type=Path)


@click.command()
@click.option("--root", type=PATH, required=True, help="directory holding the official files (see README)")
@click.option("--out", type=PATH, required=True, help="store directory to write (re-runs are incremental)")
@click.option("--split", "split_scheme", type=click.Choice(["cp", "v2"]), default="cp", show_default=True,
              help="cp: VQA-CP v2 (train / held-out val / test); v2: VQA v2 (train / val)")
@click.option("--min-answer-count", type=click.IntRange(min=1), default=9, show_default=True,
              help="answers given for fewer train questions are left out of the vocabulary (score 0)")
@click.option("--val-fraction", type=click.FloatRange(0.0, 1.0, max_open=True), default=DEFAULT_VAL_FRACTION,
              show_default=True, help="cp only: fraction of train images held out as val")
@click.option("--quiet", is_flag=True, help="no progress bars")
def vqa(root: Path, out: Path, split_scheme: str, min_answer_count: int, val_fraction: float, quiet: bool) -> None:
    """Validate the VQA files under ROOT, convert features and HAT maps, write the store to OUT."""
    from ..data.prepare import prepare_vqa
    from ..data.store import VQAStore

    store = VQAStore.open(prepare_vqa(root, out, split_scheme=split_scheme, min_answer_count=min_answer_count,
                                      val_fraction=val_fraction, progress=not quiet))
    m = store.manifest
    click.echo(f"store: {store.root} ({m['source']}, scheme {m['split_scheme']})")
    click.echo("splits: " + ", ".join(f"{name} {n}" for name, n in m["splits"].items()))
    click.echo(f"answers: {m['num_answers']} (>= {min_answer_count} train questions); images: {m['num_images']}, "
               f"K = {m['k_max']}, D = {m['feature_dim']}")
    maps = m["maps"]
    click.echo(f"HAT maps: {maps['used']} used on {maps['questions']} questions; left out: "
               f"{maps['excluded_unreadable']} unreadable, {maps['excluded_all_zero']} all zero, "
               f"{maps.get('excluded_not_a_file', 0)} not files; {maps.get('resized', 0)} resized to their image's size")
    click.echo("accuracy upper bound (out-of-vocabulary answers score 0): "
               + ", ".join(f"{name} {100 * store.upper_bound(name):.2f}%" for name in store.splits))
