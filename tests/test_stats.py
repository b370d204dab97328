"""Significance and intervals: the paired sign-flip test and bootstrap intervals."""

from __future__ import annotations

from itsqa.stats import bootstrap_interval, paired_p, ratio_interval


def test_paired_p_tells_chance_from_a_real_difference() -> None:
    a = [0.5, 0.2, 1.0, 0.0, 0.33, 0.5, 1.0, 0.25] * 5
    assert paired_p(a, a) == 1.0  # nothing moved
    better = [x + 0.2 for x in a]  # every query gains the same: as clear as it gets
    assert paired_p(a, better) < 0.001
    # Two queries swap places and nothing else moves: no evidence of a difference.
    swapped = list(a)
    swapped[0], swapped[1] = a[0] + 0.3, a[1] - 0.3
    assert paired_p(a, swapped) > 0.5
    # Exact for a case small enough to count by hand: differences (+1, +1, +1); of the 8 sign
    # patterns, 2 reach a mean of magnitude 1, so p = 2/8.
    assert abs(paired_p([0, 0, 0], [1, 1, 1], rounds=20_000) - 0.25) < 0.02
    assert paired_p(a, better) == paired_p(a, better)  # seeded: the same every run


def test_bootstrap_interval_brackets_the_mean_as_wide_as_its_sampling_error() -> None:
    assert bootstrap_interval([0.7] * 40) == (0.7, 0.7)  # no spread, no doubt
    coin = [0.0, 1.0] * 50  # mean 0.5, standard error 0.05: a 95% interval of about +-0.1
    lo, hi = bootstrap_interval(coin)
    assert 0.38 < lo < 0.45 and 0.55 < hi < 0.62
    wider = bootstrap_interval(coin[:20])  # fewer questions, more doubt
    assert wider[0] < lo and wider[1] > hi
    assert bootstrap_interval(coin) == (lo, hi)  # seeded: the same every run
    assert bootstrap_interval([]) == (0.0, 0.0)


def test_ratio_interval_is_paired_and_brackets_the_ratio() -> None:
    base = [0.2, 0.4, 0.6, 0.8] * 25
    assert ratio_interval([1.2 * x for x in base], base) == (1.2, 1.2)  # same ratio on every query
    noisy = [x * (1.0 + 0.4 * (i % 2) - 0.2) for i, x in enumerate(base)]  # 0.8x or 1.2x each
    lo, hi = ratio_interval(noisy, base)
    mean = sum(noisy) / sum(base)
    assert lo < mean < hi and hi - lo < 0.2
    assert ratio_interval([], []) == (0.0, 0.0)
