"""Grounding metrics (Spearman, top-proposal IoU, CPIG), bootstrap statistics and the accumulator."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from scipy import stats as sps
from torch import nn

from groundbench.data.batch import Batch
from groundbench.importance.gradient import gradient_importance
from groundbench.metrics.grounding import GROUNDING_METRICS, average_ranks, cpig, spearman, top_proposal_iou
from groundbench.metrics.grounding_eval import GroundingAccumulator
from groundbench.metrics.stats import bootstrap_mean_ci, summarise
from groundbench.models.protocol import VQAOutput


# ---------------------------------------------------------------- Spearman

def scipy_rho(a, b):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(sps.spearmanr(a, b).statistic)


def test_average_ranks_match_scipy_rankdata():
    x = torch.tensor([[3.0, 1.0, 3.0, 2.0, 3.0, 9.0]])
    mask = torch.tensor([[True, True, True, True, True, False]])
    assert average_ranks(x, mask)[0, :5].tolist() == sps.rankdata([3, 1, 3, 2, 3]).tolist()
    assert average_ranks(x, mask)[0, 5].item() == 0.0


def test_spearman_matches_scipy_per_row_with_ties_and_masks():
    rng = np.random.default_rng(0)
    b, k = 200, 12
    a = rng.integers(0, 4, size=(b, k)).astype(float)  # many ties
    c = np.where(rng.random((b, k)) < 0.5, rng.normal(size=(b, k)), rng.integers(0, 3, size=(b, k)))
    mask = rng.random((b, k)) < 0.8
    mask[:, :2] = True
    rho, defined = spearman(torch.tensor(a), torch.tensor(c), torch.tensor(mask))
    assert rho.dtype == torch.float64
    n_defined = 0
    for i in range(b):
        expected = scipy_rho(a[i, mask[i]], c[i, mask[i]])
        if np.isnan(expected):
            assert not defined[i] and torch.isnan(rho[i])
        else:
            n_defined += 1
            assert defined[i]
            assert abs(rho[i].item() - expected) < 1e-9
    assert n_defined > b // 2


def test_spearman_undefined_rows_are_reported_not_zero():
    a = torch.tensor([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    b = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [4.0, 4.0, 4.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    mask = torch.tensor([[True] * 3, [True] * 3, [True] * 3, [True, False, False], [True] * 3])
    rho, defined = spearman(a, b, mask)
    assert defined.tolist() == [True, False, False, False, True]
    assert rho[0].item() == pytest.approx(1.0) and rho[4].item() == pytest.approx(-1.0)
    assert torch.isnan(rho[1:4]).all()
    # a constant row once the masked proposal is dropped is also undefined
    rho, defined = spearman(torch.tensor([[1.0, 1.0, 7.0]]), torch.tensor([[1.0, 2.0, 3.0]]),
                            torch.tensor([[True, True, False]]))
    assert not defined[0]


# ---------------------------------------------------------------- top-proposal IoU

def hat_from_cells(rows, cols, g=4):
    hat = torch.zeros(1, g, g, dtype=torch.bool)
    for r in rows:
        for c in cols:
            hat[0, r, c] = True
    return hat


def test_top_iou_hand_cases():
    boxes = torch.tensor([[[0.0, 0.0, 50.0, 50.0], [50.0, 0.0, 100.0, 100.0]]])
    size = torch.tensor([[100.0, 100.0]])
    mask = torch.ones(1, 2, dtype=torch.bool)
    scores = torch.tensor([[0.9, 0.1]])  # top = the top-left quarter: cells rows 0-1, cols 0-1
    assert top_proposal_iou(scores, boxes, size, hat_from_cells([0, 1], [0, 1]), mask).item() == 1.0
    assert top_proposal_iou(scores, boxes, size, hat_from_cells([0, 1], [0, 1, 2, 3]), mask).item() == 0.5
    assert top_proposal_iou(scores, boxes, size, hat_from_cells([3], [3]), mask).item() == 0.0
    # the other box: cols 2-3, all rows -> 8 cells; hat rows 0-1 all cols -> inter 4, union 12
    iou = top_proposal_iou(torch.tensor([[0.1, 0.9]]), boxes, size, hat_from_cells([0, 1], [0, 1, 2, 3]), mask)
    assert iou.item() == pytest.approx(4 / 12)
    # a masked proposal is never the top one, even with the highest score
    masked = torch.tensor([[True, False]])
    iou = top_proposal_iou(torch.tensor([[0.1, 0.9]]), boxes, size, hat_from_cells([0, 1], [0, 1]), masked)
    assert iou.item() == 1.0


def test_top_iou_normalises_by_image_size_and_handles_empty():
    boxes = torch.tensor([[[0.0, 0.0, 100.0, 25.0]]])  # on a 200 x 50 image: x in [0, .5), y in [0, .5)
    mask = torch.ones(1, 1, dtype=torch.bool)
    size = torch.tensor([[200.0, 50.0]])
    assert top_proposal_iou(torch.ones(1, 1), boxes, size, hat_from_cells([0, 1], [0, 1]), mask).item() == 1.0
    empty = torch.zeros(1, 4, 4, dtype=torch.bool)
    assert top_proposal_iou(torch.ones(1, 1), boxes, size, empty, mask).item() == 0.0
    tiny = torch.tensor([[[1.0, 1.0, 2.0, 2.0]]])  # holds no cell centre
    assert torch.isnan(top_proposal_iou(torch.ones(1, 1), tiny, size, empty, mask)).all()


# ---------------------------------------------------------------- CPIG

def test_cpig_hand_cases():
    human = torch.tensor([[0.9, 0.8, 0.7, 0.1, 0.0]] * 4)
    grad = torch.tensor([[0.0, 5.0, 0.0, 0.0, 0.0],   # top-sensitive = proposal 1, in human top-3 -> 0
                         [0.0, 0.0, 0.0, 5.0, 0.0],   # proposal 3, not in top-3 -> 1
                         [0.0, 0.0, 0.0, 5.0, 0.0],   # incorrect answer -> NaN
                         [0.0, 0.0, 0.0, 5.0, 9.0]])  # proposal 4 is masked: top is proposal 3 -> 1
    mask = torch.ones(4, 5, dtype=torch.bool)
    mask[3, 4] = False
    correct = torch.tensor([True, True, False, True])
    got = cpig(grad, human, mask, correct)
    assert got[[0, 1, 3]].tolist() == [0.0, 1.0, 1.0] and torch.isnan(got[2])


def test_cpig_ties_and_few_proposals():
    # a tie with the third-highest human score counts as top-3
    got = cpig(torch.tensor([[0.0, 0.0, 0.0, 1.0]]), torch.tensor([[0.9, 0.8, 0.5, 0.5]]),
               torch.ones(1, 4, dtype=torch.bool), torch.tensor([True]))
    assert got.item() == 0.0
    # with two real proposals both are in the top-3
    got = cpig(torch.tensor([[0.0, 1.0, 0.0]]), torch.tensor([[0.9, 0.1, 0.0]]),
               torch.tensor([[True, True, False]]), torch.tensor([True]))
    assert got.item() == 0.0


def test_every_metric_declares_a_direction():
    assert set(GROUNDING_METRICS) == {"spearman_grad", "spearman_attn", "occl_grad", "occl_attn", "top_iou", "cpig",
                                      "collapse_grad"}
    assert {name for name, s in GROUNDING_METRICS.items() if s.direction == "lower"} == {"cpig", "collapse_grad"}
    assert all(s.direction in ("higher", "lower") and s.description for s in GROUNDING_METRICS.values())


# ---------------------------------------------------------------- bootstrap statistics

def test_bootstrap_ci_contains_mean_and_is_seeded():
    values = np.random.default_rng(0).normal(size=400)
    mean, lo, hi = bootstrap_mean_ci(values)
    assert mean == pytest.approx(values.mean()) and lo < mean < hi
    assert bootstrap_mean_ci(values) == (mean, lo, hi)
    assert bootstrap_mean_ci(values, seed=1) != (mean, lo, hi)
    # the percentile interval of a mean of 400 standard normals is about +-1.96 / 20
    assert (hi - lo) / 2 == pytest.approx(1.96 / 20, rel=0.15)


def test_bootstrap_ci_shrinks_with_n_and_handles_small_n():
    rng = np.random.default_rng(1)
    widths = []
    for n in (25, 400, 6400):
        _, lo, hi = bootstrap_mean_ci(rng.normal(size=n), n_boot=500)
        widths.append(hi - lo)
    assert widths[0] > widths[1] > widths[2]
    assert bootstrap_mean_ci([2.5]) == (2.5, 2.5, 2.5)
    assert all(np.isnan(bootstrap_mean_ci([])))
    _, lo, hi = bootstrap_mean_ci([1.0, 1.0, 1.0])
    assert lo == hi == 1.0


def test_summarise_counts_undefined():
    s = summarise(np.array([1.0, np.nan, 3.0, np.nan]), n_boot=200)
    assert s["value"] == 2.0 and s["n"] == 2 and s["undefined"] == 2 and s["ci95"][0] <= 2.0 <= s["ci95"][1]
    s = summarise(np.array([1.0, 0.0, 3.0]), defined=np.array([True, False, True]), n_boot=200)
    assert s["value"] == 2.0 and s["n"] == 2 and s["undefined"] == 1
    assert summarise(np.array([np.nan])) == {"value": None, "ci95": None, "n": 0, "undefined": 1}


# ---------------------------------------------------------------- accumulator

class TinyVQA(nn.Module):
    def __init__(self, d=6, answers=5, with_attention=True):
        super().__init__()
        self.att = nn.Linear(d, 1)
        self.proj = nn.Linear(d, 8)
        self.classify = nn.Linear(8, answers)
        self.with_attention = with_attention

    def forward(self, v, boxes, mask, q):
        attention = torch.softmax(self.att(v).squeeze(-1).masked_fill(~mask, -1e9), 1) * mask
        logits = self.classify(torch.tanh((attention.unsqueeze(-1) * self.proj(v)).sum(1)))
        return VQAOutput(logits, attention if self.with_attention else None)


def make_batch(b=6, k=5, d=6, answers=5, seed=0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(b, k, 2, 2, generator=g) * 100
    target = torch.zeros(b, answers)
    target[torch.arange(b), torch.randint(0, answers, (b,), generator=g)] = 1.0
    hat = torch.rand(b, 8, 8, generator=g) > 0.7
    has_human = torch.tensor([True, True, False, True, True, True][:b])
    return Batch(
        v=torch.randn(b, k, d, generator=g), boxes=torch.cat([xy.amin(2), xy.amax(2)], -1),
        mask=torch.ones(b, k, dtype=torch.bool), q=torch.ones(b, 2, dtype=torch.long), target=target,
        human=torch.rand(b, k, generator=g) * has_human.unsqueeze(1), has_human=has_human,
        image_size=torch.full((b, 2), 100.0), hat_mask=hat & has_human.view(-1, 1, 1),
    )


def test_accumulator_reports_every_metric_over_human_rows():
    torch.manual_seed(0)
    model = TinyVQA().eval()
    batches = [make_batch(seed=s) for s in range(3)]
    acc = GroundingAccumulator(model, n_boot=100)
    for batch in batches:
        acc.process(batch)
    report = acc.result()
    assert set(report) == set(GROUNDING_METRICS)
    for name, entry in report.items():
        assert entry["direction"] == GROUNDING_METRICS[name].direction
        if name != "cpig":
            assert entry["n"] + entry["undefined"] == 15  # 5 human rows per batch
    # spearman_grad equals the mean of the per-question values computed directly
    direct = []
    for batch in batches:
        sub = batch.select(batch.has_human)
        direct.append(spearman(gradient_importance(model, sub), sub.human, sub.mask)[0].numpy())
    direct = np.concatenate(direct)
    assert report["spearman_grad"]["value"] == pytest.approx(np.nanmean(direct))
    # CPIG only over correctly answered questions
    logits = torch.cat([model(b.v, b.boxes, b.mask, b.q).logits[b.has_human] for b in batches])
    targets = torch.cat([b.target[b.has_human] for b in batches])
    n_correct = int((targets.gather(1, logits.argmax(1, keepdim=True)) > 0).sum())
    assert report["cpig"]["n"] + report["cpig"]["undefined"] == n_correct


def test_accumulator_without_attention_and_without_human_rows():
    acc = GroundingAccumulator(TinyVQA(with_attention=False).eval(), n_boot=50)
    acc.process(make_batch())
    report = acc.result()
    assert report["spearman_attn"] is None and report["occl_attn"] is None and report["top_iou"] is None
    assert report["spearman_grad"]["n"] > 0
    empty = GroundingAccumulator(TinyVQA().eval())
    batch = make_batch()
    empty.process(batch.select(~batch.has_human))
    assert all(entry["value"] is None and entry["n"] == 0 for entry in empty.result().values())


def test_collapse_flags_near_constant_rows_by_hand():
    """std <= 0.1 x mean |alpha| over the valid proposals (population std), all-zero rows collapsed, < 2 valid NaN."""
    import math

    from groundbench.metrics.grounding import collapsed

    alpha = torch.tensor([[1.0, 1.05, 0.95, 9.0],    # valid 0..2: std 0.0408 <= 0.1 x 1.0 -> collapsed
                          [1.0, 2.0, 3.0, 0.0],      # std 0.816 > 0.2 -> not
                          [0.0, 0.0, 0.0, 0.0],      # all zero -> collapsed
                          [-1.0, 1.0, 0.0, 0.0],     # mean 0, std 1 > 0.1 x 1 -> not
                          [5.0, 0.0, 0.0, 0.0]])     # one valid proposal -> undefined
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=torch.bool)
    out = collapsed(alpha, mask).tolist()
    assert out[:4] == [1.0, 0.0, 1.0, 0.0] and math.isnan(out[4])
    assert collapsed(torch.tensor([[1.0, 1.1]]), torch.ones(1, 2, dtype=torch.bool)).tolist() == [1.0]  # 0.05 <= 0.105
    assert collapsed(torch.tensor([[1.0, 1.3]]), torch.ones(1, 2, dtype=torch.bool)).tolist() == [0.0]  # 0.15 > 0.115
