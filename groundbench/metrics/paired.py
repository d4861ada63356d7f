"""Paired significance tests of two systems scored on the same items (pure numpy).

* :func:`paired_bootstrap` -- the paired bootstrap of the mean per-item difference (Efron & Tibshirani 1993,
  ch. 13 and 16; Koehn 2004 for its use on paired system outputs): the items are resampled with replacement
  B times (seeded), the same indices for both systems. The 95% interval is the percentile interval of the
  resampled mean differences. The p-value is the two-sided version of Berg-Kirkpatrick, Burkett and Klein
  (2012, "An Empirical Investigation of Statistical Significance in NLP", Sec. 2, the paired bootstrap test):
  the bootstrap distribution is shifted to the null (mean difference 0) by subtracting the observed
  difference delta, and p is the share of resamples at least as far from delta as delta is from 0,

      p = (1 + #{b : |delta*_b - delta| >= |delta|}) / (B + 1),

  with the add-one correction of Davison & Hinkley (1997, eq. 4.11) so that p is never 0 (its floor is
  1 / (B + 1)). Koehn's (2004) "share of resamples on which the better system wins" is NOT used: it is a
  one-sided confidence, not a test of the null hypothesis. Identical inputs give delta 0, the interval
  [0, 0] and p = 1. Like every bootstrap test it is unreliable for a handful of items (a constant
  difference over 3 items is "significant"); p is None for fewer than 2 items.
* :func:`mcnemar_exact` -- McNemar's test for paired binary outcomes (McNemar 1947), exact form: under the
  null the b items that only A gets right and the c that only B gets right are Binomial(b + c, 1/2), and
  p = min(1, 2 * P(X <= min(b, c))) (the two-sided binomial test; equal to scipy.stats.binomtest(b, b + c,
  0.5).pvalue). No discordant pair gives p = 1.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

_EXACT_BINOMIAL_MAX_N = 20_000
_MAX_DRAWS_PER_CHUNK = 4_000_000  # bootstrap indices held at once (bounds memory for large n)


def _paired_arrays(a, b) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired values differ in length: {a.size} vs {b.size}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("paired values must be finite (drop undefined items first)")
    return a, b


def bootstrap_differences(diff, *, n_boot: int, seed: int) -> np.ndarray:
    """Means of ``n_boot`` resamples (with replacement, size n) of the per-item differences ``diff`` [n]
    -> [n_boot]; seeded (numpy default_rng(seed)), drawn in chunks so memory stays bounded for large n."""
    diff = np.asarray(diff, dtype=np.float64).ravel()
    n = diff.size
    rng = np.random.default_rng(seed)
    per_chunk = max(1, _MAX_DRAWS_PER_CHUNK // max(n, 1))
    means = np.empty(n_boot, dtype=np.float64)
    for start in range(0, n_boot, per_chunk):
        count = min(per_chunk, n_boot - start)
        means[start:start + count] = diff[rng.integers(0, n, size=(count, n))].mean(axis=1)
    return means


def paired_bootstrap(a, b, *, n_boot: int = 10_000, seed: int = 0, level: float = 0.95) -> dict:
    """Paired bootstrap test of mean(b - a) for per-item values a, b [n] of the same items (module docstring).

    Returns {"a": mean(a), "b": mean(b), "difference": mean(b - a), "ci95": [lo, hi] (the ``level``
    percentile interval of the resampled differences), "p_value", "n"}; means, interval and p are None when
    n == 0, and p is None when n == 1 (nothing to resample).
    """
    if n_boot < 1:
        raise ValueError("n_boot must be at least 1")
    if not 0.0 < level < 1.0:
        raise ValueError("level must lie in (0, 1)")
    a, b = _paired_arrays(a, b)
    n = int(a.size)
    if n == 0:
        return {"a": None, "b": None, "difference": None, "ci95": None, "p_value": None, "n": 0}
    diff = b - a
    delta = float(diff.mean())
    means = bootstrap_differences(diff, n_boot=n_boot, seed=seed)
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = (float(x) for x in np.percentile(means, [tail, 100.0 - tail]))
    if not np.any(diff != diff[0]):  # a constant difference: every resample is delta up to rounding
        lo = hi = delta
        means = np.full_like(means, delta)
    p = None
    if n >= 2:
        p = float((1 + np.count_nonzero(np.abs(means - delta) >= abs(delta))) / (n_boot + 1))
    return {"a": float(a.mean()), "b": float(b.mean()), "difference": delta, "ci95": [lo, hi], "p_value": p,
            "n": n}


def binomial_two_sided_half(k: int, n: int) -> float:
    """Two-sided exact binomial p-value of k successes in n trials with success probability 1/2:
    min(1, 2 * P(X <= min(k, n - k))); exact integer arithmetic up to n = 20000, log space above."""
    if n == 0:
        return 1.0
    low = min(k, n - k)
    if 2 * low == n:
        return 1.0
    if n <= _EXACT_BINOMIAL_MAX_N:
        term, total = 1, 1  # C(n, 0); C(n, j) = C(n, j - 1) * (n - j + 1) / j
        for j in range(1, low + 1):
            term = term * (n - j + 1) // j
            total += term
        return min(1.0, float(Fraction(2 * total, 2 ** n)))
    j = np.arange(1, low + 1, dtype=np.float64)
    log_terms = np.concatenate([[0.0], np.cumsum(np.log(n - j + 1.0) - np.log(j))]) - n * np.log(2.0)
    top = log_terms.max()
    return min(1.0, 2.0 * float(np.exp(top) * np.exp(log_terms - top).sum()))


def mcnemar_exact(a, b) -> dict:
    """Exact McNemar test of paired binary outcomes a, b [n] (bool or 0/1; module docstring).

    Returns {"a": share of a true, "b": share of b true, "a_only": #(a & ~b), "b_only": #(~a & b),
    "p_value", "n"}; shares and p are None when n == 0.
    """
    a = np.asarray(a).ravel()
    b = np.asarray(b).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired outcomes differ in length: {a.size} vs {b.size}")
    for x in (a, b):
        if x.size and not np.all((x == 0) | (x == 1)):
            raise ValueError("McNemar needs binary outcomes (bool or 0/1)")
    a, b = a.astype(bool), b.astype(bool)
    n = int(a.size)
    a_only, b_only = int(np.count_nonzero(a & ~b)), int(np.count_nonzero(~a & b))
    if n == 0:
        return {"a": None, "b": None, "a_only": 0, "b_only": 0, "p_value": None, "n": 0}
    return {"a": float(a.mean()), "b": float(b.mean()), "a_only": a_only, "b_only": b_only,
            "p_value": binomial_two_sided_half(a_only, a_only + b_only), "n": n}
