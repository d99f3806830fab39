"""OFF regions for 1D ON/OFF spectra: reflected regions and wobble positions.

The finders reproduce gammapy 1.3's ``ReflectedRegionsFinder`` and
``WobbleRegionsFinder`` (``gammapy/makers/background/reflected.py``), which work in
the pixel space of a *reference geometry*: a TAN projection centred on the
pointing, ``binsz`` per pixel and ``4 * offset + 0.3 deg`` wide. The ON circle is
converted to a pixel circle there (its centre projected, its radius divided by
the pixel scale at the centre, as the ``regions`` package does), rotated around
the pointing pixel, and each accepted rotation is converted back to a sky circle.
Excluded pixels are the reference pixels whose nearest exclusion-mask pixel is
False (pixels outside the mask count as not excluded); a candidate is rejected
if any excluded pixel centre lies strictly inside it (a point candidate: within
one pixel).

The regions themselves, their pixel circles and the counting of events in them
(`~dl3flow.maps.regions.OffRegions`) are in `dl3flow.maps.regions`.

Everything here runs on floats with wcslib (through `dl3flow.maps.geom.SkyGeom`);
astropy.coordinates is imported only for an exclusion mask in another frame.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from dl3flow.maps.geom import SkyGeom
from dl3flow.maps.regions import (
    CircleRegion,
    OffRegions,
    OffRegionsError,
    _angle_value,
    _pixel_of,
    angular_separation,
    pixel_to_sky,
    sky_to_pixel,
)

__all__ = ["ReflectedRegionsFinder", "WobbleRegionsFinder"]

log = logging.getLogger(__name__)

#: Width (deg) added to the reference geometry beyond 4 x the ON offset (gammapy).
_REFERENCE_MARGIN = 0.3


# ----------------------------------------------------------------- reference geometry


def _rotate(x: float, y: float, cx: float, cy: float, angle: float) -> tuple[float, float]:
    """``PixCoord.rotate``: counter-clockwise by ``angle`` (rad) around (cx, cy)."""
    dx, dy = x - cx, y - cy
    c, s = np.cos(angle), np.sin(angle)
    return float(cx + (c * dx + (-s) * dy)), float(cy + (s * dx + c * dy))


def reference_geom(region: CircleRegion, center: tuple[float, float], binsz: float) -> SkyGeom:
    """The finders' reference geometry (gammapy ``RegionsFinder._create_reference_geometry``)."""
    offset = float(angular_separation(region.ra, region.dec, *center))
    width = 4 * offset + _REFERENCE_MARGIN
    return SkyGeom.create(center=center, width=width, binsz=binsz, frame="icrs", proj="TAN")


# ------------------------------------------------------------------------- exclusion


def _exclusion_arrays(exclusion) -> tuple[np.ndarray, SkyGeom] | None:
    if exclusion is None:
        return None
    if isinstance(exclusion, tuple):
        mask, geom = exclusion
    else:
        mask, geom = exclusion.mask, exclusion.geom
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim == 3 and mask.shape[0] == 1:
        mask = mask[0]
    if mask.shape != tuple(geom.shape):
        raise OffRegionsError(f"exclusion mask shape {mask.shape} != its geometry {geom.shape}")
    return mask, geom


def excluded_pixels(
    reference: SkyGeom, exclusion, *, annulus: tuple[float, float, float, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of the reference pixels that the exclusion mask excludes.

    gammapy's ``interp_to_geom(reference, fill_value=True)`` of a mask: nearest
    exclusion pixel (index ``floor(pix + 0.5)``) of each reference pixel centre;
    outside the mask the pixel is not excluded.

    Parameters
    ----------
    reference : `~dl3flow.maps.geom.SkyGeom`
    exclusion : `~dl3flow.makers.exclusion.ExclusionMask`, (mask, SkyGeom) or None
        True = usable (not excluded).
    annulus : (cx, cy, distance, reach), optional
        Only pixels whose distance from (cx, cy) is within ``reach + 1`` pixels of
        ``distance`` are looked at: the only ones a rotated region can contain.
    """
    arrays = _exclusion_arrays(exclusion)
    if arrays is None:
        return np.zeros(0), np.zeros(0)
    mask, geom = arrays
    px, py = _candidate_pixels(reference, annulus)
    lon, lat = reference.pix2world(px, py)
    if geom.frame != reference.frame:
        from astropy.coordinates import SkyCoord

        c = SkyCoord(lon, lat, unit="deg", frame=reference.frame).transform_to(geom.frame)
        lon, lat = c.spherical.lon.deg, c.spherical.lat.deg
    ex, ey = geom.world2pix(lon, lat)
    with np.errstate(invalid="ignore"):
        ix, iy = np.floor(ex + 0.5), np.floor(ey + 0.5)
        inside = np.isfinite(ix) & np.isfinite(iy)
        inside &= (ix >= 0) & (ix < mask.shape[1]) & (iy >= 0) & (iy < mask.shape[0])
    excluded = np.zeros(ix.shape, dtype=bool)
    excluded[inside] = ~mask[iy[inside].astype(int), ix[inside].astype(int)]
    return px[excluded], py[excluded]


def _candidate_pixels(reference: SkyGeom, annulus) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of all reference pixels, or of those in the annulus (see `excluded_pixels`)."""
    ny, nx = reference.shape
    if annulus is None:
        py, px = np.mgrid[0:ny, 0:nx]
        return px.ravel().astype(float), py.ravel().astype(float)
    cx, cy, distance, reach = annulus
    outer = distance + reach + 1
    x_lo, x_hi = max(0, int(np.floor(cx - outer))), min(nx, int(np.ceil(cx + outer)) + 1)
    y_lo, y_hi = max(0, int(np.floor(cy - outer))), min(ny, int(np.ceil(cy + outer)) + 1)
    xs = np.arange(x_lo, x_hi, dtype=float)[None, :]
    ys = np.arange(y_lo, y_hi, dtype=float)[:, None]
    near = np.abs(np.hypot(xs - cx, ys - cy) - distance) <= reach + 1
    iy, ix = np.nonzero(near)
    return (ix + x_lo).astype(float), (iy + y_lo).astype(float)


def _hits(x: float, y: float, r: float, ex: np.ndarray, ey: np.ndarray) -> bool:
    """True if any excluded pixel centre lies strictly inside the pixel circle."""
    if ex.size == 0:
        return False
    return bool(np.any(np.hypot(ex - x, ey - y) < r))


# -------------------------------------------------------------------------- finders


def _check_center(region: CircleRegion, center) -> tuple[float, float]:
    if not isinstance(region, CircleRegion):
        raise OffRegionsError(f"region must be a CircleRegion, got {type(region).__name__}")
    lon, lat = (float(v) for v in center)
    return lon, lat


@dataclass(frozen=True)
class ReflectedRegionsFinder:
    """Reflected regions (gammapy ``ReflectedRegionsFinder``), same parameters and defaults.

    Parameters
    ----------
    angle_increment : float or Quantity
        Rotation (rad) applied when a candidate touches an excluded pixel.
    min_distance : float or Quantity
        Minimum rotation (rad) between two consecutive OFF regions.
    min_distance_input : float or Quantity
        Minimum rotation (rad) between the ON region and the first OFF region.
    max_region_number : int
        Maximum number of OFF regions.
    binsz : float or Quantity
        Pixel size (deg) of the reference geometry.
    """

    angle_increment: float = 0.1
    min_distance: float = 0.0
    min_distance_input: float = 0.1
    max_region_number: int = 10000
    binsz: float = 0.01

    def __post_init__(self):
        for name in ("angle_increment", "min_distance", "min_distance_input"):
            object.__setattr__(self, name, _angle_value(getattr(self, name), "rad", name))
        object.__setattr__(self, "binsz", _angle_value(self.binsz, "deg", "binsz"))
        if not self.angle_increment > 0:
            raise OffRegionsError(f"angle_increment must be positive, got {self.angle_increment}")
        if not self.binsz > 0:
            raise OffRegionsError(f"binsz must be positive, got {self.binsz} deg")
        if int(self.max_region_number) != self.max_region_number or self.max_region_number < 1:
            raise OffRegionsError(
                f"max_region_number must be a positive integer, got {self.max_region_number!r}"
            )

    def run(self, region: CircleRegion, *, center, exclusion=None) -> OffRegions:
        """Reflected regions of ``region`` around ``center`` (the pointing).

        Parameters
        ----------
        region : CircleRegion
            The ON circle.
        center : tuple of float
            Rotation centre (RA, Dec) in deg, the pointing.
        exclusion : `~dl3flow.makers.exclusion.ExclusionMask` or (mask, SkyGeom), optional
            True = usable; regions touching an excluded pixel are skipped.

        Returns
        -------
        OffRegions
            Possibly empty (e.g. the pointing inside the ON region).

        Raises
        ------
        OffRegionsError
            For a point ON region (use `WobbleRegionsFinder`).
        """
        center = _check_center(region, center)
        if region.is_point:
            raise OffRegionsError(
                "ReflectedRegionsFinder needs an ON circle; use the wobble finder"
            )
        geom = reference_geom(region, center, self.binsz)
        cx, cy = _pixel_of(geom, *center)
        x0, y0, r0 = sky_to_pixel(geom, region)
        annulus = (cx, cy, float(np.hypot(x0 - cx, y0 - cy)), r0)
        ex, ey = excluded_pixels(geom, exclusion, annulus=annulus)
        size = _angular_size(geom, x0, y0, r0, cx, cy)
        if size is None:
            return OffRegions((), geom)
        angle_min = size + self.min_distance
        angle_max = 2 * math.pi - angle_min - self.min_distance_input
        angle = angle_min + self.min_distance_input
        found = []
        while angle < angle_max:
            x, y = _rotate(x0, y0, cx, cy, angle)
            if not _hits(x, y, r0, ex, ey):
                found.append(pixel_to_sky(geom, x, y, r0, point=False))
                if len(found) >= self.max_region_number:
                    break
                angle += angle_min
            else:
                angle += self.angle_increment
        return OffRegions(tuple(found), geom)


def _angular_size(geom: SkyGeom, x0, y0, r0, cx, cy) -> float | None:
    """Largest angle subtended at (cx, cy) by the pixel centres inside the circle.

    gammapy ``ReflectedRegionsFinder._region_angular_size``; None if no pixel centre
    is inside (gammapy fails there).
    """
    ny, nx = geom.shape
    x_lo, x_hi = max(0, int(np.floor(x0 - r0)) - 1), min(nx, int(np.ceil(x0 + r0)) + 2)
    y_lo, y_hi = max(0, int(np.floor(y0 - r0)) - 1), min(ny, int(np.ceil(y0 + r0)) + 2)
    py, px = np.mgrid[y_lo:y_hi, x_lo:x_hi].astype(float)
    inside = np.hypot(px - x0, py - y0) < r0
    if not inside.any():
        return None
    angles = np.arctan2(cx - px[inside], cy - py[inside])
    size = float(np.max(angles) - np.min(angles))
    if size > math.pi:
        # astropy ``Angle.wrap_at(0 rad)``: into [-2 pi, 0)
        wrapped = np.where(angles >= 0, angles - 2 * math.pi, angles)
        size = float(np.max(wrapped) - np.min(wrapped))
    return size


@dataclass(frozen=True)
class WobbleRegionsFinder:
    """OFF regions at the wobble positions (gammapy ``WobbleRegionsFinder``).

    ``n_off_regions`` rotations of the ON region around the pointing by multiples
    of ``360 deg / (n_off_regions + 1)``; rotations touching the exclusion mask are
    dropped, and if two OFF circles overlap (share a reference pixel centre) no
    region is returned, as in gammapy.

    Parameters
    ----------
    n_off_regions : int
        Number of OFF positions.
    binsz : float or Quantity
        Pixel size (deg) of the reference geometry.
    """

    n_off_regions: int
    binsz: float = 0.01

    def __post_init__(self):
        n = self.n_off_regions
        if isinstance(n, bool) or int(n) != n or n < 1:
            raise OffRegionsError(f"n_off_regions must be a positive integer, got {n!r}")
        object.__setattr__(self, "n_off_regions", int(n))
        object.__setattr__(self, "binsz", _angle_value(self.binsz, "deg", "binsz"))
        if not self.binsz > 0:
            raise OffRegionsError(f"binsz must be positive, got {self.binsz} deg")

    def run(self, region: CircleRegion, *, center, exclusion=None) -> OffRegions:
        """Wobble OFF regions of ``region`` (circle or point) around ``center``.

        Parameters and result as `ReflectedRegionsFinder.run`; a point candidate is
        dropped when an excluded pixel centre is less than one pixel away.
        """
        center = _check_center(region, center)
        geom = reference_geom(region, center, self.binsz)
        cx, cy = _pixel_of(geom, *center)
        x0, y0, r0 = sky_to_pixel(geom, region)
        reach = 1.0 if region.is_point else r0
        annulus = (cx, cy, float(np.hypot(x0 - cx, y0 - cy)), reach)
        ex, ey = excluded_pixels(geom, exclusion, annulus=annulus)
        increment = 2 * math.pi / (self.n_off_regions + 1)
        kept = []
        for i in range(1, self.n_off_regions + 1):
            x, y = _rotate(x0, y0, cx, cy, i * increment)
            if not _hits(x, y, reach, ex, ey):
                kept.append((x, y))
        if not region.is_point and _overlapping(geom, kept, r0):
            log.warning("Found overlapping off regions, returning no regions")
            return OffRegions((), geom)
        found = tuple(pixel_to_sky(geom, x, y, r0, point=region.is_point) for x, y in kept)
        return OffRegions(found, geom)


def _overlapping(geom: SkyGeom, centres, r: float) -> bool:
    """True if two pixel circles share a pixel centre of the image (``to_mask`` overlap)."""
    ny, nx = geom.shape
    for (xa, ya), (xb, yb) in combinations(centres, 2):
        x_lo = max(0, int(np.floor(max(xa, xb) - r)) - 1)
        x_hi = min(nx, int(np.ceil(min(xa, xb) + r)) + 2)
        y_lo = max(0, int(np.floor(max(ya, yb) - r)) - 1)
        y_hi = min(ny, int(np.ceil(min(ya, yb) + r)) + 2)
        if x_lo >= x_hi or y_lo >= y_hi:
            continue
        py, px = np.mgrid[y_lo:y_hi, x_lo:x_hi].astype(float)
        both = ((px - xa) ** 2 + (py - ya) ** 2 < r * r) & ((px - xb) ** 2 + (py - yb) ** 2 < r * r)
        if both.any():
            return True
    return False
