"""``groundbench eval``: score a checkpoint (accuracy + grounding) or an official results file (accuracy)."""
from __future__ import annotations

from pathlib import Path

import click
from tabulate import tabulate

from ..errors import GroundbenchError
from ..evaluate import accuracy_metrics
from ..experiment import data_from_metadata, default_cache_root, default_device, model_from_checkpoint, open_data
from ..tasks import get_task
from ..io import write_json
from ..results_file import score_results_file

PATH = click.Path(path_type=Path)


def render_report(report: dict) -> str:
    """A metrics x splits table: value [95% CI] (n)."""
    splits = list(report["splits"])
    names = list(dict.fromkeys(name for split in splits for name in report["splits"][split]))
    rows = []
    for name in names:
        row = [name]
        for split in splits:
            m = report["splits"][split].get(name)
            if not m or m.get("value") is None:
                row.append("-")
                continue
            ci = m.get("ci95")
            arrow = "↑" if m.get("direction", "higher") == "higher" else "↓"
            cell = f"{m['value']:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "") + f" (n={m['n']})"
            row.append(f"{cell} {arrow}")
        rows.append(row)
    return tabulate(rows, headers=["metric"] + splits, tablefmt="github")


@click.command(name="eval")
@click.option("--checkpoint", type=PATH, help="a .safetensors checkpoint or a run directory (uses best)")
@click.option("--results", "results_file", type=PATH, help="an official VQA results file [{question_id, answer}]")
@click.option("--data", type=PATH, help="a prepared store; default: the data the checkpoint was trained on")
@click.option("--split", "splits", multiple=True, help="split(s) to score [every split but train]")
@click.option("--out", type=PATH, help="write the JSON report here")
@click.option("--no-grounding", is_flag=True, help="accuracy only (skip the grounding metrics)")
@click.option("--device", default=None)
@click.option("--cache-dir", type=PATH, envvar="GROUNDBENCH_CACHE")
def evaluate_cmd(checkpoint, results_file, data, splits, out, no_grounding, device, cache_dir):
    """Score a model: official VQA accuracy by answer type, and grounding metrics where human maps exist."""
    cache_root = cache_dir or default_cache_root()
    if (checkpoint is None) == (results_file is None):
        raise GroundbenchError("give exactly one of --checkpoint or --results")
    if checkpoint is not None:
        device = device or default_device()
        model, meta = model_from_checkpoint(checkpoint, device)
        task = get_task(meta.get("task", "vqa"))
        store = data_from_metadata(meta, data, cache_root, click.echo, path=checkpoint)
        splits = list(splits) or task.eval_splits(store)
        report = task.evaluate(model, store, splits, device=device, grounding=not no_grounding)
        report["task"] = task.name
        report["checkpoint"] = str(checkpoint)
        report["method"], report["model"], report["seed"] = meta["method"]["name"], meta["model"]["name"], meta["seed"]
    else:
        store, _ = open_data(data, cache_root, click.echo)
        if len(splits) != 1:
            raise GroundbenchError("scoring a results file needs exactly one --split")
        scores, types = score_results_file(results_file, store, splits[0])
        report = {"splits": {splits[0]: accuracy_metrics(scores, types)}, "results_file": str(results_file),
                  "upper_bound": {splits[0]: 100.0 * store.upper_bound(splits[0])}}
    if out is not None:
        write_json(out, report)
    click.echo(render_report(report))
    if out is not None:
        click.echo(f"report written to {out}")


evaluate = evaluate_cmd
