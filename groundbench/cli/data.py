"""``groundbench data``: build the synthetic world or convert the official VQA files."""
from __future__ import annotations

import click

from .data_synth import synth
from .data_vqa import vqa


@click.group()
def data() -> None:
    """Prepare data sets (the synthetic world, or the official VQA / VQA-CP files)."""


data.add_command(synth)
data.add_command(vqa)
