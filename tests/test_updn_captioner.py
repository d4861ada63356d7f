"""UpDn captioner (models/updn_captioner.py) and decoding (models/decoding.py)."""
import itertools
import math

import pytest
import torch

from groundbench.errors import GroundbenchError
from groundbench.models.decoding import beam_search, greedy_decode
from groundbench.models.protocol import CaptionModel
from groundbench.models.updn_captioner import UpDnCaptioner, UpDnCaptionerConfig

PAD, BOS, EOS, UNK = 0, 1, 2, 3


def tiny(num_tokens=9, seed=0, sharpen=1.0):
    torch.manual_seed(seed)
    model = UpDnCaptioner(UpDnCaptionerConfig(num_tokens=num_tokens, v_dim=6, word_dim=8, num_hid=12,
                                              att_hid=7, dropout=0.1))
    model.logit.weight.data.mul_(sharpen)
    return model


def inputs(b=3, k=5, t=6, num_tokens=9, seed=1):
    g = torch.Generator().manual_seed(seed)
    v = torch.rand(b, k, 6, generator=g)
    boxes = torch.rand(b, k, 4, generator=g)
    mask = torch.ones(b, k, dtype=torch.bool)
    mask[0, -2:] = False
    mask[1, -1] = False
    tokens = torch.randint(3, num_tokens, (b, t), generator=g)
    tokens[:, 0] = BOS
    tokens[0, -2:] = PAD
    return v, boxes, mask, tokens


def test_config_defaults_are_the_reference_sizes_and_round_trip():
    c = UpDnCaptionerConfig(num_tokens=10, v_dim=2048)
    assert (c.word_dim, c.num_hid, c.att_hid, c.dropout) == (1000, 1000, 512, 0.5)
    assert UpDnCaptionerConfig(**c.to_dict()) == c
    assert UpDnCaptioner.config_class is UpDnCaptionerConfig


def test_shapes_and_attention_is_a_distribution_over_real_proposals():
    model = tiny().eval()
    v, boxes, mask, tokens = inputs()
    out = model(v, boxes, mask, tokens)
    assert isinstance(model, CaptionModel)
    assert out.logits.shape == (3, 6, 9) and out.attention.shape == (3, 6, 5)
    assert torch.allclose(out.attention.sum(-1), torch.ones(3, 6), atol=1e-6)
    assert (out.attention[0, :, -2:] == 0).all() and (out.attention[1, :, -1] == 0).all()
    assert (out.attention[2] > 0).all()


def test_forward_equals_stepping_over_the_tokens():
    model = tiny().eval()
    v, boxes, mask, tokens = inputs()
    out = model(v, boxes, mask, tokens)
    ctx = model.encode(v, boxes, mask)
    state = model.init_state(ctx)
    assert all(x.shape[0] == 3 for x in ctx + state)
    for t in range(tokens.shape[1]):
        logits, att, state = model.step(ctx, state, tokens[:, t])
        assert torch.allclose(logits, out.logits[:, t], atol=1e-6)
        assert torch.allclose(att, out.attention[:, t], atol=1e-6)


def test_padded_proposals_and_boxes_do_not_change_the_output():
    model = tiny().eval()
    v, boxes, mask, tokens = inputs()
    other = torch.where(mask.unsqueeze(-1), v, torch.rand_like(v) * 5)
    a = model(v, boxes, mask, tokens).logits
    b = model(other, torch.rand_like(boxes), mask, tokens).logits
    assert torch.allclose(a, b, atol=1e-6)
    assert not torch.allclose(a, model(v * 2, boxes, mask, tokens).logits)  # the real ones do


def test_twice_differentiable_wrt_v_for_hint():
    model = tiny().train()
    v, boxes, mask, tokens = inputs()
    v = v.requires_grad_(True)
    logp = torch.log_softmax(model(v, boxes, mask, tokens).logits, dim=-1)
    rows, steps, words = torch.tensor([0, 1, 2]), torch.tensor([1, 3, 4]), torch.tensor([4, 5, 6])
    (grad,) = torch.autograd.grad(logp[rows, steps, words].sum(), v, create_graph=True)
    assert grad.requires_grad
    (grad.pow(2).sum() + grad.sum(-1)[0, 0]).backward()
    for name in ["v_embed.0.weight", "att_lstm.weight_ih", "att_lstm.weight_hh", "lang_lstm.weight_ih",
                 "attention.h_proj.weight", "attention.score.weight", "v_proj.weight", "logit.weight"]:
        p = dict(model.named_parameters())[name]
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_samples_do_not_interact():
    model = tiny().train()  # dropout on: still no cross-sample path
    v, boxes, mask, tokens = inputs()
    v = v.requires_grad_(True)
    out = model(v, boxes, mask, tokens)
    (grad,) = torch.autograd.grad(out.logits[0].sum() + out.attention[0].sum(), v)
    assert grad[0].abs().sum() > 0
    assert torch.equal(grad[1:], torch.zeros_like(grad[1:]))


def _check_format(words):
    assert not ((words == BOS) | (words == EOS)).any()
    ended = (words == PAD).cumsum(1) > 0
    assert torch.equal(words[ended], torch.zeros_like(words[ended]))


def test_greedy_equals_beam_one_and_has_the_documented_format():
    model = tiny(seed=3, sharpen=4.0).eval()
    v, boxes, mask, _ = inputs(b=6, k=5)
    g = greedy_decode(model, v, boxes, mask, max_len=7)
    assert g.shape == (6, 7) and g.dtype == torch.long
    _check_format(g)
    assert torch.equal(g, beam_search(model, v, boxes, mask, beam_size=1, max_len=7))
    _check_format(beam_search(model, v, boxes, mask, beam_size=3, max_len=7))


def test_beam_search_on_a_batch_equals_each_sample_alone():
    model = tiny(seed=4, sharpen=4.0).eval()
    v, boxes, mask, _ = inputs(b=4)
    both = beam_search(model, v, boxes, mask, beam_size=3, max_len=6)
    for i in range(4):
        alone = beam_search(model, v[i:i + 1], boxes[i:i + 1], mask[i:i + 1], beam_size=3, max_len=6)
        assert torch.equal(both[i:i + 1], alone)


def caption_logprob(model, v, boxes, mask, words, eos_emitted):
    """Teacher-forced sum of log p(word) over ``words`` (a list of ids) and <eos> when it was emitted."""
    target = torch.tensor([words + [EOS] * eos_emitted])
    tokens = torch.cat([torch.tensor([[BOS]]), target[:, :-1]], dim=1)
    logp = torch.log_softmax(model(v, boxes, mask, tokens).logits, dim=-1)
    return logp[0, torch.arange(target.shape[1]), target[0]].sum().item()


def test_beam_scores_are_the_teacher_forced_logprobs_of_the_returned_captions():
    model = tiny(seed=9, sharpen=3.0).eval()
    with torch.no_grad():  # let the previous word and the image matter, so that beams diverge
        model.logit.bias[EOS] -= 1.0
        model.word_embed[0].weight.mul_(4)
        model.att_lstm.weight_ih.mul_(3)
        model.lang_lstm.weight_ih.mul_(3)
    v, boxes, mask, _ = inputs(b=6)
    v = v * 4
    found, scores = beam_search(model, v, boxes, mask, beam_size=3, max_len=6, return_scores=True)
    assert scores.shape == (6,)
    for i in range(6):
        words = [w for w in found[i].tolist() if w != PAD]
        expect = caption_logprob(model, v[i:i + 1], boxes[i:i + 1], mask[i:i + 1], words, len(words) < 6)
        assert math.isclose(scores[i].item(), expect, rel_tol=1e-5, abs_tol=1e-5), i
    assert len({tuple(r) for r in found.tolist()}) >= 3  # not degenerate


class SecondOrderModel:
    """A fake captioner: log p(next word) = tables[image, word before previous, previous word], tables
    [B, V, V, V]; ctx holds the image index and the state the word before the previous one, so beam search
    must repeat ctx and reorder state rows correctly to score prefixes right."""

    def __init__(self, tables):
        self.tables = tables

    def encode(self, v, boxes, mask):
        return (torch.arange(v.shape[0]),)

    def init_state(self, ctx):
        return (torch.full_like(ctx[0], BOS),)

    def step(self, ctx, state, prev_word):
        return self.tables[ctx[0], state[0], prev_word], None, (prev_word,)


def blank(b):
    """Inputs for the fake models: v [b, 1, 1], boxes [b, 1, 4], mask [b, 1]."""
    return torch.zeros(b, 1, 1), torch.zeros(b, 1, 4), torch.ones(b, 1, dtype=torch.bool)


def test_wide_beam_is_exact_search_on_a_second_order_model():
    """Words <eos>, <unk>, 4, 5 and max_len 3: beam 16 keeps every prefix, so it must find the best caption."""
    g = torch.Generator().manual_seed(0)
    tables = torch.log_softmax(torch.randn(8, 6, 6, 6, generator=g) * 2, dim=-1)
    found, scores = beam_search(SecondOrderModel(tables), *blank(8), beam_size=16, max_len=3, return_scores=True)
    lengths = set()
    for i in range(8):
        best, best_score = None, -math.inf
        for seq in itertools.product([EOS, UNK, 4, 5], repeat=3):
            n = seq.index(EOS) + 1 if EOS in seq else 3
            history = [BOS, BOS, *seq[:n]]
            score = sum(tables[i, history[j], history[j + 1], history[j + 2]].item() for j in range(n))
            if score > best_score + 1e-9:
                best, best_score = [w for w in seq[:n] if w != EOS], score
        assert found[i].tolist() == best + [PAD] * (3 - len(best))
        assert math.isclose(scores[i].item(), best_score, abs_tol=1e-5)
        lengths.add(len(best))
    assert len(lengths) >= 2 and max(lengths) >= 2  # the case is not degenerate


def first_order(probs, b):
    """SecondOrderModel with log p(next | previous) = log probs[previous][next] for every image."""
    return SecondOrderModel(torch.tensor(probs).log().expand(b, len(probs), len(probs), len(probs)))


# ids: 0 <pad>, 1 <bos>, 2 <eos>, 3 <unk>, 4 A, 5 B, 6 C; row = previous word, columns = next word.
UNIFORM = [1 / 7] * 7
TABLE = [UNIFORM,                                    # <pad> (after the end)
         [0.03, 0.02, 0.04, 0.05, 0.45, 0.35, 0.06],  # <bos>: A is the greedy first word
         UNIFORM,                                    # <eos>
         [0.01, 0.01, 0.90, 0.00, 0.05, 0.02, 0.01],  # <unk>
         [0.03, 0.02, 0.30, 0.05, 0.10, 0.22, 0.28],  # A: then <eos> at best 0.30 (A <eos>: 0.135)
         [0.02, 0.01, 0.80, 0.02, 0.10, 0.00, 0.05],  # B: <eos> 0.80 (B <eos>: 0.35 * 0.8 = 0.28)
         [0.01, 0.01, 0.90, 0.01, 0.04, 0.03, 0.00]]  # C


def test_greedy_and_beam_two_differ_on_a_hand_built_table():
    model = first_order(TABLE, 2)
    assert greedy_decode(model, *blank(2), max_len=4).tolist() == [[4, 0, 0, 0]] * 2
    assert beam_search(model, *blank(2), beam_size=2, max_len=4).tolist() == [[5, 0, 0, 0]] * 2
    assert beam_search(model, *blank(2), beam_size=1, max_len=4).tolist() == [[4, 0, 0, 0]] * 2


def test_pad_and_bos_are_never_emitted_and_long_captions_are_cut():
    table = [list(r) for r in TABLE]
    table[1] = [0.40, 0.30, 0.01, 0.01, 0.28, 0.00, 0.00]  # <pad> and <bos> most likely after <bos>
    table[4] = [0.30, 0.25, 0.01, 0.01, 0.43, 0.00, 0.00]  # A -> A beats everything but the masked ones
    model = first_order(table, 1)
    assert greedy_decode(model, *blank(1), max_len=3).tolist() == [[4, 4, 4]]
    assert beam_search(model, *blank(1), beam_size=2, max_len=3).tolist() == [[4, 4, 4]]


def test_bad_decoding_options_are_user_errors():
    model = first_order(TABLE, 1)
    with pytest.raises(GroundbenchError, match="beam_size"):
        beam_search(model, *blank(1), beam_size=0)
    with pytest.raises(GroundbenchError, match="max_len"):
        greedy_decode(model, *blank(1), max_len=0)
