"""The question-only ("blind") baseline: UpDn's question branch and classifier, no image at all."""
from __future__ import annotations

import torch

from .layers import Classifier, FCNet, QuestionEncoder, SplitForward
from .protocol import VQAOutput
from .updn_vqa import UpDnConfig


class QuestionOnlyVQA(SplitForward):
    """q: [B, T] -> logits [B, A]; v, boxes and mask are accepted (protocol) and ignored; attention None.

    The logits do not depend on v, so its gradient importance is 0 (constant rows: Spearman undefined).
    """

    config_class = UpDnConfig

    def __init__(self, config: UpDnConfig):
        super().__init__()
        self.config = config
        self.question = QuestionEncoder(config.num_tokens, config.word_dim, config.num_hid)
        self.q_net = FCNet(config.num_hid, config.num_hid)
        self.classifier = Classifier(config.num_hid, 2 * config.num_hid, config.num_answers, config.cls_dropout)

    def answer_from_question(self, v: torch.Tensor, boxes: torch.Tensor, mask: torch.Tensor,
                             q_emb: torch.Tensor) -> VQAOutput:
        logits = self.classifier(self.q_net(q_emb))
        # Keep v in the graph with zero weight so autograd.grad(..., v) returns zeros instead of failing.
        logits = logits + 0.0 * v.sum(dim=(1, 2)).unsqueeze(1)
        return VQAOutput(logits=logits, attention=None)
