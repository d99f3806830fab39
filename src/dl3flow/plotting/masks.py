"""Quick-look figure of an exclusion mask over a counts image.

The excluded area is outlined over the counts image on sky
axes (WCSAxes); catalog sources the mask excludes are marked and labelled by name.
As in `dl3flow.plotting.quicklook`, figures are :class:`matplotlib.figure.Figure` objects
(no pyplot state) saved with `dl3flow.io.atomic.write_figure`.
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap, PowerNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from dl3flow.plotting.text import OVERLAYS, short_label

__all__ = ["plot_exclusion"]

_AXIS_LABELS = {
    "icrs": ("Right ascension (ICRS)", "Declination (ICRS)"),
    "galactic": ("Galactic longitude", "Galactic latitude"),
}
_KIND_TITLES = {
    "regions": "Exclusion mask from regions",
    "catalogs": "Exclusion mask from catalogs",
    "significance": "Exclusion mask from significance",
    "combined": "Exclusion mask",
}
_MASK_COLOUR = OVERLAYS["excluded_area"].colour
_SOURCE_COLOUR = OVERLAYS["excluded_sources"].colour


def _source_positions(sources, geom):
    """Pixel (x, y) and names of the sources inside the image."""
    from astropy.coordinates import SkyCoord

    if sources is None or len(sources) == 0:
        return np.empty(0), np.empty(0), []
    ra = np.asarray(getattr(sources["RA"], "value", sources["RA"]), dtype=float)
    dec = np.asarray(getattr(sources["DEC"], "value", sources["DEC"]), dtype=float)
    x, y = SkyCoord(ra, dec, unit="deg").to_pixel(geom.wcs, origin=0)
    ny, nx = geom.shape
    inside = (x > -0.5) & (x < nx - 0.5) & (y > -0.5) & (y < ny - 0.5)
    names = [str(n) for n in np.asarray(sources["NAME"])[inside]]
    return x[inside], y[inside], names


def _draw_image(ax, mask, geom, counts):
    """The counts image (sqrt scale) or, without counts, the mask; and its colour-bar label."""
    if counts is not None:
        data = np.asarray(getattr(counts, "value", counts), dtype=float)
        if data.shape != mask.shape:
            raise ValueError(f"counts shape {data.shape} != mask shape {mask.shape}")
        finite = data[np.isfinite(data)]
        vmax = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
        im = ax.imshow(
            data,
            origin="lower",
            cmap="afmhot",
            norm=PowerNorm(gamma=0.5, vmin=0.0, vmax=vmax),
            interpolation="nearest",
        )
        return im, f"counts / pixel ({geom.binsz[0]:.3g}\N{DEGREE SIGN} pixels), sqrt scale"
    im = ax.imshow(
        mask.astype(float),
        origin="lower",
        cmap=ListedColormap(["0.3", "0.85"]),
        norm=BoundaryNorm([-0.5, 0.5, 1.5], 2),
        interpolation="nearest",
    )
    return im, "background estimation"


def _mark_sources(ax, x, y, names, shape) -> None:
    """Mark the excluded sources and name them, labels towards the image centre."""
    ax.plot(x, y, "+", color=_SOURCE_COLOUR, markersize=9, markeredgewidth=1.5)
    ny, nx = shape
    offset = 0.012 * max(nx, ny)
    for xi, yi, name in zip(x, y, names, strict=True):
        right = xi > 0.65 * nx  # label towards the image centre, not off its edge
        ax.text(
            xi - offset if right else xi + offset,
            yi + offset,
            short_label(name),
            ha="right" if right else "left",
            color=_SOURCE_COLOUR,
            fontsize=7,
            clip_on=True,
            bbox={"facecolor": "black", "alpha": 0.45, "edgecolor": "none", "pad": 1.0},
        )


def _legend_handles(with_sources: bool) -> list:
    """Legend entries: the excluded area and, when sources are marked, the sources."""
    handles = [
        Patch(
            facecolor="0.3",
            edgecolor=_MASK_COLOUR,
            linewidth=1.4,
            label=OVERLAYS["excluded_area"].label,
        ),
    ]
    if with_sources:
        handles.append(
            Line2D(
                [],
                [],
                marker="+",
                linestyle="none",
                color="black",
                label=OVERLAYS["excluded_sources"].label,
            )
        )
    return handles


def plot_exclusion(
    mask,
    geom,
    *,
    counts=None,
    sources=None,
    title: str | None = None,
    kind: str | None = None,
    caption: str | None = None,
    figsize=(7.2, 6.2),
) -> Figure:
    """The exclusion mask contour over a counts image, excluded sources labelled.

    Parameters
    ----------
    mask : array_like of bool
        ``geom.shape``, True = usable for the background, False = excluded.
    geom : `~dl3flow.maps.geom.SkyGeom`
    counts : array_like, optional
        2D counts image (summed over energy) on ``geom``; without it the mask itself
        is shown.
    sources : `~astropy.table.Table`, optional
        Excluded sources (``NAME``, ``RA``, ``DEC`` in ICRS deg), e.g.
        ``ExclusionMask.sources``; those inside the image are marked and named.
    title : str, optional
        Figure title; by default one from ``kind`` with the excluded fraction.
    kind : str, optional
        Recipe kind ("regions", "catalogs", "significance", "combined") for the title.
    caption : str, optional
        Small text under the axes (e.g. data and catalog attributions).
    figsize : tuple
        Figure size in inches.

    Returns
    -------
    figure : `~matplotlib.figure.Figure`
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != tuple(geom.shape):
        raise ValueError(f"mask shape {mask.shape} != geometry shape {geom.shape}")
    excluded = ~mask
    fraction = excluded.mean()

    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot(projection=geom.wcs)
    im, label = _draw_image(ax, mask, geom, counts)
    if excluded.any() and not excluded.all():
        ax.contour(excluded.astype(float), levels=[0.5], colors=_MASK_COLOUR, linewidths=1.4)
    x, y, names = _source_positions(sources, geom)
    if names:
        _mark_sources(ax, x, y, names, geom.shape)

    xlabel, ylabel = _AXIS_LABELS.get(geom.frame, ("Longitude", "Latitude"))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.coords.grid(color="white", alpha=0.3, linestyle="dotted")
    if title is None:
        title = _KIND_TITLES.get(kind or "", "Exclusion mask")
    title = short_label(title, kind="title")
    ax.set_title(f"{title}\n{excluded.sum()} pixels excluded ({100 * fraction:.1f} %)")
    ax.legend(handles=_legend_handles(bool(names)), loc="upper right", fontsize=7, framealpha=0.7)
    colorbar = fig.colorbar(im, ax=ax, shrink=0.85)
    colorbar.set_label(label)
    if counts is None:
        colorbar.set_ticks([0, 1], labels=["excluded", "used"])
    if caption:
        fig.supxlabel(short_label(caption, kind="caption"), fontsize=7, color="0.35")
    return fig
