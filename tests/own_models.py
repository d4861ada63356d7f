"""Small user-style models for tests/test_own_model.py, imported by name (``own_models:Class``) as a user's
package would be."""
import torch
from torch import nn

from groundbench.models.protocol import VQAOutput


class _Base(nn.Module):
    def __init__(self, num_tokens: int, num_answers: int, v_dim: int, hidden: int = 16):
        super().__init__()
        self.embed = nn.Embedding(num_tokens, hidden, padding_idx=0)
        self.v_proj = nn.Linear(v_dim, hidden)
        self.out = nn.Linear(hidden, num_answers)


class DetachedVQA(_Base):
    """Re-creates its input from a detached copy: the gradient never reaches the caller's v."""

    def forward(self, v, boxes, mask, q):
        pooled = self.v_proj(v.detach().clone()).mean(1)
        return VQAOutput(logits=self.out(pooled * self.embed(q).mean(1)), attention=None)


class TupleVQA(_Base):
    """Returns a tuple instead of the protocol's VQAOutput."""

    def forward(self, v, boxes, mask, q):
        return self.out(self.v_proj(v).mean(1)), None


class NaNVQA(_Base):
    def forward(self, v, boxes, mask, q):
        logits = self.out(self.v_proj(v).mean(1))
        return VQAOutput(logits=logits * float("nan"), attention=None)


class NoAttentionVQA(_Base):
    """A fine model that simply has no attention weights."""

    def forward(self, v, boxes, mask, q):
        pooled = torch.relu(self.v_proj(v)).masked_fill(~mask.unsqueeze(-1), 0).sum(1)
        return VQAOutput(logits=self.out(pooled * self.embed(q).mean(1)), attention=None)


class WrongShapeVQA(_Base):
    def forward(self, v, boxes, mask, q):
        return VQAOutput(logits=self.out(self.v_proj(v)), attention=None)  # [B, K, A], not [B, A]


NOT_A_MODULE = 42
