"""FITS I/O shared by the dataset products, in gammapy's layouts.

The pieces every dataset file (map, on-off and spectrum datasets, safe masks, the
estimators' maps) is written and read with: :func:`write_hdulist` (atomic, with
provenance), image HDUs with their band table as gammapy's ``Map.to_hdulist``
writes them, the primary header and META_TABLE of a dataset's ``meta``, GTI
tables (normalised, written and read), and the readers of axes, images and meta
(:func:`open_fits`, :func:`read_fits_product`). :class:`DatasetError` is the error
of every dataset module.
"""

from __future__ import annotations

import contextlib
import datetime
import json
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits

from dl3flow.data.gti import GTITable
from dl3flow.io import fits as fitsio
from dl3flow.io.atomic import atomic_write
from dl3flow.io.header import HeaderMapping
from dl3flow.io.provenance import PROVENANCE_KEYWORDS, add_to_header
from dl3flow.maps.geom import SkyGeom

__all__ = ["DatasetError"]

#: Header keywords of the primary HDU that ``meta`` may not use.
RESERVED_KEYS = frozenset(
    {
        "SIMPLE",
        "BITPIX",
        "NAXIS",
        "EXTEND",
        "NAME",
        "CREATOR",
        "CREATED",
        "DATE",
        "COMMENT",
        "HISTORY",
        "CHECKSUM",
        "DATASUM",
        "END",
        *PROVENANCE_KEYWORDS,  # written by MapDataset.write(provenance=...), not meta
    }
)

_TIME_SYSTEMS = {"tt", "utc", "tai", "tdb", "tcg", "tcb", "ut1", "local"}


class DatasetError(ValueError):
    """Invalid dataset content, incompatible datasets or an unreadable dataset file."""


class _Column(np.ndarray):
    """A FITS table column's values with its ``unit`` (as an astropy.table Column)."""

    unit = None


def _table_column(hdu, name: str) -> _Column:
    """Column ``name`` of a FITS table HDU as ``Table.read(hdu)[name]``: scaled values
    (masks left out: the readers here use the values) and the unit, parsed as FITS."""
    values = np.asarray(hdu.data[name]).view(_Column)
    unit = hdu.columns[name].unit
    values.unit = None if unit is None else u.Unit(unit, format="fits", parse_strict="warn")
    return values


class _ColumnsTable:
    """The columns (:func:`_table_column`) and header keywords of a FITS table HDU."""

    def __init__(self, columns: dict, meta: dict):
        self.columns, self.meta = columns, meta

    @property
    def colnames(self) -> list[str]:
        return list(self.columns)

    def __getitem__(self, name: str) -> _Column:
        return self.columns[name]


def _table_meta(header) -> dict:
    """Header keywords of a table HDU, without its structure and commentary cards."""
    return dict(HeaderMapping(header))


def _normalize_gti(gti) -> GTITable | None:
    """A new GTI table: float64 START/STOP in s and MJDREFI/MJDREFF/TIMESYS meta.

    ``gti`` is an `~astropy.table.Table` or a `~dl3flow.data.gti.GTITable`.
    """
    if gti is None:
        return None
    if not {"START", "STOP"} <= set(getattr(gti, "colnames", ())) or not hasattr(gti, "meta"):
        raise DatasetError("gti must be an astropy Table with START and STOP columns")
    meta = {k.upper(): v for k, v in gti.meta.items()}
    if "MJDREFI" in meta and "MJDREFF" in meta:
        mjdrefi, mjdreff = int(meta["MJDREFI"]), float(meta["MJDREFF"])
    elif "MJDREF" in meta:
        mjdref = float(meta["MJDREF"])
        mjdrefi = int(np.floor(mjdref))
        mjdreff = mjdref - mjdrefi
    else:
        raise DatasetError("gti meta needs MJDREFI and MJDREFF (or MJDREF)")
    timesys = str(meta.get("TIMESYS", "tt")).lower()
    if timesys not in _TIME_SYSTEMS:
        raise DatasetError(f"gti TIMESYS {timesys!r} is not a known time scale")
    unit = u.Unit(str(meta.get("TIMEUNIT", "s")))
    cols = {}
    for name in ("START", "STOP"):
        col = gti[name]
        col_unit = col.unit if getattr(col, "unit", None) is not None else unit
        cols[name] = u.Quantity(np.asarray(col, dtype=np.float64), col_unit).to_value("s")
    return GTITable(
        start=cols["START"],
        stop=cols["STOP"],
        meta={"MJDREFI": mjdrefi, "MJDREFF": mjdreff, "TIMESYS": timesys},
    )


def _gti_reference(gti):
    """The GTI's reference time (`~astropy.time.Time`; imports astropy.time)."""
    from astropy.time import Time

    meta = gti.meta
    return Time(meta["MJDREFI"], meta["MJDREFF"], format="mjd", scale=meta["TIMESYS"])


def _gti_hdu(gti: GTITable) -> fits.BinTableHDU:
    """The GTI HDU, as ``fits.BinTableHDU(Table(...), name="GTI")`` writes it."""
    columns = [
        fits.Column(name=name, format="D", unit="s", array=np.asarray(gti[name]))
        for name in ("START", "STOP")
    ]
    hdu = _table_hdu(columns)
    hdu.header["MJDREFI"] = int(gti.meta["MJDREFI"])
    hdu.header["MJDREFF"] = float(gti.meta["MJDREFF"])
    hdu.header["TIMESYS"] = gti.meta["TIMESYS"]
    hdu.name = "GTI"
    return hdu


def _gti_fits_hdu(gti: GTITable) -> fitsio.FitsHDU:
    """The GTI HDU (:func:`_gti_hdu`) for `dl3flow.io.fits`: same cards, same bytes."""
    columns = [
        fitsio.Column(name, np.asarray(gti[name], dtype=np.float64), unit="s")
        for name in ("START", "STOP")
    ]
    cards = [
        fitsio.card("MJDREFI", int(gti.meta["MJDREFI"])),
        fitsio.card("MJDREFF", float(gti.meta["MJDREFF"])),
        fitsio.card("TIMESYS", gti.meta["TIMESYS"]),
    ]
    cards.append(fitsio.card("EXTNAME", "GTI", "extension name"))  # as astropy's hdu.name
    return fitsio.table_hdu(columns, name="GTI", cards=cards)


def _table_hdu(columns: list, *, name: str | None = None) -> fits.BinTableHDU:
    """``fits.BinTableHDU.from_columns(columns, name=name)``, without astropy.table.

    ``BinTableHDU(data)`` imports astropy.table (and with it astropy.time: 0.2-0.4 s)
    only to check whether ``data`` is a Table; an empty HDU given the record array
    afterwards is the same HDU (same header, same bytes).
    """
    hdu = fits.BinTableHDU()
    hdu.data = fits.FITS_rec.from_columns(fits.ColDefs(columns))
    if name is not None:
        hdu.name = name
    return hdu


def _read_gti(hdu) -> GTITable:
    """GTI of a dataset file, as ``Table.read(hdu)`` (TIMESYS defaults to "tt")."""
    meta = _table_meta(hdu.header)
    meta.setdefault("TIMESYS", "tt")
    columns = {name: _table_column(hdu, name) for name in hdu.columns.names}
    return _normalize_gti(_ColumnsTable(columns, meta))


def _utc_now() -> tuple[str, str]:
    """The time now, UTC, as astropy ``Time.now()``'s ``iso`` and ``isot`` strings."""
    now = datetime.datetime.now(datetime.timezone.utc)
    text = now.strftime("%Y-%m-%d %H:%M:%S") + f".{now.microsecond // 1000:03d}"
    return text, text.replace(" ", "T")


# --------------------------------------------------------------------------- FITS output


def write_hdulist(hdulist, path, *, overwrite: bool = False, provenance=None):
    """Write a product's HDUs atomically (`dl3flow.io.atomic.atomic_write`), with provenance.

    Shared by every FITS product writer (datasets, on-off datasets, safe masks, maps),
    so they refuse to clobber, record provenance and name temporaries the same way.
    ``hdulist`` is an `~astropy.io.fits.HDUList` or a list of `dl3flow.io.fits.FitsHDU`
    (the fast path: a list's primary HDU keeps its astropy header for the provenance).
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    add_to_header(hdulist[0].header, provenance)
    if isinstance(hdulist, fits.HDUList):

        def writer(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                hdulist.writeto(fh)

    else:
        data = fitsio.to_bytes(hdulist)

        def writer(tmp: Path) -> None:
            tmp.write_bytes(data)

    atomic_write(path, writer, overwrite=True)


def _axis_columns(kind: str, edges: np.ndarray) -> tuple[dict, str, str]:
    """Band-table columns (centre, min, max), AXCOLS value and INTERP of one axis."""
    if kind == "energy":
        names, unit, interp = ("ENERGY", "E_MIN", "E_MAX"), "TeV", "log"
    elif kind == "energy_true":
        names, unit, interp = ("ENERGY_TRUE", "ENERGY_TRUE_MIN", "ENERGY_TRUE_MAX"), "TeV", "log"
    else:  # rad
        names, unit, interp = ("RAD", "RAD_MIN", "RAD_MAX"), "deg", "lin"
    lo, hi = edges[:-1], edges[1:]
    if interp == "log":
        center = np.exp(np.log(lo) + 0.5 * (np.log(hi) - np.log(lo)))
    else:
        center = 0.5 * (lo + hi)
    cols = {names[0]: (center, unit), names[1]: (lo, unit), names[2]: (hi, unit)}
    return cols, f"{names[1]},{names[2]}", interp


def _image_hdus(
    name: str,
    data: np.ndarray,
    sky: SkyGeom,
    axes: list[tuple[str, np.ndarray]],
    unit: str,
    meta: dict | None = None,
    *,
    bands: str | None = None,
) -> list[fitsio.FitsHDU]:
    """Image HDU plus its band table (``<NAME>_BANDS``), as gammapy's ``Map.to_hdulist``.

    ``axes`` lists the non-spatial axes in gammapy order (fastest first, i.e. the
    reverse of the numpy axis order of ``data``). ``bands``: another name for the
    band table (a maps file shares one, "BANDS"). Returned as `dl3flow.io.fits` HDUs
    with the cards in astropy's order.
    """
    bands = bands or f"{name}_BANDS"
    card = fitsio.card
    cards = fitsio.header_cards(sky.to_header())
    all_cols: dict = {"CHANNEL": (None, None)}
    axis_keys = []
    nbins = [edges.size - 1 for _, edges in axes]
    for i, (kind, edges) in enumerate(axes, start=1):
        cols, axcols, interp = _axis_columns(kind, edges)
        axis_keys.append((f"AXCOLS{i}", axcols, f"INTERP{i}", interp))
        # gammapy's band table: first axis varies fastest
        idx = np.unravel_index(np.arange(int(np.prod(nbins))), nbins[::-1])[::-1][i - 1]
        for cname, (values, cunit) in cols.items():
            all_cols[cname] = (values[idx], cunit)
    axis_cards = []
    for axkey, axcols, interpkey, interp in axis_keys:
        axis_cards += [card(axkey, axcols), card(interpkey, interp)]
    ny, nx = sky.shape
    cards += axis_cards
    cards.append(card("WCSSHAPE", "(" + ",".join(str(n) for n in [nx, ny, *nbins]) + ")"))
    cards += [card("BANDSHDU", bands), card("EXTNAME", name)]
    cards += [card("META", json.dumps(meta or {})), card("BUNIT", unit)]
    # Stored as gammapy stores maps (float32; computations here stay float64) and
    # masks as single bytes (gammapy writes int64 but reads any integer as bool):
    # less than half the bytes of float64/int64 (the demo: 30 -> 13 MB per observation).
    data = data.astype(np.uint8 if data.dtype == bool else np.float32)
    image = fitsio.image_hdu(data, name=name, cards=cards)

    nrow = int(np.prod(nbins))
    columns = [fitsio.Column("CHANNEL", np.arange(nrow, dtype=np.int64))]
    for cname, (values, cunit) in list(all_cols.items())[1:]:
        columns.append(fitsio.Column(cname, values.astype(np.float64), unit=cunit))
    # EXTNAME last, as gammapy's tables have it
    table = fitsio.table_hdu(columns, name=bands, cards=axis_cards)
    return [image, table]


def _check_meta_key(key) -> str:
    if not isinstance(key, str) or not key:
        raise DatasetError(f"meta key {key!r} is not a string")
    if (
        len(key) > 8
        or key.upper() != key
        or not all(c.isascii() and (c.isalnum() or c in "_-") for c in key)
    ):
        raise DatasetError(
            f"meta key {key!r} is not a FITS keyword (at most 8 characters of A-Z, 0-9, _, -)"
        )
    if key in RESERVED_KEYS or key.startswith("NAXIS"):
        raise DatasetError(f"meta key {key!r} is reserved for the file structure")
    return key


def _primary_and_meta_table(ds) -> list:
    """Primary HDU (NAME, CREATOR, dates, scalar ``ds.meta``) and META_TABLE (lists)."""
    from dl3flow import __version__

    header = fits.Header()  # after SIMPLE ... EXTEND, which dl3flow.io.fits writes
    now_iso, now_isot = _utc_now()
    header["NAME"] = ds.name
    header["CREATOR"] = f"dl3flow {__version__}"
    header["CREATED"] = now_iso
    header["DATE"] = (now_isot, "file creation date (UTC)")
    columns = []
    for key, value in ds.meta.items():
        key = _check_meta_key(key)
        if isinstance(value, (list, tuple, np.ndarray)):
            arr = np.asarray(value)
            if arr.ndim != 1 or arr.dtype.kind not in "biufU":
                raise DatasetError(
                    f"meta {key!r}: lists must be 1-D of numbers, bools or strings, got {value!r}"
                )
            columns.append((key, arr))
            continue
        if isinstance(value, np.generic):
            value = value.item()
        if not isinstance(value, (str, bool, int, float)):
            raise DatasetError(f"meta {key!r}: cannot write a {type(value).__name__} to FITS")
        try:
            header[key] = value
        except (ValueError, TypeError) as exc:
            raise DatasetError(f"meta {key!r} = {value!r} is not FITS-legal: {exc}") from exc
    hdus = [fitsio.primary_hdu(header)]
    if columns:  # one row, a vector column per list (as astropy writes a Table of them)
        cols = [
            fitsio.Column(key, (arr if arr.size else arr.astype(np.float64))[np.newaxis, :])
            for key, arr in columns
        ]
        extname = fitsio.card("EXTNAME", "META_TABLE", "extension name")
        hdus.append(fitsio.table_hdu(cols, name="META_TABLE", cards=[extname]))
    return hdus


# ---------------------------------------------------------------------------- FITS input

_AXIS_COLUMNS = {
    "energy": [("E_MIN", "E_MAX"), ("ENERGY_MIN", "ENERGY_MAX")],
    "energy_true": [("ENERGY_TRUE_MIN", "ENERGY_TRUE_MAX"), ("E_MIN", "E_MAX")],
    "rad": [("RAD_MIN", "RAD_MAX"), ("THETA_MIN", "THETA_MAX")],
}
_AXIS_UNIT = {"energy": "TeV", "energy_true": "TeV", "rad": "deg"}


def _hdu(hdulist, name: str, path):
    try:
        return hdulist[name]
    except KeyError:
        raise DatasetError(f"{path}: no {name} HDU") from None


def _read_axis(hdulist, hdu_name: str, kind: str, path, *, position: int = 0) -> np.ndarray:
    """Bin edges of axis ``kind`` from the BANDS table of an image HDU."""
    header = _hdu(hdulist, hdu_name, path).header
    bands = header.get("BANDSHDU", f"{hdu_name}_BANDS")
    bands_hdu = _hdu(hdulist, bands, path)
    colnames = list(bands_hdu.columns.names) if hasattr(bands_hdu, "columns") else []
    for lo_name, hi_name in _AXIS_COLUMNS[kind]:
        if lo_name in colnames and hi_name in colnames:
            break
    else:
        raise DatasetError(f"{path}: {bands} has no {kind} axis columns ({colnames})")
    # unique bins in order of appearance (the table is the product of all axes)
    lo_col, hi_col = _table_column(bands_hdu, lo_name), _table_column(bands_hdu, hi_name)
    unit = _AXIS_UNIT[kind]
    lo = u.Quantity(lo_col, lo_col.unit or unit).to_value(unit)
    hi = u.Quantity(hi_col, hi_col.unit or unit).to_value(unit)
    pairs = np.stack([lo, hi], axis=1)
    _, first = np.unique(pairs, axis=0, return_index=True)
    pairs = pairs[np.sort(first)]
    if np.any(pairs[1:, 0] != pairs[:-1, 1]):
        raise DatasetError(f"{path}: {bands} {kind} bins are not contiguous")
    return np.append(pairs[:, 0], pairs[-1, 1])


def _read_image(hdulist, name: str, path, unit: str | None = None) -> np.ndarray:
    hdu = _hdu(hdulist, name, path)
    if hdu.data is None:
        raise DatasetError(f"{path}: {name} HDU has no data")
    data = np.asarray(hdu.data)
    if unit is not None:
        bunit = hdu.header.get("BUNIT", "").strip()
        if bunit and u.Unit(bunit) != u.Unit(unit):
            data = u.Quantity(data, bunit).to_value(unit)
    if data.dtype.byteorder not in ("=", "|"):
        data = data.astype(data.dtype.newbyteorder("="))
    return data


def _native(values: np.ndarray) -> np.ndarray:
    """Column values as numbers, bools or `str` (astropy gives FITS strings as bytes-like)."""
    if values.dtype.kind == "S":
        return np.char.rstrip(np.char.decode(values, "ascii"), "\0 ")
    if values.dtype.kind == "U":
        return np.char.rstrip(values, "\0 ")
    return values


def _read_meta(hdulist, path) -> tuple[str, dict]:
    header = hdulist[0].header
    name = str(header.get("NAME", "")).strip()
    creator = str(header.get("CREATOR", ""))
    dl3flow_file = creator.startswith("dl3flow")
    meta = {}
    for key in header.keys():  # values parsed only for the keys kept (not provenance)
        if key in RESERVED_KEYS or key.startswith("NAXIS") or not key:
            continue
        meta[key] = header[key]
    if "META_TABLE" in hdulist:
        table = hdulist["META_TABLE"]
        nrow = 0 if table.data is None else len(table.data)
        for col in table.columns.names if nrow else ():
            key = col if dl3flow_file or col != "OBS_ID" else "OBS_IDS"
            values = _native(np.asarray(table.data[col]))
            if nrow == 1:
                meta.setdefault(key, np.atleast_1d(values[0]).tolist())
            else:  # one row per observation
                meta.setdefault(key, values.tolist())
    if "LIVETIME" not in meta:
        exp_meta = hdulist["EXPOSURE"].header.get("META")
        if exp_meta:
            try:
                livetime = json.loads(exp_meta).get("livetime")
                if livetime is not None:
                    meta["LIVETIME"] = float(u.Quantity(livetime).to_value("s"))
            except (ValueError, TypeError):
                pass
    return name, meta


def read_fits_product(path, parse, *, what: str, fast: bool = False):
    """``parse(hdulist, path)`` of a FITS file; every failure a `DatasetError` naming it.

    Parameters
    ----------
    path : str or `~pathlib.Path`
    parse : callable
        ``parse(hdulist, path)`` -> the product (raises `DatasetError` for bad content).
    what : str
        What the file holds, for the message ("dataset", "spectrum dataset").
    fast : bool
        ``parse`` also takes a `dl3flow.io.fits.FitsFile`: read the file with
        `dl3flow.io.fits.read_fits` (astropy for files outside its subset).
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    try:
        with open_fits(path, fast=fast) as hdulist:
            return parse(hdulist, path)
    except DatasetError:
        raise
    except Exception as exc:
        raise DatasetError(f"{path}: cannot read {what}: {exc}") from exc


@contextlib.contextmanager
def open_fits(path, *, fast: bool = True):
    """The HDUs of a FITS file: a `dl3flow.io.fits.FitsFile` where it can read the file
    (dl3flow's products; ~10x faster), else `astropy.io.fits.open` (``memmap=False``).

    Readers given these use only ``hdulist[name]``, ``name in hdulist``, an HDU's
    ``header``, ``data`` (``data[column]`` for tables) and ``columns`` (``names``,
    ``columns[name].unit``).
    """
    hdulist = None
    if fast:
        try:
            hdulist = fitsio.read_fits(path)
        except fitsio.UnsupportedFITS:
            pass
    if hdulist is not None:
        yield hdulist
        return
    with fits.open(path, memmap=False) as hdulist:
        yield hdulist
