"""Importance over proposals: human (Eq. 1), gradient (Eq. 2), attention, occlusion."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from groundbench.data.batch import Batch
from groundbench.errors import GroundbenchError
from groundbench.importance.attention import attention_importance
from groundbench.importance.gradient import gradient_importance, gradient_importance_and_output
from groundbench.importance.human import human_importance
from groundbench.importance.occlusion import occlusion_importance, occlusion_importance_loop
from groundbench.models.protocol import VQAOutput


class TinyAttentionVQA(nn.Module):
    """A protocol model: question-guided softmax attention over proposals, then a linear classifier."""

    def __init__(self, d: int = 6, vocab: int = 12, hidden: int = 8, answers: int = 5):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden, padding_idx=0)
        self.att_v = nn.Linear(d, hidden)
        self.att_out = nn.Linear(hidden, 1)
        self.proj_v = nn.Linear(d, hidden)
        self.classify = nn.Linear(hidden, answers)

    def forward(self, v, boxes, mask, q):
        qe = self.embed(q).sum(1)  # [B, H]
        scores = self.att_out(torch.tanh(self.att_v(v)) * qe.unsqueeze(1)).squeeze(-1)  # [B, K]
        scores = scores.masked_fill(~mask, -1e9)
        attention = torch.softmax(scores, dim=1) * mask
        pooled = (attention.unsqueeze(-1) * torch.tanh(self.proj_v(v))).sum(1) * qe
        return VQAOutput(self.classify(pooled), attention)


class LinearVQA(nn.Module):
    """logits[b, a] = sum_k mask[b,k] c[k] sum_d W[a,d] v[b,k,d]: alpha_r = mask_r c_r sum_d W[a,d]."""

    def __init__(self, weight: torch.Tensor, c: torch.Tensor):
        super().__init__()
        self.weight = nn.Parameter(weight)
        self.c = c

    def forward(self, v, boxes, mask, q):
        pooled = (v * (mask.unsqueeze(-1) * self.c.view(1, -1, 1))).sum(1)
        return VQAOutput(pooled @ self.weight.T, None)


def make_batch(b=4, k=5, d=6, answers=5, seed=0, pad=True) -> Batch:
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(b, k, dtype=torch.bool)
    if pad:
        for row in range(b):
            mask[row, k - (row % 3):] = False  # 0, 1 or 2 padded proposals
    target = torch.zeros(b, answers)
    target[torch.arange(b), torch.randint(0, answers, (b,), generator=g)] = 1.0
    return Batch(
        v=torch.randn(b, k, d, generator=g), boxes=torch.rand(b, k, 4, generator=g) * 50,
        mask=mask, q=torch.randint(1, 12, (b, 3), generator=g), target=target,
        human=torch.rand(b, k, generator=g), has_human=torch.ones(b, dtype=torch.bool),
        image_size=torch.full((b, 2), 100.0), hat_mask=torch.zeros(b, 8, 8, dtype=torch.bool),
    )


# ---------------------------------------------------------------- human importance, Eq. 1

def naive_human(map_: np.ndarray, box) -> float:
    """Eq. 1 literally, one box: pixel masks for inside and outside, means over each."""
    h, w = map_.shape
    c0, r0, c1, r1 = (float(np.round(x)) for x in box)
    c0, c1 = min(max(c0, 0), w), min(max(c1, 0), w)
    r0, r1 = min(max(r0, 0), h), min(max(r1, 0), h)
    rows, cols = np.arange(h)[:, None], np.arange(w)[None, :]
    inside = (rows >= r0) & (rows < r1) & (cols >= c0) & (cols < c1)
    n_in, n_out = inside.sum(), (~inside).sum()
    e_in = map_[inside].sum() / n_in if n_in else 0.0
    e_out = map_[~inside].sum() / n_out if n_out else 0.0
    return e_in / (e_in + e_out) if e_in + e_out > 0 else 0.0


def naive_human_batch(maps: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    return np.array([[naive_human(maps[i], boxes[i, j]) for j in range(boxes.shape[1])]
                     for i in range(maps.shape[0])])


def test_human_integral_matches_naive_on_random_maps():
    rng = np.random.default_rng(0)
    maps = rng.random((3, 23, 31)) ** 3
    maps[1, :10] = 0.0  # a map with a dead band
    xy = rng.uniform(-10, 40, size=(3, 20, 2, 2))  # some boxes partly outside the image
    boxes = np.concatenate([xy.min(2), xy.max(2)], axis=-1)
    got = human_importance(torch.tensor(maps), torch.tensor(boxes)).double().numpy()
    np.testing.assert_allclose(got, naive_human_batch(maps, boxes), atol=1e-6)
    assert got.min() >= 0 and got.max() <= 1


def test_human_degenerate_cases():
    h, w = 10, 12
    ramp = torch.arange(h * w, dtype=torch.float64).reshape(1, h, w) + 1
    cases = torch.tensor([[[0, 0, w, h],          # covers the whole image: E_out = 0 -> 1
                           [-5, -5, w + 5, h + 5],  # larger than the image, clipped: also 1
                           [3, 3, 3, 8],            # zero width: E_in = 0 -> 0
                           [20, 20, 30, 30],        # entirely outside: zero area -> 0
                           [2, 1, 6, 4]]], dtype=torch.float64)
    got = human_importance(ramp, cases)[0]
    assert got[:4].tolist() == [1.0, 1.0, 0.0, 0.0]
    np.testing.assert_allclose(got[4].item(), naive_human(ramp[0].numpy(), cases[0, 4].numpy()), atol=1e-6)
    empty = human_importance(torch.zeros(1, h, w), cases)
    assert empty.abs().sum().item() == 0.0  # an empty map gives 0 everywhere, even the full box


def test_human_hand_cases_and_mask():
    m = torch.zeros(1, 8, 8)
    m[0, 2:4, 2:4] = 1.0  # all mass in a 2x2 square
    boxes = torch.tensor([[[2, 2, 4, 4], [0, 0, 8, 8], [4, 4, 8, 8], [2, 2, 6, 6]]], dtype=torch.float32)
    mask = torch.tensor([[True, True, True, False]])
    got = human_importance(m, boxes, mask)[0]
    assert got[0].item() == pytest.approx(1.0)  # nothing outside
    assert got[1].item() == pytest.approx(1.0)  # whole image
    assert got[2].item() == pytest.approx(0.0)  # nothing inside
    assert got[3].item() == 0.0                  # masked
    uniform = human_importance(torch.ones(1, 8, 8), boxes[:, :1])
    assert uniform.item() == pytest.approx(0.5)  # E_in == E_out


# ---------------------------------------------------------------- gradient importance, Eq. 2

def test_gradient_matches_linear_hand_computation():
    torch.manual_seed(0)
    batch = make_batch(b=3, k=4, d=5, answers=3)
    weight, c = torch.randn(3, 5), torch.tensor([1.0, -2.0, 0.5, 3.0])
    model = LinearVQA(weight, c)
    alpha = gradient_importance(model, batch)
    gt = batch.target.argmax(1)
    expected = batch.mask.float() * c.view(1, -1) * weight[gt].sum(1, keepdim=True)
    torch.testing.assert_close(alpha, expected)
    other = torch.tensor([0, 1, 2])
    expected_other = batch.mask.float() * c.view(1, -1) * weight[other].sum(1, keepdim=True)
    torch.testing.assert_close(gradient_importance(model, batch, other), expected_other)


def test_gradient_batched_matches_per_example_autograd():
    torch.manual_seed(1)
    model = TinyAttentionVQA().double()
    batch = make_batch(b=5, k=6)
    batch.v = batch.v.double()
    alpha, output = gradient_importance_and_output(model, batch)
    assert alpha.shape == (5, 6) and output.logits.shape == (5, 5)
    gt = batch.target.argmax(1)
    for b in range(5):
        v = batch.v[b:b + 1].clone().requires_grad_(True)
        logit = model(v, batch.boxes[b:b + 1], batch.mask[b:b + 1], batch.q[b:b + 1]).logits[0, gt[b]]
        (grad,) = torch.autograd.grad(logit, v)
        expected = grad[0].sum(-1) * batch.mask[b]
        torch.testing.assert_close(alpha[b], expected, atol=1e-12, rtol=1e-10)
    assert (alpha[~batch.mask] == 0).all()
    assert not alpha.requires_grad


def test_gradient_works_under_no_grad():
    model = TinyAttentionVQA()
    batch = make_batch()
    with torch.no_grad():
        alpha = gradient_importance(model, batch)
    torch.testing.assert_close(alpha, gradient_importance(model, batch))
    assert alpha.abs().sum() > 0


def test_create_graph_lets_a_loss_on_alpha_reach_every_parameter():
    torch.manual_seed(2)
    model = TinyAttentionVQA()
    batch = make_batch(b=4, k=5)
    alpha, output = gradient_importance_and_output(model, batch, create_graph=True)
    assert alpha.requires_grad
    loss = (alpha - batch.human).pow(2).sum() + output.logits.sum()  # the output's graph is kept too
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    # the second-order path alone (no task loss) also reaches the classifier and the attention
    model.zero_grad()
    alpha = gradient_importance(model, batch, create_graph=True)
    alpha.pow(2).sum().backward()
    for name in ("classify.weight", "att_v.weight", "proj_v.weight", "embed.weight"):
        assert model.get_parameter(name).grad.abs().sum() > 0, name


# ---------------------------------------------------------------- attention importance

def test_attention_importance_masks_and_checks_shape():
    mask = torch.tensor([[True, True, False]])
    out = VQAOutput(torch.zeros(1, 2), torch.tensor([[0.2, 0.5, 0.3]]))
    torch.testing.assert_close(attention_importance(out, mask), torch.tensor([[0.2, 0.5, 0.0]]))
    assert attention_importance(VQAOutput(torch.zeros(1, 2)), mask) is None
    with pytest.raises(GroundbenchError, match="attention has shape"):
        attention_importance(VQAOutput(torch.zeros(1, 2), torch.zeros(1, 4)), mask)


# ---------------------------------------------------------------- occlusion importance

def test_occlusion_linear_hand_case():
    batch = make_batch(b=3, k=4, d=5, answers=3)
    weight, c = torch.randn(3, 5), torch.tensor([1.0, -2.0, 0.5, 3.0])
    model = LinearVQA(weight, c)
    with torch.no_grad():
        predicted = model(batch.v, batch.boxes, batch.mask, batch.q).logits.argmax(1)
    got = occlusion_importance(model, batch)
    # removing proposal k drops exactly its own contribution c_k * W[a] . v_k
    expected = batch.mask.float() * c.view(1, -1) * torch.einsum("bkd,bd->bk", batch.v, weight[predicted])
    torch.testing.assert_close(got, expected)


@pytest.mark.parametrize("chunk_size", [1, 7, 1024])
def test_occlusion_batched_matches_loop(chunk_size):
    torch.manual_seed(3)
    model = TinyAttentionVQA().eval()
    batch = make_batch(b=5, k=6)
    batched = occlusion_importance(model, batch, chunk_size=chunk_size)
    torch.testing.assert_close(batched, occlusion_importance_loop(model, batch), atol=1e-5, rtol=1e-5)
    assert (batched[~batch.mask] == 0).all() and batched.abs().sum() > 0
    answer = torch.zeros(5, dtype=torch.long)
    torch.testing.assert_close(occlusion_importance(model, batch, answer, chunk_size=chunk_size),
                               occlusion_importance_loop(model, batch, answer), atol=1e-5, rtol=1e-5)


def test_occlusion_removes_by_mask_and_zeroed_features():
    seen = []

    class Spy(nn.Module):
        def forward(self, v, boxes, mask, q):
            seen.append((v.clone(), mask.clone()))
            return VQAOutput((v * mask.unsqueeze(-1)).sum((1, 2)).unsqueeze(1), None)

    batch = make_batch(b=1, k=3, d=2, pad=False)
    occlusion_importance(Spy(), batch, chunk_size=2)
    rows = torch.cat([v for v, _ in seen[1:]]), torch.cat([m for _, m in seen[1:]])
    for k in range(3):
        assert (rows[0][k, k] == 0).all() and not rows[1][k, k]
        others = [j for j in range(3) if j != k]
        assert torch.equal(rows[0][k, others], batch.v[0, others]) and rows[1][k, others].all()
