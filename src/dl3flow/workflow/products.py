"""Final products of an analysis: excess maps of the stack and of the ring, their
significance distribution, the peak table, and HTML tables for the report.

Thin glue between the science modules and the workflow's final rules (rules/maps.smk,
rules/report.smk); no plotting here (see `dl3flow.plotting.maps`), so that the
estimation jobs do not import matplotlib.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from dl3flow.estimators.correlation import band_indices, resample_energy
from dl3flow.estimators.excess import estimate_excess_maps_onoff, exposure_reco
from dl3flow.estimators.maps import EstimateError, ExcessMaps
from dl3flow.stats import fit_gaussian

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = [
    "ring_excess_maps",
    "off_source_values",
    "significance_distribution",
    "tables_html",
    "compact_observations",
    "OBSERVATION_COLUMNS",
]


def ring_excess_maps(
    onoff,
    dataset,
    *,
    correlation_radius=0.1,
    spectral_index: float = 2.0,
    n_sigma: float = 1.0,
    n_sigma_ul: float = 2.0,
    energy_edges=None,
) -> ExcessMaps:
    """Excess, WStat (Li & Ma) significance and flux maps of a ring on-off dataset.

    :func:`dl3flow.estimators.excess.estimate_excess_maps_onoff` on the arrays of ``onoff``
    with the off counts correlated once (by the ring). The flux maps need the
    exposure in reconstructed energy, which needs the energy dispersion of the
    dataset the ring was made from: :func:`dl3flow.estimators.excess.exposure_reco` of
    ``dataset``, summed into the ring's energy bands (weighted by its safe mask).

    Parameters
    ----------
    onoff : `~dl3flow.datasets.onoff.MapDatasetOnOff`
        The ring background (``dl3flow.makers.ring.ring_background``).
    dataset : `~dl3flow.datasets.map.MapDataset`
        The (stacked) dataset the ring was computed from.
    correlation_radius, spectral_index, n_sigma, n_sigma_ul
        As in :func:`dl3flow.estimators.excess.estimate_excess_maps`.
    energy_edges : array_like (TeV), optional
        Bands (edges of the ring's energy axis); None = one band over all of it.

    Returns
    -------
    maps : `~dl3flow.estimators.maps.ExcessMaps`

    Raises
    ------
    EstimateError
        If the two datasets do not share the sky geometry or the ring's bands are
        not made of the dataset's energy bins.
    """
    sky = onoff.geom.sky
    if tuple(sky.shape) != tuple(dataset.geom.sky.shape):
        raise EstimateError(
            f"ring dataset image {tuple(sky.shape)} != dataset image "
            f"{tuple(dataset.geom.sky.shape)}: not made from this dataset"
        )
    ring_edges = onoff.geom.energy.edges
    indices = band_indices(dataset.geom.energy.edges, ring_edges)
    exposure = resample_energy(
        exposure_reco(dataset, spectral_index=spectral_index), indices, weights=dataset.mask_safe
    )
    return estimate_excess_maps_onoff(
        sky=sky,
        energy_edges_dataset=ring_edges,
        counts=onoff.counts,
        counts_off=onoff.counts_off,
        acceptance=onoff.acceptance,
        acceptance_off=onoff.acceptance_off,
        mask_safe=onoff.mask_safe,
        exposure_reco=exposure,
        correlation_radius=correlation_radius,
        energy_edges=energy_edges,
        spectral_index=spectral_index,
        n_sigma=n_sigma,
        n_sigma_ul=n_sigma_ul,
        correlate_off=False,
    )


def off_source_values(maps: ExcessMaps, exclusion, *, band: int = 0, name: str = "sqrt_ts"):
    """Finite values of a map outside the exclusion regions.

    Parameters
    ----------
    maps : `~dl3flow.estimators.maps.ExcessMaps`
    exclusion : array_like of bool
        ``(ny, nx)``, True = not excluded (on the maps' image).
    band : int
        Energy band.
    name : str
        Map name (default the significance, ``sqrt_ts``).

    Raises
    ------
    EstimateError
        If the exclusion mask does not match the image.
    """
    image = np.asarray(maps.image(name, band), dtype=float)
    mask = np.asarray(exclusion, dtype=bool)
    if mask.shape != image.shape:
        raise EstimateError(f"exclusion mask {mask.shape} does not match the maps {image.shape}")
    return image[mask & np.isfinite(image)]


def significance_distribution(maps: ExcessMaps, exclusion, *, band: int = 0) -> dict:
    """Gaussian fit of the significance outside the exclusion regions.

    Returns
    -------
    result : dict
        ``mean``, ``width`` (maximum-likelihood Gaussian, `dl3flow.stats.fit_gaussian`)
        and ``n`` (number of pixels).
    """
    mean, width, n = fit_gaussian(off_source_values(maps, exclusion, band=band))
    return {"mean": mean, "width": width, "n": n}


def _table_html(table: Table) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.colnames)
    units = "".join(
        f"<td><i>{html.escape(str(table[c].unit or ''))}</i></td>" for c in table.colnames
    )
    rows = []
    for row in table:
        cells = []
        for column in table.colnames:
            value = row[column]
            if isinstance(value, float | np.floating):
                text = "" if not np.isfinite(value) else f"{value:.5g}"
            else:
                text = str(value)
            cells.append(f"<td>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    unit_row = f"<tr>{units}</tr>" if any(table[c].unit for c in table.colnames) else ""
    return (
        f"<table><thead><tr>{head}</tr>{unit_row}</thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def tables_html(tables: Mapping[str, Table], *, title: str, note: str | None = None) -> str:
    """A standalone HTML page with the given tables (for the Snakemake report).

    Parameters
    ----------
    tables : mapping of str to `~astropy.table.Table`
        Section heading -> table (an empty table is shown as "none").
    title : str
    note : str, optional
        A paragraph under the title.
    """
    style = (
        "body{font-family:sans-serif;font-size:13px}"
        "table{border-collapse:collapse;margin-bottom:1.5em}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
        "th{background:#eee}td:last-child{text-align:left}"
    )
    parts = [
        "<!DOCTYPE html>",
        f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{style}</style></head><body>",
        f"<h2>{html.escape(title)}</h2>",
    ]
    if note:
        parts.append(f"<p>{html.escape(note)}</p>")
    for heading, table in tables.items():
        parts.append(f"<h3>{html.escape(heading)} ({len(table)})</h3>")
        # a wide table scrolls in its own box, the page does not
        body = _table_html(table) if len(table) else "<p>none</p>"
        parts.append(f"<div style='overflow-x:auto'>{body}</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


#: Obs-index columns of the report's compact observations table (those present).
OBSERVATION_COLUMNS = (
    "OBS_ID",
    "OBJECT",
    "DATE-OBS",
    "RA_PNT",
    "DEC_PNT",
    "ZEN_PNT",
    "LIVETIME",
    "OFFSET_OBJ",
    "N_TELS",
)


def compact_observations(table: Table) -> Table:
    """The :data:`OBSERVATION_COLUMNS` of an obs-index table (a new table; those present)."""
    from astropy.table import Table  # only the report's jobs: not at import

    return Table(table[[c for c in OBSERVATION_COLUMNS if c in table.colnames]], copy=True)
