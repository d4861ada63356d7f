import pytest
import torch

from groundbench.errors import GroundbenchError
from groundbench.tasks.vqa import VQATask
from groundbench.methods import METHODS, build_method
from groundbench.methods.ranking import ranking_loss

from fakes import make_batch, tiny_model

VQA = VQATask()


def test_ranking_loss_hand_case():
    human = torch.tensor([[0.9, 0.5, 0.1]])
    mask = torch.ones(1, 3, dtype=torch.bool)
    # network agrees with the human order: no loss
    assert ranking_loss(torch.tensor([[3.0, 2.0, 1.0]]), human, mask).item() == 0.0
    # network order (1, 2, 3) reverses every pair: |2-1| + |3-1| + |3-2| = 4
    assert ranking_loss(torch.tensor([[1.0, 2.0, 3.0]]), human, mask).item() == pytest.approx(4.0)
    # only the pair (r0, r1) is violated: a0 = 1 < a1 = 1.5 -> 0.5
    assert ranking_loss(torch.tensor([[1.0, 1.5, 0.0]]), human, mask).item() == pytest.approx(0.5)


def test_ranking_loss_ignores_padding_and_human_ties():
    human = torch.tensor([[0.9, 0.9, 0.1]])
    network = torch.tensor([[0.0, 5.0, 10.0]])
    mask = torch.tensor([[True, True, False]])
    assert ranking_loss(network, human, mask).item() == 0.0  # tie between 0 and 1, 2 is padding
    full = torch.ones(1, 3, dtype=torch.bool)
    assert ranking_loss(network, human, full).item() == pytest.approx(10.0 + 5.0)


def test_ranking_loss_matches_a_pair_loop():
    g = torch.Generator().manual_seed(1)
    network, human = torch.randn(3, 7, generator=g), torch.rand(3, 7, generator=g)
    mask = torch.rand(3, 7, generator=g) > 0.2
    expected = torch.zeros(3)
    for b in range(3):
        for r in range(7):
            for s in range(7):
                if mask[b, r] and mask[b, s] and human[b, r] > human[b, s] and network[b, r] < network[b, s]:
                    expected[b] += network[b, s] - network[b, r]
    assert torch.allclose(ranking_loss(network, human, mask), expected, atol=1e-6)


@pytest.mark.parametrize("name", [m for m in METHODS if "vqa" in METHODS[m].tasks])
def test_every_method_gives_a_finite_loss_that_trains(name):
    method = build_method(name)
    model = tiny_model(method.model)
    model.train()
    batch = make_batch()
    loss, logs = method.loss(model, batch, VQA)
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert logs and all(isinstance(v, float) for v in logs.values())
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_hint_ranking_term_reaches_every_weight_through_second_order_gradients():
    method = build_method("hint", {"lam": 0.0})  # ranking loss alone: only the second-order path
    model = tiny_model().eval()  # no dropout, so the check is deterministic
    batch = make_batch()
    batch.human = torch.rand_like(batch.human) * batch.mask
    loss, logs = method.loss(model, batch, VQA)
    assert logs["rank"] > 0
    loss.backward()
    # output-layer biases cannot change an input gradient, and a bias followed by a ReLU only gates it
    missing = [n for n, p in model.named_parameters()
               if "bias" not in n and (p.grad is None or p.grad.abs().sum() == 0)]
    assert missing == []


def test_hint_loss_is_task_loss_when_orders_agree():
    method = build_method("hint")
    model = tiny_model().eval()
    batch = make_batch(pad=False)
    alpha, _ = method.network_scores(model, batch, VQA)
    batch.human = alpha.detach()  # the human ranking equals the network's
    loss, logs = method.loss(model, batch, VQA)
    assert logs["rank"] == 0.0
    assert loss.item() == pytest.approx(method.lam * logs["task"], rel=1e-5)


def test_controls_change_only_the_human_scores():
    batch = make_batch()
    inverted = build_method("hint-inverted").human_scores(batch.human, batch.mask)
    assert torch.allclose(inverted, (1 - batch.human) * batch.mask)
    torch.manual_seed(0)
    r1 = build_method("hint-random").human_scores(batch.human, batch.mask)
    r2 = build_method("hint-random").human_scores(batch.human, batch.mask)
    assert not torch.equal(r1, r2)  # re-drawn at every step
    assert (r1[~batch.mask] == 0).all()
    assert build_method("finetune").fine_tune and build_method("hint").fine_tune
    assert not build_method("updn").fine_tune


def test_build_method_errors():
    with pytest.raises(GroundbenchError, match="unknown method"):
        build_method("nope")
    with pytest.raises(GroundbenchError, match="bad settings"):
        build_method("updn", {"lam": 3})
