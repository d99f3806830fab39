"""The observation plan of the simulated data store: pointings, zenith angles and times.

Observation ``i`` is a wobble pointing of the target (offsets cycle N, E, S, W), taken
on the ``i``-th day after ``tstart`` at a zenith angle drawn uniformly from what the
target reaches at the site within ``zenith_range``. Each observation draws from its own
random stream (``SeedSequence(seed, spawn_key=(index, 0))``), so its plan does not
depend on how many others are simulated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dl3flow.simulate.config import SimulationConfig, _wobble_pointings, _zenith_limits
from dl3flow.simulate.geometry import _MJDREF, _SIDEREAL_DEG_PER_DAY, _gmst_deg

__all__ = ["ObservationPlan", "plan_observations"]


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


def _plan_rng(config: SimulationConfig, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(index, 0)))


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
