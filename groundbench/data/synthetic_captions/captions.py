"""Reference captions: varied templates naming 1-3 of an image's objects (or same-shape groups) with their
colours, sizes, counts and spatial relations; every caption is true of its image and at most 16 tokens.

The shape nouns (singular or plural) are the visual words (visual_words_text); a caption names only shapes
present in its image. Relations come from object centres with a margin (relation_margin), so they are
unambiguous. Larger objects and groups are more likely to be named, as people name salient things first.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..caption_text import MAX_CAPTION_TOKENS, tokenize_caption
from ..synthetic.params import SHAPES, plural
from ..synthetic.scenes import Scene, SceneObject
from .params import CaptionWorldParams, stream

NUMBERS = ("zero", "one", "two", "three", "four", "five", "six")
ITEMS_WANTED = ((1, 0.2), (2, 0.45), (3, 0.35))  # how many things a caption names, before capping
GROUP_PROB = 0.5  # chance two objects of one shape are named together ("two circles")
DETAILS = (("", 0.15), ("color", 0.45), ("size", 0.1), ("size color", 0.3))  # adjectives of a phrase
_ATTEMPTS = 60


@dataclass(frozen=True)
class Item:
    """What a phrase names: one object, or every object of one shape (a group, named with its count)."""

    objects: tuple[SceneObject, ...]

    @property
    def weight(self) -> float:
        """Salience: large objects and groups are named more often."""
        return 3.0 if len(self.objects) > 1 else (2.0 if self.objects[0].size == "large" else 1.0)


def visual_words_text() -> str:
    """The visual-word list (``category, word, word`` lines, coco_class_name.txt format): shape, singular, plural."""
    return "".join(f"{s}, {s}, {plural(s)}\n" for s in SHAPES)


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def phrase(item: Item, detail: str) -> str:
    """"a large red circle", "two blue squares": adjectives the item's objects all share, as ``detail`` asks."""
    first = item.objects[0]
    adjectives = [getattr(first, a) for a in detail.split()
                  if all(getattr(o, a) == getattr(first, a) for o in item.objects)]
    if len(item.objects) == 1:
        words = [*adjectives, first.shape]
        return " ".join([article(words[0]), *words])
    return " ".join([NUMBERS[len(item.objects)], *adjectives, plural(first.shape)])


def relations(a: SceneObject, b: SceneObject, margin: float) -> list[str]:
    """Every relation "a <rel> b" that holds with a centre offset of at least ``margin`` pixels (y grows down)."""
    out = []
    if b.x - a.x >= margin:
        out.append("to the left of")
    if a.x - b.x >= margin:
        out.append("to the right of")
    if b.y - a.y >= margin:
        out.append("above")
    if a.y - b.y >= margin:
        out.append("below")
    return out


def joined(parts: list[str]) -> str:
    """"A", "A and B", "A , B and C"."""
    return parts[0] if len(parts) == 1 else " , ".join(parts[:-1]) + " and " + parts[-1]


def compose(items: list[Item], texts: list[str], scene: Scene, margin: float, rng) -> str:
    """One caption over the chosen items (texts: their phrases) from a template that fits them."""
    n_objects, named = len(scene.objects), sum(len(i.objects) for i in items)
    there = "there are" if len(items[0].objects) > 1 else "there is"
    options = [joined(texts), f"{there} {joined(texts)}", f"a picture with {joined(texts)}",
               f"an image of {joined(texts)}", f"{joined(texts)} on a grey background"]
    if named == n_objects:
        if len(items) > 1:
            options.append(f"{NUMBERS[n_objects]} shapes : {joined(texts)}")
    elif len(items) == 1:
        others = n_objects - named
        options.append(f"{texts[0]} and {NUMBERS[others]} other shape{'s' if others > 1 else ''}")
    if len(items) == 2 and all(len(i.objects) == 1 for i in items):
        rels = relations(items[0].objects[0], items[1].objects[0], margin)
        if rels:
            rel = rels[int(rng.integers(len(rels)))]
            relational = [f"{texts[0]} {rel} {texts[1]}", f"there is {texts[0]} {rel} {texts[1]}",
                          f"a picture of {texts[0]} {rel} {texts[1]}"]
            options = relational * 2 + options  # spatial relations are the commonest two-object captions
    return options[int(rng.integers(len(options)))]


def scene_items(scene: Scene, rng) -> list[Item]:
    """The nameable things: each object alone, except that the objects of a repeated shape may form a group."""
    items: list[Item] = []
    for shape in dict.fromkeys(o.shape for o in scene.objects):
        same = tuple(o for o in scene.objects if o.shape == shape)
        if len(same) > 1 and rng.random() < GROUP_PROB:
            items.append(Item(same))
        else:
            items.extend(Item((o,)) for o in same)
    return items


def choose(items: list[Item], rng) -> list[Item]:
    """1-3 distinct items, drawn by salience weight without replacement (order = naming order)."""
    counts, probs = zip(*ITEMS_WANTED)
    k = min(int(rng.choice(counts, p=probs)), len(items))
    weights = [i.weight for i in items]
    total = sum(weights)
    picked = rng.choice(len(items), size=k, replace=False, p=[w / total for w in weights])
    return [items[int(p)] for p in picked]


def one_caption(scene: Scene, params: CaptionWorldParams, rng) -> str:
    """A caption of at most MAX_CAPTION_TOKENS tokens; adjectives are dropped if a draw runs too long."""
    items = choose(scene_items(scene, rng), rng)
    names, probs = zip(*DETAILS)
    details = [str(rng.choice(names, p=probs)) for _ in items]
    margin = params.relation_margin * params.image_size
    for fallback in (None, "color", ""):
        texts = [phrase(item, fallback if fallback is not None else d) for item, d in zip(items, details)]
        caption = compose(items, texts, scene, margin, rng)
        if len(tokenize_caption(caption)) <= MAX_CAPTION_TOKENS:
            return caption
    raise AssertionError(f"no caption of at most {MAX_CAPTION_TOKENS} tokens for image {scene.image_id}")


def image_captions(scene: Scene, params: CaptionWorldParams) -> list[str]:
    """captions_per_image distinct captions where the scene allows (repeats only after _ATTEMPTS draws)."""
    rng = stream(params, "captions", scene.image_id)
    out: list[str] = []
    for _ in range(_ATTEMPTS):
        caption = one_caption(scene, params, rng)
        if caption not in out:
            out.append(caption)
        if len(out) == params.captions_per_image:
            return out
    while len(out) < params.captions_per_image:
        out.append(one_caption(scene, params, rng))
    return out
