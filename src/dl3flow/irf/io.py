"""Reading GADF IRF table HDUs by their HDU class (`read_irf`).

The reader is chosen by the HDU index's ``HDU_CLASS`` (or the header's
``HDUCLAS*`` keywords), which the header then cross-checks. Columns in equivalent
units (``cm2``, ``GeV``, ``1/(TeV s sr)``...) are converted to the internal units
of `dl3flow.irf.axes` on read; dimensionally wrong units raise `IrfError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import astropy.units as u
import numpy as np

from dl3flow.io.header import HeaderMapping
from dl3flow.irf.aeff import EffectiveArea2D
from dl3flow.irf.axes import IrfAxis, IrfError
from dl3flow.irf.background import _FOV_ALIGNMENTS, Background2D, Background3D
from dl3flow.irf.edisp import EnergyDispersion2D
from dl3flow.irf.psf import PSF3Gauss, PSFKing, PSFTable
from dl3flow.irf.rad_max import RadMax2D

__all__ = ["read_irf"]

_AXIS_UNIT = {
    "energy_true": "TeV",
    "energy": "TeV",
    "offset": "deg",
    "rad": "deg",
    "fov_lon": "deg",
    "fov_lat": "deg",
    "migra": "",
}


class _Table:
    """Column access on a GADF IRF table HDU with errors naming the source."""

    def __init__(self, hdu, source: str):
        self.source = source or "IRF HDU"
        header = getattr(hdu, "header", None)
        columns = getattr(hdu, "columns", None)
        if header is None or columns is None:
            raise IrfError(f"{self.source}: not a FITS binary table HDU")
        self.header = header
        # parsed lazily: a reduction reads a handful of keywords of each IRF header
        self.meta = HeaderMapping(header)
        self.hdu = hdu
        self.columns = {name.upper(): name for name in columns.names}

    def has(self, name: str) -> bool:
        return name.upper() in self.columns

    def column(self, name: str) -> tuple[np.ndarray, str | None, bool]:
        """Row 0 of a column: (values as float64, unit string or None, was float32)."""
        if not self.has(name):
            raise IrfError(f"{self.source}: missing column {name!r}")
        actual = self.columns[name.upper()]
        data = self.hdu.data
        if data is None or len(data) == 0:
            raise IrfError(f"{self.source}: table has no rows")
        try:
            raw = np.asarray(data[actual][0])
        except (TypeError, ValueError) as exc:  # pragma: no cover - exotic FITS
            raise IrfError(f"{self.source}: cannot read column {name!r}: {exc}") from exc
        if raw.dtype.kind not in "fiu":
            raise IrfError(f"{self.source}: column {name!r} is not numeric")
        is_f32 = raw.dtype.kind == "f" and raw.dtype.itemsize == 4
        unit = self.hdu.columns[actual].unit
        return np.atleast_1d(raw.astype(np.float64)), (unit or None), is_f32

    def quantity(self, name: str, target: str, *, default: str | None = None):
        """Row 0 of a column converted to ``target``; returns (values, factor, was float32)."""
        values, unit, is_f32 = self.column(name)
        factor = self.factor(name, unit, target, default=default)
        return (values * factor if factor != 1.0 else values), factor, is_f32

    def factor(self, name: str, unit: str | None, target: str, *, default: str | None) -> float:
        if unit is None or not unit.strip():
            if default is None:
                raise IrfError(
                    f"{self.source}: column {name!r} has no unit (expected {target or 'none'})"
                )
            unit = default
        parsed = _parse_unit(unit)
        if parsed is None:
            raise IrfError(f"{self.source}: column {name!r} has invalid unit {unit!r}")
        try:
            return float(parsed.to(u.Unit(target)))
        except u.UnitConversionError as exc:
            raise IrfError(
                f"{self.source}: column {name!r} has unit {unit!r}, "
                f"not convertible to {target or 'dimensionless'}"
            ) from exc

    def axis(self, prefix: str, name: str, interp: str) -> IrfAxis:
        unit = _AXIS_UNIT[name]
        default = "" if unit == "" else None
        lo, _, _ = self.quantity(f"{prefix}_LO", unit, default=default)
        hi, _, _ = self.quantity(f"{prefix}_HI", unit, default=default)
        if lo.shape != hi.shape or lo.ndim != 1:
            raise IrfError(
                f"{self.source}: {prefix}_LO and {prefix}_HI must be 1D of equal length, "
                f"got shapes {lo.shape} and {hi.shape}"
            )
        try:
            if np.allclose(hi, lo):
                return IrfAxis.from_nodes(hi, name=name, unit=unit, interp=interp)
            return IrfAxis.from_edges(np.append(lo, hi[-1]), name=name, unit=unit, interp=interp)
        except IrfError as exc:
            raise IrfError(f"{self.source}: {prefix} columns: {exc}") from exc

    def energy_true_axis(self) -> IrfAxis:
        for prefix in ("ENERG", "ETRUE"):
            if self.has(f"{prefix}_LO"):
                return self.axis(prefix, "energy_true", "log")
        raise IrfError(f"{self.source}: missing column 'ENERG_LO'")

    def data(self, name: str, axes, target: str, *, default=None, what="data"):
        """Data column transposed to the axes order (gammapy ``column[0].T``)."""
        values, factor, is_f32 = self.quantity(name, target, default=default)
        values = values.T
        shape = tuple(a.nbin for a in axes)
        if values.shape != shape:
            raise IrfError(
                f"{self.source}: column {name!r} has shape {values.shape} (after transposing "
                f"the stored array), expected {shape} from the axes"
            )
        _check_finite(values, self.source, name)
        return values, factor, is_f32


def _check_finite(values: np.ndarray, source: str, name: str) -> None:
    if not np.any(np.isfinite(values)):
        raise IrfError(f"{source}: column {name!r} has no finite values (NaN-only data)")


@lru_cache(maxsize=256)
def _parse_unit(text: str):
    for fmt in (None, "fits", "ogip"):
        try:
            unit = u.Unit(text, format=fmt, parse_strict="raise")
        except (ValueError, TypeError):
            continue
        if not isinstance(unit, u.UnrecognizedUnit):
            return unit
    return None


def _read_aeff(table: _Table) -> EffectiveArea2D:
    axes = (table.energy_true_axis(), table.axis("THETA", "offset", "lin"))
    data, _, _ = table.data("EFFAREA", axes, "m2")
    return EffectiveArea2D(axes=axes, data=data, meta=table.meta)


def _read_edisp(table: _Table) -> EnergyDispersion2D:
    axes = (
        table.energy_true_axis(),
        table.axis("MIGRA", "migra", "lin"),
        table.axis("THETA", "offset", "lin"),
    )
    data, _, _ = table.data("MATRIX", axes, "", default="")
    return EnergyDispersion2D(axes=axes, data=data, meta=table.meta)


def _read_psf_table(table: _Table) -> PSFTable:
    axes = (
        table.energy_true_axis(),
        table.axis("THETA", "offset", "lin"),
        table.axis("RAD", "rad", "lin"),
    )
    data, _, _ = table.data("RPSF", axes, "sr-1")
    return PSFTable(axes=axes, data=data, meta=table.meta)


def _read_parametric(table: _Table, columns: dict[str, tuple[str, str | None, str | None]]):
    axes = (table.energy_true_axis(), table.axis("THETA", "offset", "lin"))
    shape = tuple(a.nbin for a in axes)
    params, repairs = {}, []
    for name, (column, target, default) in columns.items():
        values, unit, _ = table.column(column)
        values = values.T
        if values.shape != shape:
            raise IrfError(
                f"{table.source}: column {column!r} has shape {values.shape} (after "
                f"transposing the stored array), expected {shape} from the axes"
            )
        _check_finite(values, table.source, column)
        if "sigma" in name and np.any(values == 0):
            # gammapy: "fixes some files where sigma is written as zero"; reported
            n_zero = int(np.sum(values == 0))
            repairs.append(
                f"{table.source}: {n_zero} of {values.size} {column} values are 0 and were "
                f"set to 1 {unit or ''} (gammapy's fix)".replace("  ", " ")
            )
            values = np.where(values == 0, 1.0, values)
        if target is not None:
            values = values * table.factor(column, unit, target, default=default)
        params[name] = values
    return axes, params, tuple(repairs)


def _read_psf_3gauss(table: _Table) -> PSF3Gauss:
    columns = {
        "sigma_1": ("SIGMA_1", "deg", None),
        "sigma_2": ("SIGMA_2", "deg", None),
        "sigma_3": ("SIGMA_3", "deg", None),
        "scale": ("SCALE", None, None),
        "ampl_2": ("AMPL_2", "", ""),
        "ampl_3": ("AMPL_3", "", ""),
    }
    axes, params, repairs = _read_parametric(table, columns)
    return PSF3Gauss(axes=axes, meta=table.meta, repairs=repairs, **params)


def _read_psf_king(table: _Table) -> PSFKing:
    columns = {"gamma": ("GAMMA", "", ""), "sigma": ("SIGMA", "deg", None)}
    axes, params, repairs = _read_parametric(table, columns)
    return PSFKing(axes=axes, meta=table.meta, repairs=repairs, **params)


def _background_data(table: _Table, axes):
    """Background array and precision, replicating gammapy ``BackgroundIRF.from_table``."""
    name = "BKG" if table.has("BKG") else "BGD" if table.has("BGD") else None
    if name is None:
        raise IrfError(f"{table.source}: missing column 'BKG' (or 'BGD')")
    # gammapy assumes 1/(MeV s sr) for a missing unit; so do we.
    values, factor, is_f32 = table.quantity(name, "MeV-1 s-1 sr-1", default="MeV-1 s-1 sr-1")
    shape = tuple(a.nbin for a in axes)
    data = values.T
    if data.shape != shape:
        data = data.T
    if data.shape != shape:
        raise IrfError(
            f"{table.source}: column {name!r} has shape {values.shape}, expected {shape} "
            "from the axes (or its transpose)"
        )
    _check_finite(data, table.source, name)
    return data, is_f32 and factor == 1.0


def _read_rad_max(table: _Table) -> RadMax2D:
    axes = (table.axis("ENERG", "energy", "log"), table.axis("THETA", "offset", "lin"))
    data, _, _ = table.data("RAD_MAX", axes, "deg")
    return RadMax2D(axes=axes, data=data, meta=table.meta)


def _read_bkg_2d(table: _Table) -> Background2D:
    axes = (table.axis("ENERG", "energy", "log"), table.axis("THETA", "offset", "lin"))
    data, f32 = _background_data(table, axes)
    return Background2D(axes=axes, data=data, meta=table.meta, float32_source=f32)


def _read_bkg_3d(table: _Table) -> Background3D:
    axes = (
        table.axis("ENERG", "energy", "log"),
        table.axis("DETX", "fov_lon", "lin"),
        table.axis("DETY", "fov_lat", "lin"),
    )
    data, f32 = _background_data(table, axes)
    raw = table.meta.get("FOVALIGN")
    if raw is None:
        alignment, assumed = "ALTAZ", True
    else:
        alignment, assumed = str(raw).strip().upper(), False
        if alignment not in _FOV_ALIGNMENTS:
            raise IrfError(
                f"{table.source}: unsupported FOVALIGN {raw!r} (expected one of {_FOV_ALIGNMENTS})"
            )
    return Background3D(
        axes=axes,
        data=data,
        meta=table.meta,
        float32_source=f32,
        fov_alignment=alignment,
        fov_alignment_assumed=assumed,
    )


@dataclass(frozen=True)
class _IrfClass:
    """Reader of one GADF IRF HDU class and the header tokens that identify it."""

    reader: Any
    #: Accepted HDUCLAS2 values, the GADF one first.
    hduclas2: tuple[str, ...]
    #: OGIP-style HDUCLAS4 of CTA caldb files, beside the GADF one (the class upper-cased).
    ogip: str


#: GADF HDU class -> reader and header tokens. HDUCLAS4 is either the full GADF token
#: (``AEFF_2D``...) or, in CTA caldb files (1DC, prod3b, prod5), OGIP-style (``2D``...),
#: which only names the IRF together with HDUCLAS2.
_IRF_CLASSES = {
    "aeff_2d": _IrfClass(_read_aeff, ("EFF_AREA",), "2D"),
    "edisp_2d": _IrfClass(_read_edisp, ("EDISP",), "2D"),
    "psf_table": _IrfClass(_read_psf_table, ("RPSF", "PSF"), "TABLE"),
    "psf_3gauss": _IrfClass(_read_psf_3gauss, ("RPSF", "PSF"), "3GAUSS"),
    "psf_king": _IrfClass(_read_psf_king, ("RPSF", "PSF"), "KING"),
    "bkg_2d": _IrfClass(_read_bkg_2d, ("BKG",), "2D"),
    "bkg_3d": _IrfClass(_read_bkg_3d, ("BKG",), "3D"),
    "rad_max_2d": _IrfClass(_read_rad_max, ("RAD_MAX",), "2D"),
}

#: (HDUCLAS2, OGIP HDUCLAS4) -> HDU class, e.g. ("EFF_AREA", "2D") -> "aeff_2d".
_OGIP_CLASSES = {
    (clas2, spec.ogip): name for name, spec in _IRF_CLASSES.items() for clas2 in spec.hduclas2
}


def _header_token(table: _Table, key: str) -> str | None:
    """Header keyword stripped and upper-cased; None when absent or blank."""
    value = table.meta.get(key)
    token = "" if value is None else str(value).strip().upper()
    return token or None


def _class_from_header(table: _Table) -> str:
    """HDU class named by HDUCLAS4 (GADF token) or by HDUCLAS2 + OGIP-style HDUCLAS4."""
    raw = table.meta.get("HDUCLAS4")
    clas2, clas4 = _header_token(table, "HDUCLAS2"), _header_token(table, "HDUCLAS4")
    if clas4 is None:
        raise IrfError(f"{table.source}: missing HDUCLAS4 header keyword")
    if clas4.lower() in _IRF_CLASSES:
        return clas4.lower()
    name = _OGIP_CLASSES.get((clas2, clas4))
    if name is not None:
        return name
    known = sorted(name.upper() for name in _IRF_CLASSES)
    pairs = sorted(f"{c2}+{c4}" for c2, c4 in _OGIP_CLASSES)
    raise IrfError(
        f"{table.source}: unknown HDUCLAS4 {raw!r} with HDUCLAS2 "
        f"{table.meta.get('HDUCLAS2')!r} (expected HDUCLAS4 one of {known}, or "
        f"HDUCLAS2+HDUCLAS4 one of {pairs})"
    )


def _check_class(table: _Table, name: str, origin: str) -> None:
    """Raise IrfError if HDUCLAS1/2/4 (where present) contradict HDU class ``name``.

    ``origin`` says where ``name`` came from, e.g. ``"the HDU index says"``.
    """
    spec = _IRF_CLASSES[name]
    expected = {
        "HDUCLAS1": ("RESPONSE",),
        "HDUCLAS2": spec.hduclas2,
        "HDUCLAS4": (name.upper(), spec.ogip),
    }
    for key, accepted in expected.items():
        token = _header_token(table, key)
        if token is not None and token not in accepted:
            raise IrfError(
                f"{table.source}: {origin} HDU class {name!r}, but {key} is "
                f"{table.meta.get(key)!r} (expected {' or '.join(map(repr, accepted))})"
            )


def read_irf(
    hdu: Any, *, hdu_class: str | None = None, source: str = ""
) -> (
    EffectiveArea2D
    | EnergyDispersion2D
    | PSFTable
    | PSF3Gauss
    | PSFKing
    | Background2D
    | Background3D
    | RadMax2D
):
    """Read a GADF IRF table HDU.

    The reader is chosen by ``hdu_class``, the ``HDU_CLASS`` of the HDU index (as
    GADF intends and gammapy does); without it, by the HDU's own header. The
    header's ``HDUCLAS1`` / ``HDUCLAS2`` / ``HDUCLAS4`` keywords are then only a
    cross-check: each one that is present must agree with the class (absent ones
    are accepted; ``HDUCLAS3`` is not checked).

    =============  ==========  ====================  ===========================
    HDU class      HDUCLAS2    HDUCLAS4 (GADF)       HDUCLAS4 (OGIP, CTA caldb)
    =============  ==========  ====================  ===========================
    ``aeff_2d``    EFF_AREA    AEFF_2D               2D
    ``edisp_2d``   EDISP       EDISP_2D              2D
    ``psf_table``  RPSF (PSF)  PSF_TABLE             TABLE
    ``psf_3gauss`` RPSF (PSF)  PSF_3GAUSS            3GAUSS
    ``psf_king``   RPSF (PSF)  PSF_KING              KING
    ``bkg_2d``     BKG         BKG_2D                2D
    ``bkg_3d``     BKG         BKG_3D                3D
    ``rad_max_2d`` RAD_MAX     RAD_MAX_2D            2D
    =============  ==========  ====================  ===========================

    ``HDUCLAS1``, when present, must be ``RESPONSE``. Without ``hdu_class`` the
    class is the GADF ``HDUCLAS4`` token, or the row of ``HDUCLAS2`` with the
    OGIP-style ``HDUCLAS4`` (e.g. ``EFF_AREA`` + ``2D`` -> ``aeff_2d``). All
    comparisons ignore case and surrounding blanks. Only the first table row is
    used (as gammapy does). Columns in equivalent units are converted to dl3flow's
    internal units.

    Parameters
    ----------
    hdu : astropy.io.fits.BinTableHDU
        The IRF HDU.
    hdu_class : str, optional
        GADF HDU class from the HDU index, in either case (``"aeff_2d"``,
        ``"AEFF_2D"``...). None: take it from the header.
    source : str, optional
        Description for error messages, e.g. ``HDULocation.source``:
        ``"file.fits.gz[AEFF] (obs 23523, aeff)"``.

    Returns
    -------
    EffectiveArea2D, EnergyDispersion2D, PSFTable, PSF3Gauss, PSFKing, Background2D, Background3D
    or RadMax2D

    Raises
    ------
    IrfError
        Unsupported ``hdu_class``; without it a missing or unknown ``HDUCLAS4``
        (or ``HDUCLAS2`` + ``HDUCLAS4`` pair); an ``HDUCLAS1`` / ``HDUCLAS2`` /
        ``HDUCLAS4`` contradicting the class (e.g. an event list, or an energy
        dispersion where the HDU index says ``aeff_2d``); a missing column, wrong
        shape, NaN-only data, missing / invalid / dimensionally wrong unit, invalid
        axis values, or an unsupported ``FOVALIGN``. The message starts with
        ``source``.
    """
    table = _Table(hdu, source)
    if hdu_class is None:
        name, origin = _class_from_header(table), "the header says"
    else:
        name, origin = str(hdu_class).strip().lower(), "the HDU index says"
        if name not in _IRF_CLASSES:
            raise IrfError(
                f"{table.source}: unsupported HDU class {hdu_class!r} "
                f"(expected one of {sorted(_IRF_CLASSES)})"
            )
    _check_class(table, name, origin)
    return _IRF_CLASSES[name].reader(table)
