"""The ``geom`` section of an analysis: its map geometry, and ``center: auto``.

:func:`parse_geom` makes the analysis' `~dl3flow.maps.geom.DatasetGeom` (refusing one
whose analysis-wide jobs would not fit in this machine's memory); for ``center: auto``
it is centred on the frame's origin until the centre is chosen from the selected
pointings (:class:`AutoCenterConfig`, :func:`place_geom`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import astropy.units as u
import numpy as np

from dl3flow.config.options import AUTO_CENTER
from dl3flow.config.resources import geometry_mem_mb, machine_mem_mb, n_pixels
from dl3flow.config.values import (
    ConfigError,
    _energy_axis,
    _frame,
    _mapping,
    _no_unknown_keys,
    _position,
    _positive,
    _skycoord_of,
)
from dl3flow.maps.coords import wrap_longitude
from dl3flow.maps.geom import PROJECTIONS, DatasetGeom, GeomError, SkyGeom

if TYPE_CHECKING:
    from astropy.coordinates import SkyCoord

__all__ = [
    "AutoCenterConfig",
    "parse_geom",
    "is_auto_center",
    "place_geom",
    "parse_auto_center",
]

_GEOM_REQUIRED = ("center", "width", "binsz")


@dataclass(frozen=True)
class AutoCenterConfig:
    """``geom.center: auto``: the spherical mean of the selected pointings.

    Attributes
    ----------
    max_separation : Quantity
        Pointings farther than this from the running mean are left out of it, one
        at a time (``dl3flow.data.selection.auto_center``); ``geom.center_max_separation``,
        by default half the map width plus ``offset_max`` (such a pointing's cutout
        cannot reach the map).
    center : SkyCoord or None
        The chosen centre, once known (:meth:`dl3flow.config.model.AnalysisConfig.with_center`).
    """

    max_separation: u.Quantity
    center: SkyCoord | None = None


def _geom(value, path: str) -> DatasetGeom:
    """The geometry; centred on the frame's origin for ``center: auto`` (see _auto_center)."""
    value = _mapping(value, path)
    allowed = (
        *_GEOM_REQUIRED,
        "frame",
        "proj",
        "binsz_irf",
        "energy",
        "energy_true",
        "center_max_separation",
    )
    _no_unknown_keys(value, allowed, path)
    for key in _GEOM_REQUIRED:
        if value.get(key) is None:
            raise ConfigError(f"{path}: missing key '{key}'")
    frame = _frame(value["frame"], f"{path}.frame")
    proj = value["proj"]
    if proj not in PROJECTIONS:
        raise ConfigError(f"{path}.proj: expected one of {', '.join(PROJECTIONS)}, got {proj!r}")
    if value["center"] == AUTO_CENTER:
        center = (0.0, 0.0)
    else:
        center = _geom_center(value["center"], f"{path}.center", frame=frame)
    width = value["width"]
    if isinstance(width, list | tuple):
        if len(width) != 2:
            raise ConfigError(f"{path}.width: expected one angle or two (lon, lat), got {width!r}")
        width = [_positive(w, kind="angle", path=f"{path}.width[{i}]") for i, w in enumerate(width)]
        width = u.Quantity(width)
    else:
        width = _positive(width, kind="angle", path=f"{path}.width")
    binsz = _positive(value["binsz"], kind="angle", path=f"{path}.binsz")
    binsz_irf = _positive(value["binsz_irf"], kind="angle", path=f"{path}.binsz_irf")
    if u.Quantity(width).min() < binsz:
        raise ConfigError(f"{path}.width: {value['width']!r} is narrower than one pixel ({binsz})")
    energy = _energy_axis(value["energy"], f"{path}.energy", name="energy")
    energy_true = _energy_axis(value["energy_true"], f"{path}.energy_true", name="energy_true")
    _check_memory(value, path, width=width, binsz=binsz, n_energy=energy.nbin + energy_true.nbin)
    try:
        sky = SkyGeom.create(center=center, width=width, binsz=binsz, frame=frame, proj=proj)
        return DatasetGeom.create(
            sky=sky, energy=energy, energy_true=energy_true, binsz_irf=binsz_irf
        )
    except GeomError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _check_memory(value, path: str, *, width, binsz, n_energy: int) -> None:
    """Refuse a geometry whose analysis-wide jobs would need more than this machine has."""
    widths = [float(w) for w in np.atleast_1d(u.Quantity(width).to_value(u.deg))]
    n_pix = n_pixels(tuple(widths) if len(widths) == 2 else widths[0], float(binsz.value))
    needed = geometry_mem_mb(n_pixels=n_pix, n_energy=n_energy)
    available = machine_mem_mb()
    if available is not None and needed > available:
        raise ConfigError(
            f"{path}.width / {path}.binsz: {value['width']!r} at {value['binsz']!r} is "
            f"{n_pix:,} pixels x {n_energy} energy planes, estimated {needed:,} MB for the "
            f"stacking and map jobs (dl3flow.config.resources), more than this machine's "
            f"{available:,} MB: use a larger geom.binsz or a smaller geom.width"
        )


def _geom_center(value, path: str, *, frame: str):
    """The map centre for `SkyGeom.create`: (lon, lat) in deg in ``frame`` if the config
    gives it in that frame and in deg (what ``SkyCoord(...).transform_to(frame)`` gives:
    longitude wrapped), else a SkyCoord."""
    lon, lat, center_frame = _position(value, path, default_frame=frame)
    if center_frame == frame and lon.unit == u.deg and lat.unit == u.deg:
        return wrap_longitude(float(lon.value)), float(lat.value)
    return _skycoord_of(lon, lat, center_frame)


def _auto_center(value, path: str, *, geom: DatasetGeom, offset_max) -> AutoCenterConfig | None:
    """``geom.center: auto``: the limit on the pointings' distance from their mean."""
    limit = value.get("center_max_separation")
    if value["center"] != AUTO_CENTER:
        if limit is not None:
            raise ConfigError(
                f"{path}.center_max_separation: only used with center: auto "
                f"(center is {value['center']!r})"
            )
        return None
    if limit is None:
        limit = 0.5 * max(geom.sky.width) * u.deg + offset_max
    else:
        limit = _positive(limit, kind="angle", path=f"{path}.center_max_separation")
    return AutoCenterConfig(max_separation=limit.to(u.deg))


# Parsers of one section each (a value of
# :func:`dl3flow.config.analysis.analysis_sections`), for a workflow job that is given
# only the sections it uses: the same objects and the same messages (keys
# ``analyses.<name>.<section>...``) as :func:`dl3flow.config.analysis.analysis_config`,
# which calls them.


def parse_geom(name: str, value) -> DatasetGeom:
    """``analyses.<name>.geom``: the geometry (for ``center: auto`` on the frame's origin,
    to be placed with :func:`place_geom`; see :func:`is_auto_center`)."""
    return _geom(value, f"analyses.{name}.geom")


def is_auto_center(value) -> bool:
    """Whether a ``geom`` section has ``center: auto``."""
    return isinstance(value, Mapping) and value.get("center") == AUTO_CENTER


def place_geom(layout: DatasetGeom, center: SkyCoord) -> DatasetGeom:
    """``layout`` (the geometry of a ``center: auto`` analysis) centred on ``center``."""
    sky = layout.sky
    return DatasetGeom.create(
        sky=SkyGeom.create(
            center=center, width=sky.width, binsz=sky.binsz[0], frame=sky.frame, proj=sky.projection
        ),
        energy=layout.energy,
        energy_true=layout.energy_true,
        binsz_irf=layout.irf_sky.binsz[0],
        rad_edges=layout.rad_edges,
    )


def parse_auto_center(
    name: str, geom_value, *, geom: DatasetGeom, offset_max
) -> AutoCenterConfig | None:
    """``analyses.<name>.geom``'s ``center: auto`` options (None for a fixed centre)."""
    return _auto_center(geom_value, f"analyses.{name}.geom", geom=geom, offset_max=offset_max)
