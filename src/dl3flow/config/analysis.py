"""Analysis configuration: from a (validated) config dict to an `AnalysisConfig`.

The schema (``dl3flow/config/schema.yaml``) checks the structure of a config file;
:func:`analysis_config` turns one entry of its ``analyses`` section into an
`~dl3flow.config.model.AnalysisConfig` with every quantity parsed once and checked for
its dimension. Errors raise `~dl3flow.config.values.ConfigError` with the key path, e.g.::

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

Missing optional keys take the schema's defaults
(:data:`~dl3flow.config.options.DEFAULTS`, read from the schema through
:mod:`dl3flow.config.schema`), so :func:`analysis_config` also works on hand-written
dicts. Also the names of the analyses to run, their sections as plain values (what the
workflow's rules give their jobs), and the checks of an analysis' inputs before any
job runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from dl3flow.config.geometry import parse_auto_center, parse_geom
from dl3flow.config.model import AnalysisConfig
from dl3flow.config.options import (
    ANALYSIS_NAME_PATTERN,
    DEFAULTS,
    ON_BAD_OBSERVATION,
    TOP_DEFAULTS,
)
from dl3flow.config.sections import (
    parse_background,
    parse_exclusion,
    parse_maps,
    parse_plots,
    parse_quality,
    parse_ring,
    parse_safe_mask,
    parse_selection,
)
from dl3flow.config.spectrum import parse_spectrum
from dl3flow.config.values import (
    ConfigError,
    _mapping,
    _merge_defaults,
    _no_unknown_keys,
    parse_angle,
    parse_flag,
)

__all__ = [
    "analysis_config",
    "analysis_names",
    "analysis_sections",
    "check_exclusion_inputs",
    "check_data_store",
]


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
    from dl3flow.data.index import HDU_INDEX_NAMES, OBS_INDEX_NAMES

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
    with :data:`~dl3flow.config.options.DEFAULTS`, its ``data_store`` and
    ``on_bad_observation`` resolved (the top-level values are the defaults of every
    analysis).

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


def analysis_config(config: Mapping, name: str) -> AnalysisConfig:
    """Build the `~dl3flow.config.model.AnalysisConfig` of analysis ``name`` from a config dict.

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
