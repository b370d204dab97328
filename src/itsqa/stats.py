"""Significance and uncertainty for per-query scores: a paired randomisation test and bootstrap
intervals, seeded so that the same scores always give the same figures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def paired_p(a: Sequence[float], b: Sequence[float], rounds: int = 10_000, seed: int = 0) -> float:
    """Two-sided p-value that paired per-query scores `a` and `b` differ only by chance: a
    randomisation (sign-flip) test on their differences, the usual check in IR evaluation. Exact
    to within sampling error; seeded, so the same scores always give the same p."""
    import numpy as np

    d = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    if len(d) == 0 or not np.any(np.abs(d) > 1e-12):
        return 1.0
    observed = abs(d.mean())
    rng = np.random.default_rng(seed)
    signs = rng.choice(np.array([-1.0, 1.0]), size=(rounds, len(d)))
    extreme = int((np.abs((signs * d).mean(axis=1)) >= observed - 1e-12).sum())
    return (extreme + 1) / (rounds + 1)


def _resampled_means(*columns: Sequence[float], rounds: int, seed: int) -> list[Any]:
    """The mean of each column over `rounds` resamples of the queries with replacement, the same
    resample for every column (so paired scores stay paired). Seeded."""
    import numpy as np

    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(columns[0]), size=(rounds, len(columns[0])))
    return [np.asarray(c, dtype=np.float64)[idx].mean(axis=1) for c in columns]


def _percentile_interval(samples: Any, level: float) -> tuple[float, float]:
    import numpy as np

    if not len(samples):
        return (0.0, 0.0)
    tail = (1.0 - level) / 2 * 100
    lo, hi = np.percentile(samples, [tail, 100 - tail])
    return (round(float(lo), 4), round(float(hi), 4))


def bootstrap_interval(values: Sequence[float], rounds: int = 10_000, seed: int = 0,
                       level: float = 0.95) -> tuple[float, float]:
    """The `level` percentile interval of the mean of per-query `values`, over `rounds` resamples
    of the queries with replacement: how far the mean could move on another set of the same
    size and kind. Seeded, so the same values always give the same interval."""
    if len(values) == 0:
        return (0.0, 0.0)
    (means,) = _resampled_means(values, rounds=rounds, seed=seed)
    return _percentile_interval(means, level)


def ratio_interval(a: Sequence[float], b: Sequence[float], rounds: int = 10_000, seed: int = 0,
                   level: float = 0.95) -> tuple[float, float]:
    """The `level` interval of mean(a) / mean(b) for paired per-query scores, resampling the
    queries (the same ones for both) with replacement. Seeded."""
    if len(a) == 0 or len(a) != len(b):
        return (0.0, 0.0)
    num, den = _resampled_means(a, b, rounds=rounds, seed=seed)
    return _percentile_interval(num[den > 0] / den[den > 0], level)
