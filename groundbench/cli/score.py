"""``groundbench score``: score files made without groundbench's training code (VQA answers, COCO captions,
per-proposal importance); JSON report with --out (atomic), a table on stdout."""
from __future__ import annotations

from pathlib import Path

import click

from ..io import check_writable, write_json

PATH = click.Path(path_type=Path)


def render_metrics(metrics: dict[str, dict], column: str) -> str:
    """A metric table: value [95% CI] (n) and the better direction, one row per metric."""
    from tabulate import tabulate

    rows = []
    for name, m in metrics.items():
        if m.get("value") is None:
            rows.append([name, f"- (n={m.get('n', 0)})"])
            continue
        ci = m.get("ci95")
        arrow = "↑" if m.get("direction", "higher") == "higher" else "↓"
        rows.append([name, f"{m['value']:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")
                     + f" (n={m['n']}) {arrow}"])
    return tabulate(rows, headers=["metric", column], tablefmt="github")


def _finish(report: dict, table: str, out: Path | None) -> None:
    if out is not None:
        write_json(out, report)
    click.echo(table)
    if out is not None:
        click.echo(f"report written to {out}")


def _writable(ctx, param, value: Path | None) -> Path | None:
    """--out is checked before any scoring (a folder, a path under a file, a read-only folder: one line)."""
    if value is not None:
        check_writable(value)
    return value


@click.group()
def score() -> None:
    """Score results files made by any model: official VQA accuracy, COCO caption metrics and CHAIR, grounding."""


@score.command("vqa")
@click.option("--questions", type=PATH, required=True,
              help="official questions file: {\"questions\": [...]} (VQA v2) or a bare list (VQA-CP v2)")
@click.option("--annotations", type=PATH, required=True,
              help="official annotations file: {\"annotations\": [...]} (VQA v2) or a bare list (VQA-CP v2)")
@click.option("--results", type=PATH, required=True,
              help="results file [{\"question_id\": int, \"answer\": str}], one per annotated question")
@click.option("--out", type=PATH, callback=_writable, help="write the JSON report here")
def vqa(questions: Path, annotations: Path, results: Path, out: Path | None) -> None:
    """Official VQA accuracy (vqaEval.py), overall, per answer type and per question type, in %."""
    from ..scoring.vqa_files import render_vqa, score_vqa

    report = score_vqa(questions, annotations, results)
    for message in report["warnings"]:
        click.echo(f"warning: {message}", err=True)
    _finish(report, render_vqa(report), out)


@score.command("captions")
@click.option("--annotations", type=PATH, required=True,
              help="COCO caption annotations {\"images\": [{\"id\"}], \"annotations\": [{\"image_id\", \"id\", "
                   "\"caption\"}]}; every image listed is scored")
@click.option("--results", type=PATH, required=True,
              help="COCO results [{\"image_id\": int, \"caption\": str}], one per image")
@click.option("--instances", type=PATH, default=None,
              help="COCO instances file: objects for CHAIR (default: the reference captions' objects only)")
@click.option("--words", type=PATH, default=None,
              help="visual-word list for CHAIR, lines 'category, word, word, ...' [CHAIR's COCO synonyms]")
@click.option("--out", type=PATH, callback=_writable, help="write the JSON report here")
def captions(annotations: Path, results: Path, instances: Path | None, words: Path | None, out: Path | None) -> None:
    """CIDEr-D, BLEU-1..4, METEOR, ROUGE-L (pycocoevalcap; needs Java) and CHAIR-i / CHAIR-s of a results file."""
    from ..scoring.caption_files import score_captions

    report = score_captions(annotations, results, instances=instances, words=words)
    table = render_metrics(report["metrics"], f"{report['images']} images")
    chair = report["chair"]
    notes = [f"CHAIR: {chair['hallucinated']} of {chair['mentions']} object mentions hallucinated; objects from "
             f"{report['objects_from']}; visual words: {report['visual_words']}"]
    if chair["unlisted_instance_categories"]:
        notes.append("instance categories that are no visual word (ignored): "
                     + ", ".join(chair["unlisted_instance_categories"]))
    _finish(report, "\n".join([table, *notes]), out)


@score.command("grounding")
@click.option("--data", type=PATH, required=True, help="a prepared store (`groundbench data vqa` / `captioning`)")
@click.option("--importance", type=PATH, required=True,
              help="an .npz: question_id [N] and importance [N, K] (VQA store), or image_id [N], category [N] "
                   "(index or name) and importance [N, K] (caption store); K = the store's proposals per image")
@click.option("--split", default="test", show_default=True, help="the store split the rows belong to")
@click.option("--out", type=PATH, callback=_writable, help="write the JSON report here")
def grounding(data: Path, importance: Path, split: str, out: Path | None) -> None:
    """Spearman correlation with human importance and top-proposal IoU with the human map, with 95% CIs.

    \b
    The .npz (numpy.savez; read with allow_pickle=False, never unpickled):
      VQA store:     question_id [N] int, importance [N, K] float
      caption store: image_id [N] int, category [N] (index into categories.json, or name), importance [N, K]
    K is the store's proposals per image (manifest k_max), in the store's box order; entries past an image's
    num_boxes are padding (ignored, but must be finite). Every row must belong to --split, once. Rows without
    a human map are counted, not scored.
    """
    from ..scoring.grounding_files import score_grounding

    report = score_grounding(data, importance, split)
    note = (f"{report['rows_with_human_map']} of {report['rows']} rows have a human map; "
            f"{report['human_maps_without_importance']} human maps of split '{split}' have no row")
    _finish(report, render_metrics(report["splits"][split], split) + "\n" + note, out)
