"""A third-party-style captioning model for groundbench's "bring your own model" recipe (README):
``--task captioning --model examples.gru_captioner:DotAttentionGRUCaptioner``.

It is not the UpDn captioner: one GRU (not two LSTMs) whose input is the previous word and the attended
proposal feature of the previous step, with scaled dot-product attention (not additive). It offers only the
teacher-forced forward of groundbench's CaptionModel protocol (groundbench/models/protocol.py); groundbench
decodes it (greedy / beam search) by re-running it on the growing prefix. Returns
``CaptionOutput(logits [B, T, V], attention [B, T, K])``. ``num_tokens`` and ``v_dim`` come from the data.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from groundbench.models.protocol import CaptionOutput


class DotAttentionGRUCaptioner(nn.Module):
    def __init__(self, num_tokens: int, v_dim: int, hidden: int = 128, word_dim: int = 64):
        super().__init__()
        self.embed = nn.Embedding(num_tokens, word_dim, padding_idx=0)
        self.v_proj = nn.Linear(v_dim, hidden)
        self.cell = nn.GRUCell(word_dim + hidden, hidden)
        self.query = nn.Linear(hidden, hidden)
        self.out = nn.Linear(2 * hidden, num_tokens)

    def forward(self, v: torch.Tensor, boxes: torch.Tensor, mask: torch.Tensor, tokens: torch.Tensor) -> CaptionOutput:
        """v: [B, K, D]; mask: [B, K] bool; tokens: [B, T] inputs starting with <bos> -> logits [B, T, V]."""
        feats = torch.relu(self.v_proj(v))  # [B, K, H]
        m = mask.unsqueeze(-1).float()
        context = (feats * m).sum(1) / m.sum(1).clamp_min(1.0)  # [B, H]: mean proposal to start with
        h = torch.tanh(context)
        logits, attention = [], []
        for t in range(tokens.shape[1]):
            h = self.cell(torch.cat([self.embed(tokens[:, t]), context], dim=-1), h)
            scores = (feats @ self.query(h).unsqueeze(-1)).squeeze(-1) / math.sqrt(feats.shape[-1])
            att = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)  # [B, K]
            context = (att.unsqueeze(-1) * feats).sum(1)
            logits.append(self.out(torch.cat([h, context], dim=-1)))
            attention.append(att)
        return CaptionOutput(logits=torch.stack(logits, 1), attention=torch.stack(attention, 1))
