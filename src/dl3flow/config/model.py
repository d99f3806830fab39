"""The frozen dataclasses of an analysis, with every quantity parsed.

:class:`AnalysisConfig` is one analysis of a config file
(:func:`dl3flow.config.analysis.analysis_config`); its sections are the other classes,
each with the keyword arguments of the function it configures (``as_kwargs``). The
classes of ``geom.center: auto`` and of the 1D spectrum are in
:mod:`dl3flow.config.geometry` and :mod:`dl3flow.config.spectrum`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import astropy.units as u

from dl3flow.config.geometry import AutoCenterConfig, place_geom
from dl3flow.config.spectrum import SpectrumConfig
from dl3flow.config.values import ConfigError, _skycoord_of
from dl3flow.data.quality import QualityPolicy
from dl3flow.data.selection import StringCut
from dl3flow.maps.geom import DatasetGeom

if TYPE_CHECKING:
    from astropy.coordinates import SkyCoord

__all__ = [
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
    "QualityPolicy",
]


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
        Methods combined with logical AND (see
        :data:`~dl3flow.config.options.SAFE_MASK_METHODS`).
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
        ds9 region strings (checked by
        :func:`~dl3flow.config.analysis.check_exclusion_inputs`).
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
