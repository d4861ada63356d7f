"""Training methods, one small class each; METHODS maps the CLI name to the class (a constant)."""
from __future__ import annotations

import math

from ..errors import GroundbenchError
from .base import Method
from .hint import AttnAlignMethod, HintInvertedMethod, HintMethod, HintRandomMethod, HintTbpttMethod
from .reference import OracleAttentionMethod
from .task import BlindMethod, FinetuneMethod, UpDnMethod

METHODS: dict[str, type[Method]] = {
    cls.name: cls
    for cls in (UpDnMethod, BlindMethod, FinetuneMethod, HintMethod, AttnAlignMethod, HintRandomMethod,
                HintInvertedMethod, HintTbpttMethod, OracleAttentionMethod)
}


def build_method(name: str, overrides: dict | None = None) -> Method:
    """Method ``name`` with its defaults, updated by ``overrides`` (e.g. from a baselines/ recipe)."""
    if name not in METHODS:
        raise GroundbenchError(f"unknown method '{name}' (known: {', '.join(METHODS)})")
    try:
        method = METHODS[name](**(overrides or {}))
    except TypeError as exc:
        raise GroundbenchError(f"bad settings for method '{name}': {exc}") from None
    check_settings(method)
    return method


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_settings(method: Method) -> None:
    """epochs and batch_size (and hint-tbptt's horizon): integers >= 1; lr: finite > 0; lam (HINT family):
    finite >= 0."""
    problems = []
    for key in ("epochs", "batch_size", "horizon"):
        if not hasattr(method, key):
            continue
        value = getattr(method, key)
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            problems.append(f"{key} must be an integer >= 1, got {value!r}")
    if not (_number(method.lr) and math.isfinite(method.lr) and method.lr > 0):
        problems.append(f"lr must be a finite number > 0, got {method.lr!r}")
    lam = getattr(method, "lam", None)
    if lam is not None and not (_number(lam) and math.isfinite(lam) and lam >= 0):
        problems.append(f"lam must be a finite number >= 0, got {lam!r}")
    if problems:
        raise GroundbenchError(f"bad settings for method '{method.name}': {'; '.join(problems)}")
