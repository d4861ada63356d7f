"""Models that meet the protocol of models/protocol.py, and the builder that names them."""
from __future__ import annotations

from torch import nn

from ..errors import GroundbenchError
from .blind import QuestionOnlyVQA
from .updn_captioner import UpDnCaptioner
from .updn_vqa import UpDnVQA

MODELS: dict[str, type[nn.Module]] = {"updn": UpDnVQA, "blind": QuestionOnlyVQA, "updn-captioner": UpDnCaptioner}


def build_model(name: str, config: dict) -> nn.Module:
    """Instantiate model ``name`` from a plain config dict (as saved in checkpoint metadata)."""
    if name not in MODELS:
        raise GroundbenchError(f"unknown model '{name}' (known: {', '.join(sorted(MODELS))})")
    cls = MODELS[name]
    try:
        return cls(cls.config_class(**config))
    except TypeError as exc:
        raise GroundbenchError(f"bad config for model '{name}': {exc}") from None
