"""The question-only ("blind") baseline: UpDn's question branch and classifier, no image at all."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from .layers import Classifier, FCNet, QuestionEncoder
from .protocol import VQAOutput


@dataclass
class BlindConfig:
    """Same fields as UpDnConfig so a recipe can switch models; v_dim is unused."""

    num_tokens: int
    num_answers: int
    v_dim: int = 0
    word_dim: int = 300
    num_hid: int = 1024
    cls_dropout: float = 0.5

    def to_dict(self) -> dict:
        return asdict(self)


class QuestionOnlyVQA(nn.Module):
    """q: [B, T] -> logits [B, A]; v, boxes and mask are accepted (protocol) and ignored; attention None.

    The logits do not depend on v, so its gradient importance is 0 (constant rows: Spearman undefined).
    """

    config_class = BlindConfig

    def __init__(self, config: BlindConfig):
        super().__init__()
        self.config = config
        self.question = QuestionEncoder(config.num_tokens, config.word_dim, config.num_hid)
        self.q_net = FCNet(config.num_hid, config.num_hid)
        self.classifier = Classifier(config.num_hid, 2 * config.num_hid, config.num_answers, config.cls_dropout)

    def forward(self, v: torch.Tensor, boxes: torch.Tensor, mask: torch.Tensor, q: torch.Tensor) -> VQAOutput:
        return self.answer_from_question(v, boxes, mask, self.encode_question(q))

    def encode_question(self, q: torch.Tensor) -> torch.Tensor:
        """q: [B, T] -> [B, num_hid] (optional protocol, as UpDnVQA)."""
        return self.question(q)

    def answer_from_question(self, v: torch.Tensor, boxes: torch.Tensor, mask: torch.Tensor,
                             q_emb: torch.Tensor) -> VQAOutput:
        logits = self.classifier(self.q_net(q_emb))
        # Keep v in the graph with zero weight so autograd.grad(…, v) returns zeros instead of failing.
        logits = logits + 0.0 * v.sum(dim=(1, 2)).unsqueeze(1)
        return VQAOutput(logits=logits, attention=None)
