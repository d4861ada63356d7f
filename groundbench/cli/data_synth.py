"""``groundbench data synth``: generate the synthetic changing-priors VQA world (thin wrapper)."""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import click

from ..data.synthetic import WORLD_VERSION, WorldParams, build_world, default_world_dir
from ..errors import GroundbenchError

# --scale presets: world parameters and the feature dtype; an explicit option overrides its preset value.
# vqacp: ~VQA-CP v2's size (~120k COCO images, 658k questions; here 120k images x ~4.7 kept questions),
# bottom-up features (K 36, D 2048) stored as float16 (17.7 GB) without a TSV in between (data/feature_npy.py).
SCALES = {"vqacp": {"n_images": 120_000, "n_proposals": 36, "feature_dim": 2048, "dtype": "float16"}}


@click.command()
@click.option("--out", type=click.Path(path_type=Path), help="output folder (default: the cache's world folder)")
@click.option("--seed", type=int, help="world seed (default 0)")
@click.option("--scale", type=click.Choice(sorted(SCALES)), help="a preset size: vqacp = 120k images, D 2048, "
              "K 36, float16 features written without a TSV (~18 GB of features, hours on a 2-core CPU)")
@click.option("--images", type=int, help="number of images (default 3000)")
@click.option("--questions-per-image", type=float, help="mean questions kept per image (default 5)")
@click.option("--hat-fraction", type=float, help="share of train questions with a human map (default 0.06)")
@click.option("--proposals", type=int, help="region proposals per image, K (default 36)")
@click.option("--feature-dim", type=int, help="proposal feature size, D (default 64)")
@click.option("--dtype", type=click.Choice(["float32", "float16"]),
              help="stored feature type; float16 writes the features straight into memory-mapped .npy arrays "
                   "(no bottom-up TSV); default float32 through the TSV")
@click.option("--raw-only", is_flag=True, help="write only OUT/raw (the official-format files), do not prepare")
@click.option("--quiet", is_flag=True, help="no progress bar")
def synth(out, seed, scale, images, questions_per_image, hat_fraction, proposals, feature_dim, dtype, raw_only,
          quiet) -> None:
    """Generate the synthetic world (VQA-CP-style splits, HAT maps, bottom-up-style features)."""
    preset = dict(SCALES[scale]) if scale else {}
    dtype = dtype or preset.pop("dtype", None)
    preset.pop("dtype", None)
    # the TSV (float32) unless float16 is asked or a preset's size makes the TSV prohibitive (data/feature_npy.py)
    feature_dtype = dtype if dtype == "float16" or scale else None
    changes = {**preset, **{k: v for k, v in {
        "seed": seed, "n_images": images, "questions_per_image": questions_per_image, "hat_fraction": hat_fraction,
        "n_proposals": proposals, "feature_dim": feature_dim}.items() if v is not None}}
    if questions_per_image is not None and not questions_per_image > 0:
        raise GroundbenchError(f"--questions-per-image must be > 0, got {questions_per_image}")
    params = replace(WorldParams(), **changes)
    if out is None:
        from ..experiment import default_cache_root

        out = default_world_dir(default_cache_root(), params, feature_dtype)
    start = time.perf_counter()
    build_world(out, params, progress=not quiet, prepare=not raw_only, feature_dtype=feature_dtype)
    stored = f", {feature_dtype} features" if feature_dtype else ""
    click.echo(f"Synthetic world {WORLD_VERSION} (seed {params.seed}, {params.n_images} images{stored}) in {out} "
               f"[{time.perf_counter() - start:.1f} s]")
