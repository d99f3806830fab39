"""Correlation and energy bands of the excess-map estimation (gammapy's ``ExcessMapEstimator``).

The top-hat kernel (:func:`tophat_kernel`), the FFT convolution in "same" mode
(:func:`fftconvolve_same`, :func:`correlate`) and the grouping of dataset energy
bins into bands (:func:`band_indices`, :func:`resample_energy`), as steps 1 and 2
of `dl3flow.estimators.excess` describe them.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from scipy import fft as sp_fft

from dl3flow.estimators.maps import EstimateError
from dl3flow.maps.geom import SkyGeom

__all__ = [
    "tophat_kernel",
    "correlate",
    "fftconvolve_same",
    "band_indices",
    "resample_energy",
]

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
