"""Quick-look images of map datasets (counts, background, exposure).

Figures are built with :class:`matplotlib.figure.Figure` directly (no pyplot, no
global backend state): they render with Agg when saved, work in scripts and on
cluster nodes without a display, and display in notebooks when returned. Sky axes
use astropy's WCSAxes with the dataset's WCS.

The colour scales are those of `dl3flow.plotting.scales`, the words of the
legends those of `dl3flow.plotting.text`.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from matplotlib import patheffects
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from dl3flow.plotting.maps import add_legend, exposure_label, sky_figure
from dl3flow.plotting.scales import linear_stretch, log_limits, plain_log_labels
from dl3flow.plotting.text import OVERLAYS, short_label

__all__ = [
    "plot_image",
    "plot_counts",
    "plot_background",
    "plot_exposure",
    "quicklook_figures",
    "plot_safe_energy",
    "MAX_ROWS",
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
        Safe-data footprint (True = used); its outline is drawn and explained in the
        legend (:data:`dl3flow.plotting.text.OVERLAYS` ``footprint``).
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
    fig, ax, legend_ax = sky_figure(wcs, figsize=figsize)
    if stretch not in ("linear", "sqrt"):
        raise ValueError(f"stretch must be 'linear' or 'sqrt', got {stretch!r}")
    scale = linear_stretch(data, kind=stretch)
    im = ax.imshow(data, origin="lower", cmap=cmap, norm=scale.norm(), interpolation="nearest")
    handles = []
    if footprint is not None:
        overlay = OVERLAYS["footprint"]
        ax.contour(
            np.asarray(footprint, dtype=float), levels=[0.5], colors=overlay.colour, linewidths=0.8
        )
        # a white line explained on the white figure background: draw it on grey
        handles.append(
            Line2D(
                [],
                [],
                color=overlay.colour,
                lw=1.5,
                label=overlay.label,
                path_effects=[patheffects.withStroke(linewidth=3, foreground="0.45")],
            )
        )
    xlabel, ylabel = _AXIS_LABELS.get(frame, ("Longitude", "Latitude"))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.coords.grid(color="white", alpha=0.3, linestyle="dotted")
    ax.set_title(title)
    colorbar = fig.colorbar(im, ax=ax, shrink=0.85)
    colorbar.set_label(label)
    add_legend(fig, legend_ax, handles)
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
    dataset : `~dl3flow.datasets.map.MapDataset`
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
    unit = str(getattr(dataset.exposure, "unit", None) or "m2 s")
    image, label = exposure_label(image, unit)
    return plot_image(
        image,
        wcs=sky.wcs,
        frame=sky.frame,
        title=f"Exposure{_dataset_name(dataset)}\n{where}",
        label=label,
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


#: Above this many observations the safe-energy plot shows a histogram of the
#: thresholds instead of one row per observation.
MAX_ROWS = 40


def _analysis_range(ax, energy_range, *, vertical: bool) -> None:
    """Shade what lies outside the analysis energy range (and name it in the legend)."""
    if energy_range is None:
        return
    lo, hi = (float(v) for v in energy_range)
    span = ax.axvspan if vertical else ax.axhspan
    line = ax.axvline if vertical else ax.axhline
    style = {"color": "0.5", "alpha": 0.15, "lw": 0, "zorder": 0}
    span(1e-6, lo, **style)
    span(hi, 1e6, **style)
    label = f"analysis energy range {lo:.3g} \N{EN DASH} {hi:.3g} TeV (outside: shaded)"
    line(lo, color="0.4", lw=1, ls="--", label=label)
    line(hi, color="0.4", lw=1, ls="--")


def _plot_against_zenith(ax, zenith, threshold, binned) -> None:
    """Left panel of :func:`plot_safe_energy`: thresholds against the zenith angle."""
    shown = np.isfinite(zenith) & np.isfinite(threshold) & (threshold > 0)
    shown_binned = np.isfinite(zenith) & np.isfinite(binned) & (binned > 0)
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
    ax.set_xlabel("zenith angle of the pointing (deg)")
    ax.set_ylabel("lower safe energy (TeV)")
    if not shown.any():
        ax.text(0.5, 0.5, "no lower energy threshold", transform=ax.transAxes, ha="center")


def _plot_rows(ax, threshold, binned, obs_ids, positive) -> None:
    """Right panel of :func:`plot_safe_energy`: one row per observation, sorted by threshold."""
    n = len(threshold)
    order = np.argsort(np.where(positive, threshold, np.inf), kind="stable")
    y = np.arange(n)
    ax.scatter(binned[order], y, marker="s", facecolors="none", edgecolors="tab:gray", s=40)
    ax.scatter(threshold[order], y, color="tab:blue", s=25)
    ax.set_yticks(y, labels=[str(i) for i in obs_ids[order]], fontsize=7)
    if n:
        ax.set_ylim(n - 0.5, -0.5)
    ax.set_ylabel("observation (sorted by threshold)")
    ax.set_xlabel("lower safe energy (TeV)")
    ax.grid(alpha=0.3, axis="x", which="both")


def _plot_histogram(ax, threshold, positive, limits) -> None:
    """Right panel of :func:`plot_safe_energy` for many observations: threshold histogram."""
    if positive.any():
        lo, hi = limits
        bins = np.geomspace(lo, hi, 30)
        ax.hist(threshold[positive], bins=bins, color="tab:blue", alpha=0.7)
    ax.set_xlabel("lower safe energy (TeV)")
    ax.set_ylabel("number of observations")


def _energy_axes(ax, right, energy_range, limits) -> None:
    """Log energy axes of both panels, limited to ``limits``, the analysis range drawn."""
    for axis, vertical in ((ax, False), (right, True)):
        _analysis_range(axis, energy_range, vertical=vertical)
    ax.set_yscale("log")
    right.set_xscale("log")
    if limits is not None:
        ax.set_ylim(*limits)
        right.set_xlim(*limits)
    plain_log_labels(ax.yaxis, limits)
    plain_log_labels(right.xaxis, limits)
    ax.grid(alpha=0.3, which="major")
    ax.legend(fontsize=7, loc="upper left")


def _safe_energy_title(table, zenith, name) -> str:
    """Title of :func:`plot_safe_energy`: counts, methods and observations without zenith."""
    n = len(table)
    methods = sorted({str(m) for m in table["methods"]}) if n else []
    missing = int(np.sum(~np.isfinite(zenith)))
    title = "Safe energy threshold" + (f" \N{EM DASH} {name}" if name else "")
    title += f"\n{n} observations; methods {', '.join(methods) or 'none (no observations)'}"
    if missing:
        title += f"; {missing} obs without zenith"
    return title


def plot_safe_energy(
    table,
    *,
    energy_edges=None,
    name: str | None = None,
    caption: str | None = None,
    max_rows: int = MAX_ROWS,
) -> Figure:
    """Safe lower energy threshold of each observation: against zenith, and per observation.

    Parameters
    ----------
    table : `~astropy.table.Table`
        From :func:`dl3flow.makers.safe_io.safe_energy_table` (``obs_id``, ``methods``,
        ``energy_min``, ``energy_min_binned``, ``zenith``).
    energy_edges : array_like, optional
        Reconstructed-energy bin edges of the analysis (TeV): the analysis energy range
        (first to last edge) is drawn, what lies outside it shaded.
    name : str, optional
        Analysis name (title).
    caption : str, optional
        Small text under the axes (e.g. a data attribution).
    max_rows : int
        Up to this many observations, the right panel has one row per observation
        (sorted by threshold, labelled with its obs id); above, a histogram of the
        thresholds.

    Returns
    -------
    figure : `~matplotlib.figure.Figure`
        Left: threshold against the zenith angle of the pointing (filled circles; open
        squares: lower edge of the first safe reco bin; observations without a known
        zenith angle are left out and counted in the title). Right: the rows or the
        histogram. Energy axes are logarithmic, limited to the values shown and the
        lower end of the analysis range.
    """
    n = len(table)
    zenith = _values(table["zenith"]) if n else np.array([])
    threshold = _values(table["energy_min"]) if n else np.array([])
    binned = _values(table["energy_min_binned"]) if n else np.array([])
    obs_ids = np.asarray(table["obs_id"]) if n else np.array([], dtype=int)
    rows = n <= max_rows
    height = max(4.8, 0.16 * n + 1.8) if rows else 4.8
    fig = Figure(figsize=(10.0, height), layout="constrained")
    ax, right = fig.subplots(1, 2, width_ratios=[1.3, 1.0])
    energy_range = None
    if energy_edges is not None:
        edges = np.asarray(energy_edges, dtype=float)
        energy_range = (edges[0], edges[-1])
    limits = log_limits(threshold, binned, [] if energy_range is None else [energy_range[0]])
    _plot_against_zenith(ax, zenith, threshold, binned)
    positive = np.isfinite(threshold) & (threshold > 0)
    if rows:
        _plot_rows(right, threshold, binned, obs_ids, positive)
    else:
        _plot_histogram(right, threshold, positive, limits)
    _energy_axes(ax, right, energy_range, limits)
    fig.suptitle(_safe_energy_title(table, zenith, name), fontsize=10)
    if caption:
        fig.supxlabel(short_label(caption, kind="caption"), fontsize=7, color="0.35")
    return fig
