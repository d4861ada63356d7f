"""CHAIR object hallucination (Rohrbach et al. 2018, "Object Hallucination in Image Captioning", Sec. 3;
reference code LisaAnne/Hallucination ``utils/chair.py``).

A caption mentions an object when one of its tokens (or two-token phrase) is a visual word of a category;
the mention is hallucinated when that category is not among the image's objects.
  CHAIR-i = hallucinated mentions / all mentions (over the whole set of captions),
  CHAIR-s = captions with at least one hallucinated mention / all captions.
Every mention counts, repeated ones included ("a dog and a dog" is two mentions), as the reference code
counts them (``compute_chair`` sums ``len(node_words)``, a list with repeats); ``unique=True`` counts each
category once per caption instead. Differences from the reference: plural forms come from simple rules
instead of pattern.en's singularize, the image's objects are whatever the caller passes (the reference also
adds the objects named in the image's human captions), and its hard-coded special cases ("baby <animal>",
"toilet seat", "passenger jet") are not applied beyond what the visual-word list itself says.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Hashable, Iterable, Mapping, Sequence

import numpy as np

from ..errors import GroundbenchError

IRREGULAR_PLURALS = {
    "person": "people", "man": "men", "woman": "women", "child": "children", "mouse": "mice", "foot": "feet",
    "knife": "knives", "sheep": "sheep", "ox": "oxen", "goose": "geese", "tooth": "teeth", "calf": "calves",
    "thief": "thieves", "wife": "wives", "leaf": "leaves", "shelf": "shelves", "wolf": "wolves",
    "fish": "fish", "deer": "deer", "gentleman": "gentlemen", "policeman": "policemen",
    "serviceman": "servicemen", "grandchild": "grandchildren", "pocketknife": "pocketknives",
}
_NON_WORD = re.compile(r"[^a-z0-9\s]")


def tokenize(text: str) -> list[str]:
    """The suite's caption tokenisation: lower-case, every character not a-z, 0-9 or whitespace -> space, split."""
    return _NON_WORD.sub(" ", text.lower()).split()


def plural(word: str) -> str:
    """English plural of one word: the irregular table, else y -> ies after a consonant, +es after s/x/ch/sh, +s."""
    if word in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[word]
    if len(word) > 1 and word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    return word + "s"


@dataclass(frozen=True)
class VisualWords:
    """Visual words -> category: ``words`` {word or space-joined phrase: category name}; ``categories`` in order
    of first appearance; ``clashes`` (word, kept category, dropped category, line or None): a word listed under
    two categories keeps the first, except that a category's own name always means that category.

    The shipped lists: coco_class_name.txt has 4 clashes (cattle and ewe under sheep and cow -> sheep; recliner
    under chair and couch -> chair; surfboard under boat and as its own category -> surfboard);
    chair_synonyms.txt has none. Both have 80 categories; chair_synonyms.txt has one three-word phrase
    ("stove top oven"), which is matched as a phrase too (the reference's two-token window never matches it).
    """

    words: dict[str, str]
    categories: tuple[str, ...]
    clashes: tuple[tuple[str, str, str, int | None], ...] = field(default=())

    @cached_property
    def max_phrase(self) -> int:
        """The longest phrase, in tokens (computed once: find_objects reads it for every caption)."""
        return max((len(w.split()) for w in self.words), default=1)

    @classmethod
    def _build(cls, entries: Iterable[tuple[str, str, int | None]], plurals: bool) -> "VisualWords":
        words: dict[str, str] = {}
        categories: dict[str, None] = {}
        clashes: dict[tuple[str, str], tuple[str, str, str, int | None]] = {}
        entries = list(entries)
        for _, category, _ in entries:
            categories.setdefault(category, None)
        # a category's own name is its word first; then every other word keeps the first category listing it
        for word, category, line in sorted(entries, key=lambda e: e[0] != " ".join(tokenize(e[1]))):
            if words.setdefault(word, category) != category:
                clashes.setdefault((word, category), (word, words[word], category, line))
        if plurals:  # never override an explicit entry
            for word, category in list(words.items()):
                *head, last = word.split()
                words.setdefault(" ".join([*head, plural(last)]), category)
        return cls(words, tuple(categories), tuple(clashes.values()))

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, str], *, plurals: bool = True) -> "VisualWords":
        """From {word or phrase: category}; words are normalised with ``tokenize``; plural forms added."""
        entries = []
        for word, category in mapping.items():
            tokens = tokenize(str(word))
            if not tokens or not str(category).strip():
                raise GroundbenchError(f"empty visual word or category in {word!r}: {category!r}")
            entries.append((" ".join(tokens), str(category).strip(), None))
        if not entries:
            raise GroundbenchError("the visual-word mapping is empty")
        return cls._build(entries, plurals)

    @classmethod
    def from_file(cls, path: str | Path, *, plurals: bool = True) -> "VisualWords":
        """Read ``category, word, word, ...`` lines (coco_class_name.txt / chair_synonyms.txt format); the
        category name is a word too; items stripped, empty items and blank lines skipped; plurals added."""
        path = Path(path)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise GroundbenchError(f"cannot read the visual-word list: {reason}", path=path) from None
        entries = []
        seen: dict[str, int] = {}
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            items = [item.strip() for item in line.split(",")]
            category = items[0]
            if not tokenize(category):
                raise GroundbenchError(f"line {number}: no category name before the first comma", path=path)
            if category in seen:
                raise GroundbenchError(f"line {number}: category {category!r} already on line {seen[category]}",
                                       path=path)
            seen[category] = number
            entries.extend((" ".join(tokenize(item)), category, number) for item in items if tokenize(item))
        if not entries:
            raise GroundbenchError("the visual-word list is empty", path=path)
        return cls._build(entries, plurals)


def find_objects(tokens: Sequence[str], words: VisualWords | Mapping[str, str]) -> list[tuple[int, str]]:
    """[(position of the phrase's LAST token, category)] left to right; longer phrases win over the single words
    inside them (no double counting). ``words``: a VisualWords, or a {word or phrase: category} taken as is."""
    lookup = words.words if isinstance(words, VisualWords) else words
    longest = words.max_phrase if isinstance(words, VisualWords) else max((len(w.split()) for w in lookup), default=1)
    found = []
    i = 0
    while i < len(tokens):
        for n in range(min(longest, len(tokens) - i), 0, -1):
            category = lookup.get(" ".join(tokens[i:i + n]))
            if category is not None:
                found.append((i + n - 1, category))
                i += n
                break
        else:
            i += 1
    return found


def chair(captions: Mapping[Hashable, str | Sequence[str]], objects: Mapping[Hashable, Iterable[str]],
          words: VisualWords, *, unique: bool = False) -> dict:
    """CHAIR-i and CHAIR-s of one caption per key (Rohrbach et al. 2018, Sec. 3).

    captions: {key: caption string (tokenised with ``tokenize``) or token list}; objects: {key: category names
    in the image}. Returns {"chair_i": {"value", "per_image" [N] hallucinated mentions, "mentions_per_image" [N],
    "direction": "lower"}, "chair_s": {"value", "per_image" [N] 0/1, "direction": "lower"}, "mentions",
    "hallucinated", "keys"}; arrays in the iteration order of ``captions``. CHAIR-i is NaN (undefined) when
    no caption mentions an object.
    """
    if not captions:
        raise GroundbenchError("no captions to score for CHAIR")
    known = set(words.categories)
    keys = list(captions)
    hallucinated = np.zeros(len(keys), dtype=np.int64)
    mentions = np.zeros(len(keys), dtype=np.int64)
    for row, key in enumerate(keys):
        if key not in objects:
            raise GroundbenchError("caption has no object annotation for CHAIR", record=key)
        present = set(objects[key])
        unknown = present - known
        if unknown:
            raise GroundbenchError(f"objects {sorted(unknown)} are not categories of the visual-word list", record=key)
        caption = captions[key]
        tokens = tokenize(caption) if isinstance(caption, str) else list(caption)
        found = [category for _, category in find_objects(tokens, words)]
        if unique:
            found = list(dict.fromkeys(found))
        mentions[row] = len(found)
        hallucinated[row] = sum(category not in present for category in found)
    total, bad = int(mentions.sum()), int(hallucinated.sum())
    return {
        "chair_i": {"value": bad / total if total else float("nan"), "per_image": hallucinated,
                    "mentions_per_image": mentions, "direction": "lower"},
        "chair_s": {"value": float(np.mean(hallucinated > 0)), "per_image": (hallucinated > 0).astype(np.float64),
                    "direction": "lower"},
        "mentions": total, "hallucinated": bad, "keys": keys,
    }
