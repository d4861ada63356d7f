"""Question tokenisation as in the UpDn reference (hengyuan-hu/bottom-up-attention-vqa, dataset.py)."""
from __future__ import annotations

import re

MAX_QUESTION_TOKENS = 14
_STRIP = re.compile(r"[,?!.;:\"]")


def tokenize(question: str) -> list[str]:
    """Lower-case, drop punctuation, split "'s" off, split on whitespace."""
    text = _STRIP.sub(" ", question.lower()).replace("'s", " 's")
    return text.split()


def build_vocab(questions: list[str], min_count: int = 1) -> list[str]:
    """Words of ``questions`` seen at least ``min_count`` times, sorted; token id = index + 1 (0 = pad)."""
    counts: dict[str, int] = {}
    for question in questions:
        for word in tokenize(question):
            counts[word] = counts.get(word, 0) + 1
    return sorted(word for word, n in counts.items() if n >= min_count)


def encode(question: str, word_to_id: dict[str, int], length: int = MAX_QUESTION_TOKENS) -> list[int]:
    """Token ids, truncated / right-padded with 0 to ``length``; unknown words map to len(vocab)+1."""
    unknown = len(word_to_id) + 1
    ids = [word_to_id.get(word, unknown) for word in tokenize(question)][:length]
    return ids + [0] * (length - len(ids))
