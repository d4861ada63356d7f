"""HINT (Selvaraju et al. 2019): align gradient importance with human importance, Eq. 3-4."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..tasks.base import Task
from .base import FineTuned
from .ranking import ranking_loss


@dataclass
class HintMethod(FineTuned):
    """Eq. 4: L = L_rank(alpha, s) + lambda * L_task, alpha the gradient importance (Eq. 2) trained through
    second-order gradients; lambda = 10 as in the paper's VQA experiments.

    The rows come from the task (tasks/): one per question for VQA, one per visual-word occurrence for
    captioning. Subclasses change only where the two rankings come from (``network_scores``,
    ``human_scores``).
    """

    name = "hint"
    description = "HINT: ranking loss on gradient importance + lambda * task loss"
    requires = ("gradient",)
    lam: float = 10.0

    def network_scores(self, model: torch.nn.Module, batch: Any, task: Task) -> tuple[torch.Tensor, Any]:
        """alpha: [R, K] gradient importance of each row's ground-truth decision, with its graph kept."""
        with torch.backends.cudnn.flags(enabled=False):  # cuDNN RNNs have no double backward
            return task.gradient_rows(model, batch, create_graph=True)

    def human_scores(self, human: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """s: [R, K] human importance (Eq. 1) of the rows; mask: [R, K]."""
        return human

    def loss(self, model: torch.nn.Module, batch: Any, task: Task) -> tuple[torch.Tensor, dict[str, float]]:
        network, out = self.network_scores(model, batch, task)
        rows = task.human_rows(batch)
        per_example = ranking_loss(network, self.human_scores(rows.human, rows.mask), rows.mask)
        rank = (per_example * rows.valid.to(per_example.dtype)).sum() / rows.valid.sum().clamp_min(1)
        task_term = task.task_loss(out, batch)
        loss = rank + self.lam * task_term
        return loss, {"rank": float(rank.detach()), "task": float(task_term.detach())}


@dataclass
class AttnAlignMethod(HintMethod):
    """Attention Alignment: the same ranking loss on the attention weights instead of gradients."""

    name = "attn-align"
    description = "ranking loss on attention weights + lambda * task loss"
    requires = ("attention",)

    def network_scores(self, model: torch.nn.Module, batch: Any, task: Task) -> tuple[torch.Tensor, Any]:
        attention, out = task.attention_rows(model, batch)
        if attention is None:
            raise TypeError("attn-align needs a model that returns attention weights")
        return attention, out


@dataclass
class HintRandomMethod(HintMethod):
    """Control (Shrestha et al. 2020): human importance replaced by uniform random scores, re-drawn per
    row at every step."""

    name = "hint-random"
    description = "HINT with random importance (control)"

    def human_scores(self, human: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.rand_like(human) * mask.to(human.dtype)


@dataclass
class HintInvertedMethod(HintMethod):
    """Control: HINT with inverted human importance, 1 - s."""

    name = "hint-inverted"
    description = "HINT with inverted importance 1 - s (control)"

    def human_scores(self, human: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return (1.0 - human) * mask.to(human.dtype)


@dataclass
class HintTbpttMethod(HintMethod):
    """HINT with captioning importance truncated in time (importance/caption_window.py): each visual word's
    gradient is taken through the last ``horizon`` decoder steps only, the state entering them held fixed, so
    the second-order step no longer unrolls the whole caption. horizon >= the caption length is ``hint``."""

    name = "hint-tbptt"
    description = "HINT, importance through the last HORIZON decoder steps (truncated BPTT; captioning)"
    requires = ("gradient", "stepwise")
    tasks = ("captioning",)
    multi_process = False  # it calls the decoder's encode / step, which DistributedDataParallel does not wrap
    horizon: int = 3

    def network_scores(self, model: torch.nn.Module, batch: Any, task: Task) -> tuple[torch.Tensor, Any]:
        """alpha: [R, K] Eq. 2 through the window of each row's last ``horizon`` steps, graph kept."""
        return task.window_gradient_rows(model, batch, self.horizon, create_graph=True)
