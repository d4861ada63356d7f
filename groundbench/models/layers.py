"""Building blocks of the UpDn reference (hengyuan-hu/bottom-up-attention-vqa: fc.py, language_model.py)."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm


def wn_linear(in_dim: int, out_dim: int) -> nn.Module:
    """A weight-normalised linear layer (weight_norm with dim=None, as the reference's FCNet)."""
    return weight_norm(nn.Linear(in_dim, out_dim), dim=None)


class FCNet(nn.Sequential):
    """Weight-normalised Linear + ReLU: x [..., in_dim] -> [..., out_dim] (reference fc.py, one layer)."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__(wn_linear(in_dim, out_dim), nn.ReLU())


class QuestionEncoder(nn.Module):
    """Word embeddings + a one-layer GRU; the question is the hidden state at its last real token.

    q: [B, T] token ids (0 = padding, right-padded) -> [B, num_hid]. Taking the output at the last real
    token is equivalent to the reference's left padding and stays twice-differentiable (HINT needs that).
    """

    def __init__(self, num_tokens: int, word_dim: int, num_hid: int):
        super().__init__()
        self.embed = nn.Embedding(num_tokens, word_dim, padding_idx=0)
        self.gru = nn.GRU(word_dim, num_hid, batch_first=True)

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(self.embed(q))
        last = (q != 0).sum(1).clamp_min(1) - 1
        return out[torch.arange(q.shape[0], device=q.device), last]


class Classifier(nn.Sequential):
    """Reference SimpleClassifier: Linear -> ReLU -> Dropout -> Linear, [B, in_dim] -> [B, A] logits."""

    def __init__(self, in_dim: int, hid_dim: int, num_answers: int, dropout: float):
        super().__init__(wn_linear(in_dim, hid_dim), nn.ReLU(), nn.Dropout(dropout), wn_linear(hid_dim, num_answers))


class SplitForward(nn.Module):
    """forward = answer_from_question(v, boxes, mask, encode_question(q)) (the optional split protocol of
    models/protocol.py: occlusion encodes each question once). Subclasses define ``self.question`` and
    ``answer_from_question``."""

    def forward(self, v: torch.Tensor, boxes: torch.Tensor, mask: torch.Tensor, q: torch.Tensor):
        return self.answer_from_question(v, boxes, mask, self.encode_question(q))

    def encode_question(self, q: torch.Tensor) -> torch.Tensor:
        """q: [B, T] -> [B, num_hid]."""
        return self.question(q)



class _Bmm(torch.autograd.Function):
    """``torch.bmm(a, b)`` (a [B, M, N], b [B, N, P] -> [B, M, P]) with autograd's own backward formula, except
    that a product with inner size N = 1 (an outer product: every entry is a single product) is taken as the
    elementwise ``a * b``, which is bit-identical and several times cheaper on CPU than one GEMM call per
    sample. bmm's backward has such products (``a^T grad`` when M = 1), and so has its double backward; the
    backward calls ``_Bmm`` again, so the derivatives of every order keep autograd's numbers."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(a, b)
        return a * b if a.shape[2] == 1 else torch.bmm(a, b)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        a, b = ctx.saved_tensors
        grad_a = _Bmm.apply(grad, b.transpose(1, 2)) if ctx.needs_input_grad[0] else None
        grad_b = _Bmm.apply(a.transpose(1, 2), grad) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


def attend(att: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
    """Attention-weighted sum: att [B, K], feats [B, K, H] -> [B, H]; bit-identical to
    ``torch.bmm(att.unsqueeze(1), feats).squeeze(1)`` in value and in first and second derivatives."""
    return _Bmm.apply(att.unsqueeze(1), feats).squeeze(1)
