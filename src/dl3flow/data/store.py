"""Access to IACT DL3 data stored in the GADF layout (obs index + HDU index + data files).

The conventions follow gammapy's ``DataStore`` / ``HDUIndexTable`` / ``Observation``
(see https://gamma-astro-data-formats.readthedocs.io/en/latest/data_storage/):

* The observation index (``obs-index.fits[.gz]``, HDU ``OBS_INDEX``) has one row per
  observation; the HDU index (``hdu-index.fits[.gz]``, HDU ``HDU_INDEX``) has one row per
  (observation, HDU type) telling in which file and extension the HDU lives.
* The file of an HDU is ``BASE_DIR / FILE_DIR / FILE_NAME`` where ``BASE_DIR`` is the
  ``BASE_DIR`` header keyword of the HDU index (relative to the index file's directory)
  or, when absent, the index file's directory. Several observations may share one file
  (e.g. common IRF files, such as CTA's caldb ``irf_file.fits`` reached through a
  relative ``FILE_DIR`` like ``../../caldb/data/cta/1dc/bcf/South_z20_50h``).
* ``HDU_TYPE`` and ``HDU_CLASS`` are matched case-insensitively (stored lower-case),
  and an IRF is read by its index ``HDU_CLASS`` (`dl3flow.irf.io.read_irf`), the HDU's
  own ``HDUCLAS*`` keywords only being checked against it.

Everything is read lazily: a :class:`DataStore` only reads the two index tables, and an
:class:`Observation` reads a data file the first time one of its HDUs is needed. Each
distinct file is read and decompressed once per observation, fully into memory (no
memory mapping), and the input files are never modified.

A per-observation workflow job imports this module, so it imports only numpy,
astropy.units and astropy.io.fits: the index tables are read as FITS record arrays
(:attr:`DataStore.obs_table` and :attr:`DataStore.hdu_table`, astropy Tables, are
built when first asked for), and astropy.coordinates / astropy.time are imported by
the properties that return their objects (:attr:`Observation.pointing`,
:attr:`~Observation.tstart`, :attr:`~Observation.location`, ...); the reduction uses
:attr:`Observation.pointing_radec` (floats).
"""

from __future__ import annotations

import gzip
import io
import operator
import re
import types
import warnings
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import astropy.units as u
import numpy as np
from astropy.io import fits

from dl3flow.data.gti import GTITable
from dl3flow.io.header import HeaderMapping
from dl3flow.maps.coords import wrap_longitude

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = [
    "AmbiguousHDUError",
    "CorruptFileError",
    "DataStore",
    "DataStoreError",
    "EventList",
    "HDULocation",
    "IndexFormatError",
    "InvalidHDUError",
    "MissingFileError",
    "MissingHDUError",
    "MissingIndexError",
    "OBSERVATORY_LOCATIONS",  # noqa: F822 - made on first access (module __getattr__)
    "Observation",
    "UnknownObservationError",
    "UnsupportedHDUClassError",
]

OBS_INDEX_NAMES = ("obs-index.fits.gz", "obs-index.fits")
"""File names looked for by :meth:`DataStore.from_dir`, in order of preference."""

HDU_INDEX_NAMES = ("hdu-index.fits.gz", "hdu-index.fits")
"""File names looked for by :meth:`DataStore.from_dir`, in order of preference."""

OBS_INDEX_REQUIRED_COLUMNS = ("OBS_ID",)
HDU_INDEX_REQUIRED_COLUMNS = (
    "OBS_ID",
    "HDU_TYPE",
    "HDU_CLASS",
    "FILE_DIR",
    "FILE_NAME",
    "HDU_NAME",
)

IRF_HDU_CLASSES = {
    "aeff": ("aeff_2d",),
    "edisp": ("edisp_2d",),
    "psf": ("psf_table", "psf_3gauss", "psf_king"),
    "bkg": ("bkg_2d", "bkg_3d"),
    "rad_max": ("rad_max_2d",),
}
"""HDU_CLASS values accepted for each IRF HDU_TYPE (GADF / gammapy ``VALID_HDU_CLASS``)."""

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


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


class DataStoreError(Exception):
    """Base class of all errors raised while reading a GADF data store."""


class MissingIndexError(DataStoreError):
    """An observation or HDU index file does not exist."""


class IndexFormatError(DataStoreError):
    """An index table lacks a required column or has inconsistent content."""


class CorruptFileError(DataStoreError):
    """A file exists but cannot be read as (gzipped) FITS, e.g. because it is truncated."""


class UnknownObservationError(DataStoreError):
    """An obs_id is not in the obs index or has no rows in the HDU index."""


class MissingHDUError(DataStoreError):
    """An HDU type is not listed for an observation, or an HDU is not in its file."""


class AmbiguousHDUError(DataStoreError):
    """Several HDU index rows match one (obs_id, HDU type) request."""


class MissingFileError(DataStoreError):
    """A file referenced by the HDU index does not exist."""


class UnsupportedHDUClassError(DataStoreError):
    """An IRF HDU has an HDU_CLASS that dl3flow cannot read."""


class InvalidHDUError(DataStoreError):
    """An HDU lacks a required column or header keyword, or has unusable units."""


# --------------------------------------------------------------------------------------
# Low-level helpers
# --------------------------------------------------------------------------------------


def _open_fits(path: Path, *, what: str) -> fits.HDUList:
    """Read a (possibly gzip-compressed) FITS file fully into memory and open it.

    Parameters
    ----------
    path : pathlib.Path
        File to read. It is only read, never written or memory mapped.
    what : str
        Description of the file used in error messages (e.g. ``"HDU index"``).

    Returns
    -------
    astropy.io.fits.HDUList
        All headers parsed; data are parsed from memory on first access.

    Raises
    ------
    MissingFileError
        If ``path`` does not exist.
    CorruptFileError
        If the file cannot be read, the gzip stream is corrupt or truncated, or the FITS
        structure is corrupt or truncated.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise MissingFileError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise CorruptFileError(f"cannot read {what} {path}: {exc}") from exc
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise CorruptFileError(
                f"{what} {path} is not a valid gzip file (corrupt or truncated): {exc}"
            ) from exc
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            hdulist = fits.open(
                io.BytesIO(raw), mode="readonly", memmap=False, lazy_load_hdus=False
            )
        except Exception as exc:  # astropy raises OSError, ValueError, ... on bad input
            raise CorruptFileError(f"{what} {path} is not a valid FITS file: {exc}") from exc
    problems = []
    for warning in caught:
        message = str(warning.message)
        if "truncated" in message or "corrupt" in message or "extra bytes" in message:
            problems.append(" ".join(message.split()))
        else:
            warnings.warn(warning.message, warning.category, stacklevel=2)
    if problems:
        hdulist.close()
        raise CorruptFileError(f"{what} {path} is truncated or corrupt: {problems[0]}")
    return hdulist


def _header_dict(header: fits.Header) -> HeaderMapping:
    """Header keywords as a read-only mapping, without table-structure and commentary cards.

    Values are parsed on access only (see `dl3flow.io.header`).
    """
    return HeaderMapping(header)


def _is_missing(value: Any) -> bool:
    if value is None or value is np.ma.masked or isinstance(value, np.ma.core.MaskedConstant):
        return True
    if isinstance(value, str):
        return value.strip() == ""
    try:
        return bool(np.isnan(value))
    except (TypeError, ValueError):
        return False


def _python_scalar(value: Any) -> Any:
    if _is_missing(value) and not isinstance(value, str):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _find_table_hdu(hdulist: fits.HDUList, name: str) -> fits.BinTableHDU | None:
    if name in hdulist:
        hdu = hdulist[name]
        if isinstance(hdu, fits.BinTableHDU | fits.TableHDU):
            return hdu
    for hdu in hdulist:
        if isinstance(hdu, fits.BinTableHDU | fits.TableHDU):
            return hdu
    return None


class _IndexTable:
    """An index table read from its FITS HDU without astropy.table.

    ``index[name]`` is a column as ``Table.read(hdu)`` gives it (the same masking:
    TNULL and NaN entries, and blank-stripped strings), ``unit(name)`` its unit,
    ``meta`` the header keywords; :meth:`table` is that `~astropy.table.Table`,
    made on first use (or the Table it was built from, :meth:`from_table`).
    """

    def __init__(self, *, columns: dict, units: dict, meta: Mapping, make_table):
        self._columns, self._units, self.meta = columns, units, meta
        self._make_table, self._table = make_table, None

    @classmethod
    def from_hdu(cls, hdu, *, normalise=None) -> _IndexTable:
        """Columns of a table HDU (its data are read here); ``normalise`` the Table."""
        data = hdu.data
        columns, units = {}, {}
        for col in data.columns:  # the steps of astropy.io.fits.connect.read_table_fits
            arr = data[col.name]
            coltype = col.dtype.subdtype[0].type if col.dtype.subdtype else col.dtype.type
            if coltype is np.bytes_:
                arr = np.strings.rstrip(arr)
            masked = mask = False
            if col.null is not None:
                mask = arr == col.null
                masked = True
            elif issubclass(coltype, np.inexact):
                mask = np.isnan(arr)
            elif issubclass(coltype, np.character):
                mask = arr == b""
            arr = np.array(arr)
            columns[col.name] = np.ma.MaskedArray(arr, mask=mask) if masked or np.any(mask) else arr
            units[col.name] = col.unit

        def make_table():
            from astropy.table import Table

            table = Table.read(hdu)
            return table if normalise is None else normalise(table)

        meta = HeaderMapping(hdu.header)
        return cls(columns=columns, units=units, meta=meta, make_table=make_table)

    @classmethod
    def from_table(cls, table) -> _IndexTable:
        """The columns of an `~astropy.table.Table` (which :meth:`table` returns)."""
        columns = {
            name: np.ma.MaskedArray(np.asarray(col), mask=np.ma.getmaskarray(col))
            if getattr(col, "mask", None) is not None
            else np.asarray(col)
            for name, col in table.columns.items()
        }
        units = {name: table[name].unit for name in table.colnames}
        return cls(columns=columns, units=units, meta=dict(table.meta), make_table=lambda: table)

    @property
    def colnames(self) -> list[str]:
        return list(self._columns)

    def __getitem__(self, name: str) -> np.ndarray:
        return self._columns[name]

    def __len__(self) -> int:
        return len(next(iter(self._columns.values()))) if self._columns else 0

    def unit(self, name: str) -> u.UnitBase | None:
        """The column's unit (FITS TUNIT parsed as ``Table.read`` does), or None."""
        unit = self._units[name]
        if unit is None or isinstance(unit, u.UnitBase):
            return unit
        return u.Unit(unit, format="fits", parse_strict="warn")

    def row(self, row: int) -> dict[str, Any]:
        """One row as ``{name: value}`` (a masked value is ``np.ma.masked``)."""
        return {name: column[row] for name, column in self._columns.items()}

    def table(self):
        """The `~astropy.table.Table` (imports astropy.table; made once)."""
        if self._table is None:
            self._table = self._make_table()
        return self._table


def _read_index(
    path: Path, *, kind: str, extname: str, required: tuple[str, ...], normalise=None
) -> _IndexTable:
    """Read an index table (first table HDU, or the one named ``extname``)."""
    what = f"{kind} file"
    hdulist = _open_fits(path, what=what)
    try:
        hdu = _find_table_hdu(hdulist, extname)
        if hdu is None:
            raise CorruptFileError(f"{what} {path} contains no table HDU (expected {extname})")
        try:
            table = _IndexTable.from_hdu(hdu, normalise=normalise)
        except Exception as exc:
            raise CorruptFileError(f"cannot read the {kind} table from {path}: {exc}") from exc
    finally:
        hdulist.close()
    missing = [name for name in required if name not in table.colnames]
    if missing:
        raise IndexFormatError(
            f"{kind} file {path} lacks required column(s) {', '.join(missing)} "
            f"(columns: {', '.join(table.colnames)})"
        )
    return table


def _stripped_strings(column) -> np.ndarray:
    """String values with surrounding blanks removed; masked entries become ""."""
    values = column.filled("") if hasattr(column, "filled") else column
    return np.array([str(value).strip() for value in values], dtype=str)


#: HDU-index columns whose values are matched case-insensitively (stored lower-case).
_LOWER_CASE_COLUMNS = ("HDU_TYPE", "HDU_CLASS")


def _hdu_column(table: Table, name: str) -> np.ndarray:
    """Stripped strings of an HDU-index column; HDU_TYPE and HDU_CLASS lower-cased."""
    values = _stripped_strings(table[name])
    return np.char.lower(values) if name in _LOWER_CASE_COLUMNS else values


def _normalise_hdu_table(table: Table) -> Table:
    """Return a copy with stripped string columns (as gammapy); masked FILE_DIR -> "".

    HDU_TYPE and HDU_CLASS are lower-cased: GADF spells them lower-case, some files
    (e.g. ``AEFF_2D``) do not, and they are matched case-insensitively.
    """
    out = table.copy(copy_data=True)
    for name in ("HDU_TYPE", "HDU_CLASS", "FILE_DIR", "FILE_NAME", "HDU_NAME"):
        out[name] = _hdu_column(out, name)
    return out


def _obs_ids_array(table: Table, *, path: Path, kind: str) -> np.ndarray:
    column = table["OBS_ID"]
    if getattr(column, "mask", None) is not None and np.any(column.mask):
        raise IndexFormatError(f"{kind} file {path} has empty (masked) OBS_ID values")
    values = np.asarray(column)
    if values.dtype.kind not in "iu":
        if values.dtype.kind != "f" or not np.all(np.isfinite(values) & (values % 1 == 0)):
            raise IndexFormatError(f"{kind} file {path} has non-integer OBS_ID values")
    return values.astype(np.int64)


def _as_obs_id(obs_id: Any) -> int:
    try:
        return int(operator.index(obs_id))
    except TypeError:
        raise TypeError(f"obs_id must be an integer, got {obs_id!r}") from None


# --------------------------------------------------------------------------------------
# Data containers
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class HDULocation:
    """Where one HDU of one observation lives (one row of the HDU index).

    Attributes
    ----------
    obs_id : int
        Observation ID.
    hdu_type : str
        GADF HDU type, lower-case (``events``, ``gti``, ``aeff``, ``edisp``, ``psf``,
        ``bkg``, ...).
    hdu_class : str
        GADF HDU class, lower-case (``events``, ``aeff_2d``, ``psf_table``, ``bkg_3d``...).
    file : pathlib.Path
        File path ``BASE_DIR / FILE_DIR / FILE_NAME`` (``..`` in ``FILE_DIR`` is kept,
        e.g. to a shared caldb IRF file beside the index directory).
    hdu_name : str
        Extension name inside ``file`` (matched case-insensitively, as FITS does).
    """

    obs_id: int
    hdu_type: str
    hdu_class: str
    file: Path
    hdu_name: str

    @property
    def source(self) -> str:
        """Human-readable origin used in error messages: ``file[HDU] (obs N, type)``."""
        return f"{self.file}[{self.hdu_name}] (obs {self.obs_id}, {self.hdu_type})"


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
# DataStore
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, init=False)
class DataStore:
    """A GADF data store: observation index, HDU index and the files they reference.

    Use :meth:`from_dir` or :meth:`from_files` rather than the constructor
    ``DataStore(base_dir, obs_table, hdu_table, obs_index_path, hdu_index_path)``
    (tables as `~astropy.table.Table`). The tables are the store's own copies; treat
    them as read-only.

    Attributes
    ----------
    base_dir : pathlib.Path
        Directory that ``FILE_DIR`` entries of the HDU index are relative to.
    obs_table : astropy.table.Table
        Observation index (one row per observation); made on first access for a
        store read from files (the store itself reads the FITS columns).
    hdu_table : astropy.table.Table
        HDU index, string columns stripped of surrounding blanks (likewise).
    obs_index_path, hdu_index_path : pathlib.Path
        Index files the tables were read from (named in error messages).
    """

    base_dir: Path
    obs_index_path: Path
    hdu_index_path: Path
    _obs_index: _IndexTable = field(repr=False)
    _hdu_index: _IndexTable = field(repr=False)
    _obs_rows: dict = field(repr=False)
    _hdu_rows: dict = field(repr=False)
    _hdu_columns: dict = field(repr=False)

    def __init__(self, base_dir, obs_table, hdu_table, obs_index_path, hdu_index_path) -> None:
        for name, table in (("_obs_index", obs_table), ("_hdu_index", hdu_table)):
            if not isinstance(table, _IndexTable):
                table = _IndexTable.from_table(table)
            object.__setattr__(self, name, table)
        object.__setattr__(self, "base_dir", base_dir)
        object.__setattr__(self, "obs_index_path", obs_index_path)
        object.__setattr__(self, "hdu_index_path", hdu_index_path)
        self.__post_init__()

    @cached_property
    def obs_table(self):
        """Observation index, an `~astropy.table.Table` (imports astropy.table)."""
        return self._obs_index.table()

    @cached_property
    def hdu_table(self):
        """HDU index, an `~astropy.table.Table` (imports astropy.table)."""
        return self._hdu_index.table()

    def __post_init__(self) -> None:
        for table, path, kind, required in (
            (self._obs_index, self.obs_index_path, "obs index", OBS_INDEX_REQUIRED_COLUMNS),
            (self._hdu_index, self.hdu_index_path, "HDU index", HDU_INDEX_REQUIRED_COLUMNS),
        ):
            missing = [name for name in required if name not in table.colnames]
            if missing:
                raise IndexFormatError(
                    f"{kind} file {path} lacks required column(s) {', '.join(missing)} "
                    f"(columns: {', '.join(table.colnames)})"
                )
        obs_ids = _obs_ids_array(self._obs_index, path=self.obs_index_path, kind="obs index")
        unique, counts = np.unique(obs_ids, return_counts=True)
        if np.any(counts > 1):
            duplicated = ", ".join(str(v) for v in unique[counts > 1][:10])
            raise IndexFormatError(
                f"obs index file {self.obs_index_path} lists obs_id {duplicated} more than once"
            )
        obs_rows = {int(obs_id): row for row, obs_id in enumerate(obs_ids)}
        hdu_ids = _obs_ids_array(self._hdu_index, path=self.hdu_index_path, kind="HDU index")
        hdu_rows: dict[int, list[int]] = {}
        for row, obs_id in enumerate(hdu_ids):
            hdu_rows.setdefault(int(obs_id), []).append(row)
        object.__setattr__(self, "_obs_rows", obs_rows)
        hdu_columns = {
            name: _hdu_column(self._hdu_index, name) for name in HDU_INDEX_REQUIRED_COLUMNS[1:]
        }
        object.__setattr__(self, "_hdu_columns", hdu_columns)
        object.__setattr__(
            self, "_hdu_rows", {key: tuple(value) for key, value in hdu_rows.items()}
        )
        object.__setattr__(self, "base_dir", Path(self.base_dir))
        object.__setattr__(self, "obs_index_path", Path(self.obs_index_path))
        object.__setattr__(self, "hdu_index_path", Path(self.hdu_index_path))

    @classmethod
    def from_dir(cls, path: str | Path) -> DataStore:
        """Open the data store in a directory.

        Parameters
        ----------
        path : str or pathlib.Path
            Directory holding ``obs-index.fits[.gz]`` and ``hdu-index.fits[.gz]``
            (the ``.fits.gz`` name is preferred when both exist).

        Returns
        -------
        DataStore

        Raises
        ------
        MissingIndexError
            If the directory or one of the index files does not exist.
        CorruptFileError, IndexFormatError
            If an index file cannot be read or lacks a required column.
        """
        directory = Path(path)
        if not directory.is_dir():
            raise MissingIndexError(f"data store directory {directory} does not exist")
        found = {}
        for kind, names in (("obs index", OBS_INDEX_NAMES), ("HDU index", HDU_INDEX_NAMES)):
            candidates = [directory / name for name in names if (directory / name).is_file()]
            if not candidates:
                raise MissingIndexError(
                    f"no {kind} file in {directory} (looked for {' or '.join(names)})"
                )
            found[kind] = candidates[0]
        return cls.from_files(obs_index=found["obs index"], hdu_index=found["HDU index"])

    @classmethod
    def from_files(cls, *, obs_index: str | Path, hdu_index: str | Path) -> DataStore:
        """Open a data store from explicit index files.

        Parameters
        ----------
        obs_index : str or pathlib.Path
            Observation index file (HDU ``OBS_INDEX`` or the first table HDU).
        hdu_index : str or pathlib.Path
            HDU index file (HDU ``HDU_INDEX`` or the first table HDU). ``FILE_DIR`` is
            relative to its ``BASE_DIR`` header keyword, itself relative to the directory
            of this file; without the keyword, relative to the directory of this file.

        Returns
        -------
        DataStore

        Raises
        ------
        MissingIndexError
            If an index file does not exist.
        CorruptFileError, IndexFormatError
            If an index file cannot be read or lacks a required column.
        """
        tables = {}
        paths = {"obs index": Path(obs_index), "HDU index": Path(hdu_index)}
        for kind, index_path in paths.items():
            if not index_path.is_file():
                raise MissingIndexError(f"{kind} file {index_path} does not exist")
        tables["obs index"] = _read_index(
            paths["obs index"],
            kind="obs index",
            extname="OBS_INDEX",
            required=OBS_INDEX_REQUIRED_COLUMNS,
        )
        hdu_table = _read_index(
            paths["HDU index"],
            kind="HDU index",
            extname="HDU_INDEX",
            required=HDU_INDEX_REQUIRED_COLUMNS,
            normalise=_normalise_hdu_table,
        )
        hdu_index_dir = paths["HDU index"].resolve().parent
        base_dir = hdu_index_dir
        header_base = str(hdu_table.meta.get("BASE_DIR", "") or "").strip()
        if header_base:
            base_dir = hdu_index_dir / header_base
        return cls(
            base_dir=base_dir,
            obs_table=tables["obs index"],
            hdu_table=hdu_table,
            obs_index_path=paths["obs index"],
            hdu_index_path=paths["HDU index"],
        )

    @property
    def obs_ids(self) -> np.ndarray:
        """Sorted IDs of the observations that are in both the obs and the HDU index."""
        ids = sorted(set(self._obs_rows).intersection(self._hdu_rows))
        return np.array(ids, dtype=np.int64)

    def _check_obs_id(self, obs_id: Any) -> int:
        obs_id = _as_obs_id(obs_id)
        if obs_id not in self._obs_rows:
            raise UnknownObservationError(
                f"obs_id {obs_id} is not in the obs index {self.obs_index_path}"
            )
        if obs_id not in self._hdu_rows:
            raise UnknownObservationError(
                f"obs_id {obs_id} has no rows in the HDU index {self.hdu_index_path}"
            )
        return obs_id

    def _locations(self, obs_id: int, hdu_type: str, hdu_class: str | None) -> list[HDULocation]:
        columns = self._hdu_columns
        hdu_type = hdu_type.strip().lower()  # the index columns are lower-cased
        hdu_class = None if hdu_class is None else hdu_class.strip().lower()
        out = []
        for row in self._hdu_rows.get(obs_id, ()):
            if columns["HDU_TYPE"][row] != hdu_type:
                continue
            if hdu_class is not None and columns["HDU_CLASS"][row] != hdu_class:
                continue
            out.append(
                HDULocation(
                    obs_id=obs_id,
                    hdu_type=hdu_type,
                    hdu_class=str(columns["HDU_CLASS"][row]),
                    file=self.base_dir
                    / str(columns["FILE_DIR"][row])
                    / str(columns["FILE_NAME"][row]),
                    hdu_name=str(columns["HDU_NAME"][row]),
                )
            )
        return out

    def _find_location(
        self, obs_id: int, hdu_type: str, *, hdu_class: str | None = None
    ) -> HDULocation | None:
        locations = self._locations(obs_id, hdu_type, hdu_class)
        if len(locations) > 1:
            listed = ", ".join(
                f"{loc.hdu_class} in {loc.file}[{loc.hdu_name}]" for loc in locations
            )
            raise AmbiguousHDUError(
                f"obs_id {obs_id} has {len(locations)} HDU index rows of type {hdu_type!r} "
                f"in {self.hdu_index_path} ({listed}); pass hdu_class to choose one"
            )
        return locations[0] if locations else None

    def hdu_types(self, obs_id: int) -> list[str]:
        """Sorted HDU types listed in the HDU index for ``obs_id``."""
        obs_id = self._check_obs_id(obs_id)
        return sorted({str(self._hdu_columns["HDU_TYPE"][row]) for row in self._hdu_rows[obs_id]})

    def hdu_location(
        self, obs_id: int, hdu_type: str, *, hdu_class: str | None = None
    ) -> HDULocation:
        """Locate one HDU of one observation.

        Parameters
        ----------
        obs_id : int
            Observation ID.
        hdu_type : str
            GADF HDU type, e.g. ``"events"``, ``"gti"``, ``"aeff"``, ``"bkg"``
            (case-insensitive, as the index columns).
        hdu_class : str, optional
            Also require this HDU class (to choose among several rows of one type;
            case-insensitive).

        Returns
        -------
        HDULocation

        Raises
        ------
        UnknownObservationError
            If ``obs_id`` is not in the obs index or has no HDU index rows.
        MissingHDUError
            If no row of that type (and class) exists for ``obs_id``.
        AmbiguousHDUError
            If several rows match (gammapy warns and takes the first one).
        """
        obs_id = self._check_obs_id(obs_id)
        location = self._find_location(obs_id, hdu_type, hdu_class=hdu_class)
        if location is None:
            wanted = f"type {hdu_type!r}" + (f" and class {hdu_class!r}" if hdu_class else "")
            raise MissingHDUError(
                f"obs_id {obs_id} has no HDU of {wanted} in the HDU index "
                f"{self.hdu_index_path} (available types: {', '.join(self.hdu_types(obs_id))})"
            )
        return location

    def observation_files(self, obs_id: int) -> list[Path]:
        """The distinct files the HDU index names for ``obs_id`` (resolved, sorted).

        Paths are ``BASE_DIR / FILE_DIR / FILE_NAME``, as every reader here resolves
        them; whether they exist is not checked. Empty for an obs_id without rows.
        """
        columns = self._hdu_columns
        files = {
            self.base_dir / str(columns["FILE_DIR"][row]) / str(columns["FILE_NAME"][row])
            for row in self._hdu_rows.get(_as_obs_id(obs_id), ())
        }
        return sorted(files)

    def observation(self, obs_id: int) -> Observation:
        """Lazy accessor to one observation (nothing is read until a property is used).

        Raises
        ------
        UnknownObservationError
            If ``obs_id`` is not in the obs index or has no HDU index rows.
        """
        return Observation(self._check_obs_id(obs_id), store=self)

    def obs_row(self, obs_id: int) -> dict[str, Any]:
        """Obs-index row of ``obs_id`` as a new dict (masked values become ``None``)."""
        obs_id = _as_obs_id(obs_id)
        if obs_id not in self._obs_rows:
            raise UnknownObservationError(
                f"obs_id {obs_id} is not in the obs index {self.obs_index_path}"
            )
        row = self._obs_index.row(self._obs_rows[obs_id])
        return {name: _python_scalar(value) for name, value in row.items()}


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
            try:
                factor = u.Unit(unit_string, format="fits").to(unit)
            except (ValueError, u.UnitsError) as exc:
                try:
                    factor = u.Unit(unit_string).to(unit)
                except (ValueError, u.UnitsError):
                    raise InvalidHDUError(
                        f"column {name} of {location.source} has unit {unit_string!r}, "
                        f"not convertible to {unit}"
                    ) from exc
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
        supported = IRF_HDU_CLASSES[hdu_type]
        if location.hdu_class not in supported:
            raise UnsupportedHDUClassError(
                f"obs_id {self.obs_id}: {hdu_type} HDU {location.file}[{location.hdu_name}] "
                f"has HDU_CLASS {location.hdu_class!r}, which is not supported "
                f"(supported: {', '.join(supported)})"
            )
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
        header = self._events_header
        if (
            str(header.get("CREATOR", "")).strip() == "SASH FITS::EventListWriter"
            and str(header.get("HDUVERS", "")).strip() == "0.2"
        ):
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
        from astropy.time import Time

        for header, origin in (
            (self._events_header, str(self._events_location.file)),
            (dict(self._store._obs_index.meta), str(self._store.obs_index_path)),
        ):
            if "MJDREFI" in header and "MJDREFF" in header:
                mjd_int, mjd_frac = float(header["MJDREFI"]), float(header["MJDREFF"])
            elif "MJDREF" in header:
                mjd_int, mjd_frac = float(header["MJDREF"]), 0.0
            else:
                continue
            scale = str(header.get("TIMESYS", "tt")).strip().lower()
            unit = str(header.get("TIMEUNIT", "s")).strip() or "s"
            try:
                reference = Time(mjd_int, mjd_frac, format="mjd", scale=scale)
                time_unit = u.Unit(unit)
            except (ValueError, u.UnitsError) as exc:
                raise InvalidHDUError(
                    f"obs_id {self.obs_id}: invalid TIMESYS {scale!r} or TIMEUNIT {unit!r} "
                    f"in {origin}"
                ) from exc
            return reference, time_unit
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
        header, else the known observatory named by TELESCOP (:data:`OBSERVATORY_LOCATIONS`).
        """
        from astropy.coordinates import EarthLocation

        headers = (self._events_header, dict(self._store._obs_index.meta))
        for header in headers:
            lon, lat = header.get("GEOLON"), header.get("GEOLAT")
            height = header.get("GEOALT", header.get("ALTITUDE"))
            if any(_is_missing(value) for value in (lon, lat, height)):
                continue
            try:
                return EarthLocation(
                    lon=float(lon) * u.deg, lat=float(lat) * u.deg, height=float(height) * u.m
                )
            except (TypeError, ValueError):
                continue
        for telescope in (header.get("TELESCOP") for header in headers):
            if _is_missing(telescope):
                continue
            key = re.sub(r"[^A-Z0-9]", "", str(telescope).upper())
            if key in _TELESCOP_ALIASES:
                return _observatory_locations()[_TELESCOP_ALIASES[key]]
        return None
