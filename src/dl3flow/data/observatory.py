"""Where an observation was taken: the observatory named by its headers.

:data:`OBSERVATORY_LOCATIONS` holds the sites used when a header has no
GEOLON/GEOLAT/ALTITUDE keywords (gammapy's ``observatory_locations``, plus LST-1).
It is a read-only mapping of `~astropy.coordinates.EarthLocation`, made on first access
(module ``__getattr__``), so that importing this module needs no astropy.coordinates.
"""

from __future__ import annotations

import re
import types
from collections.abc import Mapping

import astropy.units as u

from dl3flow.data.index import _is_missing

__all__ = [
    "OBSERVATORY_LOCATIONS",  # noqa: F822 - made on first access (module __getattr__)
]

_OBSERVATORY_SITES = {
    # gammapy.data.observatory_locations (gammapy 1.3): EarthLocation(lon, lat, height)
    "HESS": ("16d30m00.8s", "-23d16m18.4s", 1835 * u.m),
    "CTA_SOUTH": ("-70d18m58.84s", "-24d41m0.34s", 2150 * u.m),
    "CTA_NORTH": ("-17d53m31.218s", "28d45m43.7904s", 2147 * u.m),
    "MAGIC": ("-17d53m24s", "28d45m43s", 2200 * u.m),
    "VERITAS": ("-110d57m07.77s", "31d40m30.21s", 1268 * u.m),
    # not in gammapy: LST-1 elevation axis, as lstchain's LST1_LOCATION
    "LST": (-17.89149701 * u.deg, 28.76152611 * u.deg, (2184 + 15.885) * u.m),
}


def _observatory_locations() -> Mapping:
    """:data:`OBSERVATORY_LOCATIONS`, made on first use (EarthLocation: astropy.coordinates)."""
    locations = globals().get("OBSERVATORY_LOCATIONS")
    if locations is None:
        from astropy.coordinates import EarthLocation

        locations = types.MappingProxyType(
            {
                name: EarthLocation(lon=lon, lat=lat, height=height)
                for name, (lon, lat, height) in _OBSERVATORY_SITES.items()
            }
        )
        globals()["OBSERVATORY_LOCATIONS"] = locations
    return locations


def __getattr__(name: str):
    # OBSERVATORY_LOCATIONS: "Observatory locations used when a header has no
    # GEOLON/GEOLAT/ALTITUDE keywords", a read-only mapping of EarthLocations, made
    # on first access so that importing this module needs no astropy.coordinates.
    if name == "OBSERVATORY_LOCATIONS":
        return _observatory_locations()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_TELESCOP_ALIASES = {
    "HESS": "HESS",
    "CTASOUTH": "CTA_SOUTH",
    "CTAS": "CTA_SOUTH",
    "CTAOSOUTH": "CTA_SOUTH",
    "CTAOS": "CTA_SOUTH",
    "CTANORTH": "CTA_NORTH",
    "CTAN": "CTA_NORTH",
    "CTAONORTH": "CTA_NORTH",
    "CTAON": "CTA_NORTH",
    "MAGIC": "MAGIC",
    "VERITAS": "VERITAS",
    "LST": "LST",
    "LST1": "LST",
    "LSTN01": "LST",
}


def _header_location(header: Mapping):
    """EarthLocation from GEOLON/GEOLAT/ALTITUDE (or GEOALT) of a header, else None."""
    from astropy.coordinates import EarthLocation

    lon, lat = header.get("GEOLON"), header.get("GEOLAT")
    height = header.get("GEOALT", header.get("ALTITUDE"))
    if any(_is_missing(value) for value in (lon, lat, height)):
        return None
    try:
        return EarthLocation(
            lon=float(lon) * u.deg, lat=float(lat) * u.deg, height=float(height) * u.m
        )
    except (TypeError, ValueError):
        return None


def _telescope_location(headers):
    """The known observatory named by the first TELESCOP of ``headers`` that has one."""
    for telescope in (header.get("TELESCOP") for header in headers):
        if _is_missing(telescope):
            continue
        key = re.sub(r"[^A-Z0-9]", "", str(telescope).upper())
        if key in _TELESCOP_ALIASES:
            return _observatory_locations()[_TELESCOP_ALIASES[key]]
    return None


def _location(headers):
    """Observatory location from the first of ``headers`` with GEOLON/GEOLAT/ALTITUDE,
    else the known observatory named by TELESCOP, else None."""
    for header in headers:
        location = _header_location(header)
        if location is not None:
            return location
    return _telescope_location(headers)
