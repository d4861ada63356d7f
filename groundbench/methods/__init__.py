"""Training methods, one small class each; METHODS maps the CLI name to the class (a constant)."""
from __future__ import annotations

from ..errors import GroundbenchError
from .base import Method
from .hint import AttnAlignMethod, HintInvertedMethod, HintMethod, HintRandomMethod
from .task import BlindMethod, FinetuneMethod, UpDnMethod

METHODS: dict[str, type[Method]] = {
    cls.name: cls
    for cls in (UpDnMethod, BlindMethod, FinetuneMethod, HintMethod, AttnAlignMethod, HintRandomMethod, HintInvertedMethod)
}


def build_method(name: str, overrides: dict | None = None) -> Method:
    """Method ``name`` with its defaults, updated by ``overrides`` (e.g. from a baselines/ recipe)."""
    if name not in METHODS:
        raise GroundbenchError(f"unknown method '{name}' (known: {', '.join(METHODS)})")
    try:
        return METHODS[name](**(overrides or {}))
    except TypeError as exc:
        raise GroundbenchError(f"bad settings for method '{name}': {exc}") from None
