"""Spherical geometry and the time reference of the simulated data store.

Degrees in, degrees out, vectorised. Pointing geometry uses a linear GMST formula and
treats UTC as TT, good to a fraction of a degree in ALT/AZ, which is all a simulation
needs; no IERS data is downloaded.
"""

from __future__ import annotations

import numpy as np

__all__: list[str] = []

# Time reference of the H.E.S.S. DR1 files (2001-01-01T00:00:00 UTC expressed in TT).
MJDREFI = 51910
MJDREFF = 0.000742870370370241
_MJDREF = MJDREFI + MJDREFF
_SIDEREAL_DEG_PER_DAY = 360.98564736629


def _offset_by(lon, lat, pa, sep):
    """Point at angular distance ``sep`` and position angle ``pa`` (east of north)."""
    lon, lat, pa, sep = (np.radians(np.asarray(x, dtype=float)) for x in (lon, lat, pa, sep))
    sin_lat2 = np.sin(lat) * np.cos(sep) + np.cos(lat) * np.sin(sep) * np.cos(pa)
    lat2 = np.arcsin(np.clip(sin_lat2, -1.0, 1.0))
    dlon = np.arctan2(np.sin(pa) * np.sin(sep) * np.cos(lat), np.cos(sep) - np.sin(lat) * sin_lat2)
    return np.degrees(lon + dlon) % 360.0, np.degrees(lat2)


def _gmst_deg(mjd):
    """Greenwich mean sidereal time (deg) at ``mjd`` (linear formula, UTC taken as TT)."""
    return (280.46061837 + _SIDEREAL_DEG_PER_DAY * (np.asarray(mjd) - 51544.5)) % 360.0


def _parallactic_angle(hour_angle, dec, lat):
    """Parallactic angle (deg) at ``hour_angle`` of a ``dec`` seen from latitude ``lat``."""
    h, d, phi = (np.radians(np.asarray(x, dtype=float)) for x in (hour_angle, dec, lat))
    return np.degrees(np.arctan2(np.sin(h), np.tan(phi) * np.cos(d) - np.sin(d) * np.cos(h)))
