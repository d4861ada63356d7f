"""Captioning importance through a window of the last steps (truncated backpropagation through time).

Eq. 2 taken exactly (importance/caption_rows.py) backpropagates each visual word's log-probability through
every earlier step of the recurrence, and HINT then differentiates that whole unrolled backward pass again:
about 4x the time of a plain captioner step (benchmarks/bench_caption_step.py). Here a row's gradient is
taken w.r.t. the proposal features *as used at the last ``horizon`` steps* up to the word's own step; the
recurrent state entering that window is computed without a graph, so it is a constant both for the
importance and for HINT's second-order gradient. horizon >= the word's step + 1 gives Eq. 2 exactly.
"""
from __future__ import annotations

import torch

from ..errors import GroundbenchError
from ..models.stepwise import has_stepwise
from .caption_rows import word_log_probs


def check_stepwise(model) -> None:
    """The window needs the decoder's stepwise protocol (models/protocol.py); a GroundbenchError otherwise."""
    if not has_stepwise(model):
        raise GroundbenchError("a truncated-window importance (hint-tbptt) needs a captioner with encode / "
                               "init_state / step (models/protocol.py), run in one process (not --nproc)")


def _take(tensors: tuple, n: int) -> tuple:
    """The first ``n`` rows of each [R, ...] tensor."""
    return tuple(x[:n] for x in tensors)


def held_states(model, ctx: tuple, tokens: torch.Tensor, start: torch.Tensor) -> tuple:
    """The decoder state entering step ``start[r]`` of each row, computed without a graph.

    ctx: the model's encode output for R rows sorted by ``start`` descending; tokens: [R, T] teacher-forced
    inputs; start: [R] long, non-increasing -> state tuple of [R, ...] tensors (no grad). At step s only the
    rows with start > s run (a prefix of the sorted rows).
    """
    with torch.no_grad():
        state = model.init_state(ctx)
        for s in range(int(start[0]) if start.numel() else 0):
            n = int((start > s).sum())
            _, _, new = model.step(_take(ctx, n), _take(state, n), tokens[:n, s])
            state = tuple(torch.cat([a, b[n:]]) for a, b in zip(new, state))
    return state


def caption_window_rows(model, batch, horizon: int, *, create_graph: bool = False) -> torch.Tensor:
    """Eq. 2 truncated to a window: alpha[r, k] = sum_d d log p(w_r) / d v_t[k, d] summed over the copies v_t
    of the features used at steps t_r - horizon + 1 .. t_r (state entering the window held fixed); [R, K].

    batch: a CaptionBatch (row_batch, row_step, row_word [R]; tokens [B, T + 1]; v [B, K, D]). One encode of
    the R row copies; a graph-free prefix to each row's window; then at most ``horizon`` steps with a graph.
    """
    check_stepwise(model)
    r, k = batch.row_batch.numel(), batch.v.shape[1]
    if r == 0:
        return batch.v.new_zeros((0, k))
    steps = batch.row_step
    start = (steps - horizon + 1).clamp_min(0)
    order = torch.argsort(start, descending=True, stable=True)
    b, start, steps = batch.row_batch[order], start[order], steps[order]
    tokens, length = batch.tokens[b], steps - start + 1  # window length per row, 1..horizon
    with torch.enable_grad():
        v = batch.v[b].detach().requires_grad_(True)
        mask = batch.mask[b]
        ctx = model.encode(v, batch.boxes[b], mask)
        state = held_states(model, ctx, tokens, start)
        logits = []
        for j in range(int(length.max())):
            position = (start + j).clamp_max(tokens.shape[1] - 1)  # rows past their own step run on, unused
            step_logits, _, state = model.step(ctx, state, tokens.gather(1, position.view(-1, 1)).squeeze(1))
            logits.append(step_logits)
        selected = word_log_probs(torch.stack(logits, dim=1), length - 1, batch.row_word[order]).sum()
        (grad,) = torch.autograd.grad(selected, v, create_graph=create_graph, retain_graph=create_graph)
    alpha = (grad.sum(dim=-1) * mask.to(grad.dtype))[torch.argsort(order)]  # back to the batch's row order
    return alpha if create_graph else alpha.detach()
