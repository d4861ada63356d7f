"""Proposal importance for captioning, one row per visual-word occurrence (HINT paper, Sec. 4 / Eq. 2).

A row r is (image b, time step t, word w): the ground-truth caption's word at step t is the visual word w.
Every row gets its own copy of its image's features, so the gradient of one row's log-probability never
mixes with another row's of the same caption (summing rows that share ``v`` would add their gradients).
Teacher forcing: the inputs are the caption's tokens up to step t.
"""
from __future__ import annotations

import torch
from torch.nn import functional as F


def _row_inputs(batch, rows: torch.Tensor | None = None):
    """Per-row copies: v [R, K, D], boxes [R, K, 4], mask [R, K], inputs [R, T'] with T' = max step + 1."""
    b = batch.row_batch if rows is None else batch.row_batch[rows]
    steps = batch.row_step if rows is None else batch.row_step[rows]
    length = int(steps.max()) + 1
    return batch.v[b], batch.boxes[b], batch.mask[b], batch.tokens[b, :length]


def word_log_probs(logits: torch.Tensor, steps: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
    """log p(words[n] | step steps[n]) from logits [N, T, V]; steps, words: [N] long -> [N]."""
    at = logits[torch.arange(logits.shape[0], device=logits.device), steps]  # [N, V]
    return F.log_softmax(at, dim=-1).gather(1, words.view(-1, 1)).squeeze(1)


def caption_gradient_rows(model, batch, *, create_graph: bool = False, groups: int = 2) -> torch.Tensor:
    """Eq. 2 per row: alpha[r, k] = sum_d d log p(w_r | w_<t_r, v) / d v[k, d]; returns [R, K].

    The R row copies run in ``groups`` forward passes of rows sorted by step, each teacher-forced only up to
    its own longest step (later steps cannot change an earlier word's probability), with one backward each
    (rows are independent samples; exact for models without batch statistics). With ``create_graph`` alpha
    stays differentiable w.r.t. the parameters (HINT trains through it); otherwise it is detached.
    """
    r, k = batch.row_batch.numel(), batch.v.shape[1]
    if r == 0:
        return batch.v.new_zeros((0, k))
    alpha = batch.v.new_zeros((r, k))
    with torch.enable_grad():
        for rows in torch.tensor_split(torch.argsort(batch.row_step, stable=True), max(1, min(groups, r))):
            v, boxes, mask, inputs = _row_inputs(batch, rows)
            v = v.detach().requires_grad_(True)
            out = model(v, boxes, mask, inputs)
            selected = word_log_probs(out.logits, batch.row_step[rows], batch.row_word[rows]).sum()
            (grad,) = torch.autograd.grad(selected, v, create_graph=create_graph, retain_graph=create_graph)
            alpha = alpha.index_put((rows,), grad.sum(dim=-1) * mask.to(grad.dtype))
    return alpha if create_graph else alpha.detach()


@torch.no_grad()
def caption_occlusion_rows(model, batch, *, chunk_size: int = 256) -> torch.Tensor:
    """Occlusion per row: log p(w_r) with every proposal minus without proposal k; returns [R, K].

    Removing a proposal = mask entry False and its features zeroed (as the VQA occlusion); the ground-truth
    word is scored (teacher forcing), so the row's decision is fixed. Each (row, real proposal) pair is one
    row of an expanded batch, at most ``chunk_size`` per forward pass, taken in order of step so that each
    pass runs only up to its own longest step; padded proposals get 0.
    """
    r, k = batch.row_batch.numel(), batch.v.shape[1]
    result = batch.v.new_zeros((r, k))
    if r == 0:
        return result
    v, boxes, mask, inputs = _row_inputs(batch)
    base = word_log_probs(model(v, boxes, mask, inputs).logits, batch.row_step, batch.row_word)
    rows, cols = mask.nonzero(as_tuple=True)
    order = torch.argsort(batch.row_step[rows], stable=True)
    rows, cols = rows[order], cols[order]
    for start in range(0, rows.numel(), chunk_size):
        i, j = rows[start:start + chunk_size], cols[start:start + chunk_size]
        n = torch.arange(i.numel(), device=i.device)
        vi, mi = v[i].clone(), mask[i].clone()
        vi[n, j] = 0
        mi[n, j] = False
        steps = batch.row_step[i]
        length = int(steps.max()) + 1
        logp = word_log_probs(model(vi, boxes[i], mi, inputs[i, :length]).logits, steps, batch.row_word[i])
        result[i, j] = base[i] - logp
    return result


def caption_attention_rows(attention: torch.Tensor | None, batch) -> torch.Tensor | None:
    """The attention at each row's step: attention [B, T, K] -> [R, K] (None for a model without attention)."""
    if attention is None:
        return None
    return attention[batch.row_batch, batch.row_step] * batch.mask[batch.row_batch].to(attention.dtype)
