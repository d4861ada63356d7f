"""The two splits of the captioning world.

* robust (Lu et al. 2018, Neural Baby Talk, Sec. 4 "robust image captioning", in spirit): rare category pairs
  are held out; every image containing a held-out pair leaves train and goes to val / test, so a captioner
  that leans on co-occurrence priors (the partner pairs) hallucinates on test.
* standard (Karpathy & Fei-Fei 2015's dataset_coco.json layout): a seeded random split by image.
"""
from __future__ import annotations

from collections import Counter
from itertools import combinations

from ..synthetic.params import SHAPES
from ..synthetic.scenes import Scene
from .params import PARTNER, CaptionWorldParams, stream
from .scenes import shapes_of

Pair = tuple[str, str]


def image_pairs(scene: Scene) -> set[Pair]:
    """Unordered category pairs present in an image, each as (a, b) in SHAPES order."""
    present = sorted(shapes_of(scene), key=SHAPES.index)
    return set(combinations(present, 2))


def pair_counts(scenes: dict[int, Scene]) -> Counter:
    """Images per unordered category pair."""
    return Counter(pair for scene in scenes.values() for pair in image_pairs(scene))


def heldout_pairs(scenes: dict[int, Scene], params: CaptionWorldParams) -> list[Pair]:
    """Greedy from the rarest pair up (ties in SHAPES order): hold a pair out unless some category would then
    lose more than max_category_loss of its images; stop once the held-out images reach heldout_fraction."""
    counts = pair_counts(scenes)
    pairs_of = {i: image_pairs(scene) for i, scene in scenes.items()}
    per_category = Counter(s for scene in scenes.values() for s in shapes_of(scene))
    order = sorted(counts, key=lambda p: (counts[p], SHAPES.index(p[0]), SHAPES.index(p[1])))
    chosen: list[Pair] = []
    held: set[int] = set()
    target = params.heldout_fraction * len(scenes)
    for pair in order:
        if len(held) >= target:
            break
        more = held | {i for i, pairs in pairs_of.items() if pair in pairs}
        lost = Counter(s for i in more for s in shapes_of(scenes[i]))
        if all(lost[c] <= params.max_category_loss * per_category[c] for c in lost):
            chosen.append(pair)
            held = more
    return chosen


def robust_split(scenes: dict[int, Scene], params: CaptionWorldParams) -> tuple[dict[int, str], list[Pair]]:
    """(image id -> train / val / test, held-out pairs): held-out images are shuffled (seeded) and split
    robust_val_share / rest into val / test; every other image is train."""
    pairs = heldout_pairs(scenes, params)
    held = sorted(i for i, scene in scenes.items() if image_pairs(scene) & set(pairs))
    order = stream(params, "robust").permutation(len(held))
    n_val = int(round(params.robust_val_share * len(held)))
    assignment = {i: "train" for i in scenes}
    for rank, j in enumerate(order):
        assignment[held[int(j)]] = "val" if rank < n_val else "test"
    return assignment, pairs


def karpathy_split(ids: list[int], params: CaptionWorldParams) -> dict[int, str]:
    """image id -> train / restval / val / test from a seeded draw per image (karpathy_val, karpathy_test;
    restval_share of the rest is labelled restval, which trains too)."""
    out = {}
    for image_id in ids:
        u, v = stream(params, "karpathy", image_id).random(2)
        if u < params.karpathy_val:
            out[image_id] = "val"
        elif u < params.karpathy_val + params.karpathy_test:
            out[image_id] = "test"
        else:
            out[image_id] = "restval" if v < params.restval_share else "train"
    return out


def partner_rates(scenes: dict[int, Scene], ids: list[int]) -> dict[str, float]:
    """P(partner present | shape present) over the images ``ids``: per shape, and "all" pooled over
    (image, shape) occurrences. A shape absent from every image is left out."""
    seen: Counter = Counter()
    with_partner: Counter = Counter()
    for i in ids:
        present = shapes_of(scenes[i])
        for s in present:
            seen[s] += 1
            with_partner[s] += PARTNER[s] in present
    rates = {s: with_partner[s] / seen[s] for s in SHAPES if seen[s]}
    if seen:
        rates["all"] = sum(with_partner.values()) / sum(seen.values())
    return rates
