"""Quick-look images of map datasets (counts, background, exposure).

Figures are built with :class:`matplotlib.figure.Figure` directly (no pyplot, no
global backend state): they render with Agg when saved, work in scripts and on
cluster nodes without a display, and display in notebooks when returned. Sky axes
use astropy's WCSAxes with the dataset's WCS.

This is the only dl3flow module that imports matplotlib.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from matplotlib.colors import Normalize, PowerNorm
from matplotlib.figure import Figure

__all__ = [
    "plot_image",
    "plot_counts",
    "plot_background",
    "plot_exposure",
    "quicklook_figures",
    "plot_safe_energy",
    "QUICKLOOK_NAMES",
]

#: Names (and file stems) of the quick-look figures, in order.
QUICKLOOK_NAMES = ("counts", "background", "exposure")

_AXIS_LABELS = {
    "icrs": ("Right ascension (ICRS)", "Declination (ICRS)"),
    "galactic": ("Galactic longitude", "Galactic latitude"),
}


def _values(array) -> np.ndarray:
    """Plain float array of an ndarray or Quantity."""
    return np.asarray(getattr(array, "value", array), dtype=float)


def _fmt_energy(value: float) -> str:
    return f"{value:.3g} TeV"


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


def _dataset_name(dataset) -> str:
    name = getattr(dataset, "name", None)
    return f" \N{EM DASH} {short_label(name, kind='title')}" if name else ""


def _safe_footprint(dataset) -> np.ndarray | None:
    """2D image True where any energy bin is safe, or None if everything is safe."""
    mask = getattr(dataset, "mask_safe", None)
    if mask is None:
        return None
    image = np.asarray(mask, dtype=bool).any(axis=0)
    return None if image.all() else image


def plot_image(
    image,
    *,
    wcs,
    title: str,
    label: str,
    frame: str = "icrs",
    cmap: str = "viridis",
    stretch: str = "linear",
    footprint: np.ndarray | None = None,
    caption: str | None = None,
    figsize=(6.4, 5.6),
) -> Figure:
    """Image on sky axes with a colour bar.

    Parameters
    ----------
    image : array_like
        2D image ``(ny, nx)``.
    wcs : `~astropy.wcs.WCS`
        Celestial WCS of the image.
    title : str
        Figure title.
    label : str
        Colour bar label (quantity and unit).
    frame : {"icrs", "galactic"}
        Frame of the WCS, for the axis labels.
    cmap : str
        Matplotlib colour map.
    stretch : {"linear", "sqrt"}
        Colour scale; "sqrt" brings out faint structure next to bright sources.
    footprint : array_like of bool, optional
        Safe-data footprint (True = used); its outline is drawn.
    caption : str, optional
        Small text under the axes (e.g. a data attribution).
    figsize : tuple
        Figure size in inches.

    Returns
    -------
    figure : `~matplotlib.figure.Figure`
    """
    data = _values(image)
    if data.ndim != 2:
        raise ValueError(f"plot_image needs a 2D image, got shape {data.shape}")
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot(projection=wcs)
    finite = data[np.isfinite(data)]
    vmax = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    if stretch == "sqrt":
        norm = PowerNorm(gamma=0.5, vmin=0.0, vmax=vmax)
    elif stretch == "linear":
        norm = Normalize(vmin=0.0, vmax=vmax)
    else:
        raise ValueError(f"stretch must be 'linear' or 'sqrt', got {stretch!r}")
    im = ax.imshow(data, origin="lower", cmap=cmap, norm=norm, interpolation="nearest")
    if footprint is not None:
        ax.contour(np.asarray(footprint, dtype=float), levels=[0.5], colors="white", linewidths=0.8)
    xlabel, ylabel = _AXIS_LABELS.get(frame, ("Longitude", "Latitude"))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.coords.grid(color="white", alpha=0.3, linestyle="dotted")
    ax.set_title(title)
    colorbar = fig.colorbar(im, ax=ax, shrink=0.85)
    colorbar.set_label(label)
    if caption:
        fig.supxlabel(short_label(caption, kind="caption"), fontsize=7, color="0.35")
    return fig


def _sky(dataset):
    return dataset.geom.sky


def plot_counts(dataset, *, caption: str | None = None) -> Figure:
    """Counts summed over reconstructed energy (all bins, safe or not)."""
    edges = dataset.geom.energy.edges
    counts = _values(dataset.counts).sum(axis=0)
    sky = _sky(dataset)
    title = (
        f"Counts{_dataset_name(dataset)}\n"
        f"{_fmt_energy(edges[0])} \N{EN DASH} {_fmt_energy(edges[-1])}, "
        f"total {counts.sum():.0f}"
    )
    return plot_image(
        counts,
        wcs=sky.wcs,
        frame=sky.frame,
        title=title,
        label=f"counts / pixel ({sky.binsz[0]:.3g}\N{DEGREE SIGN} pixels), sqrt scale",
        cmap="afmhot",
        stretch="sqrt",
        footprint=_safe_footprint(dataset),
        caption=caption,
    )


def plot_background(dataset, *, caption: str | None = None) -> Figure:
    """Predicted background counts summed over reconstructed energy."""
    if getattr(dataset, "background", None) is None:
        raise ValueError("dataset has no background map")
    edges = dataset.geom.energy.edges
    background = _values(dataset.background).sum(axis=0)
    sky = _sky(dataset)
    title = (
        f"Background{_dataset_name(dataset)}\n"
        f"{_fmt_energy(edges[0])} \N{EN DASH} {_fmt_energy(edges[-1])}, "
        f"total {np.nansum(background):.1f}"
    )
    return plot_image(
        background,
        wcs=sky.wcs,
        frame=sky.frame,
        title=title,
        label=f"predicted background counts / pixel ({sky.binsz[0]:.3g}\N{DEGREE SIGN} pixels)",
        cmap="afmhot",
        footprint=_safe_footprint(dataset),
        caption=caption,
    )


def plot_exposure(dataset, *, energy_true=None, caption: str | None = None) -> Figure:
    """Exposure at one true energy, or summed over true energy.

    Parameters
    ----------
    dataset : `~dl3flow.dataset.MapDataset`
    energy_true : Quantity or float (TeV), optional
        Show the true-energy bin containing this energy; None sums over all bins.
    caption : str, optional
        Small text under the axes.
    """
    exposure = _values(dataset.exposure)
    edges = dataset.geom.energy_true.edges
    if energy_true is None:
        image = exposure.sum(axis=0)
        where = f"summed over {edges.size - 1} true-energy bins"
    else:
        energy = float(u.Quantity(energy_true, "TeV").value)
        if not edges[0] * (1 - 1e-9) <= energy <= edges[-1] * (1 + 1e-9):
            raise ValueError(
                f"energy_true {energy} TeV is outside the true-energy axis "
                f"({edges[0]:.4g} - {edges[-1]:.4g} TeV)"
            )
        index = int(np.clip(np.searchsorted(edges, energy, side="right") - 1, 0, edges.size - 2))
        image = exposure[index]
        where = (
            f"E_true = {_fmt_energy(energy)} (bin {edges[index]:.3g} \N{EN DASH} "
            f"{_fmt_energy(edges[index + 1])})"
        )
    sky = _sky(dataset)
    return plot_image(
        image,
        wcs=sky.wcs,
        frame=sky.frame,
        title=f"Exposure{_dataset_name(dataset)}\n{where}",
        label="exposure (m\N{SUPERSCRIPT TWO} s)",
        cmap="viridis",
        caption=caption,
    )


def quicklook_figures(
    dataset, *, exposure_energy_true=None, caption: str | None = None
) -> dict[str, Figure]:
    """The counts, background and exposure figures of a dataset, keyed by name."""
    return {
        "counts": plot_counts(dataset, caption=caption),
        "background": plot_background(dataset, caption=caption),
        "exposure": plot_exposure(dataset, energy_true=exposure_energy_true, caption=caption),
    }


def plot_safe_energy(
    table, *, energy_edges=None, caption: str | None = None, figsize=(6.4, 4.8)
) -> Figure:
    """Safe lower energy threshold of each observation against its zenith angle.

    Parameters
    ----------
    table : `~astropy.table.Table`
        From :func:`dl3flow.safe_mask.safe_energy_table` (``obs_id``, ``methods``,
        ``energy_min``, ``energy_min_binned``, ``zenith``).
    energy_edges : array_like, optional
        Reconstructed-energy bin edges (TeV), drawn as faint horizontal lines: a
        threshold removes every bin that starts below it.
    caption : str, optional
        Small text under the axes (e.g. a data attribution).
    figsize : tuple
        Figure size in inches.

    Returns
    -------
    figure : `~matplotlib.figure.Figure`
        Filled circles: the threshold; open squares: lower edge of the first safe
        reco bin. Observations without a known zenith angle are left out (and counted
        in the title); each point is labelled with its obs id when there are at most 30.
    """
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    zenith = _values(table["zenith"]) if len(table) else np.array([])
    threshold = _values(table["energy_min"]) if len(table) else np.array([])
    binned = _values(table["energy_min_binned"]) if len(table) else np.array([])
    shown = np.isfinite(zenith) & np.isfinite(threshold) & (threshold > 0)
    shown_binned = np.isfinite(zenith) & np.isfinite(binned)
    if energy_edges is not None:
        for edge in np.asarray(energy_edges, dtype=float):
            ax.axhline(edge, color="0.85", linewidth=0.7, zorder=0)
    ax.scatter(
        zenith[shown_binned],
        binned[shown_binned],
        marker="s",
        facecolors="none",
        edgecolors="tab:gray",
        s=40,
        label="first safe reco-energy bin (lower edge)",
    )
    ax.scatter(zenith[shown], threshold[shown], color="tab:blue", s=25, label="safe threshold")
    if len(table) <= 30:
        for z, e, obs_id in zip(
            zenith[shown], threshold[shown], table["obs_id"][shown], strict=True
        ):
            ax.annotate(str(obs_id), (z, e), xytext=(3, 3), textcoords="offset points", fontsize=7)
    ax.set_yscale("log")
    ax.set_xlabel("Zenith angle of the pointing (deg)")
    ax.set_ylabel("Lower safe energy (TeV)")
    methods = sorted({str(m) for m in table["methods"]}) if len(table) else []
    missing = int(np.sum(~np.isfinite(zenith)))
    title = f"Safe energy threshold ({', '.join(methods) or 'no observations'})"
    if missing:
        title += f"; {missing} obs without zenith"
    if not shown.any():
        ax.text(0.5, 0.5, "no lower energy threshold", transform=ax.transAxes, ha="center")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both", axis="x")
    ax.legend(fontsize=8, loc="best")
    if caption:
        fig.supxlabel(short_label(caption, kind="caption"), fontsize=7, color="0.35")
    return fig
