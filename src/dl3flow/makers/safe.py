"""Safe data range of one observation's map dataset (gammapy's ``SafeMaskMaker``).

Each method is its own pure function (`dl3flow.makers.safe_methods`, which describes
them); :func:`make_safe_mask` combines the chosen ones with logical AND into a
:class:`SafeMask` (the mask, the energy range and what every method found), which
`dl3flow.makers.safe_io.write_safe_mask` stores as
``results/{analysis}/obs/{obs_id}/mask_safe.fits``.

Energy-threshold convention
---------------------------
A threshold is one energy; it is applied to the reconstructed-energy axis of the
counts by keeping the bins that lie entirely inside ``[energy_min, energy_max]``
(lower edge >= ``energy_min``, upper edge <= ``energy_max``): a bin that straddles
a threshold is dropped whole (gammapy's ``Geom.energy_mask``).
How each method's threshold relates to true and reconstructed energy, and the one
deliberate difference from gammapy 1.3, are in `dl3flow.makers.safe_methods`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import astropy.units as u
import numpy as np

from dl3flow.datasets.map import MapDataset
from dl3flow.makers.safe_methods import (
    MethodResult,
    SafeMaskError,
    energy_range_aeff_default,
    energy_range_aeff_max,
    energy_range_bkg_peak,
    energy_range_edisp_bias,
    evaluation_position,
    mask_background_valid,
    mask_offset_max,
)
from dl3flow.maps.coords import wrap_longitude
from dl3flow.maps.geom import EnergyAxis, SkyGeom

if TYPE_CHECKING:
    from astropy.coordinates import SkyCoord

__all__ = [
    "DatasetObservation",
    "rejected_safe_mask",
    "SAFE_MASK_METHODS",
    "DEFAULT_METHODS",
    "DEFAULT_OFFSET_MAX",
    "SafeMask",
    "energy_mask",
    "make_safe_mask",
    "with_safe_mask",
]

#: The safe-mask methods, as gammapy's ``SafeMaskMaker.available_methods``, in the
#: order they are applied (:data:`_METHOD_FUNCTIONS` implements them; the schema's
#: ``safe_mask.methods`` enum lists the same, which ``tests/test_config.py`` checks).
SAFE_MASK_METHODS = ("aeff-default", "aeff-max", "edisp-bias", "offset-max", "bkg-peak")
#: Defaults of :func:`make_safe_mask`: the analysis defaults (the schema's
#: ``safe_mask.methods`` and ``offset_max``).
DEFAULT_METHODS = ("aeff-default", "offset-max")
DEFAULT_OFFSET_MAX = 2.5


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
    position: Any
    fixed_offset: float | None


def _offset_max(o: _MethodOptions) -> tuple[MethodResult, np.ndarray]:
    """``offset-max`` as :func:`make_safe_mask` applies it: (result, pixel mask)."""
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
    """The known ``methods``, in :data:`SAFE_MASK_METHODS` order (SafeMaskError if unknown)."""
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
    """``value`` as a float, checked to be a percentage in [0, 100]."""
    value = float(value)
    if not 0 <= value <= 100:
        raise SafeMaskError(f"{name} must be within [0, 100], got {value}")
    return value


def _check_options(
    methods, *, aeff_percent, bias_percent, position, fixed_offset, offset_max
) -> tuple[tuple[str, ...], dict]:
    """The methods in :data:`SAFE_MASK_METHODS` order and the checked numeric options."""
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
    return methods, {
        "aeff_percent": aeff_percent,
        "bias_percent": bias_percent,
        "offset_max": offset_max,
        "position": position,
        "fixed_offset": fixed_offset,
    }


def _method_options(dataset: MapDataset, observation, methods, checked: dict) -> _MethodOptions:
    """The methods' inputs: the checked options, the pointing and the evaluation position."""
    pointing = None
    if observation is not None:
        pointing = getattr(observation, "pointing_radec", None) or observation.pointing
    where = None
    if "aeff-max" in methods or "edisp-bias" in methods:
        where = evaluation_position(
            dataset.geom.sky,
            pointing=pointing,
            position=checked["position"],
            fixed_offset=checked["fixed_offset"],
        )
    return _MethodOptions(
        dataset=dataset,
        observation=observation,
        obs_id=getattr(observation, "obs_id", None),
        pointing=pointing,
        where=where,
        **checked,
    )


def _apply_methods(
    options: _MethodOptions, methods: tuple[str, ...]
) -> tuple[np.ndarray, dict[str, MethodResult]]:
    """The valid-background mask AND each method's cut, and ``{method: MethodResult}``."""
    geom = options.dataset.geom
    mask = mask_background_valid(options.dataset)
    details: dict[str, MethodResult] = {}
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
    return mask, details


def _parameters(o: _MethodOptions) -> dict:
    """The options recorded in a :class:`SafeMask` (``position`` as (lon, lat, frame))."""
    position = o.position
    return {
        "aeff_percent": o.aeff_percent,
        "bias_percent": o.bias_percent,
        "offset_max": o.offset_max,
        "position": None
        if position is None
        else (
            float(position.spherical.lon.deg),
            float(position.spherical.lat.deg),
            position.frame.name,
        ),
        "fixed_offset": o.fixed_offset,
    }


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
    dataset from ``MapDatasetMaker`` (see `dl3flow.makers.safe_methods` for the one
    deliberate difference). Pixels with a non-finite or non-positive background are
    always unsafe, as in gammapy.

    Parameters
    ----------
    dataset : `~dl3flow.datasets.map.MapDataset`
        The observation's reduced dataset (its own ``mask_safe`` is ignored).
    observation : `~dl3flow.data.observation.Observation`
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
    methods, checked = _check_options(
        methods,
        aeff_percent=aeff_percent,
        bias_percent=bias_percent,
        position=position,
        fixed_offset=fixed_offset,
        offset_max=offset_max,
    )
    options = _method_options(dataset, observation, methods, checked)
    mask, details = _apply_methods(options, methods)
    lows = [r.energy_min for r in details.values() if r.energy_min is not None]
    highs = [r.energy_max for r in details.values() if r.energy_max is not None]
    return SafeMask(
        mask=mask,
        sky=dataset.geom.sky,
        energy=dataset.geom.energy,
        methods=methods,
        energy_min=max(lows) if lows else None,
        energy_max=min(highs) if highs else None,
        details=details,
        parameters=_parameters(options),
        obs_id=None if options.obs_id is None else int(options.obs_id),
    )


@dataclass(frozen=True)
class _DefaultRange:
    """The effective area's default safe range (``aeff-default``), TeV or None."""

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


def _read_float(value) -> float | None:
    """A header value written by ``_header_float``: the string ``none`` is None."""
    if isinstance(value, str):
        value = value.strip().lower()
        return None if value == "none" else float(value)
    return float(value)
