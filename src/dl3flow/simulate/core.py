"""Synthetic GADF DL3 data store, deterministic from a seed.

The demo analysis of the workflow runs on a data store written by
:func:`write_data_store`: wobble observations of a configurable sky (point and
Gaussian sources with power-law spectra) seen through analytic, H.E.S.S.-like
instrument response functions (IRFs), plus a hadronic background drawn from the
``bkg_3d`` model that is written alongside.

Layout and header keywords mimic the H.E.S.S. DL3 DR1 release (``obs-index.fits.gz``,
``hdu-index.fits.gz`` and one ``data/*_obs_id_XXXXXX.fits.gz`` file per observation
with ``EVENTS``, ``GTI``, ``AEFF``, ``EDISP``, ``PSF`` and ``BKG`` HDUs). The IRF
tables use the array layout gammapy's ``to_table`` writers produce (which is also the
layout of DR1), so gammapy and any generic GADF reader load them.

With ``irf_style="caldb"`` the store instead mimics CTA's first data challenge (1DC)
and its caldb: ``data/*_obs_id_XXXXXX.fits.gz`` hold only ``EVENTS`` and ``GTI``, and
ONE IRF file, ``caldb/data/dl3flow/sim/bcf/sim_z20/irf_file.fits``, serves every
observation (the HDU index lists its four HDUs for each of them, ``FILE_DIR`` relative
to the store). Its HDUs are named ``EFFECTIVE AREA``, ``ENERGY DISPERSION`` (``ETRUE``
columns), ``POINT SPREAD FUNCTION`` (the PSF below as ``psf_3gauss`` parameters:
``SCALE``, ``SIGMA_1``, ``AMPL_2``, ``SIGMA_2``, ``AMPL_3 = 0``, ``SIGMA_3``) and
``BACKGROUND``, with OGIP-style ``HDUCLAS4`` (``2D``, ``3GAUSS``, ``3D``) while the
HDU index says ``aeff_2d``, ``edisp_2d``, ``psf_3gauss``, ``bkg_3d``; there is no
``LO_THRES`` / ``HI_THRES`` and no ``FOVALIGN`` (readers assume their default; the
background is rotationally symmetric, so it does not matter), and the background
unit is ``1/s/MeV/sr`` (parsed by astropy only as OGIP). As CTA's ``South_z20_50h``,
the IRF is computed at one fixed zenith angle (20 deg), and so that the store stays
self-consistent the events of every observation are drawn from that same instrument,
whatever the zenith angle of its pointing (which the indexes still report).

Instrument model (``z`` is the zenith angle of the observation; 20 deg for caldb)
---------------------------------------------------------------------------------
* energy threshold ``E_thr = 0.3 TeV / cos(z)**2``
* effective area ``A(E, θ) = A0 (1 - exp(-(E/E_thr)**2)) exp(-θ²/(2 σ_θ(E)²))`` with
  ``A0 = 1e5 m² / sqrt(cos z)`` and ``σ_θ(E) = 1.1° + 0.15° ln(1 + E/E_thr)``;
  ``LO_THRES`` is the energy where the energy bias drops to 10 %
* energy dispersion: Gaussian in ``migra`` truncated to [0.2, 5], mean
  ``1 + b(E)`` with ``b = 0.15 (E_thr/E)²`` (smoothly capped at 1.5) and width
  ``(0.08 + 0.10 sqrt(E_thr/E)) (1 + 0.05 θ²)``
* PSF: two concentric Gaussians (80 % core with ``σ_c = (0.03° + 0.026° (E/TeV)**-0.5)
  (1 + 0.1 θ²)``, 20 % tail with ``2.5 σ_c``), 68 % containment 0.1° at 1 TeV on axis,
  written as a ``psf_table`` (caldb: ``psf_3gauss``)
* background: ``R(E, x, y) = R0 (E/TeV)**-2.7 (1 - exp(-(E/E_thr)**2))
  exp(-(x² + y²)/(2 (1.4°)²))`` on a square field-of-view grid (±3°, 0.1° pixels);
  it is rotationally symmetric, so the RADEC/ALTAZ alignment and the DETX/DETY axis
  order do not change the predicted counts.

Events are sampled from exactly these analytic functions (the tables are evaluated at
the bin centres gammapy interpolates between). Background counts follow ``bkg_3d x
ONTIME``; source counts follow ``flux x aeff x LIVETIME`` (Poisson thinning of an
on-axis envelope), with true positions smeared by the PSF and true energies by the
energy dispersion. Each observation has its own random stream
(``SeedSequence(seed, spawn_key=(index,))``), so an observation does not depend on how
many others are simulated, and the same seed gives byte-identical files.

Pointing geometry uses a linear GMST formula and treats UTC as TT, good to a fraction
of a degree in ALT/AZ, which is all a simulation needs; no IERS data is downloaded.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from glob import escape as glob_escape
from pathlib import Path
from typing import Any

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from astropy.time import Time
from scipy.special import erf, ndtr, ndtri

from dl3flow.maps.coords import angular_offset, fov_to_sky

__all__ = [
    "SIMULATION_FORMAT_VERSION",
    "ObservationPlan",
    "SimulatedObservation",
    "SimulationConfig",
    "SimulationConfigError",
    "SourceSpec",
    "default_demo_sky",
    "plan_observations",
    "remove_stale_store_temporaries",
    "simulate_observation",
    "simulation_config_from_dict",
    "write_data_store",
    "write_region_file",
    "write_source_catalog",
]

#: Bumped whenever the same configuration would produce different files.
SIMULATION_FORMAT_VERSION = 1

# Time reference of the H.E.S.S. DR1 files (2001-01-01T00:00:00 UTC expressed in TT).
MJDREFI = 51910
MJDREFF = 0.000742870370370241
_MJDREF = MJDREFI + MJDREFF
_SIDEREAL_DEG_PER_DAY = 360.98564736629

# H.E.S.S. site, the default location of the simulated array.
HESS_GEOLON = 16.5002222222222
HESS_GEOLAT = -23.2717777777778
HESS_ALTITUDE = 1835.0

DEFAULT_TARGET_NAME = "SIM J0400-2500"
DEFAULT_TARGET_RA = 60.0
DEFAULT_TARGET_DEC = -25.0

_KINDS = ("point", "gaussian")
_FOV_ALIGNMENTS = ("RADEC", "ALTAZ")
_HDUDOC = "https://github.com/open-gamma-ray-astro/gamma-astro-data-formats"
_GADF = {"HDUCLASS": "GADF", "HDUDOC": _HDUDOC, "HDUVERS": "0.2"}
_FILE_PREFIX = "dl3flow_sim"
_MANIFEST = "simulation.json"
_IRF_STYLES = ("gadf", "caldb")

# irf_style "caldb": one IRF file for all observations, as CTA's caldb (1DC, prod3b/5).
_CALDB_ZENITH_DEG = 20.0
_CALDB_IRF_NAME = "sim_z20"
_CALDB_DIR = f"caldb/data/dl3flow/sim/bcf/{_CALDB_IRF_NAME}"
_CALDB_FILE = "irf_file.fits"
_CALDB_HDU = {
    "HDUCLASS": "OGIP",
    "HDUDOC": "CAL/GEN/92-019",
    "HDUVERS": "1.0.0",
    "HDUCLAS1": "RESPONSE",
}

# Instrument model constants (see the module docstring).
_A0_M2 = 1.0e5
_E_THR0_TEV = 0.3
_THR_INDEX = 2.0
_BIAS0 = 0.15
_BIAS_CAP = 1.5
_MIGRA_LO, _MIGRA_HI = 0.2, 5.0
_PSF_TAIL_WEIGHT = 0.2
_PSF_TAIL_SCALE = 2.5
_BKG_R0 = 2.0e-4  # MeV-1 s-1 sr-1 at 1 TeV far above threshold, background_norm = 1
_BKG_INDEX = 2.7
_BKG_SIGMA_DEG = 1.4
_FOV_HALF_WIDTH_DEG = 3.0
_FOV_BIN_DEG = 0.1
_OFFSET_MAX_DEG = 3.0


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
        fixed 20 deg zenith angle, in CTA's caldb style (see the module docstring).

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
        for key in ("target_name", "telescope"):
            value = getattr(self, key)
            if not isinstance(value, str) or not value.strip():
                raise SimulationConfigError(p + key, f"expected a non-empty string, got {value!r}")
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
        sources = tuple(self.sources)
        for i, src in enumerate(sources):
            if not isinstance(src, SourceSpec):
                raise SimulationConfigError(f"{p}sources[{i}]", "expected a SourceSpec")
        names = [s.name for s in sources]
        if len(set(names)) != len(names):
            raise SimulationConfigError(p + "sources", f"source names must be unique: {names}")
        object.__setattr__(self, "sources", sources)
        object.__setattr__(self, "tstart", _parse_tstart(p + "tstart", self.tstart))
        # the pointings must reach the zenith range at the site
        _zenith_limits(self)

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


# --------------------------------------------------------------------------------------
# spherical geometry (degrees in, degrees out, vectorised)
# --------------------------------------------------------------------------------------


def _offset_by(lon, lat, pa, sep):
    """Point at angular distance ``sep`` and position angle ``pa`` (east of north)."""
    lon, lat, pa, sep = (np.radians(np.asarray(x, dtype=float)) for x in (lon, lat, pa, sep))
    sin_lat2 = np.sin(lat) * np.cos(sep) + np.cos(lat) * np.sin(sep) * np.cos(pa)
    lat2 = np.arcsin(np.clip(sin_lat2, -1.0, 1.0))
    dlon = np.arctan2(np.sin(pa) * np.sin(sep) * np.cos(lat), np.cos(sep) - np.sin(lat) * sin_lat2)
    return np.degrees(lon + dlon) % 360.0, np.degrees(lat2)


def _gmst_deg(mjd):
    return (280.46061837 + _SIDEREAL_DEG_PER_DAY * (np.asarray(mjd) - 51544.5)) % 360.0


# --------------------------------------------------------------------------------------
# observation plan
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObservationPlan:
    """Pointing and timing of one simulated observation.

    Parameters
    ----------
    index : int
        Position in the run list (0-based).
    obs_id : int
        Observation id.
    ra_pnt, dec_pnt : float
        Pointing (deg, ICRS).
    zenith, alt, az : float
        Pointing zenith, altitude and azimuth at mid-observation (deg).
    hour_angle : float
        Hour angle of the pointing at mid-observation (deg).
    mjd_start : float
        Start time (MJD, TT).
    tstart, tstop : float
        Start and stop (s since MJDREF, TT).
    """

    index: int
    obs_id: int
    ra_pnt: float
    dec_pnt: float
    zenith: float
    alt: float
    az: float
    hour_angle: float
    mjd_start: float
    tstart: float
    tstop: float


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
    pa = 90.0 * (np.asarray(index) % 4)  # N, E, S, W
    return _offset_by(config.target_ra, config.target_dec, pa, config.wobble_offset)


def _plan_rng(config: SimulationConfig, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(index, 0)))


def _events_rng(config: SimulationConfig, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(index, 1)))


def plan_observations(config: SimulationConfig) -> tuple[ObservationPlan, ...]:
    """Pointings, zenith angles and times of all observations.

    Parameters
    ----------
    config : SimulationConfig

    Returns
    -------
    tuple of ObservationPlan
    """
    return tuple(_plan_one(config, i) for i in range(config.n_obs))


def _plan_one(config: SimulationConfig, index: int) -> ObservationPlan:
    ra, dec = (float(v) for v in _wobble_pointings(config, np.array(index)))
    zlo, zhi = _zenith_limits(config)
    rng = _plan_rng(config, index)
    zenith = float(rng.uniform(zlo, zhi))
    west = bool(rng.random() < 0.5)
    phi, d, z = np.radians(config.geolat), np.radians(dec), np.radians(zenith)
    cos_h = (np.cos(z) - np.sin(phi) * np.sin(d)) / (np.cos(phi) * np.cos(d))
    h = float(np.arccos(np.clip(cos_h, -1.0, 1.0)))
    h = h if west else -h
    az = float(
        np.degrees(
            np.arctan2(
                -np.cos(d) * np.sin(h),
                np.sin(d) * np.cos(phi) - np.cos(d) * np.sin(phi) * np.cos(h),
            )
        )
        % 360.0
    )
    # first time after day `index` when the pointing is at hour angle h (mid-observation)
    half = 0.5 * config.ontime / 86400.0
    day = config.tstart + index + half
    lst_mid = (ra + np.degrees(h)) % 360.0
    mjd_mid = day + ((lst_mid - config.geolon - _gmst_deg(day)) % 360.0) / _SIDEREAL_DEG_PER_DAY
    mjd_start = float(mjd_mid - half)
    # whole milliseconds keep TSTART exact in text form
    tstart = round((mjd_start - _MJDREF) * 86400.0, 3)
    return ObservationPlan(
        index=index,
        obs_id=config.obs_id_start + index,
        ra_pnt=ra,
        dec_pnt=dec,
        zenith=zenith,
        alt=90.0 - zenith,
        az=az,
        hour_angle=float(np.degrees(h)),
        mjd_start=_MJDREF + tstart / 86400.0,
        tstart=tstart,
        tstop=tstart + config.ontime,
    )


# --------------------------------------------------------------------------------------
# analytic instrument model
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Instrument:
    zenith: float
    energy_range: tuple[float, float]
    background_norm: float = 1.0

    @property
    def e_thr(self) -> float:
        return _E_THR0_TEV / math.cos(math.radians(self.zenith)) ** 2

    @property
    def a0(self) -> float:
        return _A0_M2 / math.sqrt(math.cos(math.radians(self.zenith)))

    @property
    def lo_thres(self) -> float:
        """Energy where the bias drops to 10 %."""
        b = 0.1
        # solve b0 x^2 / (1 + b0 x^2 / cap) = b for x = E_thr / E
        x2 = b / (_BIAS0 * (1 - b / _BIAS_CAP))
        return self.e_thr / math.sqrt(x2)

    @property
    def true_energy_bounds(self) -> tuple[float, float]:
        return min(0.05, self.energy_range[0]), max(100.0, self.energy_range[1])

    def threshold(self, energy):
        return -np.expm1(-((np.asarray(energy) / self.e_thr) ** _THR_INDEX))

    def sigma_offset(self, energy):
        return 1.1 + 0.15 * np.log1p(np.asarray(energy) / self.e_thr)

    def aeff_offset_factor(self, energy, offset):
        ratio = np.asarray(offset) / self.sigma_offset(energy)
        return np.exp(-0.5 * ratio**2)

    def aeff(self, energy, offset):
        """Effective area (m2)."""
        return self.a0 * self.threshold(energy) * self.aeff_offset_factor(energy, offset)

    def migra_mean_sigma(self, energy, offset):
        x2 = (self.e_thr / np.asarray(energy)) ** 2
        bias = _BIAS0 * x2 / (1 + _BIAS0 * x2 / _BIAS_CAP)
        sigma = (0.08 + 0.10 * np.sqrt(self.e_thr / np.asarray(energy))) * (
            1 + 0.05 * np.asarray(offset) ** 2
        )
        return 1 + bias, np.minimum(sigma, 0.5)

    @staticmethod
    def psf_sigma(energy, offset):
        """Core Gaussian width (deg)."""
        return (0.03 + 0.026 * np.asarray(energy) ** -0.5) * (1 + 0.1 * np.asarray(offset) ** 2)

    def psf_density(self, energy, offset, rad):
        """PSF probability per solid angle (sr-1) at ``rad`` (deg)."""
        s1 = np.radians(self.psf_sigma(energy, offset))
        s2 = _PSF_TAIL_SCALE * s1
        r = np.radians(np.asarray(rad))
        g1 = np.exp(-0.5 * (r / s1) ** 2) / (2 * np.pi * s1**2)
        g2 = np.exp(-0.5 * (r / s2) ** 2) / (2 * np.pi * s2**2)
        return (1 - _PSF_TAIL_WEIGHT) * g1 + _PSF_TAIL_WEIGHT * g2

    def bkg_spectrum(self, energy):
        """Background rate (MeV-1 s-1 sr-1) on axis."""
        energy = np.asarray(energy)
        return self.background_norm * _BKG_R0 * energy**-_BKG_INDEX * self.threshold(energy)

    def bkg_rate(self, energy, fov_lon, fov_lat):
        """Background rate (MeV-1 s-1 sr-1)."""
        r2 = np.asarray(fov_lon) ** 2 + np.asarray(fov_lat) ** 2
        return self.bkg_spectrum(energy) * np.exp(-0.5 * r2 / _BKG_SIGMA_DEG**2)


def _log_edges(lo: float, hi: float, per_decade: int) -> np.ndarray:
    n = max(1, math.ceil(math.log10(hi / lo) * per_decade - 1e-6))
    return np.geomspace(lo, hi, n + 1)


def _irf_axes(instrument: _Instrument) -> dict[str, np.ndarray]:
    lo, hi = instrument.true_energy_bounds
    n_det = round(2 * _FOV_HALF_WIDTH_DEG / _FOV_BIN_DEG)
    bkg_energy = _log_edges(lo, hi, 10)
    if len(bkg_energy) - 1 == n_det:  # keep gammapy's axis-order check unambiguous
        bkg_energy = _log_edges(lo, hi, 11)
    return {
        "aeff_energy": _log_edges(lo, hi, 24),
        "aeff_offset": np.linspace(0.0, _OFFSET_MAX_DEG, 13),
        "irf_energy": _log_edges(lo, hi, 8),
        "irf_offset": np.linspace(0.0, _OFFSET_MAX_DEG, 7),
        "migra": np.linspace(_MIGRA_LO, _MIGRA_HI, 161),
        "rad": np.concatenate([np.arange(0.0, 0.5, 0.005), np.linspace(0.5, 2.0, 61)]),
        "bkg_energy": bkg_energy,
        "det": np.linspace(-_FOV_HALF_WIDTH_DEG, _FOV_HALF_WIDTH_DEG, n_det + 1),
    }


def _centers_log(edges):
    return np.sqrt(edges[:-1] * edges[1:])


def _centers_lin(edges):
    return 0.5 * (edges[:-1] + edges[1:])


# --------------------------------------------------------------------------------------
# event sampling
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulatedObservation:
    """One simulated observation.

    Parameters
    ----------
    plan : ObservationPlan
        Pointing and timing.
    events : dict of str to numpy.ndarray
        ``EVENT_ID``, ``TIME``, ``RA``, ``DEC``, ``ENERGY``, ``MC_ID`` (0: background,
        k: ``sources[k - 1]``), sorted by time.
    expected_background : float
        Expected number of background events (``bkg_3d`` x ONTIME within the energy
        range and the field-of-view grid).
    expected_sources : tuple of float
        Expected number of events of each source in the event list (true-energy
        integral of flux x aeff x LIVETIME, times the probability that the
        reconstructed energy falls within the energy range).
    lo_thres : float
        Safe energy threshold written to the AEFF header (TeV).
    """

    plan: ObservationPlan
    events: dict[str, np.ndarray]
    expected_background: float
    expected_sources: tuple[float, ...]
    lo_thres: float


def _inverse_cdf_sampler(log_e: np.ndarray, density: np.ndarray):
    """Cumulative distribution on a fine log-energy grid (density per TeV)."""
    energy = np.exp(log_e)
    w = density * energy  # per unit ln E
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (w[1:] + w[:-1]) * np.diff(log_e))])
    total = cdf[-1]
    return cdf / total if total > 0 else cdf, total


def _sample_energy(rng, n, log_e, cdf):
    return np.exp(np.interp(rng.random(n), cdf, log_e))


def _truncated_normal(rng, mean, sigma, lo, hi):
    a = ndtr((lo - mean) / sigma)
    b = ndtr((hi - mean) / sigma)
    u = rng.random(np.shape(mean))
    return mean + sigma * ndtri(a + u * (b - a))


def _bkg_spatial_integrals(instrument: _Instrument) -> tuple[float, float, float]:
    """Integrals over the square field of view (rad) of the separable fall-off."""
    s = math.radians(_BKG_SIGMA_DEG)
    w = math.radians(_FOV_HALF_WIDTH_DEG)
    ix = math.sqrt(2 * math.pi) * s * erf(w / (math.sqrt(2) * s))
    y = np.linspace(-w, w, 4001)
    f = np.exp(-0.5 * (y / s) ** 2) * np.cos(y)
    iy_cos = float(np.sum(0.5 * (f[1:] + f[:-1]) * np.diff(y)))
    return ix, ix, iy_cos


def _bkg_energy_grid(instrument: _Instrument, emin: float, emax: float):
    log_e = np.linspace(math.log(emin), math.log(emax), 4097)
    cdf, total_tev = _inverse_cdf_sampler(log_e, instrument.bkg_spectrum(np.exp(log_e)))
    return log_e, cdf, total_tev * 1e6  # rate per MeV integrated over MeV


def _parallactic_angle(hour_angle, dec, lat):
    h, d, phi = (np.radians(np.asarray(x, dtype=float)) for x in (hour_angle, dec, lat))
    return np.degrees(np.arctan2(np.sin(h), np.tan(phi) * np.cos(d) - np.sin(d) * np.cos(h)))


def _sample_background(rng, config, plan, instrument):
    emin, emax = config.energy_range
    log_e, cdf, spec_int = _bkg_energy_grid(instrument, emin, emax)
    ix, iy, iy_cos = _bkg_spatial_integrals(instrument)
    expected = spec_int * ix * iy_cos * config.ontime
    n_env = rng.poisson(spec_int * ix * iy * config.ontime)
    s, w = _BKG_SIGMA_DEG, _FOV_HALF_WIDTH_DEG
    lim = ndtr(-w / s)
    lon = s * ndtri(lim + rng.random(n_env) * (1 - 2 * lim))
    lat = s * ndtri(lim + rng.random(n_env) * (1 - 2 * lim))
    keep = rng.random(n_env) < np.cos(np.radians(lat))  # solid angle of the fov grid
    energy = _sample_energy(rng, n_env, log_e, cdf)
    time = plan.tstart + config.ontime * rng.random(n_env)
    lon, lat, energy, time = lon[keep], lat[keep], energy[keep], time[keep]
    rotation = 0.0
    if config.fov_alignment == "ALTAZ":
        mid = 0.5 * (plan.tstart + plan.tstop)
        ha = plan.hour_angle + (time - mid) * _SIDEREAL_DEG_PER_DAY / 86400.0
        rotation = _parallactic_angle(ha, plan.dec_pnt, config.geolat)
    ra, dec = fov_to_sky(lon, lat, plan.ra_pnt, plan.dec_pnt, rotation=rotation)
    return {"TIME": time, "RA": ra, "DEC": dec, "ENERGY": energy}, float(expected)


def _source_energy_grid(instrument: _Instrument, source: SourceSpec):
    lo, hi = instrument.true_energy_bounds
    log_e = np.linspace(math.log(lo), math.log(hi), 4097)
    energy = np.exp(log_e)
    # on-axis envelope: aeff(E, 0) >= aeff(E, theta); m2 -> cm2
    density = source.dnde(energy) * instrument.aeff(energy, 0.0) * 1e4
    cdf, total = _inverse_cdf_sampler(log_e, density)
    return log_e, cdf, total


def _expected_source_counts(config, plan, instrument, source) -> float:
    """Expected events: quadrature over true energy and the spatial model."""
    lo, hi = instrument.true_energy_bounds
    log_e = np.linspace(math.log(lo), math.log(hi), 1025)
    energy = np.exp(log_e)
    if source.kind == "point":
        offsets = np.array([angular_offset(plan.ra_pnt, plan.dec_pnt, source.ra, source.dec)])
        weights = np.array([1.0])
    else:  # Rayleigh radius x uniform angle quadrature of the 2D Gaussian
        q = (np.arange(16) + 0.5) / 16
        radius = source.sigma * np.sqrt(-2 * np.log1p(-q))
        pa = np.arange(16) * (360.0 / 16)
        rr, pp = np.meshgrid(radius, pa)
        lon, lat = _offset_by(source.ra, source.dec, pp.ravel(), rr.ravel())
        offsets = angular_offset(plan.ra_pnt, plan.dec_pnt, lon, lat)
        weights = np.full(offsets.size, 1.0 / offsets.size)
    emin, emax = config.energy_range
    mean, sigma = instrument.migra_mean_sigma(energy[:, None], offsets[None, :])
    a = ndtr((_MIGRA_LO - mean) / sigma)
    b = ndtr((_MIGRA_HI - mean) / sigma)
    m_lo = np.clip(emin / energy[:, None], _MIGRA_LO, _MIGRA_HI)
    m_hi = np.clip(emax / energy[:, None], _MIGRA_LO, _MIGRA_HI)
    p_in = (ndtr((m_hi - mean) / sigma) - ndtr((m_lo - mean) / sigma)) / (b - a)
    aeff = instrument.aeff(energy[:, None], offsets[None, :]) * (
        offsets[None, :] <= _OFFSET_MAX_DEG
    )
    integrand = source.dnde(energy) * np.sum(weights * aeff * p_in, axis=1) * 1e4 * energy
    total = np.sum(0.5 * (integrand[1:] + integrand[:-1]) * np.diff(log_e))
    return float(total * config.livetime)


def _sample_source(rng, config, plan, instrument, source):
    log_e, cdf, rate = _source_energy_grid(instrument, source)
    n = rng.poisson(rate * config.livetime)
    e_true = _sample_energy(rng, n, log_e, cdf)
    if source.kind == "gaussian":
        radius = source.sigma * np.sqrt(-2 * np.log1p(-rng.random(n)))
        ra, dec = _offset_by(source.ra, source.dec, 360.0 * rng.random(n), radius)
    else:
        ra, dec = np.full(n, source.ra), np.full(n, source.dec)
    offset = angular_offset(plan.ra_pnt, plan.dec_pnt, ra, dec)
    keep = (rng.random(n) < instrument.aeff_offset_factor(e_true, offset)) & (
        offset <= _OFFSET_MAX_DEG
    )
    e_true, ra, dec, offset = e_true[keep], ra[keep], dec[keep], offset[keep]
    n = e_true.size
    # PSF: core or tail Gaussian, Rayleigh distributed radius
    sigma = instrument.psf_sigma(e_true, offset)
    sigma = np.where(rng.random(n) < _PSF_TAIL_WEIGHT, _PSF_TAIL_SCALE * sigma, sigma)
    radius = sigma * np.sqrt(-2 * np.log1p(-rng.random(n)))
    ra, dec = _offset_by(ra, dec, 360.0 * rng.random(n), radius)
    # energy dispersion
    mean, width = instrument.migra_mean_sigma(e_true, offset)
    energy = e_true * _truncated_normal(rng, mean, width, _MIGRA_LO, _MIGRA_HI)
    time = plan.tstart + config.ontime * rng.random(n)
    emin, emax = config.energy_range
    inside = (energy >= emin) & (energy < emax)
    events = {"TIME": time, "RA": ra, "DEC": dec, "ENERGY": energy}
    return {k: v[inside] for k, v in events.items()}


def _observation_instrument(config: SimulationConfig, plan: ObservationPlan) -> _Instrument:
    """The instrument the events of an observation are drawn from (and its IRFs).

    gadf: at the observation's zenith angle; caldb: the one shared IRF's, at
    ``_CALDB_ZENITH_DEG`` whatever the pointing, so that the store is self-consistent.
    """
    zenith = _CALDB_ZENITH_DEG if config.irf_style == "caldb" else plan.zenith
    return _Instrument(zenith, config.energy_range, config.background_norm)


def simulate_observation(config: SimulationConfig, index: int) -> SimulatedObservation:
    """Simulate the event list of observation ``index`` (0-based).

    Parameters
    ----------
    config : SimulationConfig
    index : int
        Position in the run list, ``0 <= index < config.n_obs``.

    Returns
    -------
    SimulatedObservation

    Raises
    ------
    IndexError
        If ``index`` is out of range.
    """
    if not 0 <= index < config.n_obs:
        raise IndexError(f"observation index {index} out of range [0, {config.n_obs})")
    plan = _plan_one(config, index)
    instrument = _observation_instrument(config, plan)
    rng = _events_rng(config, index)
    parts = []
    bkg, expected_bkg = _sample_background(rng, config, plan, instrument)
    parts.append((bkg, 0))
    expected = []
    for k, source in enumerate(config.sources, start=1):
        parts.append((_sample_source(rng, config, plan, instrument, source), k))
        expected.append(_expected_source_counts(config, plan, instrument, source))
    columns = {
        key: np.concatenate([p[key] for p, _ in parts]) for key in ("TIME", "RA", "DEC", "ENERGY")
    }
    mc_id = np.concatenate([np.full(p["TIME"].size, k, dtype=np.int32) for p, k in parts])
    order = np.argsort(columns["TIME"], kind="stable")
    events = {
        "EVENT_ID": np.arange(1, order.size + 1, dtype=np.int64),
        "TIME": columns["TIME"][order].astype(np.float64),
        "RA": columns["RA"][order].astype(np.float32),
        "DEC": columns["DEC"][order].astype(np.float32),
        "ENERGY": columns["ENERGY"][order].astype(np.float32),
        "MC_ID": mc_id[order],
    }
    return SimulatedObservation(
        plan=plan,
        events=events,
        expected_background=expected_bkg,
        expected_sources=tuple(expected),
        lo_thres=instrument.lo_thres,
    )


# --------------------------------------------------------------------------------------
# FITS writing
# --------------------------------------------------------------------------------------


def _array_column(name: str, array: np.ndarray, unit: str | None = None) -> fits.Column:
    """One-row column holding ``array`` (numpy order; FITS TDIM is reversed)."""
    array = np.asarray(array, dtype=">f4")
    dim = "(" + ",".join(str(n) for n in array.shape[::-1]) + ")"
    return fits.Column(
        name=name,
        format=f"{array.size}E",
        unit=unit,
        dim=dim if array.ndim > 1 else None,
        array=array[np.newaxis],
    )


@dataclass(frozen=True)
class _VectorTable:
    """A one-row binary table of float32 arrays with its serialised FITS bytes.

    astropy byte-swaps multi-element fields element by element in Python, which takes
    tens of ms per IRF table; the big-endian data block is written directly instead.
    """

    hdu: fits.BinTableHDU
    data: bytes

    @classmethod
    def build(cls, name: str, columns: list[tuple[str, np.ndarray, str | None]]):
        hdu = fits.BinTableHDU.from_columns(
            [_array_column(n, a, u) for n, a, u in columns], name=name
        )
        data = b"".join(np.ascontiguousarray(a, dtype=">f4").tobytes() for _, a, _ in columns)
        if len(data) != hdu.header["NAXIS1"]:  # pragma: no cover - layout guard
            raise RuntimeError(f"{name}: row size mismatch")
        return cls(hdu, data + bytes(-len(data) % 2880))

    def tobytes(self) -> bytes:
        return self.hdu.header.tostring().encode("ascii") + self.data

    def filebytes(self) -> int:
        return len(self.hdu.header.tostring()) + len(self.data)


def _time_strings(mjd: float) -> tuple[str, str]:
    iso = Time(mjd, format="mjd", scale="tt", precision=3).isot
    return iso[:10], iso[11:]


def _common_header(config: SimulationConfig, plan: ObservationPlan) -> dict[str, Any]:
    return {
        "TELESCOP": config.telescope,
        "INSTRUME": "dl3flow simulation",
        "OBS_ID": plan.obs_id,
    }


def _events_hdu(config, sim: SimulatedObservation, target_glonlat) -> fits.BinTableHDU:
    plan, ev = sim.plan, sim.events
    cols = [
        fits.Column("EVENT_ID", "K", array=ev["EVENT_ID"].astype(">i8")),
        fits.Column("TIME", "D", unit="s", array=ev["TIME"].astype(">f8")),
        fits.Column("RA", "E", unit="deg", array=ev["RA"].astype(">f4")),
        fits.Column("DEC", "E", unit="deg", array=ev["DEC"].astype(">f4")),
        fits.Column("ENERGY", "E", unit="TeV", array=ev["ENERGY"].astype(">f4")),
        fits.Column("MC_ID", "J", array=ev["MC_ID"].astype(">i4")),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="EVENTS")
    date_obs, time_obs = _time_strings(plan.mjd_start)
    date_end, time_end = _time_strings(plan.mjd_start + config.ontime / 86400.0)
    glon, glat = target_glonlat
    h = hdu.header
    cards = {
        **_GADF,
        "HDUCLAS1": "EVENTS",
        "CREATOR": "dl3flow.simulate",
        **_common_header(config, plan),
        "TSTART": plan.tstart,
        "TSTOP": plan.tstop,
        "MJDREFI": MJDREFI,
        "MJDREFF": MJDREFF,
        "TIMEUNIT": "s",
        "TIMESYS": "TT",
        "TIMEREF": "LOCAL",
        "ONTIME": config.ontime,
        "LIVETIME": config.livetime,
        "DEADC": config.deadc,
        "OBJECT": config.target_name,
        "RA_OBJ": config.target_ra,
        "DEC_OBJ": config.target_dec,
        "RA_PNT": plan.ra_pnt,
        "DEC_PNT": plan.dec_pnt,
        "GLON_PNT": glon,
        "GLAT_PNT": glat,
        "ALT_PNT": plan.alt,
        "AZ_PNT": plan.az,
        "RADESYS": "ICRS",
        "EQUINOX": 2000.0,
        "OBS_MODE": "WOBBLE",
        "N_TELS": 4,
        "TELLIST": "1,2,3,4",
        "GEOLON": config.geolon,
        "GEOLAT": config.geolat,
        "ALTITUDE": config.altitude,
        "EUNIT": "TeV",
        "DATE-OBS": date_obs,
        "TIME-OBS": time_obs,
        "DATE-END": date_end,
        "TIME-END": time_end,
        "SIMSEED": config.seed,
    }
    for key, value in cards.items():
        h[key] = value
    h.add_comment("MC_ID: 0 = background, k = k-th simulated source (see sources catalog)")
    return hdu


def _gti_hdu(config, plan) -> fits.BinTableHDU:
    cols = [
        fits.Column("START", "D", unit="s", array=np.array([plan.tstart])),
        fits.Column("STOP", "D", unit="s", array=np.array([plan.tstop])),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="GTI")
    cards = {
        **_GADF,
        "HDUCLAS1": "GTI",
        "OBS_ID": plan.obs_id,
        "TSTART": plan.tstart,
        "TSTOP": plan.tstop,
        "MJDREFI": MJDREFI,
        "MJDREFF": MJDREFF,
        "TIMEUNIT": "s",
        "TIMESYS": "TT",
        "TIMEREF": "LOCAL",
    }
    for key, value in cards.items():
        hdu.header[key] = value
    return hdu


def _irf_header(hdu, config, plan, clas2, clas4, extra=None):
    cards = {
        **_GADF,
        "HDUCLAS1": "RESPONSE",
        "HDUCLAS2": clas2,
        "HDUCLAS3": "FULL-ENCLOSURE",
        "HDUCLAS4": clas4,
        **_common_header(config, plan),
        "ZENITH": plan.zenith,
        "AZIMUTH": plan.az,
        **(extra or {}),
    }
    for key, value in cards.items():
        hdu.header[key] = value
    return hdu


def _irf_columns(instrument) -> dict[str, list[tuple[str, np.ndarray, str | None]]]:
    """Columns of the AEFF, EDISP, PSF (psf_table) and BKG tables, in gammapy's layout."""
    ax = _irf_axes(instrument)
    # AEFF: gammapy data (energy_true, offset), stored transposed
    e, th = ax["aeff_energy"], ax["aeff_offset"]
    aeff = instrument.aeff(_centers_log(e)[:, None], _centers_lin(th)[None, :])
    columns = {
        "aeff": [
            ("ENERG_LO", e[:-1], "TeV"),
            ("ENERG_HI", e[1:], "TeV"),
            ("THETA_LO", th[:-1], "deg"),
            ("THETA_HI", th[1:], "deg"),
            ("EFFAREA", aeff.T, "m2"),
        ]
    }
    # EDISP: (energy_true, migra, offset), probability per unit migra, normalised
    e, th, mig = ax["irf_energy"], ax["irf_offset"], ax["migra"]
    mean, sigma = instrument.migra_mean_sigma(
        _centers_log(e)[:, None, None], _centers_lin(th)[None, None, :]
    )
    prob = np.diff(ndtr((mig[None, :, None] - mean) / sigma), axis=1)
    prob /= prob.sum(axis=1, keepdims=True)
    matrix = prob / np.diff(mig)[None, :, None]
    columns["edisp"] = [
        ("ENERG_LO", e[:-1], "TeV"),
        ("ENERG_HI", e[1:], "TeV"),
        ("MIGRA_LO", mig[:-1], None),
        ("MIGRA_HI", mig[1:], None),
        ("THETA_LO", th[:-1], "deg"),
        ("THETA_HI", th[1:], "deg"),
        ("MATRIX", matrix.T, None),
    ]
    # PSF table: (energy_true, offset, rad)
    rad = ax["rad"]
    psf = instrument.psf_density(
        _centers_log(e)[:, None, None], _centers_lin(th)[None, :, None], _centers_lin(rad)
    )
    columns["psf"] = [
        ("ENERG_LO", e[:-1], "TeV"),
        ("ENERG_HI", e[1:], "TeV"),
        ("THETA_LO", th[:-1], "deg"),
        ("THETA_HI", th[1:], "deg"),
        ("RAD_LO", rad[:-1], "deg"),
        ("RAD_HI", rad[1:], "deg"),
        ("RPSF", psf.T, "sr-1"),
    ]
    # BKG: gammapy Background3D (energy, fov_lon, fov_lat), stored transposed
    eb, det = ax["bkg_energy"], ax["det"]
    c = _centers_lin(det)
    bkg = instrument.bkg_rate(_centers_log(eb)[:, None, None], c[None, :, None], c[None, None, :])
    columns["bkg"] = [
        ("ENERG_LO", eb[:-1], "TeV"),
        ("ENERG_HI", eb[1:], "TeV"),
        ("DETX_LO", det[:-1], "deg"),
        ("DETX_HI", det[1:], "deg"),
        ("DETY_LO", det[:-1], "deg"),
        ("DETY_HI", det[1:], "deg"),
        ("BKG", bkg.T, "MeV-1 s-1 sr-1"),
    ]
    return columns


def _irf_tables(config, plan, instrument) -> list[_VectorTable]:
    """AEFF, EDISP, PSF and BKG tables in the layout gammapy's ``to_table`` writes."""
    columns = _irf_columns(instrument)
    aeff_table = _VectorTable.build("AEFF", columns["aeff"])
    thresholds = {"LO_THRES": instrument.lo_thres, "HI_THRES": float(config.energy_range[1])}
    _irf_header(aeff_table.hdu, config, plan, "EFF_AREA", "AEFF_2D", thresholds)
    edisp_table = _VectorTable.build("EDISP", columns["edisp"])
    _irf_header(edisp_table.hdu, config, plan, "EDISP", "EDISP_2D")
    psf_table = _VectorTable.build("PSF", columns["psf"])
    _irf_header(psf_table.hdu, config, plan, "RPSF", "PSF_TABLE")
    bkg_table = _VectorTable.build("BKG", columns["bkg"])
    fovalign = {"FOVALIGN": config.fov_alignment}
    _irf_header(bkg_table.hdu, config, plan, "BKG", "BKG_3D", fovalign)
    return [aeff_table, edisp_table, psf_table, bkg_table]


def _psf_3gauss_columns(instrument) -> list[tuple[str, np.ndarray, str | None]]:
    """The two-Gaussian PSF as ``psf_3gauss`` parameters (third amplitude 0).

    ``SCALE * (exp(-r²/2σ1²) + AMPL_2 exp(-r²/2σ2²))`` is the PSF density in sr^-1:
    ``SCALE = (1 - w) / (2π σ1²)`` (σ1 in rad) and ``AMPL_2 = w σ1² / ((1 - w) σ2²)``.
    """
    ax = _irf_axes(instrument)
    e, th = ax["irf_energy"], ax["irf_offset"]
    sigma_1 = instrument.psf_sigma(_centers_log(e)[:, None], _centers_lin(th)[None, :])
    sigma_2 = _PSF_TAIL_SCALE * sigma_1
    scale = (1 - _PSF_TAIL_WEIGHT) / (2 * np.pi * np.radians(sigma_1) ** 2)
    ampl_2 = np.full_like(sigma_1, _PSF_TAIL_WEIGHT / (1 - _PSF_TAIL_WEIGHT) / _PSF_TAIL_SCALE**2)
    return [
        ("ENERG_LO", e[:-1], "TeV"),
        ("ENERG_HI", e[1:], "TeV"),
        ("THETA_LO", th[:-1], "deg"),
        ("THETA_HI", th[1:], "deg"),
        ("SCALE", scale.T, "sr-1"),
        ("SIGMA_1", sigma_1.T, "deg"),
        ("AMPL_2", ampl_2.T, None),
        ("SIGMA_2", sigma_2.T, "deg"),
        ("AMPL_3", np.zeros_like(sigma_1).T, None),
        ("SIGMA_3", sigma_2.T, "deg"),  # any width > 0: its amplitude is 0
    ]


def _caldb_irf_tables(config, instrument) -> list[_VectorTable]:
    """The shared IRF HDUs of the caldb style, as CTA's caldb ``irf_file.fits``.

    OGIP-style HDUCLAS4 (``2D``, ``3GAUSS``, ``3D``), CTA's HDU names, an edisp with
    ``ETRUE`` columns, a ``psf_3gauss``, no ``LO_THRES`` / ``HI_THRES``, no
    ``FOVALIGN`` and the background unit ``1/s/MeV/sr`` (which astropy only parses
    as OGIP).
    """
    columns = _irf_columns(instrument)
    edisp = [(name.replace("ENERG_", "ETRUE_"), a, unit) for name, a, unit in columns["edisp"]]
    bkg = [(n, a, "1/s/MeV/sr" if n == "BKG" else unit) for n, a, unit in columns["bkg"]]
    specs = (
        ("EFFECTIVE AREA", columns["aeff"], "EFF_AREA", "2D"),
        ("ENERGY DISPERSION", edisp, "EDISP", "2D"),
        ("POINT SPREAD FUNCTION", _psf_3gauss_columns(instrument), "RPSF", "3GAUSS"),
        ("BACKGROUND", bkg, "BKG", "3D"),
    )
    tables = []
    for extname, cols, clas2, clas4 in specs:
        table = _VectorTable.build(extname, cols)
        cards = {
            **_CALDB_HDU,
            "HDUCLAS2": clas2,
            "HDUCLAS3": "FULL-ENCLOSURE",
            "HDUCLAS4": clas4,
            "TELESCOP": config.telescope,
            "INSTRUME": "dl3flow simulation",
            "CAL_NAME": _CALDB_IRF_NAME,
            "ZENITH": _CALDB_ZENITH_DEG,
        }
        for key, value in cards.items():
            table.hdu.header[key] = value
        tables.append(table)
    return tables


def _fits_bytes(hdul: fits.HDUList) -> bytes:
    buffer = io.BytesIO()
    hdul.writeto(buffer)
    return buffer.getvalue()


def _gzip_bytes(data: bytes) -> bytes:
    # mtime=0 and a fixed level keep the files byte-identical across runs
    return gzip.compress(data, compresslevel=6, mtime=0)


def _data_file_name(obs_id: int) -> str:
    return f"{_FILE_PREFIX}_obs_id_{obs_id:06d}.fits.gz"


_OBS_INDEX_COLUMNS = (
    # name, fits format, unit
    ("OBS_ID", "K", None),
    ("RA_PNT", "E", "deg"),
    ("DEC_PNT", "E", "deg"),
    ("GLON_PNT", "E", "deg"),
    ("GLAT_PNT", "E", "deg"),
    ("ZEN_PNT", "E", "deg"),
    ("ALT_PNT", "E", "deg"),
    ("AZ_PNT", "E", "deg"),
    ("OBJECT", "A", None),
    ("RA_OBJ", "E", "deg"),
    ("DEC_OBJ", "E", "deg"),
    ("OFFSET_OBJ", "E", "deg"),
    ("ONTIME", "E", "s"),
    ("LIVETIME", "E", "s"),
    ("DEADC", "E", None),
    ("TSTART", "D", "s"),
    ("TSTOP", "D", "s"),
    ("DATE-OBS", "A", None),
    ("TIME-OBS", "A", None),
    ("DATE-END", "A", None),
    ("TIME-END", "A", None),
    ("N_TELS", "K", None),
    ("TELLIST", "A", None),
    ("QUALITY", "K", None),
    ("MUONEFF", "E", None),
    ("EVENT_COUNT", "K", None),
    ("TARGET_NAME", "A", None),
    ("TARGET_TAG", "A", None),
    ("TARGET_OFFSET", "E", "deg"),
    ("SAFE_ENERGY_LO", "E", "TeV"),
    ("SAFE_ENERGY_HI", "E", "TeV"),
)


def _table_hdu(rows: list[dict[str, Any]], spec, name: str) -> fits.BinTableHDU:
    cols = []
    for key, fmt, unit in spec:
        values = [row[key] for row in rows]
        if fmt == "A":
            width = max(1, max(len(v) for v in values))
            cols.append(fits.Column(key, f"{width}A", array=np.array(values, dtype=f"S{width}")))
        else:
            cols.append(fits.Column(key, fmt, unit=unit, array=np.array(values)))
    return fits.BinTableHDU.from_columns(cols, name=name)


def _obs_index_hdu(config, rows) -> fits.BinTableHDU:
    hdu = _table_hdu(rows, _OBS_INDEX_COLUMNS, "OBS_INDEX")
    cards = {
        "MJDREFI": MJDREFI,
        "MJDREFF": MJDREFF,
        "TIMEUNIT": "s",
        "TIMESYS": "TT",
        "TIMEREF": "LOCAL",
        **_GADF,
        "HDUCLAS1": "INDEX",
        "HDUCLAS2": "OBS",
        "TELESCOP": config.telescope,
        "GEOLON": config.geolon,
        "GEOLAT": config.geolat,
        "ALTITUDE": config.altitude,
    }
    for key, value in cards.items():
        hdu.header[key] = value
    return hdu


_HDU_INDEX_COLUMNS = (
    ("OBS_ID", "K", None),
    ("HDU_TYPE", "A", None),
    ("HDU_CLASS", "A", None),
    ("FILE_DIR", "A", None),
    ("FILE_NAME", "A", None),
    ("HDU_NAME", "A", None),
    ("SIZE", "K", None),
)

_HDU_TYPES = (
    # hdu type, hdu class, extension name
    ("events", "events", "EVENTS"),
    ("gti", "gti", "GTI"),
    ("aeff", "aeff_2d", "AEFF"),
    ("edisp", "edisp_2d", "EDISP"),
    ("psf", "psf_table", "PSF"),
    ("bkg", "bkg_3d", "BKG"),
)

_CALDB_HDU_TYPES = (
    # hdu type, hdu class, extension name of the shared caldb IRF file
    ("aeff", "aeff_2d", "EFFECTIVE AREA"),
    ("edisp", "edisp_2d", "ENERGY DISPERSION"),
    ("psf", "psf_3gauss", "POINT SPREAD FUNCTION"),
    ("bkg", "bkg_3d", "BACKGROUND"),
)


def _hdu_index_hdu(rows) -> fits.BinTableHDU:
    hdu = _table_hdu(rows, _HDU_INDEX_COLUMNS, "HDU_INDEX")
    for key, value in {**_GADF, "HDUCLAS1": "INDEX", "HDUCLAS2": "HDU"}.items():
        hdu.header[key] = value
    return hdu


def _tag(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "target"


def _write_caldb_irf(config, directory: Path) -> list[dict[str, Any]]:
    """Write the shared IRF file of the caldb style; its HDU-index rows (no OBS_ID)."""
    instrument = _Instrument(_CALDB_ZENITH_DEG, config.energy_range, config.background_norm)
    tables = _caldb_irf_tables(config, instrument)
    primary = fits.PrimaryHDU()
    primary.header["TELESCOP"] = config.telescope
    content = _fits_bytes(fits.HDUList([primary])) + b"".join(t.tobytes() for t in tables)
    (directory / _CALDB_DIR).mkdir(parents=True)
    (directory / _CALDB_DIR / _CALDB_FILE).write_bytes(content)
    return [
        {
            "HDU_TYPE": hdu_type,
            "HDU_CLASS": hdu_class,
            "FILE_DIR": _CALDB_DIR,
            "FILE_NAME": _CALDB_FILE,
            "HDU_NAME": extname,
            "SIZE": table.filebytes(),
        }
        for (hdu_type, hdu_class, extname), table in zip(_CALDB_HDU_TYPES, tables, strict=True)
    ]


def _write_observation(config, index, directory: Path, target_glonlat, shared_irf_rows=()):
    """Write the data file of one observation; its HDU-index rows.

    ``shared_irf_rows`` (caldb style): rows of the shared IRF file, listed for this
    observation too; its data file then only holds EVENTS and GTI.
    """
    sim = simulate_observation(config, index)
    plan = sim.plan
    caldb = config.irf_style == "caldb"
    primary = fits.PrimaryHDU()
    primary.header["TELESCOP"] = config.telescope
    primary.header["OBS_ID"] = plan.obs_id
    events = _events_hdu(config, sim, target_glonlat)
    gti = _gti_hdu(config, plan)
    irfs = [] if caldb else _irf_tables(config, plan, _observation_instrument(config, plan))
    content = _fits_bytes(fits.HDUList([primary, events, gti])) + b"".join(
        t.tobytes() for t in irfs
    )
    name = _data_file_name(plan.obs_id)
    (directory / "data" / name).write_bytes(_gzip_bytes(content))
    sizes = [events.filebytes(), gti.filebytes(), *(t.filebytes() for t in irfs)]
    own_types = _HDU_TYPES[:2] if caldb else _HDU_TYPES  # events, gti (+ IRFs)
    hdu_rows = [
        {
            "OBS_ID": plan.obs_id,
            "HDU_TYPE": hdu_type,
            "HDU_CLASS": hdu_class,
            "FILE_DIR": "data",
            "FILE_NAME": name,
            "HDU_NAME": extname if caldb else extname.lower(),
            "SIZE": size,
        }
        for (hdu_type, hdu_class, extname), size in zip(own_types, sizes, strict=True)
    ]
    hdu_rows += [{"OBS_ID": plan.obs_id, **row} for row in shared_irf_rows]
    return sim, hdu_rows


def _manifest(config: SimulationConfig) -> dict[str, Any]:
    return {
        "generator": "dl3flow.simulate",
        "format_version": SIMULATION_FORMAT_VERSION,
        "config": config.to_dict(),
    }


def _store_matches(path: Path, config: SimulationConfig) -> bool:
    manifest = path / _MANIFEST
    if not manifest.is_file():
        return False
    try:
        existing = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return False
    expected = json.loads(json.dumps(_manifest(config)))
    complete = (path / "obs-index.fits.gz").is_file() and (path / "hdu-index.fits.gz").is_file()
    return existing == expected and complete


def remove_stale_store_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove what an interrupted :func:`write_data_store` of ``path`` left beside it.

    :func:`write_data_store` builds the store in ``.<name>.tmp-*`` beside ``path`` and
    moves an old store through ``.<name>.old-*``; a process killed with SIGKILL
    cannot remove them. Call this only where no other process writes ``path`` (the
    workflow job whose output it is: Snakemake locks its outputs); ``path`` itself
    is never touched.

    Returns
    -------
    list of `~pathlib.Path`
        The directories removed.
    """
    path = Path(path)
    if not path.parent.is_dir():
        return []
    removed = []
    for kind in ("tmp", "old"):
        for stale in sorted(path.parent.glob(f".{glob_escape(path.name)}.{kind}-*")):
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)
                removed.append(stale)
    return removed


def write_data_store(
    config: SimulationConfig, path: str | os.PathLike, *, overwrite: bool = False
) -> Path:
    """Write a simulated GADF DL3 data store to the directory ``path``.

    The store is written to a temporary sibling directory and renamed into place, so
    ``path`` either does not exist or holds a complete store. Writing the same
    configuration again is a no-op; an existing different store (or any non-empty
    directory) is only replaced with ``overwrite=True``.

    Parameters
    ----------
    config : SimulationConfig
    path : path-like
        Directory to create (``obs-index.fits.gz``, ``hdu-index.fits.gz``,
        ``simulation.json``, ``data/<prefix>_obs_id_XXXXXX.fits.gz``; caldb style
        also ``caldb/data/dl3flow/sim/bcf/sim_z20/irf_file.fits``).
    overwrite : bool, optional
        Replace an existing different store.

    Returns
    -------
    pathlib.Path
        The data store directory.

    Raises
    ------
    FileExistsError
        If ``path`` holds something else and ``overwrite`` is false.
    NotADirectoryError
        If ``path`` exists and is not a directory.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"data store path {path} exists and is not a directory")
    if path.is_dir():
        if _store_matches(path, config):
            return path
        if any(path.iterdir()) and not overwrite:
            raise FileExistsError(
                f"{path} already holds a different data store or other files; "
                "refusing to overwrite it (pass overwrite=True or remove it)"
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    tmp.chmod(0o755)  # mkdtemp creates 0o700
    try:
        (tmp / "data").mkdir()
        shared_irf_rows = _write_caldb_irf(config, tmp) if config.irf_style == "caldb" else []
        target = SkyCoord(config.target_ra, config.target_dec, unit="deg", frame="icrs")
        target_glonlat = (float(target.galactic.l.deg), float(target.galactic.b.deg))
        plans_ra, plans_dec = [], []
        obs_rows, hdu_rows = [], []
        sims = []
        for index in range(config.n_obs):
            sim, rows = _write_observation(config, index, tmp, target_glonlat, shared_irf_rows)
            sims.append(sim)
            hdu_rows.extend(rows)
            plans_ra.append(sim.plan.ra_pnt)
            plans_dec.append(sim.plan.dec_pnt)
        gal = SkyCoord(plans_ra, plans_dec, unit="deg", frame="icrs").galactic
        for sim, glon, glat in zip(sims, gal.l.deg, gal.b.deg, strict=True):
            plan = sim.plan
            date_obs, time_obs = _time_strings(plan.mjd_start)
            date_end, time_end = _time_strings(plan.mjd_start + config.ontime / 86400.0)
            offset = float(
                angular_offset(plan.ra_pnt, plan.dec_pnt, config.target_ra, config.target_dec)
            )
            obs_rows.append(
                {
                    "OBS_ID": plan.obs_id,
                    "RA_PNT": plan.ra_pnt,
                    "DEC_PNT": plan.dec_pnt,
                    "GLON_PNT": glon,
                    "GLAT_PNT": glat,
                    "ZEN_PNT": plan.zenith,
                    "ALT_PNT": plan.alt,
                    "AZ_PNT": plan.az,
                    "OBJECT": config.target_name,
                    "RA_OBJ": config.target_ra,
                    "DEC_OBJ": config.target_dec,
                    "OFFSET_OBJ": offset,
                    "ONTIME": config.ontime,
                    "LIVETIME": config.livetime,
                    "DEADC": config.deadc,
                    "TSTART": plan.tstart,
                    "TSTOP": plan.tstop,
                    "DATE-OBS": date_obs,
                    "TIME-OBS": time_obs,
                    "DATE-END": date_end,
                    "TIME-END": time_end,
                    "N_TELS": 4,
                    "TELLIST": "1,2,3,4",
                    "QUALITY": 0,
                    "MUONEFF": 1.0,
                    "EVENT_COUNT": sim.events["EVENT_ID"].size,
                    "TARGET_NAME": config.target_name,
                    "TARGET_TAG": _tag(config.target_name),
                    "TARGET_OFFSET": offset,
                    "SAFE_ENERGY_LO": sim.lo_thres,
                    "SAFE_ENERGY_HI": config.energy_range[1],
                }
            )
        primary = fits.PrimaryHDU()
        for name, hdu in (
            ("obs-index.fits.gz", _obs_index_hdu(config, obs_rows)),
            ("hdu-index.fits.gz", _hdu_index_hdu(hdu_rows)),
        ):
            content = _fits_bytes(fits.HDUList([primary.copy(), hdu]))
            (tmp / name).write_bytes(_gzip_bytes(content))
        (tmp / _MANIFEST).write_text(json.dumps(_manifest(config), indent=2, sort_keys=True))
        if path.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
            os.replace(path, trash / path.name)
            os.replace(tmp, path)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


# --------------------------------------------------------------------------------------
# catalog and regions
# --------------------------------------------------------------------------------------


def _check_target(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; refusing to overwrite it (pass overwrite=True)")
    path.parent.mkdir(parents=True, exist_ok=True)


def write_source_catalog(
    sources: Sequence[SourceSpec], path: str | os.PathLike, *, overwrite: bool = False
) -> Path:
    """Write the simulated sources as a catalog table.

    Columns: ``Source_Name``, ``Spatial_Model``, ``RA``, ``DEC``, ``GLON``, ``GLAT``
    (deg), ``Extension`` (deg, Gaussian sigma, 0 for point sources), ``Index``,
    ``Reference`` (TeV), ``Flux_Ref`` (cm-2 s-1 TeV-1 at ``Reference``) and
    ``Flux_Above_1TeV`` (cm-2 s-1).

    Parameters
    ----------
    sources : sequence of SourceSpec
    path : path-like
        ``*.ecsv`` writes ECSV, anything else FITS.
    overwrite : bool, optional
        Replace an existing file.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is false.
    ValueError
        If ``sources`` is empty.
    """
    path = Path(path)
    sources = tuple(sources)
    if not sources:
        raise ValueError("no sources to write")
    _check_target(path, overwrite)
    coords = SkyCoord([s.ra for s in sources], [s.dec for s in sources], unit="deg")
    table = Table()
    table["Source_Name"] = [s.name for s in sources]
    table["Spatial_Model"] = [s.kind for s in sources]
    table["RA"] = np.array([s.ra for s in sources]) * coords.ra.unit
    table["DEC"] = np.array([s.dec for s in sources]) * coords.dec.unit
    table["GLON"] = coords.galactic.l.wrap_at("360d").deg * coords.ra.unit
    table["GLAT"] = coords.galactic.b.deg * coords.ra.unit
    table["Extension"] = np.array([s.sigma for s in sources]) * coords.ra.unit
    table["Index"] = [s.index for s in sources]
    table["Reference"] = [s.reference for s in sources]
    table["Reference"].unit = "TeV"
    table["Flux_Ref"] = [s.amplitude for s in sources]
    table["Flux_Ref"].unit = "cm-2 s-1 TeV-1"
    table["Flux_Above_1TeV"] = [s.integral_flux(1.0) for s in sources]
    table["Flux_Above_1TeV"].unit = "cm-2 s-1"
    table.meta["EXTNAME"] = "SOURCES"
    table.meta["COMMENT"] = ["Sources injected by dl3flow.simulate"]
    fmt = "ascii.ecsv" if path.suffix.lower() == ".ecsv" else "fits"
    table.write(path, format=fmt, overwrite=overwrite)
    return path


def write_region_file(
    sources: Sequence[SourceSpec],
    path: str | os.PathLike,
    *,
    radius_margin: float = 0.3,
    overwrite: bool = False,
) -> Path:
    """Write a ds9 region file with one ICRS circle per source.

    The radius is ``radius_margin + 2 * sigma`` (deg), e.g. for exclusion masks.

    Parameters
    ----------
    sources : sequence of SourceSpec
    path : path-like
    radius_margin : float, optional
        Radius around point sources and added to twice the Gaussian sigma (deg, > 0).
    overwrite : bool, optional
        Replace an existing file.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        If ``radius_margin`` is not positive.
    FileExistsError
        If ``path`` exists and ``overwrite`` is false.
    """
    path = Path(path)
    if not (math.isfinite(radius_margin) and radius_margin > 0):
        raise ValueError(f"radius_margin must be > 0 deg, got {radius_margin}")
    _check_target(path, overwrite)
    lines = ["# Region file format: DS9 version 4.1", "icrs"]
    for s in sources:
        radius = radius_margin + 2 * s.sigma
        lines.append(f"circle({s.ra:.6f},{s.dec:.6f},{radius:.6f}) # text={{{s.name}}}")
    path.write_text("\n".join(lines) + "\n")
    return path
