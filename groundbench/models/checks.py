"""Checks a model must pass before any training or scoring starts (models/protocol.py's contract): output
type and shapes, finite scores, and - for the methods that need them - a gradient that reaches the proposal
features and attention weights. Run on one small batch under ``torch.random.fork_rng`` so the checks never
change a run's random stream (a run with the checks is bit-identical to one without)."""
from __future__ import annotations

from typing import Any

import torch

from ..errors import GroundbenchError
from .stepwise import has_stepwise


def _fail(name: str, message: str) -> None:
    raise GroundbenchError(f"model '{name}': {message}")


def _check_output(name: str, out: Any, logits_shape: tuple, attention_shape: tuple) -> bool:
    """Output type, shapes and finiteness; returns whether the model gives attention weights."""
    logits = getattr(out, "logits", None)
    if not isinstance(logits, torch.Tensor):
        _fail(name, f"forward returned {type(out).__name__}; return groundbench.models.protocol.VQAOutput / "
                    "CaptionOutput(logits=..., attention=... or None)")
    if tuple(logits.shape) != logits_shape:
        _fail(name, f"logits have shape {list(logits.shape)}, expected {list(logits_shape)}")
    if not torch.isfinite(logits).all():
        _fail(name, "forward returned non-finite scores (NaN or inf)")
    attention = getattr(out, "attention", None)
    if attention is None:
        return False
    if tuple(attention.shape) != attention_shape:
        _fail(name, f"attention has shape {list(attention.shape)}, expected {list(attention_shape)} (or None)")
    if not torch.isfinite(attention).all():
        _fail(name, "attention weights are not finite")
    return True


def _check_gradient(name: str, model, batch, task, required: bool, reach: bool) -> str | None:
    """Eq. 2 must be defined (``reach``: d score / d v can be computed) and, when ``required`` (HINT), be non-zero
    and depend on the parameters (HINT's second-order step)."""
    try:
        alpha, _ = task.gradient_rows(model, batch, create_graph=True)
    except RuntimeError as exc:
        reason = str(exc).splitlines()[0]
        message = (f"the gradient of its scores does not reach the proposal features v ({reason}); a model that "
                   "detaches or re-creates its input v cannot be HINT-tuned or scored by gradient importance")
        if required or reach:
            _fail(name, message)
        return message
    if alpha.numel() and not bool(alpha.abs().gt(0).any()):
        message = ("the gradient of its scores w.r.t. the proposal features v is zero on a whole batch; does the "
                   "model use v?")
        if required:
            _fail(name, message)
        return message
    if required and alpha.numel() and not alpha.requires_grad:
        _fail(name, "the gradient w.r.t. v does not depend on the parameters, so HINT's second-order step has "
                    "nothing to train")
    return None


def check_model(name: str, model: torch.nn.Module, task, batch, dims: dict, requires: tuple = ()) -> list[str]:
    """Run the checks on ``batch``; raises GroundbenchError (one line) when the model cannot be used as asked.

    requires: what is needed ("gradient": a non-zero Eq. 2 through v that depends on the parameters, as HINT
    trains it; "gradient-reach": Eq. 2 computable, as the grounding metrics need; "attention": attention weights;
    "stepwise": the decoder's encode / init_state / step, as hint-tbptt needs).
    Returns notes for what is missing but not needed (e.g. no attention: attention metrics are skipped).
    """
    notes: list[str] = []
    if "stepwise" in requires and not has_stepwise(model):
        _fail(name, "it has no encode / init_state / step (models/protocol.py), which this method's truncated "
                    "importance steps through; use hint")
    was_training = model.training
    model.eval()
    try:
        with torch.random.fork_rng(devices=[]):
            with torch.no_grad():
                out = task.forward(model, batch)
            logits_shape, attention_shape = task.output_shapes(batch, dims)
            has_attention = _check_output(name, out, logits_shape, attention_shape)
            if not has_attention:
                if "attention" in requires:
                    _fail(name, "it returns no attention weights (attention=None), which this method aligns; "
                                "use hint or another method")
                notes.append(f"model '{name}' returns no attention weights: attention metrics are skipped")
            problem = _check_gradient(name, model, batch, task, "gradient" in requires, "gradient-reach" in requires)
            if problem:
                notes.append(f"model '{name}': {problem}")
    finally:
        model.train(was_training)
    return notes
