"""``groundbench compare``: is the difference between two runs on the same split real? (paired tests)"""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import GroundbenchError
from ..experiment import check_device, data_from_metadata, default_cache_root
from ..io import check_writable, write_json

PATH = click.Path(path_type=Path)
CHECKED_LISTS = (("answers", "answer lists"), ("vocab", "vocabularies"), ("categories", "category lists"))


def _sides(run_a, run_b, results_a, results_b) -> list[tuple[str, Path]]:
    """[(kind, path)] for A then B, kind "checkpoint" or "results": --results-X takes side X, the positional
    checkpoints fill the other sides in order."""
    positional = [p for p in (run_a, run_b) if p is not None]
    sides = []
    for label, results in (("A", results_a), ("B", results_b)):
        if results is not None:
            sides.append(("results", results))
        elif positional:
            sides.append(("checkpoint", positional.pop(0)))
        else:
            raise GroundbenchError(f"run {label} is missing: give two checkpoints (RUN_A RUN_B), or --results-a / "
                                   "--results-b with --data")
    if positional:
        raise GroundbenchError("too many runs: give two in all (checkpoints, --results-a, --results-b)")
    return sides


def _read_checkpoint(path: Path) -> tuple[dict, dict, Path]:
    """(tensors, metadata, resolved file) of a groundbench checkpoint or export; a plain state dict is refused."""
    from ..loading import check_metadata, read_weights

    tensors, meta, resolved = read_weights(path)
    if meta is None:
        raise GroundbenchError("this plain state dict carries no metadata (task, data, vocabulary); write its "
                               "predictions with `groundbench eval --checkpoint ... --model ... --predictions "
                               "FILE` and compare the results file (--results-a / --results-b)", path=resolved)
    check_metadata(meta, resolved)
    return tensors, meta, resolved


def check_same_setup(meta_a: dict, meta_b: dict, path_b: Path) -> None:
    """Two checkpoints must share their task, their data (manifest sha256) and their vocabularies / answer
    lists; otherwise one line naming the first difference."""
    task_a, task_b = meta_a.get("task", "vqa"), meta_b.get("task", "vqa")
    if task_a != task_b:
        raise GroundbenchError(f"run A is a {task_a} checkpoint, run B a {task_b} one: compare runs of one task",
                               path=path_b)
    sha_a, sha_b = meta_a.get("data_manifest_sha256"), meta_b.get("data_manifest_sha256")
    if sha_a and sha_b and sha_a != sha_b:
        raise GroundbenchError(f"the runs were trained on different data (data manifest sha256 {sha_a[:12]}... vs "
                               f"{sha_b[:12]}...): compare runs on the same store", path=path_b)
    for key, what in CHECKED_LISTS:
        list_a, list_b = meta_a.get(key), meta_b.get(key)
        if list_a is not None and list_b is not None and list(list_a) != list(list_b):
            first = next((i for i, (x, y) in enumerate(zip(list_a, list_b)) if x != y), min(len(list_a), len(list_b)))
            raise GroundbenchError(f"the runs' {what} differ (first at index {first}; {len(list_a)} vs "
                                   f"{len(list_b)} entries): compare runs on the same data", path=path_b)


def _open_store(sides, data, cache_root):
    """(task name, store): from the first checkpoint's metadata (every checkpoint checked against the store),
    else from --data."""
    from ..tasks import get_task

    checkpoints = [(meta, path) for kind, _, meta, path in sides if kind == "checkpoint"]
    if checkpoints:
        meta, path = checkpoints[0]
        store = data_from_metadata(meta, data, cache_root, click.echo, path=path)
        task = get_task(meta.get("task", "vqa"))
        for other, other_path in checkpoints[1:]:
            task.check_checkpoint(other, store, other_path)
        return task.name, store
    if data is None:
        raise GroundbenchError("comparing results files needs the data they answer: pass --data DIR")
    from ..scoring.grounding_files import open_any_store
    from ..data.caption_store import CaptionStore

    store = open_any_store(data)
    return ("captioning" if isinstance(store, CaptionStore) else "vqa"), store


def _outcomes(side, task, store, split, device, grounding):
    """Per-item outcomes of one side (compare.py); side: (kind, tensors, metadata, path)."""
    from .. import compare as cmp
    from ..loading import build_from_weights

    kind, tensors, meta, path = side
    if kind == "results":
        reader = cmp.caption_results_outcomes if task == "captioning" else cmp.vqa_results_outcomes
        return reader(path, store, split)
    model, _ = build_from_weights(tensors, meta, path, device)
    scorer = cmp.caption_outcomes if task == "captioning" else cmp.vqa_outcomes
    return scorer(model, store, split, device, grounding=grounding)


def _describe(side) -> dict:
    """What one side is, for the report."""
    kind, _, meta, path = side
    if kind == "results":
        return {"results": str(path)}
    return {"checkpoint": str(path), "method": meta["method"]["name"], "model": meta["model"]["name"],
            "seed": meta.get("seed")}


@click.command(name="compare")
@click.argument("run_a", required=False, type=PATH)
@click.argument("run_b", required=False, type=PATH)
@click.option("--results-a", type=PATH, help="run A as an official results file instead of a checkpoint (VQA: "
              "[{question_id, answer}]; captions: [{image_id, caption}])")
@click.option("--results-b", type=PATH, help="run B as an official results file")
@click.option("--data", type=PATH, help="a prepared store; default: the data the checkpoints were trained on "
              "(needed when both runs are results files)")
@click.option("--split", default="test", show_default=True, help="the split both runs are scored on")
@click.option("--resamples", default=10_000, show_default=True, type=click.IntRange(100, 1_000_000),
              help="paired bootstrap resamples")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**32 - 1), help="bootstrap seed")
@click.option("--no-grounding", is_flag=True, help="task metrics only (skip the per-row Spearman)")
@click.option("--out", type=PATH, help="write the JSON report here")
@click.option("--device", default=None)
@click.option("--cache-dir", type=PATH, envvar="GROUNDBENCH_CACHE")
def compare(run_a, run_b, results_a, results_b, data, split, resamples, seed, no_grounding, out, device,
            cache_dir):
    """Paired tests of run B against run A on the same items: bootstrap over questions / images / grounding
    rows (difference B - A, 95% interval, p) and exact McNemar on per-item correctness."""
    from ..compare import compare_outcomes, render_comparison

    sides = _sides(run_a, run_b, results_a, results_b)
    if out is not None:
        check_writable(out)  # before the evaluation, not after it
    device = check_device(device)
    for kind, path in sides:
        if kind == "results" and not Path(path).is_file():
            raise GroundbenchError("results file not found", path=path)
    sides = [("checkpoint", *_read_checkpoint(path)) if kind == "checkpoint" else (kind, None, None, path)
             for kind, path in sides]
    if all(side[0] == "checkpoint" for side in sides):
        check_same_setup(sides[0][2], sides[1][2], sides[1][3])
    task, store = _open_store(sides, data, cache_dir or default_cache_root())
    if split not in store.splits:
        raise GroundbenchError(f"unknown split '{split}' (this data has {', '.join(store.splits)})",
                               path=store.root)
    grounding = not no_grounding and all(side[0] == "checkpoint" for side in sides)
    outcomes = [_outcomes(side, task, store, split, device, grounding) for side in sides]
    alpha = 0.05
    report = {"task": task, "split": split, "data": str(store.root),
              "a": _describe(sides[0]), "b": _describe(sides[1]),
              "bootstrap": {"resamples": resamples, "seed": seed, "level": 0.95,
                            "p_value": "two-sided paired bootstrap test of Berg-Kirkpatrick et al. (2012), "
                                       "add-one corrected"},
              "alpha": alpha,
              "metrics": compare_outcomes(outcomes[0], outcomes[1], n_boot=resamples, seed=seed, alpha=alpha),
              "only_in_one_run": sorted(set(outcomes[0]) ^ set(outcomes[1]))}
    if out is not None:
        write_json(out, report)
    click.echo(render_comparison(report))
    if report["only_in_one_run"]:
        click.echo(f"note: not compared (only one run has them, e.g. a model without attention): "
                   f"{', '.join(report['only_in_one_run'])}")
    if out is not None:
        click.echo(f"report written to {out}")
