"""Option lists and defaults of a config, defined once: the schema's.

The defaults and choices come from the schema (``dl3flow/config/schema.yaml``, through
the generated ``schema_defaults.json``, :func:`dl3flow.config.schema.derived`): reading a
config imports no yaml, and no science code (tests check that the makers' method lists
are these). Also the physical kinds of config quantities and of the obs-index columns
that cuts are commonly made on.
"""

from __future__ import annotations

from dl3flow.config.schema import derived

__all__ = [
    "SAFE_MASK_METHODS",
    "SPECTRUM_SAFE_METHODS",
    "SPECTRUM_EXCLUSIONS",
    "BACKGROUND_METHODS",
    "ON_FAILURE",
    "FOV_ALIGNMENTS",
    "ON_BAD_OBSERVATION",
    "DEFAULTS",
    "TOP_DEFAULTS",
    "ANALYSIS_NAME_PATTERN",
    "AUTO_CENTER",
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

#: ``geom.center`` value that chooses the map centre from the selected pointings.
AUTO_CENTER = "auto"
