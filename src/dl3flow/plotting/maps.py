"""Figures of the final products: significance, excess, flux and exposure maps and
the significance distribution (the per-observation quality summary is in
`dl3flow.plotting.qa`).

Like `dl3flow.plotting.quicklook`, figures are :class:`matplotlib.figure.Figure` objects
built without pyplot (no global state, no display needed); sky images use
astropy's WCSAxes. Every figure has a title, axis labels with units and, for
images, a labelled colour bar, so that it reads without the code. Save with
`dl3flow.io.atomic.write_figure`.

Inputs are plain arrays, a `~dl3flow.maps.geom.SkyGeom` and astropy Tables, e.g.
from `dl3flow.estimators.maps.read_maps`; nothing is recomputed here except the
Gaussian fit of the significance distribution (`dl3flow.stats.fit_gaussian`).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from dl3flow.plotting.scales import (
    Stretch,
    asinh_stretch,
    linear_stretch,
    power_of_ten,
    significance_stretch,
    times_ten,
)
from dl3flow.plotting.text import OVERLAYS, short_label
from dl3flow.stats import fit_gaussian

__all__ = [
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
]

_AXIS_LABELS = {
    "icrs": ("Right ascension (ICRS)", "Declination (ICRS)"),
    "galactic": ("Galactic longitude", "Galactic latitude"),
}
_TEV = "TeV"
_PER_CM2_S = "cm\N{SUPERSCRIPT MINUS}\N{SUPERSCRIPT TWO} s\N{SUPERSCRIPT MINUS}\N{SUPERSCRIPT ONE}"
_M2_S = "m\N{SUPERSCRIPT TWO} s"
#: Contours of the significance maps: (level in sigma, `dl3flow.plotting.text.OVERLAYS` name).
SIGNIFICANCE_CONTOURS = ((3.0, "significance_3"), (5.0, "significance_5"))
#: Offset (points, in x and y) of a source label from its marker.
LABEL_OFFSET = 8
_MU, _SIGMA = "\N{GREEK SMALL LETTER MU}", "\N{GREEK SMALL LETTER SIGMA}"


def _image(data, sky, what: str) -> np.ndarray:
    image = np.asarray(getattr(data, "value", data), dtype=float)
    if image.ndim == 3 and image.shape[0] == 1:
        image = image[0]
    if image.shape != tuple(sky.shape):
        raise ValueError(f"{what} has shape {image.shape}, the geometry {tuple(sky.shape)}")
    return image


def _band_text(energy_range) -> str:
    if energy_range is None:
        return ""
    lo, hi = (float(v) for v in energy_range)
    return f"{lo:.3g} \N{EN DASH} {hi:.3g} {_TEV}"


def _title(kind: str, name: str | None, energy_range, extra: str | None = None) -> str:
    head = kind + (f" \N{EM DASH} {short_label(name, kind='title')}" if name else "")
    parts = [p for p in (_band_text(energy_range), extra) if p]
    return head + ("\n" + ", ".join(parts) if parts else "")


def sky_figure(wcs, *, figsize):
    """A figure with sky axes and, under them, a row for the legend of the overlays.

    Returns
    -------
    figure : `~matplotlib.figure.Figure`
    ax : WCSAxes
    legend_slot : `~matplotlib.gridspec.SubplotSpec`
        Where :func:`add_legend` puts the legend (below the sky axes, above the caption).
    """
    fig = Figure(figsize=figsize, layout="constrained")
    grid = fig.add_gridspec(2, 1, height_ratios=[1.0, 0.05])
    ax = fig.add_subplot(grid[0], projection=wcs)
    return fig, ax, grid[1]


def add_legend(fig, legend_slot, handles) -> None:
    """The legend of the overlays, in hidden axes at ``legend_slot`` (none without handles).

    Call it after the colour bar, so that ``fig.axes`` is (image, colour bar, legend).
    """
    if not handles:
        return
    legend_ax = fig.add_subplot(legend_slot)
    legend_ax.set_axis_off()
    legend_ax.legend(
        handles=handles, loc="center", ncols=min(len(handles), 4), fontsize=7, frameon=False
    )


def plot_sky_map(
    image,
    sky,
    *,
    title: str,
    label: str,
    cmap: str = "viridis",
    stretch: Stretch | None = None,
    exclusion=None,
    sources=None,
    contours=(),
    caption: str | None = None,
    figsize=(6.6, 6.0),
) -> Figure:
    """An image on sky axes with a colour bar, optional contours, exclusion and sources.

    Parameters
    ----------
    image : array_like
        ``(ny, nx)`` (or ``(1, ny, nx)``) image.
    sky : `~dl3flow.maps.geom.SkyGeom`
        Geometry of the image.
    title : str
        Figure title.
    label : str
        Colour-bar label (quantity and unit).
    cmap : str
        Matplotlib colour map (a significance stretch brings its own).
    stretch : `~dl3flow.plotting.scales.Stretch`, optional
        Colour scale; default linear over the finite values.
    exclusion : array_like of bool, optional
        ``(ny, nx)`` exclusion mask, True = used (not excluded); the boundary of the
        excluded regions is drawn (:data:`dl3flow.plotting.text.OVERLAYS` ``exclusion``).
    sources : `~astropy.table.Table`, optional
        Sources to mark: columns ``ra``, ``dec`` (deg, ICRS) and optionally ``name``.
    contours : sequence of (float, str)
        Contour levels of ``image`` and the :data:`~dl3flow.plotting.text.OVERLAYS`
        name of each, e.g. ``[(3.0, "significance_3"), (5.0, "significance_5")]``.
    caption : str, optional
        Small text under the figure (e.g. a data attribution).
    figsize : tuple

    Returns
    -------
    figure : `~matplotlib.figure.Figure`
        Every overlay drawn has a legend entry (its :data:`~dl3flow.plotting.text.OVERLAYS`
        label).

    Raises
    ------
    ValueError
        If an array does not match the geometry or ``sources`` lacks ra/dec columns.
    """
    data = _image(image, sky, "image")
    fig, ax, legend_ax = sky_figure(sky.wcs, figsize=figsize)
    if stretch is None:
        finite = data[np.isfinite(data)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        stretch = Stretch(kind="linear", vmin=lo, vmax=hi if hi > lo else lo + 1.0)
    im = ax.imshow(
        data,
        origin="lower",
        cmap=stretch.colormap(cmap),
        norm=stretch.norm(),
        interpolation="nearest",
    )
    handles = []
    for level, name in contours:
        if np.nanmax(data, initial=-np.inf) > level:
            overlay = OVERLAYS[name]
            width = 1.2 if name == "significance_5" else 0.8
            ax.contour(data, levels=[level], colors=overlay.colour, linewidths=width)
            handles.append(Line2D([], [], color=overlay.colour, lw=width, label=overlay.label))
    if exclusion is not None:
        mask = _image(np.asarray(exclusion, dtype=float), sky, "exclusion mask")
        if mask.min() < 0.5 < mask.max():
            overlay = OVERLAYS["exclusion"]
            ax.contour(mask, levels=[0.5], colors=overlay.colour, linewidths=1.4)
            handles.append(Line2D([], [], color=overlay.colour, lw=1.4, label=overlay.label))
    if sources is not None and len(sources) > 0 and _mark_sources(ax, sky, sources):
        overlay = OVERLAYS["sources"]
        handles.append(
            Line2D(
                [],
                [],
                marker="+",
                ls="none",
                ms=9,
                mew=1.5,
                color=overlay.colour,
                label=overlay.label,
            )
        )
    xlabel, ylabel = _AXIS_LABELS.get(sky.frame, ("Longitude", "Latitude"))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.coords.grid(color="0.6", alpha=0.4, linestyle="dotted")
    ax.set_title(title)
    colorbar = fig.colorbar(im, ax=ax, shrink=0.85, extend=stretch.extend)
    if stretch.ticks:
        colorbar.set_ticks(list(stretch.ticks), labels=[f"{t:g}" for t in stretch.ticks])
    colorbar.set_label(label)
    add_legend(fig, legend_ax, handles)
    if caption:
        fig.supxlabel(short_label(caption, kind="caption"), fontsize=7, color="0.35")
    return fig


def _mark_sources(ax, sky, sources) -> int:
    names = {c.lower(): c for c in sources.colnames}
    if "ra" not in names or "dec" not in names:
        raise ValueError(f"sources need 'ra' and 'dec' columns, got {sources.colnames}")
    from astropy.coordinates import SkyCoord
    from matplotlib import patheffects

    ra = np.asarray(getattr(sources[names["ra"]], "value", sources[names["ra"]]), dtype=float)
    dec = np.asarray(getattr(sources[names["dec"]], "value", sources[names["dec"]]), dtype=float)
    coord = SkyCoord(ra, dec, unit="deg", frame="icrs")
    x, y = sky.wcs.world_to_pixel(coord)
    ny, nx = sky.shape
    inside = (x >= -0.5) & (x <= nx - 0.5) & (y >= -0.5) & (y <= ny - 0.5)
    halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    colour = OVERLAYS["sources"].colour
    ax.plot(
        x[inside],
        y[inside],
        "+",
        color=colour,
        markersize=9,
        markeredgewidth=1.5,
        path_effects=halo,
    )
    if "name" in names:
        for xi, yi, label in zip(
            x[inside], y[inside], np.asarray(sources[names["name"]])[inside], strict=True
        ):
            right = xi > 0.7 * nx  # label towards the image centre, not off its edge
            ax.annotate(
                short_label(label),
                (xi, yi),
                xytext=(-LABEL_OFFSET if right else LABEL_OFFSET, LABEL_OFFSET),
                textcoords="offset points",
                ha="right" if right else "left",
                color=colour,
                fontsize=7,
                path_effects=halo,
            )
    return int(inside.sum())


def plot_significance_map(
    significance,
    sky,
    *,
    exclusion=None,
    sources=None,
    name: str | None = None,
    energy_range=None,
    correlation_radius: float | None = None,
    caption: str | None = None,
) -> Figure:
    """Significance map with 3 and 5 sigma contours, exclusion boundary and sources.

    The colour scale is `dl3flow.plotting.scales.significance_stretch`: diverging
    (white at 0) over [-5, 5] sigma, compressed above 5 sigma, clipped below -5.

    Parameters
    ----------
    significance : array_like
        ``(ny, nx)`` signed significance (sigma).
    sky : `~dl3flow.maps.geom.SkyGeom`
    exclusion : array_like of bool, optional
        Exclusion mask (True = not excluded).
    sources : `~astropy.table.Table`, optional
        Catalog sources (``ra``, ``dec`` in deg, optional ``name``).
    name : str, optional
        Analysis name for the title.
    energy_range : (float, float), optional
        Energy band in TeV for the title.
    correlation_radius : float, optional
        Correlation radius in deg for the title.
    caption : str, optional
    """
    data = _image(significance, sky, "significance")
    extra = (
        f"correlation radius {correlation_radius:g}\N{DEGREE SIGN}" if correlation_radius else None
    )
    return plot_sky_map(
        data,
        sky,
        title=_title("Significance", name, energy_range, extra),
        label="significance (\N{GREEK SMALL LETTER SIGMA})",
        cmap="RdBu_r",
        stretch=significance_stretch(data),
        exclusion=exclusion,
        sources=sources,
        contours=SIGNIFICANCE_CONTOURS,
        caption=caption,
    )


def plot_excess_map(
    excess,
    sky,
    *,
    name=None,
    energy_range=None,
    correlation_radius=None,
    exclusion=None,
    caption=None,
) -> Figure:
    """Correlated excess counts, asinh stretch (`dl3flow.plotting.scales.asinh_stretch`)."""
    data = _image(excess, sky, "excess")
    extra = (
        f"correlation radius {correlation_radius:g}\N{DEGREE SIGN}" if correlation_radius else None
    )
    return plot_sky_map(
        data,
        sky,
        title=_title("Excess counts", name, energy_range, extra),
        label="excess counts (correlated), asinh scale",
        cmap="magma",
        stretch=asinh_stretch(data),
        exclusion=exclusion,
        caption=caption,
    )


def plot_flux_map(
    flux,
    sky,
    *,
    name=None,
    energy_range=None,
    spectral_index: float = 2.0,
    correlation_radius=None,
    exclusion=None,
    caption=None,
) -> Figure:
    """Integral flux map (cm-2 s-1) assuming a power law of ``spectral_index``.

    Shown as mantissas of the power of ten of its largest value (named in the
    colour-bar label), asinh stretch.
    """
    data = _image(flux, sky, "flux")
    exponent = power_of_ten(data)
    scaled = data / 10.0**exponent
    extra = f"power law index {spectral_index:g}"
    if correlation_radius:
        extra += f", correlation radius {correlation_radius:g}\N{DEGREE SIGN}"
    return plot_sky_map(
        scaled,
        sky,
        title=_title("Integral flux", name, energy_range, extra),
        label=f"flux ({times_ten(exponent)} {_PER_CM2_S}), asinh scale".replace("( ", "("),
        cmap="inferno",
        stretch=asinh_stretch(scaled),
        exclusion=exclusion,
        caption=caption,
    )


def exposure_label(values, unit: str = "m2 s") -> tuple[np.ndarray, str]:
    """Exposure in m² s, scaled to its power of ten, and its colour-bar label.

    Parameters
    ----------
    values : array_like
        Exposure values in ``unit``.
    unit : str
        An area times a time (e.g. ``"cm2 s"``, ``"m2 s"``).

    Returns
    -------
    scaled : ndarray
        The exposure in m² s divided by ``10**n``.
    label : str
        E.g. ``"exposure (×10⁹ m² s)"``.

    Raises
    ------
    ValueError
        If ``unit`` is not an area times a time.
    """
    import astropy.units as u

    try:
        factor = u.Unit(unit).to("m2 s")
    except (ValueError, u.UnitConversionError) as exc:
        raise ValueError(f"exposure unit must be an area times a time, got {unit!r}") from exc
    exposure = np.asarray(getattr(values, "value", values), dtype=float) * factor
    exponent = power_of_ten(exposure)
    scale = times_ten(exponent)
    return exposure / 10.0**exponent, f"exposure ({scale + ' ' if scale else ''}{_M2_S})"


def plot_exposure_map(
    exposure, sky, *, name=None, energy_range=None, unit: str = "cm2 s", note=None, caption=None
) -> Figure:
    """Exposure map (e.g. the power-law weighted exposure of the flux maps), in m² s."""
    data, label = exposure_label(_image(exposure, sky, "exposure"), unit)
    return plot_sky_map(
        data,
        sky,
        title=_title("Exposure", name, energy_range, note),
        label=label,
        cmap="viridis",
        stretch=linear_stretch(data),
        caption=caption,
    )


def plot_significance_distribution(
    significance,
    *,
    exclusion=None,
    name: str | None = None,
    energy_range=None,
    bins=None,
    caption: str | None = None,
) -> Figure:
    """Histogram of the significance of pixels outside the exclusion regions.

    Log-scale counts, with the Gaussian fitted to those pixels (maximum likelihood:
    their mean and standard deviation, printed on the plot) and the standard
    normal N(0, 1) for comparison, both scaled to the number of pixels.

    Parameters
    ----------
    significance : array_like
        Significance image (NaN pixels are ignored).
    exclusion : array_like of bool, optional
        True = pixel used (not excluded). Without it all finite pixels are used.
    name : str, optional
    energy_range : (float, float), optional
    bins : array_like, optional
        Histogram bin edges; default 0.2 sigma bins covering the data.
    caption : str, optional

    Raises
    ------
    ValueError
        If the exclusion mask does not match the image or fewer than two pixels remain.
    """
    data = np.asarray(significance, dtype=float)
    if exclusion is not None:
        mask = np.asarray(exclusion, dtype=bool)
        if mask.shape != data.shape:
            raise ValueError(
                f"exclusion mask shape {mask.shape} != significance shape {data.shape}"
            )
        values = data[mask & np.isfinite(data)]
    else:
        values = data[np.isfinite(data)]
    mean, sigma, n = fit_gaussian(values)
    if bins is None:
        lo = np.floor(min(values.min(), -5.0) / 0.2) * 0.2
        hi = np.ceil(max(values.max(), 5.0) / 0.2) * 0.2
        bins = np.arange(lo, hi + 0.1, 0.2)
    bins = np.asarray(bins, dtype=float)
    fig = Figure(figsize=(6.4, 4.8), layout="constrained")
    ax = fig.add_subplot()
    ax.hist(
        values,
        bins=bins,
        histtype="stepfilled",
        color="0.75",
        edgecolor="0.3",
        label=f"pixels ({n})",
    )
    x = np.linspace(bins[0], bins[-1], 400)
    width = np.diff(bins).mean()

    def gauss(mu, s):
        return n * width * np.exp(-0.5 * ((x - mu) / s) ** 2) / (s * np.sqrt(2 * np.pi))

    ax.plot(
        x,
        gauss(mean, sigma),
        color="C3",
        lw=2,
        label=f"fit: {_MU} = {mean:.3f}, {_SIGMA} = {sigma:.3f}",
    )
    ax.plot(x, gauss(0.0, 1.0), color="C0", lw=1.5, ls="--", label="standard normal N(0, 1)")
    ax.set_yscale("log")
    ax.set_ylim(0.5, None)
    ax.set_xlabel("significance (\N{GREEK SMALL LETTER SIGMA})")
    ax.set_ylabel("number of pixels")
    where = "outside exclusion regions" if exclusion is not None else "all pixels"
    ax.set_title(_title("Significance distribution", name, energy_range, where))
    ax.text(
        0.03,
        0.95,
        f"mean = {mean:.3f}\nwidth = {sigma:.3f}\nN = {n}",
        transform=ax.transAxes,
        va="top",
        fontsize=9,
        bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.8},
    )
    ax.legend(loc="upper right", fontsize=8)
    if caption:
        fig.supxlabel(short_label(caption, kind="caption"), fontsize=7, color="0.35")
    return fig


#: Figures of :func:`excess_map_figures`, in order.
MAP_FIGURES = ("significance", "excess", "flux", "flux_exposure", "significance_distribution")


def excess_map_figures(
    maps,
    *,
    band: int = 0,
    exclusion=None,
    sources=None,
    name: str | None = None,
    caption: str | None = None,
    which=MAP_FIGURES,
) -> dict:
    """The figures of one energy band of an `~dl3flow.estimators.maps.ExcessMaps`.

    Parameters
    ----------
    maps : `~dl3flow.estimators.maps.ExcessMaps`
        E.g. from `dl3flow.estimators.maps.read_maps` (its ``meta`` gives the correlation
        radius ``CORR_RAD`` and spectral index ``SPEC_IDX``).
    band : int
        Energy band.
    exclusion : array_like of bool, optional
        Final exclusion mask (True = not excluded): contour on the significance map,
        and the pixels of the significance distribution.
    sources : `~astropy.table.Table`, optional
        Catalog sources marked on the significance map (``ra``, ``dec``, ``name``).
    name : str, optional
        Analysis name (titles).
    caption : str, optional
    which : iterable of str
        Subset of :data:`MAP_FIGURES`.

    Returns
    -------
    figures : dict of str to `~matplotlib.figure.Figure`
    """
    unknown = sorted(set(which) - set(MAP_FIGURES))
    if unknown:
        raise ValueError(f"unknown figure(s) {unknown}; choose from {', '.join(MAP_FIGURES)}")
    meta = maps.meta
    radius = meta.get("CORR_RAD")
    index = float(meta.get("SPEC_IDX", 2.0))
    energy_range = tuple(maps.energy_edges[band : band + 2])
    common = {"name": name, "energy_range": energy_range, "caption": caption}
    figures = {}
    for kind in which:
        figures[kind] = _map_figure(
            kind, maps, band, exclusion, sources, radius=radius, index=index, **common
        )
    return figures


def _map_figure(kind, maps, band, exclusion, sources, *, radius, index, **common) -> Figure:
    """The figure ``kind`` (one of :data:`MAP_FIGURES`) of :func:`excess_map_figures`."""
    sky = maps.sky
    if kind == "significance":
        return plot_significance_map(
            maps.image("sqrt_ts", band),
            sky,
            exclusion=exclusion,
            sources=sources,
            correlation_radius=radius,
            **common,
        )
    if kind == "excess":
        return plot_excess_map(
            maps.image("excess", band),
            sky,
            correlation_radius=radius,
            exclusion=exclusion,
            **common,
        )
    if kind == "flux":
        return plot_flux_map(
            maps.image("flux", band),
            sky,
            spectral_index=index,
            correlation_radius=radius,
            exclusion=exclusion,
            **common,
        )
    if kind == "flux_exposure":
        return plot_exposure_map(
            maps.image("exposure", band),
            sky,
            note=f"reconstructed energy, power law index {index:g}",
            **common,
        )
    return plot_significance_distribution(
        maps.image("sqrt_ts", band), exclusion=exclusion, **common
    )
