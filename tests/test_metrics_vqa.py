"""The official VQA accuracy: hand-computed cases, normalisation examples, a brute-force reference."""
from itertools import combinations

import numpy as np
import pytest

from groundbench.metrics.vqa import (accuracy_by_type, accuracy_from_hits, best_accuracy, normalize_answer,
                                     process_punctuation, soft_score, vqa_accuracy)

OTHERS = [f"other{i}" for i in range(9)]


@pytest.mark.parametrize("raw, expected", [
    ("Two", "2"), ("a dog.", "dog"), ("dont", "don’t"), ("ten", "10"), ("none", "0"),
    ("The Red Car", "red car"), ("an apple", "apple"), ("yes!", "yes!"), ("  yes\n", "yes"),
    ("1,000", "1000"),          # digit,digit comma: every mark is deleted
    ("red, white", "red white"),  # mark touching a space: deleted
    ("red,white", "red white"),   # otherwise: a space
    ("3.5", "3.5"), ("etc.", "etc"), ("don't", "don t"), ("it's", "it s"), ("whats up", "what’s up"),
])
def test_normalize_examples(raw, expected):
    assert normalize_answer(raw) == expected


def test_process_punctuation_period_rule_and_count_quirk():
    assert process_punctuation("a.b.5") == "ab.5"
    # the official code passes re.UNICODE (32) as re.sub's count: only 32 periods go
    assert process_punctuation("." * 40) == "." * 8


def test_one_of_ten_annotators_scores_point_three():
    assert vqa_accuracy("net", ["net"] + OTHERS) == pytest.approx(0.3)


@pytest.mark.parametrize("votes, expected", [(0, 0.0), (1, 0.3), (2, 0.6), (3, 0.9), (4, 1.0), (7, 1.0), (10, 1.0)])
def test_votes_to_accuracy(votes, expected):
    answers = ["cat"] * votes + OTHERS[: 10 - votes] + ["x"] * max(0, 10 - votes - 9)
    assert len(answers) == 10
    assert vqa_accuracy("cat", answers) == pytest.approx(expected)
    assert accuracy_from_hits(votes, 10) == pytest.approx(expected)


def test_normalisation_only_when_annotators_disagree():
    # all ten agree: neither side is normalised, so "two" does not match "2"
    assert vqa_accuracy("two", ["2"] * 10) == 0.0
    assert vqa_accuracy("2", ["2"] * 10) == 1.0
    # they disagree (raw strings differ): both sides normalised, everything becomes "2"
    assert vqa_accuracy("two", ["Two"] + ["2"] * 9) == 1.0
    assert vqa_accuracy("A dog.", ["dog"] * 9 + ["cat"]) == 1.0
    assert vqa_accuracy("A dog.", ["dog"] * 10) == 0.0


def test_fewer_answers_average_over_what_is_there():
    # 3 answers, 2 match: leave-one-out subsets give 1/3, 1/3, 2/3
    assert vqa_accuracy("dog", ["dog", "dog", "cat"]) == pytest.approx((1 / 3 + 1 / 3 + 2 / 3) / 3)
    with pytest.raises(ValueError):
        vqa_accuracy("dog", [])


def _reference(pred, answers):
    """Literal leave-one-out over index subsets, as the official loop does."""
    gts = [a.strip() for a in answers]
    res = pred.strip()
    if len(set(gts)) > 1:
        gts = [normalize_answer(a) for a in gts]
        res = normalize_answer(res)
    accs = []
    for rest in combinations(range(len(gts)), len(gts) - 1):
        accs.append(min(1.0, sum(gts[j] == res for j in rest) / 3))
    return sum(accs) / len(accs)


def test_matches_brute_force_reference_on_random_answers():
    rng = np.random.default_rng(0)
    pool = ["yes", "Yes", "no", "2", "two", "a dog", "dog", "cat."]
    for _ in range(200):
        n = int(rng.integers(1, 11))
        answers = [pool[i] for i in rng.integers(len(pool), size=n)]
        pred = pool[int(rng.integers(len(pool)))]
        assert vqa_accuracy(pred, answers) == pytest.approx(_reference(pred, answers))


def test_soft_score_table():
    assert [soft_score(c) for c in range(6)] == [0.0, 0.3, 0.6, 0.9, 1.0, 1.0]


def test_best_accuracy_is_the_vocab_ceiling():
    vocab = {"dog", "2"}
    normalised = {normalize_answer(v) for v in vocab}
    assert best_accuracy(["dog"] * 2 + ["cat"] * 8, vocab, normalised) == pytest.approx(0.6)
    assert best_accuracy(["cat"] * 10, vocab, normalised) == 0.0
    assert best_accuracy(["Two"] + ["2"] * 9, vocab, normalised) == 1.0
    # brute force over the vocabulary agrees
    for answers in (["dog", "Dog", "cat"], ["2", "two", "dog", "dog"], ["cat"]):
        assert best_accuracy(answers, vocab, normalised) == pytest.approx(max(vqa_accuracy(v, answers) for v in vocab))


def test_accuracy_by_type_hand_computed():
    records = [
        {"question_id": 1, "answer_type": "yes/no", "answers": ["yes"] * 10},
        {"question_id": 2, "answer_type": "yes/no", "answers": ["no"] * 10},
        {"question_id": 3, "answer_type": "number", "answers": ["2"] + ["3"] * 9},
        {"question_id": 4, "answer_type": "other", "answers": ["red"] * 2 + ["blue"] * 8},
    ]
    preds = {1: "yes", 2: "yes", 3: "two", 4: "red"}
    out = accuracy_by_type(preds, records)
    assert out["yes/no"] == {"accuracy": pytest.approx(0.5), "count": 2}
    assert out["number"] == {"accuracy": pytest.approx(0.3), "count": 1}
    assert out["other"] == {"accuracy": pytest.approx(0.6), "count": 1}
    assert out["overall"] == {"accuracy": pytest.approx((1 + 0 + 0.3 + 0.6) / 4), "count": 4}
    with pytest.raises(KeyError):
        accuracy_by_type({1: "yes"}, records)
    empty = accuracy_by_type({}, [])
    assert empty["overall"] == {"accuracy": None, "count": 0} and empty["number"]["accuracy"] is None
