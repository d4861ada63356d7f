"""The paper's "amount of human supervision" study: test accuracy and Spearman (gradient vs human) as the
share of train questions with human maps grows from 0 to all of them."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .evaluate import evaluate
from .experiment import RunSpec, model_from_checkpoint, synthetic_store, train_run
from .io import atomic_path, write_json

Echo = Callable[[str], None]
CURVE_SCHEMA = "groundbench.curve/1"
DEFAULT_FRACTIONS = (0.0, 0.02, 0.06, 0.25, 1.0)


@dataclass
class CurveSpec:
    out: Path
    fractions: Sequence[float] = DEFAULT_FRACTIONS
    method: str = "hint"
    seed: int = 0
    device: str = "cpu"
    world: dict | None = None  # WorldParams overrides (hat_fraction is always 1)
    epochs: int | None = None  # override the epochs of every run (smoke runs)
    model: str | None = None  # a user's model (--model), else UpDn
    model_args: dict | None = None


def _point(checkpoint: Path, store, fraction: float, n_questions: int, device: str) -> dict:
    model, _ = model_from_checkpoint(checkpoint, device)
    test = evaluate(model, store, ["test"], device=device)["splits"]["test"]
    return {"fraction": fraction, "train_questions_with_maps": n_questions, "checkpoint": str(checkpoint),
            "test_accuracy": test["accuracy"], "test_spearman_grad": test.get("spearman_grad")}


def run_curve(spec: CurveSpec, cache_root: Path, echo: Echo) -> dict:
    """Fraction 0 is the pretrained UpDn itself (no human supervision); every other fraction fine-tunes
    it with ``spec.method`` on that seeded, nested share of the train questions (all of them have maps in
    the curve's world, which equals the default world but for ``hat_fraction = 1``)."""
    from .data.synthetic import WorldParams

    params = WorldParams.from_dict({**WorldParams().to_dict(), **(spec.world or {}), "hat_fraction": 1.0}).to_dict()
    overrides = None if spec.epochs is None else {"epochs": spec.epochs}
    store, ref = synthetic_store(cache_root, echo, params)
    base = spec.out / f"updn-s{spec.seed}"
    pretrained = base / "best.safetensors"
    if not (base / "history.json").exists():
        pretrained = train_run(RunSpec("updn", "vqa", "cp", base, seed=spec.seed, device=spec.device,
                                       method_overrides=overrides, model=spec.model, model_args=spec.model_args), store, ref, echo)
    total = len(store.dataset("train", human_only=True))
    points = []
    for fraction in sorted(spec.fractions):
        if fraction == 0:
            points.append(_point(pretrained, store, 0.0, 0, spec.device))
        else:
            run = spec.out / f"{spec.method}-f{fraction:g}-s{spec.seed}"
            n = len(store.dataset("train", human_only=True, hint_fraction=fraction, seed=spec.seed))
            ckpt = run / "best.safetensors"
            if not (run / "history.json").exists():
                ckpt = train_run(RunSpec(spec.method, "vqa", "cp", run, seed=spec.seed, device=spec.device,
                                         init=pretrained, hint_fraction=fraction, method_overrides=overrides,
                                         model=spec.model, model_args=spec.model_args), store, ref, echo)
            points.append(_point(ckpt, store, fraction, n, spec.device))
        p = points[-1]
        rho = p["test_spearman_grad"] or {}
        echo(f"[curve] fraction {fraction:g}: test accuracy {p['test_accuracy']['value']:.2f}, "
             f"spearman_grad {rho.get('value')}")
    result = {"schema": CURVE_SCHEMA, "method": spec.method, "seed": spec.seed, "train_questions": total,
              "world": params, "points": points}
    if spec.model is not None:
        result["model"] = {"name": spec.model, "args": spec.model_args or {}}
    write_json(spec.out / "curve.json", result)
    plot_curve(result, spec.out / "curve.png")
    return result


def plot_curve(result: dict, path: Path) -> Path:
    """Two panels (test accuracy, Spearman) against the share of train questions with maps."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    xs = [p["fraction"] * 100 for p in result["points"]]
    acc = [p["test_accuracy"]["value"] for p in result["points"]]
    rho = [(p["test_spearman_grad"] or {}).get("value") for p in result["points"]]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    axes[0].plot(xs, acc, marker="o")
    axes[0].set(xlabel="% of train questions with human maps", ylabel="test accuracy (%)")
    axes[1].plot(xs, [float("nan") if r is None else r for r in rho], marker="o", color="tab:orange")
    axes[1].set(xlabel="% of train questions with human maps", ylabel="Spearman (gradient vs human)")
    fig.suptitle(f"{result['method']}: amount of human supervision (synthetic VQA-CP, seed {result['seed']})")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return path
