"""Captioning: a HINT training step vs a plain captioner step on the same batch (target: at most 2.5x the
time), and beam-search throughput (captions/s).

Model: the UpDn captioner at the synthetic world's size (K = 36, D = 64, 64-d words, 128 hidden units,
64-d attention, vocabulary 60), batch 64 captions of 16 words, train mode, Adamax, CPU. HINT's batch
carries 2 visual-word rows per caption at steps drawn over the caption (the fine-tuning data: every
image has masks). A step is forward + loss + backward + optimizer update; HINT's loss needs the
per-row gradient importance (one backward with create_graph over the row copies) and backpropagates
through it (second-order gradients). ``hint`` takes that gradient through the whole caption (exact Eq. 2);
``hint-tbptt`` through each word's last ``horizon`` decoder steps only (importance/caption_window.py), which
is what brings the step under the target (the exact one stays at ~4x: see the README's benchmark notes).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from types import SimpleNamespace

import torch

from groundbench.data.batch import HAT_GRID
from groundbench.methods import build_method
from groundbench.models.decoding import beam_search
from groundbench.models.updn_captioner import UpDnCaptioner, UpDnCaptionerConfig
from groundbench.tasks.captioning import SYNTHETIC_MODEL, CaptioningTask

from .common import compare, emit

K, WORDS, ROWS_PER_CAPTION, TARGET = 36, 16, 2, 2.5
TASK = CaptioningTask()


@dataclass(frozen=True)
class Size:
    """batch: captions per step; d: proposal feature size; vocab: words; model: UpDnCaptionerConfig sizes."""

    batch: int = 64
    d: int = 64
    vocab: int = 60
    model: tuple = tuple(SYNTHETIC_MODEL.items())


SYNTHETIC = Size()


def make_batch(seed: int = 0, size: Size = SYNTHETIC) -> SimpleNamespace:
    """A CaptionBatch-shaped batch: <bos> 16 words <eos>, 2 rows per caption."""
    g, b = torch.Generator().manual_seed(seed), size.batch
    tokens = torch.cat([torch.ones(b, 1, dtype=torch.long), torch.randint(4, size.vocab, (b, WORDS), generator=g),
                        torch.full((b, 1), 2, dtype=torch.long)], dim=1)
    row_batch = torch.arange(b).repeat_interleave(ROWS_PER_CAPTION)
    row_step = torch.randint(0, WORDS, (b * ROWS_PER_CAPTION,), generator=g)
    r = row_batch.numel()
    return SimpleNamespace(v=torch.relu(torch.randn(b, K, size.d, generator=g)),
                           boxes=torch.rand(b, K, 4, generator=g) * 96, mask=torch.ones(b, K, dtype=torch.bool),
                           image_size=torch.full((b, 2), 96.0), tokens=tokens, row_batch=row_batch, row_step=row_step,
                           row_word=tokens[row_batch, row_step + 1], row_category=torch.zeros(r, dtype=torch.long),
                           human=torch.rand(r, K, generator=g), hat_mask=torch.zeros(r, HAT_GRID, HAT_GRID, dtype=torch.bool))


def model(size: Size = SYNTHETIC) -> UpDnCaptioner:
    torch.manual_seed(0)
    return UpDnCaptioner(UpDnCaptionerConfig(num_tokens=size.vocab, v_dim=size.d, **dict(size.model)))


def stepper(method_name: str, batch: SimpleNamespace, overrides: dict | None = None, size: Size = SYNTHETIC):
    net = model(size).train()
    method = build_method(method_name, overrides)
    optimizer = torch.optim.Adamax(net.parameters(), lr=2e-3)

    def step() -> None:
        loss, _ = method.loss(net, batch, TASK)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def step_record(name: str, method: str, batch: SimpleNamespace, overrides: dict | None = None,
                size: Size = SYNTHETIC, repeat: int = 5) -> dict:
    """``method``'s training step vs the plain captioner step on the same batch, timed alternately."""
    plain_s, hint_s = compare(stepper("updn", batch, size=size), stepper(method, batch, overrides, size), repeat=repeat)
    slowdown = hint_s / plain_s
    return {"name": name, "method": method, **(overrides or {}), "plain_step_s": plain_s, "hint_step_s": hint_s,
            "slowdown": slowdown, "target_max": TARGET, "ok": bool(slowdown <= TARGET), "batch": size.batch,
            "rows_per_caption": ROWS_PER_CAPTION, "proposals": K, "feature_dim": size.d, "vocab": size.vocab,
            **dict(size.model)}


def beam_throughput(images: int = 512, beam_size: int = 3) -> float:
    """Captions per second of beam search (untrained model: every caption runs the full 16 steps)."""
    net = model().eval()
    g = torch.Generator().manual_seed(1)
    v = torch.relu(torch.randn(images, K, SYNTHETIC.d, generator=g))
    boxes, mask = torch.zeros(images, K, 4), torch.ones(images, K, dtype=torch.bool)
    beam_search(net, v[:8], boxes[:8], mask[:8], beam_size=beam_size)
    start = time.perf_counter()
    for i in range(0, images, 128):
        beam_search(net, v[i:i + 128], boxes[i:i + 128], mask[i:i + 128], beam_size=beam_size)
    return images / (time.perf_counter() - start)


def run() -> list[dict]:
    batch = make_batch()
    horizon = build_method("hint-tbptt").horizon
    return [step_record("caption_hint_step_vs_plain_step", "hint", batch),
            step_record("caption_hint_tbptt_step_vs_plain_step", "hint-tbptt", batch, {"horizon": horizon}),
            {"name": "caption_beam3_throughput", "captions_per_s": beam_throughput(), "beam_size": 3,
             "ok": True, "images": 512, "max_words": WORDS}]


def main() -> list[dict]:
    return [emit(r) for r in run()]


if __name__ == "__main__":
    main()
