"""Tiny random batches and models for tests that need no data on disk."""
from __future__ import annotations

import torch

from groundbench.data.batch import HAT_GRID, Batch
from groundbench.models import build_model


def make_batch(b: int = 4, k: int = 6, d: int = 8, a: int = 5, t: int = 7, seed: int = 0, pad: bool = True) -> Batch:
    """A random Batch; the last proposal of row 0 is padding when ``pad``; its oracle importance (the optional
    field models/oracle_attention.py takes) is a copy of its human importance (no extra random draws)."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(b, k, dtype=torch.bool)
    if pad:
        mask[0, -1] = False
    q = torch.randint(1, 20, (b, t), generator=g)
    q[:, t - 2:] = 0
    target = torch.zeros(b, a)
    target[torch.arange(b), torch.randint(0, a, (b,), generator=g)] = 1.0
    xy = torch.rand(b, k, 2, generator=g) * 50
    boxes = torch.cat([xy, xy + 10 + torch.rand(b, k, 2, generator=g) * 40], dim=-1)
    human = torch.rand(b, k, generator=g) * mask
    return Batch(v=torch.rand(b, k, d, generator=g) * mask.unsqueeze(-1), boxes=boxes, mask=mask, q=q,
                 target=target, human=human, has_human=torch.ones(b, dtype=torch.bool),
                 image_size=torch.full((b, 2), 100), hat_mask=torch.zeros(b, HAT_GRID, HAT_GRID, dtype=torch.bool),
                 question_ids=list(range(b)), image_ids=list(range(b)), answers=[["yes"] * 10] * b,
                 answer_types=["yes/no"] * b, question_types=["is there"] * b, oracle=human.clone())


def tiny_model(name: str = "updn", d: int = 8, a: int = 5, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model(name, {"num_tokens": 22, "num_answers": a, "v_dim": d, "num_hid": 16, "word_dim": 8})


def dead_pid() -> int:
    """The pid of a process that has exited (what a kill -9 leaves behind in temp-file names)."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid
