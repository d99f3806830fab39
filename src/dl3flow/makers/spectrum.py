"""1D ON/OFF spectrum extraction, stacking and per-observation summary.

:func:`extract_spectrum` does for one observation what gammapy 1.3's
``SpectrumDatasetMaker`` + ``ReflectedRegionsBackgroundMaker`` (+ ``SafeMaskMaker``)
do:

* ON counts: events strictly inside the ON circle (in the pixel frame of gammapy's
  ``RegionGeom``: TAN, 0.1 deg, centred on the region), or, for point-like IRFs with
  an ON point, events whose distance from the point is ``<= RAD_MAX(E_reco,
  offset)`` (nearest RAD_MAX node, gammapy's ``select_rad_max``);
* OFF counts from the union of the OFF regions (`dl3flow.makers.reflected`), acceptance 1
  and acceptance_off = number of OFF regions;
* exposure = aeff(offset of the ON centre) x livetime on the true-energy centres,
  times the PSF containment of the ON circle with ``containment_correction``;
* the energy-dispersion matrix at the ON centre (`dl3flow.irf.edisp.edisp_kernel`);
* safe mask from ``aeff-default``, ``aeff-max`` and ``edisp-bias``, with the map
  safe masks' functions (`dl3flow.makers.safe`).

Errors (`SpectrumError`) name the observation and, where a file is at fault, the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from dl3flow.datasets.rejection import (
    BadObservationError,
    Rejection,
    _check_on_bad_observation,
    _rejection_reason,
    rejection_of,
)
from dl3flow.datasets.spectrum import SpectrumDatasetOnOff, _on_geom
from dl3flow.datasets.stacking import _stack_gti, _stack_meta
from dl3flow.irf.edisp import edisp_kernel
from dl3flow.irf.psf import psf_containment
from dl3flow.irf.rad_max import is_point_like
from dl3flow.makers.reflected import ReflectedRegionsFinder, WobbleRegionsFinder
from dl3flow.makers.safe import energy_mask
from dl3flow.makers.safe_methods import (
    aeff_max_threshold,
    edisp_bias_threshold,
    energy_range_aeff_default,
)
from dl3flow.maps.geom import EnergyAxis
from dl3flow.maps.regions import CircleRegion, OffRegions, angular_separation, sky_to_pixel

__all__ = [
    "SPECTRUM_SAFE_METHODS",
    "SpectrumError",
    "check_map_analysis",
    "check_on_region",
    "extract_spectrum",
    "extract_spectrum_to_file",
    "rejected_spectrum",
    "spectrum_summary",
    "spectrum_table",
    "stack_spectra",
]

#: Safe-mask methods of a 1D spectrum (those of the map safe masks that apply; the
#: schema's ``spectrum.safe_mask.methods`` enum lists the same: tests/test_config.py).
SPECTRUM_SAFE_METHODS = ("aeff-default", "aeff-max", "edisp-bias")

#: Relative tolerance of an ON radius against a fixed RAD_MAX (gammapy's rtol).
RAD_MAX_RTOL = 1e-3


class SpectrumError(ValueError):
    """A spectrum cannot be extracted; the message names the observation (and file)."""


def _aeff_source(observation) -> str:
    try:
        location = observation._store._find_location(observation.obs_id, "aeff")
        return location.source if location is not None else f"obs {observation.obs_id}"
    except Exception:  # pragma: no cover - duck-typed observations
        return f"obs {observation.obs_id}"


def check_map_analysis(observation) -> str | None:
    """Why a map analysis cannot use this observation's IRFs, or None if it can.

    Point-like IRFs (``HDUCLAS3 = POINT-LIKE``) only describe events within the
    RAD_MAX cut around the source: they have no PSF over the field of view and no
    background model, so sky maps (exposure, background, PSF) cannot be made.

    Parameters
    ----------
    observation : `~dl3flow.data.observation.Observation`

    Returns
    -------
    str or None
        The reason (naming the observation and file) to refuse a map analysis.
    """
    aeff = observation.aeff
    if aeff is not None and is_point_like(aeff):
        return (
            f"obs {observation.obs_id}: point-like IRFs ({_aeff_source(observation)} has "
            "HDUCLAS3 = POINT-LIKE): events and IRFs are cut at RAD_MAX around the source, "
            "so no sky map can be made; use a 1D spectrum analysis"
        )
    return None


def check_on_region(on_region: CircleRegion, rad_max, *, obs_id, source: str = "") -> None:
    """Refuse an ON region that does not fit the observation's IRFs.

    Full-enclosure IRFs (``rad_max`` None) need an ON circle. Point-like IRFs need
    an ON point, or an ON circle whose radius equals a *fixed* RAD_MAX (relative
    tolerance 1e-3, gammapy's ``is_rad_max_compatible_region_geom``).

    Raises
    ------
    SpectrumError
        Naming the observation and ``source`` (the IRF file).
    """
    where = f"obs {obs_id}" + (f" ({source})" if source else "")
    if rad_max is None:
        if on_region.is_point:
            raise SpectrumError(
                f"{where}: an ON point needs point-like IRFs with RAD_MAX; "
                "these are full-enclosure IRFs, give an ON circle"
            )
        return
    if on_region.is_point:
        return
    if not rad_max.is_fixed:
        raise SpectrumError(
            f"{where}: the RAD_MAX cut depends on energy/offset; the ON region must be a "
            f"point, got a circle of radius {on_region.radius} deg"
        )
    expected = float(rad_max.data.ravel()[0])
    if not np.isclose(on_region.radius, expected, rtol=RAD_MAX_RTOL, atol=0.0):
        raise SpectrumError(
            f"{where}: ON circle radius {on_region.radius} deg disagrees with the fixed "
            f"RAD_MAX {expected} deg of the point-like IRFs"
        )


# ---------------------------------------------------------------------------- counts


def _energy_index(energy: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Reco-energy bin per event, -1 outside (as `dl3flow.makers.map.make_counts`)."""
    idx = np.digitize(energy, edges) - 1
    bad = (idx < 0) | (idx >= edges.size - 1) | ~(energy <= edges[-1])
    return np.where(bad, -1, idx)


def _histogram(index: np.ndarray, selected: np.ndarray, n: int) -> np.ndarray:
    use = selected & (index >= 0)
    return np.bincount(index[use], minlength=n).astype(float)


def _in_circle(region: CircleRegion, ra, dec) -> np.ndarray:
    """Strictly inside the ON circle in its ``RegionGeom`` pixel frame."""
    geom = _on_geom(region)
    x0, y0, r0 = sky_to_pixel(geom, region)
    px, py = geom.world2pix(ra, dec)
    with np.errstate(invalid="ignore"):
        return np.hypot(px - x0, py - y0) < r0


def _in_rad_max(point: CircleRegion, events, rad_max, offset: float) -> np.ndarray:
    """gammapy ``select_rad_max``: separation <= RAD_MAX(E_reco, offset of the point)."""
    separation = angular_separation(point.ra, point.dec, events.ra, events.dec)
    return separation <= rad_max.evaluate(energy=events.energy, offset=offset)


def _rad_max_overlap(regions, rad_max, offset: float, edges: np.ndarray) -> bool:
    """gammapy ``are_regions_overlapping_rad_max`` over the reco-energy range."""
    axis = rad_max.axes[0]
    values = rad_max.evaluate(energy=axis.nodes, offset=offset)
    use = (axis.edges[1:] >= edges[0]) & (axis.edges[:-1] <= edges[-1])
    values = values[use]
    for i, a in enumerate(regions):
        for b in regions[i + 1 :]:
            sep = float(angular_separation(a.ra, a.dec, b.ra, b.dec))
            if np.any(sep < 2 * values):
                return True
    return False


# -------------------------------------------------------------------------- exposure


def _exposure(observation, on_region, *, offset, energy_true, containment_correction):
    aeff = observation.aeff
    livetime = float(observation.livetime)
    exposure = aeff.evaluate(energy_true=energy_true.centers, offset=offset) * livetime
    edisp_exposure = exposure.copy()
    if containment_correction:
        if is_point_like(aeff):
            raise SpectrumError(
                f"obs {observation.obs_id}: containment correction is not possible with "
                f"point-like IRFs ({_aeff_source(observation)})"
            )
        if on_region.is_point:
            raise SpectrumError(f"obs {observation.obs_id}: containment correction needs a circle")
        if observation.psf is None:
            raise SpectrumError(f"obs {observation.obs_id}: containment correction needs a PSF")
        exposure = exposure * psf_containment(
            observation.psf, rad=on_region.radius, offset=offset, energy_true=energy_true.centers
        )
    return exposure, edisp_exposure, livetime


def _safe_mask(methods, *, observation, energy, energy_true, aeff, kernel, aeff_percent, bias):
    unknown = sorted(set(methods) - set(SPECTRUM_SAFE_METHODS))
    if unknown:
        raise SpectrumError(
            f"unknown 1D safe-mask method(s) {unknown}; choose from {SPECTRUM_SAFE_METHODS}"
        )
    mask = np.ones(energy.nbin, dtype=bool)
    where = f"the ON region of obs {observation.obs_id}"
    for method in (m for m in SPECTRUM_SAFE_METHODS if m in set(methods)):
        if method == "aeff-default":
            result = energy_range_aeff_default(observation.aeff, obs_id=observation.obs_id)
        elif method == "aeff-max":
            result = aeff_max_threshold(aeff, energy_true, aeff_percent=aeff_percent, where=where)
        else:
            result = edisp_bias_threshold(
                kernel, energy, energy_true, bias_percent=bias, where=where
            )
        mask &= energy_mask(
            energy.edges, energy_min=result.energy_min, energy_max=result.energy_max
        )
    return mask


# ------------------------------------------------------------------------ extraction


def _find_off(observation, on_region, finder, exclusion, rad_max, energy, offset) -> OffRegions:
    pointing = observation.pointing_radec
    off = finder.run(on_region, center=pointing, exclusion=exclusion)
    if on_region.is_point and len(off):
        if _rad_max_overlap([on_region, *off.regions], rad_max, offset, energy.edges):
            off = OffRegions((), off.geom)
    if len(off) == 0:
        raise SpectrumError(
            f"obs {observation.obs_id}: no OFF region found (outside the exclusion mask, "
            "not overlapping) with the "
            f"{type(finder).__name__}; the observation cannot give a background estimate"
        )
    return off


def _counts(observation, on_region, off, rad_max, energy, offset):
    events = observation.events
    index = _energy_index(events.energy, energy.edges)
    if on_region.is_point:
        on = _in_rad_max(on_region, events, rad_max, offset)
        in_off = np.zeros(len(events), dtype=bool)
        for point in off.regions:
            point_offset = float(
                angular_separation(point.ra, point.dec, *observation.pointing_radec)
            )
            in_off |= _in_rad_max(point, events, rad_max, point_offset)
    else:
        on = _in_circle(on_region, events.ra, events.dec)
        in_off = off.contains(events.ra, events.dec)
    n = energy.nbin
    return _histogram(index, on, n), _histogram(index, in_off, n)


def extract_spectrum(
    observation,
    *,
    on_region: CircleRegion,
    energy: EnergyAxis,
    energy_true: EnergyAxis,
    finder: ReflectedRegionsFinder | WobbleRegionsFinder,
    exclusion=None,
    containment_correction: bool = False,
    safe_mask_methods: Sequence[str],
    aeff_percent: float = 10.0,
    bias_percent: float = 10.0,
    name: str | None = None,
) -> SpectrumDatasetOnOff:
    """The ON/OFF spectrum of one observation (see the module docstring).

    Parameters
    ----------
    observation : `~dl3flow.data.observation.Observation`
    on_region : `~dl3flow.maps.regions.CircleRegion`
        ON circle, or ON point for point-like IRFs with RAD_MAX.
    energy, energy_true : `~dl3flow.maps.geom.EnergyAxis`
        Reconstructed and true energy axes.
    finder : `~dl3flow.makers.reflected.ReflectedRegionsFinder` or `WobbleRegionsFinder`
    exclusion : `~dl3flow.makers.exclusion.ExclusionMask` or (mask, SkyGeom), optional
        True = usable for OFF regions.
    containment_correction : bool
        Multiply the exposure by the PSF containment of the ON circle (full-enclosure).
    safe_mask_methods : sequence of str
        Any of :data:`SPECTRUM_SAFE_METHODS`; none (``()``): no safe-mask cut. No
        default: the analysis default (``spectrum.safe_mask.methods``) is
        ``["aeff-default"]``.
    aeff_percent, bias_percent : float
        Parameters of ``aeff-max`` and ``edisp-bias``.
    name : str, optional
        Dataset name; default the observation id.

    Returns
    -------
    SpectrumDatasetOnOff

    Raises
    ------
    SpectrumError
        No OFF region; an ON region incompatible with the IRFs (file and observation
        named); containment correction with point-like IRFs or without a PSF.
    """
    obs_id = observation.obs_id
    rad_max = observation.rad_max
    check_on_region(on_region, rad_max, obs_id=obs_id, source=_aeff_source(observation))
    if observation.aeff is None or observation.edisp is None:
        raise SpectrumError(f"obs {obs_id}: a spectrum needs aeff and edisp IRFs")
    offset = float(angular_separation(on_region.ra, on_region.dec, *observation.pointing_radec))
    off = _find_off(observation, on_region, finder, exclusion, rad_max, energy, offset)
    counts, counts_off = _counts(observation, on_region, off, rad_max, energy, offset)
    exposure, edisp_exposure, livetime = _exposure(
        observation,
        on_region,
        offset=offset,
        energy_true=energy_true,
        containment_correction=containment_correction,
    )
    kernel = edisp_kernel(
        observation.edisp,
        offset=[offset],
        energy_true_edges=energy_true.edges,
        energy_edges=energy.edges,
    )[0]
    mask = _safe_mask(
        safe_mask_methods,
        observation=observation,
        energy=energy,
        energy_true=energy_true,
        aeff=exposure / livetime,
        kernel=kernel,
        aeff_percent=aeff_percent,
        bias=bias_percent,
    )
    ra, dec = observation.pointing_radec
    meta = {"OBS_ID": int(obs_id), "LIVETIME": livetime, "RA_PNT": ra, "DEC_PNT": dec}
    return SpectrumDatasetOnOff(
        energy=energy,
        energy_true=energy_true,
        counts=counts,
        counts_off=counts_off,
        acceptance=np.ones(energy.nbin),
        acceptance_off=np.full(energy.nbin, float(len(off))),
        exposure=exposure,
        edisp=kernel,
        edisp_exposure=edisp_exposure,
        mask_safe=mask,
        livetime=livetime,
        on_region=on_region,
        off_regions=off,
        name=str(obs_id) if name is None else name,
        meta=meta,
        gti=observation.gti,
    )


def rejected_spectrum(
    rejection: Rejection, *, on_region: CircleRegion, energy: EnergyAxis, energy_true: EnergyAxis
) -> SpectrumDatasetOnOff:
    """The spectrum written for a rejected observation: flagged, with nothing to use.

    Zero counts, exposure and acceptance_off, an all-False safe mask and
    ``STATUS = 'REJECTED'`` with stage, error and reason in the meta
    (`~dl3flow.datasets.rejection.Rejection.to_meta`), as
    `dl3flow.datasets.rejection.rejected_dataset` for the maps; `stack_spectra` and
    `spectrum_summary` read the flag.
    """
    zeros = np.zeros(energy.nbin)
    return SpectrumDatasetOnOff(
        energy=energy,
        energy_true=energy_true,
        counts=zeros,
        counts_off=zeros,
        acceptance=np.ones(energy.nbin),
        acceptance_off=zeros,
        exposure=np.zeros(energy_true.nbin),
        edisp=np.zeros((energy_true.nbin, energy.nbin)),
        mask_safe=np.zeros(energy.nbin, dtype=bool),
        livetime=0.0,
        on_region=on_region,
        name=str(rejection.obs_id),
        meta=rejection.to_meta(),
    )


def extract_spectrum_to_file(
    observation_loader,
    *,
    obs_id: int,
    path,
    on_region: CircleRegion,
    energy: EnergyAxis,
    energy_true: EnergyAxis,
    provenance=None,
    on_bad_observation: str = "skip",
    **extract_kwargs,
):
    """The per-observation spectrum job: extract, and always write the dataset.

    A failure (unreadable file, no OFF region, an ON region that does not fit the
    IRFs, ...) gives, with ``on_bad_observation="skip"``, a flagged dataset
    (`rejected_spectrum`: STATUS REJECTED with stage ``spectrum``, error and reason),
    as `dl3flow.workflow.rejection.reduce_to_files` does for the maps.

    Parameters
    ----------
    observation_loader : callable
        ``observation_loader(obs_id)`` returns a `~dl3flow.data.observation.Observation`.
    obs_id : int
    path : str or `~pathlib.Path`
        The spectrum file (gadf SpectrumDatasetOnOff layout).
    on_region, energy, energy_true, **extract_kwargs
        As for `extract_spectrum`.
    provenance : `~dl3flow.io.provenance.Provenance`, dict or callable, optional
        Recorded in the primary header; a callable is called after the extraction.
    on_bad_observation : {"skip", "fail"}

    Returns
    -------
    SpectrumDatasetOnOff or `~dl3flow.datasets.rejection.Rejection`

    Raises
    ------
    BadObservationError
        With ``on_bad_observation="fail"`` (no file is written then).
    """
    from pathlib import Path

    _check_on_bad_observation(on_bad_observation)
    obs_id = int(obs_id)
    axes = {"on_region": on_region, "energy": energy, "energy_true": energy_true}
    try:
        result = extract_spectrum(observation_loader(obs_id), **axes, **extract_kwargs)
        dataset = result
    except MemoryError:
        raise
    except Exception as exc:
        result = Rejection(
            obs_id=obs_id,
            stage="spectrum",
            reason=_rejection_reason(obs_id, exc),
            error=type(exc).__name__,
        )
        if on_bad_observation == "fail":
            raise BadObservationError(result) from exc
        dataset = rejected_spectrum(result, **axes)
    if callable(provenance):
        try:
            provenance = provenance()
        except OSError as exc:  # hashing an input of a rejected observation
            if not isinstance(result, Rejection):
                raise
            provenance = {"PROVERR": f"provenance not recorded: {exc}"[:68]}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    dataset.write(path, overwrite=True, provenance=provenance)
    return result


# -------------------------------------------------------------------------- stacking


@dataclass(frozen=True)
class _Sums:
    counts: np.ndarray
    off: np.ndarray
    alpha_off: np.ndarray
    acceptance: np.ndarray
    exposure: np.ndarray
    edisp_num: np.ndarray
    edisp_exposure: np.ndarray
    mask: np.ndarray


def _masked_sums(datasets: Sequence[SpectrumDatasetOnOff]) -> _Sums:
    def total(get):
        return sum(np.nan_to_num(get(ds)) for ds in datasets)

    return _Sums(
        counts=total(lambda d: d.counts * d.mask_safe),
        off=total(lambda d: d.counts_off * d.mask_safe),
        alpha_off=total(lambda d: d.alpha * d.counts_off * d.mask_safe),
        acceptance=total(lambda d: d.acceptance * d.mask_safe),
        exposure=total(lambda d: d.exposure * d.mask_safe.any()),
        edisp_num=total(lambda d: d.edisp * d.edisp_exposure[:, None] * d.mask_safe[None, :]),
        edisp_exposure=total(lambda d: d.edisp_exposure * d.mask_safe.any()),
        mask=np.logical_or.reduce([d.mask_safe for d in datasets]),
    )


def _check_stackable(datasets: Sequence[SpectrumDatasetOnOff]) -> None:
    if not datasets:
        raise SpectrumError("no spectrum datasets to stack (none given, or all rejected)")
    first = datasets[0]
    for ds in datasets[1:]:
        for attr in ("energy", "energy_true"):
            a, b = getattr(first, attr).edges, getattr(ds, attr).edges
            if a.shape != b.shape or not np.allclose(a, b, rtol=1e-10, atol=0):
                raise SpectrumError(
                    f"cannot stack dataset {ds.name!r} into {first.name!r}: {attr} axes differ"
                )


def stack_spectra(
    datasets: Iterable[SpectrumDatasetOnOff], *, name: str = "stacked"
) -> SpectrumDatasetOnOff:
    """Stack ON/OFF spectra as gammapy's ``Datasets.stack_reduce``.

    Datasets flagged ``STATUS = 'REJECTED'`` (`rejected_spectrum`) are left out.
    Every dataset contributes only inside its safe mask: counts, counts_off and
    acceptance are summed; ``alpha * counts_off`` is summed and the stacked
    ``acceptance_off = acceptance * counts_off / sum(alpha * counts_off)``, i.e. the
    stacked alpha is the OFF-counts-weighted mean of the alphas; in bins without OFF
    counts it is the average alpha over all bins (gammapy's rule). Exposure and edisp
    exposure are summed for datasets with any safe bin; edisp is their
    exposure-weighted mean (per reco bin, safe datasets only). Safe masks are ORed,
    GTIs merged, livetimes summed (datasets with a safe bin). The ON and OFF regions
    are the first dataset's, as in gammapy (its region geometry, so that gammapy's
    ``SpectrumDatasetOnOff.read`` opens the stack).

    Raises
    ------
    SpectrumError
        No dataset that is not rejected, or differing energy axes.
    """
    datasets = [ds for ds in datasets if rejection_of(ds.meta) is None]
    _check_stackable(datasets)
    sums = _masked_sums(datasets)
    with np.errstate(divide="ignore", invalid="ignore"):
        acceptance_off = sums.acceptance * sums.off / sums.alpha_off
        average_alpha = sums.alpha_off.sum() / sums.off.sum()
        zero = sums.off == 0
        acceptance_off[zero] = sums.acceptance[zero] / average_alpha
        edisp = np.nan_to_num(sums.edisp_num / sums.edisp_exposure[:, None])
    acceptance_off = np.nan_to_num(acceptance_off)
    meta, gti, livetime = {}, None, 0.0
    for ds in datasets:
        has_safe = bool(ds.mask_safe.any())
        meta = _stack_meta(meta, ds.meta, b_has_safe=has_safe)
        gti = _stack_gti(gti, ds.gti)
        livetime += ds.livetime if has_safe else 0.0
    meta["LIVETIME"] = livetime
    first = datasets[0]
    return SpectrumDatasetOnOff(
        energy=first.energy,
        energy_true=first.energy_true,
        counts=sums.counts,
        counts_off=sums.off,
        acceptance=sums.acceptance,
        acceptance_off=acceptance_off,
        exposure=sums.exposure,
        edisp=edisp,
        edisp_exposure=sums.edisp_exposure,
        mask_safe=sums.mask,
        livetime=livetime,
        on_region=first.on_region,
        off_regions=first.off_regions,  # gammapy: the stack keeps the first one's geometry
        name=name,
        meta=meta,
        gti=gti,
    )


# --------------------------------------------------------------------------- summary


def spectrum_summary(dataset: SpectrumDatasetOnOff) -> dict:
    """One row of ``tables/spectrum_runs.ecsv`` (gammapy's ``info_dict`` in the safe range).

    Returns
    -------
    dict
        ``name``, ``status`` (``"ok"`` or the rejection, `dl3flow.workflow.rejection`), ``n_on``,
        ``n_off``, ``alpha`` (``sum(alpha n_off) / sum(n_off)``, NaN without OFF counts),
        ``excess``, ``significance`` (WStat / Li & Ma ``sqrt(TS)`` with sign),
        ``livetime`` (s), ``n_off_regions``,
        ``energy_min`` / ``energy_max`` (TeV, NaN without safe bin).
    """
    mask = dataset.mask_safe
    n_on = float(dataset.counts[mask].sum())
    n_off = float(dataset.counts_off[mask].sum())
    n_bkg = float((dataset.alpha * dataset.counts_off)[mask].sum())
    alpha = n_bkg / n_off if n_off > 0 else float("nan")
    significance = float("nan")
    if n_off > 0:
        from dl3flow.stats import wstat_significance  # scipy.special, at module level there

        significance = float(wstat_significance(n_on, n_off, alpha))
    erange = dataset.safe_energy_range or (float("nan"), float("nan"))
    rejection = rejection_of(dataset.meta)
    return {
        "name": dataset.name,
        "status": "ok" if rejection is None else str(rejection),
        "n_on": int(round(n_on)),
        "n_off": int(round(n_off)),
        "alpha": alpha,
        "excess": n_on - n_bkg,
        "significance": significance,
        "livetime": dataset.livetime,
        "n_off_regions": dataset.n_off_regions,
        "energy_min": erange[0],
        "energy_max": erange[1],
    }


def spectrum_table(datasets: Iterable[SpectrumDatasetOnOff], stacked: SpectrumDatasetOnOff):
    """``tables/spectrum_runs.ecsv``: one `spectrum_summary` row per dataset, then the stack.

    Rejected observations keep their row (status says why, zero counts); the last
    row is ``stacked`` (its ``n_off_regions``: the total of the observations used).
    Column units: livetime s, energy_min/energy_max TeV.

    Returns
    -------
    `~astropy.table.Table`
    """
    from astropy.table import Table

    datasets = list(datasets)
    rows = [spectrum_summary(ds) for ds in datasets]
    used = [row["n_off_regions"] for row in rows if row["status"] == "ok"]
    rows.append({**spectrum_summary(stacked), "n_off_regions": sum(used)})
    table = Table(rows=[list(row.values()) for row in rows], names=list(rows[0]))
    table["livetime"].unit = "s"
    table["energy_min"].unit = table["energy_max"].unit = "TeV"
    table.meta["comments"] = [
        "1D ON/OFF spectra in the safe energy range: one row per observation, then the stack",
        "significance: WStat (Li & Ma) sqrt(TS) with the sign of the excess",
    ]
    return table
