"""``groundbench eval``: score a checkpoint (accuracy + grounding) or an official results file (accuracy)."""
from __future__ import annotations

from pathlib import Path

import click
import torch
from tabulate import tabulate

from ..errors import GroundbenchError
from ..evaluate import accuracy_metrics
from ..experiment import check_device, data_from_metadata, default_cache_root, open_data
from ..io import check_writable, write_json
from ..loading import build_from_weights, check_metadata, read_weights
from ..models.checks import check_model
from ..models.external import read_model_args
from ..precision import CHOICES as PRECISIONS, autocast, resolve as resolve_precision
from ..tasks import TASKS, get_task
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


def _model_notes(model, meta: dict, task, store, splits: list[str], device: str, grounding: bool) -> list[str]:
    """models/checks.py on a few examples of the first scored split; gradient importance is required for the
    grounding metrics (a model that detaches v is told to use --no-grounding)."""
    dataset = store.dataset(splits[0])
    loader = task.loader(torch.utils.data.Subset(dataset, range(min(8, len(dataset)))), 8, shuffle=False)
    dims = {**task.data_dims(store)}
    try:
        return check_model(meta["model"]["name"], model, task, next(iter(loader)).to(device), dims,
                           ("gradient-reach",) if grounding else ())
    except GroundbenchError as exc:
        raise GroundbenchError(f"{exc}{' (score accuracy only with --no-grounding)' if grounding else ''}") from None


def _score_checkpoint(checkpoint, model_spec, model_args, task_name, data, splits, device, grounding, cache_root,
                      predictions, precision="fp32"):
    """(report, meta) for any checkpoint: ours, an export, or a plain state dict with --model."""
    tensors, meta, path = read_weights(checkpoint)
    args = read_model_args(model_args) if model_args else None
    if meta is not None:
        check_metadata(meta, path)
        if task_name is not None and task_name != meta.get("task", "vqa"):
            raise GroundbenchError(f"this is a {meta.get('task', 'vqa')} checkpoint, not {task_name}", path=path)
        task = get_task(meta.get("task", "vqa"))
        store = data_from_metadata(meta, data, cache_root, click.echo, path=path)
    else:
        task = get_task(task_name or "vqa")
        store, _ = open_data(data, cache_root, click.echo, task.name)
        click.echo(f"note: {path} carries no metadata; its vocabulary cannot be checked against the data")
    model, meta = build_from_weights(tensors, meta, path, device, model=model_spec, model_args=args, task=task,
                                     store=store)
    splits = list(splits) or task.eval_splits(store)
    task.provide_inputs(model, store)
    notes = _model_notes(model, meta, task, store, splits, device, grounding)
    for note in notes:
        click.echo(f"note: {note}")
    if predictions is not None:
        if len(splits) != 1:
            raise GroundbenchError("--predictions writes one split's results: give exactly one --split")
        write_json(predictions, task.predictions(model, store, splits[0], device), indent=None)
        click.echo(f"{splits[0]} predictions (official results format) written to {predictions}")
    chosen = resolve_precision(precision, device)
    with autocast(chosen, device):
        report = task.evaluate(model, store, splits, device=device, grounding=grounding)
    report.update({"precision": chosen.name, "task": task.name, "checkpoint": str(checkpoint), "method": meta["method"]["name"],
                   "model": meta["model"]["name"], "seed": meta.get("seed"), "notes": notes})
    return report


@click.command(name="eval")
@click.option("--checkpoint", type=PATH, help="a checkpoint: our .safetensors or run directory (uses best), or a "
              "plain PyTorch state dict (.pt/.pth/.bin, or .safetensors) with --model")
@click.option("--model", "model_spec", help="the model a plain state dict holds: package.module:ClassName, an "
              "entry point, or a built-in name")
@click.option("--model-args", type=PATH, help="JSON object of constructor arguments for --model")
@click.option("--task", "task_name", type=click.Choice(list(TASKS)), help="the task of a plain state dict [vqa]")
@click.option("--results", "results_file", type=PATH, help="an official VQA results file [{question_id, answer}]")
@click.option("--data", type=PATH, help="a prepared store; default: the data the checkpoint was trained on")
@click.option("--split", "splits", multiple=True, help="split(s) to score [every split but train]")
@click.option("--out", type=PATH, help="write the JSON report here")
@click.option("--predictions", type=PATH, help="also write the split's predictions in the official results "
              "format (VQA: [{question_id, answer}]; captions: [{image_id, caption}]) for `groundbench score`")
@click.option("--no-grounding", is_flag=True, help="accuracy only (skip the grounding metrics)")
@click.option("--device", default=None)
@click.option("--precision", type=click.Choice(PRECISIONS), default="fp32", show_default=True,
              help="bf16 / fp16: autocast for the forward passes, gradient and occlusion importance (faster on "
              "GPUs; occlusion's small logit changes move under bf16); auto: bf16 on a CUDA GPU that supports it")
@click.option("--cache-dir", type=PATH, envvar="GROUNDBENCH_CACHE")
def evaluate_cmd(checkpoint, model_spec, model_args, task_name, results_file, data, splits, out, predictions,
                 no_grounding, device, precision, cache_dir):
    """Score a model: task metrics (VQA accuracy by answer type; caption metrics and CHAIR) and grounding."""
    cache_root = cache_dir or default_cache_root()
    if (checkpoint is None) == (results_file is None):
        raise GroundbenchError("give exactly one of --checkpoint or --results")
    for path in (out, predictions):
        if path is not None:
            check_writable(path)  # before the evaluation, not after it
    if checkpoint is not None:
        report = _score_checkpoint(checkpoint, model_spec, model_args, task_name, data, splits,
                                   check_device(device), not no_grounding, cache_root, predictions, precision)
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
