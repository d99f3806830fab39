"""Safe-mask methods: one pure function each, combined by `dl3flow.makers.safe.make_safe_mask`.

Methods (names and parameters as gammapy 1.3's ``SafeMaskMaker(irfs="DL4")``):

``aeff-default`` (:func:`energy_range_aeff_default`)
    ``LO_THRES`` / ``HI_THRES`` of the effective-area header (TeV). A missing (or
    zero) keyword is logged as a warning and gives no cut on that side.
``aeff-max`` (:func:`energy_range_aeff_max`)
    Lower threshold where the effective area (the dataset's exposure at one pixel
    divided by the livetime, on the true-energy bin centres, interpolated log-log)
    first rises above ``aeff_percent`` % of its maximum. It is evaluated at
    ``position``, or at ``fixed_offset`` from the pointing (north of it), or by
    default at the centre of the dataset's geometry (the observation's cutout, i.e.
    close to the pointing). An effective area that is zero everywhere there makes
    the whole mask False.
``edisp-bias`` (:func:`energy_range_edisp_bias`)
    Lower threshold where the energy bias ``<E_reco>/E_true - 1`` of the edisp kernel
    (at the same position as ``aeff-max``) drops to ``bias_percent`` %, searched above
    the true energy of maximal bias; the true energy found is converted to
    reconstructed energy as ``E_true * (1 + bias)``.
``offset-max`` (:func:`mask_offset_max`)
    Pixels whose centre is ``offset_max`` or more away from the pointing are unsafe.
``bkg-peak`` (:func:`energy_range_bkg_peak`)
    Lower threshold at the *lower* edge of the reconstructed-energy bin where the
    predicted background (summed over the map) peaks: that bin is kept.

As in gammapy, pixels where the predicted background is not finite or not positive
are always unsafe (:func:`mask_background_valid`): the Cash statistic is undefined
there.

Energy thresholds
-----------------
Each method returns a :class:`MethodResult`: one lower and / or upper energy;
`dl3flow.makers.safe.energy_mask` applies it to the reconstructed-energy bins.

* ``aeff-default`` thresholds are used as given: H.E.S.S.-style ``LO_THRES`` are the
  collaboration's safe *reconstructed*-energy thresholds.
* ``aeff-max`` finds a *true*-energy threshold and applies it unchanged to
  reconstructed energy, i.e. assumes E_reco ~ E_true at threshold. This is gammapy's
  documented approximation (gammapy issue #3708): converting it properly needs the
  energy dispersion *and* an assumed source spectrum, and every published analysis
  done with gammapy uses this convention, so dl3flow keeps it to stay comparable.
  Combine with ``edisp-bias`` when the bias near threshold matters.
* ``edisp-bias`` converts its true-energy threshold to reconstructed energy with the
  bias itself, ``E_reco = E_true (1 + bias)`` (gammapy >= 1.0).
* ``bkg-peak`` works in reconstructed energy already and keeps the peak bin (gammapy
  0.19 always dropped the peak bin, hence "always the first bin" when the background
  peaks there: issue #3851, fixed in gammapy 0.20; dl3flow behaves as the fix).

One deliberate difference from gammapy 1.3: when the effective area never drops
below ``aeff_percent`` % in the searched range, gammapy falls back to the *centre*
of the first true-energy bin with a positive effective area, which drops a
reconstructed-energy bin starting at that bin's lower edge although nothing is
below threshold (gammapy issue #5834, still open). dl3flow falls back to that
bin's *lower edge*, so no data are cut by a threshold that was not found.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import astropy.units as u
import numpy as np

from dl3flow.maps.coords import icrs_deg
from dl3flow.maps.geom import EnergyAxis, SkyGeom

if TYPE_CHECKING:
    from astropy.coordinates import SkyCoord

    from dl3flow.datasets.map import MapDataset

__all__ = [
    "SafeMaskError",
    "MethodResult",
    "energy_range_aeff_default",
    "energy_range_aeff_max",
    "aeff_max_threshold",
    "edisp_bias_threshold",
    "energy_range_edisp_bias",
    "energy_range_bkg_peak",
    "mask_offset_max",
    "mask_background_valid",
    "evaluation_position",
]

log = logging.getLogger(__name__)

#: Smallest positive value of gammapy's log interpolation scale (float32 tiny).
_TINY = float(np.finfo(np.float32).tiny)


class SafeMaskError(ValueError):
    """Invalid safe-mask options or inputs; the message says which."""


@dataclass(frozen=True)
class MethodResult:
    """What one method found.

    Attributes
    ----------
    method : str
        One of `dl3flow.makers.safe.SAFE_MASK_METHODS`.
    energy_min, energy_max : float or None
        Energy thresholds in TeV (None: no cut on that side). ``energy_min`` is
        ``inf`` when the method leaves no safe energy at all.
    note : str
        Human-readable detail (where it was evaluated, why there is no cut ...).
    """

    method: str
    energy_min: float | None = None
    energy_max: float | None = None
    note: str = ""


# ------------------------------------------------------------------------- helpers


def _template(energy: np.ndarray, values: np.ndarray):
    """gammapy's ``TemplateSpectralModel`` evaluation: log-log linear, extrapolated."""
    x = np.log(energy)
    y = np.log(np.clip(values, _TINY, np.inf))

    def evaluate(e):
        xe = np.log(np.atleast_1d(np.asarray(e, dtype=float)))
        if x.size == 1:
            out = np.exp(np.full_like(xe, y[0]))
        else:
            i = np.clip(np.searchsorted(x, xe) - 1, 0, x.size - 2)
            t = (xe - x[i]) / (x[i + 1] - x[i])
            out = np.exp(y[i] + t * (y[i + 1] - y[i]))
        out = np.where(np.abs(out) - _TINY <= _TINY, 0.0, out)
        return np.clip(out, 0.0, np.inf)

    return evaluate


def _first_crossing(evaluate, level: float, energy_min: float, energy_max: float) -> float:
    """First energy in ``[energy_min, energy_max]`` where ``evaluate`` equals ``level``.

    As gammapy's ``SpectralModel.inverse``: sign changes are looked for on 101
    log-spaced points, the first bracket is refined with Brent's method; NaN if
    there is none.
    """

    def f(e):
        return 1e12 * (float(evaluate(e)[0]) - level)

    grid = np.exp(np.linspace(np.log(energy_min), np.log(energy_max), 101))
    signs = np.sign([f(e) for e in grid])
    (changes,) = np.nonzero(signs[:-1] != signs[1:])
    if changes.size == 0:
        return float("nan")
    k = changes[0]
    from scipy.optimize import root_scalar

    try:
        result = root_scalar(f, bracket=[grid[k], grid[k + 1]], method="brentq")
    except (RuntimeError, ValueError):  # pragma: no cover - bracket guarantees a root
        return float("nan")
    return float(result.root) if result.converged else float("nan")


def _nearest_pixel(sky: SkyGeom, position: SkyCoord) -> tuple[int, int]:
    """``(iy, ix)`` of the pixel nearest to ``position``, clipped to the image.

    Rounds like gammapy's nearest-neighbour map interpolation (scipy's
    ``RegularGridInterpolator``): a coordinate exactly half-way goes to the lower pixel.
    """
    c = position.transform_to(sky.frame)
    lon = c.spherical.lon.deg
    lat = c.spherical.lat.deg
    px, py = sky.world2pix(lon, lat)
    ny, nx = sky.shape
    ix = int(np.clip(np.ceil(float(px) - 0.5), 0, nx - 1))
    iy = int(np.clip(np.ceil(float(py) - 0.5), 0, ny - 1))
    return iy, ix


def _describe(position: SkyCoord) -> str:
    return f"({position.icrs.ra.deg:.4f}, {position.icrs.dec.deg:.4f}) deg ICRS"


def evaluation_position(
    sky: SkyGeom, *, pointing=None, position=None, fixed_offset=None
) -> SkyCoord:
    """Where ``aeff-max`` and ``edisp-bias`` evaluate the IRFs (gammapy's rule).

    Parameters
    ----------
    sky : `~dl3flow.maps.geom.SkyGeom`
        The dataset's image; its centre is the default.
    pointing : `~astropy.coordinates.SkyCoord` or tuple, optional
        Needed with ``fixed_offset``; a tuple is (ra, dec) in deg (ICRS).
    position : `~astropy.coordinates.SkyCoord`, optional
    fixed_offset : float or Quantity, optional
        Offset (deg) from the pointing; the position is that far north of it.

    Raises
    ------
    SafeMaskError
        If both ``position`` and ``fixed_offset`` are given, or ``fixed_offset``
        without ``pointing``.
    """
    if position is not None and fixed_offset is not None:
        raise SafeMaskError("position and fixed_offset are mutually exclusive")
    if fixed_offset is not None:
        if pointing is None:
            raise SafeMaskError("fixed_offset needs the observation's pointing")
        if hasattr(pointing, "icrs"):
            pointing = pointing.icrs
        else:
            from astropy.coordinates import SkyCoord

            pointing = SkyCoord(*icrs_deg(pointing), unit="deg")
        offset = u.Quantity(fixed_offset, "deg")
        return pointing.directional_offset_by(0 * u.deg, offset)
    if position is not None:
        return position
    return sky.center_skydir


# ------------------------------------------------------------------------- methods


def energy_range_aeff_default(aeff, *, obs_id=None) -> MethodResult:
    """``aeff-default``: ``LO_THRES`` / ``HI_THRES`` (TeV) of the effective area.

    Parameters
    ----------
    aeff : `~dl3flow.irf.core.EffectiveArea2D`
        Anything with ``lo_threshold`` / ``hi_threshold`` in TeV (or None).
    obs_id : int, optional
        For the warning message.

    Returns
    -------
    MethodResult
        A missing or zero keyword gives no cut on that side (and a logged warning).
    """
    what = f"obs {obs_id}" if obs_id is not None else "observation"
    lo, hi = aeff.lo_threshold, aeff.hi_threshold
    missing = []
    if not lo:
        log.warning("No default lower safe energy threshold (LO_THRES) defined for %s", what)
        lo = None
        missing.append("LO_THRES")
    if not hi:
        log.warning("No default upper safe energy threshold (HI_THRES) defined for %s", what)
        hi = None
        missing.append("HI_THRES")
    note = f"no {' and '.join(missing)} in the aeff header" if missing else "aeff header"
    return MethodResult(
        "aeff-default",
        energy_min=None if lo is None else float(lo),
        energy_max=None if hi is None else float(hi),
        note=note,
    )


def energy_range_aeff_max(
    dataset: MapDataset, *, aeff_percent: float = 10.0, position: SkyCoord
) -> MethodResult:
    """``aeff-max``: where the effective area first exceeds ``aeff_percent`` % of its max.

    The effective area is the dataset's exposure at the pixel nearest ``position``
    divided by ``meta["LIVETIME"]``, on the true-energy bin centres; the threshold is
    searched from the first centre with a positive value, on the log-log
    interpolation. The true-energy threshold is applied to reconstructed energy (see
    the module docstring).

    Returns
    -------
    MethodResult
        ``energy_min = inf`` if the effective area is zero at ``position``.
    """
    iy, ix = _nearest_pixel(dataset.geom.sky, position)
    livetime = float(dataset.meta.get("LIVETIME", 1.0) or 1.0)
    aeff = dataset.exposure[:, iy, ix] / livetime
    return aeff_max_threshold(
        aeff,
        dataset.geom.energy_true,
        aeff_percent=aeff_percent,
        where=_describe(position),
        name=dataset.name,
    )


def aeff_max_threshold(
    aeff, energy_true: EnergyAxis, *, aeff_percent: float = 10.0, where: str = "", name: str = ""
) -> MethodResult:
    """``aeff-max`` on one effective-area spectrum (m2 on the true-energy bin centres).

    The array-level core of `energy_range_aeff_max`, shared with the 1D spectra.

    Returns
    -------
    MethodResult
        ``energy_min = inf`` if the effective area is zero everywhere.
    """
    aeff = np.asarray(aeff, dtype=float)
    if not np.any(aeff > 0):
        log.warning("Effective area is all zero at %s: no safe energy range for %s", where, name)
        return MethodResult("aeff-max", energy_min=float("inf"), note=f"aeff all zero at {where}")
    centers = energy_true.centers
    first = int(np.flatnonzero(aeff > 0)[0])
    level = aeff_percent / 100.0 * float(aeff.max())
    root = _first_crossing(_template(centers, aeff), level, centers[first], centers[-1])
    if np.isnan(root):
        # deliberate fix of gammapy #5834: gammapy uses centers[first] here
        return MethodResult(
            "aeff-max",
            energy_min=float(energy_true.lo[first]),
            note=f"aeff above {aeff_percent:g}% of max everywhere at {where}",
        )
    return MethodResult("aeff-max", energy_min=root, note=f"at {where}")


def _bias(kernel: np.ndarray, energy: EnergyAxis, energy_true: EnergyAxis) -> np.ndarray:
    """Mean reconstruction bias per true-energy bin (gammapy ``EDispKernel.get_bias``)."""
    norm = kernel.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nan_to_num((kernel * energy.centers).sum(axis=1) / norm)
    centers = energy_true.centers
    return (mean - centers) / centers


def energy_range_edisp_bias(
    dataset: MapDataset, *, bias_percent: float = 10.0, position: SkyCoord
) -> MethodResult:
    """``edisp-bias``: where the energy bias drops to ``bias_percent`` %.

    The kernel is the dataset's edisp kernel at the IRF pixel nearest ``position``.
    The search runs from the true energy of maximal bias to the last true-energy
    centre (log-log interpolation of the bias, as gammapy); without a crossing the
    start is used. The result is converted to reconstructed energy,
    ``E_true * (1 + bias_percent / 100)``.

    Raises
    ------
    SafeMaskError
        If the dataset has no edisp kernel map.
    """
    if dataset.edisp is None:
        raise SafeMaskError(f"{dataset.name}: method 'edisp-bias' needs an edisp kernel map")
    iy, ix = _nearest_pixel(dataset.geom.irf_sky, position)
    kernel = dataset.edisp.kernel[:, :, iy, ix]
    geom = dataset.geom
    return edisp_bias_threshold(
        kernel, geom.energy, geom.energy_true, bias_percent=bias_percent, where=_describe(position)
    )


def edisp_bias_threshold(
    kernel, energy: EnergyAxis, energy_true: EnergyAxis, *, bias_percent: float = 10.0, where=""
) -> MethodResult:
    """``edisp-bias`` on one ``(n_true, n_reco)`` kernel: the core of `energy_range_edisp_bias`."""
    bias = _bias(np.asarray(kernel, dtype=float), energy, energy_true)
    centers = energy_true.centers
    start = centers[int(np.nanargmax(bias))]
    target = bias_percent / 100.0
    root = _first_crossing(_template(centers, bias), target, start, centers[-1])
    note = f"at {where}"
    if np.isnan(root):
        root, note = start, f"bias never {bias_percent:g}% above its peak, at {where}"
    return MethodResult("edisp-bias", energy_min=float(root * (1 + target)), note=note)


def energy_range_bkg_peak(dataset: MapDataset) -> MethodResult:
    """``bkg-peak``: lower edge of the reco-energy bin where the background peaks.

    The predicted background is summed over the map (NaN ignored); the peak bin is
    kept (gammapy >= 0.20, issue #3851).
    """
    spectrum = np.nansum(dataset.background, axis=(1, 2))
    idx = int(np.argmax(spectrum))
    return MethodResult(
        "bkg-peak",
        energy_min=float(dataset.geom.energy.edges[idx]),
        note=f"background peaks in reco bin {idx}",
    )


def mask_offset_max(sky: SkyGeom, *, pointing, offset_max: float) -> np.ndarray:
    """``offset-max``: ``(ny, nx)`` True where a pixel centre is < ``offset_max`` deg away.

    ``pointing`` is a `~astropy.coordinates.SkyCoord` or (ra, dec) in deg (ICRS).

    Raises
    ------
    SafeMaskError
        If ``offset_max`` is not positive.
    """
    offset_max = float(u.Quantity(offset_max, "deg").value)
    if not offset_max > 0:
        raise SafeMaskError(f"offset_max must be positive, got {offset_max}")
    return sky.separation(*icrs_deg(pointing)) < offset_max


def mask_background_valid(dataset: MapDataset) -> np.ndarray:
    """``(n_energy, ny, nx)`` True where the predicted background is finite and > 0."""
    bkg = dataset.background
    with np.errstate(invalid="ignore"):
        return np.isfinite(bkg) & (bkg > 0)
