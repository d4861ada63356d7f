"""Caption decoding over the stepwise protocol (``encode`` / ``init_state`` / ``step``, models/protocol.py):
greedy and beam search, as self-critical.pytorch's CaptionModel (sample_method greedy; beam_search, no length
penalty, sum of log-probabilities as the score)."""
from __future__ import annotations

import torch

from ..errors import GroundbenchError

PAD = 0  # <pad>, as groundbench/data/caption_text.py


def _word_logprobs(logits: torch.Tensor, bos: int) -> torch.Tensor:
    """logits: [N, V] -> log-probabilities [N, V] with <pad> and <bos> at -inf (never emitted; <unk> stays allowed)."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    logp[:, PAD] = float("-inf")
    logp[:, bos] = float("-inf")
    return logp


def _check(max_len: int, beam_size: int = 1) -> None:
    if max_len < 1:
        raise GroundbenchError(f"max_len must be at least 1, got {max_len}")
    if beam_size < 1:
        raise GroundbenchError(f"beam_size must be at least 1, got {beam_size}")


@torch.no_grad()
def greedy_decode(model, v: torch.Tensor, boxes: torch.Tensor, mask: torch.Tensor, *,
                  max_len: int = 16, bos: int = 1, eos: int = 2) -> torch.Tensor:
    """Arg-max word at each step. v: [B, K, D], boxes: [B, K, 4], mask: [B, K] bool -> words [B, max_len] long.

    Each row holds the caption's words only: no <bos>, and the <eos> and everything after it are 0 (<pad>);
    a caption that reaches max_len words without <eos> is cut there. <pad> and <bos> are never chosen,
    <unk> may be. The caller puts the model in eval mode.
    """
    _check(max_len)
    ctx = model.encode(v, boxes, mask)
    state = model.init_state(ctx)
    batch = v.shape[0]
    words = torch.zeros(batch, max_len, dtype=torch.long, device=v.device)
    prev = torch.full((batch,), bos, dtype=torch.long, device=v.device)
    done = torch.zeros(batch, dtype=torch.bool, device=v.device)
    for t in range(max_len):
        logits, _, state = model.step(ctx, state, prev)
        word = _word_logprobs(logits, bos).argmax(dim=-1).masked_fill(done, PAD)
        done = done | (word == eos)
        words[:, t] = word.masked_fill(word == eos, PAD)
        prev = word
        if bool(done.all()):
            break
    return words


def _repeat(tensors: tuple, times: int) -> tuple:
    """Each [B, ...] tensor -> [B * times, ...], the copies of a sample adjacent."""
    return tuple(x.repeat_interleave(times, dim=0) for x in tensors)


@torch.no_grad()
def beam_search(model, v: torch.Tensor, boxes: torch.Tensor, mask: torch.Tensor, *,
                beam_size: int = 3, max_len: int = 16, bos: int = 1, eos: int = 2, return_scores: bool = False):
    """Beam search, batched over B x beam_size rows. v: [B, K, D], boxes: [B, K, 4], mask: [B, K] bool
    -> words [B, max_len] long of the best beam, in greedy_decode's format (words, then 0); with
    ``return_scores`` also its score [B] float (sum of log-probabilities of the words and of <eos> if emitted).

    Score = sum of the word log-probabilities (no length penalty). A beam that emitted <eos> is kept with a
    frozen score (it extends only with <pad> at log-prob 0) and competes with the open beams until the end;
    open beams still alive after max_len words count as finished. <pad>/<bos> are never emitted, <unk> may be.
    beam_size=1 is greedy_decode. The caller puts the model in eval mode.
    """
    _check(max_len, beam_size)
    batch, device = v.shape[0], v.device
    ctx = _repeat(model.encode(v, boxes, mask), beam_size)
    state = model.init_state(ctx)
    # All beams start identical: only beam 0 is live at step 0, the others at -inf.
    score = torch.full((batch, beam_size), float("-inf"), device=device)
    score[:, 0] = 0.0
    seqs = torch.zeros(batch, beam_size, max_len, dtype=torch.long, device=device)
    prev = torch.full((batch * beam_size,), bos, dtype=torch.long, device=device)
    done = torch.zeros(batch, beam_size, dtype=torch.bool, device=device)
    rows = torch.arange(batch, device=device).unsqueeze(1)
    for t in range(max_len):
        logits, _, state = model.step(ctx, state, prev)
        logp = _word_logprobs(logits, bos).view(batch, beam_size, -1)
        num_words = logp.shape[-1]
        frozen = torch.full_like(logp[0, 0], float("-inf"))
        frozen[PAD] = 0.0
        logp = torch.where(done.unsqueeze(-1), frozen, logp)
        top, index = (score.unsqueeze(-1) + logp).view(batch, -1).topk(beam_size, dim=1)
        origin, word = index // num_words, index % num_words
        score = top
        seqs = seqs[rows, origin]
        seqs[:, :, t] = word
        done = done[rows, origin] | (word == eos) | top.isneginf()  # dead beams (beam_size > words) too
        flat = (rows * beam_size + origin).view(-1)
        state = tuple(s[flat] for s in state)
        prev = word.view(-1)
        if bool(done.all()):
            break
    best = seqs[:, 0].masked_fill(seqs[:, 0] == eos, PAD)
    return (best, score[:, 0]) if return_scores else best
