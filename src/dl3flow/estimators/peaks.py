"""A catalog of local maxima in an image (gammapy's ``find_peaks``).

Semantics of gammapy 1.3's ``gammapy.estimators.utils.find_peaks``: non-finite
pixels are replaced by the image minimum; a pixel is a peak if it equals the
maximum of the ``(2 min_distance + 1)``-pixel square around it (zero outside the
image, scipy's ``maximum_filter(mode="constant")``) and exceeds ``threshold``
strictly; a constant image has no peaks; peaks are sorted by decreasing value.
An angular ``min_distance`` is converted to pixels as
``round(mean(min_distance / pixel size))``.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table
from scipy.ndimage import maximum_filter

from dl3flow.maps.geom import SkyGeom

__all__ = ["PeaksError", "find_peaks", "write_peaks", "PEAK_COLUMNS"]

#: Columns of the peak table, in order.
PEAK_COLUMNS = ("name", "value", "x", "y", "ra", "dec", "glon", "glat")


class PeaksError(ValueError):
    """Invalid input to the peak finder."""


def _min_distance_pixels(min_distance, sky: SkyGeom) -> int:
    if isinstance(min_distance, (str, u.Quantity)):
        try:
            angle = u.Quantity(min_distance).to_value("deg")
        except (u.UnitConversionError, TypeError, ValueError) as exc:
            raise PeaksError(
                f"min_distance: expected pixels or an angle, got {min_distance!r}"
            ) from exc
        pixels = float(np.round(np.mean(angle / np.asarray(sky.binsz))))
    else:
        pixels = float(min_distance)
    if not np.isfinite(pixels) or pixels < 0 or pixels != int(pixels):
        raise PeaksError(
            f"min_distance must be a non-negative number of pixels, got {min_distance!r}"
        )
    return int(pixels)


def _empty_table() -> Table:
    table = Table(
        [
            np.zeros(0, dtype="U16"),
            np.zeros(0),
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=np.int64),
            np.zeros(0) * u.deg,
            np.zeros(0) * u.deg,
            np.zeros(0) * u.deg,
            np.zeros(0) * u.deg,
        ],
        names=PEAK_COLUMNS,
    )
    return table


def find_peaks(image, sky: SkyGeom, *, threshold, min_distance, name_prefix: str = "peak"):
    """Local maxima of ``image`` above ``threshold``.

    Parameters
    ----------
    image : array_like
        2D image ``(ny, nx)`` (e.g. a significance map; NaN allowed).
    sky : `~dl3flow.maps.geom.SkyGeom`
        Its geometry.
    threshold : float or array_like
        Peaks must exceed it (a scalar or a ``(ny, nx)`` array).
    min_distance : int, str or Quantity
        Half-size of the comparison square: pixels, or an angle ("0.25 deg"); the
        analysis default (``maps.peaks.min_distance``) is 0.2 deg.
    name_prefix : str
        Peaks are named ``{name_prefix}_{rank}`` (rank 1 = highest).

    Returns
    -------
    table : `~astropy.table.Table`
        Columns ``name``, ``value``, ``x``, ``y`` (0-based pixel), ``ra``, ``dec``
        (ICRS deg) and ``glon``, ``glat`` (deg), sorted by decreasing value; empty
        (same columns) without peaks. ``meta`` records threshold and min_distance.

    Raises
    ------
    PeaksError
        If the image is not 2D with the geometry's shape, the threshold shape does not
        match, or min_distance is invalid.
    """
    data = np.array(image, dtype=np.float64)
    if data.shape != tuple(sky.shape):
        raise PeaksError(f"image has shape {data.shape}, the geometry {tuple(sky.shape)}")
    threshold_arr = np.asarray(threshold, dtype=np.float64)
    if threshold_arr.ndim not in (0, 2) or (
        threshold_arr.ndim == 2 and threshold_arr.shape != data.shape
    ):
        raise PeaksError(
            f"threshold must be a scalar or a {data.shape} array, got {threshold_arr.shape}"
        )
    pixels = _min_distance_pixels(min_distance, sky)
    meta = {
        "threshold": float(threshold_arr) if threshold_arr.ndim == 0 else "per pixel",
        "min_distance_pix": pixels,
    }
    finite = np.isfinite(data)
    table = _empty_table()
    table.meta.update(meta)
    if not finite.any():
        return table
    data[~finite] = np.nanmin(data)
    if np.all(data == data.flat[0]):
        return table
    data_max = maximum_filter(data, size=2 * pixels + 1, mode="constant")
    y, x = ((data == data_max) & (data > threshold_arr)).nonzero()
    if y.size == 0:
        return table
    value = data[y, x]
    order = np.argsort(value, kind="stable")[::-1]
    y, x, value = y[order], x[order], value[order]
    coord = SkyCoord.from_pixel(x, y, wcs=sky.wcs)
    icrs, gal = coord.icrs, coord.galactic
    table = Table(
        [
            [f"{name_prefix}_{i + 1}" for i in range(value.size)],
            value,
            x.astype(np.int64),
            y.astype(np.int64),
            icrs.ra.deg * u.deg,
            icrs.dec.deg * u.deg,
            gal.l.deg * u.deg,
            gal.b.deg * u.deg,
        ],
        names=PEAK_COLUMNS,
        meta=meta,
    )
    for col in ("ra", "dec", "glon", "glat"):
        table[col].format = ".5f"
    table["value"].format = ".5g"
    return table


def write_peaks(table: Table, path, *, overwrite: bool = False):
    """Write a peak table atomically (ECSV for ``.ecsv``)."""
    from dl3flow.io.atomic import write_table

    return write_table(table, path, overwrite=overwrite)
