"""Estimators on datasets: excess, significance and flux maps, and peak finding.

The names below are imported from their module on first use (`dl3flow._lazy`):
importing this package imports none of its modules.
"""

from dl3flow._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "correlation": [
            "tophat_kernel",
            "correlate",
            "fftconvolve_same",
            "band_indices",
            "resample_energy",
        ],
        "excess": [
            "REFERENCE_AMPLITUDE",
            "power_law_integral",
            "edisp_kernel_center",
            "exposure_reco",
            "estimate_excess_maps",
            "estimate_excess_maps_onoff",
        ],
        "maps": [
            "EstimateError",
            "ExcessMaps",
            "MAP_UNITS",
            "write_maps",
            "read_maps",
        ],
        "peaks": [
            "PeaksError",
            "find_peaks",
            "write_peaks",
            "PEAK_COLUMNS",
        ],
    },
)
