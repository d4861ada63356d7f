import json
from pathlib import Path

import pytest

from groundbench.errors import GroundbenchError
from groundbench.methods import METHODS
from groundbench.recipes import default_recipe, load_recipe

BASELINES = Path(__file__).resolve().parents[1] / "baselines"


@pytest.mark.parametrize("method", [m for m in METHODS if "vqa" in METHODS[m].tasks])
def test_each_method_has_a_recipe_equal_to_its_defaults(method):
    recipe = load_recipe(BASELINES / f"{method}-vqa-cp.json")
    expected = default_recipe(method, "vqa", "cp")
    assert {k: recipe[k] for k in expected} == expected


CAPTIONING_METHODS = [m for m in METHODS if METHODS[m].model == "updn" and "captioning" in METHODS[m].tasks]


@pytest.mark.parametrize("split", ["robust", "standard"])
@pytest.mark.parametrize("method", CAPTIONING_METHODS)
def test_each_captioning_method_has_a_recipe_equal_to_its_defaults(method, split):
    recipe = load_recipe(BASELINES / f"{method}-captioning-{split}.json")
    expected = default_recipe(method, "captioning", split)
    assert {k: recipe[k] for k in expected} == expected
    assert recipe["benchmark"] == f"synth-captions-{split}"


def test_bad_recipes_are_clear_errors(tmp_path):
    bad = tmp_path / "r.json"
    bad.write_text(json.dumps({"method": "hint", "typo": 1}))
    with pytest.raises(GroundbenchError, match="unknown recipe keys"):
        load_recipe(bad)
    bad.write_text(json.dumps({"method": "nope"}))
    with pytest.raises(GroundbenchError, match="unknown method"):
        load_recipe(bad)
    bad.write_text("{not json")
    with pytest.raises(GroundbenchError, match="not valid JSON"):
        load_recipe(bad)
