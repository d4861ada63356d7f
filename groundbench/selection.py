"""Checkpoint selection: which validation score keeps a run's best epoch. Each criterion is a registered class
(``--select NAME``); every one reads val only, never test.

* ``val-score`` (the default): the task's own score, VQA soft accuracy (%) or captioning CIDEr-D of greedy
  captions (tasks/*.py ``selector``).
* ``val-spearman``: the mean Spearman rank correlation of gradient importance (Eq. 2) with human importance
  (Eq. 1) over the val grounding rows (VQA: the questions with human maps; captioning: the visual-word rows
  of every val caption of the images with masks), as ``groundbench eval`` computes ``spearman_grad`` without
  its interval. It selects the most grounded epoch regardless of accuracy: a choice to report beside the
  default, since on its own it rewards a run that trades accuracy for grounding.
"""
from __future__ import annotations

from typing import Callable, ClassVar

import torch

from .errors import GroundbenchError
from .metrics.grounding import spearman

Selector = Callable[[torch.nn.Module], float]


class Selection:
    """A selection criterion: ``build(task, store, device)`` -> ``score(model)`` (higher is better)."""

    name: ClassVar[str] = ""

    def describe(self, task) -> str:
        raise NotImplementedError

    def build(self, task, store, device: str) -> Selector:
        raise NotImplementedError


class ValScore(Selection):
    name = "val-score"

    def describe(self, task) -> str:
        return task.selection

    def build(self, task, store, device: str) -> Selector:
        return task.selector(store, device)


class ValSpearman(Selection):
    name = "val-spearman"
    batch_size = 64

    def describe(self, task) -> str:
        return "val Spearman (gradient importance, Eq. 2, vs human importance, Eq. 1)"

    def build(self, task, store, device: str) -> Selector:
        dataset = store.dataset("val", human_only=True)
        if len(dataset) == 0:
            raise GroundbenchError("--select val-spearman needs human importance on val, and this data has none",
                                   path=store.root)
        loader = task.loader(dataset, self.batch_size, shuffle=False)

        def score(model: torch.nn.Module) -> float:
            """Mean rho over the val rows where it is defined ([R] per batch); -inf when none is."""
            total, count = 0.0, 0
            for batch in loader:
                batch = batch.to(device)
                alpha, _ = task.gradient_rows(model, batch, create_graph=False)
                rows = task.human_rows(batch)
                valid = rows.valid
                if not bool(valid.any()):
                    continue
                rho, defined = spearman(alpha[valid].detach(), rows.human[valid], rows.mask[valid])
                total += float(rho[defined].sum())
                count += int(defined.sum())
            return total / count if count else float("-inf")

        return score


SELECTIONS: dict[str, type[Selection]] = {cls.name: cls for cls in (ValScore, ValSpearman)}
DEFAULT_SELECTION = ValScore.name


def get_selection(name: str) -> Selection:
    """The registered criterion ``name``; an unknown name is a one-line error listing the known ones."""
    if name not in SELECTIONS:
        raise GroundbenchError(f"unknown selection '{name}' (known: {', '.join(SELECTIONS)})")
    return SELECTIONS[name]()
