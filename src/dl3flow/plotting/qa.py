"""Per-observation quality figure: background norms, livetime and safe energy thresholds.

Like `dl3flow.plotting.maps`, the figure is a :class:`matplotlib.figure.Figure` built
without pyplot; save it with `dl3flow.io.atomic.write_figure`. Inputs are astropy Tables
(the observation list, ``background_norms.ecsv``, ``safe_energy.ecsv``) whose columns are
matched case-insensitively; a missing table or column leaves its panel "not available".
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from dl3flow.plotting.scales import log_limits, plain_log_labels
from dl3flow.plotting.text import short_label

__all__ = ["plot_observation_qa"]


def _column(table, *candidates):
    """The first of ``candidates`` that ``table`` has (case-insensitive), or None."""
    if table is None:
        return None
    lower = {c.lower(): c for c in table.colnames}
    for candidate in candidates:
        if candidate.lower() in lower:
            return lower[candidate.lower()]
    return None


def _values(table, column, unit=None) -> np.ndarray:
    """A column as floats, converted to ``unit`` when the column has a unit."""
    col = table[column]
    if unit is not None and getattr(col, "unit", None) is not None:
        return np.asarray(col.quantity.to_value(unit), dtype=float)
    return np.asarray(col, dtype=float)


def _missing(ax, what: str) -> None:
    """Say in the middle of ``ax`` that ``what`` is not available."""
    ax.text(
        0.5,
        0.5,
        f"{what}: not available",
        transform=ax.transAxes,
        ha="center",
        va="center",
        color="0.4",
    )


def _observation_ids(*tables) -> list[int]:
    """The sorted union of the observation ids of the tables that have an obs_id column."""
    ids = set()
    for table in tables:
        column = _column(table, "obs_id")
        if column is not None:
            ids.update(int(v) for v in table[column])
    return sorted(ids)


def _positions(table, position) -> np.ndarray:
    """The x position of each row of ``table`` on the shared observation axis."""
    return np.array([position[int(v)] for v in table[_column(table, "obs_id")]])


def _plot_norms(ax, background_norms, position) -> None:
    """Top panel: background norm per observation, rows whose status is not ok circled."""
    col_norm = _column(background_norms, "norm", "bkg_norm", "background_norm")
    if col_norm and _column(background_norms, "obs_id"):
        x = _positions(background_norms, position)
        y = _values(background_norms, col_norm)
        col_err = _column(background_norms, "norm_err", "error", "norm_error")
        yerr = _values(background_norms, col_err) if col_err else None
        ax.errorbar(x, y, yerr=yerr, fmt="o", color="C0", label="background norm")
        col_status = _column(background_norms, "status")
        if col_status:
            bad = np.array(
                [
                    str(s).strip().lower() not in ("ok", "success", "")
                    for s in background_norms[col_status]
                ]
            )
            if bad.any():
                ax.plot(x[bad], y[bad], "o", mfc="none", mec="C3", ms=12, label="status not ok")
        ax.axhline(1.0, color="0.5", ls="--", lw=1)
        ax.legend(fontsize=7, loc="best")
    else:
        _missing(ax, "background norms")
    ax.set_ylabel("background norm")
    ax.set_title("Background normalisation per observation")


def _plot_livetime(ax, observations, position) -> None:
    """Middle panel: livetime (or on time) per observation in hours, the total in the title."""
    col_live = _column(observations, "LIVETIME", "ONTIME")
    if col_live and _column(observations, "obs_id"):
        x = _positions(observations, position)
        hours = _values(observations, col_live, "s") / 3600.0
        ax.bar(x, hours, color="C2", width=0.7)
        ax.set_ylabel(f"{col_live.lower()} (h)")
        total = np.nansum(hours)
        ax.set_title(f"{col_live.capitalize()} per observation (total {total:.2f} h)")
    else:
        _missing(ax, "livetime")
        ax.set_ylabel("livetime (h)")
        ax.set_title("Livetime per observation")


def _plot_threshold(ax, x, values, *, marker, label, color, limits, upper: bool) -> None:
    """One kind of threshold; upper ones above the axis drawn at its top edge."""
    ok = np.isfinite(values) & (values > 0)
    if limits is not None and upper:
        above = ok & (values > limits[1])
        if above.any():
            ax.plot(
                x[above],
                np.full(above.sum(), limits[1]),
                "^",
                color=color,
                ms=7,
                clip_on=False,
                label=f"upper threshold above {limits[1]:.3g} TeV (at the edge)",
            )
        ok &= ~above
    if ok.any():
        ax.plot(x[ok], values[ok], marker, color=color, label=label, ms=7)


def _plot_thresholds(ax, safe_energy, position, energy_range) -> None:
    """Bottom panel: safe energy thresholds per observation and the analysis energy range."""
    col_lo = _column(safe_energy, "energy_min", "e_min", "energy_threshold_low")
    col_hi = _column(safe_energy, "energy_max", "e_max", "energy_threshold_high")
    if (col_lo or col_hi) and _column(safe_energy, "obs_id"):
        x = _positions(safe_energy, position)
        lows = _values(safe_energy, col_lo, "TeV") if col_lo else np.array([])
        extra = [] if energy_range is None else [float(v) for v in energy_range]
        limits = log_limits(lows, extra)
        if energy_range is not None:
            lo, hi = extra
            ax.axhspan(lo, hi, color="C2", alpha=0.12, lw=0, label="analysis energy range")
        for col, marker, label, color in (
            (col_lo, "^", "lower threshold", "C1"),
            (col_hi, "v", "upper threshold", "C4"),
        ):
            if col:
                values = _values(safe_energy, col, "TeV")
                _plot_threshold(
                    ax,
                    x,
                    values,
                    marker=marker,
                    label=label,
                    color=color,
                    limits=limits,
                    upper=col is col_hi,
                )
        ax.set_yscale("log")
        if limits is not None:
            ax.set_ylim(*limits)
        plain_log_labels(ax.yaxis, limits)
        ax.legend(fontsize=7, loc="best")
    else:
        _missing(ax, "safe energy thresholds")
    ax.set_ylabel("energy (TeV)")
    ax.set_title("Safe energy range per observation")


def _label_observations(ax, obs_ids, max_labels: int) -> None:
    """Observation ids on the bottom axis: every k-th when there are more than max_labels."""
    ax.set_xlabel("observation id")
    if obs_ids:
        step = int(np.ceil(len(obs_ids) / max_labels))
        ticks = list(range(0, len(obs_ids), step))
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(obs_ids[i]) for i in ticks], rotation=90, fontsize=7)
        if step > 1:
            ax.set_xlabel(f"observation id ({len(obs_ids)}; one label per {step} observations)")


def plot_observation_qa(
    *,
    observations=None,
    background_norms=None,
    safe_energy=None,
    name: str | None = None,
    energy_range=None,
    caption: str | None = None,
    max_labels: int = 40,
) -> Figure:
    """Per-observation quality summary: background norms, livetime, safe energy thresholds.

    Three panels sharing an observation axis (observation ids as labels; with more
    than ``max_labels`` observations every k-th is labelled, and the figure stops
    growing at 12 inches). Tables may be missing or lack columns; the panel then says
    "not available". The energy panel shows the analysis ``energy_range`` (TeV) as a
    band and is limited to it and the lower thresholds: upper thresholds beyond the
    axis are drawn at its top edge. Column names are matched case-insensitively:

    - ``observations``: ``OBS_ID``; ``LIVETIME`` (s; or ``ONTIME``);
    - ``background_norms``: ``obs_id``; ``norm``; ``norm_err`` / ``error``;
      optionally ``status`` (rows whose status is not ``ok`` are marked in red);
    - ``safe_energy``: ``obs_id``; ``energy_min`` and ``energy_max`` (TeV).

    Returns
    -------
    figure : `~matplotlib.figure.Figure`
    """
    obs_ids = _observation_ids(observations, background_norms, safe_energy)
    position = {obs_id: i for i, obs_id in enumerate(obs_ids)}
    width = min(12.0, max(6.4, 0.35 * len(obs_ids) + 3))
    fig = Figure(figsize=(width, 7.5), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True)
    _plot_norms(axes[0], background_norms, position)
    _plot_livetime(axes[1], observations, position)
    _plot_thresholds(axes[2], safe_energy, position, energy_range)
    _label_observations(axes[2], obs_ids, max_labels)
    label = short_label(name, kind="title") if name else ""
    head = "Observation quality" + (f" \N{EM DASH} {label}" if label else "")
    fig.suptitle(head)
    if caption:
        fig.supxlabel(short_label(caption, kind="caption"), fontsize=7, color="0.35")
    return fig
