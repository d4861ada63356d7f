"""A tiny random caption batch (the CaptionBatch fields as a namespace) and a tiny UpDn captioner."""
from __future__ import annotations

from types import SimpleNamespace

import torch

from groundbench.data.batch import HAT_GRID
from groundbench.models import build_model

V_WORDS = 12  # vocabulary incl. <pad> <bos> <eos> <unk>


def make_caption_batch(b: int = 3, k: int = 5, d: int = 8, length: int = 8, seed: int = 0) -> SimpleNamespace:
    """B captions of random words; rows at a few (b, t) positions; the last proposal of image 0 is padding."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(b, k, dtype=torch.bool)
    mask[0, -1] = False
    tokens = torch.zeros(b, length, dtype=torch.long)
    tokens[:, 0] = 1
    n_words = [length - 2, length - 4, length - 3][:b] + [length - 2] * max(0, b - 3)
    for i, n in enumerate(n_words):
        tokens[i, 1:n + 1] = torch.randint(4, V_WORDS, (n,), generator=g)
        tokens[i, n + 1] = 2
    row_batch = torch.tensor([0, 0, 1, 2])[: max(1, b + 1)]
    row_batch = row_batch[row_batch < b]
    row_step = torch.tensor([0, 3, 2, 1])[: row_batch.numel()]
    row_word = tokens[row_batch, row_step + 1]
    r = row_batch.numel()
    xy = torch.rand(b, k, 2, generator=g) * 50
    return SimpleNamespace(
        v=torch.rand(b, k, d, generator=g) * mask.unsqueeze(-1), boxes=torch.cat([xy, xy + 20], -1), mask=mask,
        image_size=torch.full((b, 2), 100.0), tokens=tokens, row_batch=row_batch, row_step=row_step,
        row_word=row_word, row_category=torch.zeros(r, dtype=torch.long),
        human=torch.rand(r, k, generator=g) * mask[row_batch], hat_mask=torch.zeros(r, HAT_GRID, HAT_GRID, dtype=torch.bool),
        image_ids=list(range(b)))


def tiny_captioner(d: int = 8, seed: int = 0):
    torch.manual_seed(seed)
    return build_model("updn-captioner", {"num_tokens": V_WORDS, "v_dim": d, "word_dim": 8, "num_hid": 16,
                                          "att_hid": 8, "dropout": 0.0})
