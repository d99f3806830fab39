"""Configuration of the simulated data store: the sky and the observations, validated.

:class:`SimulationConfig` (built from the config's ``simulation`` section by
:func:`simulation_config_from_dict`) defines a store completely; :class:`SourceSpec` is
one injected source. Invalid values raise :class:`SimulationConfigError` naming the
``simulation.*`` key.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from astropy.time import Time

from dl3flow.simulate.geometry import _offset_by

__all__ = [
    "SimulationConfig",
    "SimulationConfigError",
    "SourceSpec",
    "default_demo_sky",
    "simulation_config_from_dict",
]

# H.E.S.S. site, the default location of the simulated array.
HESS_GEOLON = 16.5002222222222
HESS_GEOLAT = -23.2717777777778
HESS_ALTITUDE = 1835.0

DEFAULT_TARGET_NAME = "SIM J0400-2500"
DEFAULT_TARGET_RA = 60.0
DEFAULT_TARGET_DEC = -25.0

_KINDS = ("point", "gaussian")
_FOV_ALIGNMENTS = ("RADEC", "ALTAZ")
_IRF_STYLES = ("gadf", "caldb")


class SimulationConfigError(ValueError):
    """Invalid simulation configuration; the message starts with the config key.

    Parameters
    ----------
    key : str
        Dotted config key, e.g. ``"simulation.livetime"``.
    message : str
        What is wrong with it.
    """

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.reason = message
        super().__init__(f"{key}: {message}")


def _finite(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise SimulationConfigError(key, f"expected a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise SimulationConfigError(key, f"expected a finite number, got {value!r}")
    return value


def _integer(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise SimulationConfigError(key, f"expected an integer, got {value!r}")
    return int(value)


def _pair(key: str, value: Any) -> tuple[float, float]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise SimulationConfigError(key, f"expected a pair [min, max], got {value!r}")
    return (_finite(f"{key}[0]", value[0]), _finite(f"{key}[1]", value[1]))


@dataclass(frozen=True)
class SourceSpec:
    """A simulated gamma-ray source with a power-law spectrum.

    Parameters
    ----------
    name : str
        Source name.
    kind : {"point", "gaussian"}
        Spatial model.
    ra, dec : float
        Position (deg, ICRS).
    amplitude : float
        Differential flux at ``reference`` (cm-2 s-1 TeV-1).
    index : float
        Spectral index, ``dN/dE ∝ E**-index``.
    sigma : float, optional
        Gaussian width (deg); must be 0 for point sources and > 0 for Gaussians.
    reference : float, optional
        Reference energy (TeV).

    Raises
    ------
    SimulationConfigError
        With the offending field name as key.
    """

    name: str
    kind: str
    ra: float
    dec: float
    amplitude: float
    index: float
    sigma: float = 0.0
    reference: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise SimulationConfigError("name", f"expected a non-empty string, got {self.name!r}")
        if self.kind not in _KINDS:
            raise SimulationConfigError(
                "kind", f"unknown source kind {self.kind!r}, expected one of {_KINDS}"
            )
        for key in ("ra", "dec", "amplitude", "index", "sigma", "reference"):
            object.__setattr__(self, key, _finite(key, getattr(self, key)))
        if not -90.0 <= self.dec <= 90.0:
            raise SimulationConfigError("dec", f"must be within [-90, 90] deg, got {self.dec}")
        object.__setattr__(self, "ra", self.ra % 360.0)
        if self.amplitude < 0:
            raise SimulationConfigError("amplitude", f"must be >= 0, got {self.amplitude}")
        if self.reference <= 0:
            raise SimulationConfigError("reference", f"must be > 0 TeV, got {self.reference}")
        if not 0.5 <= self.index <= 6.0:
            raise SimulationConfigError("index", f"must be within [0.5, 6], got {self.index}")
        if self.sigma < 0:
            raise SimulationConfigError("sigma", f"must be >= 0 deg, got {self.sigma}")
        if self.kind == "point" and self.sigma != 0:
            raise SimulationConfigError("sigma", "must be 0 for a point source")
        if self.kind == "gaussian" and not 0 < self.sigma <= 2.0:
            raise SimulationConfigError(
                "sigma", f"must be within (0, 2] deg for a gaussian source, got {self.sigma}"
            )

    def dnde(self, energy: np.ndarray) -> np.ndarray:
        """Differential flux (cm-2 s-1 TeV-1) at ``energy`` (TeV)."""
        return self.amplitude * (np.asarray(energy, dtype=float) / self.reference) ** -self.index

    def integral_flux(self, emin: float, emax: float = np.inf) -> float:
        """Integral flux (cm-2 s-1) between ``emin`` and ``emax`` (TeV)."""
        g = self.index
        if abs(g - 1.0) < 1e-12:
            return self.amplitude * self.reference * math.log(emax / emin)
        hi = 0.0 if np.isinf(emax) else (emax / self.reference) ** (1 - g)
        return self.amplitude * self.reference / (g - 1) * ((emin / self.reference) ** (1 - g) - hi)


def default_demo_sky(
    *, ra: float = DEFAULT_TARGET_RA, dec: float = DEFAULT_TARGET_DEC
) -> tuple[SourceSpec, ...]:
    """Sky of the demo analysis around a target at (``ra``, ``dec``).

    A Crab-like point source at the target (3.5e-11 cm-2 s-1 TeV-1 at 1 TeV, index
    2.5; > 20 sigma in 6 x 30 min), a Gaussian source (sigma 0.2 deg, ~0.2 Crab) 1 deg
    away and a faint (~0.1 Crab) point source 1.6 deg away.

    Parameters
    ----------
    ra, dec : float, optional
        Target position (deg, ICRS).

    Returns
    -------
    tuple of SourceSpec
    """
    ext_ra, ext_dec = _offset_by(ra, dec, 60.0, 1.0)
    faint_ra, faint_dec = _offset_by(ra, dec, 200.0, 1.6)
    return (
        SourceSpec("SIM-BRIGHT", "point", ra, dec, amplitude=3.5e-11, index=2.5),
        SourceSpec(
            "SIM-EXTENDED",
            "gaussian",
            round(float(ext_ra), 6),
            round(float(ext_dec), 6),
            amplitude=7.0e-12,
            index=2.3,
            sigma=0.2,
        ),
        SourceSpec(
            "SIM-FAINT",
            "point",
            round(float(faint_ra), 6),
            round(float(faint_dec), 6),
            amplitude=3.5e-12,
            index=2.6,
        ),
    )


@dataclass(frozen=True)
class SimulationConfig:
    """Everything that defines a simulated data store.

    Parameters
    ----------
    seed : int
        Master random seed (>= 0).
    n_obs : int
        Number of observations (>= 1).
    target_name : str
        Name of the observed target (``OBJECT``).
    target_ra, target_dec : float
        Target position (deg, ICRS); the wobble pattern is centred on it.
    wobble_offset : float
        Pointing offset from the target (deg); pointings cycle N, E, S, W.
    livetime : float
        Live time per observation (s); ``ONTIME = livetime / deadc``.
    deadc : float
        Dead-time correction factor in (0, 1].
    zenith_range : tuple of float
        Zenith angles (deg) of the observations are drawn uniformly from this range
        (clipped to what the target reaches at the site).
    energy_range : tuple of float
        Reconstructed-energy range of the event lists (TeV).
    sources : tuple of SourceSpec
        The simulated sky (default: :func:`default_demo_sky` at the default target).
    background_norm : float
        Scale of the background model (1 gives ~10^4 events per 30 min).
    fov_alignment : {"RADEC", "ALTAZ"}
        Alignment of the background model field-of-view coordinates.
    obs_id_start : int
        ``OBS_ID`` of the first observation; the others follow consecutively.
    tstart : float or str
        Earliest start of the first observation: MJD (TT) or an ISO time string (TT).
        Observation ``i`` is taken on the ``i``-th day after it.
    telescope : str
        ``TELESCOP`` keyword.
    geolon, geolat, altitude : float
        Observatory location (deg, deg, m); H.E.S.S. by default.
    irf_style : {"gadf", "caldb"}
        ``"gadf"``: IRFs per observation in its file, at its zenith angle (H.E.S.S.
        DR1 layout). ``"caldb"``: one IRF file shared by all observations, at a
        fixed 20 deg zenith angle, in CTA's caldb style (see `dl3flow.simulate.store`).

    Raises
    ------
    SimulationConfigError
        Naming the ``simulation.*`` key that is invalid.
    """

    seed: int = 0
    n_obs: int = 6
    target_name: str = DEFAULT_TARGET_NAME
    target_ra: float = DEFAULT_TARGET_RA
    target_dec: float = DEFAULT_TARGET_DEC
    wobble_offset: float = 0.5
    livetime: float = 1800.0
    deadc: float = 0.95
    zenith_range: tuple[float, float] = (10.0, 40.0)
    energy_range: tuple[float, float] = (0.1, 100.0)
    sources: tuple[SourceSpec, ...] = field(default_factory=default_demo_sky)
    background_norm: float = 1.0
    fov_alignment: str = "RADEC"
    obs_id_start: int = 1
    tstart: float | str = 60310.0
    telescope: str = "DL3FLOW-SIM"
    geolon: float = HESS_GEOLON
    geolat: float = HESS_GEOLAT
    altitude: float = HESS_ALTITUDE
    irf_style: str = "gadf"

    def __post_init__(self) -> None:
        p = "simulation."
        self._check_counts(p)
        self._check_names(p)
        self._check_numbers(p)
        self._check_ranges(p)
        self._check_choices(p)
        self._check_sources(p)
        object.__setattr__(self, "tstart", _parse_tstart(p + "tstart", self.tstart))
        # the pointings must reach the zenith range at the site
        _zenith_limits(self)

    def _check_counts(self, p: str) -> None:
        """Check ``seed``, ``n_obs`` and ``obs_id_start`` and store them as int."""
        seed = _integer(p + "seed", self.seed)
        if seed < 0:
            raise SimulationConfigError(p + "seed", f"must be >= 0, got {seed}")
        n_obs = _integer(p + "n_obs", self.n_obs)
        if n_obs < 1:
            raise SimulationConfigError(p + "n_obs", f"must be >= 1, got {n_obs}")
        obs_id_start = _integer(p + "obs_id_start", self.obs_id_start)
        if obs_id_start < 0 or obs_id_start + n_obs - 1 > 999_999:
            raise SimulationConfigError(
                p + "obs_id_start", "OBS_IDs must lie within [0, 999999] (6-digit file names)"
            )
        object.__setattr__(self, "seed", seed)
        object.__setattr__(self, "n_obs", n_obs)
        object.__setattr__(self, "obs_id_start", obs_id_start)

    def _check_names(self, p: str) -> None:
        """Check that ``target_name`` and ``telescope`` are non-empty strings."""
        for key in ("target_name", "telescope"):
            value = getattr(self, key)
            if not isinstance(value, str) or not value.strip():
                raise SimulationConfigError(p + key, f"expected a non-empty string, got {value!r}")

    def _check_numbers(self, p: str) -> None:
        """Check the scalar numbers, store them as float and wrap ``target_ra``."""
        floats = (
            "target_ra",
            "target_dec",
            "wobble_offset",
            "livetime",
            "deadc",
            "background_norm",
            "geolon",
            "geolat",
            "altitude",
        )
        for key in floats:
            object.__setattr__(self, key, _finite(p + key, getattr(self, key)))
        object.__setattr__(self, "target_ra", self.target_ra % 360.0)
        for key in ("target_dec", "geolat"):
            if not -90 <= getattr(self, key) <= 90:
                raise SimulationConfigError(p + key, "must be within [-90, 90] deg")
        if not 0 <= self.wobble_offset <= 2.5:
            raise SimulationConfigError(
                p + "wobble_offset", f"must be within [0, 2.5] deg, got {self.wobble_offset}"
            )
        if self.livetime <= 0:
            raise SimulationConfigError(p + "livetime", f"must be > 0 s, got {self.livetime}")
        if not 0 < self.deadc <= 1:
            raise SimulationConfigError(p + "deadc", f"must be within (0, 1], got {self.deadc}")
        if self.livetime / self.deadc > 12 * 3600:
            raise SimulationConfigError(
                p + "livetime",
                f"ONTIME = livetime / deadc must be at most 12 h, got {self.livetime}",
            )
        if self.background_norm < 0:
            raise SimulationConfigError(
                p + "background_norm", f"must be >= 0, got {self.background_norm}"
            )

    def _check_ranges(self, p: str) -> None:
        """Check ``zenith_range`` and ``energy_range`` and store them as float pairs."""
        zmin, zmax = _pair(p + "zenith_range", self.zenith_range)
        if not 0 <= zmin <= zmax < 80:
            raise SimulationConfigError(
                p + "zenith_range", f"need 0 <= min <= max < 80 deg, got [{zmin}, {zmax}]"
            )
        object.__setattr__(self, "zenith_range", (zmin, zmax))
        emin, emax = _pair(p + "energy_range", self.energy_range)
        if not 0.01 <= emin < emax <= 1000:
            raise SimulationConfigError(
                p + "energy_range",
                f"need 0.01 <= min < max <= 1000 TeV (non-empty), got [{emin}, {emax}]",
            )
        object.__setattr__(self, "energy_range", (emin, emax))

    def _check_choices(self, p: str) -> None:
        """Check ``fov_alignment`` and ``irf_style`` against the implemented choices."""
        if self.fov_alignment not in _FOV_ALIGNMENTS:
            raise SimulationConfigError(
                p + "fov_alignment",
                f"unknown alignment {self.fov_alignment!r}, expected one of {_FOV_ALIGNMENTS}",
            )
        if self.irf_style not in _IRF_STYLES:
            raise SimulationConfigError(
                p + "irf_style",
                f"unknown IRF style {self.irf_style!r}, expected one of {_IRF_STYLES}",
            )

    def _check_sources(self, p: str) -> None:
        """Check that ``sources`` are SourceSpecs with unique names; store them as a tuple."""
        sources = tuple(self.sources)
        for i, src in enumerate(sources):
            if not isinstance(src, SourceSpec):
                raise SimulationConfigError(f"{p}sources[{i}]", "expected a SourceSpec")
        names = [s.name for s in sources]
        if len(set(names)) != len(names):
            raise SimulationConfigError(p + "sources", f"source names must be unique: {names}")
        object.__setattr__(self, "sources", sources)

    @property
    def ontime(self) -> float:
        """Observation time per run including dead time (s)."""
        return self.livetime / self.deadc

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (the inverse of :func:`simulation_config_from_dict`)."""
        out = dataclasses.asdict(self)
        out["sources"] = [dataclasses.asdict(s) for s in self.sources]
        out["zenith_range"] = list(self.zenith_range)
        out["energy_range"] = list(self.energy_range)
        target = {
            "name": out.pop("target_name"),
            "ra": out.pop("target_ra"),
            "dec": out.pop("target_dec"),
        }
        site = {k: out.pop(k) for k in ("geolon", "geolat", "altitude")}
        if out["irf_style"] == "gadf":  # the default: keeps the gadf manifest unchanged
            del out["irf_style"]
        return {**out, "target": target, "site": site}


def _parse_tstart(key: str, value: Any) -> float:
    if isinstance(value, str):
        try:
            mjd = float(Time(value.strip(), scale="tt").mjd)
        except ValueError as exc:
            raise SimulationConfigError(key, f"cannot parse time {value!r}: {exc}") from None
    else:
        mjd = _finite(key, value)
    if not 40000 <= mjd <= 100000:
        raise SimulationConfigError(key, f"MJD {mjd} outside [40000, 100000]")
    return mjd


_TOP_KEYS = {
    "seed",
    "n_obs",
    "obs_id_start",
    "target",
    "wobble_offset",
    "livetime",
    "deadc",
    "zenith_range",
    "energy_range",
    "sources",
    "background_norm",
    "fov_alignment",
    "tstart",
    "telescope",
    "site",
    "irf_style",
}
_SOURCE_KEYS = {"name", "kind", "ra", "dec", "sigma", "amplitude", "index", "reference"}


def _check_keys(prefix: str, mapping: Any, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(mapping, Mapping):
        raise SimulationConfigError(prefix, f"expected a mapping, got {type(mapping).__name__}")
    for key in mapping:
        if key not in allowed:
            raise SimulationConfigError(
                f"{prefix}.{key}", f"unknown key, expected one of {sorted(allowed)}"
            )
    return mapping


def simulation_config_from_dict(cfg: Mapping[str, Any]) -> SimulationConfig:
    """Build a :class:`SimulationConfig` from the ``simulation`` section of the config.

    Parameters
    ----------
    cfg : mapping
        Keys: ``seed`` (required), ``n_obs`` (required), ``obs_id_start``,
        ``target: {name, ra, dec}``, ``wobble_offset``, ``livetime``, ``deadc``,
        ``zenith_range: [min, max]``, ``energy_range: [min, max]``, ``sources`` (list of
        mappings with the :class:`SourceSpec` fields; default: :func:`default_demo_sky`
        at the target), ``background_norm``, ``fov_alignment``, ``tstart`` (MJD or ISO),
        ``telescope``, ``site: {geolon, geolat, altitude}``, ``irf_style`` (``gadf`` or
        ``caldb``).

    Returns
    -------
    SimulationConfig

    Raises
    ------
    SimulationConfigError
        Naming the invalid key, e.g. ``simulation.sources[2].kind``.
    """
    p = "simulation"
    cfg = _check_keys(p, cfg, _TOP_KEYS)
    for key in ("seed", "n_obs"):
        if key not in cfg:
            raise SimulationConfigError(f"{p}.{key}", "missing required key")
    kwargs: dict[str, Any] = {
        k: cfg[k] for k in _TOP_KEYS - {"target", "sources", "site"} if k in cfg
    }
    for key in ("zenith_range", "energy_range"):
        if key in kwargs:
            kwargs[key] = _pair(f"{p}.{key}", kwargs[key])
    if "target" in cfg:
        target = _check_keys(f"{p}.target", cfg["target"], {"name", "ra", "dec"})
        for key in ("name", "ra", "dec"):
            if key in target:
                kwargs[f"target_{key}"] = target[key]
    if "site" in cfg:
        kwargs.update(_check_keys(f"{p}.site", cfg["site"], {"geolon", "geolat", "altitude"}))
    if "sources" in cfg:
        raw = cfg["sources"]
        if isinstance(raw, (str, bytes, Mapping)) or not isinstance(raw, Sequence):
            raise SimulationConfigError(f"{p}.sources", "expected a list of sources")
        sources = []
        for i, item in enumerate(raw):
            key = f"{p}.sources[{i}]"
            item = _check_keys(key, item, _SOURCE_KEYS)
            for required in ("name", "kind", "ra", "dec", "amplitude", "index"):
                if required not in item:
                    raise SimulationConfigError(f"{key}.{required}", "missing required key")
            try:
                sources.append(SourceSpec(**item))
            except SimulationConfigError as exc:
                raise SimulationConfigError(f"{key}.{exc.key}", exc.reason) from None
        kwargs["sources"] = tuple(sources)
    else:
        ra = _finite(f"{p}.target.ra", kwargs.get("target_ra", DEFAULT_TARGET_RA))
        dec = _finite(f"{p}.target.dec", kwargs.get("target_dec", DEFAULT_TARGET_DEC))
        if not -90 <= dec <= 90:
            raise SimulationConfigError(f"{p}.target.dec", "must be within [-90, 90] deg")
        kwargs["sources"] = default_demo_sky(ra=ra, dec=dec)
    try:
        return SimulationConfig(**kwargs)
    except SimulationConfigError as exc:  # name nested keys as they appear in the config
        key = re.sub(r"^simulation\.target_", "simulation.target.", exc.key)
        key = re.sub(r"^simulation\.(geolon|geolat|altitude)", r"simulation.site.\1", key)
        if key == exc.key:
            raise
        raise SimulationConfigError(key, exc.reason) from None


def _zenith_limits(config: SimulationConfig) -> tuple[float, float]:
    """Zenith range reachable by all pointings, intersected with the configured one."""
    _, dec = _wobble_pointings(config, np.arange(min(config.n_obs, 4)))
    phi = config.geolat
    lo = float(np.max(np.abs(phi - dec)))
    hi = float(np.min(np.minimum(90.0, 180.0 - np.abs(phi + dec))))
    zmin, zmax = config.zenith_range
    lo, hi = max(lo, zmin), min(hi, zmax)
    if lo > hi:
        raise SimulationConfigError(
            "simulation.zenith_range",
            f"the pointings (dec {dec.min():.1f}..{dec.max():.1f} deg) never reach zenith "
            f"angles {zmin}..{zmax} deg at site latitude {phi:.2f} deg",
        )
    return lo, hi


def _wobble_pointings(config: SimulationConfig, index: np.ndarray):
    """Pointings (deg) of observations ``index``: the target offset N, E, S, W in turn."""
    pa = 90.0 * (np.asarray(index) % 4)  # N, E, S, W
    return _offset_by(config.target_ra, config.target_dec, pa, config.wobble_offset)
