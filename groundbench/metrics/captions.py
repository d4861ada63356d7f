"""COCO caption metrics through pycocoevalcap's scorers, called directly (never ``COCOEvalCap.evaluate``).

CIDEr-D (Vedantam et al. 2015, pycocoevalcap ``cider/``: sigma 6, clipped tf-idf, Gaussian length penalty,
x10), BLEU-1..4 (Papineni et al. 2002, corpus statistic, "closest" reference length), METEOR 1.5 (Denkowski
and Lavie 2014; a Java subprocess) and ROUGE-L (Lin 2004, beta 1.2). Values are on pycocoevalcap's scale:
CIDEr-D roughly 0..10 (x10 built in), the others 0..1. SPICE is NOT computed: it needs a Stanford CoreNLP
model download that a scoring run must not depend on. The PTB tokenizer and METEOR need Java on PATH.

Quirks of pycocoevalcap 1.2 worth knowing: CIDEr-D's idf is log(#images / df), so on a one-image corpus every
n-gram has idf 0 and CIDEr-D is 0; its length penalty compares bigram counts (= words - 1); the METEOR corpus
value is computed from pooled statistics, not the mean of the per-image scores; the PTB tokenizer writes a
temporary file into pycocoevalcap's own package folder (which must be writable).
"""
from __future__ import annotations

import shutil
import subprocess
from typing import Hashable, Mapping, Sequence

import numpy as np

from ..errors import GroundbenchError

METRIC_NAMES = ("cider", "bleu1", "bleu2", "bleu3", "bleu4", "meteor", "rouge_l")
INSTALL_HINT = "install a Java runtime, e.g. `apt-get install default-jre-headless`"


def java_available() -> bool:
    """True when ``java`` is on PATH and ``java -version`` runs."""
    java = shutil.which("java")
    if java is None:
        return False
    try:
        return subprocess.run([java, "-version"], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def require_java(what: str) -> None:
    """Raise a one-line GroundbenchError unless Java runs (``what``: the PTB tokenizer, METEOR, ...)."""
    if not java_available():
        raise GroundbenchError(f"Java is needed for {what} but `java` was not found on PATH or does not run; "
                               f"{INSTALL_HINT}")


def _check_pairs(gts: Mapping[Hashable, Sequence[str]], res: Mapping[Hashable, str]) -> None:
    """Same keys on both sides, one non-empty string candidate, a non-empty list of non-empty references."""
    if not gts:
        raise GroundbenchError("no images to score: the references are empty")
    for key in res:
        if key not in gts:
            raise GroundbenchError("candidate caption has no references", record=key)
    for key, refs in gts.items():
        if key not in res:
            raise GroundbenchError("image has references but no candidate caption", record=key)
        cand = res[key]
        if not isinstance(cand, str) or not cand.strip():
            raise GroundbenchError(f"candidate caption must be a non-empty string, got {cand!r}", record=key)
        if isinstance(refs, str) or not isinstance(refs, Sequence) or len(refs) == 0:
            raise GroundbenchError("references must be a non-empty list of strings", record=key)
        for ref in refs:
            if not isinstance(ref, str) or not ref.strip():
                raise GroundbenchError(f"reference caption must be a non-empty string, got {ref!r}", record=key)


def ptb_tokenize(captions: Mapping[Hashable, Sequence[str]]) -> dict[Hashable, list[str]]:
    """Stanford PTB tokenisation as the COCO evaluation does it (pycocoevalcap ``tokenizer/ptbtokenizer.py``):
    lower-case, punctuation tokens removed. {key: [caption, ...]} -> {key: [tokens joined by spaces, ...]},
    keys in input order. Needs Java."""
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    require_java("the PTB tokenizer")
    captions = {key: list(caps) for key, caps in captions.items()}
    for key, caps in captions.items():
        if not all(isinstance(c, str) for c in caps):
            raise GroundbenchError("captions to tokenise must be strings", record=key)
    if not any(captions.values()):
        return {key: [] for key in captions}
    # one caption a line: any line break inside a caption (\r, \u2028, ...) would shift every later caption
    out = PTBTokenizer().tokenize({key: [{"caption": " ".join(c.splitlines())} for c in caps]
                                   for key, caps in captions.items() if caps})
    for key, caps in captions.items():
        if len(out.get(key, [])) != len(caps):  # pycocoevalcap zips lines and captions without a check
            raise GroundbenchError(f"PTB tokenizer returned {len(out.get(key, []))} captions for {len(caps)}",
                                   record=key)
    return {key: out.get(key, []) for key in captions}


def cider_d(gts: Mapping[Hashable, Sequence[str]], res: Mapping[Hashable, str]) -> tuple[float, np.ndarray]:
    """In-process CIDEr-D (Vedantam et al. 2015; pycocoevalcap ``cider/cider_scorer.py``): no Java, no subprocess.

    Captions must be pre-tokenised (lower-case tokens joined by spaces). The document frequencies are taken
    over the references of ``gts`` (the corpus is the images passed). Returns (corpus score = mean of the
    per-image scores, per-image scores [N] in the iteration order of ``gts``'s keys), equal to
    ``pycocoevalcap.cider.cider.Cider().compute_score``.
    """
    from pycocoevalcap.cider.cider_scorer import CiderScorer

    _check_pairs(gts, res)
    scorer = CiderScorer(n=4, sigma=6.0)
    for key, refs in gts.items():
        scorer += (res[key], list(refs))
    score, scores = scorer.compute_score()
    return float(score), np.asarray(scores, dtype=np.float64)


def _entry(value: float, per_image) -> dict:
    per = None if per_image is None else np.asarray(per_image, dtype=np.float64)
    return {"value": float(value), "per_image": per, "direction": "higher"}


def _meteor(gts: dict, res: dict) -> tuple[float, list[float]]:
    """pycocoevalcap's METEOR 1.5 (one JVM per call), its subprocess always ended, even when scoring fails."""
    from pycocoevalcap.meteor.meteor import Meteor

    scorer = Meteor()
    try:
        return scorer.compute_score(gts, res)
    finally:
        if scorer.lock.locked():  # a failed compute_score leaves it held and Meteor.__del__ would then hang
            scorer.lock.release()
        scorer.meteor_p.kill()
        del scorer


def caption_metrics(gts: Mapping[int, Sequence[str]], res: Mapping[int, str], *, tokenize: bool = True,
                    meteor: bool = True) -> dict[str, dict]:
    """CIDEr-D, BLEU-1..4, METEOR, ROUGE-L of one candidate per image against its references (pycocoevalcap).

    gts: {image_id: [reference, ...]}, res: {image_id: candidate}; the same keys on both sides. tokenize=True
    runs the PTB tokenizer first (Java); tokenize=False takes the captions as already tokenised (tokens joined
    by spaces). meteor=False skips METEOR (its Java subprocess). Returns {name: {"value", "per_image" [N] in
    the order of ``gts``'s keys (None for BLEU, a corpus statistic), "direction": "higher"}} for the names of
    METRIC_NAMES; values on pycocoevalcap's scale (CIDEr-D x10, the others 0..1).
    """
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    _check_pairs(gts, res)
    keys = list(gts)
    if tokenize or meteor:
        require_java("the PTB tokenizer" if tokenize and not meteor else
                     "METEOR" if not tokenize else "the PTB tokenizer and METEOR")
    if tokenize:  # one JVM for references and candidates
        tok = ptb_tokenize({**{("ref", k): list(gts[k]) for k in keys}, **{("res", k): [res[k]] for k in keys}})
        refs = {k: tok[("ref", k)] for k in keys}
        cands = {k: tok[("res", k)] for k in keys}
    else:
        refs = {k: list(gts[k]) for k in keys}
        cands = {k: [res[k]] for k in keys}
    out: dict[str, dict] = {}
    score, scores = Cider().compute_score(refs, cands)  # what cider_d computes; PTB may empty a caption
    out["cider"] = _entry(score, scores)
    bleu, _ = Bleu(4).compute_score(refs, cands, verbose=0)
    for n, value in enumerate(bleu, start=1):
        out[f"bleu{n}"] = _entry(value, None)
    if meteor:
        value, per_image = _meteor(refs, cands)
        out["meteor"] = _entry(value, per_image)
    value, per_image = Rouge().compute_score(refs, cands)
    out["rouge_l"] = _entry(value, per_image)
    return out
