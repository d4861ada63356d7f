"""Mixed precision and the other speed switches of training (``--precision``, ``--compile``).

Choices (``PRECISIONS``; ``auto`` picks one per device):

* ``fp32``: no autocast, no scaler - the trainer runs the very operations it always did, so CPU training
  stays bit for bit what it was (the committed leaderboard records reproduce).
* ``bf16``: ``torch.autocast(dtype=bfloat16)`` around the forward pass and the loss, HINT's gradient
  importance (Eq. 2, ``autograd.grad(create_graph=True)``) included; the backward pass follows the autocast
  casts recorded in the graph. No loss scaling (bf16 has fp32's exponent range).
* ``fp16``: the same with float16 and a ``torch.amp.GradScaler`` on the final loss. HINT's inner gradient
  (d o_gt / d v) is not scaled: its values (logit derivatives) are far above fp16's underflow; the outer
  backward through the double-backward graph is scaled like any other. The scaler's state (loss scale, growth
  tracker) is saved in RUN/last.safetensors' metadata, so a resumed fp16 run continues bit for bit.
* ``auto`` (the default): bf16 on a CUDA device that supports it, fp32 everywhere else (CPU: fp32).

Before a reduced-precision run trains, ``agreement`` compares the reduced and the fp32 computation on one
batch of the training data (its first examples, read without touching the run's random streams), in eval mode
(no dropout), with the same random draws for both: the rank correlation of the Eq. 2 importance rows, the
importance's max abs / relative difference, the loss's relative difference and the cosine of the parameter
gradients (for HINT: through the second-order path). ``TOLERANCE`` is what a run must meet; a run whose
precision was chosen by ``auto`` falls back to fp32 with a one-line note when it does not, an explicit
``--precision bf16|fp16`` is refused with the numbers (the user asked for it: no silent change).
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterator

import torch

from .errors import GroundbenchError


@dataclass(frozen=True)
class Precision:
    """name; dtype: the autocast dtype (None: no autocast); scaled: loss scaling with a GradScaler."""

    name: str
    dtype: torch.dtype | None
    scaled: bool = False


PRECISIONS: dict[str, Precision] = {
    "fp32": Precision("fp32", None),
    "bf16": Precision("bf16", torch.bfloat16),
    "fp16": Precision("fp16", torch.float16, scaled=True),
}
CHOICES = ("auto", *PRECISIONS)


def device_type(device: str | torch.device) -> str:
    return torch.device(device).type


def bf16_supported(device: str | torch.device) -> bool:
    """Whether ``device`` runs bf16 autocast natively (CUDA: Ampere or newer)."""
    if device_type(device) != "cuda" or not torch.cuda.is_available():
        return False
    return bool(torch.cuda.is_bf16_supported(including_emulation=False))


def autocast(precision: Precision, device: str | torch.device) -> contextlib.AbstractContextManager:
    """``torch.autocast`` to ``precision.dtype`` on ``device``'s type; no autocast at all for fp32."""
    if precision.dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type(device), dtype=precision.dtype)


def resolve(name: str, device: str | torch.device) -> Precision:
    """The Precision ``name`` (one of CHOICES) means on ``device``; ``auto``: bf16 on capable CUDA, else fp32."""
    if name == "auto":
        return PRECISIONS["bf16" if bf16_supported(device) else "fp32"]
    if name not in PRECISIONS:
        raise GroundbenchError(f"--precision {name}: choose one of {', '.join(CHOICES)}")
    return PRECISIONS[name]


class Amp:
    """The precision of one training run: ``autocast()`` around forward + loss, ``backward(loss)``, ``step``.

    With fp32 these are exactly ``loss.backward()``, ``clip_grad_norm_`` and ``optimizer.step()``.
    """

    def __init__(self, precision: Precision, device: str | torch.device):
        self.precision = precision
        self.device_type = device_type(device)
        self.scaler = torch.amp.GradScaler(self.device_type) if precision.scaled else None

    def autocast(self) -> contextlib.AbstractContextManager:
        return autocast(self.precision, self.device_type)

    def backward(self, loss: torch.Tensor) -> None:
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def step(self, optimizer: torch.optim.Optimizer, parameters, grad_clip: float) -> None:
        """Clip (on unscaled gradients) and update; with fp16 a step with inf/NaN gradients is skipped."""
        if self.scaler is None:
            torch.nn.utils.clip_grad_norm_(parameters, grad_clip)
            optimizer.step()
            return
        self.scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(parameters, grad_clip)
        self.scaler.step(optimizer)
        self.scaler.update()


# -- the agreement check -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tolerance:
    """What a reduced precision must meet against fp32 on one batch (chosen by measurement: README)."""

    min_spearman: float = 0.98  # mean over rows of Spearman(importance fp32, importance reduced)
    max_loss_rel: float = 0.01  # |loss - loss fp32| / |loss fp32|
    min_grad_cosine: float = 0.999  # cosine of the parameter gradients of the loss


TOLERANCE = Tolerance()


@dataclass
class Agreement:
    precision: str
    rows: int
    spearman_mean: float
    spearman_min: float
    importance_max_abs: float
    importance_max_rel: float
    loss_fp32: float
    loss_reduced: float
    loss_rel: float
    grad_cosine: float

    def failures(self, tol: Tolerance | None = None) -> list[str]:
        """What misses ``tol`` (default: TOLERANCE; NaN misses everything)."""
        tol, out = tol or TOLERANCE, []
        if not self.spearman_mean >= tol.min_spearman:
            out.append(f"importance Spearman {self.spearman_mean:.4f} < {tol.min_spearman}")
        if not self.loss_rel <= tol.max_loss_rel:
            out.append(f"loss differs by {100 * self.loss_rel:.2f}% > {100 * tol.max_loss_rel:.2f}%")
        if not self.grad_cosine >= tol.min_grad_cosine:
            out.append(f"gradient cosine {self.grad_cosine:.4f} < {tol.min_grad_cosine}")
        return out

    def summary(self) -> str:
        return (f"{self.precision} vs fp32 on {self.rows} rows: importance Spearman {self.spearman_mean:.4f} "
                f"(min {self.spearman_min:.4f}), max abs diff {self.importance_max_abs:.2e} "
                f"(rel {self.importance_max_rel:.2e}); loss {self.loss_reduced:.5f} vs {self.loss_fp32:.5f} "
                f"({100 * self.loss_rel:.3f}%); gradient cosine {self.grad_cosine:.5f}")

    def to_dict(self) -> dict:
        return asdict(self)


@contextlib.contextmanager
def _eval_mode(model: torch.nn.Module) -> Iterator[None]:
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        yield
    finally:
        for module, training in modes.items():
            module.train(training)


def _measure(model, batch, task, method, amp: Amp, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(importance rows [R, K], loss, flat parameter gradient) under ``amp``, with seeded random draws."""
    torch.manual_seed(seed)
    if amp.device_type == "cuda":
        torch.cuda.manual_seed_all(seed)
    with amp.autocast():
        alpha, _ = task.gradient_rows(model, batch, create_graph=False)
    torch.manual_seed(seed)
    if amp.device_type == "cuda":
        torch.cuda.manual_seed_all(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    with amp.autocast():
        loss, _ = method.loss(model, batch, task)
    grads = torch.autograd.grad(loss.float(), params, allow_unused=True)
    flat = torch.cat([(g if g is not None else torch.zeros_like(p)).detach().float().reshape(-1)
                      for g, p in zip(grads, params)])
    return alpha.detach().float(), loss.detach().float(), flat


def agreement(model: torch.nn.Module, batch: Any, task: Any, method: Any, precision: Precision,
              device: str | torch.device, seed: int = 0) -> Agreement:
    """``precision`` against fp32 on ``batch`` (already on ``device``): see the module docstring. The model is
    put in eval mode for the check and restored; every random stream is left as it was."""
    from .metrics.grounding import spearman

    devices = [torch.device(device)] if device_type(device) == "cuda" else []
    with torch.random.fork_rng(devices=devices), _eval_mode(model):
        a32, l32, g32 = _measure(model, batch, task, method, Amp(PRECISIONS["fp32"], device), seed)
        alp, llp, glp = _measure(model, batch, task, method, Amp(precision, device), seed)
    mask = task.human_rows(batch).mask.to(a32.device)
    rho, defined = spearman(a32, alp, mask)
    rho = rho[defined]
    diff = (a32 - alp).abs()[mask]
    scale = a32.abs()[mask].max() if mask.any() else torch.tensor(0.0)
    cosine = torch.nn.functional.cosine_similarity(g32.double(), glp.double(), dim=0)
    return Agreement(
        precision=precision.name, rows=int(mask.shape[0]),
        spearman_mean=float(rho.mean()) if rho.numel() else math.nan,
        spearman_min=float(rho.min()) if rho.numel() else math.nan,
        importance_max_abs=float(diff.max()) if diff.numel() else 0.0,
        importance_max_rel=float(diff.max() / scale) if diff.numel() and scale > 0 else 0.0,
        loss_fp32=float(l32), loss_reduced=float(llp),
        loss_rel=float((llp - l32).abs() / l32.abs().clamp_min(1e-12)), grad_cosine=float(cosine))


def choose(requested: str, device: str | torch.device, model: torch.nn.Module, first_batch: Callable[[], Any],
           task: Any, method: Any, echo: Callable[[str], None], tolerance: Tolerance | None = None) -> Precision:
    """The precision a run trains in: ``requested`` resolved for ``device`` and, when reduced, checked against
    fp32 on ``first_batch()``; ``auto`` falls back to fp32 with a note on a miss, an explicit choice is refused."""
    precision = resolve(requested, device)
    if precision.dtype is None:
        return precision
    result = agreement(model, first_batch(), task, method, precision, device)
    misses = result.failures(tolerance or TOLERANCE)
    if not misses:
        echo(f"precision {precision.name}: {result.summary()}")
        return precision
    if requested == "auto":
        echo(f"note: {precision.name} misses the fp32 agreement check ({'; '.join(misses)}): training in fp32")
        return PRECISIONS["fp32"]
    raise GroundbenchError(f"--precision {precision.name} does not agree with fp32 on the first batch "
                           f"({'; '.join(misses)}; {result.summary()}): train with --precision fp32")


# -- torch.compile -------------------------------------------------------------------------------------------
def check_compile(method: Any) -> None:
    """``--compile`` is for the plain methods: HINT's family backpropagates through ``autograd.grad(
    create_graph=True)``, a double backward compiled graphs do not support."""
    if "gradient" in getattr(method, "requires", ()):
        raise GroundbenchError(f"--compile does not apply to '{method.name}': it trains through second-order "
                               "gradients (double backward), which torch.compile does not support; drop --compile")


def compiled(model: torch.nn.Module) -> torch.nn.Module:
    """``torch.compile(model)``; shares ``model``'s parameters (checkpoints save the plain module)."""
    return torch.compile(model)
