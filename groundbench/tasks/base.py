"""The task seam: what differs between VQA and captioning, in one small object per task (DESIGN.md, "Tasks").

Methods, the trainer, checkpoints, records and the leaderboard speak only of *grounding rows*: one row
per grounded decision (VQA: one per question, the ground-truth answer; captioning: one per visual-word
occurrence, that word at its time step), each with K proposal scores. A task says how to run its model
on a batch, its task loss, where those rows come from, how its data is opened and how it is scored.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from ..errors import GroundbenchError

Echo = Callable[[str], None]


@dataclass
class DataRef:
    """Where a run's data lives: a synthetic world (rebuilt on demand from its params) or a store."""

    kind: str  # "synthetic" | "synthetic-captions" | "store"
    path: Path
    params: dict | None = None

    def to_dict(self) -> dict:
        return {"kind": self.kind, "path": str(self.path), "params": self.params}


@dataclass
class HumanRows:
    """The human side of the grounding rows: human [R, K] importance (Eq. 1), mask [R, K] bool (real
    proposals), valid [R] bool (rows that take part in the ranking loss)."""

    human: torch.Tensor
    mask: torch.Tensor
    valid: torch.Tensor


def check_same_list(what: str, data: list, checkpoint: list, path: Path | None) -> None:
    """A checkpoint's vocabulary / answer list must equal the data's, entry for entry; names the first mismatch."""
    if list(data) == list(checkpoint):
        return
    first = next((i for i, (a, b) in enumerate(zip(data, checkpoint)) if a != b), min(len(data), len(checkpoint)))
    mine = repr(data[first]) if first < len(data) else "(end)"
    theirs = repr(checkpoint[first]) if first < len(checkpoint) else "(end)"
    raise GroundbenchError(f"the data's {what} differs from the checkpoint's at index {first}: data {mine}, "
                           f"checkpoint {theirs} ({len(data)} vs {len(checkpoint)} entries)", path=path)


class Task:
    """Base of the tasks. Subclasses set ``name``, ``default_split``, ``splits`` and implement the hooks.

    Model-facing hooks (used by the methods, every tensor on the batch's device):
      forward(model, batch) -> output               the model's output on the batch (teacher-forced)
      task_loss(output, batch) -> scalar            the task's own loss
      gradient_rows(model, batch, create_graph)     (alpha [R, K], output): Eq. 2 per grounding row
      window_gradient_rows(model, batch, horizon, create_graph)   the same through the last steps only
      attention_rows(model, batch)                  (attention [R, K] | None, output)
      human_rows(batch) -> HumanRows                the human importance of the same rows
    Data / scoring hooks (used by experiment.py and the CLI): see the subclasses.
    """

    name = "task"
    default_split = ""
    splits: tuple[str, ...] = ()
    selection = ""  # what the validation score is, for metadata and messages
    headline = ""  # the task's main metric in a report (printed by the demo)

    # -- model-facing ------------------------------------------------------------------------------
    def forward(self, model: torch.nn.Module, batch: Any):
        raise NotImplementedError

    def task_loss(self, output: Any, batch: Any) -> torch.Tensor:
        raise NotImplementedError

    def gradient_rows(self, model: torch.nn.Module, batch: Any, *, create_graph: bool) -> tuple[torch.Tensor, Any]:
        raise NotImplementedError

    def window_gradient_rows(self, model: torch.nn.Module, batch: Any, horizon: int, *,
                             create_graph: bool) -> tuple[torch.Tensor, Any]:
        """(alpha [R, K], output): Eq. 2 through the last ``horizon`` time steps (tasks with time steps only)."""
        raise GroundbenchError(f"the {self.name} task has no time steps to truncate the importance over")

    def attention_rows(self, model: torch.nn.Module, batch: Any) -> tuple[torch.Tensor | None, Any]:
        raise NotImplementedError

    def human_rows(self, batch: Any) -> HumanRows:
        raise NotImplementedError

    def output_shapes(self, batch: Any, dims: dict) -> tuple[tuple, tuple]:
        """(logits shape, attention shape) a protocol model must return on ``batch`` (models/checks.py)."""
        raise NotImplementedError

    # -- data and scoring --------------------------------------------------------------------------
    def provide_inputs(self, model: torch.nn.Module, store: Any) -> None:
        """Make ``store``'s datasets carry the optional batch fields ``model`` takes (models/protocol.batch_inputs;
        VQA: the oracle importance); a store that cannot is a GroundbenchError naming it. Default: none."""

    def data_dims(self, store: Any) -> dict:
        """The sizes a model takes from the data (``num_tokens``, ``v_dim``, and ``num_answers`` for VQA)."""
        raise NotImplementedError

    def model_name(self, method_model: str) -> str:
        """The model a method trains for this task (a method names its model family: 'updn', 'blind')."""
        raise NotImplementedError

    def has_model(self, method_model: str) -> bool:
        """Whether this task has a model for the method family ``method_model``."""
        try:
            self.model_name(method_model)
        except GroundbenchError:
            return False
        return True

    def method_defaults(self, method: str, fine_tune: bool) -> dict:
        """The task's schedule defaults for a method (overridden by a recipe or the command line)."""
        return {}

    def benchmark(self, split: str) -> str:
        """The benchmark name of this task's synthetic world on ``split`` (records, tables, recipes)."""
        raise NotImplementedError

    def world_params(self, overrides: dict | None) -> dict | None:
        """The synthetic world's full parameter dict with ``overrides`` applied (None: the default world)."""
        raise NotImplementedError
