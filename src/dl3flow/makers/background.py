"""Background correction: field-of-view normalisation of one observation's background.

Field-of-view (FoV) normalisation
---------------------------------
:func:`normalize_background` rescales the IRF background of one observation's
dataset with the data themselves, using only pixels inside the safe mask and
outside the exclusion mask (gammapy 1.3's ``FoVBackgroundMaker`` semantics):

``method="scale"``
    ``norm = sum(counts) / sum(background)`` over the usable pixels, error
    ``sqrt(sum(counts)) / sum(background)``; the tilt is 0 (not fitted).
``method="fit"``
    The background model is gammapy's ``FoVBackgroundModel`` with a
    ``PowerLawNormSpectralModel``: ``background * norm * (E / E_ref) ** -tilt``,
    evaluated at the log centre of each reconstructed-energy bin (gammapy
    evaluates the norm model at ``geom.get_coord()``, the bin centres; it does not
    integrate it over the bin). ``norm`` and ``tilt`` (unless ``fit_tilt=False``:
    tilt frozen at 0, as gammapy's default ``pl-norm``) maximise the Poisson
    likelihood, i.e. minimise the Cash statistic ``C = 2 sum(mu - n log mu)``
    over the usable pixels, with ``scipy.optimize.minimize`` (trust-region Newton
    on ``(log norm, tilt)``, where ``C`` is convex). The errors are from the
    curvature: covariance ``= 2 H^-1`` with ``H`` the Hessian of ``C`` in
    ``(norm, tilt)`` at the minimum (what gammapy's ``Fit`` / minuit HESSE returns).
    The model depends on energy only, so ``C`` is evaluated from per-energy-bin
    sums of counts and background; pixels with zero background only add a
    constant to ``C`` (gammapy truncates ``mu`` at 1e-25 there) and are left out.

Guards, in gammapy's order, before any method: the usable region must not be
empty; ``sum(background) > min_npred_background``; ``sum(counts) > min_counts``.
An observation failing a guard gets ``status="skipped"``; one whose fit does not
converge (or whose likelihood has no maximum at finite tilt, or whose curvature
is singular) gets ``status="failed"``; both carry a ``reason``. ``on_failure``
then decides: ``"drop"`` returns no dataset (leave it out of the stack; gammapy
sets the whole safe mask to False instead), ``"keep_unscaled"`` returns the
dataset with its IRF background unchanged. Nothing is silent: the result record
says what happened (``status``, ``reason``, ``action``) and the returned dataset
carries it in its meta (``BKGSTAT``, ``BKGNORM`` ...).

The ring background is in `dl3flow.makers.ring`; it uses this module's
:func:`exclusion_cutout` and :class:`BackgroundError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING

import astropy.units as u
import numpy as np

from dl3flow.datasets.io import DatasetError
from dl3flow.datasets.map import MapDataset
from dl3flow.datasets.stacking import cutout_slices
from dl3flow.maps.geom import SkyGeom

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = [
    "BackgroundError",
    "BackgroundNormResult",
    "BACKGROUND_METHODS",
    "ON_FAILURE",
    "STATUSES",
    "RESULT_COLUMNS",
    "exclusion_cutout",
    "normalize_background",
    "results_table",
]

#: Normalisation methods and failure actions (the schema's ``background.method`` and
#: ``background.on_failure`` enums list the same: ``tests/test_config.py``).
BACKGROUND_METHODS = ("scale", "fit")
ON_FAILURE = ("drop", "keep_unscaled")
#: ``ok``: background normalised; ``skipped``: a guard was not met;
#: ``failed``: the fit did not give a usable result.
STATUSES = ("ok", "skipped", "failed")
#: Columns of :func:`results_table`, in order.
RESULT_COLUMNS = (
    "obs_id",
    "livetime",
    "counts",
    "npred_background",
    "norm",
    "norm_err",
    "tilt",
    "tilt_err",
    "status",
    "reason",
    "method",
    "reference_energy",
    "action",
)


#: Meta keys written by `BackgroundNormResult.to_meta` (stale ones are removed first).
_RESULT_META_KEYS = frozenset(
    {"BKGMETH", "BKGSTAT", "BKGREASN", "BKGACT", "BKGEREF", "BKGNORM", "BKGNERR", "BKGTILT"}
    | {"BKGTERR"}
)


#: Fit convergence: the remaining Newton step must be below 1e-5 sigma.
NEWTON_DECREMENT_TOL = 1e-10


class BackgroundError(ValueError):
    """Invalid options or inputs (not a per-observation failure, which is a status)."""


# ----------------------------------------------------------------------- exclusion


def exclusion_cutout(exclusion, *, parent: SkyGeom, child: SkyGeom) -> np.ndarray:
    """The part of a 2D exclusion mask on ``parent`` that covers ``child``.

    Parameters
    ----------
    exclusion : array_like
        ``(ny, nx)`` bool on ``parent``, True where the pixel may be used.
    parent, child : `~dl3flow.maps.geom.SkyGeom`
        ``child`` must be a pixel-aligned cutout of ``parent``
        (see `dl3flow.datasets.map.cutout_slices`).

    Returns
    -------
    mask : `numpy.ndarray`
        ``child.shape`` bool, a new array.

    Raises
    ------
    BackgroundError
        When the mask does not have ``parent``'s shape or ``child`` is not an
        aligned cutout of ``parent``.
    """
    mask = np.asarray(exclusion)
    if mask.shape != tuple(parent.shape):
        raise BackgroundError(
            f"exclusion mask has shape {mask.shape}, but its geometry has {tuple(parent.shape)}"
        )
    try:
        slices = cutout_slices(parent, child)
    except DatasetError as exc:
        raise BackgroundError(f"exclusion mask does not cover the dataset: {exc}") from exc
    return mask[slices].astype(bool)


def _exclusion_image(exclusion, exclusion_geom: SkyGeom | None, sky: SkyGeom) -> np.ndarray:
    """The exclusion mask on the dataset image ``sky`` (all True for None)."""
    if exclusion is None:
        return np.ones(sky.shape, dtype=bool)
    if exclusion_geom is not None:
        return exclusion_cutout(exclusion, parent=exclusion_geom, child=sky)
    mask = np.asarray(exclusion)
    if mask.shape != tuple(sky.shape):
        raise BackgroundError(
            f"exclusion mask has shape {mask.shape}, but the dataset image is "
            f"{tuple(sky.shape)}; pass exclusion_geom to cut it out of a larger geometry"
        )
    return mask.astype(bool)


# --------------------------------------------------------------------- FoV results


@dataclass(frozen=True)
class BackgroundNormResult:
    """What the FoV normalisation of one observation did.

    Attributes
    ----------
    obs_id : int
        From the dataset meta (``OBS_ID``, or a single-element ``OBS_IDS``); -1 if unknown.
    livetime : float
        s (``LIVETIME`` meta; NaN if absent).
    counts : float
        Counts in the usable pixels (safe and not excluded).
    npred_background : float
        IRF background (before normalisation) in the usable pixels.
    norm, norm_err : float
        Normalisation and its 1-sigma error; NaN unless ``status == "ok"``.
    tilt, tilt_err : float
        Spectral tilt and error; ``tilt`` is 0 and ``tilt_err`` NaN when the tilt
        is not fitted (``scale``, or ``fit_tilt=False``); NaN unless ``status == "ok"``.
    status : {"ok", "skipped", "failed"}
    reason : str
        Empty when ``ok``, else why.
    method : {"scale", "fit"}
    reference_energy : float
        TeV, the tilt's reference energy.
    action : {"scaled", "kept_unscaled", "dropped"}
        What happened to the dataset.
    """

    obs_id: int
    livetime: float
    counts: float
    npred_background: float
    norm: float
    norm_err: float
    tilt: float
    tilt_err: float
    status: str
    reason: str
    method: str
    reference_energy: float
    action: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_meta(self) -> dict:
        """FITS keywords recording the result in a dataset's meta.

        ``BKGMETH``, ``BKGSTAT``, ``BKGREASN`` (reason), ``BKGACT`` (action),
        ``BKGEREF`` (TeV) and, where finite (FITS headers cannot hold NaN),
        ``BKGNORM``, ``BKGNERR``, ``BKGTILT``, ``BKGTERR``.
        """
        meta = {
            "BKGMETH": self.method,
            "BKGSTAT": self.status,
            "BKGREASN": self.reason,
            "BKGACT": self.action,
            "BKGEREF": float(self.reference_energy),
        }
        for key, value in (
            ("BKGNORM", self.norm),
            ("BKGNERR", self.norm_err),
            ("BKGTILT", self.tilt),
            ("BKGTERR", self.tilt_err),
        ):
            if math.isfinite(value):
                meta[key] = float(value)
        return meta


def results_table(results) -> Table:
    """Per-observation table of FoV normalisation results (``background_norms.ecsv``).

    Parameters
    ----------
    results : iterable of `BackgroundNormResult`

    Returns
    -------
    table : `~astropy.table.Table`
        Columns `RESULT_COLUMNS`; ``livetime`` in s, ``reference_energy`` in TeV.
        Empty (with the columns) for no results.
    """
    from astropy.table import Table

    results = list(results)
    for res in results:
        if not isinstance(res, BackgroundNormResult):
            raise BackgroundError(f"expected BackgroundNormResult, got {type(res).__name__}")
    dtypes = {
        "obs_id": np.int64,
        "status": str,
        "reason": str,
        "method": str,
        "action": str,
    }
    table = Table()
    for name in RESULT_COLUMNS:
        values = [getattr(r, name) for r in results]
        dtype = dtypes.get(name, np.float64)
        if dtype is str:
            table[name] = np.asarray(values, dtype=str) if values else np.zeros(0, dtype="U1")
        else:
            table[name] = np.asarray(values, dtype=dtype)
    table["livetime"].unit = "s"
    table["reference_energy"].unit = "TeV"
    table.meta["description"] = "FoV background normalisation per observation (dl3flow)"
    return table


# ------------------------------------------------------------------------- FoV core


def _obs_id(meta: dict) -> int:
    if "OBS_ID" in meta:
        return int(meta["OBS_ID"])
    ids = meta.get("OBS_IDS")
    if ids is not None and len(ids) == 1:
        return int(ids[0])
    return -1


def _energy_value(value, what: str) -> float:
    try:
        out = float(u.Quantity(value, "TeV").value)
    except (u.UnitConversionError, TypeError, ValueError) as exc:
        raise BackgroundError(f"{what}: expected an energy, got {value!r}") from exc
    if not (np.isfinite(out) and out > 0):
        raise BackgroundError(f"{what} must be positive, got {value!r}")
    return out


@dataclass(frozen=True)
class _FitOutcome:
    norm: float
    norm_err: float
    tilt: float
    tilt_err: float
    reason: str  # empty if ok


def _fit_failure(reason: str) -> _FitOutcome:
    return _FitOutcome(math.nan, math.nan, math.nan, math.nan, reason)


def _tilt_unconstrained(n: np.ndarray, x: np.ndarray, n_tot: float) -> str:
    """Why these per-energy sums cannot constrain the tilt; empty if they can."""
    if np.unique(x).size < 2:
        return "tilt is not constrained: predicted background in a single energy bin"
    # The likelihood has a maximum at finite tilt only if the counts' mean log
    # energy lies strictly inside the range spanned by the background.
    mean_x = float(np.sum(n * x) / n_tot)
    span = x.max() - x.min()
    if mean_x <= x.min() + 1e-9 * span or mean_x >= x.max() - 1e-9 * span:
        edge = "lowest" if mean_x <= x.min() + 1e-9 * span else "highest"
        return (
            f"likelihood has no maximum at finite tilt: all counts are in the {edge} "
            "energy bin with predicted background"
        )
    return ""


def _cash(p, *, n, b, x, fit_tilt: bool):
    """F = C / 2 (minus constants) and its gradient in p = (a = log norm, tilt): convex."""
    a, t = p[0], (p[1] if fit_tilt else 0.0)
    with np.errstate(over="ignore"):
        mu = b * np.exp(a - t * x)
    r = mu - n
    value = float(np.sum(mu - n * (a - t * x)))
    grad = [np.sum(r)]
    if fit_tilt:
        grad.append(-np.sum(x * r))
    return value, np.asarray(grad, dtype=float)


def _cash_hessian(p, *, b, x, fit_tilt: bool) -> np.ndarray:
    """The Hessian of `_cash` in p."""
    a, t = p[0], (p[1] if fit_tilt else 0.0)
    with np.errstate(over="ignore"):
        mu = b * np.exp(a - t * x)
    if not fit_tilt:
        return np.array([[np.sum(mu)]])
    h_at = -np.sum(x * mu)
    return np.array([[np.sum(mu), h_at], [h_at, np.sum(x * x * mu)]])


def _polish(p: np.ndarray, fun, hess) -> np.ndarray:
    """``p`` after up to three Newton steps on the convex F."""
    for _ in range(3):
        try:
            step = np.linalg.solve(hess(p), fun(p)[1])
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)):
            break
        p = p - step
    return p


def _fit_outcome(p: np.ndarray, fun, hess, *, fit_tilt: bool, nit, message: str) -> _FitOutcome:
    """Norm, tilt and their errors at ``p``, or why ``p`` is not a usable optimum."""
    h = hess(p)
    try:
        cov = np.linalg.inv(h)
    except np.linalg.LinAlgError:
        return _fit_failure("fit curvature is singular: errors undefined")
    # Converged when the remaining Newton step is negligible in units of the
    # errors: g^T H^-1 g is the squared step length in sigma. (scipy's own flag can
    # be False at the optimum when the statistic no longer changes in float64.)
    grad = fun(p)[1]
    decrement = float(grad @ cov @ grad)
    if not (np.isfinite(decrement) and decrement < NEWTON_DECREMENT_TOL):
        return _fit_failure(
            f"fit did not converge after {nit} iterations (remaining step "
            f"{math.sqrt(abs(decrement)):.2g} sigma): {message}"
        )
    a = float(p[0])
    tilt = float(p[1]) if fit_tilt else 0.0
    norm = math.exp(a)
    # covariance of (norm, tilt) = 2 * inverse Hessian of C = inverse Hessian of F,
    # transformed from (log norm, tilt): var(norm) = norm^2 var(a)
    diag = np.diag(cov)
    if not (np.all(np.isfinite(diag)) and np.all(diag > 0)):
        return _fit_failure("fit curvature is not positive definite: errors undefined")
    norm_err = norm * math.sqrt(diag[0])
    tilt_err = math.sqrt(diag[1]) if fit_tilt else math.nan
    return _FitOutcome(norm, norm_err, tilt, tilt_err, "")


def _fit_norm_tilt(
    n: np.ndarray, b: np.ndarray, x: np.ndarray, *, fit_tilt: bool, max_iterations: int
) -> _FitOutcome:
    """Minimise Cash for ``mu_E = b_E * norm * exp(-tilt * x_E)`` (per energy bin sums).

    ``x = log(E / E_ref)``; ``b > 0`` for every bin passed.
    """
    from scipy.optimize import minimize

    n_tot = float(n.sum())
    if fit_tilt:
        reason = _tilt_unconstrained(n, x, n_tot)
        if reason:
            return _fit_failure(reason)
    fun = partial(_cash, n=n, b=b, x=x, fit_tilt=fit_tilt)
    hess = partial(_cash_hessian, b=b, x=x, fit_tilt=fit_tilt)
    x0 = np.zeros(2 if fit_tilt else 1)
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            res = minimize(
                fun,
                x0,
                jac=True,
                hess=hess,
                method="trust-exact",
                options={"gtol": 1e-9 * max(n_tot, 1.0), "maxiter": int(max_iterations)},
            )
    except (ValueError, np.linalg.LinAlgError, FloatingPointError) as exc:
        return _fit_failure(f"fit did not converge: {exc}")
    message = str(res.message).strip().rstrip(".")
    p = np.asarray(res.x, dtype=float)
    if not np.all(np.isfinite(p)):
        return _fit_failure(f"fit did not converge after {res.nit} iterations: {message}")
    if res.status in (0, 2):  # converged, or stopped as F no longer changes in float64
        # polish: trust-exact may stop ~1e-8 short of the optimum (status 2);
        # Newton steps on the convex F finish the job. (Not after the iteration
        # limit, status 1: that stays a failure.)
        p = _polish(p, fun, hess)
    return _fit_outcome(p, fun, hess, fit_tilt=fit_tilt, nit=res.nit, message=message)


def normalize_background(
    dataset: MapDataset,
    exclusion=None,
    *,
    exclusion_geom: SkyGeom | None = None,
    method: str = "scale",
    min_counts: float = 0,
    min_npred_background: float = 0,
    reference_energy=1.0 * u.TeV,
    fit_tilt: bool = True,
    on_failure: str = "drop",
    max_iterations: int = 100,
) -> tuple[MapDataset | None, BackgroundNormResult]:
    """Normalise one observation's IRF background outside the exclusion mask.

    Parameters
    ----------
    dataset : `~dl3flow.datasets.map.MapDataset`
        One observation's dataset (its ``mask_safe`` applied).
    exclusion : array_like, optional
        2D bool mask, True where the pixel may be used for the normalisation;
        on the dataset's image, or on ``exclusion_geom`` of which the dataset is a
        cutout. None: nothing excluded.
    exclusion_geom : `~dl3flow.maps.geom.SkyGeom`, optional
        Geometry of ``exclusion`` when it is not the dataset's.
    method : {"scale", "fit"}
    min_counts, min_npred_background : float
        The counts and the predicted background in the usable pixels must be
        strictly greater than these (gammapy's guards).
    reference_energy : `~astropy.units.Quantity` or float
        Reference energy of the tilt (float: TeV).
    fit_tilt : bool
        ``fit`` only: fit the tilt (True) or keep it frozen at 0.
    on_failure : {"drop", "keep_unscaled"}
        What to return when the status is not ``ok`` (default: the analysis
        default, drop).
    max_iterations : int
        Iteration limit of the fit.

    Returns
    -------
    dataset : `~dl3flow.datasets.map.MapDataset` or None
        A new dataset with the background multiplied by
        ``norm * (E / reference_energy) ** -tilt`` (``ok``), the input's content
        unchanged (``keep_unscaled``), or None (``drop``). Its meta records the
        result (`BackgroundNormResult.to_meta`).
    result : `BackgroundNormResult`

    Raises
    ------
    BackgroundError
        For invalid options, or an exclusion mask that does not fit the dataset.
        (A failure of the normalisation itself is a status, never an exception.)
    """
    e_ref = _check_norm_options(
        dataset,
        method=method,
        on_failure=on_failure,
        min_counts=min_counts,
        min_npred_background=min_npred_background,
        max_iterations=max_iterations,
        reference_energy=reference_energy,
    )
    excl = _exclusion_image(exclusion, exclusion_geom, dataset.geom.sky)
    background = dataset.background
    usable = dataset.mask_safe & excl[np.newaxis] & np.isfinite(background)
    ctx = _Normalisation(
        dataset=dataset,
        usable=usable,
        counts=float(dataset.counts[usable].sum()),
        npred_background=float(background[usable].sum()),
        method=method,
        reference_energy=e_ref,
        on_failure=on_failure,
    )
    res = _skipped(ctx, min_counts=min_counts, min_npred_background=min_npred_background)
    if res is None and method == "scale":
        res = _scaled(ctx)
    elif res is None:
        res = _fitted(ctx, fit_tilt=fit_tilt, max_iterations=max_iterations)
    return _normalised_dataset(ctx, res), res


def _check_norm_options(
    dataset,
    *,
    method,
    on_failure,
    min_counts,
    min_npred_background,
    max_iterations,
    reference_energy,
) -> float:
    """Check the options of :func:`normalize_background`; the reference energy in TeV."""
    if not isinstance(dataset, MapDataset):
        raise BackgroundError(f"dataset must be a MapDataset, got {type(dataset).__name__}")
    if method not in BACKGROUND_METHODS:
        raise BackgroundError(f"method must be one of {BACKGROUND_METHODS}, got {method!r}")
    if on_failure not in ON_FAILURE:
        raise BackgroundError(f"on_failure must be one of {ON_FAILURE}, got {on_failure!r}")
    for name, value in (("min_counts", min_counts), ("min_npred_background", min_npred_background)):
        if not (np.isfinite(value) and value >= 0):
            raise BackgroundError(f"{name} must be a non-negative number, got {value!r}")
    if int(max_iterations) != max_iterations or max_iterations < 1:
        raise BackgroundError(f"max_iterations must be a positive integer, got {max_iterations!r}")
    return _energy_value(reference_energy, "reference_energy")


@dataclass(frozen=True, eq=False)
class _Normalisation:
    """One observation's normalisation: its usable pixels, their totals and the options."""

    dataset: MapDataset
    usable: np.ndarray
    counts: float
    npred_background: float
    method: str
    reference_energy: float
    on_failure: str

    def result(
        self, status, reason, norm=math.nan, norm_err=math.nan, tilt=math.nan, tilt_err=math.nan
    ) -> BackgroundNormResult:
        """The result record with this status, and the action ``on_failure`` implies."""
        if status == "ok":
            action = "scaled"
        else:
            action = "dropped" if self.on_failure == "drop" else "kept_unscaled"
        return BackgroundNormResult(
            obs_id=_obs_id(self.dataset.meta),
            livetime=float(self.dataset.meta.get("LIVETIME", math.nan)),
            counts=self.counts,
            npred_background=self.npred_background,
            norm=norm,
            norm_err=norm_err,
            tilt=tilt,
            tilt_err=tilt_err,
            status=status,
            reason=reason,
            method=self.method,
            reference_energy=self.reference_energy,
            action=action,
        )


def _skipped(
    ctx: _Normalisation, *, min_counts, min_npred_background
) -> BackgroundNormResult | None:
    """The ``skipped`` result of the first guard (gammapy's order) not met; None if all are."""
    counts_tot, bkg_tot = ctx.counts, ctx.npred_background
    if not ctx.usable.any():
        reason = "no pixel inside the safe mask and outside the exclusion mask"
        return ctx.result("skipped", reason)
    if not bkg_tot > min_npred_background:
        return ctx.result(
            "skipped",
            f"predicted background outside the exclusion is {bkg_tot:.6g} "
            f"(must be > min_npred_background = {min_npred_background:g})",
        )
    if not counts_tot > min_counts:
        return ctx.result(
            "skipped",
            f"{counts_tot:.0f} counts outside the exclusion "
            f"(must be > min_counts = {min_counts:g})",
        )
    return None


def _scaled(ctx: _Normalisation) -> BackgroundNormResult:
    """``method="scale"``: counts over predicted background, tilt 0 (not fitted)."""
    counts_tot, bkg_tot = ctx.counts, ctx.npred_background
    norm_err = math.sqrt(counts_tot) / bkg_tot
    return ctx.result("ok", "", counts_tot / bkg_tot, norm_err, 0.0, math.nan)


def _fitted(ctx: _Normalisation, *, fit_tilt: bool, max_iterations: int) -> BackgroundNormResult:
    """``method="fit"``: the norm (and tilt) fitted to the per-energy-bin sums."""
    dataset, usable = ctx.dataset, ctx.usable
    n_e = np.where(usable, dataset.counts, 0.0).sum(axis=(1, 2))
    b_e = np.where(usable, dataset.background, 0.0).sum(axis=(1, 2))
    x_e = np.log(dataset.geom.energy.centers / ctx.reference_energy)
    has_bkg = b_e > 0
    outcome = _fit_norm_tilt(
        n_e[has_bkg],
        b_e[has_bkg],
        x_e[has_bkg],
        fit_tilt=fit_tilt,
        max_iterations=max_iterations,
    )
    if outcome.reason:
        return ctx.result("failed", outcome.reason)
    return ctx.result("ok", "", outcome.norm, outcome.norm_err, outcome.tilt, outcome.tilt_err)


def _normalised_dataset(ctx: _Normalisation, res: BackgroundNormResult) -> MapDataset | None:
    """The dataset ``res`` says to return: scaled, unscaled or None; its meta records ``res``."""
    dataset = ctx.dataset
    meta = {k: v for k, v in dataset.meta.items() if k not in _RESULT_META_KEYS}
    meta.update(res.to_meta())
    if res.ok:
        factor = res.norm * (dataset.geom.energy.centers / ctx.reference_energy) ** -res.tilt
        return replace(dataset, background=dataset.background * factor[:, None, None], meta=meta)
    if ctx.on_failure == "keep_unscaled":
        return replace(dataset, meta=meta)
    return None
