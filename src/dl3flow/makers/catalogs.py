"""Source catalogs for exclusion masks: one reader, one normalised table.

:func:`read_catalog` turns any supported catalog into an astropy table with the
columns ``NAME`` (str), ``RA``, ``DEC`` (ICRS, deg) and ``EXTENSION`` (deg, 0 for
point-like sources), plus the columns used by the optional cuts (under their
catalog names). The exclusion radius built from it (see
`dl3flow.makers.exclusion.catalog_exclusion`) is ``max(min_radius, scale * EXTENSION + margin)``.

Supported catalogs (``CatalogSpec.kind``) and the columns they are read with
(the same columns gammapy's ``gammapy.catalog`` classes use for position and
morphology):

``"hgps"`` -- H.E.S.S. Galactic Plane Survey (H.E.S.S. Collaboration, A&A 612, A1, 2018;
    CC BY 4.0). HDU ``HGPS_SOURCES``; name ``Source_Name``; position ``GLON``/``GLAT``
    (galactic). Extension: ``Size`` -- the sigma of the fitted (multi-)Gaussian
    morphology, or the shell radius for the shell-type sources taken from dedicated
    analyses (``Spatial_Model == "Shell"``); it is empty for point-like sources, for
    which ``Size_UL`` (the upper limit on the Gaussian sigma) is used instead.
``"gamma-cat"`` -- the open TeV source catalog (gamma-cat, Gammapy data,
    CC BY-NC-SA 4.0). HDU 1; name ``common_name``; position ``ra``/``dec`` (ICRS).
    Extension: the larger of ``morph_sigma`` and ``morph_sigma2`` -- the sigma (and
    second sigma of an elliptical model) of a Gaussian (``morph_type == "gauss"``), or
    the outer shell radius (``"shell"``); empty (point-like) for ``"point"``/``"none"``.
``"4fgl"``, ``"3fgl"``, ``"3fhl"`` -- Fermi-LAT catalogs (CC0; e.g. 3FGL Acero et al.
    2015, 4FGL Abdollahi et al. 2020, 3FHL Ajello et al. 2017). HDU
    ``LAT_Point_Source_Catalog``; name ``Source_Name``; position ``RAJ2000``/``DEJ2000``
    (ICRS). Extension: ``Model_SemiMajor`` of the ``ExtendedSources`` HDU, matched
    through ``Extended_Source_Name`` -- the semi-major axis of the spatial template
    (disk radius, Gaussian width, or the size quoted for a map template); 0 for point
    sources. The three share one format; the source-name prefix of the file is
    checked against ``kind`` and a mismatch is logged (the ``gll_psc_v16`` file in the
    shared catalogs, for example, is 3FGL, not 4FGL).
``"3hwc"`` -- the third HAWC catalog (Albert et al., ApJ 905, 76, 2020; CC BY-NC-SA 4.0).
    ECSV; name ``source_name``; position ``ra``/``dec`` (ICRS). No extension column:
    every source is point-like. (``search_radius`` / ``spec0_radius`` are the radii of
    the disk hypotheses used for the search and the spectrum, not measured sizes; use
    ``columns={"extension": ["search_radius"]}`` to exclude with them.)
``"table"`` -- any FITS or ECSV table, described by ``columns`` (see `CatalogColumns`).

For every kind, ``columns`` may override the preset (e.g. ``{"extension": ["R70"]}``
for HGPS). When several extension columns are given, the largest finite value of a
row is used; a row with none is point-like (extension 0).

Cuts keep the rows whose values lie within ``[min, max]`` (both inclusive); a row
with a missing (masked or NaN) value fails the cut.

The catalogs themselves are never copied into dl3flow: they are read from where the
configuration points (see the licences and references above, and the README of the
catalog directory).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

import astropy.units as u
import numpy as np

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = [
    "ExclusionError",
    "CatalogError",
    "CatalogColumns",
    "CatalogSpec",
    "CATALOG_KINDS",
    "PRESETS",
    "read_catalog",
]

log = logging.getLogger(__name__)


class ExclusionError(ValueError):
    """Invalid exclusion-mask input; the message names the config key concerned.

    Defined here (and re-exported by `dl3flow.makers.exclusion`) so that catalog errors
    are exclusion errors too.
    """


class CatalogError(ExclusionError):
    """A catalog that cannot be read as configured (message names the config key)."""


@dataclass(frozen=True)
class CatalogColumns:
    """Which columns of a table hold a source's name, position and extension.

    Parameters
    ----------
    name : str
        Source name column.
    lon, lat : str
        Position columns (deg unless the column has an angular unit).
    frame : str
        Astropy frame of ``lon``/``lat`` (``"icrs"``, ``"galactic"``, ``"fk5"`` ...).
    extension : tuple of str
        Extension columns (deg unless the column has an angular unit); the largest
        finite value per row is used, none means point-like.
    hdu : str or int, optional
        FITS HDU name or index (ignored for ECSV); None reads the first table.
    """

    name: str
    lon: str
    lat: str
    frame: str = "icrs"
    extension: tuple[str, ...] = ()
    hdu: str | int | None = None

    def __post_init__(self):
        ext = self.extension
        object.__setattr__(self, "extension", (ext,) if isinstance(ext, str) else tuple(ext))


_FERMI = CatalogColumns(
    name="Source_Name",
    lon="RAJ2000",
    lat="DEJ2000",
    frame="icrs",
    extension=("Model_SemiMajor",),
    hdu="LAT_Point_Source_Catalog",
)

#: Column presets of the known catalogs (``"table"`` has none: ``columns`` is required).
PRESETS: dict[str, CatalogColumns] = {
    "hgps": CatalogColumns(
        name="Source_Name",
        lon="GLON",
        lat="GLAT",
        frame="galactic",
        extension=("Size", "Size_UL"),
        hdu="HGPS_SOURCES",
    ),
    "gamma-cat": CatalogColumns(
        name="common_name",
        lon="ra",
        lat="dec",
        frame="icrs",
        extension=("morph_sigma", "morph_sigma2"),
        hdu=1,
    ),
    "4fgl": _FERMI,
    "3fgl": _FERMI,
    "3fhl": _FERMI,
    "3hwc": CatalogColumns(name="source_name", lon="ra", lat="dec", frame="icrs"),
}
CATALOG_KINDS = (*PRESETS, "table")
_FERMI_PREFIX = {"4fgl": "4FGL", "3fgl": "3FGL", "3fhl": "3FHL"}


def _angle(value, what: str) -> float:
    """A non-negative angle in deg from a float (deg), Quantity or string like '0.3 deg'."""
    try:
        q = u.Quantity(value, u.deg) if not isinstance(value, str) else u.Quantity(value)
        if q.unit == u.dimensionless_unscaled:
            q = q.value * u.deg
        result = float(q.to_value(u.deg))
    except (TypeError, ValueError, u.UnitsError) as exc:
        raise CatalogError(f"{what}: expected an angle such as '0.3 deg', got {value!r}") from exc
    if not math.isfinite(result) or result < 0:
        raise CatalogError(f"{what}: must be a finite angle >= 0, got {value!r}")
    return result


@dataclass(frozen=True)
class CatalogSpec:
    """A catalog and how to build exclusion regions from it.

    Parameters
    ----------
    kind : {"hgps", "gamma-cat", "4fgl", "3fgl", "3fhl", "3hwc", "table"}
        Catalog format (see the module docstring for the columns each uses).
    path : str or `pathlib.Path`
        FITS (possibly gzipped) or ECSV file.
    columns : mapping or `CatalogColumns`, optional
        Column names: required for ``"table"`` (keys of `CatalogColumns`), optional
        overrides of the preset for the other kinds.
    min_radius, scale, margin :
        Exclusion radius ``max(min_radius, scale * extension + margin)``; angles in
        deg (floats, Quantities or strings such as ``"0.3 deg"``), ``scale`` a number.
    cuts : mapping, optional
        ``{column: minimum}`` or ``{column: [minimum, maximum]}`` (either may be
        None) on flux or significance columns, e.g. ``{"Sqrt_TS": 5}``.
    """

    kind: str
    path: str | Path
    columns: Mapping | CatalogColumns | None = None
    min_radius: float = 0.3
    scale: float = 2.0
    margin: float = 0.2
    cuts: Mapping = field(default_factory=dict)

    def __post_init__(self):
        kind = str(self.kind).lower()
        if kind not in CATALOG_KINDS:
            raise CatalogError(f"catalog kind must be one of {CATALOG_KINDS}, got {self.kind!r}")
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "min_radius", _angle(self.min_radius, "min_radius"))
        object.__setattr__(self, "margin", _angle(self.margin, "margin"))
        try:
            scale = float(self.scale)
        except (TypeError, ValueError) as exc:
            raise CatalogError(f"scale: expected a number, got {self.scale!r}") from exc
        if not math.isfinite(scale) or scale < 0:
            raise CatalogError(f"scale: must be a finite number >= 0, got {self.scale!r}")
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "cuts", dict(self.cuts or {}))

    def resolved_columns(self, *, key: str = "catalog") -> CatalogColumns:
        """The preset of ``kind`` updated with ``columns``."""
        overrides = self.columns
        if isinstance(overrides, CatalogColumns):
            return overrides
        overrides = dict(overrides or {})
        allowed = {f.name for f in fields(CatalogColumns)}
        unknown = sorted(set(overrides) - allowed)
        if unknown:
            raise CatalogError(
                f"{key}.columns: unknown column role(s) {unknown}; allowed: {sorted(allowed)}"
            )
        preset = PRESETS.get(self.kind)
        if preset is None:
            missing = [r for r in ("name", "lon", "lat") if r not in overrides]
            if missing:
                raise CatalogError(
                    f"{key}.columns: a 'table' catalog needs the column role(s) {missing}"
                )
            return CatalogColumns(**overrides)
        return replace(preset, **overrides)

    def to_recipe(self) -> dict:
        """JSON-ready description (for the mask file's recipe)."""
        columns = self.resolved_columns()
        return {
            "kind": self.kind,
            "path": str(self.path),
            "columns": {
                "name": columns.name,
                "lon": columns.lon,
                "lat": columns.lat,
                "frame": columns.frame,
                "extension": list(columns.extension),
            },
            "min_radius_deg": self.min_radius,
            "scale": self.scale,
            "margin_deg": self.margin,
            "cuts": {k: _cut_bounds(v, k, "cuts") for k, v in self.cuts.items()},
        }


def _cut_bounds(value, column: str, key: str) -> list:
    """``[min, max]`` (None for open) of a cut given as a number or a pair."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != 2:
            raise CatalogError(f"{key}.{column}: expected a minimum or [min, max], got {value!r}")
        bounds = list(value)
    else:
        bounds = [value, None]
    try:
        return [None if b is None else float(b) for b in bounds]
    except (TypeError, ValueError) as exc:
        raise CatalogError(f"{key}.{column}: cut bounds must be numbers, got {value!r}") from exc


def _read_table(path: Path, hdu, *, key: str) -> Table:
    from astropy.table import Table

    if not path.is_file():
        raise CatalogError(f"{key}: catalog file {str(path)!r} does not exist")
    name = path.name.lower()
    try:
        if name.endswith(".ecsv"):
            return Table.read(path, format="ascii.ecsv")
        return Table.read(path, format="fits", hdu=hdu if hdu is not None else 1)
    except Exception as exc:
        raise CatalogError(f"{key}: cannot read catalog {str(path)!r}: {exc}") from exc


def _require(table: Table, columns: dict[str, str], path: Path, *, key: str) -> None:
    for role, column in columns.items():
        if column not in table.colnames:
            raise CatalogError(
                f"{key}: catalog {str(path)!r} has no column {column!r} "
                f"(configured as {role}); available: {', '.join(table.colnames)}"
            )


def _float_column(table: Table, column: str, unit, *, key: str = "catalog") -> np.ndarray:
    """Values as float with missing (masked) entries as NaN, converted to ``unit``."""
    col = table[column]
    try:
        data = np.array(np.ma.getdata(col), dtype=float)
    except (TypeError, ValueError) as exc:
        raise CatalogError(f"{key}: column {column!r} is not numeric ({col.dtype})") from exc
    mask = np.ma.getmaskarray(col)
    if unit is not None and col.unit is not None:
        try:
            data = u.Quantity(data, col.unit).to_value(unit)
        except u.UnitsError as exc:
            raise CatalogError(
                f"{key}: column {column!r} has unit {col.unit}, expected an angle"
            ) from exc
    return np.where(mask, np.nan, data)


def _names(table: Table, column: str) -> np.ndarray:
    """Stripped source names; masked entries become empty strings."""
    values = table[column]
    missing = np.ma.getmaskarray(values)
    out = []
    for v, m in zip(np.ma.getdata(values), missing, strict=True):
        v = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
        out.append("" if m else v.strip())
    return np.array(out, dtype=str)


def _fermi_extension(spec: CatalogSpec, path: Path, table: Table, *, key: str) -> np.ndarray:
    """``Model_SemiMajor`` of each source's ``ExtendedSources`` row (NaN if point-like)."""
    if "Extended_Source_Name" not in table.colnames:
        raise CatalogError(
            f"{key}: catalog {str(path)!r} has no column 'Extended_Source_Name' "
            f"(needed to match {spec.kind} extended sources)"
        )
    extended = _read_table(path, "ExtendedSources", key=key)
    _require(extended, {"extension": "Model_SemiMajor", "name": "Source_Name"}, path, key=key)
    sizes = dict(
        zip(
            _names(extended, "Source_Name"),
            _float_column(extended, "Model_SemiMajor", u.deg),
            strict=True,
        )
    )
    ext_names = _names(table, "Extended_Source_Name")
    unknown = sorted({n for n in ext_names if n and n not in sizes})
    if unknown:
        raise CatalogError(
            f"{key}: catalog {str(path)!r}: extended sources {unknown} are missing "
            f"from its ExtendedSources HDU"
        )
    return np.array([sizes[n] if n else np.nan for n in ext_names], dtype=float)


def read_catalog(spec: CatalogSpec, *, key: str = "catalog") -> Table:
    """Read a catalog as a table of names, ICRS positions and extensions.

    Parameters
    ----------
    spec : `CatalogSpec`
    key : str
        Config key of the catalog entry (e.g. ``"analyses.msh.exclusion.catalogs[0]"``),
        used in error messages.

    Returns
    -------
    table : `~astropy.table.Table`
        Columns ``NAME``, ``RA``, ``DEC`` (deg, ICRS), ``EXTENSION`` (deg) and the cut
        columns; only the rows passing the cuts. ``meta`` records the catalog kind,
        path and the columns used.

    Raises
    ------
    CatalogError
        If the file is missing or unreadable, or lacks a configured column.
    """
    columns = spec.resolved_columns(key=key)
    path = Path(spec.path)
    table = _read_table(path, columns.hdu, key=key)
    is_fermi = spec.kind in _FERMI_PREFIX and columns.extension == _FERMI.extension
    roles = {"name": columns.name, "lon": columns.lon, "lat": columns.lat}
    if not is_fermi:
        roles |= {f"extension[{i}]": c for i, c in enumerate(columns.extension)}
    roles |= {f"cuts.{c}": c for c in spec.cuts}
    _require(table, roles, path, key=key)

    names = _names(table, columns.name)
    lon, lat, coord = _positions(table, columns, key=key)
    if is_fermi:
        _check_fermi_names(spec, names, path, key=key)
        extensions = [_fermi_extension(spec, path, table, key=key)]
    else:
        extensions = [_float_column(table, c, u.deg, key=key) for c in columns.extension]
    extension = _largest_extension(extensions, len(table))
    keep = _rows_kept(spec, table, lon, lat, path, key=key)
    return _catalog_table(spec, columns, table, path, names, coord, extension, keep)


def _positions(table: Table, columns: CatalogColumns, *, key: str):
    """The sources' ``lon``, ``lat`` (deg, the catalog's frame) and ICRS SkyCoord."""
    lon = _float_column(table, columns.lon, u.deg, key=key)
    lat = _float_column(table, columns.lat, u.deg, key=key)
    try:
        from astropy.coordinates import SkyCoord

        coord = SkyCoord(lon, lat, unit="deg", frame=columns.frame).icrs
    except ValueError as exc:
        raise CatalogError(f"{key}.columns.frame: invalid frame {columns.frame!r}") from exc
    return lon, lat, coord


def _check_fermi_names(spec: CatalogSpec, names: np.ndarray, path: Path, *, key: str) -> None:
    """Warn when a Fermi catalog's source names say it is another one than configured."""
    prefix = _FERMI_PREFIX[spec.kind]
    found = {n.split(" ")[0] for n in names if n[:1].isdigit()}
    if found and found != {prefix}:
        log.warning(
            "%s: catalog %s was configured as %s, but its sources are named %s",
            key,
            path,
            prefix,
            "/".join(sorted(found)),
        )


def _largest_extension(extensions: list[np.ndarray], n_rows: int) -> np.ndarray:
    """Per source the largest finite extension of the columns (deg); 0 if none is finite."""
    if extensions:
        stack = np.vstack(extensions)
        finite = np.isfinite(stack)
        return np.where(finite.any(axis=0), np.where(finite, stack, -np.inf).max(axis=0), 0)
    return np.zeros(n_rows)


def _rows_kept(spec: CatalogSpec, table: Table, lon, lat, path: Path, *, key: str) -> np.ndarray:
    """The rows with a position that pass the cuts (logged: what each cut keeps)."""
    keep = np.isfinite(lon) & np.isfinite(lat)
    if not keep.all():
        log.warning(
            "%s: %d source(s) without a position in %s are ignored", key, (~keep).sum(), path
        )
    for column, bounds in spec.cuts.items():
        lo, hi = _cut_bounds(bounds, column, f"{key}.cuts")
        values = _float_column(table, column, None, key=f"{key}.cuts")
        with np.errstate(invalid="ignore"):
            passed = np.isfinite(values)
            if lo is not None:
                passed &= values >= lo
            if hi is not None:
                passed &= values <= hi
        log.info(
            "%s: cut %s in [%s, %s] keeps %d of %d", key, column, lo, hi, passed.sum(), keep.sum()
        )
        keep &= passed
    return keep


def _catalog_table(
    spec: CatalogSpec,
    columns: CatalogColumns,
    table: Table,
    path: Path,
    names,
    coord,
    extension,
    keep,
) -> Table:
    """The kept rows as the table :func:`read_catalog` returns."""
    from astropy.table import Table

    out = Table(
        {
            "NAME": names[keep],
            "RA": coord.ra.deg[keep] * u.deg,
            "DEC": coord.dec.deg[keep] * u.deg,
            "EXTENSION": extension[keep] * u.deg,
        }
    )
    for column in spec.cuts:
        out[column] = _float_column(table, column, None)[keep]
        out[column].unit = table[column].unit
    out.meta.update(
        {
            "CATALOG": spec.kind,
            "PATH": str(path),
            "EXTCOLS": ",".join(columns.extension),
        }
    )
    return out
