"""What the lines and markers drawn over the sky maps mean: one text for legends and captions.

The figure legends (`dl3flow.plotting`, `dl3flow.plotting_maps`,
`dl3flow.plotting_masks`) and the report captions (``report/*.rst``, through the
plot rules' ``overlays`` param) both take their words from :data:`OVERLAYS`, so
that a plot and its caption cannot disagree about what a contour is.

This module imports nothing heavy (the workflow imports it when it parses the
rules).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Overlay", "OVERLAYS", "FIGURE_OVERLAYS", "overlay_caption", "figure_overlays"]

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
