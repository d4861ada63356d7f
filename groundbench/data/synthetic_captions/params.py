"""The synthetic captioning world: every parameter, its documented default, partner pairs and RNG streams."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from ...errors import GroundbenchError
from ..synthetic.params import SHAPES, WorldParams

CAPTION_WORLD_VERSION = "synth-captions-1"

# The co-occurrence prior: the 8 shapes form 4 fixed partner pairs that appear together often.
PARTNER_PAIRS = (("circle", "square"), ("triangle", "star"), ("diamond", "hexagon"), ("pentagon", "cross"))
PARTNER = {a: b for pair in PARTNER_PAIRS for a, b in (pair, pair[::-1])}
assert sorted(PARTNER) == sorted(SHAPES)

# Named, independent random streams (numbered apart from the VQA world's 1..11): changing one never shifts another.
STREAMS = {"scene": 21, "captions": 22, "robust": 23, "karpathy": 24, "polygons": 25}


@dataclass(frozen=True)
class CaptionWorldParams:
    """Every knob of the captioning world. Defaults are fixed (CAPTION_WORLD_VERSION) so results compare over time.

    seed: master seed; every random choice derives from (seed, stream, keys).
    n_images: images in the world (ids 1 .. n_images).
    image_size: rendered square image side in pixels.
    min_objects / max_objects: objects per image, drawn uniformly in this range.
    max_same_shape: most objects of one shape in an image (so counts are "one" or "two").
    partner_prob: chance an object after the first is the partner of an earlier object whose partner is
        not yet present (else a uniform shape): partner pairs co-occur often, other pairs rarely.
    small_radius / large_radius: object radius as a fraction of image_size for the two sizes.
    captions_per_image: reference captions per image (COCO has 5).
    relation_margin: least centre offset (fraction of image_size) along an axis for "left of" / "above"
        to be said, so every spatial relation in a caption is unambiguous.
    heldout_fraction: the robust split holds out rare category pairs until their images reach this share.
    max_category_loss: a pair is not held out if some category would lose more than this share of its images.
    robust_val_share: share of the held-out images that go to robust val (the rest to robust test).
    karpathy_val / karpathy_test: shares of images in the standard (Karpathy-format) val and test splits.
    restval_share: share of the standard split's train images labelled "restval" (they train too).
    polygon_fraction: share of objects whose instance segmentation is written as a polygon (others RLE).
    n_proposals: K region proposals per image (bottom-up features use 36).
    feature_dim: D, size of each proposal feature vector.
    feature_noise: sd of the Gaussian noise added to every proposal feature before the ReLU.
    object_noise: sd of a per-object appearance perturbation shared by all boxes on that object.
    box_jitter: sd of jittered-box corners, as a fraction of the object's box side.
    """

    seed: int = 0
    n_images: int = 3000
    image_size: int = 96
    min_objects: int = 2
    max_objects: int = 4
    max_same_shape: int = 2
    partner_prob: float = 0.8
    small_radius: float = 0.075
    large_radius: float = 0.125
    captions_per_image: int = 5
    relation_margin: float = 0.1
    heldout_fraction: float = 0.25
    max_category_loss: float = 0.5
    robust_val_share: float = 0.3
    karpathy_val: float = 0.1
    karpathy_test: float = 0.2
    restval_share: float = 0.1
    polygon_fraction: float = 0.1
    n_proposals: int = 36
    feature_dim: int = 64
    feature_noise: float = 1.0
    object_noise: float = 1.5
    box_jitter: float = 0.15

    def __post_init__(self) -> None:
        checks = (
            (self.seed >= 0, "seed must be >= 0"),
            (self.n_images >= 1, "n_images must be >= 1"),
            (self.image_size >= 32, "image_size must be >= 32"),
            (1 <= self.min_objects <= self.max_objects <= 6, "need 1 <= min_objects <= max_objects <= 6"),
            (self.max_same_shape >= 1, "max_same_shape must be >= 1"),
            (0.0 <= self.partner_prob <= 1.0, "partner_prob must lie in [0, 1]"),
            (0.0 < self.small_radius <= self.large_radius <= 0.2, "need 0 < small_radius <= large_radius <= 0.2"),
            (1 <= self.captions_per_image <= 20, "captions_per_image must lie in 1..20"),
            (0.0 <= self.relation_margin < 0.5, "relation_margin must lie in [0, 0.5)"),
            (0.0 < self.heldout_fraction < 1.0, "heldout_fraction must lie in (0, 1)"),
            (0.0 < self.max_category_loss <= 1.0, "max_category_loss must lie in (0, 1]"),
            (0.0 <= self.robust_val_share <= 1.0, "robust_val_share must lie in [0, 1]"),
            (self.karpathy_val >= 0 and self.karpathy_test >= 0 and self.karpathy_val + self.karpathy_test < 1,
             "need karpathy_val, karpathy_test >= 0 with karpathy_val + karpathy_test < 1"),
            (0.0 <= self.restval_share < 1.0, "restval_share must lie in [0, 1)"),
            (0.0 <= self.polygon_fraction <= 1.0, "polygon_fraction must lie in [0, 1]"),
            (self.n_proposals >= 4 * self.max_objects + 4, "n_proposals must be >= 4 * max_objects + 4"),
            (self.feature_dim >= 8, "feature_dim must be >= 8"),
            (min(self.feature_noise, self.object_noise, self.box_jitter) >= 0, "noise levels must be >= 0"),
        )
        for ok, message in checks:
            if not ok:
                raise GroundbenchError(f"invalid captioning world parameter: {message}")

    def to_dict(self) -> dict:
        """Plain JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "CaptionWorldParams":
        """Inverse of to_dict; unknown keys raise GroundbenchError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise GroundbenchError(f"unknown captioning world parameter(s): {', '.join(unknown)}")
        return cls(**data)


def stream(params: CaptionWorldParams, name: str, *keys: int) -> np.random.Generator:
    """An independent generator for (seed, stream name, keys): order of use never matters."""
    return np.random.default_rng(np.random.SeedSequence([int(params.seed), STREAMS[name], *map(int, keys)]))


def vqa_world_params(params: CaptionWorldParams) -> WorldParams:
    """The VQA world's parameters that its proposal / feature code reads (seed, image_size, object counts,
    n_proposals, feature_dim, feature_noise, object_noise, box_jitter), taken from ``params``."""
    return WorldParams(seed=params.seed, n_images=params.n_images, image_size=params.image_size,
                       min_objects=params.min_objects, max_objects=params.max_objects,
                       max_same_shape=params.max_same_shape, small_radius=params.small_radius,
                       large_radius=params.large_radius, n_proposals=params.n_proposals,
                       feature_dim=params.feature_dim, feature_noise=params.feature_noise,
                       object_noise=params.object_noise, box_jitter=params.box_jitter)
