"""The sections of an analysis that configure its map part, parsed into dataclasses.

``selection`` (observation ids, pointing cone, obs-index cuts), ``plots``,
``safe_mask``, ``exclusion`` (regions, region files, catalogs, first-pass
significance), ``background``, ``quality`` (the DL3 validation), ``ring`` and ``maps``:
a ``parse_<section>`` function each, as a workflow job calls it with its params, and a
private parser that takes the key path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import astropy.units as u
import numpy as np

from dl3flow.config.model import (
    BackgroundConfig,
    Cone,
    ExclusionConfig,
    MapsConfig,
    PeaksConfig,
    PlotConfig,
    RingConfig,
    SafeMaskConfig,
    SelectionConfig,
    SignificanceMaskConfig,
)
from dl3flow.config.options import (
    BACKGROUND_METHODS,
    CATALOG_DEFAULTS,
    CUT_COLUMN_KINDS,
    DEFAULTS,
    FOV_ALIGNMENTS,
    KINDS,
    ON_FAILURE,
    RING_DEFAULTS,
    SAFE_MASK_METHODS,
    SIGNIFICANCE_DEFAULTS,
)
from dl3flow.config.values import (
    ConfigError,
    _any_quantity,
    _bool,
    _int,
    _list,
    _mapping,
    _merge_defaults,
    _no_unknown_keys,
    _non_negative,
    _non_negative_angle,
    _number,
    _percent,
    _position,
    _positive,
    _skycoord,
    parse_quantity,
)
from dl3flow.data.quality import DEFAULT_POLICIES, POLICIES, QualityPolicy
from dl3flow.data.selection import StringCut
from dl3flow.maps.geom import DatasetGeom

__all__ = [
    "parse_selection",
    "parse_plots",
    "parse_safe_mask",
    "parse_exclusion",
    "parse_significance",
    "parse_background",
    "parse_ring",
    "parse_maps",
    "parse_quality",
]


def _selection(value, path: str) -> SelectionConfig:
    value = _mapping(value, path)
    _no_unknown_keys(value, ("obs_ids", "cone", "cuts"), path)
    obs_ids = value.get("obs_ids")
    if obs_ids is not None:
        if isinstance(obs_ids, int | str) or not isinstance(obs_ids, list | tuple):
            raise ConfigError(f"{path}.obs_ids: expected a list of integers, got {obs_ids!r}")
        if not obs_ids:
            raise ConfigError(f"{path}.obs_ids: empty list (use null to select all)")
        obs_ids = tuple(_int(v, f"{path}.obs_ids[{i}]", minimum=0) for i, v in enumerate(obs_ids))
        if len(set(obs_ids)) != len(obs_ids):
            raise ConfigError(f"{path}.obs_ids: duplicate observation ids in {list(obs_ids)}")

    cone = value.get("cone")
    if cone is not None:
        cpath = f"{path}.cone"
        cone = _mapping(cone, cpath)
        _no_unknown_keys(cone, ("center", "radius"), cpath)
        for key in ("center", "radius"):
            if key not in cone:
                raise ConfigError(f"{cpath}: missing key '{key}'")
        lon, lat, frame = _position(cone["center"], f"{cpath}.center", default_frame="icrs")
        cone = Cone(
            lon=lon,
            lat=lat,
            frame=frame,
            radius=_positive(cone["radius"], kind="angle", path=f"{cpath}.radius"),
        )

    cuts = {}
    for column, bounds in _mapping(value.get("cuts") or {}, f"{path}.cuts").items():
        cpath = f"{path}.cuts.{column}"
        bounds = _mapping(bounds, cpath)
        _no_unknown_keys(bounds, ("min", "max", "in", "match"), cpath)
        given = [key for key in ("min", "max", "in", "match") if bounds.get(key) is not None]
        if {"in", "match"} & set(given):
            cuts[column] = _string_cut(bounds, given, column=column, path=cpath)
            continue
        if bounds.get("min") is None and bounds.get("max") is None:
            raise ConfigError(
                f"{cpath}: give 'min', 'max' or both (or 'in', 'match' for a string column)"
            )
        kind = CUT_COLUMN_KINDS.get(column)
        parsed = []
        for key in ("min", "max"):
            bound = bounds.get(key)
            if bound is None:
                parsed.append(None)
            elif kind is not None:
                parsed.append(parse_quantity(bound, kind=kind, path=f"{cpath}.{key}"))
            else:
                parsed.append(_any_quantity(bound, f"{cpath}.{key}"))
        lo, hi = parsed
        if lo is not None and hi is not None:
            if not lo.unit.is_equivalent(hi.unit):
                raise ConfigError(f"{cpath}: 'min' and 'max' have different dimensions")
            if not lo < hi:
                raise ConfigError(f"{cpath}: 'min' {bounds['min']!r} >= 'max' {bounds['max']!r}")
        cuts[column] = (lo, hi)
    return SelectionConfig(obs_ids=obs_ids, cone=cone, cuts=cuts)


def _string_cut(bounds: Mapping, given: list[str], *, column: str, path: str) -> StringCut:
    """A cut on a string column from ``{in: [...], match: "..."}`` (either or both)."""
    if {"min", "max"} & set(given):
        raise ConfigError(
            f"{path}: 'in'/'match' (string column) cannot be combined with 'min'/'max' "
            f"(numeric range); got {', '.join(map(repr, given))}"
        )
    kind = CUT_COLUMN_KINDS.get(column)
    if kind is not None:
        raise ConfigError(
            f"{path}: 'in'/'match' need a string column, but {column} is numeric ({KINDS[kind][1]})"
        )
    values = bounds.get("in")
    if values is not None:
        if not isinstance(values, list | tuple) or not values:
            raise ConfigError(f"{path}.in: expected a non-empty list of strings, got {values!r}")
        for i, item in enumerate(values):
            if not isinstance(item, str) or not item or item != item.strip():
                raise ConfigError(
                    f"{path}.in[{i}]: expected a non-empty string without surrounding blanks "
                    f"(table values are compared stripped), got {item!r}"
                )
        values = tuple(values)
    pattern = bounds.get("match")
    if pattern is not None:
        if not isinstance(pattern, str) or not pattern:
            raise ConfigError(f"{path}.match: expected a non-empty string, got {pattern!r}")
        try:
            re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            raise ConfigError(
                f"{path}.match: {pattern!r} is not a valid regular expression ({exc})"
            ) from None
    return StringCut(values=values, pattern=pattern)


def _plots(value, path: str, *, geom: DatasetGeom) -> PlotConfig:
    value = _mapping(value, path)
    _no_unknown_keys(value, ("exposure_energy_true", "caption"), path)
    energy = value.get("exposure_energy_true")
    if energy is not None:
        energy = _positive(energy, kind="energy", path=f"{path}.exposure_energy_true")
        edges = geom.energy_true.edges
        if not edges[0] * (1 - 1e-9) <= energy.value <= edges[-1] * (1 + 1e-9):
            raise ConfigError(
                f"{path}.exposure_energy_true: {value['exposure_energy_true']!r} is outside "
                f"the true-energy axis ({edges[0]:.4g} - {edges[-1]:.4g} TeV)"
            )
    caption = value.get("caption")
    if caption is not None and not isinstance(caption, str):
        raise ConfigError(f"{path}.caption: expected a string, got {caption!r}")
    return PlotConfig(exposure_energy_true=energy, caption=caption)


def _safe_mask(value, path: str, *, offset_max: u.Quantity, frame: str) -> SafeMaskConfig:
    value = _mapping(value, path)
    _no_unknown_keys(value, DEFAULTS["safe_mask"], path)
    methods = value.get("methods")
    if isinstance(methods, str) or not isinstance(methods, list | tuple):
        raise ConfigError(f"{path}.methods: expected a list of method names, got {methods!r}")
    for i, method in enumerate(methods):
        if method not in SAFE_MASK_METHODS:
            raise ConfigError(
                f"{path}.methods[{i}]: unknown method {method!r}; "
                f"choose from {', '.join(SAFE_MASK_METHODS)}"
            )
    if len(set(methods)) != len(methods):
        raise ConfigError(f"{path}.methods: a method is listed twice: {methods!r}")
    position, fixed_offset = value.get("position"), value.get("fixed_offset")
    if position is not None and fixed_offset is not None:
        raise ConfigError(
            f"{path}: position and fixed_offset are mutually exclusive; set one to null"
        )
    if position is not None:
        position = _skycoord(position, f"{path}.position", default_frame=frame)
    if fixed_offset is not None:
        fixed_offset = parse_quantity(fixed_offset, kind="angle", path=f"{path}.fixed_offset")
        if fixed_offset.value < 0:
            raise ConfigError(f"{path}.fixed_offset: must not be negative, got {fixed_offset}")
    cut = value.get("offset_max")
    cut = offset_max if cut is None else _positive(cut, kind="angle", path=f"{path}.offset_max")
    return SafeMaskConfig(
        methods=tuple(m for m in SAFE_MASK_METHODS if m in methods),
        aeff_percent=_percent(value.get("aeff_percent"), f"{path}.aeff_percent"),
        bias_percent=_percent(value.get("bias_percent"), f"{path}.bias_percent"),
        position=position,
        fixed_offset=fixed_offset,
        offset_max=cut,
    )


def _catalog(value, path: str):
    from dl3flow.makers.catalogs import CATALOG_KINDS, CatalogError, CatalogSpec

    value = _mapping(value, path)
    _no_unknown_keys(value, ("kind", "path", *CATALOG_DEFAULTS), path)
    for key in ("kind", "path"):
        if not isinstance(value.get(key), str) or not value.get(key):
            raise ConfigError(f"{path}: missing key '{key}' (a string)")
    value = {**CATALOG_DEFAULTS, **{k: v for k, v in value.items() if v is not None}}
    kind = value["kind"].lower()
    if kind not in CATALOG_KINDS:
        raise ConfigError(
            f"{path}.kind: expected one of {', '.join(CATALOG_KINDS)}, got {value['kind']!r}"
        )
    cuts = _mapping(value["cuts"], f"{path}.cuts")
    columns = value["columns"]
    if columns is not None:
        columns = _mapping(columns, f"{path}.columns")
    try:
        spec = CatalogSpec(
            kind=kind,
            path=value["path"],
            columns=columns,
            min_radius=_non_negative_angle(value["min_radius"], f"{path}.min_radius").value,
            scale=_number(value["scale"], f"{path}.scale", minimum=0),
            margin=_non_negative_angle(value["margin"], f"{path}.margin").value,
            cuts=cuts,
        )
        spec.resolved_columns(key=path)
        spec.to_recipe()  # checks the cut bounds
    except CatalogError as exc:
        message = str(exc)
        if not message.startswith(path):
            message = f"{path}.{message}"
        raise ConfigError(message) from None
    return spec


def _significance(value, path: str) -> SignificanceMaskConfig | None:
    if value is None:
        return None
    value = _mapping(value, path)
    _no_unknown_keys(value, SIGNIFICANCE_DEFAULTS, path)
    if value.get("high") is None:
        raise ConfigError(f"{path}: missing key 'high' (significance threshold, e.g. 5)")
    value = {**SIGNIFICANCE_DEFAULTS, **{k: v for k, v in value.items() if v is not None}}
    high = _number(value["high"], f"{path}.high")
    low = high if value["low"] is None else _number(value["low"], f"{path}.low")
    if low > high:
        raise ConfigError(f"{path}.low: must not exceed high ({high:g}), got {value['low']!r}")
    connectivity = value["connectivity"]
    if connectivity not in (1, 2) or isinstance(connectivity, bool):
        raise ConfigError(f"{path}.connectivity: expected 1 or 2, got {connectivity!r}")
    return SignificanceMaskConfig(
        high=high,
        low=low,
        dilate=_non_negative_angle(value["dilate"], f"{path}.dilate"),
        correlation_radius=_positive(
            value["correlation_radius"], kind="angle", path=f"{path}.correlation_radius"
        ),
        connectivity=int(connectivity),
    )


def _exclusion(value, path: str) -> ExclusionConfig:
    value = _mapping(value, path)
    _no_unknown_keys(value, DEFAULTS["exclusion"], path)
    regions = _list(value.get("regions"), f"{path}.regions")
    for i, text in enumerate(regions):
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"{path}.regions[{i}]: expected a ds9 region string, got {text!r}")
    files = _list(value.get("region_files"), f"{path}.region_files")
    for i, name in enumerate(files):
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{path}.region_files[{i}]: expected a file path, got {name!r}")
    catalogs = _list(value.get("catalogs"), f"{path}.catalogs")
    return ExclusionConfig(
        regions=tuple(regions),
        region_files=tuple(Path(name) for name in files),
        catalogs=tuple(_catalog(c, f"{path}.catalogs[{i}]") for i, c in enumerate(catalogs)),
        significance=_significance(value.get("significance"), f"{path}.significance"),
        key=path,
    )


def _background(value, path: str) -> BackgroundConfig:
    value = _mapping(value, path)
    _no_unknown_keys(value, DEFAULTS["background"], path)
    method = value.get("method")
    if method not in BACKGROUND_METHODS:
        raise ConfigError(
            f"{path}.method: expected one of {', '.join(BACKGROUND_METHODS)}, got {method!r}"
        )
    on_failure = value.get("on_failure")
    if on_failure not in ON_FAILURE:
        raise ConfigError(
            f"{path}.on_failure: expected one of {', '.join(ON_FAILURE)}, got {on_failure!r}"
        )
    alignment = value.get("fov_alignment")
    if alignment not in FOV_ALIGNMENTS:
        raise ConfigError(
            f"{path}.fov_alignment: expected one of {', '.join(FOV_ALIGNMENTS)}, got {alignment!r}"
        )
    return BackgroundConfig(
        method=method,
        min_counts=_number(value.get("min_counts"), f"{path}.min_counts", minimum=0),
        min_npred_background=_number(
            value.get("min_npred_background"), f"{path}.min_npred_background", minimum=0
        ),
        reference_energy=_positive(
            value.get("reference_energy"), kind="energy", path=f"{path}.reference_energy"
        ),
        fit_tilt=_bool(value.get("fit_tilt"), f"{path}.fit_tilt"),
        on_failure=on_failure,
        fov_alignment=alignment,
    )


_QUALITY_NUMBERS = (
    "max_invalid_event_fraction",
    "livetime_tolerance",
    "deadc_tolerance",
    "negative_tolerance",
    "normalisation_tolerance",
)


def _quality(value, path: str) -> QualityPolicy:
    """The DL3 validation's policies (``quality.checks``) and tolerances."""
    value = _mapping(value, path)
    _no_unknown_keys(value, DEFAULTS["quality"], path)
    checks = _mapping(value.get("checks") or {}, f"{path}.checks")
    _no_unknown_keys(checks, DEFAULT_POLICIES, f"{path}.checks")
    for check, policy in checks.items():
        if policy not in POLICIES:
            raise ConfigError(
                f"{path}.checks.{check}: expected one of {', '.join(POLICIES)}, got {policy!r}"
            )
    numbers = {key: _number(value.get(key), f"{path}.{key}", minimum=0) for key in _QUALITY_NUMBERS}
    if numbers["max_invalid_event_fraction"] > 1:
        raise ConfigError(
            f"{path}.max_invalid_event_fraction: a fraction within [0, 1], got "
            f"{value['max_invalid_event_fraction']!r}"
        )
    time = _non_negative(value.get("time_tolerance"), kind="time", path=f"{path}.time_tolerance")
    angle = _non_negative_angle(value.get("pointing_tolerance"), f"{path}.pointing_tolerance")
    return QualityPolicy(
        policies=dict(checks),
        time_tolerance=float(time.to_value(u.s)),
        pointing_tolerance=float(angle.to_value(u.deg)),
        **numbers,
    )


def _axis_edges(value, path: str, *, geom: DatasetGeom) -> u.Quantity | None:
    """Increasing energies (None: none), each an edge of ``geom``'s reconstructed-energy axis."""
    if value is None:
        return None
    items = _list(value, path)
    if len(items) < 2:
        raise ConfigError(f"{path}: expected at least two energies, got {value!r}")
    edges = u.Quantity(
        [_positive(e, kind="energy", path=f"{path}[{i}]") for i, e in enumerate(items)]
    )
    if np.any(np.diff(edges.value) <= 0):
        raise ConfigError(f"{path}: must increase, got {items!r}")
    axis = geom.energy.edges
    for i, energy in enumerate(edges.value):
        if not np.isclose(axis, energy, rtol=1e-6, atol=0).any():
            raise ConfigError(
                f"{path}[{i}]: {items[i]!r} is not an edge of the "
                f"reconstructed-energy axis ({', '.join(f'{e:.4g}' for e in axis)} TeV)"
            )
    return edges


def _ring(value, path: str, *, geom: DatasetGeom) -> RingConfig | None:
    if value is None:
        return None
    value = _mapping(value, path)
    _no_unknown_keys(value, RING_DEFAULTS, path)
    value = {**RING_DEFAULTS, **{k: v for k, v in value.items() if v is not None}}
    r_in = _non_negative_angle(value["r_in"], f"{path}.r_in")
    width = _positive(value["width"], kind="angle", path=f"{path}.width")
    binsz = geom.sky.binsz[0]
    if (r_in + width).to_value("deg") < binsz:
        raise ConfigError(
            f"{path}: the ring (r_in + width = {r_in + width:g}) is smaller than one pixel "
            f"({binsz:g} deg)"
        )
    edges = _axis_edges(value["energy_edges"], f"{path}.energy_edges", geom=geom)
    return RingConfig(r_in=r_in, width=width, energy_edges=edges)


def _maps(value, path: str, *, geom: DatasetGeom) -> MapsConfig:
    value = _merge_defaults(_mapping(value or {}, path), DEFAULTS["maps"])
    _no_unknown_keys(value, DEFAULTS["maps"], path)
    peaks = _merge_defaults(
        _mapping(value["peaks"] or {}, f"{path}.peaks"), DEFAULTS["maps"]["peaks"]
    )
    _no_unknown_keys(peaks, DEFAULTS["maps"]["peaks"], f"{path}.peaks")
    n_sigma = {}
    for key in ("n_sigma", "n_sigma_ul"):
        n_sigma[key] = _number(value[key], f"{path}.{key}")
        if not n_sigma[key] > 0:
            raise ConfigError(f"{path}.{key}: must be positive, got {value[key]!r}")
    bands = _axis_edges(value["energy_bands"], f"{path}.energy_bands", geom=geom)
    return MapsConfig(
        correlation_radius=_positive(
            value["correlation_radius"], kind="angle", path=f"{path}.correlation_radius"
        ),
        spectral_index=_number(value["spectral_index"], f"{path}.spectral_index"),
        energy_bands=bands,
        peaks=PeaksConfig(
            threshold=_number(peaks["threshold"], f"{path}.peaks.threshold"),
            min_distance=_non_negative_angle(peaks["min_distance"], f"{path}.peaks.min_distance"),
        ),
        **n_sigma,
    )


# Parsers of one section each (a value of
# :func:`dl3flow.config.analysis.analysis_sections`), for a workflow job that is given
# only the sections it uses: the same objects and the same messages (keys
# ``analyses.<name>.<section>...``) as :func:`dl3flow.config.analysis.analysis_config`,
# which calls them.


def parse_selection(name: str, value) -> SelectionConfig:
    """``analyses.<name>.selection``."""
    return _selection(value or {}, f"analyses.{name}.selection")


def parse_plots(name: str, value, *, geom: DatasetGeom) -> PlotConfig:
    """``analyses.<name>.plots`` (checked against the true-energy axis of ``geom``)."""
    return _plots(value or {}, f"analyses.{name}.plots", geom=geom)


def parse_safe_mask(name: str, value, *, offset_max: u.Quantity, frame: str) -> SafeMaskConfig:
    """``analyses.<name>.safe_mask`` (``offset_max``: the analysis'; ``frame``: the map's)."""
    return _safe_mask(value or {}, f"analyses.{name}.safe_mask", offset_max=offset_max, frame=frame)


def parse_exclusion(name: str, value) -> ExclusionConfig:
    """``analyses.<name>.exclusion``."""
    return _exclusion(value or {}, f"analyses.{name}.exclusion")


def parse_significance(name: str, value) -> SignificanceMaskConfig | None:
    """``analyses.<name>.exclusion.significance`` (None: no significance mask)."""
    return _significance(value, f"analyses.{name}.exclusion.significance")


def parse_background(name: str, value) -> BackgroundConfig:
    """``analyses.<name>.background``."""
    return _background(value or {}, f"analyses.{name}.background")


def parse_ring(name: str, value, *, geom: DatasetGeom) -> RingConfig | None:
    """``analyses.<name>.ring`` (None: no ring background)."""
    return _ring(value, f"analyses.{name}.ring", geom=geom)


def parse_maps(name: str, value, *, geom: DatasetGeom) -> MapsConfig:
    """``analyses.<name>.maps`` (band edges checked against the energy axis of ``geom``)."""
    return _maps(value, f"analyses.{name}.maps", geom=geom)


def parse_quality(name: str, value) -> QualityPolicy:
    """``analyses.<name>.quality``."""
    return _quality(value or {}, f"analyses.{name}.quality")
