"""Ring background: gammapy 1.3's ``RingBackgroundMaker`` on a (stacked) dataset.

:func:`ring_background` replicates gammapy 1.3's ``RingBackgroundMaker`` on a
(stacked) dataset: the counts and background are summed over reconstructed energy
inside the safe mask (``MapDataset.to_image``; or per energy band), then
``counts_off`` = ring kernel (astropy ``Ring2DKernel(r_in, width)`` in pixels of
the longitude pixel size, peak-normalised, i.e. 1 inside the ring) convolved with
the exclusion-masked counts, ``acceptance`` = background, ``acceptance_off`` = the
ring convolved with the exclusion-masked background, and the safe mask is cleared
where ``acceptance_off <= 0``. Convolution is FFT-based like gammapy's
(``scipy.signal.convolve(method="fft", mode="same")``), in float64 (gammapy: float32);
``counts_off`` is rounded to integers (it is a sum of integers) and
``acceptance_off`` is exactly 0 where the ring holds no background.

Off counts are correlated once only. In gammapy 1.3 the ring maker correlates
them once; the double correlation happens downstream, in
``ExcessMapEstimator(correlate_off=True)`` (its default), which convolves the ring
``counts_off`` again with the correlation kernel (gammapy issue #5245 and the note
in the estimator's docstring). The estimate for an on-off dataset from this
module must therefore correlate only the on quantities: ``n_on`` and
``acceptance`` summed over the correlation circle, ``n_off`` left as is, i.e.
gammapy's ``correlate_off=False``:
``alpha = conv(acceptance) / acceptance_off``.
"""

from __future__ import annotations

import warnings

import astropy.units as u
import numpy as np
from astropy.utils.exceptions import AstropyUserWarning

from dl3flow.datasets.map import MapDataset
from dl3flow.datasets.onoff import MapDatasetOnOff
from dl3flow.makers.background import BackgroundError, _exclusion_image
from dl3flow.maps.geom import DatasetGeom, EnergyAxis, SkyGeom

__all__ = ["ring_kernel", "ring_background"]


def _angle_value(value, what: str) -> float:
    """``value`` in deg (a float is deg); BackgroundError if it is not an angle."""
    try:
        return float(u.Quantity(value, "deg").value)
    except (u.UnitConversionError, TypeError, ValueError) as exc:
        raise BackgroundError(f"{what}: expected an angle, got {value!r}") from exc


def ring_kernel(*, r_in, width, binsz) -> np.ndarray:
    """Ring kernel as gammapy's ``RingBackgroundMaker.kernel``: 1 inside the ring, else 0.

    astropy's ``Ring2DKernel(r_in / binsz, width / binsz)`` (pixel centres within
    ``[r_in, r_in + width]`` of the centre pixel), normalised to a peak of 1.

    Parameters
    ----------
    r_in, width, binsz : `~astropy.units.Quantity` or float
        Inner radius, width and pixel size (float: deg).

    Raises
    ------
    BackgroundError
        For a negative ``r_in``, non-positive ``width`` or ``binsz``, or a ring
        holding no pixel centre.
    """
    from astropy.convolution import Ring2DKernel

    r_in = _angle_value(r_in, "ring r_in")
    width = _angle_value(width, "ring width")
    binsz = _angle_value(binsz, "pixel size")
    if not (np.isfinite(r_in) and r_in >= 0):
        raise BackgroundError(f"ring r_in must be >= 0 deg, got {r_in}")
    if not (np.isfinite(width) and width > 0):
        raise BackgroundError(f"ring width must be > 0 deg, got {width}")
    if not (np.isfinite(binsz) and binsz > 0):
        raise BackgroundError(f"pixel size must be > 0 deg, got {binsz}")
    with warnings.catch_warnings():
        # astropy warns when an empty ring cannot be normalised: reported below
        warnings.simplefilter("ignore", AstropyUserWarning)
        kernel = Ring2DKernel(r_in / binsz, width / binsz)
    array = np.asarray(kernel.array, dtype=np.float64)
    if not array.max() > 0:
        raise BackgroundError(
            f"ring r_in={r_in} deg, width={width} deg contains no pixel centre at "
            f"{binsz} deg per pixel"
        )
    return array / array.max()


def _energy_groups(edges: np.ndarray, energy_edges) -> list[tuple[int, int]]:
    """Index ranges of the dataset's energy bins making up each requested band."""
    if energy_edges is None:
        return [(0, edges.size - 1)]
    requested = np.atleast_1d(u.Quantity(energy_edges, "TeV").value).astype(float)
    if requested.size < 2 or np.any(np.diff(requested) <= 0):
        raise BackgroundError(
            f"energy_edges must be at least two increasing energies, got {requested}"
        )
    idx = []
    for value in requested:
        match = np.flatnonzero(np.isclose(edges, value, rtol=1e-6, atol=0))
        if match.size != 1:
            raise BackgroundError(
                f"energy edge {value:g} TeV is not an edge of the dataset's energy axis "
                f"({np.array2string(edges, precision=4)} TeV)"
            )
        idx.append(int(match[0]))
    return list(zip(idx[:-1], idx[1:], strict=True))


def _convolve(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``image`` convolved with ``kernel`` (FFT, same shape)."""
    # scipy.signal.fftconvolve(mode="same"), bit for bit, without importing
    # scipy.signal (and scipy.stats with it: ~1 s of the ring job's start)
    from dl3flow.estimators.correlation import fftconvolve_same

    return fftconvolve_same(image, kernel)


def ring_background(
    dataset: MapDataset,
    exclusion=None,
    *,
    r_in,
    width,
    exclusion_geom: SkyGeom | None = None,
    energy_edges=None,
    name: str | None = None,
) -> MapDatasetOnOff:
    """Ring-background on-off dataset from a (stacked) dataset.

    Parameters
    ----------
    dataset : `~dl3flow.datasets.map.MapDataset`
        Usually the stack of the FoV-normalised observations.
    exclusion : array_like, optional
        2D bool mask, True where counts may enter the ring; on the dataset's image
        or on ``exclusion_geom``. None: nothing excluded.
    r_in, width : `~astropy.units.Quantity` or float
        Inner radius and width of the ring (float: deg).
    exclusion_geom : `~dl3flow.maps.geom.SkyGeom`, optional
        Geometry of ``exclusion`` when the dataset is a cutout of it.
    energy_edges : `~astropy.units.Quantity` or array_like, optional
        Band edges (TeV), each an edge of the dataset's energy axis: one on-off
        image per band. None (default): one band over the whole energy range.
    name : str, optional
        Name of the on-off dataset (default: the input's).

    Returns
    -------
    dataset : `~dl3flow.datasets.onoff.MapDatasetOnOff`
        ``counts``, ``counts_off``, ``acceptance``, ``acceptance_off`` and
        ``mask_safe`` per band, the input's exposure, meta and GTI. Meta gains
        ``RING_RIN`` and ``RING_WID`` (deg).

    Raises
    ------
    BackgroundError
        For invalid ring parameters, band edges or exclusion mask.
    """
    if not isinstance(dataset, MapDataset):
        raise BackgroundError(f"dataset must be a MapDataset, got {type(dataset).__name__}")
    geom = dataset.geom
    binsz = geom.sky.binsz[0]
    kernel = ring_kernel(r_in=r_in, width=width, binsz=binsz)
    excl = _exclusion_image(exclusion, exclusion_geom, geom.sky)
    edges = geom.energy.edges
    groups = _energy_groups(edges, energy_edges)

    mask = dataset.mask_safe
    counts_in = np.where(mask, np.nan_to_num(dataset.counts), 0.0)
    bkg_in = np.where(mask, np.nan_to_num(dataset.background), 0.0)
    n_band = len(groups)
    shape = (n_band, *geom.sky.shape)
    counts, acceptance = np.zeros(shape), np.zeros(shape)
    counts_off, acceptance_off = np.zeros(shape), np.zeros(shape)
    mask_safe = np.zeros(shape, dtype=bool)
    for k, (i0, i1) in enumerate(groups):
        counts[k] = counts_in[i0:i1].sum(axis=0)
        acceptance[k] = bkg_in[i0:i1].sum(axis=0)
        mask_safe[k] = mask[i0:i1].any(axis=0)
        counts_off[k] = np.rint(_convolve(counts[k] * excl, kernel))
        bkg_excl = acceptance[k] * excl
        off = _convolve(bkg_excl, kernel)
        # where the ring holds no background at all, the true value is exactly 0
        support = np.rint(_convolve((bkg_excl > 0).astype(float), kernel)) > 0
        acceptance_off[k] = np.where(support, np.clip(off, 0.0, None), 0.0)
    counts_off = np.clip(counts_off, 0.0, None)
    mask_safe &= acceptance_off > 0

    band_edges = np.array([edges[groups[0][0]]] + [edges[i1] for _, i1 in groups])
    out_geom = DatasetGeom(
        sky=geom.sky,
        energy=EnergyAxis(band_edges, name="energy"),
        energy_true=geom.energy_true,
        irf_sky=geom.irf_sky,
        rad_edges=geom.rad_edges,
    )
    meta = dict(dataset.meta)
    meta["RING_RIN"] = _angle_value(r_in, "ring r_in")
    meta["RING_WID"] = _angle_value(width, "ring width")
    return MapDatasetOnOff(
        geom=out_geom,
        counts=counts,
        counts_off=counts_off,
        acceptance=acceptance,
        acceptance_off=acceptance_off,
        exposure=dataset.exposure,
        mask_safe=mask_safe,
        name=dataset.name if name is None else name,
        meta=meta,
        gti=dataset.gti,
    )
