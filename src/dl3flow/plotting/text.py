"""What the lines and markers drawn over the sky maps mean: one text for legends and captions.

The figure legends (`dl3flow.plotting.quicklook`, `dl3flow.plotting.maps`,
`dl3flow.plotting.masks`) and the report captions (``report/*.rst``, through the
plot rules' ``overlays`` param) both take their words from :data:`OVERLAYS`, so
that a plot and its caption cannot disagree about what a contour is.

This module imports nothing heavy (the workflow imports it when it parses the
rules).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
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
]

_SIGMA = "\N{GREEK SMALL LETTER SIGMA}"


@dataclass(frozen=True)
class Overlay:
    """A line or marker drawn over a sky image.

    Attributes
    ----------
    label : str
        Short legend entry, e.g. ``"5 σ"``.
    description : str
        What it shows, for the report caption (starts with its colour and kind).
    colour : str
        Matplotlib colour the figures draw it in.
    """

    label: str
    description: str
    colour: str


#: Every overlay, by name. The colours contrast with the colour maps they are drawn on
#: (the diverging significance map is white at 0: no white lines on it).
OVERLAYS = {
    "significance_3": Overlay(
        label=f"3 {_SIGMA}",
        description=f"thin grey line: 3 {_SIGMA} significance contour",
        colour="0.35",
    ),
    "significance_5": Overlay(
        label=f"5 {_SIGMA}",
        description=f"black line: 5 {_SIGMA} significance contour",
        colour="black",
    ),
    "exclusion": Overlay(
        label="exclusion mask boundary",
        description=(
            "green line: boundary of the final exclusion mask (the regions left out of "
            "the background normalisation and the rings)"
        ),
        colour="#00b050",
    ),
    "sources": Overlay(
        label="catalog source",
        description="black crosses, labelled: catalog sources in the field",
        colour="black",
    ),
    "footprint": Overlay(
        label="safe-data footprint",
        description=(
            "white line: edge of the safe-data footprint (pixels inside the safe mask "
            "of at least one observation in at least one energy bin)"
        ),
        colour="white",
    ),
    "excluded_area": Overlay(
        label="excluded area",
        description="cyan line: boundary of the excluded area of this mask",
        colour="cyan",
    ),
    "excluded_sources": Overlay(
        label="excluded source",
        description="white crosses, labelled: catalog sources this mask excludes",
        colour="white",
    ),
}

#: Overlays of each figure (by its file stem, ``{band}``/``_ring`` variants included).
FIGURE_OVERLAYS = {
    "significance": ("significance_3", "significance_5", "exclusion", "sources"),
    "excess": ("exclusion",),
    "flux": ("exclusion",),
    "counts": ("footprint",),
    "background": ("footprint",),
    "exclusion": ("excluded_area", "excluded_sources"),
}


def overlay_caption(figure: str) -> str:
    """The sentence of a report caption that explains the overlays of ``figure``.

    Parameters
    ----------
    figure : str
        A key of :data:`FIGURE_OVERLAYS`.

    Returns
    -------
    str
        E.g. ``"Overlays: green line: boundary of ...; black line: 5 σ ..."``;
        empty for a figure without overlays.

    Raises
    ------
    KeyError
        If ``figure`` is not a key of :data:`FIGURE_OVERLAYS`, naming the known ones.
    """
    if figure not in FIGURE_OVERLAYS:
        raise KeyError(f"no overlays for figure {figure!r}; known: {', '.join(FIGURE_OVERLAYS)}")
    names = FIGURE_OVERLAYS[figure]
    if not names:
        return ""
    return "Overlays: " + "; ".join(OVERLAYS[name].description for name in names) + "."


def figure_overlays() -> dict[str, str]:
    """:func:`overlay_caption` of every figure of :data:`FIGURE_OVERLAYS` (rule params)."""
    return {figure: overlay_caption(figure) for figure in FIGURE_OVERLAYS}


#: Titles of the report items (``snakemake --report``), by figure or page; ``{band}``
#: and ``{table}`` are the rules' wildcards.
REPORT_TITLES = {
    "summary": "Summary: significance map and key numbers",
    "significance": "Significance map",
    "excess": "Excess counts map",
    "flux": "Integral flux map",
    "flux_exposure": "Exposure of the flux map",
    "significance_distribution": "Significance distribution outside the exclusion mask",
    "significance_ring": "Significance map, ring background",
    "significance_distribution_ring": "Significance distribution, ring background",
    "significance_band": "Significance map, energy band {band}",
    "observation_qa": "Observation quality",
    "counts": "Counts",
    "background": "Predicted background",
    "exposure": "Exposure",
    "safe_energy": "Safe energy thresholds",
    "exclusion_regions": "Exclusion mask: regions",
    "exclusion_catalog": "Exclusion mask: catalog",
    "exclusion_initial": "Exclusion mask: initial",
    "exclusion_significance": "Exclusion mask: significance",
    "exclusion_final": "Exclusion mask: final",
    "background_norms": "Background normalisation per observation",
    "table_observations": "Table: observations (selected, rejected, warnings)",
    "table_background_norms": "Table: background normalisation",
    "table_peaks": "Table: significance peaks",
    "table_safe_energy": "Table: safe energy thresholds",
    "table_spectrum_runs": "Table: 1D spectrum per observation and stacked",
    "theta2": "Spectrum: theta-squared distribution, ON and scaled OFF",
    "spectrum_excess": "Spectrum: excess and significance per energy bin",
    "cumulative_significance": "Spectrum: significance and excess vs livetime",
    "spectrum_regions": "Spectrum: ON and OFF regions on the counts image",
}


def _wildcard_dict(wildcards) -> dict:
    if hasattr(wildcards, "items"):
        return {str(k): str(v) for k, v in wildcards.items()}
    return {}


def report_labels(item: str):
    """The ``labels`` of a report item: a function of the job's wildcards.

    Parameters
    ----------
    item : str
        A key of :data:`REPORT_TITLES`, possibly with wildcards (``"table_{table}"``).

    Returns
    -------
    callable
        ``labels(wildcards) -> {"title": ...}`` with the wildcards filled in (the
        report then lists the item by its title, not its path).

    Raises
    ------
    KeyError
        If ``item`` (without wildcards) is not a key of :data:`REPORT_TITLES`.
    """
    if "{" not in item and item not in REPORT_TITLES:
        raise KeyError(f"no report title for {item!r}; known: {', '.join(REPORT_TITLES)}")

    def labels(wildcards):
        values = _wildcard_dict(wildcards)
        key = item.format(**values)
        if key not in REPORT_TITLES:
            raise KeyError(f"no report title for {key!r}; known: {', '.join(REPORT_TITLES)}")
        return {"title": REPORT_TITLES[key].format(**values)}

    return labels


#: Longest label (characters) a plot shows: a source name, a title's name, a caption
#: (wrapped into lines of :data:`CAPTION_LINE_CHARS`).
LABEL_CHARS = {"source": 32, "title": 80, "caption": 300}
CAPTION_LINE_CHARS = 100


def short_label(text, *, kind: str = "source") -> str:
    """``text`` cut to what a plot can show (:data:`LABEL_CHARS`), ending in an ellipsis.

    A label a thousand times wider than the figure makes ``bbox_inches="tight"``
    grow the PNG to match (a 100,000-character source name: a 1.1-million-pixel
    image and 4.4 GB of memory); the tables keep the full text. A caption is also
    wrapped into lines of at most :data:`CAPTION_LINE_CHARS` characters.
    """
    text = " ".join(str(text).split())
    limit = LABEL_CHARS[kind]
    if len(text) > limit:
        text = text[: limit - 1] + "\N{HORIZONTAL ELLIPSIS}"
    if kind == "caption":
        import textwrap

        text = "\n".join(textwrap.wrap(text, CAPTION_LINE_CHARS)) or text
    return text
