"""Background correction: field-of-view normalisation and ring background.

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

Ring background
---------------
:func:`ring_background` replicates gammapy 1.3's ``RingBackgroundMaker`` on a
(stacked) dataset: the counts and background are summed over reconstructed energy
inside the safe mask (``MapDataset.to_image``; or per energy band), then
``counts_off`` = ring kernel (astropy ``Ring2DKernel(r_in, width)`` in pixels of
the longitude pixel size, peak-normalised, i.e. 1 inside the ring) convolved with
the exclusion-masked counts, ``acceptance`` = background, ``acceptance_off`` = the
ring convolved with the exclusion-masked background, and the safe mask is cleared
where ``acceptance_off <= 0``. Convolution is FFT-based like gammapy's
(``scipy.signal.convolve(method="fft", mode="same")``), in float64 (gammapy: float32);
``counts_off`` is rounded to integers (it is a sum of integers) and
``acceptance_off`` is exactly 0 where the ring holds no background.

Off counts are correlated once only. In gammapy 1.3 the ring maker correlates
them once; the double correlation happens downstream, in
``ExcessMapEstimator(correlate_off=True)`` (its default), which convolves the ring
``counts_off`` again with the correlation kernel (gammapy issue #5245 and the note
in the estimator's docstring). The estimate for an on-off dataset from this
module must therefore correlate only the on quantities: ``n_on`` and
``acceptance`` summed over the correlation circle, ``n_off`` left as is, i.e.
gammapy's ``correlate_off=False``:
``alpha = conv(acceptance) / acceptance_off``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import astropy.units as u
import numpy as np
from astropy.utils.exceptions import AstropyUserWarning

from dl3flow.datasets.io import DatasetError
from dl3flow.datasets.map import MapDataset
from dl3flow.datasets.onoff import MapDatasetOnOff
from dl3flow.datasets.stacking import cutout_slices
from dl3flow.maps.geom import DatasetGeom, EnergyAxis, SkyGeom

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
    "ring_kernel",
    "ring_background",
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
        (see `dl3flow.datasets.stacking.cutout_slices`).

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


def _fit_norm_tilt(
    n: np.ndarray, b: np.ndarray, x: np.ndarray, *, fit_tilt: bool, max_iterations: int
) -> _FitOutcome:
    """Minimise Cash for ``mu_E = b_E * norm * exp(-tilt * x_E)`` (per energy bin sums).

    ``x = log(E / E_ref)``; ``b > 0`` for every bin passed.
    """
    from scipy.optimize import minimize

    n_tot = float(n.sum())
    if fit_tilt:
        if np.unique(x).size < 2:
            return _fit_failure(
                "tilt is not constrained: predicted background in a single energy bin"
            )
        # The likelihood has a maximum at finite tilt only if the counts' mean log
        # energy lies strictly inside the range spanned by the background.
        mean_x = float(np.sum(n * x) / n_tot)
        span = x.max() - x.min()
        if mean_x <= x.min() + 1e-9 * span or mean_x >= x.max() - 1e-9 * span:
            edge = "lowest" if mean_x <= x.min() + 1e-9 * span else "highest"
            return _fit_failure(
                f"likelihood has no maximum at finite tilt: all counts are in the {edge} "
                "energy bin with predicted background"
            )

    # F = C / 2 (minus constants) in p = (a = log norm, tilt): convex
    def fun(p):
        a, t = p[0], (p[1] if fit_tilt else 0.0)
        with np.errstate(over="ignore"):
            mu = b * np.exp(a - t * x)
        r = mu - n
        value = float(np.sum(mu - n * (a - t * x)))
        grad = [np.sum(r)]
        if fit_tilt:
            grad.append(-np.sum(x * r))
        return value, np.asarray(grad, dtype=float)

    def hess(p):
        a, t = p[0], (p[1] if fit_tilt else 0.0)
        with np.errstate(over="ignore"):
            mu = b * np.exp(a - t * x)
        if not fit_tilt:
            return np.array([[np.sum(mu)]])
        h_at = -np.sum(x * mu)
        return np.array([[np.sum(mu), h_at], [h_at, np.sum(x * x * mu)]])

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
        for _ in range(3):
            try:
                step = np.linalg.solve(hess(p), fun(p)[1])
            except np.linalg.LinAlgError:
                break
            if not np.all(np.isfinite(step)):
                break
            p = p - step
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
            f"fit did not converge after {res.nit} iterations (remaining step "
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
    e_ref = _energy_value(reference_energy, "reference_energy")

    excl = _exclusion_image(exclusion, exclusion_geom, dataset.geom.sky)
    background = dataset.background
    usable = dataset.mask_safe & excl[np.newaxis] & np.isfinite(background)
    counts_tot = float(dataset.counts[usable].sum())
    bkg_tot = float(background[usable].sum())

    def result(status, reason, norm=math.nan, norm_err=math.nan, tilt=math.nan, tilt_err=math.nan):
        if status == "ok":
            action = "scaled"
        else:
            action = "dropped" if on_failure == "drop" else "kept_unscaled"
        return BackgroundNormResult(
            obs_id=_obs_id(dataset.meta),
            livetime=float(dataset.meta.get("LIVETIME", math.nan)),
            counts=counts_tot,
            npred_background=bkg_tot,
            norm=norm,
            norm_err=norm_err,
            tilt=tilt,
            tilt_err=tilt_err,
            status=status,
            reason=reason,
            method=method,
            reference_energy=e_ref,
            action=action,
        )

    if not usable.any():
        res = result("skipped", "no pixel inside the safe mask and outside the exclusion mask")
    elif not bkg_tot > min_npred_background:
        res = result(
            "skipped",
            f"predicted background outside the exclusion is {bkg_tot:.6g} "
            f"(must be > min_npred_background = {min_npred_background:g})",
        )
    elif not counts_tot > min_counts:
        res = result(
            "skipped",
            f"{counts_tot:.0f} counts outside the exclusion "
            f"(must be > min_counts = {min_counts:g})",
        )
    elif method == "scale":
        norm = counts_tot / bkg_tot
        res = result("ok", "", norm, math.sqrt(counts_tot) / bkg_tot, 0.0, math.nan)
    else:
        n_e = np.where(usable, dataset.counts, 0.0).sum(axis=(1, 2))
        b_e = np.where(usable, background, 0.0).sum(axis=(1, 2))
        x_e = np.log(dataset.geom.energy.centers / e_ref)
        has_bkg = b_e > 0
        outcome = _fit_norm_tilt(
            n_e[has_bkg],
            b_e[has_bkg],
            x_e[has_bkg],
            fit_tilt=fit_tilt,
            max_iterations=max_iterations,
        )
        if outcome.reason:
            res = result("failed", outcome.reason)
        else:
            res = result("ok", "", outcome.norm, outcome.norm_err, outcome.tilt, outcome.tilt_err)

    meta = {k: v for k, v in dataset.meta.items() if k not in _RESULT_META_KEYS}
    meta.update(res.to_meta())
    if res.ok:
        factor = res.norm * (dataset.geom.energy.centers / e_ref) ** -res.tilt
        out = replace(dataset, background=background * factor[:, None, None], meta=meta)
    elif on_failure == "keep_unscaled":
        out = replace(dataset, meta=meta)
    else:
        out = None
    return out, res


# ---------------------------------------------------------------------------- ring


def _angle_value(value, what: str) -> float:
    try:
        return float(u.Quantity(value, "deg").value)
    except (u.UnitConversionError, TypeError, ValueError) as exc:
        raise BackgroundError(f"{what}: expected an angle, got {value!r}") from exc


def ring_kernel(*, r_in, width, binsz) -> np.ndarray:
    """Ring kernel as gammapy's ``RingBackgroundMaker.kernel``: 1 inside the ring, else 0.

    astropy's ``Ring2DKernel(r_in / binsz, width / binsz)`` (pixel centres within
    ``[r_in, r_in + width]`` of the centre pixel), normalised to a peak of 1.

    Parameters
    ----------
    r_in, width, binsz : `~astropy.units.Quantity` or float
        Inner radius, width and pixel size (float: deg).

    Raises
    ------
    BackgroundError
        For a negative ``r_in``, non-positive ``width`` or ``binsz``, or a ring
        holding no pixel centre.
    """
    from astropy.convolution import Ring2DKernel

    r_in = _angle_value(r_in, "ring r_in")
    width = _angle_value(width, "ring width")
    binsz = _angle_value(binsz, "pixel size")
    if not (np.isfinite(r_in) and r_in >= 0):
        raise BackgroundError(f"ring r_in must be >= 0 deg, got {r_in}")
    if not (np.isfinite(width) and width > 0):
        raise BackgroundError(f"ring width must be > 0 deg, got {width}")
    if not (np.isfinite(binsz) and binsz > 0):
        raise BackgroundError(f"pixel size must be > 0 deg, got {binsz}")
    with warnings.catch_warnings():
        # astropy warns when an empty ring cannot be normalised: reported below
        warnings.simplefilter("ignore", AstropyUserWarning)
        kernel = Ring2DKernel(r_in / binsz, width / binsz)
    array = np.asarray(kernel.array, dtype=np.float64)
    if not array.max() > 0:
        raise BackgroundError(
            f"ring r_in={r_in} deg, width={width} deg contains no pixel centre at "
            f"{binsz} deg per pixel"
        )
    return array / array.max()


def _energy_groups(edges: np.ndarray, energy_edges) -> list[tuple[int, int]]:
    """Index ranges of the dataset's energy bins making up each requested band."""
    if energy_edges is None:
        return [(0, edges.size - 1)]
    requested = np.atleast_1d(u.Quantity(energy_edges, "TeV").value).astype(float)
    if requested.size < 2 or np.any(np.diff(requested) <= 0):
        raise BackgroundError(
            f"energy_edges must be at least two increasing energies, got {requested}"
        )
    idx = []
    for value in requested:
        match = np.flatnonzero(np.isclose(edges, value, rtol=1e-6, atol=0))
        if match.size != 1:
            raise BackgroundError(
                f"energy edge {value:g} TeV is not an edge of the dataset's energy axis "
                f"({np.array2string(edges, precision=4)} TeV)"
            )
        idx.append(int(match[0]))
    return list(zip(idx[:-1], idx[1:], strict=True))


def _convolve(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    # scipy.signal.fftconvolve(mode="same"), bit for bit, without importing
    # scipy.signal (and scipy.stats with it: ~1 s of the ring job's start)
    from dl3flow.estimators.correlation import fftconvolve_same

    return fftconvolve_same(image, kernel)


def ring_background(
    dataset: MapDataset,
    exclusion=None,
    *,
    r_in,
    width,
    exclusion_geom: SkyGeom | None = None,
    energy_edges=None,
    name: str | None = None,
) -> MapDatasetOnOff:
    """Ring-background on-off dataset from a (stacked) dataset.

    Parameters
    ----------
    dataset : `~dl3flow.datasets.map.MapDataset`
        Usually the stack of the FoV-normalised observations.
    exclusion : array_like, optional
        2D bool mask, True where counts may enter the ring; on the dataset's image
        or on ``exclusion_geom``. None: nothing excluded.
    r_in, width : `~astropy.units.Quantity` or float
        Inner radius and width of the ring (float: deg).
    exclusion_geom : `~dl3flow.maps.geom.SkyGeom`, optional
        Geometry of ``exclusion`` when the dataset is a cutout of it.
    energy_edges : `~astropy.units.Quantity` or array_like, optional
        Band edges (TeV), each an edge of the dataset's energy axis: one on-off
        image per band. None (default): one band over the whole energy range.
    name : str, optional
        Name of the on-off dataset (default: the input's).

    Returns
    -------
    dataset : `~dl3flow.datasets.onoff.MapDatasetOnOff`
        ``counts``, ``counts_off``, ``acceptance``, ``acceptance_off`` and
        ``mask_safe`` per band, the input's exposure, meta and GTI. Meta gains
        ``RING_RIN`` and ``RING_WID`` (deg).

    Raises
    ------
    BackgroundError
        For invalid ring parameters, band edges or exclusion mask.
    """
    if not isinstance(dataset, MapDataset):
        raise BackgroundError(f"dataset must be a MapDataset, got {type(dataset).__name__}")
    geom = dataset.geom
    binsz = geom.sky.binsz[0]
    kernel = ring_kernel(r_in=r_in, width=width, binsz=binsz)
    excl = _exclusion_image(exclusion, exclusion_geom, geom.sky)
    edges = geom.energy.edges
    groups = _energy_groups(edges, energy_edges)

    mask = dataset.mask_safe
    counts_in = np.where(mask, np.nan_to_num(dataset.counts), 0.0)
    bkg_in = np.where(mask, np.nan_to_num(dataset.background), 0.0)
    n_band = len(groups)
    shape = (n_band, *geom.sky.shape)
    counts, acceptance = np.zeros(shape), np.zeros(shape)
    counts_off, acceptance_off = np.zeros(shape), np.zeros(shape)
    mask_safe = np.zeros(shape, dtype=bool)
    for k, (i0, i1) in enumerate(groups):
        counts[k] = counts_in[i0:i1].sum(axis=0)
        acceptance[k] = bkg_in[i0:i1].sum(axis=0)
        mask_safe[k] = mask[i0:i1].any(axis=0)
        counts_off[k] = np.rint(_convolve(counts[k] * excl, kernel))
        bkg_excl = acceptance[k] * excl
        off = _convolve(bkg_excl, kernel)
        # where the ring holds no background at all, the true value is exactly 0
        support = np.rint(_convolve((bkg_excl > 0).astype(float), kernel)) > 0
        acceptance_off[k] = np.where(support, np.clip(off, 0.0, None), 0.0)
    counts_off = np.clip(counts_off, 0.0, None)
    mask_safe &= acceptance_off > 0

    band_edges = np.array([edges[groups[0][0]]] + [edges[i1] for _, i1 in groups])
    out_geom = DatasetGeom(
        sky=geom.sky,
        energy=EnergyAxis(band_edges, name="energy"),
        energy_true=geom.energy_true,
        irf_sky=geom.irf_sky,
        rad_edges=geom.rad_edges,
    )
    meta = dict(dataset.meta)
    meta["RING_RIN"] = _angle_value(r_in, "ring r_in")
    meta["RING_WID"] = _angle_value(width, "ring width")
    return MapDatasetOnOff(
        geom=out_geom,
        counts=counts,
        counts_off=counts_off,
        acceptance=acceptance,
        acceptance_off=acceptance_off,
        exposure=dataset.exposure,
        mask_safe=mask_safe,
        name=dataset.name if name is None else name,
        meta=meta,
        gti=dataset.gti,
    )
