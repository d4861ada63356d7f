"""``groundbench data verify DIR``: check a prepared store against its manifest, features included."""
from __future__ import annotations

import time
from pathlib import Path

import click



@click.command()
@click.argument("store", type=click.Path(path_type=Path))
def verify(store: Path) -> None:
    """Check every file of a prepared store (VQA or captioning) against the sha256 in its manifest, the large
    features array too (opening a store checks all but that one)."""
    from ..io import read_json
    from ..tasks import get_task

    start = time.perf_counter()
    manifest = read_json(store / "manifest.json", what="store manifest") if store.is_dir() else None
    task = "captioning" if isinstance(manifest, dict) and manifest.get("task") == "captioning" else "vqa"
    opened = get_task(task).open_store_verified(store)
    files = len(opened.manifest.get("files", {}))
    click.echo(f"{store}: {task} store, {files} files match their sha256 [{time.perf_counter() - start:.1f} s]")
