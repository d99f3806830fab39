"""Event sampling of the simulated data store: background and source events.

Background counts follow ``bkg_3d x ONTIME``; source counts follow ``flux x aeff x
LIVETIME`` (Poisson thinning of an on-axis envelope), with true positions smeared by the
PSF and true energies by the energy dispersion of the analytic instrument
(``dl3flow.simulate.instrument``). Each observation has its own random stream
(``SeedSequence(seed, spawn_key=(index, 1))``), so an observation does not depend on how
many others are simulated, and the same seed gives the same events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import erf, ndtr, ndtri

from dl3flow.maps.coords import angular_offset, fov_to_sky
from dl3flow.simulate.config import SimulationConfig, SourceSpec
from dl3flow.simulate.geometry import _SIDEREAL_DEG_PER_DAY, _offset_by, _parallactic_angle
from dl3flow.simulate.instrument import (
    _BKG_SIGMA_DEG,
    _FOV_HALF_WIDTH_DEG,
    _MIGRA_HI,
    _MIGRA_LO,
    _OFFSET_MAX_DEG,
    _PSF_TAIL_SCALE,
    _PSF_TAIL_WEIGHT,
    _Instrument,
    _observation_instrument,
)
from dl3flow.simulate.plan import ObservationPlan, _plan_one

__all__ = ["SimulatedObservation", "simulate_observation"]


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


def _events_rng(config: SimulationConfig, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(index, 1)))


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
