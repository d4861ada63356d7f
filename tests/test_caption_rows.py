"""Captioning importance rows: Eq. 2 per visual-word occurrence, occlusion per row, attention per row."""
import torch
from torch.nn import functional as F

from groundbench.importance.caption_rows import (caption_attention_rows, caption_gradient_rows,
                                                 caption_occlusion_rows, word_log_probs)

from caption_fakes import make_caption_batch, tiny_captioner


def _log_prob(model, v, batch, r):
    """log p(row r's word) for image row_batch[r] with features v [K, D], teacher-forced on its caption."""
    b, t, w = int(batch.row_batch[r]), int(batch.row_step[r]), int(batch.row_word[r])
    out = model(v[None], batch.boxes[b:b + 1], batch.mask[b:b + 1], batch.tokens[b:b + 1, :-1])
    return F.log_softmax(out.logits[0, t], -1)[w]


def test_gradient_rows_equal_one_backward_per_row():
    model, batch = tiny_captioner().eval(), make_caption_batch()
    alpha = caption_gradient_rows(model, batch)
    assert alpha.shape == (4, 5)
    for r in range(4):
        b = int(batch.row_batch[r])
        v = batch.v[b].clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(_log_prob(model, v, batch, r), v)
        expected = grad.sum(-1) * batch.mask[b]
        assert torch.allclose(alpha[r], expected, atol=1e-6), r
    # rows 0 and 1 share image 0: summing them over one shared v would have mixed their gradients
    assert not torch.allclose(alpha[0], alpha[1])
    assert alpha[0, -1] == 0  # padded proposal


def test_gradient_rows_train_through_second_order_gradients():
    model, batch = tiny_captioner().train(), make_caption_batch()
    alpha = caption_gradient_rows(model, batch, create_graph=True)
    (alpha * torch.randn_like(alpha)).sum().backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    assert len(grads) >= 5


def test_occlusion_rows_equal_a_loop_over_proposals():
    model, batch = tiny_captioner().eval(), make_caption_batch()
    occ = caption_occlusion_rows(model, batch, chunk_size=3)
    with torch.no_grad():
        for r in range(4):
            b = int(batch.row_batch[r])
            base = _log_prob(model, batch.v[b], batch, r)
            for k in range(5):
                if not batch.mask[b, k]:
                    assert occ[r, k] == 0
                    continue
                v, mask = batch.v[b].clone(), batch.mask.clone()
                v[k] = 0
                mask[b, k] = False
                saved, batch.mask = batch.mask, mask
                drop = base - _log_prob(model, v, batch, r)
                batch.mask = saved
                assert torch.allclose(occ[r, k], drop, atol=1e-5), (r, k)


def test_attention_rows_pick_each_rows_step_and_word_log_probs():
    model, batch = tiny_captioner().eval(), make_caption_batch()
    out = model(batch.v, batch.boxes, batch.mask, batch.tokens[:, :-1])
    att = caption_attention_rows(out.attention, batch)
    assert torch.equal(att[2], out.attention[1, 2])
    assert caption_attention_rows(None, batch) is None
    logp = word_log_probs(out.logits[batch.row_batch], batch.row_step, batch.row_word)
    manual = F.log_softmax(out.logits[0, 3], -1)[batch.row_word[1]]
    assert torch.allclose(logp[1], manual)
