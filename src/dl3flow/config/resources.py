"""Resource requests of the workflow's jobs: memory (MB) and runtime (minutes).

Pure functions of the job size, for Snakemake's ``resources:`` (used by the cluster
and local profiles to schedule jobs):

- the size is the number of sky pixels times the number of energy planes
  (reconstructed + true energy bins: counts, background and mask cubes live on the
  first, exposure on the second); per-observation jobs work on the cutout of width
  ``2 * offset_max``, analysis-wide jobs (stacking, maps, plots) on the whole
  geometry;
- both grow linearly with Snakemake's ``attempt`` (1, then 2 on the first retry ...),
  so that a job killed for exceeding its memory or time limit gets more on retry;
- analysis-wide jobs that loop over observations (stacking) take longer with more
  observations; their memory does not grow (one observation is read at a time).

Calibration (``reduce_observation`` on the simulated demo store, 2-core machine):
peak memory is about 110 MB (interpreter + numpy/astropy) plus 23-33 bytes per
voxel; it runs at about 0.2 s per million voxels. The defaults below leave a factor
~2 headroom in memory and ~30 in runtime (cluster nodes can be slower, real data
have more events, shared file systems add latency); cluster schedulers charge the
runtime request only as a limit, not as usage.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

__all__ = [
    "JOB_KINDS",
    "JobCost",
    "RULE_KINDS",
    "geometry_mem_mb",
    "job_size",
    "machine_mem_mb",
    "mem_mb",
    "n_pixels",
    "runtime",
]


@dataclass(frozen=True)
class JobCost:
    """Cost model of one kind of job.

    Parameters
    ----------
    base_mb : float
        Memory independent of the size: interpreter, imports, headroom (MB).
    bytes_per_voxel : float
        Peak memory per voxel (pixel x energy plane) in bytes.
    base_minutes : float
        Runtime independent of the size (minutes).
    minutes_per_mvoxel : float
        Runtime per million voxels (minutes), per observation for stacking jobs.
    per_observation : bool
        True if the job works on one observation's cutout, False if on the whole
        analysis geometry.
    """

    base_mb: float
    bytes_per_voxel: float
    base_minutes: float
    minutes_per_mvoxel: float
    per_observation: bool


JOB_KINDS: dict[str, JobCost] = {
    # per observation, on its cutout
    "reduce": JobCost(300, 48, 5, 0.1, per_observation=True),
    "safe_mask": JobCost(300, 24, 5, 0.05, per_observation=True),
    "background": JobCost(300, 48, 5, 0.2, per_observation=True),
    # analysis-wide, on the whole geometry
    "stack": JobCost(400, 48, 5, 0.05, per_observation=False),
    "maps": JobCost(400, 64, 5, 0.2, per_observation=False),
    "plot": JobCost(600, 32, 5, 0.1, per_observation=False),
    # small tables (observation lists, per-observation summaries, catalogs)
    "table": JobCost(500, 0, 5, 0, per_observation=False),
}

#: The kind of each rule of the workflow (rules not listed: use the profile's
#: default-resources).
RULE_KINDS: dict[str, str] = {
    "simulate_data_store": "table",
    "select_observations": "table",
    "reduce_observations": "reduce",
    "make_safe_masks": "safe_mask",
    "safe_energy_table": "table",
    "exclusion_initial": "maps",
    "stack_initial": "stack",
    "significance_initial": "maps",
    "exclusion_significance": "maps",
    "exclusion_final": "maps",
    "normalize_backgrounds": "background",
    "background_norms_table": "table",
    "ring_background": "maps",
    "stack_datasets": "stack",
    "plot_quicklook": "plot",
    "plot_safe_energy": "plot",
    "plot_exclusions": "plot",
    "plot_exclusion_significance": "plot",
    "plot_background_norms": "plot",
    "rejected_observations": "table",
    "report_table": "table",
    "report_summary": "table",
    "excess_maps": "maps",
    "excess_maps_bands": "maps",
    "find_peaks": "maps",
    "plot_maps": "plot",
    "plot_maps_ring": "plot",
    "plot_observation_qa": "plot",
    "plot_significance_band": "plot",
    # 1D spectra: a few thousand events and small IRF grids per observation
    "extract_spectra": "table",
    "stack_spectra": "table",
    "ogip_spectrum": "table",
    "spectrum_table": "table",
    "plot_spectrum": "plot",
}


def _cost(kind: str) -> JobCost:
    kind = RULE_KINDS.get(kind, kind)
    try:
        return JOB_KINDS[kind]
    except KeyError:
        known = ", ".join(sorted(JOB_KINDS))
        raise ValueError(f"unknown job kind {kind!r}; known: {known} (or a rule name)") from None


def _check(n_pixels: int, n_energy: int, attempt: int, n_obs: int = 1) -> None:
    for name, value, minimum in (
        ("n_pixels", n_pixels, 0),
        ("n_energy", n_energy, 0),
        ("attempt", attempt, 1),
        ("n_obs", n_obs, 0),
    ):
        if int(value) != value or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def n_pixels(width, binsz) -> int:
    """Number of pixels of an image ``width`` wide (deg; one value or (lon, lat)).

    ``binsz`` is the pixel size in deg (one value or (lon, lat)); each axis is
    rounded up to whole pixels, as the geometry does.
    """
    widths = tuple(width) if isinstance(width, tuple | list) else (width, width)
    sizes = tuple(binsz) if isinstance(binsz, tuple | list) else (binsz, binsz)
    if len(widths) != 2 or len(sizes) != 2:
        raise ValueError(f"width and binsz: one value or two, got {width!r}, {binsz!r}")
    if min(widths) <= 0 or min(sizes) <= 0:
        raise ValueError(f"width and binsz must be positive, got {width!r}, {binsz!r}")
    # round away float noise first (4 deg / 0.02 deg = 200.00000000000003)
    return math.prod(math.ceil(round(w / b, 6)) for w, b in zip(widths, sizes, strict=True))


def job_size(analysis, kind: str) -> dict[str, int]:
    """``{"n_pixels": ..., "n_energy": ...}`` of one job of an analysis.

    Parameters
    ----------
    analysis : `~dl3flow.config.model.AnalysisConfig`
        The parsed analysis (``layout.sky.width``, ``layout.sky.binsz``, energy axes,
        ``offset_max``).
    kind : str
        A job kind of `JOB_KINDS` or a rule name of `RULE_KINDS`.
    """
    sky = analysis.layout.sky
    width = sky.width
    if _cost(kind).per_observation:
        cutout = 2.0 * float(analysis.offset_max.to_value("deg"))
        width = tuple(min(w, cutout) for w in width)
    n_energy = analysis.layout.energy.nbin + analysis.layout.energy_true.nbin
    return {"n_pixels": n_pixels(width, sky.binsz), "n_energy": n_energy}


def mem_mb(kind: str, *, n_pixels: int, n_energy: int, attempt: int = 1) -> int:
    """Memory request in MB, rounded up to 100 MB, times ``attempt``.

    Examples
    --------
    >>> mem_mb("reduce", n_pixels=200 * 200, n_energy=8 + 15)
    400
    >>> mem_mb("reduce_observation", n_pixels=200 * 200, n_energy=23, attempt=2)
    800
    """
    _check(n_pixels, n_energy, attempt)
    cost = _cost(kind)
    mb = cost.base_mb + cost.bytes_per_voxel * n_pixels * n_energy / 1e6
    return int(math.ceil(mb / 100.0) * 100) * attempt


def runtime(kind: str, *, n_pixels: int, n_energy: int, attempt: int = 1, n_obs: int = 1) -> int:
    """Runtime request in whole minutes, times ``attempt``.

    ``n_obs`` is the number of observations the job works on: those a stacking job
    reads, those of a batch of per-observation jobs (each on its own cutout).

    Examples
    --------
    >>> runtime("reduce", n_pixels=200 * 200, n_energy=23)
    6
    >>> runtime("stack", n_pixels=250 * 250, n_energy=31, n_obs=100, attempt=2)
    30
    """
    _check(n_pixels, n_energy, attempt, n_obs)
    cost = _cost(kind)
    mvoxels = max(n_obs, 1) * n_pixels * n_energy / 1e6
    minutes = cost.base_minutes + cost.minutes_per_mvoxel * mvoxels
    return int(math.ceil(minutes)) * attempt


def geometry_mem_mb(*, n_pixels: int, n_energy: int) -> int:
    """Memory (MB) of the largest analysis-wide job on a geometry, at the first attempt.

    The most of :func:`mem_mb` over the job kinds that work on the whole geometry
    (stacking, maps, plots).
    """
    kinds = [kind for kind, cost in JOB_KINDS.items() if not cost.per_observation]
    return max(mem_mb(kind, n_pixels=n_pixels, n_energy=n_energy) for kind in kinds)


def machine_mem_mb() -> int | None:
    """Physical memory of this machine in MB, None where the system does not say."""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None
    if pages <= 0 or size <= 0:
        return None
    return int(pages * size // 1_000_000)
