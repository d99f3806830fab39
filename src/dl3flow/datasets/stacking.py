"""Stacking of map datasets (gammapy 1.3's ``MapDataset.stack``).

:func:`stack` and :func:`stack_datasets` replicate gammapy 1.3's
``MapDataset.stack`` (and ``IRFMap.stack`` for the IRF maps) on datasets produced
by ``MapDatasetMaker``; the deviations are listed in :func:`stack`.
:func:`cutout_slices` places an observation's cutout in the stacked geometry.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import numpy as np

from dl3flow.data.gti import GTITable
from dl3flow.datasets.io import DatasetError, _gti_reference, _normalize_gti
from dl3flow.datasets.map import EDispKernelMap, MapDataset, PSFMap, empty_dataset
from dl3flow.maps.geom import DatasetGeom, SkyGeom

__all__ = [
    "stack",
    "stack_datasets",
    "cutout_slices",
]

#: Meta keys summed when stacking (seconds).
SUMMED_KEYS = ("LIVETIME", "ONTIME")


def cutout_slices(parent: SkyGeom, child: SkyGeom) -> tuple[slice, slice]:
    """Where ``child`` (a cutout) sits inside ``parent``: ``(slice_y, slice_x)``.

    The geometries must agree in everything but the reference pixel, which may
    differ by whole pixels (gammapy's ``WcsGeom.is_aligned``: astropy's
    ``Wcsprm.compare(cmp=WCSCOMPARE_TILING, tolerance=1e-6)``), and the child must
    lie entirely inside the parent.

    Raises
    ------
    DatasetError
        When the grids are not aligned or the child is not inside the parent; the
        message names both geometries.
    """
    # compare fully set-up copies: a WCS not yet used has undefined LONPOLE etc.
    wcs_parent, wcs_child = copy.deepcopy(parent.wcsprm), copy.deepcopy(child.wcsprm)
    wcs_parent.set()
    wcs_child.set()
    aligned = wcs_parent.compare(wcs_child, cmp=2, tolerance=1e-6)
    offset = np.asarray(parent.wcsprm.crpix) - np.asarray(child.wcsprm.crpix)
    ix0, iy0 = (int(v) for v in np.rint(offset))
    ny, nx = child.shape
    inside = 0 <= iy0 and iy0 + ny <= parent.shape[0] and 0 <= ix0 and ix0 + nx <= parent.shape[1]
    if not (aligned and inside):
        why = "is not pixel-aligned with" if not aligned else "does not lie inside"
        raise DatasetError(f"cutout {_describe(child)} {why} parent {_describe(parent)}")
    return slice(iy0, iy0 + ny), slice(ix0, ix0 + nx)


def _describe(sky: SkyGeom) -> str:
    w = sky.wcsprm
    return (
        f"[{w.ctype[0]},{w.ctype[1]} crval=({w.crval[0]:.6g},{w.crval[1]:.6g}) "
        f"cdelt=({w.cdelt[0]:.6g},{w.cdelt[1]:.6g}) crpix=({w.crpix[0]:.6g},{w.crpix[1]:.6g}) "
        f"shape={sky.shape}]"
    )


def _check_compatible(stacked: MapDataset, other: MapDataset) -> None:
    for what in ("energy", "energy_true"):
        a, b = getattr(stacked.geom, what).edges, getattr(other.geom, what).edges
        if a.shape != b.shape or not np.allclose(a, b, rtol=1e-6, atol=0):
            raise DatasetError(f"cannot stack: {what} axes differ ({a} vs {b} TeV)")
    a, b = stacked.geom.rad_edges, other.geom.rad_edges
    if stacked.psf is not None and other.psf is not None:
        if a.shape != b.shape or not np.allclose(a, b, rtol=1e-6, atol=1e-9):
            raise DatasetError("cannot stack: PSF rad axes differ")


def _irf_pixel_positions(irf: SkyGeom, sky: SkyGeom) -> tuple[np.ndarray, np.ndarray]:
    """Float pixel coordinates (x, y) in ``sky`` of the centres of ``irf``'s pixels.

    Same computation as gammapy (``WcsGeom.get_coord`` then ``coord_to_pix``).
    """
    ny, nx = irf.shape
    y, x = np.meshgrid(np.arange(ny, dtype=float), np.arange(nx, dtype=float), indexing="ij")
    lon, lat = irf.pix2world(x, y)
    px, py = sky.world2pix(lon, lat)
    return px, py


def _mask_safe_psf(ds: MapDataset) -> np.ndarray:
    """``(ny_irf, nx_irf)`` PSF stacking weight: gammapy's ``mask_safe_psf``.

    The safe-mask image looked up at the IRF pixel centres (nearest sky pixel,
    False outside the sky image).
    """
    px, py = _irf_pixel_positions(ds.geom.irf_sky, ds.geom.sky)
    image = ds.mask_safe_image
    ny, nx = image.shape
    with np.errstate(invalid="ignore"):
        ix, iy = np.floor(px + 0.5), np.floor(py + 0.5)
        inside = np.isfinite(ix) & np.isfinite(iy) & (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    out = np.zeros(px.shape, dtype=bool)
    out[inside] = image[iy[inside].astype(int), ix[inside].astype(int)]
    return out


def _mask_safe_edisp(ds: MapDataset) -> np.ndarray:
    """``(n_energy, ny_irf, nx_irf)`` edisp stacking weight: gammapy's ``mask_safe_edisp``.

    Per reconstructed-energy bin, the safe mask interpolated linearly (with linear
    extrapolation beyond the sky image) at the IRF pixel centres and cast to bool:
    an IRF pixel is safe when any sky pixel with a non-zero interpolation weight is.

    gammapy interpolates along the energy axis too, at the pixel coordinates of the
    bin centres, which its log-axis arithmetic yields with errors of ~1e-16: a bin
    can then pick up its neighbour's mask with a weight of 1e-16 and count as safe.
    That is a rounding artefact, not a method; dl3flow uses the exact bin index.
    """
    px, py = _irf_pixel_positions(ds.geom.irf_sky, ds.geom.sky)
    mask = ds.mask_safe.astype(np.float64)  # (n_e, ny, nx)
    n_e, ny, nx = mask.shape
    values = mask.transpose(2, 1, 0)  # (nx, ny, n_e), gammapy's (lon, lat, energy) order
    grids, points = [], []
    # gammapy ignores axes of length 1 in the interpolation
    for n, pix in ((nx, px), (ny, py)):
        if n > 1:
            grids.append(np.arange(n, dtype=float))
            points.append(pix.ravel())
    values = values.reshape([n for n in (nx, ny) if n > 1] + [n_e])
    if grids:
        from scipy.interpolate import RegularGridInterpolator

        fn = RegularGridInterpolator(
            tuple(grids), values, method="linear", bounds_error=False, fill_value=None
        )
        result = fn(np.stack(points, axis=-1))  # (npix, n_e)
    else:
        result = np.broadcast_to(values, (px.size, n_e))
    result = np.asarray(result).T.reshape((n_e,) + px.shape)
    return result.astype(bool)


def _finite_or_zero(values: np.ndarray) -> np.ndarray:
    """``np.nan_to_num(values, nan=0, posinf=0, neginf=0)`` in one pass (3x faster)."""
    return np.where(np.isfinite(values), values, values.dtype.type(0))


def _stack_irf(
    irf_stacked: np.ndarray,
    exp_stacked: np.ndarray,
    irf_other: np.ndarray,
    exp_other: np.ndarray,
    weights: np.ndarray,
    slices: tuple[slice, slice],
) -> tuple[np.ndarray, np.ndarray]:
    """gammapy's ``IRFMap.stack``: exposure-weighted mean of the IRF maps.

    ``weights`` broadcasts against the IRF map (it has a length-1 true-energy axis);
    the exposure is stacked with the weights reduced over their second axis with OR.
    Returns new (irf, exposure) arrays.
    """
    sl = (Ellipsis, *slices)
    num = irf_stacked * exp_stacked
    product = _finite_or_zero(irf_other * exp_other)
    num[sl] += product * weights
    exp = exp_stacked.copy()
    w_exp = np.logical_or.reduce(weights, axis=1, keepdims=True)
    exp[sl] += _finite_or_zero(exp_other) * w_exp
    with np.errstate(invalid="ignore", divide="ignore"):
        irf = np.nan_to_num(num / exp)
    return irf, exp


def _stack_gti(a: GTITable | None, b: GTITable | None) -> GTITable | None:
    """Concatenate ``b`` into ``a``'s time reference, then merge overlaps (``GTI.union``)."""
    if b is None:
        return a
    if a is None:
        return b.copy()
    start, stop = np.asarray(b["START"]), np.asarray(b["STOP"])
    ref_a, ref_b = (tuple(t.meta[k] for k in ("MJDREFI", "MJDREFF", "TIMESYS")) for t in (a, b))
    if ref_a != ref_b:
        offset = (_gti_reference(b) - _gti_reference(a)).to_value("s")
        start, stop = start + offset, stop + offset
    starts = np.concatenate([np.asarray(a["START"]), start])
    stops = np.concatenate([np.asarray(a["STOP"]), stop])
    order = np.argsort(starts, kind="stable")
    merged: list[list[float]] = []
    for s, e in zip(starts[order], stops[order], strict=True):
        if merged and not merged[-1][1] < s:  # overlapping or touching: merge
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    arr = np.asarray(merged, dtype=np.float64).reshape(-1, 2)
    return _normalize_gti(GTITable(start=arr[:, 0], stop=arr[:, 1], meta=dict(a.meta)))


def _obs_ids_as_list(meta: dict) -> dict:
    """A single observation's scalar ``OBS_ID`` becomes ``OBS_IDS = [OBS_ID]``."""
    if "OBS_ID" in meta and "OBS_IDS" not in meta:
        meta = dict(meta)
        obs_id = meta.pop("OBS_ID")
        meta["OBS_IDS"] = np.atleast_1d(obs_id).tolist()
    return meta


def _stack_meta(a: dict, b: dict, *, b_has_safe: bool) -> dict:
    a, b = _obs_ids_as_list(a), _obs_ids_as_list(b)
    first = len(a.get("OBS_IDS", [])) == 0
    out: dict = {}
    for key in list(a) + [k for k in b if k not in a]:
        if key in SUMMED_KEYS:
            total = a.get(key, 0.0)
            if b_has_safe and key in b:
                total = total + b[key]
            out[key] = total
        elif key in a and key in b:
            va, vb = a[key], b[key]
            if isinstance(va, (list, tuple, np.ndarray)) and isinstance(
                vb, (list, tuple, np.ndarray)
            ):
                out[key] = list(np.asarray(va).tolist()) + list(np.asarray(vb).tolist())
            elif not isinstance(vb, (list, tuple, np.ndarray)) and va == vb:
                out[key] = va
            # differing values: dropped
        elif first:
            vb_or_a = a[key] if key in a else b[key]
            if isinstance(vb_or_a, (tuple, np.ndarray)):
                vb_or_a = np.asarray(vb_or_a).tolist()
            out[key] = vb_or_a
    return out


def stack(stacked: MapDataset, other: MapDataset) -> MapDataset:
    """Stack ``other`` (a cutout of ``stacked``'s geometry) into a new dataset.

    Replicates gammapy 1.3's ``MapDataset.stack`` for datasets from ``MapDatasetMaker``:

    - counts and background: ``stacked`` values outside its own safe mask are
      zeroed first (as gammapy's ``Datasets.stack_reduce`` does through
      ``to_masked``; a no-op when stacking into :func:`empty_dataset`), then
      ``other``'s values (non-finite ones set to 0) are added where its safe mask
      is True;
    - exposure: likewise with the safe-mask image (OR over energy);
    - safe mask: logical OR;
    - edisp kernel and PSF maps: exposure-weighted means as gammapy's
      ``IRFMap.stack``; the weights are gammapy's ``mask_safe_edisp`` (per reco
      bin, see :func:`_mask_safe_edisp`) and ``mask_safe_psf``. As in gammapy
      ``stacked``'s IRF maps are not re-masked, a pixel whose summed exposure is 0
      gets an IRF of 0, and an IRF map missing from either dataset is not stacked;
    - meta: ``OBS_IDS`` and other lists concatenated (a scalar ``OBS_ID``, as a
      single observation's dataset has, counts as ``OBS_IDS = [OBS_ID]``);
      ``LIVETIME`` and ``ONTIME`` summed, but only if ``other`` has a safe pixel
      (gammapy's rule for the exposure ``livetime``); other scalars kept where both
      agree and dropped where they differ (all of ``other``'s are taken while
      ``stacked`` has no ``OBS_IDS``);
    - GTI: ``other``'s intervals converted to ``stacked``'s time reference,
      appended, sorted and overlapping or touching intervals merged (gammapy's
      ``GTI.stack`` followed by ``GTI.union``).

    Neither input is modified.

    Raises
    ------
    DatasetError
        When the energy or rad axes differ or ``other``'s images are not aligned
        cutouts of ``stacked``'s.
    """
    _check_compatible(stacked, other)
    sky_sl = cutout_slices(stacked.geom.sky, other.geom.sky)
    sl = (slice(None), *sky_sl)
    m_other = other.mask_safe
    img_other = other.mask_safe_image

    counts = np.where(stacked.mask_safe, stacked.counts, 0.0)
    counts[sl] += _finite_or_zero(other.counts) * m_other
    background = np.where(stacked.mask_safe, stacked.background, 0.0)
    background[sl] += _finite_or_zero(other.background) * m_other
    exposure = np.where(stacked.mask_safe_image, stacked.exposure, 0.0)
    exposure[sl] += _finite_or_zero(other.exposure) * img_other
    mask_safe = stacked.mask_safe.copy()
    mask_safe[sl] |= m_other

    edisp, psf = stacked.edisp, stacked.psf
    if (stacked.edisp is not None and other.edisp is not None) or (
        stacked.psf is not None and other.psf is not None
    ):
        irf_sl = cutout_slices(stacked.geom.irf_sky, other.geom.irf_sky)
        if stacked.edisp is not None and other.edisp is not None:
            weights = _mask_safe_edisp(other)[np.newaxis]  # (1, n_e, ny, nx)
            kernel, exp = _stack_irf(
                stacked.edisp.kernel,
                stacked.edisp.exposure,
                other.edisp.kernel,
                other.edisp.exposure,
                weights,
                irf_sl,
            )
            edisp = EDispKernelMap(kernel=kernel, exposure=exp)
        if stacked.psf is not None and other.psf is not None:
            weights = _mask_safe_psf(other)[np.newaxis, np.newaxis]  # (1, 1, ny, nx)
            values, exp = _stack_irf(
                stacked.psf.psf,
                stacked.psf.exposure,
                other.psf.psf,
                other.psf.exposure,
                weights,
                irf_sl,
            )
            psf = PSFMap(psf=values, exposure=exp)

    return MapDataset(
        geom=stacked.geom,
        counts=counts,
        exposure=exposure,
        background=background,
        mask_safe=mask_safe,
        edisp=edisp,
        psf=psf,
        name=stacked.name,
        meta=_stack_meta(stacked.meta, other.meta, b_has_safe=bool(np.any(img_other))),
        gti=_stack_gti(stacked.gti, other.gti),
    )


def stack_datasets(
    datasets: Iterable[MapDataset], *, geom: DatasetGeom, name: str = "stacked"
) -> MapDataset:
    """Stack datasets one at a time into ``empty_dataset(geom)``.

    ``datasets`` may be a generator (e.g. reading files lazily): only the running
    stack and one dataset are held in memory. Equivalent to gammapy's
    ``MapDataset.create`` followed by ``stacked.stack(dataset)`` for each dataset.
    """
    stacked = empty_dataset(geom, name=name)
    for dataset in datasets:
        stacked = stack(stacked, dataset)
    return stacked
