"""The ``spectrum`` section of an analysis: its 1D ON/OFF spectrum.

:func:`parse_spectrum` reads the ON region (a ds9 circle or point, or ``{ra, dec,
radius}``), the energy axes (``nbin`` in total or per decade), the OFF-region finder
(:class:`FinderConfig`: reflected regions or wobble) and the safe-mask options into a
:class:`SpectrumConfig`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import astropy.units as u
import numpy as np

from dl3flow.config.options import (
    FINDER_DEFAULTS,
    SPECTRUM_DEFAULTS,
    SPECTRUM_EXCLUSIONS,
    SPECTRUM_SAFE_METHODS,
)
from dl3flow.config.values import (
    ConfigError,
    _bool,
    _energy_axis,
    _int,
    _mapping,
    _merge_defaults,
    _no_unknown_keys,
    _non_negative_angle,
    _percent,
    _positive,
    parse_quantity,
)
from dl3flow.maps.coords import wrap_longitude
from dl3flow.maps.geom import EnergyAxis

__all__ = [
    "FinderConfig",
    "SpectrumConfig",
    "parse_spectrum",
]


@dataclass(frozen=True)
class FinderConfig:
    """OFF-region finder of a spectrum (``dl3flow.makers.reflected``).

    Attributes
    ----------
    method : {"reflected", "wobble"}
    min_distance, min_distance_input, angle_increment : Quantity or None
        Rotations of the reflected-regions finder (angles; None for wobble; the
        defaults are the schema's, i.e. gammapy's).
    max_region_number : int or None
        Reflected regions: at most this many OFF regions.
    n_off_regions : int or None
        Wobble: the number of OFF positions.
    binsz : Quantity
        Pixel size of the finder's reference geometry.
    """

    method: str = "reflected"
    min_distance: u.Quantity | None = field(default_factory=lambda: 0.0 * u.rad)
    min_distance_input: u.Quantity | None = field(default_factory=lambda: 0.1 * u.rad)
    max_region_number: int | None = 10000
    angle_increment: u.Quantity | None = field(default_factory=lambda: 0.1 * u.rad)
    n_off_regions: int | None = None
    binsz: u.Quantity = field(default_factory=lambda: 0.01 * u.deg)

    def make(self):
        """The `~dl3flow.makers.reflected.ReflectedRegionsFinder` or `WobbleRegionsFinder`."""
        from dl3flow.makers.reflected import ReflectedRegionsFinder, WobbleRegionsFinder

        binsz = float(self.binsz.to_value("deg"))
        if self.method == "wobble":
            return WobbleRegionsFinder(self.n_off_regions, binsz=binsz)
        return ReflectedRegionsFinder(
            angle_increment=float(self.angle_increment.to_value("rad")),
            min_distance=float(self.min_distance.to_value("rad")),
            min_distance_input=float(self.min_distance_input.to_value("rad")),
            max_region_number=self.max_region_number,
            binsz=binsz,
        )

    def as_params(self) -> dict:
        """Plain values (for rule params: a change re-runs the extraction)."""
        out = {"method": self.method, "binsz": float(self.binsz.to_value("deg"))}
        if self.method == "wobble":
            return {**out, "n_off_regions": self.n_off_regions}
        return {
            **out,
            "min_distance": float(self.min_distance.to_value("rad")),
            "min_distance_input": float(self.min_distance_input.to_value("rad")),
            "max_region_number": self.max_region_number,
            "angle_increment": float(self.angle_increment.to_value("rad")),
        }


@dataclass(frozen=True)
class SpectrumConfig:
    """The 1D ON/OFF spectrum of an analysis (``dl3flow.makers.spectrum.extract_spectrum``).

    Attributes
    ----------
    on_region : tuple
        ``(ra, dec, radius)`` in deg (ICRS); radius None for an ON point (point-like
        IRFs with an energy-dependent RAD_MAX: the radius is the cut per energy bin).
    energy, energy_true : `~dl3flow.maps.geom.EnergyAxis`
        Reconstructed and true energy axes of the spectrum.
    containment_correction : bool
        Multiply the exposure by the PSF containment of the ON circle.
    finder : `FinderConfig`
    exclusion : {"analysis", "none"}
        OFF regions avoid the analysis' final exclusion mask, or nothing.
    safe_mask_methods : tuple of str
        Of :data:`~dl3flow.config.options.SPECTRUM_SAFE_METHODS`.
    aeff_percent, bias_percent : float
        Percentages of ``aeff-max`` and ``edisp-bias``.
    ogip : bool
        Also write the stacked spectrum as OGIP PHA/ARF/RMF/BKG files.
    """

    on_region: tuple
    energy: EnergyAxis
    energy_true: EnergyAxis
    containment_correction: bool = False
    finder: FinderConfig = field(default_factory=FinderConfig)
    exclusion: str = "analysis"
    safe_mask_methods: tuple[str, ...] = ("aeff-default",)
    aeff_percent: float = 10.0
    bias_percent: float = 10.0
    ogip: bool = False

    def region(self):
        """The ON region as a `~dl3flow.maps.regions.CircleRegion`."""
        from dl3flow.maps.regions import CircleRegion

        return CircleRegion(*self.on_region)

    def extract_kwargs(self) -> dict:
        """Keyword arguments of `dl3flow.makers.spectrum.extract_spectrum` (without exclusion)."""
        return {
            "on_region": self.region(),
            "energy": self.energy,
            "energy_true": self.energy_true,
            "finder": self.finder.make(),
            "containment_correction": self.containment_correction,
            "safe_mask_methods": self.safe_mask_methods,
            "aeff_percent": self.aeff_percent,
            "bias_percent": self.bias_percent,
        }

    def as_params(self) -> dict:
        """The options the extraction uses, as plain values (rule params)."""
        return {
            "on_region": list(self.on_region),
            "energy": [float(e) for e in self.energy.edges],
            "energy_true": [float(e) for e in self.energy_true.edges],
            "containment_correction": self.containment_correction,
            "finder": self.finder.as_params(),
            "exclusion": self.exclusion,
            "safe_mask_methods": list(self.safe_mask_methods),
            "aeff_percent": self.aeff_percent,
            "bias_percent": self.bias_percent,
        }


_DS9_ON = re.compile(r"^\s*(?:(icrs|fk5)\s*;\s*)?(circle|point)\s*\(([^)]*)\)\s*$", re.IGNORECASE)
_DS9_RADIUS_UNITS = {"": "deg", "d": "deg", "'": "arcmin", '"': "arcsec"}


def _ds9_on_region(text: str, path: str) -> tuple:
    """``icrs;circle(ra,dec,r)`` / ``icrs;point(ra,dec)`` (deg; r may end in d, ' or ")."""
    match = _DS9_ON.match(text)
    if match is None:
        raise ConfigError(
            f"{path}: expected a ds9 circle or point in icrs/fk5, e.g. "
            f"'icrs;circle(83.633,22.014,0.11)' or 'icrs;point(83.633,22.014)', got {text!r}"
        )
    shape, args = match[2].lower(), [a.strip() for a in match[3].split(",")]
    if len(args) != (3 if shape == "circle" else 2):
        raise ConfigError(f"{path}: a ds9 {shape} takes {3 if shape == 'circle' else 2} values")
    try:
        ra, dec = float(args[0].rstrip("d")), float(args[1].rstrip("d"))
        radius = None
        if shape == "circle":
            unit = args[2][-1] if args[2][-1:] in ("d", "'", '"') else ""
            number = float(args[2][: len(args[2]) - len(unit)])
            radius = u.Quantity(number, _DS9_RADIUS_UNITS[unit]).to_value("deg")
    except ValueError:
        raise ConfigError(f"{path}: cannot read the numbers of {text!r}") from None
    return ra, dec, radius


def _on_region(value, path: str) -> tuple:
    if value is None:
        raise ConfigError(f"{path}: missing (a ds9 circle or point, or {{ra, dec, radius}})")
    if isinstance(value, str):
        ra, dec, radius = _ds9_on_region(value, path)
    else:
        value = _mapping(value, path)
        _no_unknown_keys(value, ("ra", "dec", "radius"), path)
        for key in ("ra", "dec"):
            if key not in value:
                raise ConfigError(f"{path}: missing key '{key}'")
        ra = parse_quantity(value["ra"], kind="angle", path=f"{path}.ra").value
        dec = parse_quantity(value["dec"], kind="angle", path=f"{path}.dec").value
        radius = value.get("radius")
        if radius is not None:
            radius = _positive(radius, kind="angle", path=f"{path}.radius").value
    if not -90 <= dec <= 90:
        raise ConfigError(f"{path}: dec must be within [-90, 90] deg, got {dec}")
    if radius is not None and not radius > 0:
        raise ConfigError(f"{path}: the radius must be positive, got {radius} deg")
    return float(wrap_longitude(ra)), float(dec), None if radius is None else float(radius)


def _finder(value, path: str) -> FinderConfig:
    value = _mapping(value or {}, path)
    method = value.get("method", SPECTRUM_DEFAULTS["finder"]["method"])
    if method not in FINDER_DEFAULTS:
        raise ConfigError(
            f"{path}.method: expected one of {', '.join(FINDER_DEFAULTS)}, got {method!r}"
        )
    allowed = {key for defaults in FINDER_DEFAULTS.values() for key in defaults}
    _no_unknown_keys(value, allowed, path)
    # the schema's defaults fill in every finder's keys: only the other finder's
    # keys that differ from their defaults are refused (they would be ignored)
    for other, defaults in FINDER_DEFAULTS.items():
        for key in set(defaults) - set(FINDER_DEFAULTS[method]):
            if key in value and value[key] != defaults[key]:
                raise ConfigError(
                    f"{path}.{key}: an option of the {other} finder, but method is {method!r}"
                )
    value = _merge_defaults(value, FINDER_DEFAULTS[method])
    binsz = _positive(value["binsz"], kind="angle", path=f"{path}.binsz")
    if method == "wobble":
        n = _int(value["n_off_regions"], f"{path}.n_off_regions", minimum=1)
        return FinderConfig(method="wobble", n_off_regions=n, binsz=binsz)
    angles = {}
    for key in ("min_distance", "min_distance_input", "angle_increment"):
        _non_negative_angle(value[key], f"{path}.{key}")  # checked as an angle ...
        angles[key] = u.Quantity(value[key]).to(u.rad)  # ... kept in rad ("0.1 rad": 0.1)
    if not angles["angle_increment"].value > 0:
        raise ConfigError(
            f"{path}.angle_increment: must be positive, got {value['angle_increment']!r}"
        )
    return FinderConfig(
        method="reflected",
        max_region_number=_int(value["max_region_number"], f"{path}.max_region_number", minimum=1),
        binsz=binsz,
        **angles,
    )


def _spectrum_axis(value, path: str, *, name: str) -> EnergyAxis:
    """``{min, max, nbin, per_decade}``: nbin in total, or per decade (as gammapy rounds)."""
    value = dict(_mapping(value, path))
    per_decade = _bool(value.pop("per_decade", False), f"{path}.per_decade")
    axis = _energy_axis(value, path, name=name)
    if not per_decade:
        return axis
    emin = parse_quantity(value["min"], kind="energy", path=f"{path}.min")
    emax = parse_quantity(value["max"], kind="energy", path=f"{path}.max")
    nbin = int(np.ceil(np.log10((emax / emin).to_value("")) * axis.nbin))
    return EnergyAxis.from_bounds(emin, emax, nbin, name=name)


def _spectrum(value, path: str) -> SpectrumConfig | None:
    if value is None:
        return None
    value = _mapping(value, path)
    _no_unknown_keys(value, SPECTRUM_DEFAULTS, path)
    finder = value.get("finder")
    value = _merge_defaults(value, {k: v for k, v in SPECTRUM_DEFAULTS.items() if k != "finder"})
    exclusion = value["exclusion"]
    if exclusion not in SPECTRUM_EXCLUSIONS:
        raise ConfigError(
            f"{path}.exclusion: expected one of {', '.join(SPECTRUM_EXCLUSIONS)}, got {exclusion!r}"
        )
    safe = _mapping(value["safe_mask"] or {}, f"{path}.safe_mask")
    safe = _merge_defaults(safe, SPECTRUM_DEFAULTS["safe_mask"])
    _no_unknown_keys(safe, SPECTRUM_DEFAULTS["safe_mask"], f"{path}.safe_mask")
    methods = safe["methods"]
    if isinstance(methods, str) or not isinstance(methods, list | tuple):
        raise ConfigError(
            f"{path}.safe_mask.methods: expected a list of method names, got {methods!r}"
        )
    for i, method in enumerate(methods):
        if method not in SPECTRUM_SAFE_METHODS:
            raise ConfigError(
                f"{path}.safe_mask.methods[{i}]: unknown method {method!r}; "
                f"choose from {', '.join(SPECTRUM_SAFE_METHODS)}"
            )
    on_region = _on_region(value["on_region"], f"{path}.on_region")
    containment = _bool(value["containment_correction"], f"{path}.containment_correction")
    if containment and on_region[2] is None:
        raise ConfigError(
            f"{path}.containment_correction: needs a circular on_region (an ON point "
            "follows RAD_MAX, whose IRFs are already cut)"
        )
    return SpectrumConfig(
        on_region=on_region,
        energy=_spectrum_axis(value["energy"], f"{path}.energy", name="energy"),
        energy_true=_spectrum_axis(value["energy_true"], f"{path}.energy_true", name="energy_true"),
        containment_correction=containment,
        finder=_finder(finder, f"{path}.finder"),
        exclusion=exclusion,
        safe_mask_methods=tuple(m for m in SPECTRUM_SAFE_METHODS if m in methods),
        aeff_percent=_percent(safe["aeff_percent"], f"{path}.safe_mask.aeff_percent"),
        bias_percent=_percent(safe["bias_percent"], f"{path}.safe_mask.bias_percent"),
        ogip=_bool(value["ogip"], f"{path}.ogip"),
    )


def parse_spectrum(name: str, value) -> SpectrumConfig | None:
    """``analyses.<name>.spectrum`` (None: no spectrum)."""
    return _spectrum(value, f"analyses.{name}.spectrum")
