"""Correlated excess, significance and flux maps (gammapy's ``ExcessMapEstimator``).

Two entry points with the same outputs (an :class:`ExcessMaps`):

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

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits
from scipy import fft as sp_fft

from dl3flow.maps.geom import SkyGeom
from dl3flow.stats import CashCounts, WStatCounts

__all__ = [
    "EstimateError",
    "ExcessMaps",
    "MAP_UNITS",
    "REFERENCE_AMPLITUDE",
    "tophat_kernel",
    "correlate",
    "fftconvolve_same",
    "band_indices",
    "resample_energy",
    "power_law_integral",
    "edisp_kernel_center",
    "exposure_reco",
    "estimate_excess_maps",
    "estimate_excess_maps_onoff",
    "write_maps",
    "read_maps",
]

#: Amplitude of the reference power law at 1 TeV, in cm-2 s-1 TeV-1 (gammapy's default).
REFERENCE_AMPLITUDE = 1e-12
#: Units of the output maps (FITS BUNIT).
MAP_UNITS = {
    "counts": "",
    "background": "",
    "excess": "",
    "sqrt_ts": "",
    "ts": "",
    "exposure": "cm2 s",
    "flux": "cm-2 s-1",
    "flux_err": "cm-2 s-1",
    "flux_errn": "cm-2 s-1",
    "flux_errp": "cm-2 s-1",
    "flux_ul": "cm-2 s-1",
    "mask": "",
}
#: m2 -> cm2 (exposure in m2 s times flux in cm-2 s-1).
_M2_TO_CM2 = 1e4


class EstimateError(ValueError):
    """Invalid input to the excess-map estimation or an unreadable maps file."""


# ------------------------------------------------------------------ kernels, convolution


def _to_deg(value, what: str) -> float:
    try:
        return float(u.Quantity(value, "deg").to_value("deg"))
    except (u.UnitConversionError, TypeError, ValueError) as exc:
        raise EstimateError(f"{what}: expected an angle, got {value!r}") from exc


def tophat_kernel(radius, sky: SkyGeom) -> np.ndarray:
    """Top-hat kernel of ``radius`` on the pixels of ``sky``, maximum 1.

    As gammapy's ``ExcessMapEstimator.estimate_kernel``: astropy's
    ``Tophat2DKernel(radius / mean(|CDELT|))`` divided by its maximum.

    Parameters
    ----------
    radius : float (deg) or Quantity
        Correlation radius, > 0.
    sky : `~dl3flow.maps.geom.SkyGeom`

    Returns
    -------
    kernel : `numpy.ndarray`
        Square, odd-sized; 1 for pixel centres within ``radius`` of the centre, else 0.

    Raises
    ------
    EstimateError
        If the radius is not a positive angle.
    """
    from astropy.convolution import Tophat2DKernel

    radius = _to_deg(radius, "correlation_radius")
    if not np.isfinite(radius) or radius <= 0:
        raise EstimateError(f"correlation_radius must be positive, got {radius} deg")
    pixel_size = np.mean(np.abs(sky.wcs.wcs.cdelt))
    array = Tophat2DKernel(radius / pixel_size).array
    return array / array.max()


def fftconvolve_same(images: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``scipy.signal.fftconvolve(..., mode="same")`` over the last two axes.

    Written on ``scipy.fft`` to spare workflow jobs the import of ``scipy.signal``
    (~0.6 s); same padding and centring (offset ``(k - 1) // 2``).
    """
    ny, nx = images.shape[-2:]
    ky, kx = kernel.shape
    full = (ny + ky - 1, nx + kx - 1)
    shape = tuple(sp_fft.next_fast_len(n, real=True) for n in full)
    spectrum = sp_fft.rfft2(images, shape) * sp_fft.rfft2(kernel, shape)
    out = sp_fft.irfft2(spectrum, shape)
    y0, x0 = (ky - 1) // 2, (kx - 1) // 2
    return out[..., y0 : y0 + ny, x0 : x0 + nx]


def correlate(images, kernel, *, integer: bool = False) -> np.ndarray:
    """Convolve each image plane with ``kernel`` ("same" size, zero padding).

    Parameters
    ----------
    images : array_like
        ``(..., ny, nx)``, finite and non-negative.
    kernel : array_like
        2D, odd-sized, non-negative.
    integer : bool
        Round the result to integers (correlated counts).

    Returns
    -------
    result : `numpy.ndarray`
        float64; exactly 0 where the kernel footprint holds no non-zero input,
        never negative.

    Raises
    ------
    EstimateError
        If the images are not finite and non-negative or the kernel is not 2D.
    """
    images = np.asarray(images, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 2 or images.ndim < 2:
        raise EstimateError(
            f"correlate needs (..., ny, nx) images and a 2D kernel, got {images.shape} "
            f"and {kernel.shape}"
        )
    if not np.all(np.isfinite(images)) or np.any(images < 0):
        raise EstimateError("correlate needs finite, non-negative images")
    result = fftconvolve_same(images, kernel)
    support = fftconvolve_same((images != 0).astype(float), (kernel != 0).astype(float))
    result = np.where(np.rint(support) == 0, 0.0, np.clip(result, 0.0, None))
    return np.rint(result) if integer else result


# ------------------------------------------------------------------------ energy bands


def band_indices(edges, band_edges=None) -> np.ndarray:
    """Dataset bin indices where the energy bands start (and the last one ends).

    gammapy's ``Map.resample_axis``: ``digitize(band_edges, edges) - 1``, so band
    ``j`` holds dataset bins ``indices[j] .. indices[j + 1] - 1``.

    Parameters
    ----------
    edges : array_like
        Dataset energy edges (TeV).
    band_edges : array_like, optional
        Requested band edges (TeV); None = one band over the whole axis.

    Returns
    -------
    indices : `numpy.ndarray` of int
        ``len(band_edges)`` indices into ``edges``; ``edges[indices]`` are the realised edges.

    Raises
    ------
    EstimateError
        If the band edges are not increasing, lie outside the dataset axis, or a band
        holds no dataset bin.
    """
    edges = np.asarray(edges, dtype=float)
    nbin = edges.size - 1
    if band_edges is None:
        return np.array([0, nbin])
    band = np.asarray(u.Quantity(band_edges, "TeV").to_value("TeV"), dtype=float)
    if band.ndim != 1 or band.size < 2 or np.any(np.diff(band) <= 0):
        raise EstimateError(f"energy_edges must be at least two increasing energies, got {band}")
    tol = 1e-6
    if band[0] < edges[0] * (1 - tol) or band[-1] > edges[-1] * (1 + tol):
        raise EstimateError(
            f"energy_edges {band} TeV exceed the dataset energy axis "
            f"({edges[0]:.6g} - {edges[-1]:.6g} TeV)"
        )
    # snap requested edges within the tolerance of a dataset edge onto it, so that
    # round-off (10 TeV vs 10.000000000000002 TeV) cannot move a whole bin
    nearest = np.abs(band[:, None] / edges[None, :] - 1)
    close = nearest.min(axis=1) <= tol
    band = np.where(close, edges[np.argmin(nearest, axis=1)], band)
    indices = np.clip(np.digitize(band, edges) - 1, 0, nbin)
    indices[-1] = np.where(close[-1] & (band[-1] == edges[-1]), nbin, indices[-1])
    if np.any(np.diff(indices) <= 0):
        raise EstimateError(
            f"energy_edges {band} TeV: a band contains no dataset bin (dataset edges {edges})"
        )
    return indices


def resample_energy(data, indices, *, weights=None, reduce: str = "sum") -> np.ndarray:
    """Group the leading (energy) axis into bands given by :func:`band_indices`.

    Parameters
    ----------
    data : array_like
        ``(n_energy, ...)``.
    indices : array_like of int
        Band boundaries as bin indices.
    weights : array_like, optional
        Multiplies ``data`` before summing (the safe mask).
    reduce : {"sum", "or"}
        Sum the bins, or OR them (masks).

    Returns
    -------
    result : `numpy.ndarray`
        ``(n_band, ...)``.
    """
    data = np.asarray(data)
    if weights is not None:
        data = data * np.asarray(weights)
    bounds = list(zip(indices[:-1], indices[1:], strict=True))
    if reduce == "or":
        return np.stack([np.logical_or.reduce(data[a:b].astype(bool), axis=0) for a, b in bounds])
    if reduce == "sum":
        return np.stack([data[a:b].sum(axis=0) for a, b in bounds]).astype(np.float64)
    raise EstimateError(f"reduce must be 'sum' or 'or', got {reduce!r}")


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


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class ExcessMaps:
    """Result of an excess-map estimation: images per energy band.

    Parameters
    ----------
    sky : `~dl3flow.maps.geom.SkyGeom`
        Image geometry.
    energy_edges : `numpy.ndarray`
        Band edges in TeV (``n_band + 1``).
    maps : dict of str to `numpy.ndarray`
        ``(n_band, ny, nx)`` arrays (NaN outside the safe mask): ``counts``
        (correlated), ``background`` (correlated), ``excess``, ``sqrt_ts``
        (significance), ``ts``, ``exposure`` (cm2 s, power-law weighted, averaged
        over the correlation disc), ``flux``, ``flux_err``, ``flux_ul`` (cm-2 s-1,
        integral in the band), optionally ``flux_errn``, ``flux_errp``, and ``mask``
        (the band's safe mask, bool).
    meta : dict
        Estimation parameters (statistic, correlation radius, ...), written to the
        primary header.
    """

    sky: SkyGeom
    energy_edges: np.ndarray
    maps: dict
    meta: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.maps[name]
        except KeyError:
            raise KeyError(f"no map {name!r}; available: {list(self.maps)}") from None

    @property
    def names(self) -> list[str]:
        return list(self.maps)

    def image(self, name: str, band: int = 0) -> np.ndarray:
        """The 2D image of ``name`` in energy band ``band``."""
        return self[name][band]

    def write(self, path, *, overwrite: bool = False, meta: Mapping | None = None, provenance=None):
        """Write with :func:`write_maps` (``meta`` adds to the stored metadata)."""
        return write_maps(
            self.maps,
            self.sky,
            path,
            energy_edges=self.energy_edges,
            meta={**self.meta, **(meta or {})},
            overwrite=overwrite,
            provenance=provenance,
        )


def _flux_maps(
    stat,
    *,
    mask: np.ndarray,
    exposure_band: np.ndarray | None,
    kernel: np.ndarray,
    band_edges: np.ndarray,
    spectral_index: float,
    n_sigma: float,
    n_sigma_ul: float,
    errn_errp: bool,
) -> dict:
    maps = {
        "counts": stat.n_on,
        "background": stat.n_bkg,
        "excess": stat.excess,
        "sqrt_ts": stat.sqrt_ts,
        "ts": stat.ts,
    }
    if exposure_band is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            npred_ref = correlate(exposure_band, kernel) / correlate(mask.astype(float), kernel)
        ref_flux = power_law_integral(band_edges[:-1], band_edges[1:], index=spectral_index)
        exposure = npred_ref / ref_flux[:, None, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            maps["exposure"] = exposure
            maps["flux"] = stat.excess / exposure
            maps["flux_err"] = n_sigma * stat.error / exposure
            if errn_errp:
                maps["flux_errn"] = stat.errn(n_sigma) / exposure
                maps["flux_errp"] = stat.errp(n_sigma) / exposure
            maps["flux_ul"] = stat.upper_limit(n_sigma_ul) / exposure
    out = {}
    for name, array in maps.items():
        array = np.array(array, dtype=np.float64)
        array[~mask] = np.nan
        out[name] = array
    out["mask"] = mask.copy()
    return out


def _check_options(n_sigma, n_sigma_ul, spectral_index):
    for name, value in (("n_sigma", n_sigma), ("n_sigma_ul", n_sigma_ul)):
        if not np.isfinite(value) or value <= 0:
            raise EstimateError(f"{name} must be a positive number, got {value}")
    if not np.isfinite(spectral_index):
        raise EstimateError(f"spectral_index must be finite, got {spectral_index}")


def _meta(statistic, radius, n_sigma, n_sigma_ul, spectral_index, **extra) -> dict:
    return {
        "STAT": statistic,
        "CORR_RAD": radius,
        "N_SIGMA": float(n_sigma),
        "N_SIG_UL": float(n_sigma_ul),
        "SPEC_IDX": float(spectral_index),
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
    _check_options(n_sigma, n_sigma_ul, spectral_index)
    sky = dataset.geom.sky
    edges = dataset.geom.energy.edges
    kernel = tophat_kernel(correlation_radius, sky)
    indices = band_indices(edges, energy_edges)
    weights = dataset.mask_safe
    mask = resample_energy(weights, indices, reduce="or")
    counts = resample_energy(dataset.counts, indices, weights=weights)
    background = resample_energy(dataset.background, indices, weights=weights)
    exposure_band = resample_energy(
        exposure_reco(dataset, spectral_index=spectral_index), indices, weights=weights
    )
    stat = CashCounts(
        correlate(counts * mask, kernel, integer=True), correlate(background * mask, kernel)
    )
    band_edges = edges[indices]
    maps = _flux_maps(
        stat,
        mask=mask,
        exposure_band=exposure_band,
        kernel=kernel,
        band_edges=band_edges,
        spectral_index=spectral_index,
        n_sigma=n_sigma,
        n_sigma_ul=n_sigma_ul,
        errn_errp=errn_errp,
    )
    radius = _to_deg(correlation_radius, "correlation_radius")
    meta = _meta("cash", radius, n_sigma, n_sigma_ul, spectral_index)
    return ExcessMaps(sky=sky, energy_edges=band_edges, maps=maps, meta=meta)


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
    _check_options(n_sigma, n_sigma_ul, spectral_index)
    edges = np.asarray(energy_edges_dataset, dtype=float)
    shape = (edges.size - 1, *sky.shape)
    arrays = {
        "counts": counts,
        "counts_off": counts_off,
        "acceptance": acceptance,
        "acceptance_off": acceptance_off,
    }
    if mask_safe is None:
        mask_safe = np.ones(shape, dtype=bool)
    arrays["mask_safe"] = mask_safe
    if exposure_reco is not None:
        arrays["exposure_reco"] = exposure_reco
    for name, array in arrays.items():
        array = np.asarray(array, dtype=bool if name == "mask_safe" else np.float64)
        if array.shape != shape:
            raise EstimateError(f"{name} has shape {array.shape}, expected {shape}")
        arrays[name] = array
    kernel = tophat_kernel(correlation_radius, sky)
    indices = band_indices(edges, energy_edges)
    weights = arrays["mask_safe"]
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = np.nan_to_num(arrays["acceptance"] / arrays["acceptance_off"])
    mask = resample_energy(weights, indices, reduce="or")
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
    stat = WStatCounts(n_on_conv, n_off_conv, alpha_conv)
    exposure_band = None
    if exposure_reco is not None:
        exposure_band = resample_energy(arrays["exposure_reco"], indices, weights=weights)
    band_edges = edges[indices]
    maps = _flux_maps(
        stat,
        mask=mask,
        exposure_band=exposure_band,
        kernel=kernel,
        band_edges=band_edges,
        spectral_index=spectral_index,
        n_sigma=n_sigma,
        n_sigma_ul=n_sigma_ul,
        errn_errp=errn_errp,
    )
    radius = _to_deg(correlation_radius, "correlation_radius")
    meta = _meta("wstat", radius, n_sigma, n_sigma_ul, spectral_index, CORR_OFF=bool(correlate_off))
    return ExcessMaps(sky=sky, energy_edges=band_edges, maps=maps, meta=meta)


# ---------------------------------------------------------------------------------- I/O


def write_maps(
    maps: Mapping,
    geom: SkyGeom,
    path,
    *,
    energy_edges,
    units: Mapping | None = None,
    meta: Mapping | None = None,
    overwrite: bool = False,
    provenance=None,
):
    """Write images to one FITS file: an image HDU per quantity plus a BANDS table.

    Each HDU is named after its quantity in upper case (``SQRT_TS``, ``FLUX``, ...),
    has the celestial WCS, ``BUNIT`` and ``BANDSHDU = 'BANDS'``; the shared BANDS
    table gives the energy bands (E_MIN, E_MAX in TeV). This is gammapy's
    ``Maps.write`` layout: ``gammapy.maps.Map.read(path, hdu="sqrt_ts")`` and
    ``Maps.read(path)`` open it. The file is written atomically.

    Parameters
    ----------
    maps : mapping of str to array_like
        ``(n_band, ny, nx)`` arrays (a 2D image is taken as one band); bool arrays
        are stored as integers.
    geom : `~dl3flow.maps.geom.SkyGeom`
    path : str or `~pathlib.Path`
    energy_edges : array_like
        Band edges in TeV, ``n_band + 1``.
    units : mapping, optional
        Units per quantity; default :data:`MAP_UNITS` (else dimensionless).
    meta : mapping, optional
        Scalars for the primary header (FITS keywords, at most 8 characters).
    overwrite : bool
    provenance : `~dl3flow.io.provenance.Provenance` or dict, optional
        Recorded in the primary header (a dict is taken as extra header
        keywords); see `dl3flow.io.provenance.add_to_header`.

    Returns
    -------
    path : `pathlib.Path`

    Raises
    ------
    EstimateError
        If there are no maps, a shape does not match, or a name is not usable as an
        HDU name.
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    """
    from dl3flow import __version__
    from dl3flow.datasets.map import _image_hdus, write_hdulist
    from dl3flow.io import fits as fitsio

    edges = np.asarray(energy_edges, dtype=float)
    units = {**MAP_UNITS, **(units or {})}
    if not maps:
        raise EstimateError("write_maps needs at least one map")
    shape = (edges.size - 1, *geom.shape)
    header = fits.Header()  # the primary header after SIMPLE ... EXTEND
    header["CREATOR"] = f"dl3flow {__version__}"
    for key, value in (meta or {}).items():
        if isinstance(value, np.generic):
            value = value.item()
        try:
            header[key] = value
        except (ValueError, TypeError) as exc:
            raise EstimateError(f"meta {key!r} = {value!r} is not FITS-legal: {exc}") from exc
    hdus = [fitsio.primary_hdu(header)]
    bands = None
    for name, data in maps.items():
        data = np.asarray(data)
        if data.ndim == 2:
            data = data[np.newaxis]
        if data.shape != shape:
            raise EstimateError(f"map {name!r} has shape {data.shape}, expected {shape}")
        hdu_name = str(name).upper()
        if not hdu_name or hdu_name == "BANDS" or not hdu_name.replace("_", "").isalnum():
            raise EstimateError(f"map name {name!r} cannot be an HDU name")
        image, table = _image_hdus(
            hdu_name, data, geom, [("energy", edges)], units.get(name, ""), bands="BANDS"
        )
        bands = bands or table
        hdus.append(image)
    hdus.append(bands)
    write_hdulist(hdus, path, overwrite=overwrite, provenance=provenance)
    return Path(path)


def read_maps(path) -> ExcessMaps:
    """Read a file written by :func:`write_maps` (all image HDUs, lower-case names).

    Raises
    ------
    EstimateError
        If the file cannot be read or has no BANDS table or no image HDU.
    """
    from dl3flow.datasets.map import open_fits

    try:
        with open_fits(path) as hdulist:
            if "BANDS" not in hdulist:
                raise EstimateError(f"{path}: no BANDS table; not a maps file")
            bands = hdulist["BANDS"].data
            edges = np.append(np.asarray(bands["E_MIN"], float), float(bands["E_MAX"][-1]))
            maps, sky = {}, None
            for hdu in list(hdulist)[1:]:
                if str(hdu.header.get("XTENSION", "")).strip() != "IMAGE" or hdu.data is None:
                    continue
                sky = sky or SkyGeom.from_header(hdu.header)
                data = np.asarray(hdu.data)
                if data.dtype.byteorder not in ("=", "|"):
                    data = data.astype(data.dtype.newbyteorder("="))
                name = hdu.name.lower()
                maps[name] = data.astype(bool) if name == "mask" else data
            meta = {
                k: v
                for k, v in hdulist[0].header.items()
                if k not in ("SIMPLE", "BITPIX", "NAXIS", "EXTEND", "COMMENT", "HISTORY", "")
            }
    except EstimateError:
        raise
    except Exception as exc:
        raise EstimateError(f"{path}: cannot read maps: {exc}") from exc
    if not maps:
        raise EstimateError(f"{path}: no image HDUs")
    return ExcessMaps(sky=sky, energy_edges=edges, maps=maps, meta=meta)
