"""Per-epoch trace of a run: accuracy and gradient-vs-human Spearman on chosen splits after every epoch.

A diagnostic of what selection by val accuracy keeps or misses; the values go to the run's history
(history.json and checkpoint metadata) and never take part in selection.
"""
from __future__ import annotations

from typing import Callable, Iterable

import torch

from .data.dataset import make_loader
from .data.store import VQAStore
from .importance.gradient import gradient_importance_and_output
from .metrics.grounding import spearman


def split_observer(store: VQAStore, splits: Iterable[str], device: str,
                   batch_size: int = 512) -> Callable[[torch.nn.Module], dict]:
    """``observe(model) -> {"<split>/soft_accuracy": %, "<split>/spearman_grad": mean rho | None}``.

    soft_accuracy is the selection score (mean soft score of the argmax answer, in %); spearman_grad is
    the mean Spearman of Eq. 2 gradient importance (ground-truth answer) with human importance over the
    questions with maps whose rho is defined, as ``groundbench eval`` computes it (without its intervals).
    The model is expected in eval mode (the trainer puts it there before selection).
    """
    loaders = {split: make_loader(store.dataset(split), batch_size, shuffle=False) for split in splits}

    def observe(model: torch.nn.Module) -> dict:
        out: dict = {}
        for split, loader in loaders.items():
            correct, count, rhos = 0.0, 0, []
            for batch in loader:
                batch = batch.to(device)
                alpha, output = gradient_importance_and_output(model, batch)
                predicted = output.logits.detach().argmax(1, keepdim=True)
                correct += float(batch.target.gather(1, predicted).sum())
                count += len(batch)
                rows = batch.has_human
                if bool(rows.any()):
                    rho, defined = spearman(alpha[rows], batch.human[rows], batch.mask[rows])
                    rhos.append(rho[defined])
            rho_all = torch.cat(rhos) if rhos else torch.zeros(0)
            out[f"{split}/soft_accuracy"] = 100.0 * correct / max(count, 1)
            out[f"{split}/spearman_grad"] = float(rho_all.mean()) if len(rho_all) else None
        return out

    return observe
