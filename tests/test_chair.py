"""CHAIR (Rohrbach et al. 2018): visual-word lists, phrase matching, CHAIR-i / CHAIR-s worked out by hand."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from groundbench.errors import GroundbenchError
from groundbench.metrics.chair import VisualWords, chair, find_objects, plural, tokenize

WORDS_DIR = Path(__file__).parent / "fixtures" / "visual_words"

HAND_WORDS = VisualWords.from_mapping({"dog": "dog", "cat": "cat", "person": "person", "man": "person",
                                       "hot dog": "hot dog", "traffic light": "traffic light", "car": "car"})
HAND_CAPTIONS = {
    11: "A man walks two dogs.",            # man -> person, dogs (plural) -> dog: 2 mentions, 0 hallucinated
    12: "a cat eats a hot dog",             # cat (hallucinated), "hot dog" (its "dog" is not a dog): 2, 1
    13: "cars stop at the traffic lights",  # cars -> car, "traffic lights" (plural phrase, hallucinated): 2, 1
    14: "a dog chases a dog",               # dog twice, not in the image: 2 mentions, 2 hallucinated
    15: "an empty street",                  # no object: 0, 0
}
HAND_OBJECTS = {11: {"person", "dog"}, 12: ["hot dog"], 13: {"car"}, 14: {"person"}, 15: {"car"}, 99: {"cat"}}


@pytest.mark.parametrize("word, expected", [
    ("dog", "dogs"), ("bus", "buses"), ("box", "boxes"), ("couch", "couches"), ("toothbrush", "toothbrushes"),
    ("pony", "ponies"), ("boy", "boys"), ("person", "people"), ("woman", "women"), ("knife", "knives"),
    ("sheep", "sheep"), ("child", "children"), ("mouse", "mice"), ("policeman", "policemen"),
])
def test_plural(word, expected):
    assert plural(word) == expected


def test_find_objects_phrases_before_words_position_of_last_token():
    tokens = tokenize("A hot dog, next to a dog and a traffic light.")
    assert tokens == ["a", "hot", "dog", "next", "to", "a", "dog", "and", "a", "traffic", "light"]
    assert find_objects(tokens, HAND_WORDS) == [(2, "hot dog"), (6, "dog"), (10, "traffic light")]
    assert find_objects(["hot"], HAND_WORDS) == [] and find_objects([], HAND_WORDS) == []
    assert find_objects(["the", "dog"], {"dog": "dog"}) == [(1, "dog")]  # a plain mapping, taken as is
    assert find_objects(["the", "dogs"], {"dog": "dog"}) == []
    # a phrase whose first word is itself a visual word: the phrase wins, its first word is not counted
    bat = {"baseball": "sports ball", "baseball bat": "baseball bat"}
    assert find_objects(tokenize("a baseball bat and a baseball"), bat) == [(2, "baseball bat"), (5, "sports ball")]


def test_chair_by_hand():
    # mentions 2 + 2 + 2 + 2 + 0 = 8, hallucinated 0 + 1 + 1 + 2 + 0 = 4 -> CHAIR-i = 4 / 8;
    # captions with a hallucination: 12, 13, 14 -> CHAIR-s = 3 / 5
    out = chair(HAND_CAPTIONS, HAND_OBJECTS, HAND_WORDS)
    assert out["mentions"] == 8 and out["hallucinated"] == 4 and out["keys"] == [11, 12, 13, 14, 15]
    assert out["chair_i"]["value"] == pytest.approx(0.5) and out["chair_s"]["value"] == pytest.approx(0.6)
    assert out["chair_i"]["per_image"].tolist() == [0, 1, 1, 2, 0]
    assert out["chair_i"]["mentions_per_image"].tolist() == [2, 2, 2, 2, 0]
    assert out["chair_s"]["per_image"].tolist() == [0, 1, 1, 1, 0]
    assert out["chair_i"]["direction"] == out["chair_s"]["direction"] == "lower"
    # token lists give the same
    tokens = {k: tokenize(v) for k, v in HAND_CAPTIONS.items()}
    assert chair(tokens, HAND_OBJECTS, HAND_WORDS)["chair_i"]["per_image"].tolist() == [0, 1, 1, 2, 0]
    # unique=True counts "dog ... dog" of caption 14 once: 3 / 7; CHAIR-s unchanged
    once = chair(HAND_CAPTIONS, HAND_OBJECTS, HAND_WORDS, unique=True)
    assert (once["mentions"], once["hallucinated"]) == (7, 3)
    assert once["chair_i"]["value"] == pytest.approx(3 / 7) and once["chair_s"]["value"] == pytest.approx(0.6)


def test_chair_undefined_and_errors():
    empty = chair({15: "an empty street"}, HAND_OBJECTS, HAND_WORDS)
    assert math.isnan(empty["chair_i"]["value"]) and empty["chair_s"]["value"] == 0.0
    with pytest.raises(GroundbenchError, match="record 7"):
        chair({7: "a dog"}, HAND_OBJECTS, HAND_WORDS)
    with pytest.raises(GroundbenchError, match=r"record 11: objects \['tvmonitor'\]"):
        chair({11: "a dog"}, {11: {"dog", "tvmonitor"}}, HAND_WORDS)
    with pytest.raises(GroundbenchError):
        chair({}, HAND_OBJECTS, HAND_WORDS)


@pytest.mark.parametrize("name, clashes", [("coco_class_name.txt", 4), ("chair_synonyms.txt", 0)])
def test_shipped_lists(name, clashes):
    words = VisualWords.from_file(WORDS_DIR / name)
    assert len(words.categories) == 80
    assert words.categories[0] == "person" and words.categories[-1] == "toothbrush"
    assert len(words.clashes) == clashes
    assert words.words["surfboard"] == "surfboard"  # a category's own name wins over a synonym elsewhere
    assert words.words["iphone"] == "cell phone"  # "iPhone" normalised like caption tokens
    assert words.words["people"] == words.words["men"] == words.words["skiers"] == "person"
    assert words.words["traffic lights"] == "traffic light"


def test_clashes_in_coco_class_name():
    words = VisualWords.from_file(WORDS_DIR / "coco_class_name.txt")
    assert set(words.clashes) == {("surfboard", "surfboard", "boat", 9), ("cattle", "sheep", "cow", 20),
                                  ("ewe", "sheep", "cow", 20), ("recliner", "chair", "couch", 58)}
    assert words.words["cattle"] == "sheep"  # the first category listing it is kept
    assert VisualWords.from_file(WORDS_DIR / "chair_synonyms.txt").words["cattle"] == "cow"


def test_chair_with_the_chair_list():
    # "man" -> person, "motor bike" -> motorcycle (its "bike" is no bicycle), "stove top oven" -> oven (three words)
    words = VisualWords.from_file(WORDS_DIR / "chair_synonyms.txt")
    caption = "A man riding a motor bike past a stove top oven."
    assert find_objects(tokenize(caption), words) == [(1, "person"), (5, "motorcycle"), (10, "oven")]
    out = chair({1: caption}, {1: ["person", "motorcycle"]}, words)
    assert (out["mentions"], out["hallucinated"]) == (3, 1) and out["chair_s"]["value"] == 1.0


def test_from_mapping_plurals_never_override():
    words = VisualWords.from_mapping({"glass": "wine glass", "glasses": "eyeglasses", "Teddy-Bear": "teddy bear"})
    assert words.words["glasses"] == "eyeglasses"
    assert words.words["teddy bears"] == "teddy bear"
    assert VisualWords.from_mapping({"dog": "dog"}, plurals=False).words == {"dog": "dog"}
    assert words.categories == ("wine glass", "eyeglasses", "teddy bear")


def test_clash_keeps_first(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("dog, puppy,, doggy \n\ncat, puppy, kitten\n")
    words = VisualWords.from_file(path, plurals=False)
    assert words.words == {"dog": "dog", "puppy": "dog", "doggy": "dog", "cat": "cat", "kitten": "cat"}
    assert words.clashes == (("puppy", "dog", "cat", 3),)


@pytest.mark.parametrize("text, match", [
    ("", "empty"),
    ("dog, puppy\n, kitten\n", "line 2: no category"),
    ("dog, puppy\ncat\ndog, hound\n", "line 3: category 'dog' already on line 1"),
])
def test_bad_lists(tmp_path, text, match):
    path = tmp_path / "words.txt"
    path.write_text(text)
    with pytest.raises(GroundbenchError, match=match) as err:
        VisualWords.from_file(path)
    assert str(path) in str(err.value)


def test_missing_list(tmp_path):
    with pytest.raises(GroundbenchError, match="cannot read") as err:
        VisualWords.from_file(tmp_path / "absent.txt")
    assert "absent.txt" in str(err.value) and "\n" not in str(err.value)


def test_per_image_arrays_follow_caption_order():
    out = chair({15: "a car", 11: "a cat"}, HAND_OBJECTS, HAND_WORDS)
    np.testing.assert_array_equal(out["chair_i"]["per_image"], [0, 1])
    assert out["keys"] == [15, 11]
