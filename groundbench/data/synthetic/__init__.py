"""The synthetic changing-priors VQA world: VQA-CP + VQA-HAT + bottom-up features, generated on a CPU.

build_world(out_dir) writes out_dir/raw/ in the official formats (see writer.py), then converts it with
groundbench.data.prepare.prepare_vqa like real data, so one loading path serves both.
"""
from __future__ import annotations

import json
from pathlib import Path

from ...errors import GroundbenchError
from ..world_cache import stamp_matches, world_dir
from .params import WORLD_VERSION, WorldParams
from .writer import world_stamp, write_raw

__all__ = ["WORLD_VERSION", "WorldParams", "build_world", "default_world_dir", "world_is_built"]


def default_world_dir(cache_root: str | Path, params: WorldParams | None = None,
                      feature_dtype: str | None = None) -> Path:
    """Where a world is cached under ``cache_root``: one folder per world version for the default
    parameters, plus a short hash of the parameters for any other setting (and ``-npy-<dtype>`` for a
    world whose features skip the TSV, data/feature_npy.py)."""
    default = params is None or params == WorldParams()
    path = world_dir(cache_root, WORLD_VERSION, None if default else params.to_dict())
    return path if feature_dtype is None else path.with_name(f"{path.name}-npy-{feature_dtype}")


def world_is_built(raw_dir: str | Path, params: WorldParams, feature_dtype: str | None = None) -> bool:
    """True when ``raw_dir`` holds a complete world of this version, these parameters and this feature layout."""
    if not stamp_matches(raw_dir, WORLD_VERSION, params.to_dict()):
        return False
    try:
        stamp = json.loads((Path(raw_dir) / "world.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return stamp.get("features") == world_stamp(params, feature_dtype).get("features")


def build_world(out_dir: str | Path, params: WorldParams = WorldParams(), *, progress: bool = True,
                prepare: bool = True, feature_dtype: str | None = None) -> Path:
    """Write ``out_dir/raw`` (kept if already built with the same parameters), then prepare it for training.

    ``prepare=False`` stops after the raw files. ``feature_dtype`` (float16 / float32): features written
    straight into raw/features/*.npy (no TSV; data/feature_npy.py). Returns ``out_dir``.
    """
    out_dir = Path(out_dir)
    raw = out_dir / "raw"
    if raw.exists() and not (raw / "world.json").is_file():
        raise GroundbenchError("exists but is not a synthetic world (no world.json); choose another folder", path=raw)
    if not world_is_built(raw, params, feature_dtype):
        write_raw(raw, params, progress=progress, feature_dtype=feature_dtype)
    if prepare:
        from ..prepare import prepare_vqa  # written alongside; imported lazily

        prepare_vqa(raw, out_dir, split_scheme="cp", source="synthetic", min_answer_count=1, progress=progress)
    return out_dir
