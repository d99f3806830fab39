"""Plot of the per-observation FoV background normalisation (``background_norms.ecsv``).

Built with :class:`matplotlib.figure.Figure` directly (no pyplot state), like
`dl3flow.plotting.quicklook`: renders with Agg when saved, works without a display.
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table
from matplotlib.figure import Figure

from dl3flow.plotting.text import short_label

__all__ = ["plot_background_norms"]

_REQUIRED = ("obs_id", "norm", "norm_err", "status")


def _as_table(results) -> Table:
    if isinstance(results, Table):
        return results
    from dl3flow.makers.background import results_table

    return results_table(results)


def _plot_norms(ax, x, ok, norm, norm_err) -> None:
    """Norms of the normalised observations; the others as red crosses at 1."""
    ax.axhline(1.0, color="0.4", lw=1, ls="--", label="IRF background (norm = 1)", zorder=1)
    ax.errorbar(
        x[ok],
        norm[ok],
        yerr=norm_err[ok],
        fmt="o",
        ms=4,
        capsize=2,
        color="C0",
        label=f"normalised ({ok.sum()})",
        zorder=3,
    )
    if (~ok).any():
        ax.plot(
            x[~ok],
            np.ones((~ok).sum()),
            "x",
            color="C3",
            ms=8,
            mew=2,
            label=f"skipped / failed, not scaled ({(~ok).sum()})",
            zorder=4,
        )
    ax.set_ylabel("Background norm")
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)


def _plot_tilt(ax, table, x, ok) -> None:
    """Fitted spectral tilts of the normalised observations (reference energy in the label)."""
    tilt = np.asarray(table["tilt"], dtype=float)
    tilt_err = np.asarray(table["tilt_err"], dtype=float)
    ax.axhline(0.0, color="0.4", lw=1, ls="--")
    ax.errorbar(x[ok], tilt[ok], yerr=tilt_err[ok], fmt="s", ms=4, capsize=2, color="C1")
    ref = table["reference_energy"][0] if "reference_energy" in table.colnames else None
    label = "Spectral tilt" + (f" (E_ref = {float(ref):g} TeV)" if ref is not None else "")
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)


def _default_title(table) -> str:
    """The default title: FoV background normalisation, and the methods when there are rows."""
    title = "FoV background normalisation"
    if len(table) and "method" in table.colnames:
        methods = sorted(set(np.asarray(table["method"]).astype(str)))
        title += f" (method: {', '.join(methods)})"
    return title


def plot_background_norms(results, *, title: str | None = None) -> Figure:
    """Norm (with 1-sigma error bars) per observation, and the tilt if it was fitted.

    Observations are placed in table order and labelled with their ids. Those
    whose normalisation was skipped or failed are drawn as red crosses on the
    reference line at 1 (their background was not scaled) and counted in the
    legend. A second panel shows the tilt when any observation has a fitted one.

    Parameters
    ----------
    results : `~astropy.table.Table` or iterable of `BackgroundNormResult`
        `~dl3flow.makers.background.BackgroundNormResult` objects, as written by
        `dl3flow.makers.background.results_table` (the table read back from
        ``background_norms.ecsv`` will do).
    title : str, optional
        Figure title (default: "FoV background normalisation" plus the method).

    Returns
    -------
    figure : `matplotlib.figure.Figure`

    Raises
    ------
    ValueError
        When the table lacks one of the columns obs_id, norm, norm_err, status.
    """
    table = _as_table(results)
    missing = [c for c in _REQUIRED if c not in table.colnames]
    if missing:
        raise ValueError(f"background norm table lacks column(s) {missing}")
    n = len(table)
    x = np.arange(n)
    status = np.asarray(table["status"]).astype(str)
    ok = status == "ok"
    norm = np.asarray(table["norm"], dtype=float)
    norm_err = np.asarray(table["norm_err"], dtype=float)
    has_tilt = "tilt_err" in table.colnames and np.any(
        ok & np.isfinite(np.asarray(table["tilt_err"], dtype=float))
    )

    figure = Figure(figsize=(max(6.0, 0.35 * n + 2.5), 6.5 if has_tilt else 4.0))
    axes = figure.subplots(2 if has_tilt else 1, 1, sharex=True, squeeze=False)[:, 0]
    _plot_norms(axes[0], x, ok, norm, norm_err)
    if has_tilt:
        _plot_tilt(axes[1], table, x, ok)
    bottom = axes[-1]
    bottom.set_xticks(x)
    bottom.set_xticklabels([str(i) for i in table["obs_id"]], rotation=90 if n > 8 else 0)
    bottom.set_xlabel("Observation ID")
    bottom.set_xlim(-0.7, max(n - 0.3, 0.7))
    if title is None:
        title = _default_title(table)
    figure.suptitle(short_label(title, kind="title"))
    figure.tight_layout()
    return figure
