"""``groundbench data captioning``: convert the official COCO caption files (or the synthetic world's copy)
into a prepared caption store (thin wrapper over data/caption_prepare.py)."""
from __future__ import annotations

from pathlib import Path

import click

PATH = click.Path(path_type=Path)


@click.command()
@click.option("--root", type=PATH, required=True, help="directory holding the official COCO files (see README)")
@click.option("--out", type=PATH, required=True, help="store directory to write (re-runs are incremental)")
@click.option("--split", "split_scheme", type=click.Choice(["robust", "karpathy", "standard"]), default="robust",
              show_default=True, help="robust: split_robust_coco.json (Lu et al. 2018); karpathy / standard: "
              "dataset_coco.json")
@click.option("--mask-fraction", type=click.FloatRange(0.0, 1.0), default=0.06, show_default=True,
              help="seeded share of train images whose segmentation masks give human importance")
@click.option("--mask-seed", type=int, default=0, show_default=True)
@click.option("--words", "words_file", type=PATH, help="visual-word list (category, word, ...) [ROOT/visual_words.txt "
              "if present, else the shipped coco_class_name.txt]")
@click.option("--min-count", type=click.IntRange(min=0), default=5, show_default=True,
              help="words seen at most this many times in train captions become <unk>")
@click.option("--quiet", is_flag=True, help="no progress bars")
def captioning(root, out, split_scheme, mask_fraction, mask_seed, words_file, min_count, quiet) -> None:
    """Validate the COCO caption files under ROOT, convert features and masks, write the store to OUT."""
    from ..data.caption_prepare import prepare_captioning
    from ..data.caption_store import CaptionStore

    store = CaptionStore.open(prepare_captioning(root, out, split_scheme=split_scheme, mask_fraction=mask_fraction,
                                                 mask_seed=mask_seed, words_file=words_file, min_count=min_count,
                                                 progress=not quiet))
    m = store.manifest
    click.echo(f"store: {store.root} ({m['source']}, split {m['split_scheme']})")
    click.echo("images: " + ", ".join(f"{name} {n}" for name, n in m["splits"].items())
               + "; captions: " + ", ".join(f"{name} {n}" for name, n in m.get("captions", {}).items()))
    click.echo(f"vocabulary: {m['vocab_size']} tokens; visual words: {len(store.visual_words)} words over "
               f"{len(store.categories)} categories; K = {m['k_max']}, D = {m['feature_dim']}")
    click.echo(f"split file: {m['split_file']}; captions from: {m['caption_source']}")
    skipped = m["skipped"]
    if skipped["counts"]:
        from ..data.coco_segmentation import Skipped
        click.echo("skipped, as published: " + Skipped(skipped["counts"], skipped["examples"]).summary())
    click.echo("images with masks: " + ", ".join(f"{name} {n}" for name, n in m.get("masks", {}).items()))
