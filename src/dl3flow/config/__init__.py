"""Configuration: the schema (package data, the source of the defaults), its check of
config files, and the parsing of an analysis into frozen dataclasses.

The names below are imported from their module on first use (`dl3flow._lazy`):
importing this package imports none of its modules.
"""

from dl3flow._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "check": [
            "SCHEMA_NAME",
            "MAX_ERRORS",
            "check_config",
            "schema_errors",
            "find_schema",
            "read_config_files",
            "merge_config",
        ],
        "options": [
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
        ],
        "values": [
            "ConfigError",
            "did_you_mean",
            "parse_quantity",
            "parse_angle",
            "parse_flag",
        ],
        "resources": [
            "JOB_KINDS",
            "JobCost",
            "RULE_KINDS",
            "geometry_mem_mb",
            "job_size",
            "machine_mem_mb",
            "mem_mb",
            "n_pixels",
            "runtime",
        ],
        "geometry": [
            "AutoCenterConfig",
            "parse_geom",
            "is_auto_center",
            "place_geom",
            "parse_auto_center",
        ],
        "spectrum": [
            "FinderConfig",
            "SpectrumConfig",
            "parse_spectrum",
        ],
        "model": [
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
        ],
        "sections": [
            "parse_selection",
            "parse_plots",
            "parse_safe_mask",
            "parse_exclusion",
            "parse_significance",
            "parse_background",
            "parse_ring",
            "parse_maps",
            "parse_quality",
        ],
        "analysis": [
            "analysis_config",
            "analysis_names",
            "analysis_sections",
            "check_exclusion_inputs",
            "check_data_store",
        ],
        "schema": [
            "SCHEMA_FILE",
            "DEFAULTS_FILE",
            "load_schema",
            "defaults",
            "choices",
            "derive",
            "derived",
            "write_derived",
            "main",
        ],
    },
)
