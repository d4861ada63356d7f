"""Captioning at the reference model size: a HINT step (exact Eq. 2) and a hint-tbptt step (Eq. 2 through each
word's last 3 decoder steps) vs a plain captioner step on the same batch, on this machine's device (CPU here).

Model: the UpDn captioner at self-critical.pytorch's UpDown sizes (1000-d words, 1000 hidden units, 512-d
attention), D 2048 bottom-up features, K 36, a 10,000-word vocabulary; batch 16 captions of 16 words, 2
visual-word rows per caption (bench_caption_step.py's batch, bigger). The 2.5x target is the synthetic-size
benchmark's, applied here too.
"""
from __future__ import annotations

from groundbench.methods import build_method

from .bench_caption_step import Size, make_batch, step_record
from .common import emit

REAL = Size(batch=16, d=2048, vocab=10000, model=(("word_dim", 1000), ("num_hid", 1000), ("att_hid", 512)))


def run() -> list[dict]:
    batch = make_batch(size=REAL)
    horizon = build_method("hint-tbptt").horizon
    return [step_record("caption_real_size_hint_step_vs_plain_step", "hint", batch, size=REAL, repeat=3),
            step_record("caption_real_size_hint_tbptt_step_vs_plain_step", "hint-tbptt", batch, {"horizon": horizon},
                        size=REAL, repeat=3)]


def main() -> list[dict]:
    return [emit(r) for r in run()]


if __name__ == "__main__":
    main()
