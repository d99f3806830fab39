"""Cash and WStat counts statistics against values computed by hand.

The expected values are written as the textbook formulas:

- Cash, known background ``mu``: ``TS = 2 [n ln(n / mu) - (n - mu)]``; for ``n = 0``
  ``TS = 2 mu``; ``mu`` below 1e-25 counts as 1e-25.
- WStat: Li & Ma (1983) eq. 17,
  ``TS = 2 {n_on ln[(1 + a) / a * n_on / (n_on + n_off)]
  + n_off ln[(1 + a) n_off / (n_on + n_off)]}``, a term dropped when its count is 0.
- Significance ``sign(excess) sqrt(TS)``.
"""

import math

import numpy as np
import pytest

from dl3flow.stats import (
    TRUNCATION_VALUE,
    CashCounts,
    StatsError,
    WStatCounts,
    cash,
    cash_significance,
    fit_gaussian,
    wstat,
    wstat_significance,
)


def li_ma_ts(n_on, n_off, alpha):
    ts = 0.0
    if n_on > 0:
        ts += n_on * math.log((1 + alpha) / alpha * n_on / (n_on + n_off))
    if n_off > 0:
        ts += n_off * math.log((1 + alpha) * n_off / (n_on + n_off))
    return 2 * ts


# ------------------------------------------------------------------------------- Cash


@pytest.mark.parametrize(
    ("n", "mu", "ts"),
    [
        (10, 5.0, 2 * (10 * math.log(2) - 5)),
        (5, 5.0, 0.0),
        (2, 8.0, 2 * (2 * math.log(2 / 8) - (2 - 8))),
        (100, 80.0, 2 * (100 * math.log(100 / 80) - 20)),
        # n = 0: stat_null = 2 mu, stat_max = 2 * 1e-25
        (0, 4.0, 8.0 - 2e-25),
        (0, 0.0, 0.0),
        # mu -> 0: truncated at 1e-25
        (3, 0.0, 2 * (1e-25 - 3 * math.log(1e-25)) - 2 * (3 - 3 * math.log(3))),
        (3, 1e-30, 2 * (1e-25 - 3 * math.log(1e-25)) - 2 * (3 - 3 * math.log(3))),
    ],
)
def test_cash_ts_and_significance(n, mu, ts):
    stat = CashCounts(n, mu)
    assert stat.ts == pytest.approx(ts, rel=1e-12, abs=1e-15)
    expected = math.copysign(math.sqrt(ts), n - mu) if n != mu else 0.0
    assert stat.sqrt_ts == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert cash_significance(n, mu) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert stat.excess == n - mu
    assert stat.error == pytest.approx(math.sqrt(n))


def test_cash_known_numbers():
    # 20 ln 2 - 10 = 3.862943611198906
    assert CashCounts(10, 5).ts == pytest.approx(3.862943611198906, rel=1e-14)
    assert CashCounts(0, 4).sqrt_ts == pytest.approx(-math.sqrt(8), rel=1e-14)
    assert CashCounts(0, 0).sqrt_ts == 0.0


def test_cash_statistic_function():
    assert cash(3, 2.0) == pytest.approx(2 * (2 - 3 * math.log(2)))
    assert cash(3, 0.0) == pytest.approx(2 * (TRUNCATION_VALUE - 3 * math.log(TRUNCATION_VALUE)))
    with pytest.raises(StatsError, match="truncation_value must be positive"):
        cash(3, 1.0, truncation_value=0.0)


@pytest.mark.parametrize("n_sigma", [1.0, 2.0, 3.0])
@pytest.mark.parametrize("n", [1, 10, 250])
def test_cash_errors_solve_the_profile(n, n_sigma):
    """errn/errp/ul are where the Cash statistic rises by n_sigma**2 above its minimum."""
    stat = CashCounts(n, 4.0)

    def rise(excess):  # cash(n, mu_bkg + s) - cash(n, n)
        mu = 4.0 + excess
        return 2 * (mu - n * math.log(mu)) - 2 * (n - n * math.log(n))

    errp, errn = float(stat.errp(n_sigma)), float(stat.errn(n_sigma))
    assert errp > 0 and errn > 0
    assert rise(stat.excess + errp) == pytest.approx(n_sigma**2, rel=1e-9)
    assert rise(stat.excess - errn) == pytest.approx(n_sigma**2, rel=1e-9)
    ul = float(stat.upper_limit(n_sigma))
    assert ul == pytest.approx(stat.excess + errp, rel=1e-12)


def test_cash_errors_for_zero_counts():
    # gammapy: errn = 0, errp = n_sigma**2 / 2, ul = n_sigma**2 / 2 for n_on = 0
    stat = CashCounts([0, 0], [2.0, 0.0])
    assert np.all(stat.errn(1.0) == 0.0)
    assert np.all(stat.errp(2.0) == 2.0)
    assert np.all(stat.upper_limit(3.0) == 4.5)


def test_cash_vectorised_and_nan():
    stat = CashCounts(np.array([[10.0, np.nan], [0.0, 5.0]]), 5.0)
    assert stat.sqrt_ts.shape == (2, 2)
    assert np.isnan(stat.sqrt_ts[0, 1])
    assert np.isnan(stat.errp()[0, 1]) and np.isnan(stat.errn()[0, 1])
    assert np.isnan(stat.upper_limit()[0, 1])
    assert stat.sqrt_ts[1, 1] == 0.0


def test_cash_p_value():
    # TS = 9 -> 3 sigma one-sided: 0.0013498980316301
    stat = CashCounts(0, 4.5)
    assert stat.p_value == pytest.approx(0.0013498980316301, rel=1e-9)


@pytest.mark.parametrize("bad", [-1, [3, -0.5]])
def test_cash_rejects_negative_counts(bad):
    with pytest.raises(StatsError, match="n_on must be >= 0"):
        CashCounts(bad, 1.0)


@pytest.mark.parametrize("n_sigma", [0, -1, np.nan])
def test_cash_rejects_bad_n_sigma(n_sigma):
    with pytest.raises(StatsError, match="n_sigma must be a positive number"):
        CashCounts(3, 1.0).errp(n_sigma)
    with pytest.raises(StatsError, match="n_sigma must be a positive number"):
        CashCounts(3, 1.0).upper_limit(n_sigma)


# ------------------------------------------------------------------------------ WStat


@pytest.mark.parametrize(
    ("n_on", "n_off", "alpha"),
    [
        (20, 30, 0.25),
        (100, 200, 0.2),
        (5, 40, 0.5),  # negative excess
        (12, 12, 1.0),  # zero excess
        (3, 1, 0.01),
    ],
)
def test_wstat_is_li_ma_eq17(n_on, n_off, alpha):
    stat = WStatCounts(n_on, n_off, alpha)
    ts = li_ma_ts(n_on, n_off, alpha)
    assert stat.ts == pytest.approx(ts, rel=1e-10, abs=1e-12)
    excess = n_on - alpha * n_off
    expected = math.copysign(math.sqrt(ts), excess) if excess != 0 else 0.0
    assert stat.sqrt_ts == pytest.approx(expected, rel=1e-10, abs=1e-6)
    assert wstat_significance(n_on, n_off, alpha) == pytest.approx(expected, rel=1e-10, abs=1e-6)
    assert stat.excess == pytest.approx(excess)
    assert stat.n_bkg == pytest.approx(alpha * n_off)
    assert stat.error == pytest.approx(math.sqrt(n_on + alpha**2 * n_off))


def test_wstat_known_number():
    # Li & Ma eq. 17 for n_on = 20, n_off = 30, alpha = 0.25:
    # 2 [20 ln(5 * 20 / 50) + 30 ln(1.25 * 30 / 50)] = 40 ln 2 + 60 ln 0.75
    assert WStatCounts(20, 30, 0.25).ts == pytest.approx(
        40 * math.log(2) + 60 * math.log(0.75), rel=1e-12
    )


def test_wstat_edge_cases():
    # n_on = 0: TS = 2 n_off ln(1 + alpha), negative significance
    stat = WStatCounts(0, 10, 0.2)
    assert stat.ts == pytest.approx(20 * math.log(1.2), rel=1e-12)
    assert stat.sqrt_ts == pytest.approx(-math.sqrt(20 * math.log(1.2)), rel=1e-12)
    # n_off = 0: TS = 2 n_on ln((1 + alpha) / alpha)
    stat = WStatCounts(7, 0, 0.1)
    assert stat.ts == pytest.approx(14 * math.log(11), rel=1e-12)
    assert stat.sqrt_ts == pytest.approx(math.sqrt(14 * math.log(11)), rel=1e-12)
    # nothing at all
    stat = WStatCounts(0, 0, 0.3)
    assert stat.ts == 0.0 and stat.sqrt_ts == 0.0


def test_wstat_statistic_is_zero_at_best_fit():
    assert wstat(20, 30, 0.25, 12.5) == pytest.approx(0.0, abs=1e-10)
    # mu_sig = 0: the Li & Ma TS itself
    assert wstat(20, 30, 0.25, 0.0) == pytest.approx(li_ma_ts(20, 30, 0.25), rel=1e-12)


@pytest.mark.parametrize("n_sigma", [1.0, 2.0])
@pytest.mark.parametrize(
    ("n_on", "n_off", "alpha"), [(20, 30, 0.25), (100, 200, 0.2), (5, 40, 0.5)]
)
def test_wstat_errors_solve_the_profile(n_on, n_off, alpha, n_sigma):
    stat = WStatCounts(n_on, n_off, alpha)
    s = float(stat.excess)
    best = float(wstat(n_on, n_off, alpha, s))
    errp, errn = float(stat.errp(n_sigma)), float(stat.errn(n_sigma))
    assert float(wstat(n_on, n_off, alpha, s + errp)) - best == pytest.approx(n_sigma**2, abs=1e-9)
    assert float(wstat(n_on, n_off, alpha, s - errn)) - best == pytest.approx(n_sigma**2, abs=1e-9)
    ul = float(stat.upper_limit(n_sigma))
    assert ul == pytest.approx(s + errp, abs=1e-9)


def test_wstat_errn_falls_back_to_n_on():
    # gammapy: when the lower bracket holds no root, errn = n_on
    # n_off = 0, alpha = 10: wstat(mu) never rises by 1 below the best fit within
    # [n_sig - 2 (error + 1), n_sig] (it is NaN for mu < 0), so errn = n_on = 2
    stat = WStatCounts(2, 0, 10.0)
    assert stat.errn(1.0) == 2.0
    assert WStatCounts(5, 1, 10.0).errn(5.0) == 5.0


def test_wstat_vectorised_nan():
    stat = WStatCounts([20.0, np.nan], [30.0, 3.0], [0.25, 0.25])
    assert np.isnan(stat.sqrt_ts[1]) and np.isfinite(stat.sqrt_ts[0])
    assert np.isnan(stat.upper_limit(2.0)[1]) and np.isfinite(stat.upper_limit(2.0)[0])


@pytest.mark.parametrize(
    ("args", "name"),
    [((-1, 2, 0.1), "n_on"), ((1, -2, 0.1), "n_off"), ((1, 2, -0.1), "alpha")],
)
def test_wstat_rejects_negative_input(args, name):
    with pytest.raises(StatsError, match=f"{name} must be >= 0"):
        WStatCounts(*args)


def test_wstat_rejects_bad_n_sigma():
    stat = WStatCounts(20, 30, 0.25)
    for method in (stat.errn, stat.errp, stat.upper_limit):
        with pytest.raises(StatsError, match="n_sigma must be a positive number"):
            method(0.0)


# ------------------------------------------------------------------------ fit_gaussian


def test_fit_gaussian():
    mean, sigma, n = fit_gaussian([1.0, 3.0, np.nan, 5.0, 7.0])
    assert (mean, n) == (4.0, 4)
    assert sigma == pytest.approx(math.sqrt(5.0))


def test_fit_gaussian_needs_two_values():
    with pytest.raises(StatsError, match="at least two finite values"):
        fit_gaussian([1.0, np.nan])
