"""Models that meet the protocol of models/protocol.py, and the builder that names them.

A model name is a built-in (``updn``, ``blind``, ``updn-captioner``, ``updn-oracle``),
``package.module:ClassName`` or an installed ``groundbench.models`` entry point (models/external.py); checkpoint metadata stores the name and
the constructor config, so every checkpoint is rebuilt the same way.
"""
from __future__ import annotations

from torch import nn

from ..errors import GroundbenchError
from .blind import QuestionOnlyVQA
from .external import constructor_kwargs, instantiate, resolve_model_class
from .oracle_attention import OracleAttentionVQA
from .updn_captioner import UpDnCaptioner
from .updn_vqa import UpDnVQA

MODELS: dict[str, type[nn.Module]] = {"updn": UpDnVQA, "blind": QuestionOnlyVQA, "updn-captioner": UpDnCaptioner,
                                      "updn-oracle": OracleAttentionVQA}


def is_builtin(name: str) -> bool:
    return name in MODELS


def build_model(name: str, config: dict) -> nn.Module:
    """Instantiate model ``name`` from a plain config dict (as saved in checkpoint metadata)."""
    if name in MODELS:
        cls = MODELS[name]
        try:
            return cls(cls.config_class(**config))
        except TypeError as exc:
            raise GroundbenchError(f"bad config for model '{name}': {exc}") from None
    return instantiate(resolve_model_class(name), name, config)


def external_config(name: str, dims: dict, args: dict) -> dict:
    """The constructor config of user model ``name``: ``args`` plus the data sizes its constructor takes."""
    return constructor_kwargs(resolve_model_class(name), dims, args)
