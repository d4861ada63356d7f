"""Rendering: a small RGB image of a scene and one boolean mask per object."""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from .scenes import Scene, SceneObject

BACKGROUND = (70, 70, 78)
RGB = {
    "red": (220, 40, 40), "green": (40, 170, 60), "blue": (50, 90, 225), "yellow": (235, 215, 50),
    "purple": (150, 60, 190), "orange": (245, 140, 30), "white": (240, 240, 240), "brown": (135, 85, 40),
}


def _regular(n: int, radius: float, phase: float) -> list[tuple[float, float]]:
    return [(radius * math.cos(phase + 2 * math.pi * i / n), radius * math.sin(phase + 2 * math.pi * i / n))
            for i in range(n)]


def _outline(shape: str, r: float) -> list[tuple[float, float]]:
    """Polygon vertices around (0, 0) for a shape of radius r (circle handled by the caller)."""
    up = -math.pi / 2
    if shape == "square":
        s = 0.8 * r
        return [(-s, -s), (s, -s), (s, s), (-s, s)]
    if shape == "triangle":
        return _regular(3, r, up)
    if shape == "diamond":
        return _regular(4, r, up)
    if shape == "pentagon":
        return _regular(5, r, up)
    if shape == "hexagon":
        return _regular(6, r, 0.0)
    if shape == "star":
        outer, inner = _regular(5, r, up), _regular(5, 0.45 * r, up + math.pi / 5)
        return [p for pair in zip(outer, inner) for p in pair]
    if shape == "cross":
        a, b = 0.35 * r, r
        return [(-a, -b), (a, -b), (a, -a), (b, -a), (b, a), (a, a), (a, b), (-a, b), (-a, a), (-b, a),
                (-b, -a), (-a, -a)]
    raise ValueError(f"unknown shape {shape!r}")


def _draw(draw: ImageDraw.ImageDraw, obj: SceneObject, fill) -> None:
    if obj.shape == "circle":
        draw.ellipse([obj.x - obj.radius, obj.y - obj.radius, obj.x + obj.radius, obj.y + obj.radius], fill=fill)
    else:
        draw.polygon([(obj.x + dx, obj.y + dy) for dx, dy in _outline(obj.shape, obj.radius)], fill=fill)


def object_masks(scene: Scene) -> np.ndarray:
    """masks: [N, H, W] bool, the pixels of each object (objects never overlap)."""
    masks = np.zeros((len(scene.objects), scene.height, scene.width), dtype=bool)
    for i, obj in enumerate(scene.objects):
        canvas = Image.new("L", (scene.width, scene.height), 0)
        _draw(ImageDraw.Draw(canvas), obj, 255)
        masks[i] = np.asarray(canvas) > 0
    return masks


def render_image(scene: Scene, masks: np.ndarray) -> np.ndarray:
    """image: [H, W, 3] uint8; background with a faint vertical shading, objects in flat colours."""
    shade = np.linspace(-12, 12, scene.height, dtype=np.float32)[:, None, None]
    image = np.clip(np.array(BACKGROUND, dtype=np.float32)[None, None, :] + shade, 0, 255)
    image = np.broadcast_to(image, (scene.height, scene.width, 3)).copy()
    for obj, mask in zip(scene.objects, masks):
        image[mask] = RGB[obj.color]
    return image.astype(np.uint8)


def mask_boxes(masks: np.ndarray) -> np.ndarray:
    """Tight boxes [N, 4] (x1, y1, x2, y2), half-open pixel bounds of each mask."""
    boxes = np.zeros((masks.shape[0], 4), dtype=np.float32)
    for i, mask in enumerate(masks):
        rows, cols = np.nonzero(mask.any(1))[0], np.nonzero(mask.any(0))[0]
        boxes[i] = (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)
    return boxes
