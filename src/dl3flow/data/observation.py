"""One observation of a GADF data store: its events, GTIs, IRFs and metadata.

An :class:`Observation` (from `dl3flow.data.store.DataStore.observation`) reads a data
file the first time one of its HDUs is needed; each distinct file is read and
decompressed once per observation, fully into memory, and never modified. An IRF is
read by its HDU-index ``HDU_CLASS`` (`dl3flow.irf.io.read_irf`), the HDU's own
``HDUCLAS*`` keywords only being checked against it; the accepted classes per HDU type
are :data:`IRF_HDU_CLASSES`.

A per-observation workflow job imports this module, so it imports only numpy,
astropy.units and astropy.io.fits: astropy.coordinates and astropy.time are imported
by the properties that return their objects (:attr:`Observation.pointing`,
:attr:`~Observation.tstart`, :attr:`~Observation.location`, ...); the reduction uses
:attr:`Observation.pointing_radec` (floats).
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import astropy.units as u
import numpy as np
from astropy.io import fits

from dl3flow.data.errors import (
    CorruptFileError,
    InvalidHDUError,
    MissingFileError,
    MissingHDUError,
    UnsupportedHDUClassError,
)
from dl3flow.data.gti import GTITable
from dl3flow.data.index import HDULocation, _header_dict, _is_missing, _open_fits
from dl3flow.data.observatory import _location
from dl3flow.io.header import HeaderMapping
from dl3flow.maps.coords import wrap_longitude

if TYPE_CHECKING:
    from dl3flow.data.store import DataStore

__all__ = ["EventList", "Observation"]

IRF_HDU_CLASSES = {
    "aeff": ("aeff_2d",),
    "edisp": ("edisp_2d",),
    "psf": ("psf_table", "psf_3gauss", "psf_king"),
    "bkg": ("bkg_2d", "bkg_3d"),
    "rad_max": ("rad_max_2d",),
}
"""HDU_CLASS values accepted for each IRF HDU_TYPE (GADF / gammapy ``VALID_HDU_CLASS``)."""


@dataclass(frozen=True, eq=False)
class EventList:
    """Event list of one observation.

    Attributes
    ----------
    ra, dec : numpy.ndarray
        Reconstructed ICRS coordinates in degrees (float64, read-only).
    energy : numpy.ndarray
        Reconstructed energy in TeV (float64, read-only).
    time : numpy.ndarray
        Event times in seconds since the mission reference time MJDREFI + MJDREFF
        (float64, read-only).
    header : Mapping
        Read-only mapping of the EVENTS header keywords (table structure and
        commentary cards removed).
    """

    ra: np.ndarray
    dec: np.ndarray
    energy: np.ndarray
    time: np.ndarray
    header: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        arrays = {}
        for name in ("ra", "dec", "energy", "time"):
            array = np.array(getattr(self, name), dtype=np.float64, copy=True).reshape(-1)
            array.setflags(write=False)
            arrays[name] = array
        sizes = {name: array.size for name, array in arrays.items()}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"EventList columns have different lengths: {sizes}")
        for name, array in arrays.items():
            object.__setattr__(self, name, array)
        header = self.header
        if not isinstance(header, HeaderMapping):
            header = types.MappingProxyType(dict(header))
        object.__setattr__(self, "header", header)

    def __len__(self) -> int:
        return int(self.ra.size)

    def __reduce__(self):
        return (
            type(self),
            (self.ra, self.dec, self.energy, self.time, dict(self.header)),
        )


# --------------------------------------------------------------------------------------
# Helpers of Observation
# --------------------------------------------------------------------------------------


def _unit_factor(unit_string: str, unit: u.Unit, *, name: str, source: str) -> float:
    """Factor from a column's FITS unit string to ``unit``; InvalidHDUError if none."""
    try:
        return u.Unit(unit_string, format="fits").to(unit)
    except (ValueError, u.UnitsError) as exc:
        try:
            return u.Unit(unit_string).to(unit)
        except (ValueError, u.UnitsError):
            raise InvalidHDUError(
                f"column {name} of {source} has unit {unit_string!r}, not convertible to {unit}"
            ) from exc


def _check_irf_class(location: HDULocation, hdu_type: str) -> None:
    """Raise UnsupportedHDUClassError if the HDU_CLASS is not one dl3flow reads."""
    supported = IRF_HDU_CLASSES[hdu_type]
    if location.hdu_class not in supported:
        raise UnsupportedHDUClassError(
            f"obs_id {location.obs_id}: {hdu_type} HDU {location.file}[{location.hdu_name}] "
            f"has HDU_CLASS {location.hdu_class!r}, which is not supported "
            f"(supported: {', '.join(supported)})"
        )


def _is_old_hess(header: Mapping) -> bool:
    """Whether an events header is of old H.E.S.S. data (SASH writer, HDUVERS 0.2)."""
    return (
        str(header.get("CREATOR", "")).strip() == "SASH FITS::EventListWriter"
        and str(header.get("HDUVERS", "")).strip() == "0.2"
    )


def _header_time_reference(header: Mapping, *, obs_id: int, origin: str) -> tuple | None:
    """(MJDREF as Time, TIMEUNIT) from one header, or None without MJDREF keywords."""
    from astropy.time import Time

    if "MJDREFI" in header and "MJDREFF" in header:
        mjd_int, mjd_frac = float(header["MJDREFI"]), float(header["MJDREFF"])
    elif "MJDREF" in header:
        mjd_int, mjd_frac = float(header["MJDREF"]), 0.0
    else:
        return None
    scale = str(header.get("TIMESYS", "tt")).strip().lower()
    unit = str(header.get("TIMEUNIT", "s")).strip() or "s"
    try:
        reference = Time(mjd_int, mjd_frac, format="mjd", scale=scale)
        time_unit = u.Unit(unit)
    except (ValueError, u.UnitsError) as exc:
        raise InvalidHDUError(
            f"obs_id {obs_id}: invalid TIMESYS {scale!r} or TIMEUNIT {unit!r} in {origin}"
        ) from exc
    return reference, time_unit


# --------------------------------------------------------------------------------------
# Observation
# --------------------------------------------------------------------------------------


class Observation:
    """Lazy access to the HDUs and metadata of one observation.

    Obtain it from :meth:`DataStore.observation`. Nothing is read at construction;
    each property reads what it needs on first access and caches it. Each distinct file
    is decompressed and parsed at most once per :class:`Observation`.

    Parameters
    ----------
    obs_id : int
        Observation ID (must be in both indexes of ``store``).
    store : DataStore
        The data store the observation belongs to.
    """

    def __init__(self, obs_id: int, *, store: DataStore) -> None:
        self.obs_id = store._check_obs_id(obs_id)
        self._store = store
        self._files: dict[Path, fits.HDUList] = {}

    def __repr__(self) -> str:
        return f"Observation(obs_id={self.obs_id}, base_dir={str(self._store.base_dir)!r})"

    # -- file and HDU access ----------------------------------------------------------

    def _hdulist(self, location: HDULocation) -> fits.HDUList:
        path = location.file
        if path not in self._files:
            if not path.is_file():
                raise MissingFileError(
                    f"file {path} referenced by the HDU index {self._store.hdu_index_path} "
                    f"for obs_id {self.obs_id} ({location.hdu_type}) does not exist"
                )
            self._files[path] = _open_fits(
                path, what=f"data file (obs_id {self.obs_id}, {location.hdu_type})"
            )
        return self._files[path]

    def _hdu(self, location: HDULocation):
        hdulist = self._hdulist(location)
        try:
            return hdulist[location.hdu_name]
        except KeyError:
            names = ", ".join(hdu.name for hdu in hdulist)
            raise MissingHDUError(
                f"HDU {location.hdu_name!r} ({location.hdu_type}, {location.hdu_class}) of "
                f"obs_id {self.obs_id} is not in {location.file} (HDUs: {names})"
            ) from None

    def _data(self, location: HDULocation, hdu):
        try:
            return hdu.data
        except Exception as exc:
            raise CorruptFileError(f"cannot read the data of {location.source}: {exc}") from exc

    def _required(self, hdu_type: str) -> HDULocation:
        return self._store.hdu_location(self.obs_id, hdu_type)

    def close(self) -> None:
        """Drop the in-memory copies of the files read so far (cached results are kept)."""
        for hdulist in self._files.values():
            hdulist.close()
        self._files.clear()

    # -- index and header metadata ----------------------------------------------------

    @cached_property
    def _row(self) -> dict[str, Any]:
        return self._store.obs_row(self.obs_id)

    @property
    def meta(self) -> dict[str, Any]:
        """The obs-index row as a new dict (masked values are ``None``)."""
        return dict(self._row)

    @cached_property
    def _events_location(self) -> HDULocation:
        return self._required("events")

    @cached_property
    def _events_header(self) -> dict[str, Any]:
        location = self._events_location
        return _header_dict(self._hdu(location).header)

    def _index_quantity(self, name: str, unit: u.Unit | None) -> float | None:
        """Value of obs-index column ``name`` in ``unit`` (column unit honoured)."""
        if name not in self._store._obs_index.colnames:
            return None
        value = self._row.get(name)
        if _is_missing(value):
            return None
        column_unit = self._store._obs_index.unit(name)
        if unit is not None and column_unit is not None:
            return float((value * u.Unit(column_unit)).to_value(unit))
        return float(value)

    def index_quantity(self, name: str, unit: u.Unit | None = None) -> float | None:
        """Value of obs-index column ``name`` as a float in ``unit`` (None if absent).

        The column unit is honoured; ``unit=None`` gives the value as stored. The DL3
        validation compares it with the events header (``dl3flow.data.checks``).
        """
        return self._index_quantity(name, None if unit is None else u.Unit(unit))

    def _header_or_index(self, name: str, unit: u.Unit | None = None) -> float | None:
        value = self._events_header.get(name)
        if not _is_missing(value):
            return float(value)
        return self._index_quantity(name, unit)

    # -- event data ------------------------------------------------------------------

    @cached_property
    def events(self) -> EventList:
        """The event list (RA/Dec in deg, energy in TeV, time in s since MJDREF)."""
        location = self._events_location
        hdu = self._hdu(location)
        data = self._data(location, hdu)
        columns = {}
        for attribute, column, unit in (
            ("ra", "RA", u.deg),
            ("dec", "DEC", u.deg),
            ("energy", "ENERGY", u.TeV),
            ("time", "TIME", u.s),
        ):
            columns[attribute] = self._column(location, hdu, data, column, unit)
        return EventList(**columns, header=_header_dict(hdu.header))

    def _column(self, location, hdu, data, name: str, unit: u.Unit) -> np.ndarray:
        if data is None or name not in hdu.columns.names:
            raise InvalidHDUError(f"{location.source} has no {name} column")
        values = np.array(data[name], dtype=np.float64)
        unit_string = hdu.columns[name].unit
        if name == "TIME" and not unit_string:
            unit_string = hdu.header.get("TIMEUNIT", "s")
        if unit_string:
            factor = _unit_factor(unit_string, unit, name=name, source=location.source)
            if factor != 1.0:
                values = values * factor
        return values

    @cached_property
    def _gti(self) -> GTITable:
        location = self._required("gti")
        hdu = self._hdu(location)
        data = self._data(location, hdu)
        start, stop = (self._column(location, hdu, data, name, u.s) for name in ("START", "STOP"))
        return GTITable(start=start, stop=stop, meta=_header_dict(hdu.header))

    @property
    def gti(self) -> GTITable:
        """Good time intervals: a new table with START, STOP (s since MJDREF) and header meta.

        A `~dl3flow.data.gti.GTITable` (``gti.to_table()`` is the astropy Table).
        """
        return self._gti.copy()

    # -- IRFs --------------------------------------------------------------------------

    def _irf(self, hdu_type: str):
        location = self._store._find_location(self.obs_id, hdu_type)
        if location is None:
            return None
        _check_irf_class(location, hdu_type)
        hdu = self._hdu(location)
        self._data(location, hdu)  # turn truncated data into CorruptFileError
        from dl3flow.irf.io import read_irf

        return read_irf(hdu, hdu_class=location.hdu_class, source=location.source)

    @cached_property
    def aeff(self):
        """Effective area (``dl3flow.irf`` object), or None if the HDU index has none."""
        return self._irf("aeff")

    @cached_property
    def edisp(self):
        """Energy dispersion (``dl3flow.irf`` object), or None if the HDU index has none."""
        return self._irf("edisp")

    @cached_property
    def psf(self):
        """Point spread function (``dl3flow.irf`` object), or None if the HDU index has
        none."""
        return self._irf("psf")

    @cached_property
    def bkg(self):
        """Background model (``dl3flow.irf`` object), or None if the HDU index has none."""
        return self._irf("bkg")

    @cached_property
    def rad_max(self):
        """Directional cut of point-like IRFs (`~dl3flow.irf.rad_max.RadMax2D`).

        The ``rad_max`` HDU if the HDU index has one; else, for a point-like
        effective area (``HDUCLAS3 = POINT-LIKE``), its fixed ``RAD_MAX`` keyword (as
        gammapy's ``Observation.rad_max``); None for full-enclosure IRFs.

        Raises
        ------
        IrfError
            A point-like effective area without ``RAD_MAX`` keyword nor ``rad_max`` HDU.
        """
        table = self._irf("rad_max")
        if table is not None:
            return table
        from dl3flow.irf.rad_max import is_point_like, rad_max_from_irf

        aeff = self.aeff
        if aeff is None or not is_point_like(aeff):
            return None
        location = self._store._find_location(self.obs_id, "aeff")
        return rad_max_from_irf(aeff, source=location.source)

    @cached_property
    def bkg_fov_alignment(self) -> str | None:
        """Orientation of the background model's field-of-view axes, or None without bkg.

        The bkg IRF's own ``fov_alignment`` (its FOVALIGN header; GADF default ALTAZ),
        except for old H.E.S.S. data (events header ``CREATOR = 'SASH FITS::EventListWriter'``
        and ``HDUVERS = '0.2'``, e.g. H.E.S.S. DL3 DR1), whose background models are
        known to store the field-of-view longitude reversed: ``"REVERSE_LON_RADEC"``,
        the same rule as gammapy's ``Observation.bkg``. ``None`` for a radially
        symmetric bkg_2d.
        """
        bkg = self.bkg
        if bkg is None or getattr(bkg, "fov_alignment", None) is None:
            return None
        if _is_old_hess(self._events_header):
            return "REVERSE_LON_RADEC"
        return bkg.fov_alignment

    # -- pointing, times, location ----------------------------------------------------

    @cached_property
    def pointing(self):
        """Fixed ICRS pointing (`~astropy.coordinates.SkyCoord`) from RA_PNT/DEC_PNT.

        From the events header, else the obs index; :attr:`pointing_radec` gives the
        same position as floats without astropy.coordinates.

        Raises
        ------
        InvalidHDUError
            If the observation mode is DRIFT (alt-az pointing) or no RA_PNT/DEC_PNT exists.
        """
        from astropy.coordinates import SkyCoord

        ra, dec = self._pointing_values
        return SkyCoord(ra * u.deg, dec * u.deg, frame="icrs")

    @cached_property
    def pointing_radec(self) -> tuple[float, float]:
        """(RA, Dec) of :attr:`pointing` in deg: ``pointing.icrs.ra.deg, pointing.icrs.dec.deg``.

        RA wrapped into [0, 360) as `~astropy.coordinates.Longitude` does.

        Raises
        ------
        InvalidHDUError
            As :attr:`pointing`.
        ValueError
            If Dec is outside [-90, 90] deg (as :attr:`pointing`).
        """
        ra, dec = self._pointing_values
        if not -90.0 <= dec <= 90.0:
            self.pointing  # noqa: B018 - raises astropy's out-of-range error
        return wrap_longitude(ra), float(dec)

    @cached_property
    def _pointing_values(self) -> tuple[float, float]:
        """RA_PNT, DEC_PNT (deg) as read."""
        mode = str(self._events_header.get("OBS_MODE", "POINTING")).strip().upper()
        if mode == "DRIFT":
            raise InvalidHDUError(
                f"obs_id {self.obs_id}: OBS_MODE DRIFT (fixed alt-az pointing) is not "
                f"supported ({self._events_location.file})"
            )
        ra = self._header_or_index("RA_PNT", u.deg)
        dec = self._header_or_index("DEC_PNT", u.deg)
        if ra is None or dec is None:
            raise InvalidHDUError(
                f"obs_id {self.obs_id}: no RA_PNT/DEC_PNT in the events header of "
                f"{self._events_location.file} nor in the obs index {self._store.obs_index_path}"
            )
        return ra, dec

    @cached_property
    def alt_pnt(self) -> float | None:
        """ALT_PNT (deg) from the events header, else the obs index; None if neither has it."""
        return self._header_or_index("ALT_PNT", u.deg)

    @cached_property
    def _time_reference(self) -> tuple:
        """(MJDREF as Time, TIMEUNIT) from the events header, else the obs index header."""
        for header, origin in (
            (self._events_header, str(self._events_location.file)),
            (dict(self._store._obs_index.meta), str(self._store.obs_index_path)),
        ):
            reference = _header_time_reference(header, obs_id=self.obs_id, origin=origin)
            if reference is not None:
                return reference
        raise InvalidHDUError(
            f"obs_id {self.obs_id}: no MJDREFI/MJDREFF (or MJDREF) keyword in the events "
            f"header of {self._events_location.file} nor in the obs index "
            f"{self._store.obs_index_path}"
        )

    def _met(self, name: str) -> float:
        value = self._events_header.get(name)
        if _is_missing(value):
            value = self._index_quantity(name, None)
        if value is None:
            raise InvalidHDUError(
                f"obs_id {self.obs_id}: no {name} in the events header of "
                f"{self._events_location.file} nor in the obs index {self._store.obs_index_path}"
            )
        return float(value)

    @cached_property
    def tstart(self):
        """Start time, `~astropy.time.Time` (TSTART relative to MJDREFI/MJDREFF in TIMESYS,
        TIMEUNIT)."""
        reference, unit = self._time_reference
        return reference + self._met("TSTART") * unit

    @cached_property
    def tstop(self):
        """Stop time, `~astropy.time.Time` (TSTOP relative to MJDREFI/MJDREFF in TIMESYS,
        TIMEUNIT)."""
        reference, unit = self._time_reference
        return reference + self._met("TSTOP") * unit

    @property
    def tmid(self):
        """Midpoint between :attr:`tstart` and :attr:`tstop`."""
        return self.tstart + 0.5 * (self.tstop - self.tstart)

    @cached_property
    def ontime(self) -> float:
        """Observation time in s: ONTIME (events header, obs index), else TSTOP - TSTART."""
        value = self._header_or_index("ONTIME", u.s)
        if value is None:
            _, unit = self._time_reference
            value = ((self._met("TSTOP") - self._met("TSTART")) * unit).to_value(u.s)
        return float(value)

    @cached_property
    def deadc(self) -> float:
        """Dead-time correction: DEADC (header, obs index), else LIVETIME/ONTIME, else 1."""
        value = self._header_or_index("DEADC")
        if value is None:
            livetime = self._header_or_index("LIVETIME", u.s)
            if livetime is not None and self.ontime > 0:
                value = livetime / self.ontime
        return 1.0 if value is None else float(value)

    @cached_property
    def livetime(self) -> float:
        """Live time in s: LIVETIME (events header, obs index), else ONTIME * DEADC."""
        value = self._header_or_index("LIVETIME", u.s)
        if value is None:
            value = self.ontime * self.deadc
        return float(value)

    @cached_property
    def location(self):
        """Observatory location, or None if unknown.

        From GEOLON/GEOLAT/ALTITUDE (or GEOALT) in the events header, else the obs index
        header, else the known observatory named by TELESCOP
        (:data:`~dl3flow.data.observatory.OBSERVATORY_LOCATIONS`).
        """
        return _location((self._events_header, dict(self._store._obs_index.meta)))
