"""Datasets: map, on-off map and 1D spectrum datasets (containers, FITS I/O in gammapy's
layouts, stacking), OGIP spectrum files and the record of a rejected observation.

The names below are imported from their module on first use (`dl3flow._lazy`):
importing this package imports none of its modules.
"""

from dl3flow._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "io": ["DatasetError"],
        "map": [
            "EDispKernelMap",
            "PSFMap",
            "MapDataset",
            "read_dataset",
            "empty_dataset",
        ],
        "ogip": [
            "ogip_filenames",
            "write_ogip",
        ],
        "onoff": [
            "MapDatasetOnOff",
            "onoff_alpha",
            "read_dataset_onoff",
        ],
        "rejection": [
            "BadObservationError",
            "ON_BAD_OBSERVATION",
            "Rejection",
            "STAGES",
            "rejected_dataset",
            "rejection_of",
        ],
        "spectrum": [
            "SpectrumDatasetOnOff",
            "read_spectrum_dataset",
            "SPECTRUM_HDUS",
        ],
        "stacking": [
            "stack",
            "stack_datasets",
            "cutout_slices",
        ],
    },
)
