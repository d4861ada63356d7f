import torch

from groundbench.models import MODELS, build_model
from groundbench.errors import GroundbenchError
from groundbench.models.protocol import VQAModel

from fakes import make_batch, tiny_model


def test_updn_shapes_and_attention_is_a_distribution_over_real_proposals():
    batch = make_batch(b=3, k=6, d=8, a=5)
    model = tiny_model().eval()
    out = model(batch.v, batch.boxes, batch.mask, batch.q)
    assert isinstance(model, VQAModel)
    assert out.logits.shape == (3, 5)
    assert out.attention.shape == (3, 6)
    assert torch.allclose(out.attention.sum(1), torch.ones(3), atol=1e-6)
    assert out.attention[0, -1] == 0  # padded proposal gets no attention


def test_question_padding_does_not_change_the_encoding():
    model = tiny_model().eval()
    batch = make_batch(b=2, t=7)
    longer = torch.cat([batch.q, torch.zeros(2, 5, dtype=torch.long)], dim=1)
    a = model(batch.v, batch.boxes, batch.mask, batch.q).logits
    b = model(batch.v, batch.boxes, batch.mask, longer).logits
    assert torch.allclose(a, b, atol=1e-6)


def test_blind_model_ignores_the_image():
    batch = make_batch()
    model = tiny_model("blind").eval()
    a = model(batch.v, batch.boxes, batch.mask, batch.q)
    b = model(torch.rand_like(batch.v), batch.boxes, batch.mask, batch.q)
    assert a.attention is None
    assert torch.equal(a.logits, b.logits)


def test_updn_uses_the_image():
    batch = make_batch()
    model = tiny_model().eval()
    a = model(batch.v, batch.boxes, batch.mask, batch.q).logits
    b = model(torch.rand_like(batch.v) * 3, batch.boxes, batch.mask, batch.q).logits
    assert not torch.allclose(a, b)


def test_build_model_rejects_unknown_names_and_configs():
    assert set(MODELS) == {"updn", "blind", "updn-captioner", "updn-oracle"}
    try:
        build_model("nope", {})
    except GroundbenchError as exc:
        assert "unknown model" in str(exc)
    else:
        raise AssertionError("expected an error")
    try:
        build_model("updn", {"num_tokens": 3})
    except GroundbenchError as exc:
        assert "bad config" in str(exc)
    else:
        raise AssertionError("expected an error")


def test_split_forward_equals_forward_and_occlusion_uses_it_exactly():
    from groundbench.importance.occlusion import occlusion_importance, occlusion_importance_loop
    from groundbench.models.protocol import split_forward

    batch = make_batch(b=3, k=5)
    for name in ("updn", "blind"):  # the VQA models
        model = tiny_model(name).eval()
        assert split_forward(model)
        whole = model(batch.v, batch.boxes, batch.mask, batch.q).logits
        parts = model.answer_from_question(batch.v, batch.boxes, batch.mask, model.encode_question(batch.q)).logits
        assert torch.allclose(whole, parts)
        fast = occlusion_importance(model, batch, chunk_size=4)
        assert torch.allclose(fast, occlusion_importance_loop(model, batch), atol=1e-5)
