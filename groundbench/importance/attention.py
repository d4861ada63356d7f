"""Attention importance of proposals: the model's own attention weights over the K regions."""
from __future__ import annotations

import torch

from ..errors import GroundbenchError
from ..models.protocol import VQAOutput


def attention_importance(output: VQAOutput, mask: torch.Tensor) -> torch.Tensor | None:
    """The attention weights ``output.attention`` [B, K], zeroed where ``mask`` [B, K] is False.

    Returns None for a model without attention (``output.attention is None``); callers report the
    attention-based metrics as unavailable then. The result is not detached, so a loss on it
    (Attention Alignment) trains the model; detach it for scoring. Raises GroundbenchError when the
    model returns attention of another shape than the mask (a model that breaks the protocol).
    """
    attention = output.attention
    if attention is None:
        return None
    if attention.dim() == 3 and attention.shape[-1] == 1:
        attention = attention.squeeze(-1)
    if tuple(attention.shape) != tuple(mask.shape):
        raise GroundbenchError(
            f"model attention has shape {tuple(attention.shape)}, expected [B, K] = {tuple(mask.shape)}"
        )
    return attention * mask.to(attention.dtype)
