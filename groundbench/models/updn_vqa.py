"""UpDn for VQA: Anderson et al. 2018 / Teney et al. 2018, as in hengyuan-hu/bottom-up-attention-vqa
(base_model.py, build_baseline0_newatt; attention.py, NewAttention)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from .layers import Classifier, FCNet, QuestionEncoder, SplitForward, wn_linear
from .protocol import VQAOutput


@dataclass
class UpDnConfig:
    """num_tokens: vocabulary + 2 (0 = pad, last = unknown); v_dim: proposal feature size D.

    The question-only model reads the same config (v_dim and att_dropout unused there)."""

    num_tokens: int
    num_answers: int
    v_dim: int
    word_dim: int = 300
    num_hid: int = 1024
    att_dropout: float = 0.2
    cls_dropout: float = 0.5

    def to_dict(self) -> dict:
        return asdict(self)


class QuestionGuidedAttention(nn.Module):
    """Reference NewAttention: a_k = softmax_k(w^T drop(relu(W_v v_k) * relu(W_q q))).

    v: [B, K, D], q: [B, H], mask: [B, K] bool -> attention [B, K] (0 on padded proposals).
    """

    def __init__(self, v_dim: int, q_dim: int, num_hid: int, dropout: float):
        super().__init__()
        self.v_proj = FCNet(v_dim, num_hid)
        self.q_proj = FCNet(q_dim, num_hid)
        self.dropout = nn.Dropout(dropout)
        self.linear = wn_linear(num_hid, 1)

    def forward(self, v: torch.Tensor, q: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        joint = self.v_proj(v) * self.q_proj(q).unsqueeze(1)
        logits = self.linear(self.dropout(joint)).squeeze(-1)
        logits = logits.masked_fill(~mask, float("-inf"))
        return torch.softmax(logits, dim=1)


class UpDnVQA(SplitForward):
    """UpDn: question GRU, question-guided soft attention over K proposals, element-wise fusion, classifier.

    forward(v [B, K, D], boxes [B, K, 4], mask [B, K], q [B, T]) -> VQAOutput(logits [B, A], attention [B, K]).
    """

    config_class = UpDnConfig

    def __init__(self, config: UpDnConfig):
        super().__init__()
        self.config = config
        c = config
        self.question = QuestionEncoder(c.num_tokens, c.word_dim, c.num_hid)
        self.attention = self.build_attention(c)
        self.q_net = FCNet(c.num_hid, c.num_hid)
        self.v_net = FCNet(c.v_dim, c.num_hid)
        self.classifier = Classifier(c.num_hid, 2 * c.num_hid, c.num_answers, c.cls_dropout)

    def build_attention(self, c: UpDnConfig) -> nn.Module | None:
        """The learned attention (a subclass may attend otherwise: models/oracle_attention.py)."""
        return QuestionGuidedAttention(c.v_dim, c.num_hid, c.num_hid, c.att_dropout)

    def answer_from_question(self, v: torch.Tensor, boxes: torch.Tensor, mask: torch.Tensor,
                             q_emb: torch.Tensor) -> VQAOutput:
        """The rest of ``forward`` given ``encode_question(q)``: [B, num_hid] -> VQAOutput."""
        return self.answer_with_attention(v, q_emb, self.attention(v, q_emb, mask))

    def answer_with_attention(self, v: torch.Tensor, q_emb: torch.Tensor, att: torch.Tensor) -> VQAOutput:
        """Attend, fuse, classify: v [B, K, D], q_emb [B, num_hid], att [B, K] -> VQAOutput(logits [B, A], att)."""
        v_emb = (att.unsqueeze(-1) * v).sum(1)
        joint = self.q_net(q_emb) * self.v_net(v_emb)
        return VQAOutput(logits=self.classifier(joint), attention=att)
