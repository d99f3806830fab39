"""Analysis configuration: from a (validated) config dict to frozen dataclasses.

The schema (``dl3flow/config/schema.yaml``) checks the structure of a config file; this
module turns one entry of its ``analyses`` section into an :class:`AnalysisConfig`
with every quantity parsed once and checked for its dimension. Errors raise
:class:`ConfigError` with the key path, e.g.::

    analyses.crab.geom.binsz: expected an angle, got '0.02 TeV'

A config looks like (all quantities are strings with a unit)::

    data_store: ../shared/data/hess-dl3-dr1     # default for every analysis
    analyses:
      crab:
        selection:
          obs_ids: [23523, 23526]
          cone: {center: {lon: 83.633 deg, lat: 22.014 deg}, radius: 3 deg}
          cuts: {ZEN_PNT: {max: 40 deg}, LIVETIME: {min: 10 min}}
        geom:
          center: {lon: 83.633 deg, lat: 22.014 deg}
          width: 5 deg
          binsz: 0.02 deg
          energy: {min: 1 TeV, max: 10 TeV, nbin: 11}
          energy_true: {min: 0.5 TeV, max: 20 TeV, nbin: 20}
        offset_max: 2.5 deg

Missing optional keys take the schema's defaults (:data:`DEFAULTS`, read from the
schema through :mod:`dl3flow.config.schema`), so :func:`analysis_config` also works on
hand-written dicts.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import astropy.units as u
import numpy as np

from dl3flow.config.schema import derived
from dl3flow.data.quality import DEFAULT_POLICIES, POLICIES, QualityPolicy
from dl3flow.data.selection import StringCut
from dl3flow.maps.coords import wrap_longitude
from dl3flow.maps.geom import FRAMES, PROJECTIONS, DatasetGeom, EnergyAxis, GeomError, SkyGeom
from dl3flow.workflow.resources import geometry_mem_mb, machine_mem_mb, n_pixels

if TYPE_CHECKING:
    from astropy.coordinates import SkyCoord

__all__ = [
    "ConfigError",
    "AnalysisConfig",
    "SelectionConfig",
    "Cone",
    "PlotConfig",
    "SafeMaskConfig",
    "ExclusionConfig",
    "SignificanceMaskConfig",
    "BackgroundConfig",
    "RingConfig",
    "MapsConfig",
    "PeaksConfig",
    "SAFE_MASK_METHODS",
    "SPECTRUM_SAFE_METHODS",
    "SPECTRUM_EXCLUSIONS",
    "BACKGROUND_METHODS",
    "ON_FAILURE",
    "FOV_ALIGNMENTS",
    "ON_BAD_OBSERVATION",
    "DEFAULTS",
    "TOP_DEFAULTS",
    "QualityPolicy",
    "ANALYSIS_NAME_PATTERN",
    "AUTO_CENTER",
    "AutoCenterConfig",
    "analysis_config",
    "analysis_names",
    "analysis_sections",
    "is_auto_center",
    "place_geom",
    "parse_angle",
    "parse_auto_center",
    "parse_background",
    "parse_exclusion",
    "parse_flag",
    "parse_geom",
    "parse_maps",
    "parse_plots",
    "parse_quality",
    "parse_ring",
    "parse_safe_mask",
    "parse_selection",
    "parse_significance",
    "parse_spectrum",
    "parse_quantity",
    "check_exclusion_inputs",
    "check_data_store",
    "did_you_mean",
]

#: Analysis names become path components and the ``{analysis}`` wildcard.
ANALYSIS_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]*"

#: Physical kinds of config quantities -> (unit they are converted to, article + name).
KINDS = {
    "angle": ("deg", "an angle"),
    "energy": ("TeV", "an energy"),
    "time": ("s", "a time"),
    "dimensionless": ("", "a dimensionless number"),
}

#: Units of the GADF obs-index columns that cuts are commonly made on; cuts on
#: these columns are checked for their dimension when the config is read.
#: Other columns are accepted as given and checked against the table at selection.
CUT_COLUMN_KINDS = {
    "RA_PNT": "angle",
    "DEC_PNT": "angle",
    "GLON_PNT": "angle",
    "GLAT_PNT": "angle",
    "ZEN_PNT": "angle",
    "ALT_PNT": "angle",
    "AZ_PNT": "angle",
    "RA_OBJ": "angle",
    "DEC_OBJ": "angle",
    "OFFSET_OBJ": "angle",
    "TARGET_OFFSET": "angle",
    "ONTIME": "time",
    "LIVETIME": "time",
    "TSTART": "time",
    "TSTOP": "time",
    "DEADC": "dimensionless",
    "N_TELS": "dimensionless",
    "QUALITY": "dimensionless",
    "MUONEFF": "dimensionless",
    "EVENT_COUNT": "dimensionless",
    "SAFE_ENERGY_LO": "energy",
    "SAFE_ENERGY_HI": "energy",
}

# Defaults and choices: the schema's (``dl3flow/config/schema.yaml``, through the generated
# ``schema_defaults.json``: reading a config imports no yaml). Change them there.
_SCHEMA = derived()
_CHOICES = _SCHEMA["choices"]

#: Defaults of the top-level keys (``on_bad_observation``, ``data_store``, ...).
TOP_DEFAULTS = _SCHEMA["defaults"]["top"]
#: Defaults of the keys of one analysis (None: required, or no default).
DEFAULTS = _SCHEMA["defaults"]["analysis"]
#: Defaults of ``spectrum`` when it is given (``on_region`` is required).
SPECTRUM_DEFAULTS = _SCHEMA["defaults"]["spectrum"]
#: Keys of each OFF-region finder (the schema lists those of both in one section).
_FINDER_KEYS = {
    "reflected": (
        "method",
        "min_distance",
        "min_distance_input",
        "max_region_number",
        "angle_increment",
        "binsz",
    ),
    "wobble": ("method", "n_off_regions", "binsz"),
}
#: Defaults of the OFF-region finders (gammapy's ReflectedRegionsFinder / WobbleRegionsFinder).
FINDER_DEFAULTS = {
    method: {**{key: SPECTRUM_DEFAULTS["finder"][key] for key in keys}, "method": method}
    for method, keys in _FINDER_KEYS.items()
}
#: Exclusion choices of a spectrum: the analysis' final mask, or none.
SPECTRUM_EXCLUSIONS = tuple(_CHOICES["analysis.spectrum.exclusion"])
#: Safe-mask methods of a 1D spectrum (``dl3flow.makers.spectrum.SPECTRUM_SAFE_METHODS``).
SPECTRUM_SAFE_METHODS = tuple(_CHOICES["analysis.spectrum.safe_mask.methods"])

#: Defaults of one ``exclusion.catalogs`` entry (``kind`` and ``path`` are required).
CATALOG_DEFAULTS = {
    key: value
    for key, value in _SCHEMA["defaults"]["catalog"].items()
    if key not in ("kind", "path")
}
#: Defaults of ``exclusion.significance`` when it is given (``high`` is required).
SIGNIFICANCE_DEFAULTS = _SCHEMA["defaults"]["significance"]
#: Defaults of ``ring`` when it is given.
RING_DEFAULTS = _SCHEMA["defaults"]["ring"]

#: FoV background methods and failure actions (``dl3flow.makers.background.BACKGROUND_METHODS`` and
#: ``ON_FAILURE``; read from the schema, so that reading a config does not import the
#: background code).
BACKGROUND_METHODS = tuple(_CHOICES["analysis.background.method"])
ON_FAILURE = tuple(_CHOICES["analysis.background.on_failure"])

#: Orientation of a bkg_3d's field of view (``dl3flow.makers.map.FOV_ALIGNMENT_CHOICES``).
FOV_ALIGNMENTS = tuple(_CHOICES["analysis.background.fov_alignment"])

#: What a bad observation (unreadable or unusable DL3 data) does: stop the run with
#: an error naming it, or be left out and recorded (``dl3flow.workflow.rejection``).
ON_BAD_OBSERVATION = tuple(_CHOICES["on_bad_observation"])

#: Safe-mask methods (``dl3flow.makers.safe.SAFE_MASK_METHODS``; read from the schema, so that
#: reading a config does not import the safe-mask code).
SAFE_MASK_METHODS = tuple(_CHOICES["analysis.safe_mask.methods"])

_GEOM_REQUIRED = ("center", "width", "binsz")

#: ``geom.center`` value that chooses the map centre from the selected pointings.
AUTO_CENTER = "auto"


class ConfigError(ValueError):
    """Invalid configuration; the message starts with the key path."""


@dataclass(frozen=True)
class Cone:
    """A circular region of the sky: observations pointed inside it are selected.

    Attributes
    ----------
    lon, lat : Quantity
        Centre, as in the config.
    frame : str
        Frame of the centre ("icrs" or "galactic").
    radius : Quantity
    center : SkyCoord
        ``SkyCoord(lon, lat, frame=frame)``, made on first use: parsing a config
        needs no astropy.coordinates (every workflow job parses it).
    """

    lon: u.Quantity
    lat: u.Quantity
    frame: str
    radius: u.Quantity

    @cached_property
    def center(self) -> SkyCoord:
        return _skycoord_of(self.lon, self.lat, self.frame)


@dataclass(frozen=True)
class SelectionConfig:
    """Observation selection (all criteria combine with AND).

    Attributes
    ----------
    obs_ids : tuple of int or None
        Explicit observation ids; None means all observations of the data store.
    cone : `Cone` or None
        Pointing position within a cone.
    cuts : dict
        On obs-index columns: ``{column: (min, max)}`` for a numeric column, bounds are
        Quantities or None; ``{column: StringCut}`` for a string column (config keys
        ``in`` and ``match``).
    """

    obs_ids: tuple[int, ...] | None = None
    cone: Cone | None = None
    cuts: Mapping[str, tuple[u.Quantity | None, u.Quantity | None] | StringCut] = field(
        default_factory=dict
    )

    def as_kwargs(self) -> dict:
        """Keyword arguments for :func:`dl3flow.data.selection.select_observations`."""
        cone = None
        if self.cone is not None:
            cone = {"center": self.cone.center, "radius": self.cone.radius}
        return {
            "obs_ids": None if self.obs_ids is None else list(self.obs_ids),
            "cone": cone,
            "cuts": dict(self.cuts) or None,
        }


@dataclass(frozen=True)
class PlotConfig:
    """Quick-look plot options.

    Attributes
    ----------
    exposure_energy_true : Quantity or None
        True energy at which the exposure image is shown; None sums over true energy.
    caption : str or None
        Small text at the bottom of every figure (e.g. a data attribution).
    """

    exposure_energy_true: u.Quantity | None = field(default_factory=lambda: 1.0 * u.TeV)
    caption: str | None = None


@dataclass(frozen=True)
class SafeMaskConfig:
    """Safe data-range options (``dl3flow.makers.safe.make_safe_mask``).

    Attributes
    ----------
    methods : tuple of str
        Methods combined with logical AND (see :data:`SAFE_MASK_METHODS`).
    aeff_percent, bias_percent : float
        Percentages (0-100) for ``aeff-max`` and ``edisp-bias``.
    position : SkyCoord or None
        Where ``aeff-max`` / ``edisp-bias`` evaluate the IRFs (None: the cutout centre).
    fixed_offset : Quantity or None
        Or at this offset from the pointing (exclusive with ``position``).
    offset_max : Quantity
        ``offset-max`` cut (default: the analysis' ``offset_max``).
    """

    methods: tuple[str, ...] = ("aeff-default", "offset-max")
    aeff_percent: float = 10.0
    bias_percent: float = 10.0
    position: SkyCoord | None = None
    fixed_offset: u.Quantity | None = None
    offset_max: u.Quantity = field(default_factory=lambda: 2.5 * u.deg)

    def as_kwargs(self) -> dict:
        """Keyword arguments for :func:`dl3flow.makers.safe.make_safe_mask`."""
        return {
            "methods": self.methods,
            "aeff_percent": self.aeff_percent,
            "bias_percent": self.bias_percent,
            "position": self.position,
            "fixed_offset": self.fixed_offset,
            "offset_max": self.offset_max,
        }


@dataclass(frozen=True)
class SignificanceMaskConfig:
    """Exclusion from the first-pass significance (``dl3flow.makers.exclusion.significance_mask``).

    Attributes
    ----------
    high, low : float
        Hysteresis thresholds (sigma): pixels above ``high`` seed the excluded
        regions, which grow through connected pixels above ``low`` (``low <= high``).
    dilate : Quantity
        Radius the excluded regions are then grown by (0 deg: none).
    correlation_radius : Quantity
        Top-hat correlation radius of the first-pass significance image.
    connectivity : int
        1 (edges) or 2 (edges and corners) for the growth.
    """

    high: float
    low: float
    dilate: u.Quantity = field(default_factory=lambda: 0.0 * u.deg)
    correlation_radius: u.Quantity = field(default_factory=lambda: 0.1 * u.deg)
    connectivity: int = 1

    def as_kwargs(self) -> dict:
        """Keyword arguments for :func:`dl3flow.makers.exclusion.significance_mask`."""
        return {
            "high": self.high,
            "low": self.low,
            "dilate": self.dilate.to_value("deg"),
            "connectivity": self.connectivity,
        }


@dataclass(frozen=True)
class ExclusionConfig:
    """Exclusion-mask recipe (True = usable for the background).

    Attributes
    ----------
    regions : tuple of str
        ds9 region strings (checked by :func:`check_exclusion_inputs`).
    region_files : tuple of `pathlib.Path`
        ds9 region files (relative to the working directory).
    catalogs : tuple of `~dl3flow.makers.catalogs.CatalogSpec`
    significance : `SignificanceMaskConfig` or None
        None: no significance mask, hence no first pass.
    key : str
        Config key of the section (``analyses.<name>.exclusion``), for messages.
    """

    regions: tuple[str, ...] = ()
    region_files: tuple[Path, ...] = ()
    catalogs: tuple = ()
    significance: SignificanceMaskConfig | None = None
    key: str = "exclusion"


@dataclass(frozen=True)
class BackgroundConfig:
    """FoV background normalisation (``dl3flow.makers.background.normalize_background``).

    ``fov_alignment`` is used by the reduction (``dl3flow.makers.map.reduce_observation``),
    not by the normalisation: the orientation of a bkg_3d model's field of view.
    """

    method: str = "scale"
    min_counts: float = 0.0
    min_npred_background: float = 0.0
    reference_energy: u.Quantity = field(default_factory=lambda: 1.0 * u.TeV)
    fit_tilt: bool = True
    on_failure: str = "drop"
    fov_alignment: str = "auto"

    def as_kwargs(self) -> dict:
        """Keyword arguments for :func:`dl3flow.makers.background.normalize_background`."""
        return {
            "method": self.method,
            "min_counts": self.min_counts,
            "min_npred_background": self.min_npred_background,
            "reference_energy": self.reference_energy,
            "fit_tilt": self.fit_tilt,
            "on_failure": self.on_failure,
        }


@dataclass(frozen=True)
class RingConfig:
    """Ring background (``dl3flow.makers.ring.ring_background``).

    Attributes
    ----------
    r_in, width : Quantity
        Inner radius and width of the ring.
    energy_edges : Quantity or None
        Band edges (edges of the analysis' energy axis); None = one band.
    """

    r_in: u.Quantity
    width: u.Quantity
    energy_edges: u.Quantity | None = None

    def as_kwargs(self) -> dict:
        """Keyword arguments for :func:`dl3flow.makers.ring.ring_background`."""
        return {"r_in": self.r_in, "width": self.width, "energy_edges": self.energy_edges}


@dataclass(frozen=True)
class PeaksConfig:
    """Peak finding on the significance map (``dl3flow.estimators.peaks.find_peaks``).

    Attributes
    ----------
    threshold : float
        Peaks must exceed this significance (sigma).
    min_distance : Quantity
        Half-size of the square a peak must be the maximum of (angle).
    """

    threshold: float = 5.0
    min_distance: u.Quantity = field(default_factory=lambda: 0.2 * u.deg)


@dataclass(frozen=True)
class MapsConfig:
    """Excess, significance and flux maps (``dl3flow.estimators.excess``) and their peaks.

    Attributes
    ----------
    correlation_radius : Quantity
        Radius of the top-hat correlation disc.
    spectral_index : float
        Power-law index weighting the exposure of the flux maps.
    n_sigma : float
        Confidence of ``flux_err`` in sigma.
    n_sigma_ul : float
        Confidence of ``flux_ul`` in sigma (2: about 95 %).
    energy_bands : Quantity or None
        Band edges (edges of the analysis' energy axis) of the per-band maps;
        None = no per-band maps.
    peaks : `PeaksConfig`
    """

    correlation_radius: u.Quantity = field(default_factory=lambda: 0.1 * u.deg)
    spectral_index: float = 2.0
    n_sigma: float = 1.0
    n_sigma_ul: float = 2.0
    energy_bands: u.Quantity | None = None
    peaks: PeaksConfig = field(default_factory=PeaksConfig)

    def as_kwargs(self) -> dict:
        """Keyword arguments for :func:`dl3flow.estimators.excess.estimate_excess_maps`."""
        return {
            "correlation_radius": self.correlation_radius.to_value("deg"),
            "spectral_index": self.spectral_index,
            "n_sigma": self.n_sigma,
            "n_sigma_ul": self.n_sigma_ul,
        }


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
        Of :data:`SPECTRUM_SAFE_METHODS`.
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
        """The ON region as a `~dl3flow.makers.reflected.CircleRegion`."""
        from dl3flow.makers.reflected import CircleRegion

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


@dataclass(frozen=True)
class AnalysisConfig:
    """One analysis of a config file, with every quantity parsed.

    Attributes
    ----------
    name : str
        Analysis name (the ``{analysis}`` wildcard, a path component of its results).
    data_store : `pathlib.Path`
        Directory with ``obs-index.fits.gz`` and ``hdu-index.fits.gz``.
    selection : `SelectionConfig`
    layout : `~dl3flow.maps.geom.DatasetGeom`
        The analysis geometry's shape, energy axes and IRF image. Its centre is
        ``geom.center``, except for ``geom.center: auto`` before the centre is chosen
        (:meth:`with_center`): then the frame's origin, so use it only for sizes and
        axes. :attr:`geom` is the placed geometry.
    auto_center : `AutoCenterConfig` or None
        ``geom.center: auto``: how the centre is chosen from the selected pointings.
    offset_max : Quantity
        Maximum field-of-view offset (angle); per-observation cutouts are twice as wide.
    edisp, psf : bool
        Whether to compute energy dispersion and PSF maps.
    fov_rotation_step : Quantity
        Largest field-of-view rotation per time step for ALTAZ-aligned backgrounds.
    plots : `PlotConfig`
    safe_mask : `SafeMaskConfig`
    exclusion : `ExclusionConfig`
    background : `BackgroundConfig`
    ring : `RingConfig` or None
        None: no ring background.
    maps : `MapsConfig`
        Final maps (excess, significance, flux) and peaks.
    on_bad_observation : {"skip", "fail"}
        An observation that cannot be reduced: left out and recorded in
        ``results/<name>/tables/rejected_observations.ecsv`` (skip), or an error (fail).
    quality : `~dl3flow.data.quality.QualityPolicy`
        Policies and tolerances of the DL3 validation of each observation.
    spectrum : `SpectrumConfig` or None
        The 1D ON/OFF spectrum; None: none.
    maps_enabled : bool
        Whether the map part runs (reduction, masks, background, stack, maps, plots);
        False for a spectrum-only analysis (point-like IRFs cannot make maps): then
        ``geom`` serves only the exclusion mask of the spectrum.
    """

    name: str
    data_store: Path
    selection: SelectionConfig
    layout: DatasetGeom
    offset_max: u.Quantity
    edisp: bool = True
    psf: bool = True
    fov_rotation_step: u.Quantity = field(default_factory=lambda: 1.0 * u.deg)
    plots: PlotConfig = field(default_factory=PlotConfig)
    safe_mask: SafeMaskConfig = field(default_factory=SafeMaskConfig)
    exclusion: ExclusionConfig = field(default_factory=ExclusionConfig)
    background: BackgroundConfig = field(default_factory=BackgroundConfig)
    ring: RingConfig | None = None
    maps: MapsConfig = field(default_factory=MapsConfig)
    on_bad_observation: str = "skip"
    auto_center: AutoCenterConfig | None = None
    quality: QualityPolicy = field(default_factory=QualityPolicy)
    spectrum: SpectrumConfig | None = None
    maps_enabled: bool = True

    @property
    def geom(self) -> DatasetGeom:
        """The analysis geometry (sky image, energy axes, IRF image), placed on the sky.

        Raises
        ------
        ConfigError
            For ``geom.center: auto`` whose centre has not been chosen yet.
        """
        if self.auto_center is not None and self.auto_center.center is None:
            raise ConfigError(
                f"analyses.{self.name}.geom.center: auto, and the centre has not been "
                f"chosen yet: it comes from the selected observations (the metadata of "
                f"results/{self.name}/observations.ecsv; AnalysisConfig.with_center)"
            )
        return self.layout

    def with_center(self, center: SkyCoord) -> AnalysisConfig:
        """A new config whose ``geom.center: auto`` is ``center`` (a scalar SkyCoord).

        Raises
        ------
        ConfigError
            If the analysis does not have ``geom.center: auto``.
        """
        if self.auto_center is None:
            raise ConfigError(f"analyses.{self.name}.geom.center is not auto")
        layout = place_geom(self.layout, center)
        return replace(self, layout=layout, auto_center=replace(self.auto_center, center=center))


@dataclass(frozen=True)
class AutoCenterConfig:
    """``geom.center: auto``: the spherical mean of the selected pointings.

    Attributes
    ----------
    max_separation : Quantity
        Pointings farther than this from the running mean are left out of it, one
        at a time (``dl3flow.data.selection.auto_center``); ``geom.center_max_separation``,
        by default half the map width plus ``offset_max`` (such a pointing's cutout
        cannot reach the map).
    center : SkyCoord or None
        The chosen centre, once known (:meth:`AnalysisConfig.with_center`).
    """

    max_separation: u.Quantity
    center: SkyCoord | None = None


# --------------------------------------------------------------------------- helpers


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


# --------------------------------------------------------------------------- sections


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


def _geom(value, path: str) -> DatasetGeom:
    """The geometry; centred on the frame's origin for ``center: auto`` (see _auto_center)."""
    value = _mapping(value, path)
    allowed = (
        *_GEOM_REQUIRED,
        "frame",
        "proj",
        "binsz_irf",
        "energy",
        "energy_true",
        "center_max_separation",
    )
    _no_unknown_keys(value, allowed, path)
    for key in _GEOM_REQUIRED:
        if value.get(key) is None:
            raise ConfigError(f"{path}: missing key '{key}'")
    frame = _frame(value["frame"], f"{path}.frame")
    proj = value["proj"]
    if proj not in PROJECTIONS:
        raise ConfigError(f"{path}.proj: expected one of {', '.join(PROJECTIONS)}, got {proj!r}")
    if value["center"] == AUTO_CENTER:
        center = (0.0, 0.0)
    else:
        center = _geom_center(value["center"], f"{path}.center", frame=frame)
    width = value["width"]
    if isinstance(width, list | tuple):
        if len(width) != 2:
            raise ConfigError(f"{path}.width: expected one angle or two (lon, lat), got {width!r}")
        width = [_positive(w, kind="angle", path=f"{path}.width[{i}]") for i, w in enumerate(width)]
        width = u.Quantity(width)
    else:
        width = _positive(width, kind="angle", path=f"{path}.width")
    binsz = _positive(value["binsz"], kind="angle", path=f"{path}.binsz")
    binsz_irf = _positive(value["binsz_irf"], kind="angle", path=f"{path}.binsz_irf")
    if u.Quantity(width).min() < binsz:
        raise ConfigError(f"{path}.width: {value['width']!r} is narrower than one pixel ({binsz})")
    energy = _energy_axis(value["energy"], f"{path}.energy", name="energy")
    energy_true = _energy_axis(value["energy_true"], f"{path}.energy_true", name="energy_true")
    _check_memory(value, path, width=width, binsz=binsz, n_energy=energy.nbin + energy_true.nbin)
    try:
        sky = SkyGeom.create(center=center, width=width, binsz=binsz, frame=frame, proj=proj)
        return DatasetGeom.create(
            sky=sky, energy=energy, energy_true=energy_true, binsz_irf=binsz_irf
        )
    except GeomError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _check_memory(value, path: str, *, width, binsz, n_energy: int) -> None:
    """Refuse a geometry whose analysis-wide jobs would need more than this machine has."""
    widths = [float(w) for w in np.atleast_1d(u.Quantity(width).to_value(u.deg))]
    n_pix = n_pixels(tuple(widths) if len(widths) == 2 else widths[0], float(binsz.value))
    needed = geometry_mem_mb(n_pixels=n_pix, n_energy=n_energy)
    available = machine_mem_mb()
    if available is not None and needed > available:
        raise ConfigError(
            f"{path}.width / {path}.binsz: {value['width']!r} at {value['binsz']!r} is "
            f"{n_pix:,} pixels x {n_energy} energy planes, estimated {needed:,} MB for the "
            f"stacking and map jobs (dl3flow.workflow.resources), more than this machine's "
            f"{available:,} MB: use a larger geom.binsz or a smaller geom.width"
        )


def _geom_center(value, path: str, *, frame: str):
    """The map centre for `SkyGeom.create`: (lon, lat) in deg in ``frame`` if the config
    gives it in that frame and in deg (what ``SkyCoord(...).transform_to(frame)`` gives:
    longitude wrapped), else a SkyCoord."""
    lon, lat, center_frame = _position(value, path, default_frame=frame)
    if center_frame == frame and lon.unit == u.deg and lat.unit == u.deg:
        return wrap_longitude(float(lon.value)), float(lat.value)
    return _skycoord_of(lon, lat, center_frame)


def _auto_center(value, path: str, *, geom: DatasetGeom, offset_max) -> AutoCenterConfig | None:
    """``geom.center: auto``: the limit on the pointings' distance from their mean."""
    limit = value.get("center_max_separation")
    if value["center"] != AUTO_CENTER:
        if limit is not None:
            raise ConfigError(
                f"{path}.center_max_separation: only used with center: auto "
                f"(center is {value['center']!r})"
            )
        return None
    if limit is None:
        limit = 0.5 * max(geom.sky.width) * u.deg + offset_max
    else:
        limit = _positive(limit, kind="angle", path=f"{path}.center_max_separation")
    return AutoCenterConfig(max_separation=limit.to(u.deg))


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


def _percent(value, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise ConfigError(f"{path}: expected a percentage within [0, 100], got {value!r}")
    return float(value)


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


def _non_negative(value, *, kind: str, path: str) -> u.Quantity:
    quantity = parse_quantity(value, kind=kind, path=path)
    if quantity.value < 0:
        raise ConfigError(f"{path}: must be >= 0, got {value!r}")
    return quantity


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
    edges = value["energy_edges"]
    if edges is not None:
        items = _list(edges, f"{path}.energy_edges")
        if len(items) < 2:
            raise ConfigError(f"{path}.energy_edges: expected at least two energies, got {edges!r}")
        parsed = [
            _positive(e, kind="energy", path=f"{path}.energy_edges[{i}]")
            for i, e in enumerate(items)
        ]
        edges = u.Quantity(parsed)
        if np.any(np.diff(edges.value) <= 0):
            raise ConfigError(f"{path}.energy_edges: must increase, got {items!r}")
        axis = geom.energy.edges
        for i, energy in enumerate(edges.value):
            if not np.isclose(axis, energy, rtol=1e-6, atol=0).any():
                raise ConfigError(
                    f"{path}.energy_edges[{i}]: {items[i]!r} is not an edge of the "
                    f"reconstructed-energy axis ({', '.join(f'{e:.4g}' for e in axis)} TeV)"
                )
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
    bands = value["energy_bands"]
    if bands is not None:
        items = _list(bands, f"{path}.energy_bands")
        if len(items) < 2:
            raise ConfigError(f"{path}.energy_bands: expected at least two energies, got {bands!r}")
        bands = u.Quantity(
            [
                _positive(e, kind="energy", path=f"{path}.energy_bands[{i}]")
                for i, e in enumerate(items)
            ]
        )
        if np.any(np.diff(bands.value) <= 0):
            raise ConfigError(f"{path}.energy_bands: must increase, got {items!r}")
        axis = geom.energy.edges
        for i, energy in enumerate(bands.value):
            if not np.isclose(axis, energy, rtol=1e-6, atol=0).any():
                raise ConfigError(
                    f"{path}.energy_bands[{i}]: {items[i]!r} is not an edge of the "
                    f"reconstructed-energy axis ({', '.join(f'{e:.4g}' for e in axis)} TeV)"
                )
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


def check_exclusion_inputs(cfg: AnalysisConfig, *, produced=()) -> None:
    """Check the exclusion inputs of an analysis before any job runs.

    Parses the ds9 region strings, and reads the region files and catalogs (their
    configured columns must exist), except the files in ``produced`` (written by a
    workflow rule, hence checked when that rule has run). Imports ``regions``
    (and with it matplotlib), so it is not part of :func:`analysis_config`.

    Raises
    ------
    ConfigError
        Naming the key, e.g. ``analyses.crab.exclusion.region_files[0]: region file
        'x.reg' does not exist``.
    """
    from dl3flow.makers.catalogs import read_catalog
    from dl3flow.makers.exclusion import ExclusionError, parse_regions, read_region_file

    produced = {Path(p) for p in produced}
    excl = cfg.exclusion
    try:
        if excl.regions:
            parse_regions(list(excl.regions), key=f"{excl.key}.regions")
        for i, path in enumerate(excl.region_files):
            if Path(path) not in produced:
                read_region_file(path, key=f"{excl.key}.region_files[{i}]")
        for i, spec in enumerate(excl.catalogs):
            if Path(spec.path) not in produced:
                read_catalog(spec, key=f"{excl.key}.catalogs[{i}]")
    except ExclusionError as exc:
        raise ConfigError(str(exc)) from None


def check_data_store(cfg: AnalysisConfig, *, produced=()) -> None:
    """Check that an analysis' data store directory and its index files exist.

    Only looks for the files (opening them is the selection's job), so the workflow
    can call it for every analysis when it starts. A store in ``produced`` (written
    by a workflow rule, as the demo's) is not required to exist.

    Raises
    ------
    ConfigError
        E.g. ``analyses.crab.data_store: data store directory ../data does not exist``,
        or naming the index file that is missing.
    """
    from dl3flow.data.store import HDU_INDEX_NAMES, OBS_INDEX_NAMES

    directory = Path(cfg.data_store)
    if directory in {Path(p) for p in produced}:
        return
    key = f"analyses.{cfg.name}.data_store"
    if not directory.is_dir():
        raise ConfigError(f"{key}: data store directory {directory} does not exist")
    for kind, names in (("obs index", OBS_INDEX_NAMES), ("HDU index", HDU_INDEX_NAMES)):
        if not any((directory / name).is_file() for name in names):
            raise ConfigError(
                f"{key}: no {kind} file in {directory} (looked for {' or '.join(names)})"
            )


# --------------------------------------------------------------------------- public


def analysis_names(config: Mapping) -> list[str]:
    """Names of the analyses to run: ``config["run"]`` if set, else all of ``analyses``.

    Raises
    ------
    ConfigError
        If there are no analyses, a name is not usable as a path component, or
        ``run`` names an analysis that is not defined.
    """
    analyses = config.get("analyses")
    if not isinstance(analyses, Mapping) or not analyses:
        raise ConfigError("analyses: no analysis defined (expected a mapping name -> analysis)")
    for name in analyses:
        if not isinstance(name, str) or not re.fullmatch(ANALYSIS_NAME_PATTERN, name):
            raise ConfigError(
                f"analyses: name {name!r} must match {ANALYSIS_NAME_PATTERN} "
                "(letters, digits, '_', '-', '.'; it becomes a directory name)"
            )
    run = config.get("run")
    if run is None:
        return list(analyses)
    if isinstance(run, str):
        run = [run]
    if not isinstance(run, list | tuple) or not run:
        raise ConfigError(f"run: expected an analysis name or a list of them, got {run!r}")
    unknown = [name for name in run if name not in analyses]
    if unknown:
        raise ConfigError(
            f"run: unknown analysis {', '.join(map(repr, unknown))}; defined: {', '.join(analyses)}"
        )
    return list(dict.fromkeys(run))


def analysis_sections(config: Mapping, name: str) -> dict:
    """The sections of analysis ``name`` as plain values, defaults filled in.

    What the workflow's rules give their jobs as ``params`` (each job the sections
    it uses), and what :func:`analysis_config` parses: the analysis' mapping merged
    with :data:`DEFAULTS`, its ``data_store`` and ``on_bad_observation`` resolved
    (the top-level values are the defaults of every analysis).

    Parameters
    ----------
    config : dict
        The whole config (as Snakemake's ``config``).
    name : str
        Key of the analysis in ``config["analyses"]``.

    Returns
    -------
    dict
        Section name -> its value (plain dicts, lists, strings and numbers).

    Raises
    ------
    ConfigError
        With the key path, for a missing analysis or data store, an unknown key,
        a missing ``geom`` or an invalid ``on_bad_observation``.
    """
    analyses = config.get("analyses")
    if not isinstance(analyses, Mapping) or name not in analyses:
        known = ", ".join(analyses) if isinstance(analyses, Mapping) else "none"
        raise ConfigError(f"analyses.{name}: no such analysis (defined: {known})")
    path = f"analyses.{name}"
    if not re.fullmatch(ANALYSIS_NAME_PATTERN, name):
        raise ConfigError(f"{path}: name must match {ANALYSIS_NAME_PATTERN}")
    raw = _mapping(analyses[name], path)
    _no_unknown_keys(raw, DEFAULTS, path)
    if raw.get("geom") is None:
        raise ConfigError(f"{path}: missing key 'geom'")
    cfg = _merge_defaults(raw, DEFAULTS)

    data_store = cfg.get("data_store") or config.get("data_store")
    if not data_store:
        raise ConfigError(
            f"{path}.data_store: no data store given (set 'data_store' at the top level "
            "or in the analysis, or pass --config data_store=PATH)"
        )
    if not isinstance(data_store, str | Path):
        raise ConfigError(f"{path}.data_store: expected a path, got {data_store!r}")
    cfg["data_store"] = str(data_store)

    on_bad = cfg.get("on_bad_observation")
    on_bad_path = f"{path}.on_bad_observation"
    if on_bad is None:
        on_bad = config.get("on_bad_observation") or TOP_DEFAULTS["on_bad_observation"]
        on_bad_path = "on_bad_observation"
    if on_bad not in ON_BAD_OBSERVATION:
        raise ConfigError(
            f"{on_bad_path}: expected one of {', '.join(ON_BAD_OBSERVATION)}, got {on_bad!r}"
        )
    cfg["on_bad_observation"] = on_bad
    return cfg


# Parsers of one section each (a value of :func:`analysis_sections`), for a workflow
# job that is given only the sections it uses: the same objects and the same messages
# (keys ``analyses.<name>.<section>...``) as :func:`analysis_config`, which calls them.


def parse_geom(name: str, value) -> DatasetGeom:
    """``analyses.<name>.geom``: the geometry (for ``center: auto`` on the frame's origin,
    to be placed with :func:`place_geom`; see :func:`is_auto_center`)."""
    return _geom(value, f"analyses.{name}.geom")


def is_auto_center(value) -> bool:
    """Whether a ``geom`` section has ``center: auto``."""
    return isinstance(value, Mapping) and value.get("center") == AUTO_CENTER


def place_geom(layout: DatasetGeom, center: SkyCoord) -> DatasetGeom:
    """``layout`` (the geometry of a ``center: auto`` analysis) centred on ``center``."""
    sky = layout.sky
    return DatasetGeom.create(
        sky=SkyGeom.create(
            center=center, width=sky.width, binsz=sky.binsz[0], frame=sky.frame, proj=sky.projection
        ),
        energy=layout.energy,
        energy_true=layout.energy_true,
        binsz_irf=layout.irf_sky.binsz[0],
        rad_edges=layout.rad_edges,
    )


def parse_angle(name: str, key: str, value) -> u.Quantity:
    """``analyses.<name>.<key>``: a positive angle (``offset_max``, ``fov_rotation_step``)."""
    return _positive(value, kind="angle", path=f"analyses.{name}.{key}")


def parse_flag(name: str, key: str, value) -> bool:
    """``analyses.<name>.<key>``: a boolean (``edisp``, ``psf``, ``maps_enabled``)."""
    return _bool(value, f"analyses.{name}.{key}")


def parse_selection(name: str, value) -> SelectionConfig:
    """``analyses.<name>.selection``."""
    return _selection(value or {}, f"analyses.{name}.selection")


def parse_auto_center(
    name: str, geom_value, *, geom: DatasetGeom, offset_max
) -> AutoCenterConfig | None:
    """``analyses.<name>.geom``'s ``center: auto`` options (None for a fixed centre)."""
    return _auto_center(geom_value, f"analyses.{name}.geom", geom=geom, offset_max=offset_max)


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


def parse_spectrum(name: str, value) -> SpectrumConfig | None:
    """``analyses.<name>.spectrum`` (None: no spectrum)."""
    return _spectrum(value, f"analyses.{name}.spectrum")


def analysis_config(config: Mapping, name: str) -> AnalysisConfig:
    """Build the :class:`AnalysisConfig` of analysis ``name`` from a config dict.

    Parameters
    ----------
    config : dict
        The whole config (as Snakemake's ``config``): a top-level ``data_store``
        and ``on_bad_observation`` (defaults for all analyses) and the ``analyses``
        mapping.
    name : str
        Key of the analysis in ``config["analyses"]``.

    Raises
    ------
    ConfigError
        With the key path, for a missing analysis or data store, unknown keys,
        quantities of the wrong dimension, or invalid values.
    """
    cfg = analysis_sections(config, name)
    geom = parse_geom(name, cfg["geom"])
    offset_max = parse_angle(name, "offset_max", cfg["offset_max"])
    auto_center = parse_auto_center(name, cfg["geom"], geom=geom, offset_max=offset_max)
    step = parse_angle(name, "fov_rotation_step", cfg["fov_rotation_step"])
    spectrum = parse_spectrum(name, cfg["spectrum"])
    maps_enabled = parse_flag(name, "maps_enabled", cfg["maps_enabled"])
    if not maps_enabled and spectrum is None:
        raise ConfigError(
            f"analyses.{name}.maps_enabled: false, and there is no 'spectrum' section: "
            "the analysis would make nothing"
        )
    return AnalysisConfig(
        name=name,
        data_store=Path(cfg["data_store"]),
        selection=parse_selection(name, cfg["selection"]),
        layout=geom,
        offset_max=offset_max,
        edisp=parse_flag(name, "edisp", cfg["edisp"]),
        psf=parse_flag(name, "psf", cfg["psf"]),
        fov_rotation_step=step,
        plots=parse_plots(name, cfg["plots"], geom=geom),
        safe_mask=parse_safe_mask(
            name, cfg["safe_mask"], offset_max=offset_max, frame=geom.sky.frame
        ),
        exclusion=parse_exclusion(name, cfg["exclusion"]),
        background=parse_background(name, cfg["background"]),
        ring=parse_ring(name, cfg["ring"], geom=geom),
        maps=parse_maps(name, cfg["maps"], geom=geom),
        on_bad_observation=cfg["on_bad_observation"],
        auto_center=auto_center,
        quality=parse_quality(name, cfg["quality"]),
        spectrum=spectrum,
        maps_enabled=maps_enabled,
    )
