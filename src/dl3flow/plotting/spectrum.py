"""Plots of the 1D ON/OFF spectra: theta², excess and significance per energy bin,
cumulative significance and excess vs livetime, ON/OFF regions on a counts image.

Built with :class:`matplotlib.figure.Figure` directly (no pyplot state), like
`dl3flow.plotting.quicklook`. The numbers come from `theta2_histograms` and
`cumulative_summary` (plain arrays, testable without matplotlib); the figures only
draw them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from dl3flow.datasets.rejection import rejection_of
from dl3flow.datasets.spectrum import SpectrumDatasetOnOff
from dl3flow.makers.spectrum import spectrum_summary, stack_spectra
from dl3flow.maps.regions import angular_separation
from dl3flow.stats import wstat_significance

__all__ = [
    "Theta2",
    "cumulative_summary",
    "plot_cumulative",
    "plot_spectrum_excess",
    "plot_spectrum_regions",
    "plot_theta2",
    "spectrum_figures",
    "theta2_histograms",
]


@dataclass(frozen=True)
class Theta2:
    """ON and alpha-scaled OFF counts vs squared distance (deg²) from the ON / OFF centres.

    Attributes
    ----------
    edges : numpy.ndarray
        Bin edges in deg².
    on, off : numpy.ndarray
        ON counts; OFF counts around the OFF-region centres, summed over the OFF
        regions and scaled by alpha (1 / number of OFF regions per observation).
    off_raw : numpy.ndarray
        The OFF counts before scaling (for the Poisson errors).
    off_weight : numpy.ndarray
        ``off / off_raw`` per bin (the mean alpha), 0 without OFF counts.
    """

    edges: np.ndarray
    on: np.ndarray
    off: np.ndarray
    off_raw: np.ndarray
    off_weight: np.ndarray


def _is_usable(ds: SpectrumDatasetOnOff) -> bool:
    """Not rejected, with OFF regions."""
    return rejection_of(ds.meta) is None and ds.n_off_regions > 0


def theta2_histograms(
    datasets: Sequence[SpectrumDatasetOnOff], events: Sequence, *, theta2_max: float = 0.3, nbin=30
) -> Theta2:
    """The classic theta² distribution of a set of observations.

    For each observation (not rejected, with OFF regions): the events inside its
    safe energy range; ON: their squared distance from the ON centre; OFF: from each
    OFF-region centre, weighted by ``1 / n_off_regions`` (alpha, acceptance 1).

    Parameters
    ----------
    datasets : sequence of SpectrumDatasetOnOff
    events : sequence of `~dl3flow.data.observation.EventList`
        The same observations' events, in the same order.
    theta2_max : float
        Upper edge in deg².
    nbin : int

    Raises
    ------
    ValueError
        If ``datasets`` and ``events`` differ in length.
    """
    if len(datasets) != len(events):
        raise ValueError(f"{len(datasets)} datasets but {len(events)} event lists")
    edges = np.linspace(0.0, theta2_max, nbin + 1)
    on, off, off_raw = (np.zeros(nbin) for _ in range(3))
    for ds, ev in zip(datasets, events, strict=True):
        if not _is_usable(ds) or ds.safe_energy_range is None:
            continue
        emin, emax = ds.safe_energy_range
        keep = (ev.energy >= emin) & (ev.energy < emax)
        ra, dec = ev.ra[keep], ev.dec[keep]
        centre = ds.on_region
        on += np.histogram(angular_separation(ra, dec, centre.ra, centre.dec) ** 2, edges)[0]
        for region in ds.off_regions.regions:
            counts = np.histogram(angular_separation(ra, dec, region.ra, region.dec) ** 2, edges)[0]
            off_raw += counts
            off += counts / ds.n_off_regions
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(off_raw > 0, off / off_raw, 0.0)
    return Theta2(edges=edges, on=on, off=off, off_raw=off_raw, off_weight=weight)


def cumulative_summary(datasets: Sequence[SpectrumDatasetOnOff]) -> dict[str, np.ndarray]:
    """Excess and significance of the stack of the first 1, 2, ... observations.

    Observations in the order given (rejected ones left out), each stack as
    `dl3flow.makers.spectrum.stack_spectra`; rows of `dl3flow.makers.spectrum.spectrum_summary`.

    Returns
    -------
    dict
        ``livetime`` (h, cumulative), ``excess``, ``significance``, ``n_on``,
        ``background`` (alpha n_off), arrays of one value per observation used.
    """
    usable = [ds for ds in datasets if rejection_of(ds.meta) is None]
    rows = [spectrum_summary(stack_spectra(usable[: i + 1])) for i in range(len(usable))]
    return {
        "livetime": np.array([r["livetime"] for r in rows]) / 3600.0,
        "excess": np.array([r["excess"] for r in rows]),
        "significance": np.array([r["significance"] for r in rows]),
        "n_on": np.array([r["n_on"] for r in rows], dtype=float),
        "background": np.array([r["n_on"] - r["excess"] for r in rows]),
    }


def plot_theta2(theta2: Theta2, *, radius: float | None = None, title: str = "") -> Figure:
    """ON counts and alpha-scaled OFF counts vs theta² (Poisson error bars)."""
    figure = Figure(figsize=(6.5, 4.5))
    ax = figure.subplots()
    centres = 0.5 * (theta2.edges[1:] + theta2.edges[:-1])
    width = np.diff(theta2.edges)
    on_err = np.sqrt(theta2.on)
    ax.errorbar(centres, theta2.on, yerr=on_err, xerr=width / 2, fmt="o", ms=3, label="ON")
    off_err = np.sqrt(theta2.off_raw) * theta2.off_weight
    bottom = theta2.off - off_err
    label = "OFF (scaled by alpha) ± 1σ"
    ax.bar(centres, 2 * off_err, width=width, bottom=bottom, color="C1", alpha=0.35, label=label)
    ax.step(theta2.edges, np.append(theta2.off, theta2.off[-1]), where="post", color="C1")
    if radius is not None:
        ax.axvline(radius**2, color="0.3", ls="--", lw=1, label=f"ON radius² ({radius:g} deg)²")
    ax.set_xlabel("θ² (deg²)")
    ax.set_ylabel("Events")
    ax.set_xlim(theta2.edges[0], theta2.edges[-1])
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    ax.set_title(title or "θ² distribution")
    figure.tight_layout()
    return figure


def plot_spectrum_excess(stacked: SpectrumDatasetOnOff, *, title: str = "") -> Figure:
    """Excess counts (± WStat-free Poisson error) and significance per reco-energy bin."""
    figure = Figure(figsize=(6.5, 6.0))
    top, bottom = figure.subplots(2, 1, sharex=True)
    energy = stacked.energy
    centres = np.sqrt(energy.lo * energy.hi)
    safe = stacked.mask_safe
    alpha = np.nan_to_num(stacked.alpha)
    excess = stacked.excess
    error = np.sqrt(stacked.counts + alpha**2 * stacked.counts_off)
    sig = np.where(
        stacked.counts_off > 0,
        wstat_significance(stacked.counts, stacked.counts_off, alpha),
        np.nan,
    )
    xerr = np.array([centres - energy.lo, energy.hi - centres])
    for mask, style, label in ((safe, "o", "safe range"), (~safe, "x", "outside the safe range")):
        if mask.any():
            colour = ("C0", "C3") if style == "o" else ("0.6", "0.6")
            top.errorbar(
                centres[mask],
                excess[mask],
                yerr=error[mask],
                xerr=xerr[:, mask],
                fmt=style,
                ms=4,
                label=label,
                color=colour[0],
            )
            bottom.plot(centres[mask], sig[mask], style, color=colour[1])
    top.axhline(0, color="0.4", lw=1)
    top.set_ylabel("Excess counts")
    top.legend(fontsize="small")
    bottom.axhline(0, color="0.4", lw=1)
    bottom.axhline(5, color="0.4", lw=1, ls=":")
    bottom.set_ylabel("Significance (σ, WStat)")
    bottom.set_xlabel("Reconstructed energy (TeV)")
    bottom.set_xscale("log")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    top.set_title(title or "Excess and significance per energy bin")
    figure.tight_layout()
    return figure


def plot_cumulative(summary: dict, *, title: str = "") -> Figure:
    """Cumulative significance and excess vs livetime (the √t line through the end)."""
    figure = Figure(figsize=(6.5, 6.0))
    top, bottom = figure.subplots(2, 1, sharex=True)
    t = summary["livetime"]
    top.plot(t, summary["significance"], "o-", color="C3", label="stack")
    if len(t) and t[-1] > 0:
        grid = np.linspace(0, t[-1], 100)
        scale = summary["significance"][-1] / np.sqrt(t[-1])
        top.plot(grid, scale * np.sqrt(grid), ":", color="0.4", label="∝ √livetime")
    top.set_ylabel("Significance (σ, WStat)")
    top.legend(fontsize="small")
    bottom.plot(t, summary["excess"], "o-", color="C0", label="excess")
    bottom.plot(t, summary["background"], "s--", color="C1", label="background (alpha n_off)")
    bottom.set_ylabel("Counts")
    bottom.set_xlabel("Livetime (h)")
    bottom.legend(fontsize="small")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    top.set_title(title or "Cumulative significance and excess")
    figure.tight_layout()
    return figure


def plot_spectrum_regions(
    datasets: Sequence[SpectrumDatasetOnOff], events: Sequence, *, exclusion=None, title: str = ""
) -> Figure:
    """Counts image of all observations (flat sky around the ON centre), ON and OFF circles.

    OFF regions of every observation (one colour per observation), the pointings,
    and the exclusion mask's excluded pixels as a contour when given (an
    `~dl3flow.makers.exclusion.ExclusionMask`). An ON point (RAD_MAX: its radius depends on
    energy) and its OFF points are drawn as small (0.02 deg) circles.
    """
    usable = [(ds, ev) for ds, ev in zip(datasets, events, strict=True) if _is_usable(ds)]
    on = datasets[0].on_region
    cos = np.cos(np.radians(on.dec))
    half = 2.0
    figure = Figure(figsize=(6.5, 6.0))
    ax = figure.subplots()
    bins = np.linspace(-half, half, 161)
    image = np.zeros((160, 160))
    for _, ev in usable:
        x = ((ev.ra - on.ra + 180) % 360 - 180) * cos
        y = ev.dec - on.dec
        image += np.histogram2d(y, x, bins=(bins, bins))[0]
    extent = (-half, half, -half, half)  # RA grows to the left: set_xlim below
    ax.imshow(image, origin="lower", extent=extent, cmap="Greys", interpolation="nearest")
    if exclusion is not None:
        _draw_exclusion(ax, exclusion, on, cos)

    def xy(ra, dec):
        return ((ra - on.ra + 180) % 360 - 180) * cos, dec - on.dec

    ax.add_patch(Circle(xy(on.ra, on.dec), on.radius or 0.02, fill=False, color="C3", lw=2))
    for i, (ds, _) in enumerate(usable):
        colour = f"C{i % 10}"
        for region in ds.off_regions.regions:
            radius = region.radius or on.radius or 0.02
            ax.add_patch(Circle(xy(region.ra, region.dec), radius, fill=False, color=colour, lw=1))
        px, py = xy(ds.meta["RA_PNT"], ds.meta["DEC_PNT"])
        ax.plot(px, py, "+", color=colour, ms=10, label=f"obs {ds.name}: pointing, OFF regions")
    ax.set_xlim(half, -half)
    ax.set_ylim(-half, half)
    ax.set_xlabel("ΔRA cos(Dec) (deg)")
    ax.set_ylabel("ΔDec (deg)")
    ax.legend(fontsize="x-small", loc="upper right")
    ax.set_title(title or "ON (red) and OFF regions on the counts")
    figure.tight_layout()
    return figure


def _draw_exclusion(ax, exclusion, on, cos) -> None:
    mask = np.asarray(exclusion.mask, dtype=bool)
    mask = mask[0] if mask.ndim == 3 else mask
    lon, lat = exclusion.geom.pixel_centers_icrs()  # (ny, nx) each
    x = ((lon - on.ra + 180) % 360 - 180) * cos
    y = lat - on.dec
    ax.contour(x, y, (~mask).astype(float), levels=[0.5], colors="C2", linewidths=1)
    ax.plot([], [], color="C2", lw=1, label="exclusion")


def spectrum_figures(
    datasets: Sequence[SpectrumDatasetOnOff],
    stacked: SpectrumDatasetOnOff,
    events: Sequence,
    *,
    exclusion=None,
    caption: str = "",
) -> dict[str, Figure]:
    """Every spectrum plot: {``theta2``, ``spectrum_excess``, ``cumulative_significance``,
    ``spectrum_regions``} -> figure (the names of the PNG files)."""
    prefix = f"{caption}: " if caption else ""
    radius = datasets[0].on_region.radius
    return {
        "theta2": plot_theta2(
            theta2_histograms(datasets, events), radius=radius, title=f"{prefix}θ² distribution"
        ),
        "spectrum_excess": plot_spectrum_excess(
            stacked, title=f"{prefix}excess and significance per energy bin"
        ),
        "cumulative_significance": plot_cumulative(
            cumulative_summary(datasets), title=f"{prefix}cumulative significance and excess"
        ),
        "spectrum_regions": plot_spectrum_regions(
            datasets, events, exclusion=exclusion, title=f"{prefix}ON and OFF regions"
        ),
    }
