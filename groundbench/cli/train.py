"""``groundbench train METHOD``: pretrain UpDn / the blind baseline, or fine-tune with HINT and its relatives."""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import GroundbenchError
from ..experiment import RunSpec, default_cache_root, default_device, open_data, train_run
from ..methods import METHODS
from ..recipes import fingerprint, load_recipe

PATH = click.Path(path_type=Path)


def check_task(task: str, split: str, store) -> None:
    """Only VQA is implemented; the store's split scheme must be the one asked for."""
    if task != "vqa":
        raise GroundbenchError(f"task '{task}' is not implemented yet (only 'vqa')")
    scheme = store.manifest.get("split_scheme")
    if scheme != split:
        raise GroundbenchError(f"--split {split} asked for, but this data has split scheme '{scheme}'", path=store.root)


def pretrained_init(store, ref, task: str, split: str, seed: int, device: str, cache_root: Path, echo) -> Path:
    """The cached pretrained UpDn for this data and seed, trained first if absent (and said so)."""
    run = cache_root / "pretrained" / f"updn-{task}-{split}-s{seed}-{fingerprint(ref.to_dict())}"
    best = run / "best.safetensors"
    if (run / "history.json").exists() and best.exists():
        echo(f"No --init given: using the cached pretrained UpDn {best}")
        return best
    echo(f"No --init given: pretraining UpDn first into {run}")
    return train_run(RunSpec("updn", task, split, run, seed=seed, device=device), store, ref, echo)


@click.command()
@click.argument("method", type=click.Choice(list(METHODS)))
@click.option("--task", default="vqa", show_default=True, type=click.Choice(["vqa", "captioning"]))
@click.option("--split", default="cp", show_default=True, help="cp (VQA-CP v2 / synthetic) or v2 (VQA v2)")
@click.option("--data", type=PATH, help="a prepared store (groundbench data vqa); default: the synthetic world")
@click.option("--out", type=PATH, help="run directory [runs/METHOD-TASK-SPLIT-sSEED]")
@click.option("--init", type=PATH, help="checkpoint to fine-tune from (fine-tuning methods)")
@click.option("--config", "recipe_path", type=PATH, help="a recipe from baselines/")
@click.option("--epochs", type=int)
@click.option("--batch-size", type=int)
@click.option("--lr", type=float)
@click.option("--lam", type=float, help="weight of the task loss (HINT family)")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--device", default=None, help="cuda when available, else cpu")
@click.option("--hint-fraction", type=click.FloatRange(0, 1), help="seeded share of the human-map questions used")
@click.option("--resume", is_flag=True, help="continue an interrupted run from RUN/last.safetensors")
@click.option("--cache-dir", type=PATH, envvar="GROUNDBENCH_CACHE", help="synthetic world and pretrained runs")
def train(method, task, split, data, out, init, recipe_path, epochs, batch_size, lr, lam, seed, device,
          hint_fraction, resume, cache_dir):
    """Train METHOD (updn, blind, hint, attn-align, finetune, hint-random, hint-inverted)."""
    recipe = load_recipe(recipe_path) if recipe_path else {}
    if recipe and recipe["method"] != method:
        raise GroundbenchError(f"recipe is for '{recipe['method']}', not '{method}'", path=recipe_path)
    method_overrides = dict(recipe.get("method_config", {}))
    method_overrides.update({k: v for k, v in {"epochs": epochs, "batch_size": batch_size, "lr": lr,
                                               "lam": lam}.items() if v is not None})
    if "lam" in method_overrides and not hasattr(METHODS[method], "lam"):
        raise GroundbenchError(f"--lam does not apply to '{method}'")
    cache_root = cache_dir or default_cache_root()
    device = device or default_device()
    echo = click.echo
    store, ref = open_data(data, cache_root, echo)
    check_task(task, split, store)
    out = out or Path("runs") / f"{method}-{task}-{split}-s{seed}"
    if METHODS[method].fine_tune and init is None and not resume:
        init = pretrained_init(store, ref, task, split, seed, device, cache_root, echo)
    spec = RunSpec(method, task, split, out, seed=seed, device=device, init=init, hint_fraction=hint_fraction,
                   resume=resume, method_overrides=method_overrides, model_overrides=recipe.get("model_config"))
    train_run(spec, store, ref, echo)
