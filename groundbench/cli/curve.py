"""``groundbench curve``: the amount-of-human-supervision curve on the synthetic world (JSON + PNG)."""
from __future__ import annotations

from pathlib import Path

import click

from ..curve import DEFAULT_FRACTIONS, CurveSpec, run_curve
from ..errors import GroundbenchError
from ..experiment import check_device, default_cache_root, resolve_method
from ..methods import METHODS
from ..models.external import read_model_args
from ..tasks import TASKS, get_task

PATH = click.Path(path_type=Path)


@click.command()
@click.option("--fractions", default=",".join(f"{f:g}" for f in DEFAULT_FRACTIONS), show_default=True,
              help="comma-separated shares of train questions with human maps, in [0, 1]")
@click.option("--task", default="vqa", show_default=True, type=click.Choice(list(TASKS)))
@click.option("--split", help="captioning: robust (default) or standard")
@click.option("--method", default="hint", show_default=True)
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**32 - 1))
@click.option("--out", default=Path("runs/curve"), show_default=True, type=PATH)
@click.option("--images", type=click.IntRange(50), help="a smaller or larger world than the default (3000 images)")
@click.option("--epochs", type=click.IntRange(1), help="override every run's epochs (quick smoke runs)")
@click.option("--model", "model_spec", help="your own model: package.module:ClassName or an entry point")
@click.option("--model-args", type=PATH, help="JSON object of constructor arguments for --model")
@click.option("--device", default=None)
@click.option("--cache-dir", type=PATH, envvar="GROUNDBENCH_CACHE")
def curve(fractions, task, split, method, seed, out, images, epochs, model_spec, model_args, device, cache_dir):
    """Test accuracy (VQA) or CIDEr-D (captioning) and Spearman as the share of train examples with human
    importance goes from 0 to all."""
    try:
        values = [float(x) for x in fractions.split(",") if x.strip()]
    except ValueError:
        raise GroundbenchError(f"--fractions must be numbers, got '{fractions}'") from None
    if not values or any(not 0 <= v <= 1 for v in values):
        raise GroundbenchError("--fractions must lie in [0, 1]")
    if method not in METHODS or not METHODS[method].fine_tune:
        raise GroundbenchError(f"--method must be a fine-tuning method, got '{method}'")
    resolve_method(method, get_task(task))  # one that does not apply to the task (hint-tbptt on VQA) fails here
    spec = CurveSpec(out=out, fractions=values, method=method, seed=seed, device=check_device(device),
                     world=None if images is None else {"n_images": images}, epochs=epochs, model=model_spec,
                     model_args=read_model_args(model_args) if model_spec else None, task=task, split=split)
    run_curve(spec, cache_dir or default_cache_root(), click.echo)
    click.echo(f"wrote {out / 'curve.json'} and {out / 'curve.png'}")
