"""``groundbench data synth``: generate the synthetic changing-priors VQA world (thin wrapper)."""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import click

from ..data.synthetic import WORLD_VERSION, WorldParams, build_world, default_world_dir


@click.command()
@click.option("--out", type=click.Path(path_type=Path), help="output folder (default: the cache's world folder)")
@click.option("--seed", type=int, help="world seed (default 0)")
@click.option("--images", type=int, help="number of images (default 3000)")
@click.option("--questions-per-image", type=float, help="mean questions kept per image (default 5)")
@click.option("--hat-fraction", type=float, help="share of train questions with a human map (default 0.06)")
@click.option("--proposals", type=int, help="region proposals per image, K (default 36)")
@click.option("--feature-dim", type=int, help="proposal feature size, D (default 64)")
@click.option("--raw-only", is_flag=True, help="write only OUT/raw (the official-format files), do not prepare")
@click.option("--quiet", is_flag=True, help="no progress bar")
def synth(out, seed, images, questions_per_image, hat_fraction, proposals, feature_dim, raw_only, quiet) -> None:
    """Generate the synthetic world (VQA-CP-style splits, HAT maps, bottom-up-style features)."""
    changes = {"seed": seed, "n_images": images, "questions_per_image": questions_per_image,
               "hat_fraction": hat_fraction, "n_proposals": proposals, "feature_dim": feature_dim}
    params = replace(WorldParams(), **{k: v for k, v in changes.items() if v is not None})
    if out is None:
        from ..experiment import default_cache_root

        out = default_world_dir(default_cache_root(), params)
    start = time.perf_counter()
    build_world(out, params, progress=not quiet, prepare=not raw_only)
    click.echo(f"Synthetic world {WORLD_VERSION} (seed {params.seed}, {params.n_images} images) in {out} "
               f"[{time.perf_counter() - start:.1f} s]")
