"""The synthetic captioning world: COCO captions + instance masks + a robust (held-out pairs) split +
bottom-up features, generated on a CPU from the VQA world's scene machinery (groundbench/data/synthetic).

build_caption_world(out_dir) writes out_dir/raw/ in the official COCO formats (see writer.py), then converts
it with groundbench.data.caption_prepare.prepare_captioning like real COCO, so one loading path serves both.
"""
from __future__ import annotations

from pathlib import Path

from ...errors import GroundbenchError
from ..world_cache import stamp_matches, world_dir
from .params import CAPTION_WORLD_VERSION, PARTNER, PARTNER_PAIRS, CaptionWorldParams
from .writer import plan_caption_world, write_caption_raw

__all__ = ["CAPTION_WORLD_VERSION", "PARTNER", "PARTNER_PAIRS", "CaptionWorldParams", "build_caption_world",
           "caption_world_is_built", "default_caption_world_dir", "plan_caption_world", "write_caption_raw"]

SPLIT_SCHEMES = ("robust", "standard")


def default_caption_world_dir(cache_root: str | Path, params: CaptionWorldParams | None = None) -> Path:
    """Where a world is cached under ``cache_root``: one folder per world version for the default
    parameters, plus a short hash of the parameters for any other setting."""
    default = params is None or params == CaptionWorldParams()
    return world_dir(cache_root, CAPTION_WORLD_VERSION, None if default else params.to_dict())


def caption_world_is_built(raw_dir: str | Path, params: CaptionWorldParams) -> bool:
    """True when ``raw_dir`` holds a complete world of this version and these parameters (world.json,
    written last, is the stamp)."""
    return stamp_matches(raw_dir, CAPTION_WORLD_VERSION, params.to_dict())


def build_caption_world(out_dir: str | Path, params: CaptionWorldParams = CaptionWorldParams(), *,
                        split_scheme: str = "robust", progress: bool = True, prepare: bool = True) -> Path:
    """Write ``out_dir/raw`` (kept if already built with the same parameters), then, if ``prepare``, convert it
    into the caption store ``out_dir/<split_scheme>`` (robust or standard). Returns ``out_dir``."""
    out_dir = Path(out_dir)
    if split_scheme not in SPLIT_SCHEMES:
        raise GroundbenchError(f"the synthetic captioning world has split schemes {', '.join(SPLIT_SCHEMES)}, "
                               f"not '{split_scheme}'")
    raw = out_dir / "raw"
    if raw.exists() and not (raw / "world.json").is_file():
        raise GroundbenchError("exists but is not a synthetic captioning world (no world.json); choose another "
                               "folder", path=raw)
    if not caption_world_is_built(raw, params):
        write_caption_raw(raw, params, progress=progress)
    if prepare:
        from ..caption_prepare import prepare_captioning  # written alongside; imported lazily

        prepare_captioning(raw, out_dir / split_scheme, split_scheme=split_scheme, source="synthetic-captions",
                           min_count=1, progress=progress)
    return out_dir
