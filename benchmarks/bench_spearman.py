"""Batched Spearman rank correlation vs a loop of scipy.stats.spearmanr over rows (same values).

5000 questions x 36 proposals, a fifth of the values tied, some padded proposals. Target: >= 10x.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy import stats

from groundbench.metrics.grounding import spearman

from .common import compare, emit, result

ROWS, K, TARGET = 5000, 36, 10.0


def scipy_loop(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The reference: scipy.stats.spearmanr on each row's valid proposals; NaN where undefined."""
    out = np.full(a.shape[0], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(a.shape[0]):
            out[i] = stats.spearmanr(a[i, mask[i]], b[i, mask[i]]).statistic
    return out


def run() -> dict:
    """Time both on the same data; check that they agree to 1e-9 and flag the same undefined rows."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(ROWS, K))
    b = rng.normal(size=(ROWS, K)) + 0.3 * a
    a[rng.random((ROWS, K)) < 0.2] = 0.0  # ties
    mask = rng.random((ROWS, K)) < 0.95
    mask[:, :3] = True
    ta, tb, tm = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(mask)
    rho, defined = spearman(ta, tb, tm)
    expected = scipy_loop(a, b, mask)
    if not np.array_equal(defined.numpy(), ~np.isnan(expected)):
        raise AssertionError("batched and scipy Spearman disagree on which rows are defined")
    diff = float(np.nanmax(np.abs(rho.numpy() - expected)))
    if diff > 1e-9:
        raise AssertionError(f"batched and scipy Spearman differ by {diff}")
    reference_s, ours_s = compare(lambda: scipy_loop(a, b, mask), lambda: spearman(ta, tb, tm),
                                  repeat=3, ours_per_round=5)
    return result("spearman_batched_vs_scipy", reference_s, ours_s, TARGET, rows=ROWS, proposals=K,
                  max_abs_diff=diff)


def main() -> dict:
    return emit(run())


if __name__ == "__main__":
    main()
