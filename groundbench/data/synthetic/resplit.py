"""The VQA-CP re-split (Agrawal et al. 2018, "Don't Just Assume; Look and Answer"), softened.

Questions are grouped by (concept, answer), where the concept is the question text (e.g. "what color is
the circle?") and so refines the question type. Every concept favours a few answers in train; a question
goes to its group's favoured split with probability ``prior_strength``. The favoured answers of a family
come from one fixed half of its answers, so the answer distribution of every question type differs
between train and test, and each answer still occurs in train (at 1 - prior_strength) so the task stays
learnable from the image. The candidate pool is first balanced (uniform answers within each family) and
the split pool is then thinned to the requested size, test share and family mix.
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np

from .params import COLOURS, SHAPES, WorldParams, stream
from .questions import FAMILIES, FAMILY_ORDER, Question, question_text

TRAIN, TEST = "train", "test"
# As in VQA-CP, each yes/no question type has its own prior: one mostly "yes" in train, the other mostly "no",
# each reversed in test; so the model sees both answers in train and must look to tell them apart.
YES_NO_TRAIN_SIDE = {"is_color": "yes", "exists": "no"}


def family_concepts(family: str) -> list[str]:
    """Every question text of a family (the concepts whose answer priors are shifted)."""
    if family == "shape":
        return [question_text(family, color=c) for c in COLOURS]
    if family in ("is_color", "exists"):
        return [question_text(family, color=c, shape=s) for c in COLOURS for s in SHAPES]
    return [question_text(family, shape=s) for s in SHAPES]


def train_favoured(params: WorldParams) -> dict[str, frozenset[str]]:
    """concept -> answers favoured in train: k = max(1, round(train_side_fraction * n)) answers per concept,
    drawn Latin-square style from a fixed half of the family's n answers (the half is drawn from the seed;
    the yes/no families' halves are YES_NO_TRAIN_SIDE, opposite to each other)."""
    rng = stream(params, "priors")
    out: dict[str, frozenset[str]] = {}
    for family in FAMILY_ORDER:
        answers = list(FAMILIES[family][3])
        n = len(answers)
        half = [answers[i] for i in rng.permutation(n)[: math.ceil(n / 2)]]
        half = [YES_NO_TRAIN_SIDE[family]] if family in YES_NO_TRAIN_SIDE else half
        k = max(1, round(params.train_side_fraction * n))
        concepts = family_concepts(family)
        for rank, c in enumerate(rng.permutation(len(concepts))):
            out[concepts[c]] = frozenset(half[(rank * k + j) % len(half)] for j in range(k))
    return out


def assign_split(image_questions: list[Question], favoured: dict[str, frozenset[str]],
                 params: WorldParams) -> list[str]:
    """Split of each of an image's candidates: its group's favoured split with prob prior_strength."""
    if not image_questions:
        return []
    u = stream(params, "split", image_questions[0].image_id).random(len(image_questions))
    out = []
    for q, draw in zip(image_questions, u):
        side = TRAIN if q.answer in favoured[q.concept] else TEST
        out.append(side if draw < params.prior_strength else (TEST if side == TRAIN else TRAIN))
    return out


def keep_probabilities(pool: list[tuple[Question, str]], params: WorldParams) -> dict[tuple[str, str], float]:
    """(split, family) -> keep probability so the kept set has the target size, test share and family mix."""
    available = Counter((split, q.family) for q, split in pool)
    weights = np.asarray(params.type_weights, dtype=np.float64)
    weights = weights / weights.sum()
    total = params.n_images * params.questions_per_image
    out = {}
    for split, share in ((TRAIN, 1.0 - params.test_fraction), (TEST, params.test_fraction)):
        for family, w in zip(FAMILY_ORDER, weights):
            have = available.get((split, family), 0)
            out[(split, family)] = 0.0 if have == 0 else min(1.0, total * share * w / have)
    return out


def balance_pool(candidates: dict[int, list[Question]], params: WorldParams) -> dict[int, list[Question]]:
    """Thin each family to a uniform answer distribution (keep prob = rarest count / this answer's count),
    so train and test priors come from the re-split alone (scenes have far more 1s than 3s to count)."""
    freq = Counter((q.family, q.answer) for qs in candidates.values() for q in qs)
    rarest = {f: min(n for (fam, _), n in freq.items() if fam == f) for f, _ in freq}
    out = {}
    for image_id in sorted(candidates):
        u = stream(params, "keep", image_id, 1).random(len(candidates[image_id]))
        out[image_id] = [q for q, draw in zip(candidates[image_id], u)
                         if draw < rarest[q.family] / freq[(q.family, q.answer)]]
    return out


def resplit(candidates: dict[int, list[Question]], params: WorldParams) -> list[tuple[Question, str]]:
    """All images' candidates -> the kept (question, split) pairs, in image then candidate order."""
    candidates = balance_pool(candidates, params)
    favoured = train_favoured(params)
    pool = [(q, split) for image_id in sorted(candidates)
            for q, split in zip(candidates[image_id], assign_split(candidates[image_id], favoured, params))]
    keep = keep_probabilities(pool, params)
    split_of = {q.question_id: s for q, s in pool}
    kept: list[tuple[Question, str]] = []
    for image_id in sorted(candidates):
        u = stream(params, "keep", image_id, 0).random(len(candidates[image_id]))
        for q, draw in zip(candidates[image_id], u):
            split = split_of[q.question_id]
            if draw < keep[(split, q.family)]:
                kept.append((q, split))
    return kept
