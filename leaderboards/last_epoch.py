"""Diagnostic: score the LAST epoch of each fine-tuned run of the committed leaderboard (not the
val-selected one) and write records under leaderboards/diagnostics/ (benchmark synth-vqacp-last-epoch).

Run after the leaderboard command, from the repository root:
    python leaderboards/last_epoch.py runs/leaderboard
This is not a selection protocol (nothing is selected); it shows what the val-accuracy selection hides.
"""
import sys
from pathlib import Path

import click

from groundbench.demo import record_run
from groundbench.experiment import default_cache_root, synthetic_store

FINE_TUNED = ("finetune", "hint", "attn-align", "hint-random", "hint-inverted")


def main(runs: Path) -> None:
    store, ref = synthetic_store(default_cache_root(), click.echo)
    for method in FINE_TUNED:
        for run in sorted(runs.glob(f"{method}-s*")):
            seed = int(run.name.rsplit("-s", 1)[1])
            record_run(run / "last.safetensors", store, ref, seed, "cpu", Path("leaderboards/diagnostics"), click.echo,
                       benchmark="synth-vqacp-last-epoch")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/leaderboard"))
