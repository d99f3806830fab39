"""The error of a config and the parsing of its single values.

:class:`ConfigError` names the key path of the problem, e.g.::

    analyses.crab.geom.binsz: expected an angle, got '0.02 TeV'

Quantities (:func:`parse_quantity`: a string with a unit, checked for its dimension and
converted to deg, TeV or s), numbers, flags, sky positions and energy axes, and the
checks of a mapping's keys (unknown keys with a did-you-mean hint, defaults filled in)
that the section parsers share.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING

import astropy.units as u
import numpy as np

from dl3flow.config.options import KINDS
from dl3flow.maps.geom import FRAMES, EnergyAxis

if TYPE_CHECKING:
    from astropy.coordinates import SkyCoord

__all__ = [
    "ConfigError",
    "did_you_mean",
    "parse_quantity",
    "parse_angle",
    "parse_flag",
]


class ConfigError(ValueError):
    """Invalid configuration; the message starts with the key path."""


def _merge_defaults(value, defaults):
    """Recursively fill missing keys of ``value`` from ``defaults`` (new objects)."""
    if not isinstance(defaults, Mapping) or not isinstance(value, Mapping):
        return copy.deepcopy(value)
    out = {key: copy.deepcopy(val) for key, val in defaults.items()}
    for key, val in value.items():
        out[key] = _merge_defaults(val, defaults.get(key)) if key in defaults else val
    return out


def _mapping(value, path: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: expected a mapping, got {value!r}")
    return value


def did_you_mean(word, choices) -> str:
    """``" (did you mean 'x'?)"`` for the choice closest to ``word`` (difflib), else ``""``."""
    import difflib

    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _no_unknown_keys(value: Mapping, allowed, path: str) -> None:
    unknown = sorted(set(value) - set(allowed), key=str)
    if unknown:
        hint = did_you_mean(unknown[0], allowed) if len(unknown) == 1 else ""
        raise ConfigError(
            f"{path}: unknown key(s) {', '.join(map(repr, unknown))}{hint}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )


def parse_quantity(value, *, kind: str, path: str) -> u.Quantity:
    """Parse a config value such as ``"0.3 deg"`` into a Quantity of the given kind.

    Parameters
    ----------
    value : str or number
        A string with a unit; plain numbers are accepted only for ``kind="dimensionless"``.
    kind : {"angle", "energy", "time", "dimensionless"}
        Expected physical kind; the result is converted to deg, TeV, s or dimensionless.
    path : str
        Key path used in error messages.

    Raises
    ------
    ConfigError
        If the value is not a quantity, lacks a unit, or has the wrong dimension.
    """
    unit, what = KINDS[kind]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ConfigError(f"{path}: expected {what} such as '1 {unit or ''}', got {value!r}")
    if isinstance(value, int | float) and kind != "dimensionless":
        raise ConfigError(
            f"{path}: expected {what} with a unit, e.g. '{value} {unit}', got {value!r}"
        )
    try:
        quantity = u.Quantity(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read {value!r} as {what} ({exc})") from None
    if quantity.isscalar is False:
        raise ConfigError(f"{path}: expected a single value, got {value!r}")
    if kind != "dimensionless" and quantity.unit == u.dimensionless_unscaled:
        raise ConfigError(
            f"{path}: expected {what} with a unit, e.g. '{value} {unit}', got {value!r}"
        )
    try:
        quantity = quantity.to(unit)
    except u.UnitConversionError:
        raise ConfigError(f"{path}: expected {what}, got {value!r}") from None
    if not np.isfinite(quantity.value):
        raise ConfigError(f"{path}: expected a finite value, got {value!r}")
    return quantity


def _positive(value, *, kind: str, path: str) -> u.Quantity:
    quantity = parse_quantity(value, kind=kind, path=path)
    if not quantity.value > 0:
        raise ConfigError(f"{path}: must be positive, got {value!r}")
    return quantity


def _bool(value, path: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{path}: expected true or false, got {value!r}")
    return value


def _int(value, path: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{path}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def _frame(value, path: str) -> str:
    if value not in FRAMES:
        raise ConfigError(f"{path}: expected one of {', '.join(FRAMES)}, got {value!r}")
    return value


def _skycoord(value, path: str, *, default_frame: str) -> SkyCoord:
    return _skycoord_of(*_position(value, path, default_frame=default_frame))


def _skycoord_of(lon: u.Quantity, lat: u.Quantity, frame: str) -> SkyCoord:
    from astropy.coordinates import SkyCoord

    return SkyCoord(lon, lat, frame=frame)


def _position(value, path: str, *, default_frame: str) -> tuple[u.Quantity, u.Quantity, str]:
    """``{lon, lat, frame}`` of the config: (lon, lat, frame), checked."""
    value = _mapping(value, path)
    _no_unknown_keys(value, ("lon", "lat", "frame"), path)
    for key in ("lon", "lat"):
        if key not in value:
            raise ConfigError(f"{path}: missing key '{key}'")
    frame = _frame(value.get("frame") or default_frame, f"{path}.frame")
    lon = parse_quantity(value["lon"], kind="angle", path=f"{path}.lon")
    lat = parse_quantity(value["lat"], kind="angle", path=f"{path}.lat")
    if not -90 <= lat.value <= 90:
        raise ConfigError(f"{path}.lat: must be within [-90, 90] deg, got {value['lat']!r}")
    return lon, lat, frame


def _any_quantity(value, path: str) -> u.Quantity:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ConfigError(f"{path}: expected a number or a quantity string, got {value!r}")
    try:
        return u.Quantity(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read {value!r} as a quantity ({exc})") from None


def _energy_axis(value, path: str, *, name: str) -> EnergyAxis:
    value = _mapping(value, path)
    _no_unknown_keys(value, ("min", "max", "nbin"), path)
    emin = _positive(value.get("min"), kind="energy", path=f"{path}.min")
    emax = _positive(value.get("max"), kind="energy", path=f"{path}.max")
    nbin = _int(value.get("nbin"), f"{path}.nbin", minimum=1)
    if not emin < emax:
        raise ConfigError(f"{path}: 'min' {value['min']!r} must be below 'max' {value['max']!r}")
    return EnergyAxis.from_bounds(emin, emax, nbin, name=name)


def _percent(value, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise ConfigError(f"{path}: expected a percentage within [0, 100], got {value!r}")
    return float(value)


def _number(value, path: str, *, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise ConfigError(f"{path}: expected a number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{path}: must be >= {minimum:g}, got {value!r}")
    return float(value)


def _non_negative_angle(value, path: str) -> u.Quantity:
    angle = parse_quantity(value, kind="angle", path=path)
    if angle.value < 0:
        raise ConfigError(f"{path}: must not be negative, got {value!r}")
    return angle


def _list(value, path: str) -> list:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ConfigError(f"{path}: expected a list, got {value!r}")
    return list(value)


def _non_negative(value, *, kind: str, path: str) -> u.Quantity:
    quantity = parse_quantity(value, kind=kind, path=path)
    if quantity.value < 0:
        raise ConfigError(f"{path}: must be >= 0, got {value!r}")
    return quantity


def parse_angle(name: str, key: str, value) -> u.Quantity:
    """``analyses.<name>.<key>``: a positive angle (``offset_max``, ``fov_rotation_step``)."""
    return _positive(value, kind="angle", path=f"analyses.{name}.{key}")


def parse_flag(name: str, key: str, value) -> bool:
    """``analyses.<name>.<key>``: a boolean (``edisp``, ``psf``, ``maps_enabled``)."""
    return _bool(value, f"analyses.{name}.{key}")
