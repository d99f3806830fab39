"""Counting statistics: Cash (known background) and WStat / Li & Ma (on-off).

The definitions, sign conventions and edge cases are those of gammapy 1.3's
``CashCountsStatistic`` and ``WStatCountsStatistic`` (``gammapy.stats``):

- ``ts = max(stat_null - stat_max, 0)`` where ``stat_null`` is the fit statistic
  without signal and ``stat_max`` the one at the best-fit signal ``n_sig``;
- ``sqrt_ts = sign(n_sig) * sqrt(ts)``: the significance carries the sign of the
  excess (``sign(0) = 0``);
- ``error`` is the symmetric (covariance) error on the excess:
  ``sqrt(n_on)`` for Cash and ``sqrt(n_on + alpha**2 n_off)`` for WStat;
- ``errn`` / ``errp`` are the distances from ``n_sig`` to where the statistic rises
  by ``n_sigma**2`` below / above it, and ``upper_limit(n_sigma)`` is the signal
  where it rises by ``n_sigma**2`` above the best fit.

Cash: ``cash(n, mu) = 2 (mu - n log mu)`` with ``mu`` truncated at
:data:`TRUNCATION_VALUE` (1e-25), so ``mu_bkg -> 0`` gives a large but finite TS.
The Cash errors and upper limit are closed-form (Lambert W), as in gammapy; for
``n_on = 0`` gammapy returns ``errn = 0``, ``errp = n_sigma**2 / 2`` and
``upper_limit = n_sigma**2 / 2`` (not shifted by the negative excess), and so
does this module.

WStat: Poisson on and off counts with the background profiled out
(:func:`wstat`, with the goodness-of-fit terms). Its TS is the square of Li & Ma
(1983) eq. 17 for both signs of the excess. The WStat errors and upper limit have
no closed form; gammapy runs ``brentq`` pixel by pixel in the bracket
``[n_sig - 2 n_sigma (error + 1), n_sig]`` (errn), ``[n_sig, n_sig + 2 n_sigma
(error + 1)]`` (errp, upper limit). Here a vectorised bisection on the same
brackets finds the same roots (to ~1e-12); where the bracket holds no sign change
the result is NaN, and ``errn`` falls back to ``n_on``, as in gammapy.

All functions are vectorised and accept arrays of any (broadcastable) shape;
NaN inputs give NaN outputs (used for pixels outside a mask).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import erfc, lambertw

__all__ = [
    "TRUNCATION_VALUE",
    "StatsError",
    "cash",
    "wstat",
    "wstat_mu_bkg",
    "CashCounts",
    "WStatCounts",
    "cash_significance",
    "wstat_significance",
    "fit_gaussian",
]

#: Smallest expected count used in :func:`cash` (gammapy's ``TRUNCATION_VALUE``).
TRUNCATION_VALUE = 1e-25

#: Bisection stops when the bracket is below ``_XTOL + _RTOL * |root|`` (brentq's defaults).
_XTOL = 2e-12
_RTOL = 4 * np.finfo(float).eps
_MAX_ITER = 200


class StatsError(ValueError):
    """Invalid input to a counts statistic."""


def _array(value, name: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        if np.any(array < 0):
            raise StatsError(
                f"{name} must be >= 0 (NaN allowed), got a minimum of {np.nanmin(array)}"
            )
    return array


def _check_n_sigma(n_sigma) -> float:
    n_sigma = float(n_sigma)
    if not np.isfinite(n_sigma) or n_sigma <= 0:
        raise StatsError(f"n_sigma must be a positive number, got {n_sigma}")
    return n_sigma


def cash(n_on, mu_on, *, truncation_value: float = TRUNCATION_VALUE) -> np.ndarray:
    """Cash statistic ``2 (mu - n log mu)``, ``mu`` truncated at ``truncation_value``.

    Parameters
    ----------
    n_on : array_like
        Observed counts.
    mu_on : array_like
        Expected counts.
    truncation_value : float
        Expected counts below this value are replaced by it (gammapy: 1e-25).

    Returns
    -------
    stat : `numpy.ndarray`

    Raises
    ------
    StatsError
        If ``truncation_value`` is not positive.
    """
    if not truncation_value > 0:
        raise StatsError(f"truncation_value must be positive, got {truncation_value}")
    n_on = np.asarray(n_on, dtype=np.float64)
    mu_on = np.asarray(mu_on, dtype=np.float64)
    mu_on = np.where(mu_on <= truncation_value, truncation_value, mu_on)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2.0 * (mu_on - n_on * np.log(mu_on))


def wstat_mu_bkg(n_on, n_off, alpha, mu_sig) -> np.ndarray:
    """Profile-likelihood background ``mu_bkg`` of WStat (gammapy ``get_wstat_mu_bkg``)."""
    n_on, n_off, alpha, mu_sig = (
        np.asarray(v, dtype=np.float64) for v in (n_on, n_off, alpha, mu_sig)
    )
    c = alpha * (n_on + n_off) - (1 + alpha) * mu_sig
    d = np.sqrt(c**2 + 4 * alpha * (alpha + 1) * n_off * mu_sig)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (c + d) / (2 * alpha * (alpha + 1))


def wstat(n_on, n_off, alpha, mu_sig) -> np.ndarray:
    """WStat (Poisson on and off counts, background profiled out), as gammapy's ``wstat``.

    Includes the goodness-of-fit terms ``2 (n log n - n)`` for on and off counts,
    so that the statistic is zero at the best fit when ``n_on >= alpha n_off``.
    Terms multiplied by ``n_on = 0`` or ``n_off = 0`` are dropped.

    Parameters
    ----------
    n_on, n_off : array_like
        On and off counts.
    alpha : array_like
        On/off acceptance ratio.
    mu_sig : array_like
        Expected signal counts in the on region.

    Returns
    -------
    stat : `numpy.ndarray`
    """
    n_on, n_off, alpha, mu_sig = (
        np.asarray(v, dtype=np.float64) for v in (n_on, n_off, alpha, mu_sig)
    )
    mu_bkg = wstat_mu_bkg(n_on, n_off, alpha, mu_sig)
    term1 = mu_sig + (1 + alpha) * mu_bkg
    with np.errstate(divide="ignore", invalid="ignore"):
        term2 = np.where(n_on == 0, 0.0, -n_on * np.log(mu_sig + alpha * mu_bkg))
        term3 = np.where(n_off == 0, 0.0, -n_off * np.log(mu_bkg))
        gof_on = np.where(n_on == 0, 0.0, -n_on * (1 - np.log(n_on)))
        gof_off = np.where(n_off == 0, 0.0, -n_off * (1 - np.log(n_off)))
    return 2 * (term1 + term2 + term3) + 2 * (gof_on + gof_off)


def _bisect(fun, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Roots of ``fun`` in ``[lower, upper]``, element-wise; NaN without a sign change.

    ``fun(x, index)`` evaluates the function for the elements ``index`` (a flat
    index array) at ``x``. As ``brentq``: an end point where the function is exactly
    zero is returned as the root.
    """
    lower = np.asarray(lower, dtype=np.float64).ravel()
    upper = np.asarray(upper, dtype=np.float64).ravel()
    index = np.arange(lower.size)
    f_lo = fun(lower, index)
    f_hi = fun(upper, index)
    roots = np.full(lower.size, np.nan)
    with np.errstate(invalid="ignore"):
        roots[f_lo == 0] = lower[f_lo == 0]
        at_upper = (f_hi == 0) & (f_lo != 0)
        roots[at_upper] = upper[at_upper]
        todo = np.isfinite(f_lo) & np.isfinite(f_hi) & (np.sign(f_lo) * np.sign(f_hi) < 0)
    idx = index[todo]
    lo, hi, flo = lower[todo], upper[todo], f_lo[todo]
    for _ in range(_MAX_ITER):
        if idx.size == 0:
            break
        mid = 0.5 * (lo + hi)
        f_mid = fun(mid, idx)
        same = np.sign(f_mid) == np.sign(flo)
        exact = f_mid == 0
        lo = np.where(same, mid, lo)
        flo = np.where(same, f_mid, flo)
        hi = np.where(same, hi, mid)
        done = exact | (np.abs(hi - lo) <= _XTOL + _RTOL * np.abs(mid))
        roots[idx[done]] = np.where(exact[done], mid[done], 0.5 * (lo[done] + hi[done]))
        keep = ~done
        idx, lo, hi, flo = idx[keep], lo[keep], hi[keep], flo[keep]
    return roots


class _Counts:
    """Shared definitions of the two statistics (see the module docstring)."""

    @property
    def excess(self) -> np.ndarray:
        """Excess ``n_on - n_bkg`` (gammapy ``n_sig``)."""
        return self.n_on - self.n_bkg

    @property
    def ts(self) -> np.ndarray:
        """Test statistic ``max(stat_null - stat_max, 0)``."""
        with np.errstate(invalid="ignore"):
            return np.clip(self.stat_null - self.stat_max, 0, None)

    @property
    def sqrt_ts(self) -> np.ndarray:
        """Significance: ``sign(excess) * sqrt(ts)``."""
        return np.sign(self.excess) * np.sqrt(self.ts)

    @property
    def p_value(self) -> np.ndarray:
        """One-sided p-value ``chi2.sf(ts, 1) / 2 = erfc(sqrt(ts / 2)) / 2``."""
        return 0.5 * erfc(np.sqrt(self.ts / 2))


@dataclass(frozen=True, eq=False)
class CashCounts(_Counts):
    """Poisson counts ``n_on`` on a known background ``mu_bkg`` (Cash statistic).

    Parameters
    ----------
    n_on : array_like
        Measured counts (>= 0 or NaN).
    mu_bkg : array_like
        Known background counts; values <= 1e-25 are truncated to 1e-25.

    Raises
    ------
    StatsError
        If ``n_on`` has negative values.
    """

    n_on: np.ndarray
    mu_bkg: np.ndarray

    def __post_init__(self):
        n_on = _array(self.n_on, "n_on")
        mu_bkg = np.asarray(self.mu_bkg, dtype=np.float64)
        n_on, mu_bkg = np.broadcast_arrays(n_on, mu_bkg)
        object.__setattr__(self, "n_on", n_on)
        object.__setattr__(self, "mu_bkg", mu_bkg)

    @property
    def n_bkg(self) -> np.ndarray:
        return self.mu_bkg

    @property
    def error(self) -> np.ndarray:
        """Symmetric error on the excess, ``sqrt(n_on)``."""
        return np.sqrt(self.n_on)

    @property
    def stat_null(self) -> np.ndarray:
        return cash(self.n_on, self.mu_bkg)

    @property
    def stat_max(self) -> np.ndarray:
        return cash(self.n_on, self.n_on)

    def _lambert(self, n_sigma: float, branch: int) -> tuple[np.ndarray, np.ndarray, float]:
        c = _check_n_sigma(n_sigma) ** 2 / 2
        on = self.n_on
        positive = on > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            w = lambertw(-np.exp(-c / np.where(positive, on, 1.0) - 1), k=branch).real
        return on * (w + 1), positive, c

    def errn(self, n_sigma: float = 1.0) -> np.ndarray:
        """Downward excess error: ``n_on (W_0(-exp(-c/n_on - 1)) + 1)``, ``c = n_sigma**2 / 2``.

        0 where ``n_on = 0``.
        """
        value, positive, _ = self._lambert(n_sigma, 0)
        return np.where(positive, value, np.where(np.isnan(self.n_on), np.nan, 0.0))

    def errp(self, n_sigma: float = 1.0) -> np.ndarray:
        """Upward excess error: ``-n_on (W_-1(-exp(-c/n_on - 1)) + 1)``; ``c`` if ``n_on = 0``."""
        value, positive, c = self._lambert(n_sigma, -1)
        return np.where(positive, -value, np.where(np.isnan(self.n_on), np.nan, c))

    def upper_limit(self, n_sigma: float = 3.0) -> np.ndarray:
        """Upper limit on the signal: ``excess + errp(n_sigma)``; ``c`` if ``n_on = 0``."""
        value, positive, c = self._lambert(n_sigma, -1)
        return np.where(positive, -value + self.excess, np.where(np.isnan(self.n_on), np.nan, c))


@dataclass(frozen=True, eq=False)
class WStatCounts(_Counts):
    """On and off Poisson counts with an unknown background (WStat, Li & Ma).

    Parameters
    ----------
    n_on : array_like
        Counts in the on region (>= 0 or NaN).
    n_off : array_like
        Counts in the off region (>= 0 or NaN).
    alpha : array_like
        Ratio of on to off acceptance (>= 0 or NaN); the background is ``alpha * n_off``.

    Raises
    ------
    StatsError
        If any input has negative values.
    """

    n_on: np.ndarray
    n_off: np.ndarray
    alpha: np.ndarray

    def __post_init__(self):
        arrays = np.broadcast_arrays(
            _array(self.n_on, "n_on"), _array(self.n_off, "n_off"), _array(self.alpha, "alpha")
        )
        for name, array in zip(("n_on", "n_off", "alpha"), arrays, strict=True):
            object.__setattr__(self, name, array)

    @property
    def n_bkg(self) -> np.ndarray:
        """Background estimate ``alpha * n_off``."""
        return self.alpha * self.n_off

    @property
    def error(self) -> np.ndarray:
        """Symmetric error on the excess, ``sqrt(n_on + alpha**2 n_off)``."""
        return np.sqrt(self.n_on + self.alpha**2 * self.n_off)

    @property
    def stat_null(self) -> np.ndarray:
        return wstat(self.n_on, self.n_off, self.alpha, 0.0)

    @property
    def stat_max(self) -> np.ndarray:
        return wstat(self.n_on, self.n_off, self.alpha, self.excess)

    def _stat(self, mu: np.ndarray, index: np.ndarray) -> np.ndarray:
        n_on, n_off, alpha = (a.ravel()[index] for a in (self.n_on, self.n_off, self.alpha))
        return wstat(n_on, n_off, alpha, mu)

    def _root(self, lower, upper, level) -> np.ndarray:
        level = np.ravel(level)

        def fun(mu, index):
            return self._stat(mu, index) - level[index]

        return _bisect(fun, lower, upper).reshape(self.n_on.shape)

    def errn(self, n_sigma: float = 1.0) -> np.ndarray:
        """Downward excess error; ``n_on`` where no root is bracketed (as gammapy)."""
        n_sigma = _check_n_sigma(n_sigma)
        n_sig = self.excess
        lower = n_sig - 2 * n_sigma * (self.error + 1)
        root = self._root(lower, n_sig, self.stat_max + n_sigma**2)
        return np.where(np.isnan(root), self.n_on, n_sig - root)

    def errp(self, n_sigma: float = 1.0) -> np.ndarray:
        """Upward excess error; NaN where no root is bracketed."""
        n_sigma = _check_n_sigma(n_sigma)
        n_sig = self.excess
        upper = n_sig + 2 * n_sigma * (self.error + 1)
        return self._root(n_sig, upper, self.stat_max + n_sigma**2) - n_sig

    def upper_limit(self, n_sigma: float = 3.0) -> np.ndarray:
        """Upper limit on the signal; NaN where no root is bracketed."""
        n_sigma = _check_n_sigma(n_sigma)
        n_sig = self.excess
        upper = n_sig + 2 * n_sigma * (self.error + 1)
        ts_ref = wstat(self.n_on, self.n_off, self.alpha, n_sig)
        return self._root(n_sig, upper, ts_ref + n_sigma**2)


def cash_significance(n_on, mu_bkg) -> np.ndarray:
    """Signed Cash significance of ``n_on`` counts on a known background ``mu_bkg``."""
    return CashCounts(n_on, mu_bkg).sqrt_ts


def wstat_significance(n_on, n_off, alpha) -> np.ndarray:
    """Signed WStat significance (Li & Ma 1983 eq. 17 with the sign of the excess)."""
    return WStatCounts(n_on, n_off, alpha).sqrt_ts


def fit_gaussian(values) -> tuple[float, float, int]:
    """Maximum-likelihood Gaussian of a sample: mean, width (``std``, ddof 0) and size.

    The fit used for significance distributions (as ``scipy.stats.norm.fit``);
    non-finite values are ignored.

    Raises
    ------
    StatsError
        If fewer than two finite values remain.
    """
    values = np.asarray(values, dtype=float).ravel()
    values = values[np.isfinite(values)]
    if values.size < 2:
        raise StatsError(f"fit_gaussian needs at least two finite values, got {values.size}")
    return float(values.mean()), float(values.std()), int(values.size)
