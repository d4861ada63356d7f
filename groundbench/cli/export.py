"""``groundbench export``: a checkpoint as a plain ``torch.save`` state dict plus a JSON metadata sidecar."""
from __future__ import annotations

from pathlib import Path

import click

from ..torch_files import TORCH_SUFFIXES, export_checkpoint, sidecar_path

PATH = click.Path(path_type=Path)


@click.command()
@click.argument("run", type=PATH)
@click.option("--to", "dest", type=PATH, required=True,
              help=f"the file to write, ending in {', '.join(TORCH_SUFFIXES)}; metadata goes to <stem>.json")
def export(run, dest):
    """Export RUN (a run directory, using its best checkpoint, or a .safetensors file) for plain PyTorch.

    Writes the model weights with torch.save (no optimizer state) and the checkpoint's metadata beside it;
    load it back with torch.load(PATH, weights_only=True) or with groundbench.
    """
    path, count = export_checkpoint(run, dest)
    click.echo(f"wrote {path} ({count} tensors) and {sidecar_path(path)}")
