"""Recipes (baselines/<method>-<task>-<split>.json): the settings behind each leaderboard row."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .errors import GroundbenchError
from .io import read_json
from .methods import METHODS, build_method

RECIPE_KEYS = ("method", "task", "split", "method_config", "model_config", "benchmark")


def load_recipe(path: Path) -> dict:
    """Read and check a recipe file; unknown keys or methods are errors naming the file."""
    recipe = read_json(path, what="recipe")
    if not isinstance(recipe, dict):
        raise GroundbenchError("a recipe is a JSON object", path=path)
    unknown = set(recipe) - set(RECIPE_KEYS) - {"description", "command"}
    if unknown:
        raise GroundbenchError(f"unknown recipe keys: {', '.join(sorted(unknown))}", path=path)
    if recipe.get("method") not in METHODS:
        raise GroundbenchError(f"unknown method '{recipe.get('method')}'", path=path, record="method")
    for key in ("method_config", "model_config"):
        if not isinstance(recipe.get(key, {}), dict):
            raise GroundbenchError(f"'{key}' must be a JSON object", path=path, record=key)
    try:
        build_method(recipe["method"], recipe.get("method_config"))
    except GroundbenchError as exc:
        raise GroundbenchError(exc.message, path=path, record="method_config") from None
    return recipe


def default_recipe(method: str, task: str, split: str) -> dict:
    """The built-in defaults of a method on a task as a recipe (baselines/ files must equal these: a test checks)."""
    from .tasks import get_task

    t = get_task(task)
    instance = build_method(method, t.method_defaults(method, METHODS[method].fine_tune))
    return {"method": method, "task": task, "split": split, "benchmark": t.benchmark(split),
            "method_config": instance.hyperparameters(), "model_config": {}}


def fingerprint(obj: object) -> str:
    """Short stable hash of a JSON-able object (cache keys)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]
