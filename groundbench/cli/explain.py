"""``groundbench explain``: a question (or a caption's visual word) through one or two checkpoints, as a PNG."""
from __future__ import annotations

from pathlib import Path

import click

from ..experiment import check_device, default_cache_root
from ..figures.explain import ExplainSpec, run_explain

PATH = click.Path(path_type=Path)


@click.command()
@click.option("--checkpoint", "checkpoints", type=PATH, multiple=True, required=True,
              help="a checkpoint or run directory; give it twice (before, after) for two rows side by side")
@click.option("--question-id", type=int, help="VQA: the question to explain (any split of the data)")
@click.option("--image-id", type=int, help="captioning: the image to explain")
@click.option("--word", help="captioning: the visual word of the image's reference captions to explain")
@click.option("--images", type=PATH, help="real data: the folder of the images (COCO_val2014_<id:012d>.jpg, "
              "COCO_train2014_..., or <id>.jpg, searched below it); the synthetic worlds need none")
@click.option("--label", "labels", multiple=True, help="a row's label, once per --checkpoint [method · run]")
@click.option("--data", type=PATH, help="a prepared store; default: the data each checkpoint was trained on")
@click.option("--out", type=PATH, default=Path("explain.png"), show_default=True, help="the PNG to write")
@click.option("--device", default=None)
@click.option("--cache-dir", type=PATH, envvar="GROUNDBENCH_CACHE")
def explain(checkpoints, question_id, image_id, word, images, labels, data, out, device, cache_dir):
    """Draw the image with the proposal importance (gradient, attention) beside the human map, the question,
    ground truth and prediction (HINT paper, Figures 3 and 4)."""
    spec = ExplainSpec(checkpoints=list(checkpoints), out=out, question_id=question_id, image_id=image_id,
                       word=word, images=images, data=data, labels=list(labels), device=check_device(device))
    run_explain(spec, cache_dir or default_cache_root(), click.echo)
    click.echo(f"wrote {out}")
