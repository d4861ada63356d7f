"""Gradient importance of proposals: HINT paper (Selvaraju et al. 2019), Eq. 2."""
from __future__ import annotations

import torch

from ..data.batch import Batch
from ..models.protocol import VQAOutput, extra_inputs


def gradient_importance_and_output(
    model,
    batch: Batch,
    answer_index: torch.Tensor | None = None,
    *,
    create_graph: bool = False,
) -> tuple[torch.Tensor, VQAOutput]:
    """Eq. 2: alpha_r = sum_d d o_gt / d v[r, d], plus the model output of the same forward pass.

    o_gt is the logit (pre-sigmoid score) of ``answer_index`` ([B] long; default: the ground-truth
    answer ``batch.target.argmax(1)``). v: [B, K, D] becomes a leaf that requires grad; the selected
    logits are summed and differentiated in ONE backward for the whole batch, which is exact because
    samples do not interact (true for models without batch statistics, e.g. in eval mode or with
    dropout; not for BatchNorm in train mode).

    Returns alpha: [B, K] (0 where ``batch.mask`` is False) and the VQAOutput (logits [B, A],
    attention [B, K] | None). With ``create_graph=True`` alpha stays differentiable with respect to
    the parameters (a loss on alpha trains the model through second-order gradients) and the output's
    graph is kept, so a task loss on ``output.logits`` can share this forward pass. With
    ``create_graph=False`` alpha is detached and the output's graph is freed (use its values only).
    Runs under ``torch.enable_grad()`` so it also works inside a caller's ``torch.no_grad()``.
    """
    with torch.enable_grad():
        v = batch.v.detach().requires_grad_(True)
        output = model(v, batch.boxes, batch.mask, batch.q, **extra_inputs(model, batch))
        logits = output.logits
        if answer_index is None:
            answer_index = batch.target.argmax(1)
        answer_index = answer_index.to(device=logits.device, dtype=torch.long).view(-1, 1)
        selected = logits.gather(1, answer_index).sum()
        (grad,) = torch.autograd.grad(selected, v, create_graph=create_graph, retain_graph=create_graph)
    alpha = grad.sum(dim=-1) * batch.mask.to(grad.dtype)
    if not create_graph:
        alpha = alpha.detach()
    return alpha, output


def gradient_importance(
    model,
    batch: Batch,
    answer_index: torch.Tensor | None = None,
    *,
    create_graph: bool = False,
) -> torch.Tensor:
    """Eq. 2 gradient importance alpha: [B, K]; see ``gradient_importance_and_output``."""
    alpha, _ = gradient_importance_and_output(model, batch, answer_index, create_graph=create_graph)
    return alpha
