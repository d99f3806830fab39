"""Sky circles and their pixel circles: the ON and OFF regions of 1D spectra.

A `CircleRegion` is an ICRS circle (or a point); `OffRegions` holds the OFF regions
of one observation with the *reference geometry* they were found in
(`dl3flow.makers.reflected`). A sky circle is converted to a pixel circle of a
geometry as the ``regions`` package does (`sky_to_pixel`: its centre projected, its
radius divided by the pixel scale at the centre) and back (`pixel_to_sky`).

Counting events in the OFF regions (`OffRegions.contains`) uses the same pixel
circles as gammapy's ``RegionGeom.contains``: an event is in the union of the
regions if it is strictly inside at least one of them, so an event in two
overlapping regions counts once.

Everything here runs on floats with wcslib (through `dl3flow.maps.geom.SkyGeom`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import astropy.units as u
import numpy as np

from dl3flow.maps.geom import SkyGeom

__all__ = [
    "CircleRegion",
    "OffRegions",
    "OffRegionsError",
    "angular_separation",
    "pixel_to_sky",
    "sky_to_pixel",
]

#: arcsec per radian, as astropy converts an Angle in rad to arcsec.
_ARCSEC_PER_RAD = (1 * u.rad).to_value(u.arcsec)


class OffRegionsError(ValueError):
    """Invalid finder options or regions; the message says which."""


def angular_separation(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Angular distance (deg) with astropy's Vincenty formula (``SkyCoord.separation``).

    All arguments in deg; they broadcast.
    """
    lon1, lat1, lon2, lat2 = (
        np.deg2rad(np.asarray(v, dtype=float)) for v in (lon1, lat1, lon2, lat2)
    )
    sdlon, cdlon = np.sin(lon2 - lon1), np.cos(lon2 - lon1)
    slat1, slat2 = np.sin(lat1), np.sin(lat2)
    clat1, clat2 = np.cos(lat1), np.cos(lat2)
    num1 = clat2 * sdlon
    num2 = clat1 * slat2 - slat1 * clat2 * cdlon
    denominator = slat1 * slat2 + clat1 * clat2 * cdlon
    return np.rad2deg(np.arctan2(np.hypot(num1, num2), denominator))


def _angle_value(value, unit: str, name: str) -> float:
    """``value`` (a number in ``unit`` or a Quantity) as a float in ``unit``."""
    try:
        return float(u.Quantity(value, unit).to_value(unit))
    except (TypeError, ValueError, u.UnitsError) as exc:
        raise OffRegionsError(f"{name}: expected an angle, got {value!r}") from exc


@dataclass(frozen=True)
class CircleRegion:
    """A circle on the sky (ICRS), or a point when ``radius`` is None.

    Parameters
    ----------
    ra, dec : float
        Centre in deg (ICRS).
    radius : float or None
        Radius in deg; None for a point (the ON point of an energy-dependent
        RAD_MAX analysis, whose radius is the cut per energy bin).
    """

    ra: float
    dec: float
    radius: float | None = None

    def __post_init__(self):
        for name in ("ra", "dec"):
            object.__setattr__(self, name, _angle_value(getattr(self, name), "deg", name))
        if not -90 <= self.dec <= 90:
            raise OffRegionsError(
                f"region centre: dec must be within [-90, 90] deg, got {self.dec}"
            )
        if self.radius is not None:
            radius = _angle_value(self.radius, "deg", "radius")
            if not radius > 0:
                raise OffRegionsError(f"region radius must be positive, got {radius} deg")
            object.__setattr__(self, "radius", radius)

    @property
    def is_point(self) -> bool:
        """True for a point (no radius)."""
        return self.radius is None

    def to_ds9(self) -> str:
        """The region as a ds9 string (``icrs;circle(...)`` or ``icrs;point(...)``)."""
        if self.is_point:
            return f"icrs;point({self.ra:.6f},{self.dec:.6f})"
        return f"icrs;circle({self.ra:.6f},{self.dec:.6f},{self.radius:.6f})"


# ------------------------------------------------------------------ pixel <-> sky circles


def _pixel_of(geom: SkyGeom, lon: float, lat: float) -> tuple[float, float]:
    """Pixel (x, y) of one sky position (deg) in ``geom``."""
    x, y = geom.world2pix(np.array([lon]), np.array([lat]))
    return float(x[0]), float(y[0])


def _pixel_scale(geom: SkyGeom, x: float, y: float) -> float:
    """arcsec per pixel at pixel (x, y): ``regions``' ``wcs_pixel_scale_angle``.

    Geometric mean of the angular sizes of one-pixel steps in x and in y.
    """
    lon, lat = geom.pix2world(np.array([x, x + 1, x]), np.array([y, y, y + 1]))
    sep = angular_separation(lon[0], lat[0], lon[1:], lat[1:])
    cdelt = np.deg2rad(sep) * _ARCSEC_PER_RAD
    return float(np.sqrt(cdelt[0] * cdelt[1]))


def sky_to_pixel(geom: SkyGeom, region: CircleRegion) -> tuple[float, float, float]:
    """Pixel circle (x, y, r) of a sky circle (``CircleSkyRegion.to_pixel``); r = 0 for points."""
    x, y = _pixel_of(geom, region.ra, region.dec)
    if region.is_point:
        return x, y, 0.0
    scale = _pixel_scale(geom, x, y)
    return x, y, region.radius * 3600.0 * (1.0 / scale)


def pixel_to_sky(geom: SkyGeom, x: float, y: float, r: float, point: bool) -> CircleRegion:
    """Sky circle of a pixel circle (``CirclePixelRegion.to_sky``)."""
    lon, lat = (float(v[0]) for v in geom.pix2world(np.array([x]), np.array([y])))
    if point:
        return CircleRegion(lon, lat)
    # regions re-projects the centre before measuring the scale there
    xc, yc = _pixel_of(geom, lon, lat)
    radius_arcsec = r * _pixel_scale(geom, xc, yc)
    return CircleRegion(lon, lat, radius_arcsec / 3600.0)


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, eq=False)
class OffRegions:
    """The OFF regions of one observation and their pixel frame.

    Parameters
    ----------
    regions : tuple of CircleRegion
        Sky regions (points for an ON point).
    geom : `~dl3flow.maps.geom.SkyGeom`
        Reference geometry in which the regions were found and are evaluated.
    """

    regions: tuple[CircleRegion, ...]
    geom: SkyGeom
    pixels: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "regions", tuple(self.regions))
        pix = [sky_to_pixel(self.geom, r) for r in self.regions]
        pixels = np.array(pix, dtype=float).reshape(-1, 3)
        pixels.setflags(write=False)
        object.__setattr__(self, "pixels", pixels)

    def __len__(self) -> int:
        return len(self.regions)

    def contains(self, ra, dec) -> np.ndarray:
        """True for positions strictly inside at least one OFF circle (their union).

        Parameters
        ----------
        ra, dec : array_like
            ICRS positions in deg.

        Raises
        ------
        OffRegionsError
            For point regions (use the RAD_MAX cut per event instead).
        """
        if any(r.is_point for r in self.regions):
            raise OffRegionsError("OFF points have no extent: select events with RAD_MAX")
        ra, dec = np.asarray(ra, dtype=float), np.asarray(dec, dtype=float)
        inside = np.zeros(ra.shape, dtype=bool)
        if not self.regions:
            return inside
        px, py = self.geom.world2pix(ra, dec)
        for x, y, r in self.pixels:
            with np.errstate(invalid="ignore"):
                inside |= np.hypot(px - x, py - y) < r
        return inside
