"""``groundbench demo``: the main job on the embedded synthetic world, ending in a leaderboard table."""
from __future__ import annotations

import time
from pathlib import Path

import click

from ..demo import DEMO_METHODS, DemoSpec, run_demo
from ..errors import GroundbenchError
from ..experiment import check_device, default_cache_root, resolve_method
from ..io import atomic_open
from ..leaderboard_render import render
from ..methods import METHODS
from ..tasks import TASKS, get_task

PATH = click.Path(path_type=Path)


@click.command()
@click.option("--seeds", default=1, show_default=True, type=click.IntRange(1, 20))
@click.option("--task", default="vqa", show_default=True, type=click.Choice(list(TASKS)))
@click.option("--split", help="vqa: cp; captioning: robust (default) or standard")
@click.option("--methods", help="comma-separated [every method with a model for the task: "
              + ",".join(DEMO_METHODS) + "]")
@click.option("--out", type=PATH, help="run directories [runs/demo, runs/demo-captioning-SPLIT]")
@click.option("--records", type=PATH, help="where result records go [OUT/records]")
@click.option("--table", type=PATH, help="also write the Markdown table here")
@click.option("--fresh", is_flag=True, help="retrain runs that already finished under OUT")
@click.option("--images", type=click.IntRange(50), help="a smaller or larger world than the default (3000 images)")
@click.option("--epochs", type=click.IntRange(1), help="override every method's epochs (quick smoke runs)")
@click.option("--device", default=None)
@click.option("--cache-dir", type=PATH, envvar="GROUNDBENCH_CACHE")
def demo(seeds, task, split, methods, out, records, table, fresh, images, epochs, device, cache_dir):
    """Synthetic world -> UpDn, the blind baseline, HINT, Attn-Align and the controls -> a results table."""
    task_obj = get_task(task)
    split = split or task_obj.default_split
    if methods is None:
        names = [m for m in DEMO_METHODS if task_obj.has_model(METHODS[m].model) and task in METHODS[m].tasks]
    else:
        names = [m.strip() for m in methods.split(",") if m.strip()]
    unknown = [m for m in names if m not in METHODS]
    if unknown or not names:
        raise GroundbenchError(f"unknown method(s) {', '.join(unknown) or '(none given)'}; known: {', '.join(METHODS)}")
    for name in names:
        task_obj.model_name(METHODS[name].model)  # a method without a model for this task: error before work
        resolve_method(name, task_obj)  # or one that does not apply to it (hint-tbptt on VQA)
    out = out or (Path("runs/demo") if task == "vqa" else Path(f"runs/demo-captioning-{split}"))
    start = time.time()
    spec = DemoSpec(out=out, records=records or out / "records", seeds=seeds, methods=names,
                    device=check_device(device), reuse=not fresh, epochs=epochs,
                    world=None if images is None else {"n_images": images}, task=task, split=split)
    tables = run_demo(spec, cache_dir or default_cache_root(), click.echo)
    text = render(tables, "markdown")
    if table is not None:
        with atomic_open(table, "w", encoding="utf-8") as handle:
            handle.write(text if text.endswith("\n") else text + "\n")
    click.echo("")
    click.echo(text)
    click.echo(f"demo finished in {time.time() - start:.0f}s; records under {spec.records}")
