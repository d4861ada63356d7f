"""Diagnostic: how close hint-tbptt's truncated importance (the last H decoder steps, importance/caption_window.py)
is to exact Eq. 2 (backpropagation through the whole caption, importance/caption_rows.py), on trained
captioners; written to leaderboards/diagnostics/caption-window/.

Run from the repository root after the captioning leaderboard command (its UpDn runs), e.g.
    python leaderboards/window_fidelity.py runs/cap-robust robust
For every UpDn seed and every visual-word row of the train images with masks (where HINT trains) and of the
test images: Spearman of the truncated importance with the exact one, how often both pick the same top
proposal, and the Spearman of each with the human importance (the grounding metric).
"""
import json
import sys
from pathlib import Path

import click
import numpy as np

from groundbench.data.caption_dataset import caption_loader
from groundbench.experiment import default_cache_root, model_from_checkpoint
from groundbench.importance.caption_rows import caption_gradient_rows
from groundbench.importance.caption_window import caption_window_rows
from groundbench.io import atomic_open
from groundbench.metrics.grounding import spearman
from groundbench.tasks import get_task

HORIZONS = (1, 2, 3, 4, 6)


def _rows(model, dataset) -> dict[str, list[float]]:
    """Per-row values over ``dataset``: rho(window, exact), same top-1, rho(window, human), per horizon and exact."""
    out: dict[str, list[float]] = {}
    for batch in caption_loader(dataset, 64, shuffle=False):
        if batch.row_batch.numel() == 0:
            continue
        mask = batch.mask[batch.row_batch]
        exact = caption_gradient_rows(model, batch)
        rho, ok = spearman(exact, batch.human, mask)
        out.setdefault("exact/human", []).extend(rho[ok].tolist())
        for h in HORIZONS:
            window = caption_window_rows(model, batch, h)
            for name, other in (("exact", exact), ("human", batch.human)):
                rho, ok = spearman(window, other, mask)
                out.setdefault(f"h{h}/{name}", []).extend(rho[ok].tolist())
            top = window.masked_fill(~mask, -np.inf).argmax(1) == exact.masked_fill(~mask, -np.inf).argmax(1)
            out.setdefault(f"h{h}/top1", []).extend(top.float().tolist())
    return out


def main(runs: Path, split: str) -> None:
    task = get_task("captioning")
    store, _ = task.synthetic(default_cache_root(), click.echo, split=split)
    result = {"schema": "groundbench.window-fidelity/1", "split": split, "horizons": list(HORIZONS), "seeds": {}}
    for run in sorted(runs.glob("updn-s*")):
        model, _ = model_from_checkpoint(run / "best.safetensors")
        seed = {}
        for part, dataset in (("train-with-masks", store.dataset("train", human_only=True)),
                              ("test", store.image_dataset("test"))):
            values = _rows(model, dataset)
            seed[part] = {key: {"mean": float(np.mean(v)), "n": len(v)} for key, v in sorted(values.items())}
            click.echo(f"{run.name} {part}: " + ", ".join(f"{k} {v['mean']:.3f}" for k, v in seed[part].items()))
        result["seeds"][run.name] = seed
    out = Path("leaderboards/diagnostics/caption-window") / f"{split}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(out, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=1)
    click.echo(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/cap-robust"), sys.argv[2] if len(sys.argv) > 2 else "robust")
