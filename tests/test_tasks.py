"""The task seam: every method runs on both tasks through the same hooks; captioning's rows and losses."""
import pytest
import torch
from torch.nn import functional as F

from groundbench.errors import GroundbenchError
from groundbench.experiment import resolve_method
from groundbench.methods import METHODS, build_method
from groundbench.tasks import get_task
from groundbench.tasks.captioning import caption_task_loss

from caption_fakes import make_caption_batch, tiny_captioner

CAPTIONING = get_task("captioning")


@pytest.mark.parametrize("name", [m for m in METHODS if get_task("captioning").has_model(METHODS[m].model)
                                  and "captioning" in METHODS[m].tasks])
def test_every_captioning_method_gives_a_finite_loss_that_trains(name):
    method, model, batch = build_method(name), tiny_captioner().train(), make_caption_batch()
    loss, logs = method.loss(model, batch, CAPTIONING)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    if hasattr(method, "lam"):
        assert set(logs) == {"rank", "task"}


def test_captioning_hint_is_task_loss_when_the_rankings_agree():
    method, model, batch = build_method("hint", {"lam": 2.0}), tiny_captioner().eval(), make_caption_batch()
    alpha, _ = method.network_scores(model, batch, CAPTIONING)
    batch.human = alpha.detach()
    loss, logs = method.loss(model, batch, CAPTIONING)
    assert logs["rank"] == 0.0
    assert loss.item() == pytest.approx(2.0 * logs["task"], rel=1e-6)
    batch.human = -alpha.detach()  # reversed: every pair violated
    _, logs = method.loss(model, batch, CAPTIONING)
    assert logs["rank"] > 0


def test_caption_task_loss_is_mean_cross_entropy_over_real_tokens():
    logits = torch.randn(2, 3, 5)
    targets = torch.tensor([[4, 2, 0], [3, 0, 0]])
    expected = (F.cross_entropy(logits[0, 0:2], targets[0, 0:2], reduction="sum")
                + F.cross_entropy(logits[1, 0:1], targets[1, 0:1], reduction="sum")) / 3
    assert caption_task_loss(logits, targets).item() == pytest.approx(expected.item(), rel=1e-6)


def test_blind_has_no_captioning_model_and_tasks_have_their_own_defaults():
    with pytest.raises(GroundbenchError, match="no captioning model"):
        CAPTIONING.model_name("blind")
    assert CAPTIONING.model_name("updn") == "updn-captioner"
    hint_vqa, hint_cap = resolve_method("hint", get_task("vqa")), resolve_method("hint", CAPTIONING)
    assert hint_vqa.lam == 10.0 and hint_cap.lam == CAPTIONING.method_defaults("hint", True)["lam"]
    assert resolve_method("hint", CAPTIONING, {"lam": 3.0}).lam == 3.0  # the command line wins
    assert hint_cap.lr == hint_vqa.lr  # one fine-tuning schedule
    with pytest.raises(GroundbenchError, match="unknown task"):
        get_task("retrieval")


def test_a_checkpoint_whose_vocabulary_differs_is_refused_naming_the_first_mismatch(tmp_path):
    from groundbench.errors import GroundbenchError
    from groundbench.tasks.base import check_same_list

    check_same_list("answer list", ["yes", "no"], ["yes", "no"], tmp_path)
    with pytest.raises(GroundbenchError, match=r"answer list differs .* at index 1: data 'no', checkpoint 'two'"):
        check_same_list("answer list", ["yes", "no"], ["yes", "two"], tmp_path)
    with pytest.raises(GroundbenchError, match=r"at index 2: data \(end\), checkpoint 'red' \(2 vs 3 entries\)"):
        check_same_list("question vocabulary", ["a", "b"], ["a", "b", "red"], tmp_path)
