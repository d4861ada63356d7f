"""Task-loss-only methods: UpDn pretraining, the question-only baseline, and the ``finetune`` control."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..tasks.base import Task
from .base import FineTuned, Method


@dataclass
class UpDnMethod(Method):
    """Train UpDn with the task loss alone (Anderson et al. 2018): BCE on soft scores for VQA, token
    cross-entropy for captioning."""

    name = "updn"
    description = "UpDn, task loss only"

    def loss(self, model: torch.nn.Module, batch: Any, task: Task) -> tuple[torch.Tensor, dict[str, float]]:
        loss = task.task_loss(task.forward(model, batch), batch)
        return loss, {"task": float(loss.detach())}


@dataclass
class BlindMethod(UpDnMethod):
    """The question-only model: measures how far language priors alone go."""

    name = "blind"
    model = "blind"
    description = "question-only baseline"


@dataclass
class FinetuneMethod(FineTuned, UpDnMethod):
    """Control: HINT's data, initialisation, schedule and selection, without the grounding term."""

    name = "finetune"
    description = "fine-tune on the HINT subset, task loss only (control)"
