"""UpDn captioner: the top-down attention + language LSTM decoder of Anderson et al. 2018 (Sec. 3.2, Eq. 2-7),
after self-critical.pytorch's UpDownCore (captioning/models/AttModel.py)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from .layers import attend
from .protocol import CaptionOutput

Ctx = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]
State = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


@dataclass
class UpDnCaptionerConfig:
    """num_tokens: len(vocab.json), the 4 specials <pad> <bos> <eos> <unk> included; v_dim: proposal feature size D.

    The defaults are self-critical.pytorch's UpDown sizes: word_dim = input_encoding_size 1000, num_hid = rnn_size
    1000, att_hid = att_hid_size 512, dropout = drop_prob_lm 0.5. The CPU synthetic world passes smaller ones.
    """

    num_tokens: int
    v_dim: int
    word_dim: int = 1000
    num_hid: int = 1000
    att_hid: int = 512
    dropout: float = 0.5

    def to_dict(self) -> dict:
        return asdict(self)


class AdditiveAttention(nn.Module):
    """Anderson et al. 2018 Eq. 3-4: a_k = softmax_k(w^T tanh(W_v v_k + W_h h)); padded proposals get exactly 0.

    v_proj: [B, K, A] (W_v v_k, computed once per image by ``UpDnCaptioner.encode``), h: [B, H],
    mask: [B, K] bool -> [B, K].
    """

    def __init__(self, num_hid: int, att_hid: int):
        super().__init__()
        self.h_proj = nn.Linear(num_hid, att_hid)
        self.score = nn.Linear(att_hid, 1)

    def forward(self, v_proj: torch.Tensor, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        logits = self.score(torch.tanh(v_proj + self.h_proj(h).unsqueeze(1))).squeeze(-1)
        return torch.softmax(logits.masked_fill(~mask, float("-inf")), dim=1)


class UpDnCaptioner(nn.Module):
    """Two-LSTM UpDn captioner, teacher-forced in ``forward`` and stepwise for decoding (models/decoding.py).

    forward(v [B, K, D], boxes [B, K, 4], mask [B, K] bool, tokens [B, T] long)
        -> CaptionOutput(logits [B, T, V], attention [B, T, K]); logits[:, t] predicts tokens[:, t + 1].
    Per step: attention LSTM on [h_lang, v_mean, embed(word)]; soft attention over the proposals from its
    hidden state; language LSTM on [attended feature, h_att]; dropout; Linear -> word logits.

    Deviation from the reference: the image-level feature v_mean is the masked mean of the *embedded*
    proposals (the reference embeds the raw feature mean with a separate fc_embed). ``boxes`` are unused,
    as in UpDn. Built from LSTMCell and plain ops (no fused RNN, nothing in place), so it is twice
    differentiable w.r.t. ``v`` (HINT), and samples never interact (no batch statistics).
    """

    config_class = UpDnCaptionerConfig

    def __init__(self, config: UpDnCaptionerConfig):
        super().__init__()
        self.config = config
        c = config
        self.v_embed = nn.Sequential(nn.Linear(c.v_dim, c.num_hid), nn.ReLU(), nn.Dropout(c.dropout))
        self.word_embed = nn.Sequential(nn.Embedding(c.num_tokens, c.word_dim), nn.ReLU(), nn.Dropout(c.dropout))
        self.att_lstm = nn.LSTMCell(c.word_dim + 2 * c.num_hid, c.num_hid)
        self.v_proj = nn.Linear(c.num_hid, c.att_hid)
        self.attention = AdditiveAttention(c.num_hid, c.att_hid)
        self.lang_lstm = nn.LSTMCell(2 * c.num_hid, c.num_hid)
        self.out_dropout = nn.Dropout(c.dropout)
        self.logit = nn.Linear(c.num_hid, c.num_tokens)

    def encode(self, v: torch.Tensor, boxes: torch.Tensor, mask: torch.Tensor) -> Ctx:
        """v: [B, K, D], boxes: [B, K, 4] (unused), mask: [B, K] bool -> ctx = (feats [B, K, H],
        v_mean [B, H] (mean over the real proposals), v_proj [B, K, A] (W_v feats), mask [B, K])."""
        feats = self.v_embed(v)
        weight = mask.unsqueeze(-1).to(feats.dtype)
        v_mean = (feats * weight).sum(1) / weight.sum(1).clamp_min(1.0)
        return feats, v_mean, self.v_proj(feats), mask

    def init_state(self, ctx: Ctx) -> State:
        """ctx from ``encode`` -> zero state (h_att, c_att, h_lang, c_lang), each [B, H]."""
        zeros = ctx[1].new_zeros(ctx[1].shape[0], self.config.num_hid)
        return zeros, zeros, zeros, zeros

    def step(self, ctx: Ctx, state: State, prev_word: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, State]:
        """prev_word: [B] long -> (logits [B, V], attention [B, K], new state)."""
        return self._step_embedded(ctx, state, self.word_embed(prev_word))

    def _step_embedded(self, ctx: Ctx, state: State, word: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, State]:
        """One decoder step from an embedded word [B, word_dim] (Anderson et al. 2018 Eq. 2-7)."""
        feats, v_mean, v_proj, mask = ctx
        h_att, c_att, h_lang, c_lang = state
        h_att, c_att = self.att_lstm(torch.cat([h_lang, v_mean, word], dim=1), (h_att, c_att))
        att = self.attention(v_proj, h_att, mask)
        attended = attend(att, feats)
        h_lang, c_lang = self.lang_lstm(torch.cat([attended, h_att], dim=1), (h_lang, c_lang))
        logits = self.logit(self.out_dropout(h_lang))
        return logits, att, (h_att, c_att, h_lang, c_lang)

    def forward(self, v: torch.Tensor, boxes: torch.Tensor, mask: torch.Tensor, tokens: torch.Tensor) -> CaptionOutput:
        ctx = self.encode(v, boxes, mask)
        state = self.init_state(ctx)
        words = self.word_embed(tokens)
        logits, attention = [], []
        for t in range(tokens.shape[1]):
            step_logits, att, state = self._step_embedded(ctx, state, words[:, t])
            logits.append(step_logits)
            attention.append(att)
        return CaptionOutput(logits=torch.stack(logits, dim=1), attention=torch.stack(attention, dim=1))
