"""Caption tokens: tokenisation, vocabulary, fixed-length teacher-forcing sequences.

In the spirit of Karpathy's neuraltalk2 ``prepro.py`` (lower-case, punctuation dropped, words seen
``min_count`` times or fewer in train -> ``<unk>``); the tokenisation is the suite's one caption
tokenisation (``groundbench.metrics.chair.tokenize``), so CHAIR and the store see the same words.
A sequence is ``[<bos>, w1 .. wn, <eos>, <pad> ...]`` of length L = MAX_CAPTION_TOKENS + 2 = 18;
models read ``tokens[:, :-1]`` and predict ``tokens[:, 1:]``.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Mapping, Sequence

from ..metrics.chair import tokenize

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
MAX_CAPTION_TOKENS = 16
CAPTION_LENGTH = MAX_CAPTION_TOKENS + 2  # L: <bos> + 16 words + <eos>


def tokenize_caption(text: str) -> list[str]:
    """Lower-case; every character not a-z, 0-9 or whitespace -> space; split on whitespace (no cut)."""
    return tokenize(text)


def caption_tokens(text: str, max_tokens: int = MAX_CAPTION_TOKENS) -> list[str]:
    """``tokenize_caption`` cut to the first ``max_tokens`` words (what a store keeps)."""
    return tokenize_caption(text)[:max_tokens]


def build_caption_vocab(token_lists: Iterable[Sequence[str]], min_count: int = 5) -> list[str]:
    """Full id -> word list: the 4 specials, then the words seen MORE than ``min_count`` times, sorted.

    ``min_count`` 5 (the default) keeps words seen at least 6 times ("more than 5 times", as the
    issue and Karpathy's ``count_thr`` do); 0 keeps every word.
    """
    counts = Counter(word for tokens in token_lists for word in tokens)
    return list(SPECIALS) + sorted(w for w, n in counts.items() if n > min_count and w not in SPECIALS)


def word_ids(vocab: Sequence[str]) -> dict[str, int]:
    """{word: id} for a vocabulary list (the specials included)."""
    return {word: i for i, word in enumerate(vocab)}


def encode_caption(tokens: Sequence[str], word_to_id: Mapping[str, int],
                   max_tokens: int = MAX_CAPTION_TOKENS) -> list[int]:
    """[<bos>, ids of the first ``max_tokens`` words (unknown -> <unk>), <eos>, <pad>...] -> length max_tokens + 2."""
    ids = [word_to_id.get(word, UNK) for word in tokens[:max_tokens]]
    return [BOS, *ids, EOS] + [PAD] * (max_tokens - len(ids))


def decode_caption(ids: Iterable[int], vocab: Sequence[str]) -> str:
    """Words of ``ids`` joined by spaces: stops at the first <eos>, skips <pad> and <bos>; <unk> stays."""
    words = []
    for i in ids:
        i = int(i)
        if i == EOS:
            break
        if i in (PAD, BOS):
            continue
        words.append(vocab[i])
    return " ".join(words)
