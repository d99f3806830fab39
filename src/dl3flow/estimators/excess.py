"""Correlated excess, significance and flux maps (gammapy's ``ExcessMapEstimator``).

Two entry points with the same outputs (an `~dl3flow.estimators.maps.ExcessMaps`):

- :func:`estimate_excess_maps` on a `~dl3flow.datasets.map.MapDataset` with a known
  (predicted) background: Cash statistic;
- :func:`estimate_excess_maps_onoff` on plain on-off arrays (counts, off counts,
  on and off acceptance; e.g. from a ring background): WStat, i.e. Li & Ma eq. 17.

The computation replicates gammapy 1.3's ``ExcessMapEstimator.run`` step by step:

1. Energy bands. By default the whole reconstructed-energy axis is one band. With
   ``energy_edges`` the dataset bins are grouped as gammapy's ``Map.resample_axis``
   does: band ``j`` sums the dataset bins from the one containing
   ``energy_edges[j]`` up to (not including) the one containing
   ``energy_edges[j + 1]`` (a requested edge equal to the last dataset edge closes
   the last band). The band edges reported are the realised dataset edges.
   Counts, background (and off counts, acceptance) are summed over the bins of a
   band weighted by the safe mask; the band's mask is the OR of its bins'.
2. Correlation. A top-hat kernel of radius ``correlation_radius / mean(|CDELT|)``
   pixels (astropy's ``Tophat2DKernel``, pixel centres within the radius, the
   boundary included), normalised to a maximum of 1, so each pixel holds the sum
   over the disc. Images are convolved by FFT in "same" mode (zero outside the
   image) as ``WcsNDMap.convolve`` does (``scipy.signal.convolve``), but in
   float64 (gammapy returns float32): correlated counts are rounded to integers, values whose disc
   holds no non-zero input are exactly 0 and FFT noise below 0 is clipped.
   Inputs are multiplied by the band's safe mask first.
3. Statistics (`dl3flow.stats`): Cash with ``n_on`` = correlated counts and
   ``mu_bkg`` = correlated background; or WStat with the correlated on counts,
   the off counts as they are (``correlate_off=False``, dl3flow's default) and
   ``alpha = correlated acceptance / acceptance_off``; or, with
   ``correlate_off=True`` (gammapy's default), the correlated off counts and
   ``alpha = correlated background / correlated off counts`` where the background
   is ``alpha_pixel * n_off`` set to 0 where ``acceptance_off == 0``. Ring off
   counts are already a correlation (the ring kernel); correlating them again
   with the top-hat, as gammapy does by default, correlates them twice (gammapy
   issue #5245), so dl3flow does not.
4. Flux. The exposure in reconstructed energy for a power law of index
   ``spectral_index`` (:func:`exposure_reco`: the counts a reference power law
   ``1e-12 (E / 1 TeV)^-index cm-2 s-1 TeV-1`` predicts, with the energy
   dispersion of the dataset applied), summed over the band's bins weighted by the
   safe mask, and averaged over the correlation disc as
   ``conv(exposure) / conv(mask)``. With ``F`` the reference model's integral
   flux in the band, ``exposure = that average / F`` (cm2 s) and
   ``flux = excess / exposure``, ``flux_err = n_sigma * error / exposure``,
   ``flux_ul = upper_limit(n_sigma_ul) / exposure``: gammapy's ``flux``,
   ``flux_err`` and ``flux_ul`` (``norm * F``) of the ``FluxMaps``.
5. Every output is NaN outside the band's safe mask.

Deviations from gammapy: float64 instead of float32 convolution results (relative
differences ~1e-7), and the reported band edges are the realised ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dl3flow.estimators.correlation import (
    _to_deg,
    band_indices,
    correlate,
    resample_energy,
    tophat_kernel,
)
from dl3flow.estimators.maps import EstimateError, ExcessMaps
from dl3flow.maps.geom import SkyGeom
from dl3flow.stats import CashCounts, WStatCounts

__all__ = [
    "REFERENCE_AMPLITUDE",
    "power_law_integral",
    "edisp_kernel_center",
    "exposure_reco",
    "estimate_excess_maps",
    "estimate_excess_maps_onoff",
]

#: Amplitude of the reference power law at 1 TeV, in cm-2 s-1 TeV-1 (gammapy's default).
REFERENCE_AMPLITUDE = 1e-12
#: m2 -> cm2 (exposure in m2 s times flux in cm-2 s-1).
_M2_TO_CM2 = 1e4


# ------------------------------------------------------------------------------ exposure


def power_law_integral(e_min, e_max, *, index: float, amplitude: float = REFERENCE_AMPLITUDE):
    """Integral of ``amplitude (E / 1 TeV)^-index`` between ``e_min`` and ``e_max`` (TeV).

    gammapy's ``PowerLawSpectralModel.evaluate_integral`` (the logarithm for index 1).
    Returns cm-2 s-1 for an amplitude in cm-2 s-1 TeV-1.
    """
    e_min = np.asarray(e_min, dtype=float)
    e_max = np.asarray(e_max, dtype=float)
    val = 1.0 - float(index)
    if np.isclose(val, 0):
        return amplitude * np.log(e_max / e_min)
    return amplitude / val * (np.power(e_max, val) - np.power(e_min, val))


def _pixel_nearest_scipy(p: float) -> int:
    """scipy's ``RegularGridInterpolator(method="nearest")`` rule: ties go down."""
    i = int(np.floor(p))
    return i if p - i <= 0.5 else i + 1


def edisp_kernel_center(dataset) -> np.ndarray:
    """The energy-dispersion kernel gammapy uses for the whole map.

    gammapy's ``EDispKernelMap.get_edisp_kernel(position=None)``: the kernel at the
    centre of the IRF image (nearest IRF pixel), or, if the kernel there is all
    zero, at the nearest IRF pixel with a non-zero kernel.

    Returns
    -------
    kernel : `numpy.ndarray`
        ``(n_energy_true, n_energy)``.

    Raises
    ------
    EstimateError
        If the dataset has no energy-dispersion map.
    """
    if dataset.edisp is None:
        raise EstimateError("dataset has no energy-dispersion kernel map")
    kernel = dataset.edisp.kernel
    sky = dataset.geom.irf_sky
    ny, nx = sky.shape
    from astropy.coordinates import SkyCoord  # not at import: the maps jobs do without

    center = SkyCoord.from_pixel((nx - 1) / 2.0, (ny - 1) / 2.0, sky.wcs)
    px, py = (float(v) for v in sky.wcs.world_to_pixel(center))
    valid = np.logical_or.reduce(kernel > 0, axis=(0, 1))
    ix, iy = int(np.floor(px + 0.5)), int(np.floor(py + 0.5))
    inside = 0 <= ix < nx and 0 <= iy < ny
    if (not inside or not valid[iy, ix]) and valid.any():
        lon, lat = sky.wcs.wcs_pix2world(*np.meshgrid(np.arange(nx), np.arange(ny)), 0)
        coords = SkyCoord(lon, lat, unit="deg", frame=center.frame)
        separation = coords.separation(center).deg
        separation[~valid] = np.inf
        iy, ix = np.unravel_index(np.argmin(separation), separation.shape)
        return kernel[:, :, iy, ix]
    ix = int(np.clip(_pixel_nearest_scipy(px), 0, nx - 1))
    iy = int(np.clip(_pixel_nearest_scipy(py), 0, ny - 1))
    return kernel[:, :, iy, ix]


def exposure_reco(dataset, *, spectral_index: float = 2.0) -> np.ndarray:
    """Counts a reference power law predicts per pixel, in reconstructed energy.

    gammapy's ``estimate_exposure_reco_energy(dataset, PowerLawSpectralModel(index),
    normalize=False)``: exposure (m2 s) times the integral flux of
    ``1e-12 (E / 1 TeV)^-index cm-2 s-1 TeV-1`` in each true-energy bin, folded with
    :func:`edisp_kernel_center`. Without an energy-dispersion map the true and
    reconstructed axes must coincide (diagonal response).

    Parameters
    ----------
    dataset : `~dl3flow.datasets.map.MapDataset`
    spectral_index : float
        Power-law index of the assumed spectrum.

    Returns
    -------
    npred : `numpy.ndarray`
        ``(n_energy, ny, nx)``, dimensionless.

    Raises
    ------
    EstimateError
        If there is no energy dispersion and the two energy axes differ.
    """
    et = dataset.geom.energy_true.edges
    flux = power_law_integral(et[:-1], et[1:], index=spectral_index)
    npred_true = dataset.exposure * (flux * _M2_TO_CM2)[:, None, None]
    if dataset.edisp is None:
        e = dataset.geom.energy.edges
        if e.shape != et.shape or not np.allclose(e, et, rtol=1e-9):
            raise EstimateError(
                "dataset has no energy dispersion and its true and reconstructed energy "
                "axes differ: cannot fold the exposure into reconstructed energy"
            )
        return npred_true
    kernel = edisp_kernel_center(dataset)
    return np.tensordot(kernel, npred_true, axes=([0], [0]))


# ---------------------------------------------------------------------------- estimation


@dataclass(frozen=True)
class _Options:
    """The options of an estimation (both entry points), checked."""

    correlation_radius: object
    energy_edges: object
    spectral_index: float
    n_sigma: float
    n_sigma_ul: float
    errn_errp: bool

    def __post_init__(self):
        for name, value in (("n_sigma", self.n_sigma), ("n_sigma_ul", self.n_sigma_ul)):
            if not np.isfinite(value) or value <= 0:
                raise EstimateError(f"{name} must be a positive number, got {value}")
        if not np.isfinite(self.spectral_index):
            raise EstimateError(f"spectral_index must be finite, got {self.spectral_index}")


def _bands(sky: SkyGeom, edges: np.ndarray, mask_safe: np.ndarray, options: _Options) -> tuple:
    """The top-hat kernel, the band indices into ``edges`` and the bands' safe masks."""
    kernel = tophat_kernel(options.correlation_radius, sky)
    indices = band_indices(edges, options.energy_edges)
    mask = resample_energy(mask_safe, indices, reduce="or")
    return kernel, indices, mask


def _excess_maps(
    stat,
    statistic: str,
    options: _Options,
    *,
    sky: SkyGeom,
    band_edges: np.ndarray,
    mask: np.ndarray,
    kernel: np.ndarray,
    exposure_band: np.ndarray | None,
    **extra,
) -> ExcessMaps:
    """The maps of ``stat`` (flux maps given ``exposure_band``), NaN outside ``mask``."""
    maps = {
        "counts": stat.n_on,
        "background": stat.n_bkg,
        "excess": stat.excess,
        "sqrt_ts": stat.sqrt_ts,
        "ts": stat.ts,
    }
    n_sigma, n_sigma_ul = options.n_sigma, options.n_sigma_ul
    if exposure_band is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            npred_ref = correlate(exposure_band, kernel) / correlate(mask.astype(float), kernel)
        ref_flux = power_law_integral(band_edges[:-1], band_edges[1:], index=options.spectral_index)
        exposure = npred_ref / ref_flux[:, None, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            maps["exposure"] = exposure
            maps["flux"] = stat.excess / exposure
            maps["flux_err"] = n_sigma * stat.error / exposure
            if options.errn_errp:
                maps["flux_errn"] = stat.errn(n_sigma) / exposure
                maps["flux_errp"] = stat.errp(n_sigma) / exposure
            maps["flux_ul"] = stat.upper_limit(n_sigma_ul) / exposure
    out = {}
    for name, array in maps.items():
        array = np.array(array, dtype=np.float64)
        array[~mask] = np.nan
        out[name] = array
    out["mask"] = mask.copy()
    meta = _meta(statistic, options, **extra)
    return ExcessMaps(sky=sky, energy_edges=band_edges, maps=out, meta=meta)


def _meta(statistic: str, options: _Options, **extra) -> dict:
    """The estimation parameters, as written to the primary header of the maps file."""
    return {
        "STAT": statistic,
        "CORR_RAD": _to_deg(options.correlation_radius, "correlation_radius"),
        "N_SIGMA": float(options.n_sigma),
        "N_SIG_UL": float(options.n_sigma_ul),
        "SPEC_IDX": float(options.spectral_index),
        "REF_AMPL": REFERENCE_AMPLITUDE,
        **extra,
    }


def estimate_excess_maps(
    dataset,
    *,
    correlation_radius=0.1,
    energy_edges=None,
    spectral_index: float = 2.0,
    n_sigma: float = 1.0,
    n_sigma_ul: float = 2.0,
    errn_errp: bool = False,
) -> ExcessMaps:
    """Correlated excess, Cash significance and flux maps of a dataset.

    gammapy's ``ExcessMapEstimator(correlation_radius, n_sigma, n_sigma_ul,
    energy_edges, spectral_model=PowerLawSpectralModel(index=spectral_index))
    .run(dataset)`` for a ``MapDataset`` without models (the background is the
    dataset's predicted background). See the module docstring for the steps.

    Parameters
    ----------
    dataset : `~dl3flow.datasets.map.MapDataset`
    correlation_radius : float (deg) or Quantity
        Radius of the top-hat correlation disc.
    energy_edges : array_like (TeV) or Quantity, optional
        Energy bands; None: one band over the whole reconstructed-energy axis.
    spectral_index : float
        Index of the power law weighting the exposure (flux maps).
    n_sigma : float
        Confidence of ``flux_err`` (and ``flux_errn``/``flux_errp``) in sigma.
    n_sigma_ul : float
        Confidence of ``flux_ul`` in sigma (gammapy's default 2).
    errn_errp : bool
        Also compute the asymmetric flux errors.

    Returns
    -------
    maps : `ExcessMaps`

    Raises
    ------
    EstimateError
        For invalid options (radius, energy bands, n_sigma) or a dataset whose
        exposure cannot be folded into reconstructed energy.
    """
    options = _Options(
        correlation_radius, energy_edges, spectral_index, n_sigma, n_sigma_ul, errn_errp
    )
    sky, edges, weights = dataset.geom.sky, dataset.geom.energy.edges, dataset.mask_safe
    kernel, indices, mask = _bands(sky, edges, weights, options)
    counts = resample_energy(dataset.counts, indices, weights=weights)
    background = resample_energy(dataset.background, indices, weights=weights)
    exposure_band = resample_energy(
        exposure_reco(dataset, spectral_index=spectral_index), indices, weights=weights
    )
    stat = CashCounts(
        correlate(counts * mask, kernel, integer=True), correlate(background * mask, kernel)
    )
    return _excess_maps(
        stat,
        "cash",
        options,
        sky=sky,
        band_edges=edges[indices],
        mask=mask,
        kernel=kernel,
        exposure_band=exposure_band,
    )


def estimate_excess_maps_onoff(
    *,
    sky: SkyGeom,
    energy_edges_dataset,
    counts,
    counts_off,
    acceptance,
    acceptance_off,
    mask_safe=None,
    exposure_reco=None,
    correlation_radius=0.1,
    energy_edges=None,
    spectral_index: float = 2.0,
    n_sigma: float = 1.0,
    n_sigma_ul: float = 2.0,
    errn_errp: bool = False,
    correlate_off: bool = False,
) -> ExcessMaps:
    """Correlated excess, WStat (Li & Ma) significance and flux maps of on-off arrays.

    gammapy's ``ExcessMapEstimator`` on a ``MapDatasetOnOff`` without models.
    The inputs are plain arrays so that any on-off container (e.g. a ring
    background) can be passed; the per-pixel ``alpha`` is
    ``acceptance / acceptance_off`` (0 where ``acceptance_off`` is 0).

    Parameters
    ----------
    sky : `~dl3flow.maps.geom.SkyGeom`
        Image geometry.
    energy_edges_dataset : array_like
        Reconstructed-energy edges (TeV) of the arrays, ``n_energy + 1``.
    counts, counts_off, acceptance, acceptance_off : array_like
        ``(n_energy, ny, nx)``.
    mask_safe : array_like of bool, optional
        ``(n_energy, ny, nx)``; default everything usable.
    exposure_reco : array_like, optional
        ``(n_energy, ny, nx)`` reference-model counts (:func:`exposure_reco` of the
        dataset the on-off arrays come from, on the same energy axis); without it no
        flux maps are produced.
    correlation_radius, energy_edges, spectral_index, n_sigma, n_sigma_ul, errn_errp
        As in :func:`estimate_excess_maps`.
    correlate_off : bool
        Correlate the off counts with the top-hat too. Default False: ring off
        counts are correlated once, by the ring (gammapy's default True correlates
        them twice).

    Returns
    -------
    maps : `ExcessMaps`

    Raises
    ------
    EstimateError
        For invalid options or arrays whose shapes do not match the geometry.
    """
    options = _Options(
        correlation_radius, energy_edges, spectral_index, n_sigma, n_sigma_ul, errn_errp
    )
    edges = np.asarray(energy_edges_dataset, dtype=float)
    arrays = _onoff_arrays(
        (edges.size - 1, *sky.shape),
        counts=counts,
        counts_off=counts_off,
        acceptance=acceptance,
        acceptance_off=acceptance_off,
        mask_safe=mask_safe,
        exposure_reco=exposure_reco,
    )
    weights = arrays["mask_safe"]
    kernel, indices, mask = _bands(sky, edges, weights, options)
    stat = _wstat_counts(arrays, indices, mask, kernel, correlate_off=correlate_off)
    exposure_band = None
    if exposure_reco is not None:
        exposure_band = resample_energy(arrays["exposure_reco"], indices, weights=weights)
    return _excess_maps(
        stat,
        "wstat",
        options,
        sky=sky,
        band_edges=edges[indices],
        mask=mask,
        kernel=kernel,
        exposure_band=exposure_band,
        CORR_OFF=bool(correlate_off),
    )


def _onoff_arrays(shape: tuple, **arrays) -> dict:
    """The on-off arrays as float64 (``mask_safe`` bool, default all True), shapes checked."""
    if arrays["mask_safe"] is None:
        arrays["mask_safe"] = np.ones(shape, dtype=bool)
    if arrays["exposure_reco"] is None:
        del arrays["exposure_reco"]
    checked = {}
    for name, array in arrays.items():
        array = np.asarray(array, dtype=bool if name == "mask_safe" else np.float64)
        if array.shape != shape:
            raise EstimateError(f"{name} has shape {array.shape}, expected {shape}")
        checked[name] = array
    return checked


def _wstat_counts(
    arrays: dict, indices: np.ndarray, mask: np.ndarray, kernel: np.ndarray, *, correlate_off: bool
) -> WStatCounts:
    """WStat counts of the bands: correlated on counts, off counts and alpha (step 3)."""
    weights = arrays["mask_safe"]
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = np.nan_to_num(arrays["acceptance"] / arrays["acceptance_off"])
    n_on = resample_energy(arrays["counts"], indices, weights=weights)
    n_off = resample_energy(arrays["counts_off"], indices, weights=weights)
    acc_on = resample_energy(arrays["acceptance"], indices, weights=weights)
    bkg = resample_energy(alpha * arrays["counts_off"], indices, weights=weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc_off = acc_on * n_off / bkg
        alpha_band = np.nan_to_num(acc_on / acc_off)
    n_on_conv = correlate(n_on * mask, kernel, integer=True)
    if correlate_off:
        background = alpha_band * n_off * mask
        background[acc_off == 0] = 0.0
        n_off_conv = correlate(n_off * mask, kernel)
        with np.errstate(invalid="ignore", divide="ignore"):
            alpha_conv = correlate(background, kernel) / n_off_conv
    else:
        n_off_conv = n_off * mask
        with np.errstate(invalid="ignore", divide="ignore"):
            alpha_conv = correlate(np.nan_to_num(acc_on * mask), kernel) / (acc_off * mask)
    return WStatCounts(n_on_conv, n_off_conv, alpha_conv)
