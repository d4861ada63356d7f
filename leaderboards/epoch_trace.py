"""Diagnostic: per-epoch val and test accuracy and Spearman of one fine-tuning run, written to
leaderboards/diagnostics/epoch-trace/<method>-lr<lr>-s<seed>.json (nothing is selected on it).

Run from the repository root, e.g.:
    python leaderboards/epoch_trace.py hint --seed 1 --lr 2e-3
It fine-tunes from the cached pretrained UpDn of that seed (trained first if absent), as
`groundbench train METHOD` does without --init, with the method's schedule except for ``--lr``.
"""
from pathlib import Path

import click

from groundbench.experiment import (RunSpec, default_cache_root, default_device, ensure_pretrained, synthetic_store,
                                   train_run)
from groundbench.io import write_json
from groundbench.methods import build_method
from groundbench.train import history_of
from groundbench.trace import split_observer


@click.command()
@click.argument("method")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--lr", type=float, help="override the method's learning rate")
@click.option("--out", default=Path("runs/epoch-trace"), show_default=True, type=click.Path(path_type=Path))
def main(method: str, seed: int, lr: float | None, out: Path) -> None:
    cache_root, device = default_cache_root(), default_device()
    store, ref = synthetic_store(cache_root, click.echo)
    init = ensure_pretrained(store, ref, "vqa", "cp", seed, device, cache_root, click.echo)
    tag = f"{method}-lr{lr:g}-s{seed}" if lr is not None else f"{method}-s{seed}"
    run = out / tag
    spec = RunSpec(method, "vqa", "cp", run, seed=seed, device=device, init=init,
                   method_overrides=None if lr is None else {"lr": lr})
    train_run(spec, store, ref, click.echo, observe=split_observer(store, ("val", "test"), device))
    history = history_of(run)
    target = Path("leaderboards/diagnostics/epoch-trace") / f"{tag}.json"
    write_json(target, {"schema": "groundbench.epoch-trace/1", "method": method, "seed": seed,
                        "lr": lr if lr is not None else build_method(method).lr, "init": str(init), **history})
    click.echo(f"wrote {target}")


if __name__ == "__main__":
    main()
