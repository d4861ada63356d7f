"""UpDn with oracle attention (a reference row, not a competitor): UpDn's question encoder, fusion and classifier
(models/updn_vqa.py), but the attention over the K proposals is not learned: it is the question's oracle human
importance (HINT Eq. 1 on the exact masks of the objects its answer depends on: data/oracle_importance.py),
normalised to sum 1. Shows how far attending to the right regions alone carries accuracy."""
from __future__ import annotations

import torch

from .protocol import VQAOutput
from .updn_vqa import UpDnConfig, UpDnVQA


def oracle_attention(oracle: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """a_k = s_k / sum_j s_j over the real proposals: oracle s [B, K] (>= 0), mask [B, K] bool -> [B, K].

    A row whose real proposals all have s = 0 (no relevant object, or none a box covers) attends uniformly over
    its real proposals; padded proposals get 0; a row with no real proposal (occlusion of its only one) is all 0.
    """
    weights = oracle.clamp_min(0) * mask.to(oracle.dtype)
    total = weights.sum(1, keepdim=True)
    real = mask.to(oracle.dtype)
    uniform = real / real.sum(1, keepdim=True).clamp_min(1.0)
    return torch.where(total > 0, weights / torch.where(total > 0, total, torch.ones_like(total)), uniform)


class OracleAttentionVQA(UpDnVQA):
    """forward(v [B, K, D], boxes [B, K, 4], mask [B, K], q [B, T], oracle [B, K]) -> VQAOutput(logits [B, A],
    attention [B, K] = oracle_attention(oracle, mask), the fixed attention the attention metrics read).

    ``oracle`` comes from the batch (``batch_inputs``: models/protocol.extra_inputs); the logits still depend on
    v through the attended sum, so gradient importance (Eq. 2, d score / d v) is defined.
    """

    config_class = UpDnConfig
    batch_inputs = ("oracle",)

    def build_attention(self, c: UpDnConfig) -> None:
        return None  # no attention parameters: the weights are the oracle's

    def forward(self, v: torch.Tensor, boxes: torch.Tensor, mask: torch.Tensor, q: torch.Tensor,
                oracle: torch.Tensor) -> VQAOutput:
        return self.answer_from_question(v, boxes, mask, self.encode_question(q), oracle)

    def answer_from_question(self, v: torch.Tensor, boxes: torch.Tensor, mask: torch.Tensor, q_emb: torch.Tensor,
                             oracle: torch.Tensor) -> VQAOutput:
        return self.answer_with_attention(v, q_emb, oracle_attention(oracle.to(v.dtype), mask))
