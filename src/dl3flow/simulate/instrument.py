"""The analytic instrument of the simulated data store and its IRF tables.

Events are sampled from exactly these analytic functions (``dl3flow.simulate.events``),
and the IRF tables written to the store evaluate them at the bin centres gammapy
interpolates between (in the array layout of gammapy's ``to_table`` writers, which is
also that of the H.E.S.S. DR1 release).

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
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from dl3flow.simulate.config import SimulationConfig
from dl3flow.simulate.plan import ObservationPlan

__all__: list[str] = []

# irf_style "caldb": the one shared IRF is computed at this zenith angle (CTA's South_z20).
_CALDB_ZENITH_DEG = 20.0


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


def _observation_instrument(config: SimulationConfig, plan: ObservationPlan) -> _Instrument:
    """The instrument the events of an observation are drawn from (and its IRFs).

    gadf: at the observation's zenith angle; caldb: the one shared IRF's, at
    ``_CALDB_ZENITH_DEG`` whatever the pointing, so that the store is self-consistent.
    """
    zenith = _CALDB_ZENITH_DEG if config.irf_style == "caldb" else plan.zenith
    return _Instrument(zenith, config.energy_range, config.background_norm)


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
