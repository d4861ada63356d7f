"""The method contract: a small class whose ``loss`` the model-agnostic trainer calls on each batch.

A method never branches on the task: it asks the task (tasks/) for the model's output, the task loss and
the grounding rows, so one class serves VQA and captioning."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import torch

from ..tasks.base import Task


# One fine-tuning schedule for HINT and every method compared with it (same data, init, schedule and
# selection): Adamax at a tenth of the pretraining learning rate, small batches over the ~6% of train
# with maps. At the pretraining rate (2e-3) a fresh Adamax state moves every weight by ~lr per step: one
# epoch cost HINT 1.7 and finetune 1.4 points of val accuracy (seed 1 of the first world, synth-vqacp-1:
# leaderboards/diagnostics/synth-vqacp-1/epoch-trace/)
# and selection by val accuracy kept those disrupted first epochs; at 2e-4 val stays at the pretrained level.
FINE_TUNE_EPOCHS, FINE_TUNE_BATCH, FINE_TUNE_LR = 30, 64, 2e-4


@dataclass
class Method:
    """Base of every training method.

    model: which model it trains; fine_tune: trains on the questions with human maps only, starting from a
    pretrained checkpoint (the paper's VQA-CP protocol); the defaults of the training schedule live here
    so one class is one recipe.
    """

    name = "base"
    model = "updn"
    fine_tune = False
    description = ""
    requires: ClassVar[tuple[str, ...]] = ()  # what the model must give: "gradient" (Eq. 2 through v), "attention"
    tasks: ClassVar[tuple[str, ...]] = ("vqa", "captioning")  # the tasks it applies to
    multi_process: ClassVar[bool] = True  # whether it runs data-parallel (--nproc / torchrun)

    epochs: int = 15
    batch_size: int = 256
    lr: float = 2e-3

    def loss(self, model: torch.nn.Module, batch: Any, task: Task) -> tuple[torch.Tensor, dict[str, float]]:
        """The training loss on ``batch`` (the task's batch type) and floats to log."""
        raise NotImplementedError

    def hyperparameters(self) -> dict:
        """The method's resolved settings, saved with every run."""
        return asdict(self)


@dataclass
class FineTuned(Method):
    """Mixed in first by every method of the paper's VQA-CP protocol: trains on the questions with human
    maps from a pretrained checkpoint, with the one shared schedule above."""

    fine_tune = True
    epochs: int = FINE_TUNE_EPOCHS
    batch_size: int = FINE_TUNE_BATCH
    lr: float = FINE_TUNE_LR
