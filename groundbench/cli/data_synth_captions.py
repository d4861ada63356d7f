"""``groundbench data synth-captions``: generate the synthetic captioning world (thin wrapper)."""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import click


@click.command("synth-captions")
@click.option("--out", type=click.Path(path_type=Path), help="output folder (default: the cache's world folder)")
@click.option("--seed", type=int, help="world seed (default 0)")
@click.option("--images", type=int, help="number of images (default 3000)")
@click.option("--split", "split_scheme", type=click.Choice(["robust", "standard"]), default="robust",
              show_default=True, help="which split's store to prepare (the raw files hold both)")
@click.option("--raw-only", is_flag=True, help="write only OUT/raw (the COCO-format files), do not prepare")
@click.option("--quiet", is_flag=True, help="no progress bar")
def synth_captions(out, seed, images, split_scheme, raw_only, quiet) -> None:
    """Generate the synthetic captioning world (COCO-format captions, masks, robust and standard splits)."""
    from ..data.synthetic_captions import (CAPTION_WORLD_VERSION, CaptionWorldParams, build_caption_world,
                                           default_caption_world_dir)

    changes = {"seed": seed, "n_images": images}
    params = replace(CaptionWorldParams(), **{k: v for k, v in changes.items() if v is not None})
    if out is None:
        from ..experiment import default_cache_root

        default = params == CaptionWorldParams()
        out = default_caption_world_dir(default_cache_root(), None if default else params)
    start = time.perf_counter()
    build_caption_world(out, params, split_scheme=split_scheme, progress=not quiet, prepare=not raw_only)
    click.echo(f"Synthetic captioning world {CAPTION_WORLD_VERSION} (seed {params.seed}, {params.n_images} images) "
               f"in {out} [{time.perf_counter() - start:.1f} s]")
