"""Workflow steps that combine several dl3flow modules (used by the workflow scripts).

The Snakemake scripts stay thin by calling these functions; they are plain Python,
importable and tested without Snakemake. Nothing here does science of its own: the
methods are in `dl3flow.makers.exclusion`, `dl3flow.makers.background`, `dl3flow.datasets.map`,
`dl3flow.datasets.stacking` and `dl3flow.estimators.excess`.

Background-normalisation outcome in the workflow: every observation gets a
``dataset_bkg.fits`` and a one-row status table, whatever happened. An observation
whose normalisation was skipped or failed with ``on_failure: drop`` is written with
its IRF background, its safe mask cleared (as gammapy's ``FoVBackgroundMaker`` does)
and ``BKGACT = 'dropped'`` in its meta; :func:`stack_background_corrected` leaves such
datasets out and logs each one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np

from dl3flow.datasets.map import MapDataset, read_dataset
from dl3flow.datasets.rejection import rejection_of
from dl3flow.datasets.stacking import stack_datasets
from dl3flow.makers.background import BackgroundNormResult, normalize_background
from dl3flow.makers.exclusion import ExclusionMask, read_mask, read_mask_sources
from dl3flow.maps.geom import DatasetGeom

__all__ = [
    "StackError",
    "read_exclusion",
    "describe_norm",
    "normalise_observation",
    "is_dropped",
    "stack_background_corrected",
]

log = logging.getLogger(__name__)


class StackError(ValueError):
    """Nothing left to stack (every observation was dropped)."""


def read_exclusion(path, *, sources: bool = True) -> ExclusionMask:
    """An `~dl3flow.makers.exclusion.ExclusionMask` (mask, geometry, recipe, sources) from a file.

    Parameters
    ----------
    path : str or `~pathlib.Path`
    sources : bool
        Whether to read the excluded sources (the ``SOURCES`` table, an astropy
        Table: astropy.table is imported). False gives ``sources=None``: enough for
        the background normalisation, which uses the mask and its geometry only.
    """
    mask, geom, recipe = read_mask(path)
    table = read_mask_sources(path) if sources else None
    return ExclusionMask(mask=mask, geom=geom, recipe=recipe, sources=table)


def describe_norm(res: BackgroundNormResult) -> str:
    """One log line for a normalisation result."""
    text = (
        f"obs {res.obs_id}: {res.method} {res.status} -> {res.action}; "
        f"counts {res.counts:.0f}, predicted background {res.npred_background:.1f}"
    )
    if res.ok:
        text += f", norm {res.norm:.4f} +- {res.norm_err:.4f}"
        if np.isfinite(res.tilt_err):
            text += f", tilt {res.tilt:.4f} +- {res.tilt_err:.4f}"
    else:
        text += f" ({res.reason})"
    return text


def normalise_observation(
    dataset: MapDataset, exclusion: ExclusionMask, **options
) -> tuple[MapDataset, BackgroundNormResult]:
    """FoV-normalise one dataset outside ``exclusion``; always returns a dataset.

    Parameters
    ----------
    dataset : `~dl3flow.datasets.map.MapDataset`
        One observation, with its safe mask.
    exclusion : `~dl3flow.makers.exclusion.ExclusionMask`
        On the analysis geometry (the dataset is a cutout of it).
    **options
        Of `dl3flow.makers.background.normalize_background` (method, min_counts, ...,
        on_failure).

    Returns
    -------
    dataset : `~dl3flow.datasets.map.MapDataset`
        Scaled, kept unscaled, or -- when dropped -- the input with an all-False
        safe mask; its meta records the result (``BKGSTAT``, ``BKGACT`` ...).
    result : `~dl3flow.makers.background.BackgroundNormResult`
        For an observation rejected by the reduction (`dl3flow.datasets.rejection.rejection_of`):
        ``skipped`` and ``dropped`` whatever ``on_failure`` says, with the rejection
        as the reason.
    """
    rejection = rejection_of(dataset.meta)
    if rejection is not None:
        res = _rejected_result(rejection, dataset, options)
        meta = {**dataset.meta, **res.to_meta()}
        return replace(dataset, mask_safe=np.zeros_like(dataset.mask_safe), meta=meta), res
    out, res = normalize_background(
        dataset, exclusion.mask, exclusion_geom=exclusion.geom, **options
    )
    if out is None:
        meta = {**dataset.meta, **res.to_meta()}
        out = replace(dataset, mask_safe=np.zeros_like(dataset.mask_safe), meta=meta)
    return out, res


def _rejected_result(rejection, dataset: MapDataset, options) -> BackgroundNormResult:
    import astropy.units as u

    nan = float("nan")
    reference = options.get("reference_energy", 1.0 * u.TeV)
    return BackgroundNormResult(
        obs_id=rejection.obs_id,
        livetime=float(dataset.meta.get("LIVETIME", nan)),
        counts=0.0,
        npred_background=0.0,
        norm=nan,
        norm_err=nan,
        tilt=nan,
        tilt_err=nan,
        status="skipped",
        reason=f"observation rejected ({rejection.stage}): {rejection.error}: {rejection.reason}",
        method=options.get("method", "scale"),
        reference_energy=float(u.Quantity(reference, u.TeV).value),
        action="dropped",
    )


def is_dropped(dataset: MapDataset) -> bool:
    """Whether the background normalisation dropped this dataset (``BKGACT``)."""
    return dataset.meta.get("BKGACT") == "dropped"


def stack_background_corrected(
    datasets: Iterable[MapDataset | str | Path],
    *,
    geom: DatasetGeom,
    name: str,
    logger: logging.Logger | None = None,
) -> MapDataset:
    """Stack datasets (or files), leaving out -- and logging -- the dropped ones.

    The stacked meta gains ``NDROPPED`` (number of observations left out) and, if
    any, ``DROPPED`` (their obs ids).

    Raises
    ------
    StackError
        If every dataset was dropped (or there was none).
    """
    logger = logger or log
    kept, dropped = [], []

    def usable():
        for item in datasets:
            ds = item if isinstance(item, MapDataset) else read_dataset(item)
            obs = ds.meta.get("OBS_ID", ds.name)
            if is_dropped(ds):
                dropped.append(int(obs) if str(obs).isdigit() else obs)
                logger.warning(
                    "obs %s left out of the stack: background normalisation %s (%s)",
                    obs,
                    ds.meta.get("BKGSTAT"),
                    ds.meta.get("BKGREASN"),
                )
                continue
            kept.append(obs)
            yield ds

    stacked = stack_datasets(usable(), geom=geom, name=name)
    if not kept:
        raise StackError(
            f"{name}: nothing to stack: all {len(dropped)} observation(s) were dropped by "
            "the background normalisation (on_failure: drop); see the background norm table"
        )
    meta = {**stacked.meta, "NDROPPED": len(dropped)}
    if dropped:
        meta["DROPPED"] = dropped
    return replace(stacked, meta=meta)
