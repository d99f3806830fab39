"""Safe data range of one observation's map dataset (gammapy's ``SafeMaskMaker``).

Each method is its own pure function; :func:`make_safe_mask` combines the chosen
ones with logical AND into a :class:`SafeMask` (the mask, the energy range and what
every method found), which :func:`write_safe_mask` stores as
``results/{analysis}/obs/{obs_id}/mask_safe.fits``.

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

Energy-threshold convention
---------------------------
A threshold is one energy; it is applied to the reconstructed-energy axis of the
counts by keeping the bins that lie entirely inside ``[energy_min, energy_max]``
(lower edge >= ``energy_min``, upper edge <= ``energy_max``): a bin that straddles
a threshold is dropped whole (gammapy's ``Geom.energy_mask``).

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

import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import astropy.units as u
import numpy as np
from astropy.io import fits

from dl3flow.datasets.io import (
    _image_hdus,
    _read_axis,
    _read_image,
    _utc_now,
    open_fits,
    write_hdulist,
)
from dl3flow.datasets.map import MapDataset
from dl3flow.datasets.rejection import rejection_of
from dl3flow.io import fits as fitsio
from dl3flow.io.provenance import add_to_header
from dl3flow.maps.coords import icrs_deg, wrap_longitude
from dl3flow.maps.geom import EnergyAxis, SkyGeom

if TYPE_CHECKING:
    from astropy.coordinates import SkyCoord
    from astropy.table import Table

__all__ = [
    "DatasetObservation",
    "rejected_safe_mask",
    "SAFE_MASK_METHODS",
    "DEFAULT_METHODS",
    "DEFAULT_OFFSET_MAX",
    "SafeMaskError",
    "MethodResult",
    "SafeMask",
    "energy_mask",
    "energy_range_aeff_default",
    "energy_range_aeff_max",
    "aeff_max_threshold",
    "edisp_bias_threshold",
    "energy_range_edisp_bias",
    "energy_range_bkg_peak",
    "mask_offset_max",
    "mask_background_valid",
    "evaluation_position",
    "make_safe_mask",
    "with_safe_mask",
    "safe_energy_table",
    "write_safe_mask",
    "read_safe_mask",
]

log = logging.getLogger(__name__)

#: The safe-mask methods, as gammapy's ``SafeMaskMaker.available_methods``, in the
#: order they are applied (:data:`_METHOD_FUNCTIONS` implements them; the schema's
#: ``safe_mask.methods`` enum lists the same, which ``tests/test_config.py`` checks).
SAFE_MASK_METHODS = ("aeff-default", "aeff-max", "edisp-bias", "offset-max", "bkg-peak")
#: Defaults of :func:`make_safe_mask`: the analysis defaults (the schema's
#: ``safe_mask.methods`` and ``offset_max``).
DEFAULT_METHODS = ("aeff-default", "offset-max")
DEFAULT_OFFSET_MAX = 2.5

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
        One of :data:`SAFE_MASK_METHODS`.
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


@dataclass(frozen=True, eq=False)
class SafeMask:
    """The safe data range of one observation's dataset.

    Attributes
    ----------
    mask : `numpy.ndarray`
        ``(n_energy, ny, nx)`` bool, True = safe (used).
    sky : `~dl3flow.maps.geom.SkyGeom`
        Geometry of the mask image (the dataset's, i.e. the observation's cutout).
    energy : `~dl3flow.maps.geom.EnergyAxis`
        Reconstructed-energy axis of the mask.
    methods : tuple of str
        The methods combined (logical AND), in :data:`SAFE_MASK_METHODS` order.
    energy_min, energy_max : float or None
        Combined thresholds in TeV: the highest lower and the lowest upper threshold
        of the methods (None: no method cuts on that side).
    details : dict
        ``{method: MethodResult}``.
    parameters : dict
        The options used (``aeff_percent``, ``bias_percent``, ``offset_max`` in deg,
        ``position`` as ``(lon, lat, frame)`` or None, ``fixed_offset`` in deg or None).
    obs_id : int or None
    rejection : `~dl3flow.datasets.rejection.Rejection` or None
        Set for an observation rejected by the reduction: its mask is all False
        (:func:`rejected_safe_mask`); written as ``STATUS = 'REJECTED'`` and ``REJ*``.
    """

    mask: np.ndarray
    sky: SkyGeom
    energy: EnergyAxis
    methods: tuple[str, ...]
    energy_min: float | None = None
    energy_max: float | None = None
    details: Mapping[str, MethodResult] = field(default_factory=dict)
    parameters: Mapping = field(default_factory=dict)
    obs_id: int | None = None
    rejection: Any = None

    def __post_init__(self):
        mask = np.asarray(self.mask)
        if mask.dtype != bool:
            mask = mask.astype(bool)
        expected = (self.energy.nbin, *self.sky.shape)
        if mask.shape != expected:
            raise SafeMaskError(f"mask has shape {mask.shape}, geometry needs {expected}")
        object.__setattr__(self, "mask", mask)
        object.__setattr__(self, "details", dict(self.details))
        object.__setattr__(self, "parameters", dict(self.parameters))

    @property
    def binned_range(self) -> tuple[float, float] | None:
        """``(lower, upper)`` edge (TeV) of the reco bins safe anywhere; None if none is."""
        safe = np.flatnonzero(self.mask.any(axis=(1, 2)))
        if safe.size == 0:
            return None
        return float(self.energy.lo[safe[0]]), float(self.energy.hi[safe[-1]])


# ------------------------------------------------------------------------- helpers


def energy_mask(edges, *, energy_min=None, energy_max=None) -> np.ndarray:
    """Bins of ``edges`` lying entirely inside ``[energy_min, energy_max]`` (TeV).

    gammapy's ``Geom.energy_mask``: a bin is kept when its lower edge is
    >= ``energy_min`` and its upper edge <= ``energy_max``; None means no bound.

    Returns
    -------
    `numpy.ndarray`
        Bool, one value per bin.
    """
    edges = np.asarray(edges, dtype=float)
    keep = np.ones(edges.size - 1, dtype=bool)
    if energy_min is not None:
        keep &= edges[:-1] >= energy_min
    if energy_max is not None:
        keep &= edges[1:] <= energy_max
    return keep


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
    aeff : `~dl3flow.irf.aeff.EffectiveArea2D`
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


# ----------------------------------------------------------------------- combination


@dataclass(frozen=True)
class _MethodOptions:
    """What the methods of :func:`make_safe_mask` use (checked)."""

    dataset: MapDataset
    observation: Any
    obs_id: int | None
    pointing: Any
    where: Any
    aeff_percent: float
    bias_percent: float
    offset_max: float


def _offset_max(o: _MethodOptions) -> tuple[MethodResult, np.ndarray]:
    keep = mask_offset_max(o.dataset.geom.sky, pointing=o.pointing, offset_max=o.offset_max)
    note = f"offset < {o.offset_max:g} deg from the pointing"
    return MethodResult("offset-max", note=note), keep


#: Method name -> its implementation in :func:`make_safe_mask`: a `MethodResult`
#: (energy thresholds), or (`MethodResult`, pixel mask) for a spatial cut.
_METHOD_FUNCTIONS = {
    "aeff-default": lambda o: energy_range_aeff_default(o.observation.aeff, obs_id=o.obs_id),
    "aeff-max": lambda o: energy_range_aeff_max(
        o.dataset, aeff_percent=o.aeff_percent, position=o.where
    ),
    "edisp-bias": lambda o: energy_range_edisp_bias(
        o.dataset, bias_percent=o.bias_percent, position=o.where
    ),
    "offset-max": _offset_max,
    "bkg-peak": lambda o: energy_range_bkg_peak(o.dataset),
}
assert tuple(_METHOD_FUNCTIONS) == SAFE_MASK_METHODS


def _check_methods(methods) -> tuple[str, ...]:
    if isinstance(methods, str) or not isinstance(methods, Sequence | set | frozenset):
        raise SafeMaskError(f"methods must be a list of method names, got {methods!r}")
    unknown = sorted(set(methods) - set(SAFE_MASK_METHODS))
    if unknown:
        raise SafeMaskError(
            f"unknown safe-mask method(s) {', '.join(map(repr, unknown))}; "
            f"choose from {', '.join(SAFE_MASK_METHODS)}"
        )
    return tuple(m for m in SAFE_MASK_METHODS if m in set(methods))


def _check_percent(value, name: str) -> float:
    value = float(value)
    if not 0 <= value <= 100:
        raise SafeMaskError(f"{name} must be within [0, 100], got {value}")
    return value


def make_safe_mask(
    dataset: MapDataset,
    observation,
    *,
    methods=DEFAULT_METHODS,
    aeff_percent: float = 10.0,
    bias_percent: float = 10.0,
    position: SkyCoord | None = None,
    fixed_offset=None,
    offset_max=DEFAULT_OFFSET_MAX,
) -> SafeMask:
    """Safe mask of one observation's dataset: the chosen methods combined with AND.

    Equivalent to gammapy 1.3's ``SafeMaskMaker(methods, ...).run(dataset, obs)`` on a
    dataset from ``MapDatasetMaker`` (see the module docstring for the one
    deliberate difference). Pixels with a non-finite or non-positive background are
    always unsafe, as in gammapy.

    Parameters
    ----------
    dataset : `~dl3flow.datasets.map.MapDataset`
        The observation's reduced dataset (its own ``mask_safe`` is ignored).
    observation : `~dl3flow.data.store.Observation`
        Its ``aeff`` (``aeff-default``), ``pointing_radec`` or ``pointing`` (``offset-max``,
        ``fixed_offset``) and ``obs_id`` are used.
    methods : sequence of str
        Any of :data:`SAFE_MASK_METHODS` (default: the analysis default, aeff-default and
        offset-max).
    aeff_percent, bias_percent : float
        Percentages in [0, 100] for ``aeff-max`` and ``edisp-bias``.
    position : `~astropy.coordinates.SkyCoord`, optional
        Where ``aeff-max`` / ``edisp-bias`` are evaluated (default: the centre of the
        dataset's geometry).
    fixed_offset : float or Quantity, optional
        Or: evaluate them this far (deg) from the pointing. Exclusive with ``position``.
    offset_max : float or Quantity
        ``offset-max`` cut in deg (default: the analysis default ``offset_max``, 2.5 deg;
        gammapy's is 3 deg).

    Returns
    -------
    SafeMask

    Raises
    ------
    SafeMaskError
        For an unknown method, a percentage outside [0, 100], ``position`` together
        with ``fixed_offset``, or ``offset_max <= 0``.
    """
    methods = _check_methods(methods)
    aeff_percent = _check_percent(aeff_percent, "aeff_percent")
    bias_percent = _check_percent(bias_percent, "bias_percent")
    offset_max = float(u.Quantity(offset_max, "deg").value)
    if not offset_max > 0:
        raise SafeMaskError(f"offset_max must be positive, got {offset_max}")
    if position is not None and fixed_offset is not None:
        raise SafeMaskError("position and fixed_offset are mutually exclusive")
    if fixed_offset is not None:
        fixed_offset = float(u.Quantity(fixed_offset, "deg").value)

    geom = dataset.geom
    obs_id = getattr(observation, "obs_id", None)
    mask = mask_background_valid(dataset)
    details: dict[str, MethodResult] = {}
    pointing = None
    if observation is not None:
        pointing = getattr(observation, "pointing_radec", None) or observation.pointing
    where = None
    if "aeff-max" in methods or "edisp-bias" in methods:
        where = evaluation_position(
            geom.sky, pointing=pointing, position=position, fixed_offset=fixed_offset
        )
    options = _MethodOptions(
        dataset=dataset,
        observation=observation,
        obs_id=obs_id,
        pointing=pointing,
        where=where,
        aeff_percent=aeff_percent,
        bias_percent=bias_percent,
        offset_max=offset_max,
    )
    for method in methods:
        result = _METHOD_FUNCTIONS[method](options)
        if isinstance(result, tuple):  # a spatial cut (offset-max): (result, pixels)
            result, keep_pixels = result
            mask &= keep_pixels
        else:
            keep = energy_mask(
                geom.energy.edges, energy_min=result.energy_min, energy_max=result.energy_max
            )
            mask &= keep[:, np.newaxis, np.newaxis]
        details[method] = result

    lows = [r.energy_min for r in details.values() if r.energy_min is not None]
    highs = [r.energy_max for r in details.values() if r.energy_max is not None]
    parameters = {
        "aeff_percent": aeff_percent,
        "bias_percent": bias_percent,
        "offset_max": offset_max,
        "position": None
        if position is None
        else (
            float(position.spherical.lon.deg),
            float(position.spherical.lat.deg),
            position.frame.name,
        ),
        "fixed_offset": fixed_offset,
    }
    return SafeMask(
        mask=mask,
        sky=geom.sky,
        energy=geom.energy,
        methods=methods,
        energy_min=max(lows) if lows else None,
        energy_max=min(highs) if highs else None,
        details=details,
        parameters=parameters,
        obs_id=None if obs_id is None else int(obs_id),
    )


@dataclass(frozen=True)
class _DefaultRange:
    lo_threshold: float | None
    hi_threshold: float | None


@dataclass(frozen=True)
class DatasetObservation:
    """What :func:`make_safe_mask` needs of an observation, read from its reduced dataset.

    The reduction records the pointing (``RA_PNT``, ``DEC_PNT``) and the effective
    area's default safe range (``AEFF_LO``, ``AEFF_HI``: TeV, or ``none``) in the
    dataset meta, so that the safe mask needs no second read of the DL3 file. Build it
    with :meth:`from_dataset`.
    """

    obs_id: int
    pointing_radec: tuple[float, float]
    aeff: _DefaultRange

    @property
    def pointing(self) -> SkyCoord:
        """:attr:`pointing_radec` (RA, Dec in deg) as a SkyCoord (imports astropy.coordinates)."""
        from astropy.coordinates import SkyCoord

        return SkyCoord(*self.pointing_radec, unit="deg")

    @classmethod
    def from_dataset(cls, dataset: MapDataset) -> DatasetObservation:
        """Raises SafeMaskError if the dataset's meta lacks a keyword (an older dataset)."""
        meta = dataset.meta
        missing = [
            k for k in ("OBS_ID", "RA_PNT", "DEC_PNT", "AEFF_LO", "AEFF_HI") if k not in meta
        ]
        if missing:
            raise SafeMaskError(
                f"dataset {dataset.name!r} lacks {', '.join(missing)} in its meta (written "
                "by an older dl3flow?): reduce the observation again"
            )
        return cls(
            obs_id=int(meta["OBS_ID"]),
            pointing_radec=(wrap_longitude(float(meta["RA_PNT"])), float(meta["DEC_PNT"])),
            aeff=_DefaultRange(_read_float(meta["AEFF_LO"]), _read_float(meta["AEFF_HI"])),
        )


def rejected_safe_mask(dataset: MapDataset, rejection, *, methods=()) -> SafeMask:
    """The all-False safe mask of an observation rejected by the reduction.

    Nothing of a rejected observation is safe; its file says so (``STATUS =
    'REJECTED'``), and the DL3 data, which may be missing or broken, are not read.
    """
    return SafeMask(
        mask=np.zeros(dataset.mask_safe.shape, dtype=bool),
        sky=dataset.geom.sky,
        energy=dataset.geom.energy,
        methods=tuple(methods),
        obs_id=rejection.obs_id,
        rejection=rejection,
    )


def with_safe_mask(dataset: MapDataset, safe: SafeMask) -> MapDataset:
    """A copy of ``dataset`` whose ``mask_safe`` is ``safe.mask``.

    Raises
    ------
    SafeMaskError
        If the mask's image or energy axis differ from the dataset's.
    """
    sky = dataset.geom.sky
    if (
        safe.sky.shape != sky.shape
        or not safe.sky.wcsprm.compare(sky.wcsprm, tolerance=1e-10)
        or safe.energy.edges.shape != dataset.geom.energy.edges.shape
        or not np.allclose(safe.energy.edges, dataset.geom.energy.edges, rtol=1e-10, atol=0)
    ):
        raise SafeMaskError(
            f"safe mask of obs {safe.obs_id} does not match the geometry of dataset "
            f"{dataset.name!r} (image {safe.sky.shape} vs {sky.shape}, or other WCS / energy axis)"
        )
    return dataclasses.replace(dataset, mask_safe=safe.mask)


def safe_energy_table(masks: Iterable[SafeMask], observations: Table | None = None) -> Table:
    """One row per observation: its safe energy range and zenith angle.

    Parameters
    ----------
    masks : iterable of SafeMask
    observations : `~astropy.table.Table`, optional
        Obs-index rows (``OBS_ID``, ``ZEN_PNT`` in deg) for the zenith angles.

    Returns
    -------
    `~astropy.table.Table`
        Columns ``obs_id``, ``methods`` (comma-separated), ``energy_min`` and
        ``energy_max`` (TeV, combined thresholds; NaN: no cut, ``energy_min`` inf: no
        safe energy), ``energy_min_binned`` / ``energy_max_binned`` (TeV, edges of the
        safe reco-energy bins; NaN if none), ``offset_max`` (deg; NaN without the
        ``offset-max`` method) and ``zenith`` (deg; NaN if unknown).
    """
    zenith = {}
    if observations is not None and "ZEN_PNT" in observations.colnames:
        column = observations["ZEN_PNT"]
        values = u.Quantity(column, column.unit or "deg").to_value("deg")
        zenith = {int(i): float(z) for i, z in zip(observations["OBS_ID"], values, strict=True)}
    rows = []
    for safe in masks:
        if safe.rejection is not None:  # listed in the rejected-observations table
            continue
        binned = safe.binned_range or (np.nan, np.nan)
        rows.append(
            (
                -1 if safe.obs_id is None else safe.obs_id,
                ",".join(safe.methods),
                np.nan if safe.energy_min is None else safe.energy_min,
                np.nan if safe.energy_max is None else safe.energy_max,
                binned[0],
                binned[1],
                safe.parameters.get("offset_max", np.nan)
                if "offset-max" in safe.methods
                else np.nan,
                zenith.get(safe.obs_id, np.nan),
            )
        )
    names = (
        "obs_id",
        "methods",
        "energy_min",
        "energy_max",
        "energy_min_binned",
        "energy_max_binned",
        "offset_max",
        "zenith",
    )
    dtype = (int, str, float, float, float, float, float, float)
    from astropy.table import Table

    table = Table(rows=rows or None, names=names, dtype=dtype)
    for name in names[2:6]:
        table[name].unit = "TeV"
    table["offset_max"].unit = "deg"
    table["zenith"].unit = "deg"
    table.meta["description"] = (
        "Safe energy range per observation (dl3flow.safe_mask); thresholds NaN = no cut"
    )
    return table


# --------------------------------------------------------------------------------- I/O


def _header_float(value: float | None):
    """FITS-safe value: None and non-finite numbers become strings."""
    if value is None:
        return "none"
    if not np.isfinite(value):
        return "inf" if value > 0 else "nan"
    return float(value)


def _read_float(value) -> float | None:
    if isinstance(value, str):
        value = value.strip().lower()
        return None if value == "none" else float(value)
    return float(value)


def write_safe_mask(
    safe: SafeMask, path, *, overwrite: bool = False, provenance: Mapping | None = None
) -> Path:
    """Write a :class:`SafeMask` to FITS atomically.

    The file has a primary HDU whose header records the obs id, methods,
    parameters, the combined energy range (``E_MIN``/``E_MAX``, TeV; the string
    ``none`` where no method cuts) and each method's result (``M<i>NAME``,
    ``M<i>EMIN``, ``M<i>EMAX``, ``M<i>NOTE``), then a ``MASK_SAFE`` image with its
    ``MASK_SAFE_BANDS`` table in gammapy's map layout
    (``gammapy.maps.Map.read(path, hdu="MASK_SAFE")`` reads it).

    Parameters
    ----------
    safe : SafeMask
    path : str or `~pathlib.Path`
    overwrite : bool
    provenance : `~dl3flow.io.provenance.Provenance` or dict, optional
        The product's provenance record, or extra primary-header keywords (e.g.
        input file names), FITS-legal.

    Raises
    ------
    FileExistsError
        When ``path`` exists and ``overwrite`` is False.
    """
    from dl3flow import __version__

    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    h = fits.Header()  # the primary header after SIMPLE ... EXTEND
    h["CREATOR"] = f"dl3flow {__version__}"
    h["DATE"] = (_utc_now()[1], "file creation date (UTC)")
    h["CONTENT"] = "safe data range mask (True = safe)"
    if safe.obs_id is not None:
        h["OBS_ID"] = safe.obs_id
    h["METHODS"] = ",".join(safe.methods)  # combined with AND
    h["E_MIN"] = (_header_float(safe.energy_min), "[TeV] combined lower threshold")
    h["E_MAX"] = (_header_float(safe.energy_max), "[TeV] combined upper threshold")
    binned = safe.binned_range
    h["EBIN_MIN"] = (_header_float(binned and binned[0]), "[TeV] lowest safe reco-bin edge")
    h["EBIN_MAX"] = (_header_float(binned and binned[1]), "[TeV] highest safe reco-bin edge")
    p = safe.parameters
    h["AEFF_PCT"] = (p.get("aeff_percent", 10.0), "aeff-max: percent of max aeff")
    h["BIAS_PCT"] = (p.get("bias_percent", 10.0), "edisp-bias: percent bias")
    h["OFFSETMX"] = (p.get("offset_max", 3.0), "[deg] offset-max cut")
    if p.get("position") is not None:
        lon, lat, frame = p["position"]
        h["POS_LON"] = (lon, "[deg] aeff-max/edisp-bias position")
        h["POS_LAT"] = (lat, "[deg] aeff-max/edisp-bias position")
        h["POSFRAME"] = frame
    if p.get("fixed_offset") is not None:
        h["FIXOFFST"] = (p["fixed_offset"], "[deg] aeff-max/edisp-bias offset")
    for i, (method, result) in enumerate(safe.details.items(), start=1):
        h[f"M{i}NAME"] = method
        h[f"M{i}EMIN"] = (_header_float(result.energy_min), "[TeV]")
        h[f"M{i}EMAX"] = (_header_float(result.energy_max), "[TeV]")
        h[f"M{i}NOTE"] = result.note
    if safe.rejection is not None:
        h.update(safe.rejection.to_meta())
    add_to_header(h, provenance)
    hdus = [
        fitsio.primary_hdu(h),
        *_image_hdus("MASK_SAFE", safe.mask, safe.sky, [("energy", safe.energy.edges)], ""),
    ]
    # existence was checked above; provenance is already in the primary header
    write_hdulist(hdus, path, overwrite=True)
    return path


def read_safe_mask(path) -> SafeMask:
    """Read a file written by :func:`write_safe_mask`.

    Raises
    ------
    SafeMaskError
        If the file lacks the ``MASK_SAFE`` image or its header.
    """
    from dl3flow.datasets.io import DatasetError

    path = Path(path)
    with open_fits(path) as hdulist:
        if "MASK_SAFE" not in hdulist or "METHODS" not in hdulist[0].header:
            raise SafeMaskError(f"{path}: not a dl3flow safe-mask file (no MASK_SAFE / METHODS)")
        try:
            edges = _read_axis(hdulist, "MASK_SAFE", "energy", path)
            data = _read_image(hdulist, "MASK_SAFE", path).astype(bool)
        except DatasetError as exc:
            raise SafeMaskError(str(exc)) from exc
        sky = SkyGeom.from_header(hdulist["MASK_SAFE"].header)
        h = hdulist[0].header
        methods = tuple(m for m in str(h["METHODS"]).split(",") if m)
        details = {}
        i = 1
        while f"M{i}NAME" in h:
            details[h[f"M{i}NAME"]] = MethodResult(
                h[f"M{i}NAME"],
                energy_min=_read_float(h[f"M{i}EMIN"]),
                energy_max=_read_float(h[f"M{i}EMAX"]),
                note=str(h.get(f"M{i}NOTE", "")),
            )
            i += 1
        position = None
        if "POS_LON" in h:
            position = (float(h["POS_LON"]), float(h["POS_LAT"]), str(h["POSFRAME"]))
        parameters = {
            "aeff_percent": float(h["AEFF_PCT"]),
            "bias_percent": float(h["BIAS_PCT"]),
            "offset_max": float(h["OFFSETMX"]),
            "position": position,
            "fixed_offset": float(h["FIXOFFST"]) if "FIXOFFST" in h else None,
        }
        return SafeMask(
            mask=data,
            sky=sky,
            energy=EnergyAxis(edges, name="energy"),
            methods=methods,
            energy_min=_read_float(h["E_MIN"]),
            energy_max=_read_float(h["E_MAX"]),
            details=details,
            parameters=parameters,
            obs_id=int(h["OBS_ID"]) if "OBS_ID" in h else None,
            rejection=rejection_of(h),
        )
