"""Scenes of the captioning world: 2-4 non-overlapping objects whose shapes follow the partner-pair prior.

The geometry (radii, non-overlap with a 2 px gap, inside the image) is the VQA world's
(groundbench/data/synthetic/scenes.py); only the shape choice differs, and the draws come from this
world's own "scene" stream.
"""
from __future__ import annotations

from ..synthetic.params import COLOURS, SHAPES, SIZES
from ..synthetic.scenes import Scene, SceneObject
from .params import PARTNER, CaptionWorldParams, stream

_PLACEMENT_TRIES = 200


def image_ids(params: CaptionWorldParams) -> list[int]:
    """The world's image ids: 1 .. n_images."""
    return list(range(1, params.n_images + 1))


def pick_shape(existing: list[str], params: CaptionWorldParams, rng) -> str:
    """The first object's shape is uniform; a later one is, with probability partner_prob, the partner of an
    earlier object whose partner is not yet present, else uniform; never more than max_same_shape of one shape."""
    allowed = [s for s in SHAPES if existing.count(s) < params.max_same_shape]
    missing = [PARTNER[s] for s in dict.fromkeys(existing) if PARTNER[s] not in existing and PARTNER[s] in allowed]
    if missing and rng.random() < params.partner_prob:
        return missing[int(rng.integers(len(missing)))]
    return allowed[int(rng.integers(len(allowed)))]


def generate_scene(image_id: int, params: CaptionWorldParams) -> Scene:
    """Draw an image's objects from its own random stream; objects never overlap (gap >= 2 px).

    An object that finds no free place in _PLACEMENT_TRIES draws is dropped (as in the VQA world), so a
    scene has between 1 and max_objects objects; with the default sizes this never happens.
    """
    rng = stream(params, "scene", image_id)
    size = params.image_size
    n_wanted = int(rng.integers(params.min_objects, params.max_objects + 1))
    objects: list[SceneObject] = []
    for _ in range(n_wanted):
        shape = pick_shape([o.shape for o in objects], params, rng)
        color = COLOURS[int(rng.integers(len(COLOURS)))]
        size_name = SIZES[int(rng.integers(len(SIZES)))]
        radius = size * (params.small_radius if size_name == "small" else params.large_radius)
        for _ in range(_PLACEMENT_TRIES):
            x = float(rng.uniform(radius + 1, size - radius - 1))
            y = float(rng.uniform(radius + 1, size - radius - 1))
            if all((x - o.x) ** 2 + (y - o.y) ** 2 >= (radius + o.radius + 2) ** 2 for o in objects):
                objects.append(SceneObject(len(objects), shape, color, size_name, round(x, 2), round(y, 2),
                                           round(radius, 2)))
                break
    return Scene(int(image_id), size, size, tuple(objects))


def generate_scenes(params: CaptionWorldParams) -> dict[int, Scene]:
    """Every image's scene, by image id."""
    return {i: generate_scene(i, params) for i in image_ids(params)}


def shapes_of(scene: Scene) -> frozenset[str]:
    """The categories (shapes) present in a scene."""
    return frozenset(o.shape for o in scene.objects)
