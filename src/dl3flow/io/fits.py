"""Fast FITS writing and reading of dl3flow's own products (numpy, no HDU objects).

astropy's HDU machinery costs far more than the bytes it moves: building one
observation's dataset (8 image HDUs, their band tables, a GTI) as an
`~astropy.io.fits.HDUList` and writing it takes ~0.2 s, reading it back ~0.13 s,
against ~0.02 s each here. Per observation and step that is most of a job's work.

This module writes and reads the subset of FITS that the products use:

- images of 8-bit unsigned, 16/32/64-bit signed integers and 32/64-bit floats;
- binary tables of fixed-width columns (``L``, ``B``, ``I``, ``J``, ``K``, ``E``,
  ``D``, ``A`` with repeat counts and ``TDIMn``);
- header cards formatted as astropy formats them (values right-justified to
  column 30, strings quoted and padded to 8 characters); anything else (long
  strings with CONTINUE, HIERARCH keywords, values astropy refuses) is formatted by
  `astropy.io.fits.Card` itself, so that what is legal stays legal and what is not
  raises astropy's error.

Headers are read as `~astropy.io.fits.Header` (parsed lazily by astropy, cheap for
the few keywords a reader asks for), data with `numpy.frombuffer`. A file using
anything else (scaled or null-valued columns, variable-length arrays, compression,
gzip) makes :func:`read_fits` raise :class:`UnsupportedFITS`; the callers then use
`astropy.io.fits.open`. The bytes written are standard FITS: astropy, gammapy and
``fitsverify`` read them (tests/test_fitsio.py checks against astropy).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits

__all__ = [
    "BLOCK",
    "Column",
    "FitsHDU",
    "FitsFile",
    "UnsupportedFITS",
    "card",
    "header_cards",
    "primary_hdu",
    "image_hdu",
    "table_hdu",
    "to_bytes",
    "to_hdulist",
    "read_fits",
]

#: FITS block size (bytes).
BLOCK = 2880
_CARD = 80
_KEYWORD = re.compile(r"^[A-Z0-9_-]{1,8}$")
_COMMENTARY = {"COMMENT", "HISTORY", ""}
_QUOTE = "'"

_BITPIX = {
    np.dtype(np.uint8): 8,
    np.dtype(np.int16): 16,
    np.dtype(np.int32): 32,
    np.dtype(np.int64): 64,
    np.dtype(np.float32): -32,
    np.dtype(np.float64): -64,
}
_BITPIX_DTYPE = {bitpix: dtype.newbyteorder(">") for dtype, bitpix in _BITPIX.items()}
#: TFORM letter -> big-endian numpy dtype of one element.
_TFORM_DTYPE = {
    "L": np.dtype("S1"),
    "B": np.dtype("u1"),
    "I": np.dtype(">i2"),
    "J": np.dtype(">i4"),
    "K": np.dtype(">i8"),
    "E": np.dtype(">f4"),
    "D": np.dtype(">f8"),
    "A": np.dtype("S1"),
}
_DTYPE_TFORM = {"b": "L", "u1": "B", "i2": "I", "i4": "J", "i8": "K", "f4": "E", "f8": "D"}
_TFORM = re.compile(r"^\s*(\d*)([LBIJKEDA])\s*$")
_UNSUPPORTED_KEYS = re.compile(r"^(BSCALE|BZERO|BLANK|THEAP|ZIMAGE|T(SCAL|ZERO|NULL)\d+)$")


class UnsupportedFITS(ValueError):
    """A FITS file (or value) outside the subset this module handles; use astropy."""


# ----------------------------------------------------------------------------- cards


def _format_float(value: float) -> str:
    # as astropy.io.fits.card._format_float: str(), upper-case exponent, <= 20 chars
    text = str(value).replace("e", "E")
    if len(text) > 20:
        idx = text.find("E")
        text = text[:20] if idx < 0 else text[: 20 - (len(text) - idx)] + text[idx:]
    return text


def _format_value(value) -> str | None:
    """The value field as astropy writes it, or None where astropy must decide."""
    if isinstance(value, str):
        if not value.isascii() or not value.isprintable():
            return None
        if value == "":
            return "''"
        quoted = "'" + f"{value.replace(_QUOTE, _QUOTE * 2):8}" + "'"
        return f"{quoted:20}"
    if isinstance(value, (bool, np.bool_)):
        return f"{'T' if value else 'F':>20}"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):>20d}"
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return None  # astropy raises: NaN and inf are not FITS values
        return f"{_format_float(value):>20}"
    return None


def card(keyword: str, value=None, comment: str | None = None) -> str:
    """One 80-character header card, as `astropy.io.fits.Card` formats it.

    Parameters
    ----------
    keyword : str
    value : str, bool, int or float, optional
        For ``COMMENT`` and ``HISTORY``, the text.
    comment : str, optional

    Raises
    ------
    ValueError
        Where astropy raises (e.g. a NaN value, a non-ASCII string).
    """
    if keyword in _COMMENTARY:
        text = f"{keyword:8}{'' if value is None else value}"
        if len(text) <= _CARD and str(value or "").isascii():
            return f"{text:80}"
        return fits.Card(keyword, value).image
    formatted = None if not _KEYWORD.match(keyword) else _format_value(value)
    if formatted is not None:
        text = f"{keyword:8}= {formatted}"
        if comment:
            text += f" / {comment}"
        if len(text) <= _CARD and (not comment or comment.isascii()):
            return f"{text:80}"
    return fits.Card(keyword, value, comment).image  # long strings, HIERARCH, errors


def header_cards(header) -> list[str]:
    """The cards of an `~astropy.io.fits.Header`, a mapping or ``(key, value[, comment])``
    pairs, as 80-character strings (``END`` left out)."""
    if isinstance(header, fits.Header):
        text = header.tostring(sep="", endcard=False, padding=False)
        return [text[i : i + _CARD] for i in range(0, len(text), _CARD)]
    items = header.items() if hasattr(header, "items") else header
    out = []
    for item in items:
        key, value = item[0], item[1]
        comment = item[2] if len(item) > 2 else None
        if isinstance(value, tuple):
            value, comment = value
        out.append(card(key, value, comment))
    return out


# ------------------------------------------------------------------------------ HDUs


@dataclass(frozen=True)
class Column:
    """One binary-table column: ``array`` has one row per table row.

    Parameters
    ----------
    name : str
    array : `~numpy.ndarray`
        ``(nrow, ...)``: booleans, unsigned bytes, signed integers, floats or
        byte/unicode strings. Extra dimensions are written as a repeat count with
        ``TDIMn`` (as astropy writes a `~astropy.table.Table`'s vector columns).
    unit : str, optional
    """

    name: str
    array: np.ndarray
    unit: str | None = None


@dataclass(frozen=True)
class FitsHDU:
    """An HDU to write: ``kind`` is ``primary``, ``image`` or ``table``.

    ``cards`` are the 80-character header cards after the structural ones
    (XTENSION ... TFIELDS, TTYPEn, TFORMn, TUNITn, TDIMn), EXTNAME included.
    """

    kind: str
    cards: tuple[str, ...] = ()
    data: np.ndarray | None = None
    columns: tuple[Column, ...] = ()
    header: fits.Header | None = field(default=None, compare=False)


def primary_hdu(header=None) -> FitsHDU:
    """A data-less primary HDU with the cards of ``header`` (see :func:`header_cards`).

    An `~astropy.io.fits.Header` given here is kept (as ``FitsHDU.header``) so that
    writers can still add cards to it (provenance) before :func:`to_bytes`.
    """
    if header is None:
        header = fits.Header()
    if isinstance(header, fits.Header):
        return FitsHDU("primary", header=header)
    return FitsHDU("primary", cards=tuple(header_cards(header)))


def image_hdu(data: np.ndarray, *, name: str, cards: Iterable[str] = ()) -> FitsHDU:
    """An image extension of ``data`` (numpy order, the FITS NAXIS1 axis last).

    ``cards`` follow the structural keywords; an EXTNAME card among them stays in
    its place, else ``EXTNAME = name`` comes last.

    Raises
    ------
    UnsupportedFITS
        If ``data``'s dtype is not one of uint8, int16/32/64, float32/64.
    """
    data = np.asarray(data)
    if data.dtype.newbyteorder("=") not in _BITPIX:
        raise UnsupportedFITS(f"image {name}: cannot write dtype {data.dtype}")
    return FitsHDU("image", cards=_with_extname(cards, name), data=data)


def table_hdu(columns: Sequence[Column], *, name: str, cards: Iterable[str] = ()) -> FitsHDU:
    """A binary-table extension; ``cards`` come after the column keywords, then EXTNAME."""
    nrows = {len(c.array) for c in columns}
    if len(nrows) > 1:
        raise UnsupportedFITS(f"table {name}: columns of different lengths {sorted(nrows)}")
    return FitsHDU("table", cards=_with_extname(cards, name), columns=tuple(columns))


def _with_extname(cards: Iterable[str], name: str) -> tuple[str, ...]:
    """``cards`` with an EXTNAME card: where they have one already, else last."""
    cards = tuple(cards)
    if any(c.startswith("EXTNAME ") for c in cards):
        return cards
    return (*cards, card("EXTNAME", name))


def to_hdulist(hdus: Sequence[FitsHDU]) -> fits.HDUList:
    """``hdus`` as an `~astropy.io.fits.HDUList` (for writers that mix in astropy HDUs)."""
    return fits.HDUList.fromstring(to_bytes(hdus))


def _column_layout(col: Column) -> tuple[np.ndarray, list[str]]:
    """Big-endian cell data ``(nrow, nbytes)`` view and the TFORM/TUNIT/TDIM cards."""
    arr = np.asarray(col.array)
    nrow, cell = arr.shape[0], arr.shape[1:]
    tdim = None
    if arr.dtype.kind in "US":
        width = max(1, arr.dtype.itemsize // (4 if arr.dtype.kind == "U" else 1))
        data = np.char.encode(arr, "ascii") if arr.dtype.kind == "U" else arr
        data = np.asarray(data, dtype=f"S{width}")
        repeat = width * int(np.prod(cell, dtype=int))
        tform = f"{repeat}A"
        if cell:
            tdim = "(" + ",".join(str(n) for n in (width, *cell[::-1])) + ")"
    else:
        kind = "b" if arr.dtype.kind == "b" else f"{arr.dtype.kind}{arr.dtype.itemsize}"
        if kind not in _DTYPE_TFORM:
            raise UnsupportedFITS(f"column {col.name}: cannot write dtype {arr.dtype}")
        letter = _DTYPE_TFORM[kind]
        if letter == "L":
            data = np.where(arr, b"T", b"F").astype("S1")
        else:
            data = arr.astype(_TFORM_DTYPE[letter], copy=False)
        repeat = int(np.prod(cell, dtype=int))
        tform = f"{repeat}{letter}" if repeat != 1 else letter
        if cell:  # as astropy writes a Table's vector columns: TDIM even for one axis
            tdim = "(" + ",".join(str(n) for n in cell[::-1]) + ")"
    data = np.ascontiguousarray(data)
    row_bytes = data.dtype.itemsize * int(np.prod(data.shape[1:], dtype=int))
    raw = data.view(np.uint8).reshape(nrow, row_bytes)
    return raw, [tform, tdim]


def _structural(hdu: FitsHDU) -> tuple[list[str], bytes]:
    if hdu.kind == "primary":
        return [
            card("SIMPLE", True, "conforms to FITS standard"),
            card("BITPIX", 8, "array data type"),
            card("NAXIS", 0, "number of array dimensions"),
            card("EXTEND", True),
        ], b""
    if hdu.kind == "image":
        data = hdu.data
        bitpix = _BITPIX[data.dtype.newbyteorder("=")]
        cards = [
            card("XTENSION", "IMAGE", "Image extension"),
            card("BITPIX", bitpix, "array data type"),
            card("NAXIS", data.ndim, "number of array dimensions"),
        ]
        cards += [card(f"NAXIS{i}", n) for i, n in enumerate(data.shape[::-1], start=1)]
        cards += [card("PCOUNT", 0, "number of parameters"), card("GCOUNT", 1, "number of groups")]
        payload = np.ascontiguousarray(data, dtype=data.dtype.newbyteorder(">")).tobytes()
        return cards, payload
    cells = [_column_layout(c) for c in hdu.columns]
    nrow = len(hdu.columns[0].array) if hdu.columns else 0
    width = sum(raw.shape[1] for raw, _ in cells)
    cards = [
        card("XTENSION", "BINTABLE", "binary table extension"),
        card("BITPIX", 8, "array data type"),
        card("NAXIS", 2, "number of array dimensions"),
        card("NAXIS1", width, "length of dimension 1"),
        card("NAXIS2", nrow, "length of dimension 2"),
        card("PCOUNT", 0, "number of group parameters"),
        card("GCOUNT", 1, "number of groups"),
        card("TFIELDS", len(hdu.columns), "number of table fields"),
    ]
    for i, (col, (_, (tform, tdim))) in enumerate(zip(hdu.columns, cells, strict=True), 1):
        cards.append(card(f"TTYPE{i}", col.name))
        cards.append(card(f"TFORM{i}", tform))
        if col.unit:
            cards.append(card(f"TUNIT{i}", col.unit))
        if tdim:
            cards.append(card(f"TDIM{i}", tdim))
    payload = np.hstack([raw for raw, _ in cells]).tobytes() if cells and nrow else b""
    return cards, payload


def _pad(raw: bytes, fill: bytes) -> bytes:
    return raw + fill * (-len(raw) % BLOCK)


def to_bytes(hdus: Sequence[FitsHDU]) -> bytes:
    """The FITS file of ``hdus`` (the first one the primary HDU)."""
    if not hdus or hdus[0].kind != "primary":
        raise UnsupportedFITS("the first HDU must be the primary HDU")
    parts = []
    for hdu in hdus:
        cards, payload = _structural(hdu)
        user = header_cards(hdu.header) if hdu.header is not None else list(hdu.cards)
        text = "".join(cards) + "".join(user) + f"{'END':80}"
        parts.append(_pad(text.encode("ascii"), b" "))
        parts.append(_pad(payload, b"\0"))
    return b"".join(parts)


# ---------------------------------------------------------------------------- reading


class _ColumnInfo:
    __slots__ = ("name", "unit")

    def __init__(self, name: str, unit: str | None):
        self.name, self.unit = name, unit


class _Columns:
    """``hdu.columns`` as astropy's ColDefs offers it to readers: names, per-name unit."""

    def __init__(self, infos: list[_ColumnInfo]):
        self._infos = {info.name: info for info in infos}

    @property
    def names(self) -> list[str]:
        return list(self._infos)

    def __getitem__(self, name: str) -> _ColumnInfo:
        return self._infos[name]


class _TableData:
    """Column access ``data[name]`` (native values; ``L`` as bool, ``A`` as str)."""

    def __init__(self, columns: dict, nrow: int):
        self._columns, self._nrow = columns, nrow

    @property
    def names(self) -> list[str]:
        return list(self._columns)

    def __getitem__(self, name: str) -> np.ndarray:
        return self._columns[name]

    def __len__(self) -> int:
        return self._nrow


@dataclass(frozen=True, eq=False)
class _ReadHDU:
    name: str
    header: fits.Header
    data: object
    columns: _Columns | None = None


class FitsFile:
    """The HDUs of a file read by :func:`read_fits`: ``f[0]``, ``f["NAME"]``, ``"NAME" in f``.

    Each HDU has ``name``, ``header`` (`~astropy.io.fits.Header`), ``data``
    (an image array, a table's columns by name, or None) and, for tables,
    ``columns`` (``names``; ``columns[name].unit``), the parts of astropy's HDUs
    that dl3flow's readers use.
    """

    def __init__(self, hdus: list[_ReadHDU]):
        self._hdus = hdus
        self._names = {}
        for i, hdu in enumerate(hdus):
            self._names.setdefault(hdu.name.upper(), i)

    def __getitem__(self, key):
        if isinstance(key, int):
            return self._hdus[key]
        try:
            return self._hdus[self._names[key.upper()]]
        except KeyError:
            raise KeyError(f"Extension {key!r} not found.") from None

    def __contains__(self, key) -> bool:
        return isinstance(key, str) and key.upper() in self._names

    def __len__(self) -> int:
        return len(self._hdus)

    def __iter__(self):
        return iter(self._hdus)


def _header_end(buf: bytes, start: int) -> int:
    """Offset just after the header block that holds the END card."""
    pos = start
    while pos < len(buf):
        block = buf[pos : pos + BLOCK]
        pos += BLOCK
        for i in range(0, len(block), _CARD):
            if block[i : i + 3] == b"END" and block[i + 3 : i + _CARD].strip() == b"":
                return pos
    raise UnsupportedFITS("no END card")


def _read_table(header: fits.Header, buf: bytes, offset: int) -> tuple[_TableData, _Columns]:
    nrow, width = int(header["NAXIS2"]), int(header["NAXIS1"])
    names, fields, infos, post = [], [], [], {}
    for i in range(1, int(header["TFIELDS"]) + 1):
        name = str(header.get(f"TTYPE{i}", f"col{i}")).strip()
        match = _TFORM.match(str(header[f"TFORM{i}"]))
        if match is None:
            raise UnsupportedFITS(f"column {name}: TFORM {header[f'TFORM{i}']!r}")
        repeat, letter = int(match.group(1) or 1), match.group(2)
        tdim = header.get(f"TDIM{i}")
        dims = () if tdim is None else tuple(int(n) for n in str(tdim).strip("() ").split(","))
        base = _TFORM_DTYPE[letter]
        if letter == "A":
            width_a = dims[0] if dims else repeat
            cell = dims[1:][::-1] if dims else ()
            dtype = np.dtype((f"S{width_a}", cell)) if cell else np.dtype(f"S{width_a}")
        else:
            cell = dims[::-1] if dims else ((repeat,) if repeat != 1 else ())
            dtype = np.dtype((base, cell)) if cell else base
        names.append(name)
        fields.append(dtype)
        post[name] = letter
        unit = header.get(f"TUNIT{i}")
        infos.append(_ColumnInfo(name, None if unit in (None, "") else str(unit)))
    record = np.dtype({"names": [f"f{i}" for i in range(len(names))], "formats": fields})
    if record.itemsize != width:
        raise UnsupportedFITS(f"row width {record.itemsize} != NAXIS1 {width}")
    rows = np.frombuffer(buf, dtype=record, count=nrow, offset=offset)
    columns = {}
    for i, name in enumerate(names):
        values = rows[f"f{i}"]
        if post[name] == "L":
            values = values == b"T"
        elif post[name] == "A":
            values = np.char.rstrip(np.char.decode(values, "ascii"), "\0 ")
        else:
            values = values.astype(values.dtype.newbyteorder("="))
        columns[name] = values
    return _TableData(columns, nrow), _Columns(infos)


def read_fits(path) -> FitsFile:
    """Read a whole FITS file of the subset this module writes.

    Raises
    ------
    UnsupportedFITS
        If the file (gzip, compressed images, scaled data, variable-length arrays,
        random groups ...) needs astropy: use `astropy.io.fits.open`.
    OSError
        If the file cannot be read.
    """
    buf = Path(path).read_bytes()
    if not buf.startswith(b"SIMPLE  ="):
        raise UnsupportedFITS(f"{path}: not a plain FITS file")
    hdus, pos = [], 0
    while pos < len(buf):
        end = _header_end(buf, pos)
        header = fits.Header.fromstring(buf[pos:end].decode("ascii"))
        if any(_UNSUPPORTED_KEYS.match(k) for k in header.keys()):
            raise UnsupportedFITS(f"{path}: scaled or null-valued data")
        if header.get("GROUPS") or header.get("PCOUNT", 0):
            raise UnsupportedFITS(f"{path}: random groups or a heap")
        naxis = int(header["NAXIS"])
        shape = tuple(int(header[f"NAXIS{i}"]) for i in range(naxis, 0, -1))
        size = (abs(int(header["BITPIX"])) // 8) * int(np.prod(shape, dtype=int)) if naxis else 0
        if end + size > len(buf):
            raise UnsupportedFITS(f"{path}: truncated")
        xtension = str(header.get("XTENSION", "")).strip()
        name = str(header.get("EXTNAME", "PRIMARY" if not hdus else "")).strip()
        data, columns = None, None
        if xtension == "BINTABLE":
            data, columns = _read_table(header, buf, end)
        elif naxis and size:
            if xtension not in ("", "IMAGE"):
                raise UnsupportedFITS(f"{path}: {xtension} extension")
            dtype = _BITPIX_DTYPE[int(header["BITPIX"])]
            raw = np.frombuffer(buf, dtype=dtype, count=size // dtype.itemsize, offset=end)
            data = raw.reshape(shape).astype(dtype.newbyteorder("="))
        hdus.append(_ReadHDU(name, header, data, columns))
        pos = end + size + (-size % BLOCK)
    return FitsFile(hdus)
