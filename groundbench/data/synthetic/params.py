"""The synthetic changing-priors VQA world: every parameter, its documented default, and RNG streams."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from ...errors import GroundbenchError

WORLD_VERSION = "synth-vqacp-2"

SHAPES = ("circle", "square", "triangle", "diamond", "pentagon", "hexagon", "star", "cross")
PLURALS = {"cross": "crosses"}
COLOURS = ("red", "green", "blue", "yellow", "purple", "orange", "white", "brown")
SIZES = ("small", "large")
COUNTS = ("1", "2", "3")
YES_NO = ("yes", "no")

# Named, independent random streams: changing one never shifts another.
STREAMS = {
    "scene": 1, "proposals": 2, "features": 3, "questions": 4, "answers": 5,
    "split": 6, "keep": 7, "hat": 8, "hat_select": 9, "priors": 10, "embed": 11,
}


@dataclass(frozen=True)
class WorldParams:
    """Every knob of the world. Defaults are fixed (WORLD_VERSION) so results compare over time.

    seed: master seed; every random choice derives from (seed, stream, keys).
    n_images: images in the world (each may carry train and test questions, as in VQA-CP).
    image_size: rendered square image side in pixels.
    min_objects / max_objects: objects per image, drawn uniformly in this range.
    max_same_shape: most objects of one shape in an image (so "how many" answers 1..3).
    shape_repeat_prob: chance a new object reuses a shape already in the scene (makes counts > 1).
    small_radius / large_radius: object radius as a fraction of image_size for the two sizes.
    n_proposals: K region proposals per image (bottom-up features use 36).
    feature_dim: D, size of each proposal feature vector.
    feature_noise: sd of the Gaussian noise added to every proposal feature before the ReLU.
    object_noise: sd of a per-object appearance perturbation shared by all boxes on that object
        (evidence that more boxes cannot average away: the world's visual ambiguity).
    box_jitter: sd of jittered-box corners, as a fraction of the object's box side.
    questions_per_image: mean questions kept per image (the pool is thinned to this size).
    test_fraction: share of all questions in the test file (VQA-CP's test).
    type_weights: share of each question family in every split
        (colour, shape, size, count, is-colour, is-shape), normalised.
    prior_strength: chance a question goes to its (concept, answer) group's favoured split
        (the VQA-CP re-split, softened: 0.5 = no prior shift, 1.0 = disjoint groups).
    train_side_fraction: share of a concept's answers favoured in train (at least one).
    contested_rate: share of questions on which annotators disagree at all (others are unanimous).
    disagreement: on a contested question, each annotator's chance of a wrong answer (at most 4 of 10).
    maybe_rate: chance an annotator's confidence is "maybe" (doubled for wrong answers).
    hat_fraction: share of train questions with one human map (per-question uniform draw).
    hat_annotators: maps per val and test question.
    hat_blur: Gaussian blur sd of the maps, as a fraction of image_size.
    hat_min_coverage: least share of a relevant object a map covers (partial coverage).
    hat_stray: share of a map's mass placed on stray blobs away from the relevant objects.
    """

    seed: int = 0
    n_images: int = 3000
    image_size: int = 96
    min_objects: int = 2
    max_objects: int = 6
    max_same_shape: int = 3
    shape_repeat_prob: float = 0.25
    small_radius: float = 0.075
    large_radius: float = 0.125
    n_proposals: int = 36
    feature_dim: int = 64
    feature_noise: float = 1.0
    object_noise: float = 1.5
    box_jitter: float = 0.15
    questions_per_image: float = 5.0
    test_fraction: float = 0.3
    type_weights: tuple[float, ...] = (0.15, 0.15, 0.1, 0.2, 0.2, 0.2)
    prior_strength: float = 0.8
    train_side_fraction: float = 0.25
    contested_rate: float = 0.3
    disagreement: float = 0.15
    maybe_rate: float = 0.1
    hat_fraction: float = 0.06
    hat_annotators: int = 3
    hat_blur: float = 0.03
    hat_min_coverage: float = 0.5
    hat_stray: float = 0.15

    def __post_init__(self) -> None:
        checks = (
            (self.seed >= 0, "seed must be >= 0"),
            (self.n_images >= 1, "n_images must be >= 1"),
            (self.image_size >= 32, "image_size must be >= 32"),
            (1 <= self.min_objects <= self.max_objects <= 8, "need 1 <= min_objects <= max_objects <= 8"),
            (self.n_proposals >= 4 * self.max_objects + 4, "n_proposals must be >= 4 * max_objects + 4"),
            (self.feature_dim >= 8, "feature_dim must be >= 8"),
            (0.0 <= self.hat_fraction <= 1.0, "hat_fraction must lie in [0, 1]"),
            (0.0 < self.test_fraction < 1.0, "test_fraction must lie in (0, 1)"),
            (0.5 <= self.prior_strength <= 1.0, "prior_strength must lie in [0.5, 1]"),
            (len(self.type_weights) == 6 and min(self.type_weights) >= 0, "type_weights: 6 non-negative numbers"),
            (self.hat_annotators >= 1, "hat_annotators must be >= 1"),
        )
        for ok, message in checks:
            if not ok:
                raise GroundbenchError(f"invalid world parameter: {message}")

    def to_dict(self) -> dict:
        """Plain JSON-able dict (tuples become lists)."""
        out = asdict(self)
        out["type_weights"] = list(self.type_weights)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "WorldParams":
        """Inverse of to_dict; unknown keys raise GroundbenchError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise GroundbenchError(f"unknown world parameter(s): {', '.join(unknown)}")
        values = dict(data)
        if "type_weights" in values:
            values["type_weights"] = tuple(float(w) for w in values["type_weights"])
        return cls(**values)


def stream(params: WorldParams, name: str, *keys: int) -> np.random.Generator:
    """An independent generator for (seed, stream name, keys): order of use never matters."""
    return np.random.default_rng(np.random.SeedSequence([int(params.seed), STREAMS[name], *map(int, keys)]))


def plural(shape: str) -> str:
    """English plural of a shape name."""
    return PLURALS.get(shape, shape + "s")
