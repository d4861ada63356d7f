"""``groundbench data``: build the synthetic world or convert the official VQA files."""
from __future__ import annotations

import click

from .data_captioning import captioning
from .data_synth import synth
from .data_synth_captions import synth_captions
from .data_verify import verify
from .data_vqa import vqa


@click.group()
def data() -> None:
    """Prepare data sets (the synthetic worlds, or the official VQA / VQA-CP / COCO caption files)."""


data.add_command(synth)
data.add_command(vqa)
data.add_command(synth_captions)
data.add_command(captioning)
data.add_command(verify)
