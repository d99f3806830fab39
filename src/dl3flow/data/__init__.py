"""DL3 data: the GADF data store (its index tables, errors and observations with their
observatory), observation selection, good time intervals, per-observation quality notes
and the DL3 validation checks.

The names below are imported from their module on first use (`dl3flow._lazy`):
importing this package imports none of its modules.
"""

from dl3flow._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "checks": [
            "Finding",
            "ValidatedObservation",
            "events_direction_invalid",
            "events_energy_invalid",
            "events_time_invalid",
            "find_deadc",
            "find_gti_overlap",
            "find_gti_valid",
            "find_irf_values",
            "find_livetime_ontime",
            "find_normalisation",
            "find_pointing_index",
            "irf_used_values",
            "validate_observation",
        ],
        "errors": [
            "AmbiguousHDUError",
            "CorruptFileError",
            "DataStoreError",
            "IndexFormatError",
            "InvalidHDUError",
            "MissingFileError",
            "MissingHDUError",
            "MissingIndexError",
            "UnknownObservationError",
            "UnsupportedHDUClassError",
        ],
        "gti": [
            "GTITable",
        ],
        "index": [
            "HDULocation",
        ],
        "observation": [
            "EventList",
            "Observation",
        ],
        "observatory": [
            "OBSERVATORY_LOCATIONS",
        ],
        "quality": [
            "ALTITUDE_TOLERANCE_DEG",
            "CHECKS",
            "DEFAULT_POLICIES",
            "EVENT_CHECKS",
            "POLICIES",
            "VALIDATION_CHECKS",
            "ObservationWarning",
            "QualityError",
            "QualityNote",
            "QualityPolicy",
            "collect_notes",
            "warn",
        ],
        "selection": [
            "AutoCenter",
            "OVERVIEW_COLUMNS",
            "SelectionError",
            "StringCut",
            "auto_center",
            "observations_overview",
            "select_observations",
        ],
        "store": [
            "DataStore",
        ],
    },
)
