"""Scenes: 2-6 non-overlapping objects per image, each with a shape, colour, size and position."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from .params import COLOURS, SHAPES, SIZES, WorldParams, stream

_PLACEMENT_TRIES = 200


@dataclass(frozen=True)
class SceneObject:
    """One object: centre (x, y) and radius in pixels; index = its position in the scene."""

    index: int
    shape: str
    color: str
    size: str
    x: float
    y: float
    radius: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Scene:
    """An image's true content: what the oracle reads and the renderer draws."""

    image_id: int
    width: int
    height: int
    objects: tuple[SceneObject, ...]

    def to_dict(self) -> dict:
        return {"image_id": self.image_id, "width": self.width, "height": self.height,
                "objects": [o.to_dict() for o in self.objects]}

    @classmethod
    def from_dict(cls, data: dict) -> "Scene":
        objects = tuple(SceneObject(**o) for o in data["objects"])
        return cls(int(data["image_id"]), int(data["width"]), int(data["height"]), objects)

    def with_shape(self, shape: str) -> list[SceneObject]:
        return [o for o in self.objects if o.shape == shape]

    def with_color(self, color: str) -> list[SceneObject]:
        return [o for o in self.objects if o.color == color]


def image_ids(params: WorldParams) -> list[int]:
    """The world's image ids: 1 .. n_images."""
    return list(range(1, params.n_images + 1))


def _pick_shape(existing: list[str], params: WorldParams, rng) -> str:
    """Reuse an existing shape with probability shape_repeat_prob, never beyond max_same_shape."""
    allowed = [s for s in SHAPES if existing.count(s) < params.max_same_shape]
    reusable = [s for s in dict.fromkeys(existing) if s in allowed]
    if reusable and rng.random() < params.shape_repeat_prob:
        return reusable[int(rng.integers(len(reusable)))]
    return allowed[int(rng.integers(len(allowed)))]


def generate_scene(image_id: int, params: WorldParams) -> Scene:
    """Draw an image's objects from its own random stream; objects never overlap (gap >= 2 px)."""
    rng = stream(params, "scene", image_id)
    size = params.image_size
    n_wanted = int(rng.integers(params.min_objects, params.max_objects + 1))
    objects: list[SceneObject] = []
    for _ in range(n_wanted):
        shape = _pick_shape([o.shape for o in objects], params, rng)
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
