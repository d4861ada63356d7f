"""A third-party-style VQA model for groundbench's "bring your own model" recipe (README), kept outside the
package on purpose: groundbench imports it by name (``--model examples.bilinear_vqa:BilinearPoolVQA``).

It is not UpDn: the question is a mean of word vectors (no recurrent encoder); each proposal is scored by a
low-rank bilinear form with the question (instead of UpDn's concatenation + MLP); the attended proposal is
fused with the question by a gated product. It follows groundbench's model protocol
(groundbench/models/protocol.py): proposal features ``v`` [B, K, D] are used differentiably, the forward
returns ``VQAOutput(logits [B, A], attention [B, K])``.

Constructor arguments: ``num_tokens``, ``num_answers`` and ``v_dim`` are filled in from the data by
groundbench (it passes each data size the constructor names); the rest come from ``--model-args``.
"""
from __future__ import annotations

import torch
from torch import nn

from groundbench.models.protocol import VQAOutput


class BilinearPoolVQA(nn.Module):
    def __init__(self, num_tokens: int, num_answers: int, v_dim: int, hidden: int = 128, rank: int = 32,
                 word_dim: int = 64, dropout: float = 0.1):
        super().__init__()
        self.embed = nn.Embedding(num_tokens, word_dim, padding_idx=0)
        self.q_proj = nn.Sequential(nn.Linear(word_dim, hidden), nn.ReLU())
        self.v_proj = nn.Sequential(nn.Linear(v_dim, hidden), nn.ReLU())
        self.q_low, self.v_low = nn.Linear(hidden, rank), nn.Linear(hidden, rank)
        self.gate = nn.Linear(hidden, hidden)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(),
                                        nn.Linear(hidden, num_answers))

    def forward(self, v: torch.Tensor, boxes: torch.Tensor, mask: torch.Tensor, q: torch.Tensor) -> VQAOutput:
        """v: [B, K, D]; boxes: [B, K, 4] (unused); mask: [B, K] bool; q: [B, T] ids (0 = pad)."""
        words = (q > 0).unsqueeze(-1).float()
        q_mean = (self.embed(q) * words).sum(1) / words.sum(1).clamp_min(1.0)  # [B, W]
        q_h = self.q_proj(q_mean)  # [B, H]
        v_h = self.v_proj(v)  # [B, K, H]
        scores = (self.v_low(v_h) * self.q_low(q_h).unsqueeze(1)).sum(-1)  # [B, K] low-rank bilinear
        attention = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)
        pooled = (attention.unsqueeze(-1) * v_h).sum(1)  # [B, H]
        fused = pooled * q_h + torch.sigmoid(self.gate(q_h)) * q_h  # [B, H]: product + gated question path
        return VQAOutput(logits=self.classifier(fused), attention=attention)
