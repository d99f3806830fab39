"""Figures: quick-look images, sky maps, masks, background norms, the per-observation
quality summary and spectra, their colour scales and overlay texts.

The names below are imported from their module on first use (`dl3flow._lazy`):
importing this package imports none of its modules.
"""

from dl3flow._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "background": [
            "plot_background_norms",
        ],
        "maps": [
            "plot_sky_map",
            "plot_significance_map",
            "plot_excess_map",
            "plot_flux_map",
            "plot_exposure_map",
            "exposure_label",
            "sky_figure",
            "add_legend",
            "SIGNIFICANCE_CONTOURS",
            "LABEL_OFFSET",
            "plot_significance_distribution",
            "excess_map_figures",
            "MAP_FIGURES",
        ],
        "masks": [
            "plot_exclusion",
        ],
        "qa": [
            "plot_observation_qa",
        ],
        "quicklook": [
            "plot_image",
            "plot_counts",
            "plot_background",
            "plot_exposure",
            "quicklook_figures",
            "plot_safe_energy",
            "MAX_ROWS",
            "QUICKLOOK_NAMES",
        ],
        "scales": [
            "Stretch",
            "SIGNIFICANCE_CLIP",
            "significance_stretch",
            "asinh_stretch",
            "asinh_ticks",
            "linear_stretch",
            "robust_width",
            "power_of_ten",
            "times_ten",
            "log_limits",
            "plain_log_labels",
        ],
        "spectrum": [
            "Theta2",
            "cumulative_summary",
            "plot_cumulative",
            "plot_spectrum_excess",
            "plot_spectrum_regions",
            "plot_theta2",
            "spectrum_figures",
            "theta2_histograms",
        ],
        "text": [
            "Overlay",
            "OVERLAYS",
            "FIGURE_OVERLAYS",
            "REPORT_TITLES",
            "overlay_caption",
            "figure_overlays",
            "report_labels",
            "short_label",
            "LABEL_CHARS",
            "CAPTION_LINE_CHARS",
        ],
    },
)
