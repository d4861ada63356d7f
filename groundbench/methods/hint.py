"""HINT (Selvaraju et al. 2019): align gradient importance with human importance, Eq. 3-4."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data.batch import Batch
from ..importance.gradient import gradient_importance_and_output
from ..models.protocol import VQAOutput
from .base import FineTuned, task_loss
from .ranking import ranking_loss


@dataclass
class HintMethod(FineTuned):
    """Eq. 4: L = L_rank(alpha, s) + lambda * L_task, alpha the gradient importance (Eq. 2) trained through
    second-order gradients; lambda = 10 as in the paper's VQA experiments.

    Subclasses change only where the two rankings come from (``network_scores``, ``human_scores``).
    """

    name = "hint"
    description = "HINT: ranking loss on gradient importance + lambda * task loss"
    lam: float = 10.0

    def network_scores(self, model: torch.nn.Module, batch: Batch) -> tuple[torch.Tensor, VQAOutput]:
        """alpha: [B, K] gradient importance of the ground-truth answer, with its graph kept."""
        with torch.backends.cudnn.flags(enabled=False):  # cuDNN RNNs have no double backward
            return gradient_importance_and_output(model, batch, create_graph=True)

    def human_scores(self, batch: Batch) -> torch.Tensor:
        """s: [B, K] human importance (Eq. 1)."""
        return batch.human

    def loss(self, model: torch.nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        network, out = self.network_scores(model, batch)
        rows = batch.has_human & (batch.target.sum(1) > 0)
        per_example = ranking_loss(network, self.human_scores(batch), batch.mask)
        rank = (per_example * rows.to(per_example.dtype)).sum() / rows.sum().clamp_min(1)
        task = task_loss(out.logits, batch.target)
        loss = rank + self.lam * task
        return loss, {"rank": float(rank.detach()), "task": float(task.detach())}


@dataclass
class AttnAlignMethod(HintMethod):
    """Attention Alignment: the same ranking loss on the attention weights instead of gradients."""

    name = "attn-align"
    description = "ranking loss on attention weights + lambda * task loss"

    def network_scores(self, model: torch.nn.Module, batch: Batch) -> tuple[torch.Tensor, VQAOutput]:
        out = model(batch.v, batch.boxes, batch.mask, batch.q)
        if out.attention is None:
            raise TypeError("attn-align needs a model that returns attention weights")
        return out.attention, out


@dataclass
class HintRandomMethod(HintMethod):
    """Control (Shrestha et al. 2020): human importance replaced by uniform random scores, re-drawn per
    example at every step."""

    name = "hint-random"
    description = "HINT with random importance (control)"

    def human_scores(self, batch: Batch) -> torch.Tensor:
        return torch.rand_like(batch.human) * batch.mask.to(batch.human.dtype)


@dataclass
class HintInvertedMethod(HintMethod):
    """Control: HINT with inverted human importance, 1 - s."""

    name = "hint-inverted"
    description = "HINT with inverted importance 1 - s (control)"

    def human_scores(self, batch: Batch) -> torch.Tensor:
        return (1.0 - batch.human) * batch.mask.to(batch.human.dtype)
