"""The two index tables of a GADF data store and where they put each HDU.

The conventions follow gammapy's ``DataStore`` / ``HDUIndexTable``
(see https://gamma-astro-data-formats.readthedocs.io/en/latest/data_storage/):

* The observation index (``obs-index.fits[.gz]``, HDU ``OBS_INDEX``) has one row per
  observation; the HDU index (``hdu-index.fits[.gz]``, HDU ``HDU_INDEX``) has one row per
  (observation, HDU type) telling in which file and extension the HDU lives.
* The file of an HDU is ``BASE_DIR / FILE_DIR / FILE_NAME`` where ``BASE_DIR`` is the
  ``BASE_DIR`` header keyword of the HDU index (relative to the index file's directory)
  or, when absent, the index file's directory. Several observations may share one file
  (e.g. common IRF files, such as CTA's caldb ``irf_file.fits`` reached through a
  relative ``FILE_DIR`` like ``../../caldb/data/cta/1dc/bcf/South_z20_50h``).
* ``HDU_TYPE`` and ``HDU_CLASS`` are matched case-insensitively (stored lower-case).

This module reads (possibly gzipped) FITS files fully into memory (`_open_fits`, also
used for the data files of an observation), reads the index tables as FITS record
arrays without astropy.table (`_IndexTable`; the astropy Table is made when first asked
for), checks their OBS_ID columns and resolves the file of each HDU index row
(:class:`HDULocation`). It imports only numpy, astropy.units and astropy.io.fits.
"""

from __future__ import annotations

import gzip
import io
import operator
import warnings
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import astropy.units as u
import numpy as np
from astropy.io import fits

from dl3flow.data.errors import CorruptFileError, IndexFormatError, MissingFileError
from dl3flow.io.header import HeaderMapping

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = ["HDULocation"]

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
    raw = _read_bytes(path, what=what)
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


def _read_bytes(path: Path, *, what: str) -> bytes:
    """The content of ``path``, gunzipped if it is gzip-compressed (see `_open_fits`)."""
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
    return raw


def _header_dict(header: fits.Header) -> HeaderMapping:
    """Header keywords as a read-only mapping, without table-structure and commentary cards.

    Values are parsed on access only (see `dl3flow.io.header`).
    """
    return HeaderMapping(header)


def _is_missing(value: Any) -> bool:
    """Whether a header or index value is absent: None, masked, NaN or a blank string."""
    if value is None or value is np.ma.masked or isinstance(value, np.ma.core.MaskedConstant):
        return True
    if isinstance(value, str):
        return value.strip() == ""
    try:
        return bool(np.isnan(value))
    except (TypeError, ValueError):
        return False


def _python_scalar(value: Any) -> Any:
    """An index value as a Python scalar (a missing non-string value becomes None)."""
    if _is_missing(value) and not isinstance(value, str):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _find_table_hdu(hdulist: fits.HDUList, name: str) -> fits.BinTableHDU | None:
    """The table HDU named ``name``, else the first table HDU, else None."""
    if name in hdulist:
        hdu = hdulist[name]
        if isinstance(hdu, fits.BinTableHDU | fits.TableHDU):
            return hdu
    for hdu in hdulist:
        if isinstance(hdu, fits.BinTableHDU | fits.TableHDU):
            return hdu
    return None


# --------------------------------------------------------------------------------------
# Index tables
# --------------------------------------------------------------------------------------


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


def _check_columns(table, *, path: Path, kind: str, required: tuple[str, ...]) -> None:
    """Raise IndexFormatError if the index table lacks one of the ``required`` columns."""
    missing = [name for name in required if name not in table.colnames]
    if missing:
        raise IndexFormatError(
            f"{kind} file {path} lacks required column(s) {', '.join(missing)} "
            f"(columns: {', '.join(table.colnames)})"
        )


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
    _check_columns(table, path=path, kind=kind, required=required)
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


# --------------------------------------------------------------------------------------
# Observation IDs and rows
# --------------------------------------------------------------------------------------


def _obs_ids_array(table: Table, *, path: Path, kind: str) -> np.ndarray:
    """The OBS_ID column as int64; IndexFormatError if masked or not integer."""
    column = table["OBS_ID"]
    if getattr(column, "mask", None) is not None and np.any(column.mask):
        raise IndexFormatError(f"{kind} file {path} has empty (masked) OBS_ID values")
    values = np.asarray(column)
    if values.dtype.kind not in "iu":
        if values.dtype.kind != "f" or not np.all(np.isfinite(values) & (values % 1 == 0)):
            raise IndexFormatError(f"{kind} file {path} has non-integer OBS_ID values")
    return values.astype(np.int64)


def _as_obs_id(obs_id: Any) -> int:
    """``obs_id`` as an int; TypeError for a non-integer."""
    try:
        return int(operator.index(obs_id))
    except TypeError:
        raise TypeError(f"obs_id must be an integer, got {obs_id!r}") from None


def _obs_row_numbers(obs_index: _IndexTable, *, path: Path) -> dict[int, int]:
    """``{obs_id: row}`` of the obs index; IndexFormatError if an obs_id is listed twice."""
    obs_ids = _obs_ids_array(obs_index, path=path, kind="obs index")
    unique, counts = np.unique(obs_ids, return_counts=True)
    if np.any(counts > 1):
        duplicated = ", ".join(str(v) for v in unique[counts > 1][:10])
        raise IndexFormatError(f"obs index file {path} lists obs_id {duplicated} more than once")
    return {int(obs_id): row for row, obs_id in enumerate(obs_ids)}


def _hdu_row_numbers(hdu_index: _IndexTable, *, path: Path) -> dict[int, tuple[int, ...]]:
    """``{obs_id: rows}`` of the HDU index, rows in table order."""
    hdu_ids = _obs_ids_array(hdu_index, path=path, kind="HDU index")
    hdu_rows: dict[int, list[int]] = {}
    for row, obs_id in enumerate(hdu_ids):
        hdu_rows.setdefault(int(obs_id), []).append(row)
    return {key: tuple(value) for key, value in hdu_rows.items()}


# --------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------


def _base_dir(hdu_index_path: Path, meta: Mapping) -> Path:
    """``BASE_DIR`` of an HDU index: its header keyword relative to the index file's
    directory, else that directory."""
    hdu_index_dir = hdu_index_path.resolve().parent
    base_dir = hdu_index_dir
    header_base = str(meta.get("BASE_DIR", "") or "").strip()
    if header_base:
        base_dir = hdu_index_dir / header_base
    return base_dir


def _hdu_file(base_dir: Path, columns: Mapping[str, np.ndarray], row: int) -> Path:
    """``BASE_DIR / FILE_DIR / FILE_NAME`` of one HDU-index row (``..`` kept)."""
    return base_dir / str(columns["FILE_DIR"][row]) / str(columns["FILE_NAME"][row])


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
