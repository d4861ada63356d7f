"""Truncated-window captioning importance (hint-tbptt): Eq. 2 through the last steps only."""
import pytest
import torch
from torch.nn import functional as F

from groundbench.errors import GroundbenchError
from groundbench.importance.caption_rows import caption_gradient_rows
from groundbench.importance.caption_window import caption_window_rows
from groundbench.methods import build_method
from groundbench.tasks import get_task

from caption_fakes import make_caption_batch, tiny_captioner


def _windowed_reference(model, batch, r: int, horizon: int) -> torch.Tensor:
    """Row r's importance from its own unrolled decoder, a fresh copy of the features for every step: the
    gradient summed over the copies used at the last ``horizon`` steps up to the word's step."""
    b, t, w = int(batch.row_batch[r]), int(batch.row_step[r]), int(batch.row_word[r])
    copies = [batch.v[b:b + 1].clone().requires_grad_(True) for _ in range(t + 1)]
    state = model.init_state(model.encode(copies[0], batch.boxes[b:b + 1], batch.mask[b:b + 1]))
    for s in range(t + 1):
        ctx = model.encode(copies[s], batch.boxes[b:b + 1], batch.mask[b:b + 1])
        logits, _, state = model.step(ctx, state, batch.tokens[b:b + 1, s])
    window = copies[max(0, t - horizon + 1):]
    grads = torch.autograd.grad(F.log_softmax(logits[0], -1)[w], window)
    return sum(g[0] for g in grads).sum(-1) * batch.mask[b]


@pytest.mark.parametrize("horizon", [1, 2, 3])
def test_window_rows_equal_the_gradient_through_the_last_steps_copies(horizon):
    model, batch = tiny_captioner().eval(), make_caption_batch()
    alpha = caption_window_rows(model, batch, horizon)
    assert alpha.shape == (4, 5) and alpha[0, -1] == 0  # padded proposal
    for r in range(4):
        assert torch.allclose(alpha[r], _windowed_reference(model, batch, r, horizon), atol=1e-6), (horizon, r)


def test_a_window_as_long_as_the_caption_is_eq2_exactly():
    model, batch = tiny_captioner().eval(), make_caption_batch()
    full = caption_gradient_rows(model, batch)
    assert torch.allclose(caption_window_rows(model, batch, 8), full, atol=1e-6)
    # rows 1 (step 3) and 2 (step 2) reach back beyond one step, so a one-step window differs there
    short = caption_window_rows(model, batch, 1)
    assert torch.allclose(short[0], full[0], atol=1e-6)  # step 0: the window is the whole past
    assert not torch.allclose(short[1], full[1], atol=1e-4)


def test_window_rows_train_through_second_order_gradients_and_keep_row_order():
    model, batch = tiny_captioner().train(), make_caption_batch()
    alpha = caption_window_rows(model, batch, 2, create_graph=True)
    (alpha * torch.randn_like(alpha)).sum().backward()
    assert sum(1 for p in model.parameters() if p.grad is not None and p.grad.abs().sum() > 0) >= 5
    model.eval()
    reversed_rows = make_caption_batch()
    perm = torch.tensor([3, 2, 1, 0])
    for name in ("row_batch", "row_step", "row_word"):
        setattr(reversed_rows, name, getattr(reversed_rows, name)[perm])
    assert torch.allclose(caption_window_rows(model, reversed_rows, 2), caption_window_rows(model, batch, 2)[perm],
                          atol=1e-6)


def test_window_rows_need_a_stepwise_captioner_and_a_task_with_steps():
    batch = make_caption_batch()

    class OnlyForward(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = tiny_captioner()

        def forward(self, v, boxes, mask, tokens):
            return self.inner(v, boxes, mask, tokens)

    with pytest.raises(GroundbenchError, match="encode / init_state / step"):
        caption_window_rows(OnlyForward(), batch, 2)
    with pytest.raises(GroundbenchError, match="no time steps"):
        get_task("vqa").window_gradient_rows(tiny_captioner(), batch, 2, create_graph=True)


def test_hint_tbptt_method_settings():
    method = build_method("hint-tbptt", {"horizon": 3})
    assert method.hyperparameters()["horizon"] == 3 and method.tasks == ("captioning",)
    for bad in (0, 1.5, True):
        with pytest.raises(GroundbenchError, match="horizon must be an integer >= 1"):
            build_method("hint-tbptt", {"horizon": bad})
    model, batch = tiny_captioner().train(), make_caption_batch()
    loss, logs = method.loss(model, batch, get_task("captioning"))
    loss.backward()
    assert set(logs) == {"rank", "task"} and logs["rank"] > 0
