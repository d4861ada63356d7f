"""Task-loss-only methods: UpDn pretraining, the question-only baseline, and the ``finetune`` control."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data.batch import Batch
from .base import FineTuned, Method, task_loss


@dataclass
class UpDnMethod(Method):
    """Train UpDn with the VQA task loss alone (Anderson et al. 2018)."""

    name = "updn"
    description = "UpDn, task loss only"

    def loss(self, model: torch.nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        out = model(batch.v, batch.boxes, batch.mask, batch.q)
        loss = task_loss(out.logits, batch.target)
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
