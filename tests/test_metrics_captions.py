"""Caption metrics: values worked out by hand, nlg-eval's published values, pycocoevalcap called directly,
the in-process CIDEr-D, and the one-line error when Java is missing."""
from __future__ import annotations

import math
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

from groundbench.errors import GroundbenchError
from groundbench.metrics.captions import (METRIC_NAMES, caption_metrics, cider_d, java_available, ptb_tokenize,
                                          require_java)

NLG_EVAL = Path(__file__).parent / "fixtures" / "nlg-eval"
needs_java = pytest.mark.skipif(not java_available(),
                                reason="no Java runtime: the PTB tokenizer and METEOR run in a JVM "
                                       "(apt-get install default-jre-headless)")

# Two images, captions already tokenised.
HAND_GTS = {7: ["a dog runs on the grass", "a dog is running"], 3: ["two cats sleep"]}
HAND_RES = {7: "a dog runs", 3: "two dogs sleep here"}


def test_bleu_and_rouge_l_by_hand():
    # BLEU (corpus, pycocoevalcap's "closest" reference length):
    #   image 7: "a dog runs" (3 words); closest reference length 4 ("a dog is running"); unigrams a, dog, runs
    #            all in a reference -> 3 / 3; bigrams "a dog", "dog runs" -> 2 / 2; trigram "a dog runs" 1 / 1;
    #            no 4-gram.
    #   image 3: "two dogs sleep here" (4 words); reference length 3; unigrams two, sleep -> 2 / 4; bigrams 0 / 3;
    #            trigrams 0 / 2; 4-grams 0 / 1.
    #   corpus: p1 = 5/7, p2 = 2/5, p3 = 1/3, p4 = 0/1; candidate length 7 = reference length 7 -> no brevity
    #   penalty. BLEU-1 = 5/7, BLEU-2 = (5/7 * 2/5)^(1/2) = (2/7)^(1/2), BLEU-3 = (2/21)^(1/3), BLEU-4 ~ 0 (only
    #   pycocoevalcap's 1e-15 smoothing keeps it off exact 0).
    # ROUGE-L (beta = 1.2, best precision and best recall over the references, F = (1 + b^2) P R / (R + b^2 P)):
    #   image 7: LCS with "a dog runs on the grass" = 3 -> P 1, R 1/2; with "a dog is running" = 2 -> P 2/3, R 1/2;
    #            P = 1, R = 1/2 -> F = 2.44 * 0.5 / (0.5 + 1.44) = 61/97.
    #   image 3: LCS "two sleep" = 2 -> P 2/4, R 2/3 -> F = 2.44 * (1/3) / (2/3 + 0.72) = 61/104.
    m = caption_metrics(HAND_GTS, HAND_RES, tokenize=False, meteor=False)
    assert set(m) == set(METRIC_NAMES) - {"meteor"}
    assert m["bleu1"]["value"] == pytest.approx(5 / 7, rel=1e-8)
    assert m["bleu2"]["value"] == pytest.approx(math.sqrt(2 / 7), rel=1e-8)
    assert m["bleu3"]["value"] == pytest.approx((2 / 21) ** (1 / 3), rel=1e-8)
    assert m["bleu4"]["value"] < 1e-3
    assert all(m[f"bleu{n}"]["per_image"] is None for n in range(1, 5))
    np.testing.assert_allclose(m["rouge_l"]["per_image"], [61 / 97, 61 / 104], rtol=1e-12)  # order of gts keys
    assert m["rouge_l"]["value"] == pytest.approx((61 / 97 + 61 / 104) / 2, rel=1e-12)
    assert all(entry["direction"] == "higher" for entry in m.values())


def test_cider_d_by_hand():
    # Two images whose references share no n-gram: every n-gram has document frequency <= 1, so its idf is
    # log(2 images / 1) for all of them and cancels in the cosines.
    #   image 1: candidate = the reference "a cat sits": cosine 1 for 1-, 2-, 3-grams, no 4-gram (0), same
    #            length -> 10 * (1 + 1 + 1 + 0) / 4 = 7.5.
    #   image 2: "dogs run fast" against "dogs run fast today": cosines 3 / (sqrt 3 * 2), 2 / (sqrt 2 * sqrt 3),
    #            1 / sqrt 2, 0; the length penalty compares bigram counts 2 vs 3: exp(-1 / (2 * 6^2)).
    gts = {1: ["a cat sits"], 2: ["dogs run fast today"]}
    res = {1: "a cat sits", 2: "dogs run fast"}
    second = 10 * math.exp(-1 / 72) * (math.sqrt(3) / 2 + math.sqrt(2 / 3) + 1 / math.sqrt(2)) / 4
    score, per_image = cider_d(gts, res)
    np.testing.assert_allclose(per_image, [7.5, second], rtol=1e-12)
    assert score == pytest.approx((7.5 + second) / 2, rel=1e-12)
    # the same through caption_metrics (no tokenizer, no METEOR: no Java)
    m = caption_metrics(gts, res, tokenize=False, meteor=False)
    assert m["cider"]["value"] == pytest.approx(score, abs=1e-12)


def test_cider_d_is_zero_on_a_one_image_corpus():
    # idf = log(1 image / df 1) = 0 for every n-gram: a pycocoevalcap quirk the docstring states
    score, per_image = cider_d({5: ["a cat sits on a mat"]}, {5: "a cat sits on a mat"})
    assert score == 0.0 and per_image.tolist() == [0.0]


def test_cider_d_equals_pycocoevalcap():
    rng = random.Random(0)
    vocab = "a the dog cat man woman sits runs on in red big small table street park ball".split()

    def sentence():
        return " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 12)))

    keys = rng.sample(range(1000), 40)  # unsorted: the per-image order is the order of gts's keys
    gts = {k: [sentence() for _ in range(rng.randint(1, 5))] for k in keys}
    res = {k: sentence() for k in reversed(keys)}
    score, per_image = cider_d(gts, res)
    ref_score, ref_scores = Cider().compute_score(gts, {k: [res[k]] for k in gts})
    assert abs(score - ref_score) <= 1e-12
    np.testing.assert_allclose(per_image, ref_scores, rtol=0, atol=1e-12)
    assert score == pytest.approx(float(np.mean(per_image)), abs=1e-12)
    assert per_image.shape == (40,) and score > 0


@pytest.mark.parametrize("gts, res, record", [
    ({1: ["a cat"]}, {1: "a cat", 2: "a dog"}, 2),        # candidate without references
    ({1: ["a cat"], 2: ["a dog"]}, {1: "a cat"}, 2),       # references without candidate
    ({1: ["a cat"], 4: ["a dog"]}, {1: "a cat", 4: "  "}, 4),  # empty candidate
    ({1: ["a cat"], 4: []}, {1: "a cat", 4: "a dog"}, 4),  # no references
    ({1: ["a cat", ""]}, {1: "a cat"}, 1),                 # empty reference
    ({1: ["a cat"]}, {1: None}, 1),                        # not a string
])
def test_inputs_are_checked(gts, res, record):
    for call in (lambda: cider_d(gts, res), lambda: caption_metrics(gts, res, tokenize=False, meteor=False)):
        with pytest.raises(GroundbenchError) as err:
            call()
        assert err.value.record == record and f"record {record}" in str(err.value)


@pytest.fixture(scope="module")
def nlg_eval():
    """nlg-eval's examples: hypothesis i has references ref1[i] and ref2[i]."""
    hyp, ref1, ref2 = ((NLG_EVAL / f"{name}.txt").read_text().splitlines() for name in ("hyp", "ref1", "ref2"))
    gts = {i: [ref1[i], ref2[i]] for i in range(len(hyp))}
    res = {i: hyp[i] for i in range(len(hyp))}
    return gts, res


@pytest.fixture(scope="module")
def nlg_eval_metrics(nlg_eval):
    if not java_available():
        pytest.skip("no Java runtime: the PTB tokenizer and METEOR run in a JVM (apt-get install default-jre-headless)")
    return caption_metrics(*nlg_eval)  # PTB tokenizer + METEOR: the one JVM-heavy call of this file


def test_nlg_eval_published_values(nlg_eval_metrics):
    # nlg-eval's tests (nlgeval/tests/test_nlgeval.py, test_compute_metrics) assert these to 5 places
    published = {"bleu1": 0.55, "bleu2": 0.428174, "bleu3": 0.284043, "bleu4": 0.201143, "meteor": 0.295797,
                 "rouge_l": 0.522104, "cider": 1.242192}
    for name, value in published.items():
        assert nlg_eval_metrics[name]["value"] == pytest.approx(value, abs=5e-6), name
    meteor = nlg_eval_metrics["meteor"]["per_image"]
    assert meteor.shape == (2,) and np.all((meteor > 0) & (meteor < 1))


def test_nlg_eval_agrees_with_pycocoevalcap_called_directly(nlg_eval, nlg_eval_metrics):
    gts, res = nlg_eval
    tokenizer = PTBTokenizer()
    refs = tokenizer.tokenize({k: [{"caption": c} for c in v] for k, v in gts.items()})
    cands = tokenizer.tokenize({k: [{"caption": res[k]}] for k in gts})
    bleu, _ = Bleu(4).compute_score(refs, cands, verbose=0)
    cider, cider_per_image = Cider().compute_score(refs, cands)
    rouge, rouge_per_image = Rouge().compute_score(refs, cands)
    for n in range(4):
        assert nlg_eval_metrics[f"bleu{n + 1}"]["value"] == bleu[n]
    assert nlg_eval_metrics["cider"]["value"] == cider
    np.testing.assert_array_equal(nlg_eval_metrics["cider"]["per_image"], cider_per_image)
    assert nlg_eval_metrics["rouge_l"]["value"] == rouge
    np.testing.assert_array_equal(nlg_eval_metrics["rouge_l"]["per_image"], rouge_per_image)
    # the in-process scorer on the same tokens
    assert cider_d(refs, {k: v[0] for k, v in cands.items()})[0] == pytest.approx(cider, abs=1e-12)


@needs_java
def test_ptb_tokenize():
    out = ptb_tokenize({"b": ["A man, riding a Wave.", "Two dogs don't run!"], "a": [], 3: ["...", "a\rcat\u2028sits"],
                        4: ["A red bus"]})
    assert list(out) == ["b", "a", 3, 4]
    assert out == {"b": ["a man riding a wave", "two dogs do n't run"], "a": [], 3: ["", "a cat sits"],
                   4: ["a red bus"]}


def test_missing_java_gives_one_line_error(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)
    assert not java_available()
    for call in (lambda: require_java("METEOR"), lambda: ptb_tokenize({1: ["a cat"]}),
                 lambda: caption_metrics(HAND_GTS, HAND_RES), lambda: caption_metrics(HAND_GTS, HAND_RES,
                                                                                      tokenize=False)):
        with pytest.raises(GroundbenchError) as err:
            call()
        message = str(err.value)
        assert "\n" not in message and "Java is needed for" in message
        assert "apt-get install default-jre-headless" in message
    # without the tokenizer and METEOR nothing needs Java
    assert caption_metrics(HAND_GTS, HAND_RES, tokenize=False, meteor=False)["bleu1"]["value"] > 0


def test_java_that_does_not_run_counts_as_missing(monkeypatch, tmp_path):
    fake = tmp_path / "java"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not java_available()
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    assert not java_available()
    with pytest.raises(GroundbenchError, match="Java is needed for the PTB tokenizer"):
        ptb_tokenize({1: ["a cat"]})
