"""The paper's "amount of human supervision" study: test accuracy and Spearman (gradient vs human) as the
share of train questions with human maps grows from 0 to all of them."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .experiment import RunSpec, model_from_checkpoint, train_run
from .tasks import get_task
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
    world: dict | None = None  # world parameter overrides (every train example gets a human map / masks)
    epochs: int | None = None  # override the epochs of every run (smoke runs)
    model: str | None = None  # a user's model (--model), else UpDn
    model_args: dict | None = None
    task: str = "vqa"
    split: str | None = None  # the task's default split when None


# What a train example and its human importance are called in curve.json, per task (VQA's keys as always).
UNITS = {"vqa": ("questions", "maps"), "captioning": ("images", "masks")}


def _point(checkpoint: Path, store, fraction: float, n_rows: int, device: str, task) -> dict:
    model, _ = model_from_checkpoint(checkpoint, device)
    test = task.evaluate(model, store, ["test"], device=device)["splits"]["test"]
    unit, human = UNITS[task.name]
    return {"fraction": fraction, f"train_{unit}_with_{human}": n_rows, "checkpoint": str(checkpoint),
            f"test_{task.headline}": test[task.headline], "test_spearman_grad": test.get("spearman_grad")}


def run_curve(spec: CurveSpec, cache_root: Path, echo: Echo) -> dict:
    """Fraction 0 is the pretrained model itself (no human supervision); every other fraction fine-tunes it with
    ``spec.method`` on that seeded, nested share of the train examples with human importance. The curve's data
    gives every train example human importance (VQA: a map per question; captioning: masks per image), so the
    fractions reach all of train."""
    task = get_task(spec.task)
    split = spec.split or task.default_split
    overrides = None if spec.epochs is None else {"epochs": spec.epochs}
    store, ref = task.curve_store(cache_root, echo, spec.world, split)
    base = spec.out / f"updn-s{spec.seed}"
    pretrained = base / "best.safetensors"
    if not (base / "history.json").exists():
        pretrained = train_run(RunSpec("updn", task.name, split, base, seed=spec.seed, device=spec.device,
                                       method_overrides=overrides, model=spec.model, model_args=spec.model_args),
                               store, ref, echo)
    total = len(task.train_dataset(store, human_only=True, hint_fraction=None, seed=spec.seed))
    points = []
    for fraction in sorted(spec.fractions):
        if fraction == 0:
            points.append(_point(pretrained, store, 0.0, 0, spec.device, task))
        else:
            run = spec.out / f"{spec.method}-f{fraction:g}-s{spec.seed}"
            n = len(task.train_dataset(store, human_only=True, hint_fraction=fraction, seed=spec.seed))
            ckpt = run / "best.safetensors"
            if not (run / "history.json").exists():
                ckpt = train_run(RunSpec(spec.method, task.name, split, run, seed=spec.seed, device=spec.device,
                                         init=pretrained, hint_fraction=fraction, method_overrides=overrides,
                                         model=spec.model, model_args=spec.model_args), store, ref, echo)
            points.append(_point(ckpt, store, fraction, n, spec.device, task))
        p = points[-1]
        rho = p["test_spearman_grad"] or {}
        echo(f"[curve] fraction {fraction:g}: test {task.headline} {p[f'test_{task.headline}']['value']:.3f}, "
             f"spearman_grad {rho.get('value')}")
    unit = UNITS[task.name][0]
    result = {"schema": CURVE_SCHEMA, "method": spec.method, "seed": spec.seed, f"train_{unit}": total,
              "world": ref.params, "points": points}
    if task.name != "vqa":
        result.update(task=task.name, split=split, headline=task.headline, data=ref.to_dict())
    if spec.model is not None:
        result["model"] = {"name": spec.model, "args": spec.model_args or {}}
    write_json(spec.out / "curve.json", result)
    plot_curve(result, spec.out / "curve.png")
    return result


def plot_curve(result: dict, path: Path) -> Path:
    """Two panels (the test headline metric, Spearman) against the share of train examples with human importance."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    task, headline = result.get("task", "vqa"), result.get("headline", "accuracy")
    unit, human = UNITS[task]
    xs = [p["fraction"] * 100 for p in result["points"]]
    acc = [p[f"test_{headline}"]["value"] for p in result["points"]]
    rho = [(p["test_spearman_grad"] or {}).get("value") for p in result["points"]]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    axes[0].plot(xs, acc, marker="o")
    xlabel = f"% of train {unit} with human {human}"
    axes[0].set(xlabel=xlabel, ylabel="test accuracy (%)" if headline == "accuracy" else f"test {headline}")
    axes[1].plot(xs, [float("nan") if r is None else r for r in rho], marker="o", color="tab:orange")
    axes[1].set(xlabel=xlabel, ylabel="Spearman (gradient vs human)")
    world = "synthetic VQA-CP" if task == "vqa" else f"synthetic captioning, {result.get('split')} split"
    fig.suptitle(f"{result['method']}: amount of human supervision ({world}, seed {result['seed']})")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return path
