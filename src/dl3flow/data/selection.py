"""Observation selection on an observation index table (GADF ``OBS_INDEX``).

Mirrors gammapy's ``ObservationTable.select_sky_circle`` / ``select_range`` but returns,
besides the kept rows, a table telling why every other candidate was dropped, so that a
workflow can report its selection.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import astropy.units as u
import numpy as np

if TYPE_CHECKING:
    from astropy.coordinates import SkyCoord
    from astropy.table import Table

__all__ = [
    "AutoCenter",
    "OVERVIEW_COLUMNS",
    "SelectionError",
    "StringCut",
    "auto_center",
    "observations_overview",
    "select_observations",
]


class SelectionError(ValueError):
    """Invalid selection criteria, or a selection that keeps no observation."""


@dataclass(frozen=True)
class _Cut:
    column: str
    low: float | None
    high: float | None
    unit: str

    def describe(self) -> str:
        low = "-inf" if self.low is None else _fmt(self.low)
        high = "inf" if self.high is None else _fmt(self.high)
        return f"{self.column} in [{low}, {high}]{self.unit}"


@dataclass(frozen=True, kw_only=True)
class StringCut:
    """Cut on a string column of the obs index (``OBJECT``, ``TARGET_NAME``, ...).

    The table values are compared after stripping their surrounding blanks (FITS pads
    strings); masked or empty values are rejected. When both ``values`` and ``pattern``
    are given, a value must pass both (AND); a rejected row gets the reason of the first
    one it fails (``values`` first).

    Parameters
    ----------
    values : sequence of str, optional
        Keep rows whose stripped value equals one of these exactly (case-sensitive).
        Each must be non-empty and have no surrounding blanks (it could never match).
    pattern : str, optional
        Keep rows whose stripped value matches this regular expression, case-insensitive:
        ``re.search(pattern, value, re.IGNORECASE)``. It is a search: anchor it with
        ``^...$`` for a full match.

    Raises
    ------
    SelectionError
        If neither is given, ``values`` is empty or not a sequence of such strings, or
        ``pattern`` is empty or not a valid regular expression.
    """

    values: tuple[str, ...] | None = None
    pattern: str | None = None
    _regex: re.Pattern | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.values is None and self.pattern is None:
            raise SelectionError("StringCut needs values, a pattern or both")
        if self.values is not None:
            values = self.values
            if isinstance(values, str | bytes) or not isinstance(values, Iterable):
                raise SelectionError(
                    f"StringCut values must be a sequence of strings, got {values!r}"
                )
            values = tuple(values)
            if not values:
                raise SelectionError("StringCut values must not be empty")
            for value in values:
                if not isinstance(value, str) or not value or value != value.strip():
                    raise SelectionError(
                        "StringCut values must be non-empty strings without surrounding "
                        f"blanks (table values are compared stripped), got {value!r}"
                    )
            object.__setattr__(self, "values", values)
        if self.pattern is not None:
            if not isinstance(self.pattern, str) or not self.pattern:
                raise SelectionError(
                    f"StringCut pattern must be a non-empty string, got {self.pattern!r}"
                )
            try:
                regex = re.compile(self.pattern, re.IGNORECASE)
            except re.error as exc:
                raise SelectionError(
                    f"StringCut pattern {self.pattern!r} is not a valid regular expression: {exc}"
                ) from None
            object.__setattr__(self, "_regex", regex)

    def reject_reason(self, column: str, value: str) -> str | None:
        """Why the (stripped, non-missing) ``value`` fails the cut; None if it passes."""
        if self.values is not None and value not in self.values:
            return f"{column} = {value!r} not in {list(self.values)!r}"
        if self._regex is not None and self._regex.search(value) is None:
            return f"{column} = {value!r} does not match {self.pattern!r}"
        return None

    def describe(self, column: str) -> str:
        """The cut as text, e.g. ``OBJECT in ['Crab'] and matches 'crab'``."""
        parts = []
        if self.values is not None:
            parts.append(f"in {list(self.values)!r}")
        if self.pattern is not None:
            parts.append(f"matches {self.pattern!r} (case-insensitive)")
        return f"{column} {' and '.join(parts)}"


@dataclass(frozen=True)
class _StringColumnCut:
    column: str
    cut: StringCut

    def describe(self) -> str:
        return self.cut.describe(self.column)


@dataclass(frozen=True)
class _Cone:
    center: SkyCoord
    radius_deg: float

    def describe(self) -> str:
        icrs = self.center.icrs
        return (
            f"cone of radius {_fmt(self.radius_deg)} deg around "
            f"(RA {_fmt(icrs.ra.deg)}, Dec {_fmt(icrs.dec.deg)}) deg"
        )


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _unit_suffix(unit: u.UnitBase | None) -> str:
    if unit is None or unit == u.dimensionless_unscaled:
        return ""
    return f" {unit.to_string()}"


def _column_values(table: Table, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Float values and a missing-value mask (masked or NaN) of a numeric column."""
    column = table[name]
    mask = np.ma.getmaskarray(column)
    values = np.asarray(np.ma.getdata(column), dtype=np.float64)
    return values, mask | np.isnan(values)


def _string_values(table: Table, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Stripped str values and a missing-value mask (masked or empty) of a string column."""
    column = table[name]
    mask = np.ma.getmaskarray(column)
    data = np.ma.getdata(column)
    if data.dtype.kind == "S":
        data = np.char.decode(data, "utf-8", errors="replace")
    values = np.char.strip(np.asarray(data, dtype=str))
    return values, mask | (values == "")


def _cut_bound(value: Any, *, column: str, unit: u.UnitBase | None, which: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, u.Quantity):
        if not value.isscalar:
            raise SelectionError(f"{which} of the cut on {column} must be a scalar, got {value}")
        try:
            return float(value.to_value(unit if unit is not None else u.dimensionless_unscaled))
        except u.UnitConversionError:
            expected = unit.to_string() if unit is not None else "no unit (dimensionless)"
            raise SelectionError(
                f"{which} of the cut on {column} is {value}, whose unit {value.unit} is not "
                f"convertible to the unit of column {column}: {expected}"
            ) from None
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise SelectionError(
            f"{which} of the cut on {column} must be a number, a Quantity or None, got {value!r}"
        )
    return float(value)


def _parse_cuts(table: Table, cuts: Mapping[str, Any] | None) -> list[_Cut | _StringColumnCut]:
    if cuts is None:
        return []
    if not isinstance(cuts, Mapping):
        raise SelectionError(
            f"cuts must be a mapping column -> (min, max) or StringCut, got {cuts!r}"
        )
    parsed: list[_Cut | _StringColumnCut] = []
    for column, bounds in cuts.items():
        if column not in table.colnames:
            raise SelectionError(
                f"cut on unknown column {column!r}; available columns: {', '.join(table.colnames)}"
            )
        if isinstance(bounds, StringCut):
            if table[column].dtype.kind not in "SU":
                raise SelectionError(
                    f"string cut (in/match) on column {column!r}, which is not a string "
                    f"column (dtype {table[column].dtype})"
                )
            parsed.append(_StringColumnCut(column=column, cut=bounds))
            continue
        if table[column].dtype.kind not in "iuf":
            raise SelectionError(
                f"cut on column {column!r}, which is not numeric (dtype {table[column].dtype})"
            )
        if isinstance(bounds, str) or not isinstance(bounds, Iterable):
            raise SelectionError(f"cut on {column} must be a (min, max) pair, got {bounds!r}")
        bounds = tuple(bounds)
        if len(bounds) != 2:
            raise SelectionError(f"cut on {column} must be a (min, max) pair, got {bounds!r}")
        unit = table[column].unit
        unit = None if unit is None else u.Unit(unit)
        low = _cut_bound(bounds[0], column=column, unit=unit, which="min")
        high = _cut_bound(bounds[1], column=column, unit=unit, which="max")
        if low is not None and high is not None and low > high:
            raise SelectionError(
                f"cut on {column} has min {_fmt(low)} > max {_fmt(high)}{_unit_suffix(unit)}"
            )
        parsed.append(_Cut(column=column, low=low, high=high, unit=_unit_suffix(unit)))
    return parsed


def _parse_cone(table: Table, cone: Mapping[str, Any] | None) -> _Cone | None:
    if cone is None:
        return None
    if not isinstance(cone, Mapping) or set(cone) != {"center", "radius"}:
        raise SelectionError(
            f"cone must be a mapping with exactly the keys 'center' and 'radius', got {cone!r}"
        )
    from astropy.coordinates import SkyCoord

    center, radius = cone["center"], cone["radius"]
    if not isinstance(center, SkyCoord) or not center.isscalar:
        raise SelectionError(f"cone centre must be a scalar SkyCoord, got {center!r}")
    if not isinstance(radius, u.Quantity) or not radius.isscalar:
        raise SelectionError(f"cone radius must be a scalar angle Quantity, got {radius!r}")
    try:
        radius_deg = float(radius.to_value(u.deg))
    except u.UnitConversionError:
        raise SelectionError(
            f"cone radius {radius} is not an angle (unit {radius.unit} is not convertible to deg)"
        ) from None
    if not radius_deg >= 0:
        raise SelectionError(f"cone radius must be >= 0 deg, got {radius}")
    missing = [name for name in ("RA_PNT", "DEC_PNT") if name not in table.colnames]
    if missing:
        raise SelectionError(
            f"cone selection needs column(s) {', '.join(missing)}; available columns: "
            f"{', '.join(table.colnames)}"
        )
    return _Cone(center=center, radius_deg=radius_deg)


def _parse_obs_ids(obs_ids: Iterable[int] | None) -> list[int] | None:
    if obs_ids is None:
        return None
    if isinstance(obs_ids, str | bytes) or not isinstance(obs_ids, Iterable):
        raise SelectionError(f"obs_ids must be an iterable of int, got {obs_ids!r}")
    parsed = []
    for obs_id in obs_ids:
        if isinstance(obs_id, bool):
            raise SelectionError(f"obs_ids must contain integers, got {obs_id!r}")
        try:
            parsed.append(int(operator.index(obs_id)))
        except TypeError:
            raise SelectionError(f"obs_ids must contain integers, got {obs_id!r}") from None
    return sorted(set(parsed))


def _separation_deg(table: Table, rows: np.ndarray, cone: _Cone) -> tuple[np.ndarray, np.ndarray]:
    ra, ra_missing = _column_values(table, "RA_PNT")
    dec, dec_missing = _column_values(table, "DEC_PNT")
    ra_unit = u.Unit(table["RA_PNT"].unit or "deg")
    dec_unit = u.Unit(table["DEC_PNT"].unit or "deg")
    missing = (ra_missing | dec_missing)[rows]
    from astropy.coordinates import SkyCoord

    pointing = SkyCoord(
        np.where(missing, 0.0, ra[rows]) * ra_unit,
        np.where(missing, 0.0, dec[rows]) * dec_unit,
        frame="icrs",
    )
    separation = cone.center.separation(pointing).to_value(u.deg)
    return np.asarray(separation, dtype=np.float64), missing


def select_observations(
    obs_table: Table,
    *,
    obs_ids: Iterable[int] | None = None,
    cone: Mapping[str, Any] | None = None,
    cuts: Mapping[str, Any] | None = None,
) -> tuple[Table, Table]:
    """Select observations from an observation index table.

    Parameters
    ----------
    obs_table : astropy.table.Table
        Observation index (needs ``OBS_ID``; ``RA_PNT``/``DEC_PNT`` for a cone). Not modified.
    obs_ids : iterable of int, optional
        Candidate observations. Default: every row of ``obs_table``. Requested IDs absent
        from the table are rejected with reason ``"not in obs index"``.
    cone : dict, optional
        ``dict(center=SkyCoord, radius=Angle or Quantity)``: keep observations whose
        pointing (RA_PNT, DEC_PNT; ICRS) lies within ``radius`` of ``center`` (any frame),
        boundary included.
    cuts : mapping, optional
        For a numeric column, ``column -> (min, max)``; ``None`` for an open end. Bounds
        are numbers in the unit of the column or Quantities convertible to it. Both ends
        are inclusive. Rows with a missing (masked or NaN) value are rejected.
        For a string column, ``column -> StringCut(values=..., pattern=...)``: exact
        values and/or a case-insensitive ``re.search`` pattern, on the values stripped of
        surrounding blanks; rows with a masked or empty value are rejected.

    Returns
    -------
    selected : astropy.table.Table
        The kept rows with all columns and the table meta, ordered by OBS_ID.
    rejected : astropy.table.Table
        ``OBS_ID`` and ``REASON`` for every candidate dropped, ordered by OBS_ID. When a
        candidate fails several criteria the reasons are joined with ``"; "``.

    Raises
    ------
    SelectionError
        For an unknown cut column (the message lists the available ones), a range on a
        non-numeric column or a `StringCut` on a non-string column (the message gives its
        dtype), a bound in an incompatible unit, ``min > max``, a malformed cone or
        ``obs_ids``, or when no observation is kept (the message lists each criterion with
        how many candidates it rejected).
    """
    if "OBS_ID" not in obs_table.colnames:
        raise SelectionError(
            f"obs table has no OBS_ID column (columns: {', '.join(obs_table.colnames)})"
        )
    requested = _parse_obs_ids(obs_ids)
    cone_spec = _parse_cone(obs_table, cone)
    cut_specs = _parse_cuts(obs_table, cuts)

    table_ids = np.asarray(np.ma.getdata(obs_table["OBS_ID"])).astype(np.int64)
    rows, absent = _candidate_rows(table_ids, requested)
    counts: dict[str, int] = {}
    if requested is not None:
        counts["obs_ids (not in obs index)"] = len(absent)
    reasons, criterion_counts = _row_reasons(obs_table, rows, cone_spec, cut_specs)
    counts.update(criterion_counts)

    keep = np.array([not reason for reason in reasons], dtype=bool)
    rejected_ids = list(absent)
    rejected_reasons = ["not in obs index"] * len(absent)
    for row, reason in zip(rows[~keep], (r for r in reasons if r), strict=True):
        rejected_ids.append(int(table_ids[row]))
        rejected_reasons.append("; ".join(reason))

    kept_rows = rows[keep]
    kept_rows = kept_rows[np.argsort(table_ids[kept_rows], kind="stable")]
    selected = obs_table[kept_rows]
    rejected = _rejected_table(rejected_ids, rejected_reasons)
    if len(selected) == 0:
        n_candidates = len(rows) if requested is None else len(requested)
        raise _empty_selection_error(n_candidates, counts)
    return selected, rejected


def _candidate_rows(
    table_ids: np.ndarray, requested: list[int] | None
) -> tuple[np.ndarray, list[int]]:
    """Rows of the requested obs_ids (all rows without a request), and the absent ids."""
    if requested is None:
        return np.arange(len(table_ids)), []
    wanted = np.isin(table_ids, requested)
    rows = np.flatnonzero(wanted)
    present = set(table_ids[rows].tolist())
    return rows, [obs_id for obs_id in requested if obs_id not in present]


def _row_reasons(
    obs_table: Table,
    rows: np.ndarray,
    cone_spec: _Cone | None,
    cut_specs: list[_Cut | _StringColumnCut],
) -> tuple[list[list[str]], dict[str, int]]:
    """Per candidate row, why it fails the cone and cuts; per criterion, how many it rejects."""
    reasons: list[list[str]] = [[] for _ in rows]
    counts: dict[str, int] = {}
    for description, criterion in _criterion_reasons(obs_table, rows, cone_spec, cut_specs):
        for i, reason in enumerate(criterion):
            if reason is not None:
                reasons[i].append(reason)
        counts[description] = sum(reason is not None for reason in criterion)
    return reasons, counts


def _criterion_reasons(obs_table, rows, cone_spec, cut_specs):
    """(description, reason or None per candidate row) of the cone, then of each cut."""
    if cone_spec is not None:
        criterion = _cone_reasons(obs_table, rows, cone_spec)
        yield cone_spec.describe(), criterion
    for cut in cut_specs:
        if isinstance(cut, _StringColumnCut):
            criterion = _string_cut_reasons(obs_table, rows, cut)
        else:
            criterion = _range_cut_reasons(obs_table, rows, cut)
        yield cut.describe(), criterion


def _cone_reasons(obs_table: Table, rows: np.ndarray, cone: _Cone) -> list[str | None]:
    """Why each candidate row's pointing is outside the cone (None if inside)."""
    separation, missing = _separation_deg(obs_table, rows, cone)
    out: list[str | None] = []
    for sep, miss in zip(separation, missing, strict=True):
        if miss:
            out.append("pointing RA_PNT/DEC_PNT is missing")
        elif sep > cone.radius_deg:
            out.append(f"pointing {_fmt(sep)} deg from cone centre > {_fmt(cone.radius_deg)} deg")
        else:
            out.append(None)
    return out


def _string_cut_reasons(
    obs_table: Table, rows: np.ndarray, cut: _StringColumnCut
) -> list[str | None]:
    """Why each candidate row fails a string cut (None if it passes)."""
    strings, missing = _string_values(obs_table, cut.column)
    return [
        f"{cut.column} is missing"
        if missing[row]
        else cut.cut.reject_reason(cut.column, str(strings[row]))
        for row in rows
    ]


def _range_cut_reasons(obs_table: Table, rows: np.ndarray, cut: _Cut) -> list[str | None]:
    """Why each candidate row fails a (min, max) cut (None if it passes)."""
    values, missing = _column_values(obs_table, cut.column)
    out: list[str | None] = []
    for row in rows:
        value = values[row]
        if missing[row]:
            out.append(f"{cut.column} is missing")
        elif cut.low is not None and value < cut.low:
            out.append(f"{cut.column} = {_fmt(value)}{cut.unit} < {_fmt(cut.low)}{cut.unit} min")
        elif cut.high is not None and value > cut.high:
            out.append(f"{cut.column} = {_fmt(value)}{cut.unit} > {_fmt(cut.high)}{cut.unit} max")
        else:
            out.append(None)
    return out


def _rejected_table(rejected_ids: list[int], rejected_reasons: list[str]) -> Table:
    """``OBS_ID`` and ``REASON`` of the rejected candidates, ordered by OBS_ID."""
    order = np.argsort(np.asarray(rejected_ids, dtype=np.int64), kind="stable")
    from astropy.table import Table

    return Table(
        {
            "OBS_ID": np.asarray(rejected_ids, dtype=np.int64)[order],
            "REASON": np.asarray(rejected_reasons, dtype=str)[order]
            if rejected_reasons
            else np.zeros(0, dtype="U1"),
        }
    )


def _empty_selection_error(n_candidates: int, counts: dict[str, int]) -> SelectionError:
    """The error of a selection that keeps none of its ``n_candidates`` observations."""
    details = "; ".join(f"{name}: {n} rejected" for name, n in counts.items())
    return SelectionError(
        f"empty selection: none of the {n_candidates} candidate observations passes "
        f"the criteria ({details or 'no criteria; the obs table is empty'})"
    )


@dataclass(frozen=True)
class AutoCenter:
    """The map centre chosen from the pointings of the selected observations.

    Attributes
    ----------
    center : `~astropy.coordinates.SkyCoord`
        Spherical mean of the kept pointings, in the requested frame.
    used : tuple of int
        OBS_IDs whose pointings make the mean.
    dropped : tuple of int
        OBS_IDs whose pointing was farther than ``max_separation`` from the running
        mean, farthest first (their pointings do not move the centre; the
        observations themselves stay selected).
    max_separation : float
        The limit used, in deg.
    """

    center: SkyCoord
    used: tuple[int, ...]
    dropped: tuple[int, ...]
    max_separation: float

    def describe(self) -> str:
        """One line, e.g. ``centre (l, b) = (359.944, -0.046) deg from 20 pointings``."""
        lon, lat = _lon_lat_names(self.center.frame.name)
        c = self.center.spherical
        text = (
            f"centre ({lon}, {lat}) = ({_deg3(round(c.lon.deg, 3) % 360)}, "
            f"{_deg3(c.lat.deg)}) deg "
            f"({self.center.frame.name}) from {len(self.used)} pointing(s)"
        )
        if self.dropped:
            shown = ", ".join(map(str, self.dropped[:10])) + (
                ", ..." if len(self.dropped) > 10 else ""
            )
            text += (
                f"; {len(self.dropped)} pointing(s) more than {_fmt(self.max_separation)} deg "
                f"from the mean left out of it: {shown}"
            )
        return text


def _deg3(value: float) -> str:
    """Three decimals, without a sign on a value that rounds to zero."""
    return f"{round(float(value), 3) + 0.0:.3f}"


def _lon_lat_names(frame: str) -> tuple[str, str]:
    return ("l", "b") if frame == "galactic" else ("RA", "Dec")


def _unit_vectors(ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    ra, dec = np.deg2rad(ra_deg), np.deg2rad(dec_deg)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def auto_center(obs_table: Table, *, frame: str = "icrs", max_separation: float) -> AutoCenter:
    """Map centre from the pointings: spherical mean, outliers dropped one at a time.

    The mean direction of the pointings (RA_PNT, DEC_PNT, as unit vectors) is
    computed; while the pointing farthest from it is more than ``max_separation``
    away, that pointing is left out and the mean computed again.

    Parameters
    ----------
    obs_table : `~astropy.table.Table`
        Selected observations (``OBS_ID``, ``RA_PNT``, ``DEC_PNT``; ICRS).
    frame : {"icrs", "galactic"}
        Frame of the returned centre.
    max_separation : float
        Largest distance (deg) of a pointing from the mean that is kept in it.

    Returns
    -------
    AutoCenter

    Raises
    ------
    SelectionError
        Without observations or pointing columns, with a missing pointing, for a
        negative ``max_separation``, or when the pointings have no mean direction
        (they cancel out, e.g. two opposite directions).
    """
    if not max_separation >= 0:
        raise SelectionError(f"max_separation must be >= 0 deg, got {max_separation}")
    missing = [name for name in ("OBS_ID", "RA_PNT", "DEC_PNT") if name not in obs_table.colnames]
    if missing:
        raise SelectionError(
            f"an automatic map centre needs column(s) {', '.join(missing)}; available "
            f"columns: {', '.join(obs_table.colnames)}"
        )
    if len(obs_table) == 0:
        raise SelectionError("an automatic map centre needs at least one observation")
    ids = np.asarray(np.ma.getdata(obs_table["OBS_ID"])).astype(np.int64)
    ra, ra_missing = _column_values(obs_table, "RA_PNT")
    dec, dec_missing = _column_values(obs_table, "DEC_PNT")
    if np.any(ra_missing | dec_missing):
        bad = ", ".join(map(str, ids[ra_missing | dec_missing][:10]))
        raise SelectionError(f"an automatic map centre needs every pointing: missing for {bad}")
    ra = ra * u.Unit(obs_table["RA_PNT"].unit or "deg").to(u.deg)
    dec = dec * u.Unit(obs_table["DEC_PNT"].unit or "deg").to(u.deg)
    vectors = _unit_vectors(ra, dec)
    keep = np.ones(len(ids), dtype=bool)
    dropped: list[int] = []
    cos_limit = np.cos(np.deg2rad(min(max_separation, 180.0)))
    while True:
        total = vectors[keep].sum(axis=0)
        norm = np.linalg.norm(total)
        if norm < 1e-9 * keep.sum():
            raise SelectionError(
                "the selected pointings have no mean direction (they cancel out); give "
                "geom.center explicitly"
            )
        mean = total / norm
        cos_sep = np.where(keep, vectors @ mean, np.inf)
        farthest = int(np.argmin(cos_sep))
        if cos_sep[farthest] >= cos_limit or keep.sum() == 1:
            break
        keep[farthest] = False
        dropped.append(int(ids[farthest]))
    from astropy.coordinates import SkyCoord

    center = SkyCoord(
        np.rad2deg(np.arctan2(mean[1], mean[0])) % 360.0 * u.deg,
        np.rad2deg(np.arcsin(np.clip(mean[2], -1.0, 1.0))) * u.deg,
        frame="icrs",
    ).transform_to(frame)
    return AutoCenter(
        center=center,
        used=tuple(int(i) for i in ids[keep]),
        dropped=tuple(dropped),
        max_separation=float(max_separation),
    )


#: Columns of :func:`observations_overview`.
OVERVIEW_COLUMNS = ("OBS_ID", "STATUS", "OBJECT", "LIVETIME", "ZENITH", "OFFSET", "REASON")


def _numbers(table: Table, name: str, unit: str) -> np.ndarray:
    """A numeric obs-index column in ``unit`` (NaN where missing or absent)."""
    if name not in table.colnames:
        return np.full(len(table), np.nan)
    values, missing = _column_values(table, name)
    column_unit = table[name].unit
    if column_unit is not None:
        values = (values * u.Unit(column_unit)).to_value(unit)
    return np.where(missing, np.nan, values)


def observations_overview(
    obs_table: Table, *, selected=None, rejected: Table | None = None, center=None
):
    """The observations of an obs index as a person first looks at them.

    Parameters
    ----------
    obs_table : astropy.table.Table
        Observation index (``OBS_ID``; ``OBJECT``, ``LIVETIME``, ``ZEN_PNT``,
        ``RA_PNT``/``DEC_PNT``, ``OFFSET_OBJ`` are used when present).
    selected : iterable of int, optional
        Ids of the observations a selection kept (e.g. the ``OBS_ID`` column of the
        first table of :func:`select_observations`). None: no selection, every
        observation is listed as "in store".
    rejected : astropy.table.Table, optional
        ``OBS_ID`` and ``REASON`` of the candidates the selection rejected (its second
        table). Observations neither selected nor rejected were not candidates (not
        among the requested ``obs_ids``) and are rejected with that reason.
    center : SkyCoord, optional
        The offset is the angle of each pointing from it (e.g. the map centre); without
        it, the obs index's ``OFFSET_OBJ`` (offset from the target), if any.

    Returns
    -------
    astropy.table.Table
        Columns :data:`OVERVIEW_COLUMNS` (``LIVETIME`` in min, ``ZENITH`` and ``OFFSET``
        in deg, NaN when unknown); the selected observations first, then the rejected,
        each ordered by ``OBS_ID``. Requested ids that are not in the obs index are
        listed as rejected too.

    Raises
    ------
    SelectionError
        If the obs index has no ``OBS_ID`` column.
    """
    from astropy.table import Table

    if "OBS_ID" not in obs_table.colnames:
        raise SelectionError(
            f"obs table has no OBS_ID column (columns: {', '.join(obs_table.colnames)})"
        )
    ids = np.asarray(np.ma.getdata(obs_table["OBS_ID"])).astype(np.int64)
    reasons = {}
    if rejected is not None:
        reasons = {
            int(i): str(r) for i, r in zip(rejected["OBS_ID"], rejected["REASON"], strict=True)
        }
    if selected is not None:
        kept = {int(i) for i in selected}
        for i in ids.tolist():
            if i not in kept:
                reasons.setdefault(i, "not among the requested obs_ids")
    if "OBJECT" in obs_table.colnames:
        objects, missing = _string_values(obs_table, "OBJECT")
        objects = np.where(missing, "", objects.astype(str))
    else:
        objects = np.full(len(obs_table), "")
    if center is not None and {"RA_PNT", "DEC_PNT"} <= set(obs_table.colnames):
        cone = _Cone(center=center, radius_deg=0.0)
        offset, missing = _separation_deg(obs_table, np.arange(len(obs_table)), cone)
        offset = np.where(missing, np.nan, offset)
    else:
        offset = _numbers(obs_table, "OFFSET_OBJ", "deg")
    status = np.array(
        [
            "in store" if selected is None else ("rejected" if i in reasons else "selected")
            for i in ids
        ]
    )
    absent = sorted(set(reasons) - set(ids.tolist()))
    n_absent = len(absent)
    table = Table(
        {
            "OBS_ID": np.concatenate([ids, np.asarray(absent, dtype=np.int64)]),
            "STATUS": np.concatenate([status, np.full(n_absent, "rejected")]),
            "OBJECT": np.concatenate([objects, np.full(n_absent, "")]),
            "LIVETIME": np.concatenate(
                [_numbers(obs_table, "LIVETIME", "min"), np.full(n_absent, np.nan)]
            ),
            "ZENITH": np.concatenate(
                [_numbers(obs_table, "ZEN_PNT", "deg"), np.full(n_absent, np.nan)]
            ),
            "OFFSET": np.concatenate([offset, np.full(n_absent, np.nan)]),
            "REASON": [reasons.get(int(i), "") for i in [*ids, *absent]],
        }
    )
    table["LIVETIME"].unit, table["ZENITH"].unit, table["OFFSET"].unit = "min", "deg", "deg"
    for name in ("LIVETIME", "ZENITH", "OFFSET"):
        table[name].format = ".1f" if name == "LIVETIME" else ".2f"
    order = np.lexsort((table["OBS_ID"], table["STATUS"] == "rejected"))
    return table[order]
