"""Bootstrap confidence intervals and report-ready summaries of per-question metric values."""
from __future__ import annotations

import math
import statistics
from typing import Sequence

import numpy as np

_MAX_DRAWS_PER_CHUNK = 4_000_000  # bootstrap indices held at once (bounds memory for large n)


def bootstrap_mean_ci(
    values, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """Mean of ``values`` [n] and its percentile-bootstrap ``level`` interval (Efron & Tibshirani 1993, ch. 13).

    Draws ``n_boot`` resamples of size n with replacement from a generator seeded with ``seed``
    (same inputs -> same interval), vectorised in chunks of resamples. Returns (mean, lo, hi);
    all NaN when n == 0, lo == hi == mean when n == 1.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    n = values.size
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(values.mean())
    if n == 1:
        return mean, mean, mean
    if not 0.0 < level < 1.0:
        raise ValueError("level must lie in (0, 1)")
    rng = np.random.default_rng(seed)
    per_chunk = max(1, _MAX_DRAWS_PER_CHUNK // n)
    means = np.empty(n_boot, dtype=np.float64)
    for start in range(0, n_boot, per_chunk):
        count = min(per_chunk, n_boot - start)
        idx = rng.integers(0, n, size=(count, n))
        means[start:start + count] = values[idx].mean(axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(means, [tail, 100.0 - tail])
    return mean, float(lo), float(hi)


def summarise(values, defined=None, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """{"value", "ci95": [lo, hi] (None when n == 0), "n", "undefined"} for per-question values [N].

    ``defined`` [N] bool marks the values that count (default: the finite ones); the others are
    counted as "undefined" and left out of the mean. "value" and the interval are None when n == 0.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    defined = np.isfinite(values) if defined is None else np.asarray(defined, dtype=bool).ravel()
    if defined.shape != values.shape:
        raise ValueError("values and defined differ in length")
    kept = values[defined]
    if not np.all(np.isfinite(kept)):
        raise ValueError("a value marked defined is not finite")
    n = int(kept.size)
    if n == 0:
        return {"value": None, "ci95": None, "n": 0, "undefined": int(values.size)}
    mean, lo, hi = bootstrap_mean_ci(kept, n_boot=n_boot, seed=seed, level=level)
    return {"value": mean, "ci95": [lo, hi], "n": n, "undefined": int(values.size - n)}


def mean_std(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (ddof=1) of finite floats, as the leaderboard aggregates seeds.

    The mean is ``math.fsum`` (exact sum, rounded once) / n; when that sum would leave the float range the
    values are divided by n first, so the mean of finite values is always finite. The std is
    ``statistics.stdev`` (exact sums of squares); None under 2 values. Raises OverflowError when the std itself
    lies beyond the float range (finite values more than ~1.3e308 apart). Mean None for no values.
    """
    if not values:
        return None, None
    try:
        mean = math.fsum(values) / len(values)
    except OverflowError:  # "intermediate overflow in fsum": the sum, not the mean, is out of range
        mean = math.fsum(v / len(values) for v in values)
    if len(values) < 2:
        return mean, None
    std = statistics.stdev(values)  # OverflowError when the result is not a float
    if not math.isfinite(std):
        raise OverflowError("sample standard deviation beyond the float range")
    return mean, std


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, tuple[float, float] | None]:
    """(mean, its ``level`` Student-t interval with n - 1 degrees of freedom) of a few values, e.g. per-seed
    paired differences; the interval is None under 2 values."""
    from scipy import stats

    mean = math.fsum(values) / len(values)
    if len(values) < 2:
        return mean, None
    half = float(stats.t.ppf(0.5 + level / 2, len(values) - 1)) * statistics.stdev(values) / math.sqrt(len(values))
    return mean, (mean - half, mean + half)
