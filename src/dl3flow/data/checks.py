"""The DL3 validation of one observation: one named check per physical expectation.

:func:`validate_observation` runs where the DL3 is read, before any product is made
(`dl3flow.workflow.rejection.reduce_or_reject`, stage ``quality``). Each check of
:data:`dl3flow.data.quality.VALIDATION_CHECKS` finds what is impossible in the data and,
by its policy (`dl3flow.data.quality.QualityPolicy`), rejects the observation (a
`~dl3flow.data.quality.QualityError` naming the check, with its numbers), keeps it with an
`~dl3flow.data.quality.ObservationWarning`, or keeps it silently:

=====================  ===========================================================
check                  finds
=====================  ===========================================================
``gti_valid``          no GTI, non-finite or reversed bounds, a GTI outside
                       TSTART..TSTOP
``gti_overlap``        no event inside the GTI
``livetime_ontime``    LIVETIME > ONTIME, or ONTIME > TSTOP - TSTART
``deadc``              DEADC (where given) != LIVETIME / ONTIME
``pointing_index``     RA_PNT/DEC_PNT of the events header != the obs index'
``events_energy``      ENERGY not finite or <= 0
``events_direction``   RA not finite, DEC not finite or outside [-90, 90]
``events_time``        TIME not finite, outside the GTI or TSTART..TSTOP
``irf_finite``         NaN or inf in an IRF where the geometry uses it
``irf_negative``       an IRF clearly negative where the geometry uses it
``irf_all_zero``       an IRF all zero where the geometry uses it
``irf_normalisation``  an energy dispersion or PSF that cannot be normalised
``irf_repaired``       a repair applied on read (a zero PSF width set to 1, gammapy's)
=====================  ===========================================================

The events failing an event check are dropped (and counted in the dataset header,
``NEVDROP``) unless its policy is ``ignore``; with ``reject`` the observation is
rejected only when more than ``max_invalid_event_fraction`` of the events fail. A
non-finite IRF value kept by ``irf_finite: warn`` is set to zero, and the warning
says so: nothing is repaired without a record.

"Where the geometry uses them": the IRF table nodes that interpolation reads for the
analysis' energy and true-energy ranges, offsets up to ``sqrt(2) * offset_max`` (the
corner of a cutout), the PSF radii of the geometry, and every migration.

The checks on arrays (``find_*``) are pure functions returning a :class:`Finding`
or None, for tests with tiny literal data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import astropy.units as u
import numpy as np

from dl3flow.data import quality
from dl3flow.data.quality import EVENT_CHECKS, QualityError, QualityPolicy

__all__ = [
    "Finding",
    "ValidatedObservation",
    "events_direction_invalid",
    "events_energy_invalid",
    "events_time_invalid",
    "find_deadc",
    "find_gti_overlap",
    "find_gti_valid",
    "find_irf_values",
    "find_livetime_ontime",
    "find_normalisation",
    "find_pointing_index",
    "irf_used_values",
    "validate_observation",
]

#: The IRF arrays checked by value, per kind of IRF (attribute names).
_PARAMETRIC = {
    "PSF3Gauss": ("sigma_1", "sigma_2", "sigma_3", "scale", "ampl_2", "ampl_3"),
    "PSFKing": ("gamma", "sigma"),
}


@dataclass(frozen=True)
class Finding:
    """What one check found wrong (the message names the observation and the numbers).

    Attributes
    ----------
    check : str
        One of `dl3flow.data.quality.VALIDATION_CHECKS`.
    message : str
    n_bad, n_total : int
        How many items (events, IRF values, nodes) failed, of how many checked.
    """

    check: str
    message: str
    n_bad: int = 1
    n_total: int = 1

    @property
    def fraction(self) -> float:
        return self.n_bad / self.n_total if self.n_total else 0.0


def _percent(n_bad: int, n_total: int) -> str:
    return f"{n_bad} of {n_total} ({100.0 * n_bad / max(n_total, 1):.3g} %)"


# ----------------------------------------------------------------------------- times, GTI


def find_gti_valid(start, stop, *, tstart: float, tstop: float, tolerance: float = 1.0):
    """``gti_valid``: at least one GTI, finite, START <= STOP, inside TSTART..TSTOP.

    All times in s (``tolerance`` too); returns a `Finding` or None.
    """
    start, stop = np.asarray(start, float), np.asarray(stop, float)
    if start.size == 0:
        return Finding("gti_valid", "the GTI table has no interval", 1, 1)
    bad = ~(np.isfinite(start) & np.isfinite(stop)) | (stop < start)
    if bad.any():
        return Finding(
            "gti_valid",
            f"{_percent(int(bad.sum()), start.size)} GTI intervals are non-finite or end "
            "before they start",
            int(bad.sum()),
            start.size,
        )
    if not np.any(stop > start):
        return Finding("gti_valid", "every GTI interval has zero length", start.size, start.size)
    outside = (start < tstart - tolerance) | (stop > tstop + tolerance)
    if outside.any():
        return Finding(
            "gti_valid",
            f"{_percent(int(outside.sum()), start.size)} GTI intervals reach outside "
            f"TSTART..TSTOP = {tstart:.6g}..{tstop:.6g} s (GTI {start.min():.6g}..{stop.max():.6g} "
            f"s, tolerance {tolerance:g} s)",
            int(outside.sum()),
            start.size,
        )
    return None


def _inside_gti(time: np.ndarray, start, stop, tolerance: float) -> np.ndarray:
    """Whether each time lies in some GTI widened by ``tolerance`` (overlaps allowed)."""
    order = np.argsort(start)
    lo = np.asarray(start, float)[order] - tolerance
    hi = np.maximum.accumulate(np.asarray(stop, float)[order]) + tolerance
    index = np.searchsorted(lo, time, side="right") - 1
    inside = index >= 0
    inside[inside] = time[inside] <= hi[index[inside]]
    return inside


def find_gti_overlap(time, start, stop, *, tolerance: float = 1.0):
    """``gti_overlap``: some event lies inside the GTI (None for an empty event list)."""
    time = np.asarray(time, float)
    if time.size == 0 or np.size(start) == 0:
        return None
    finite = time[np.isfinite(time)]
    if finite.size and _inside_gti(finite, start, stop, tolerance).any():
        return None
    span = f"{finite.min():.6g}..{finite.max():.6g} s" if finite.size else "no finite time"
    return Finding(
        "gti_overlap",
        f"none of the {time.size} events lies inside the GTI ({np.min(start):.6g}.."
        f"{np.max(stop):.6g} s; events {span}; tolerance {tolerance:g} s)",
        time.size,
        time.size,
    )


def find_livetime_ontime(
    *, livetime: float, ontime: float, span: float | None, tolerance: float = 0.001
):
    """``livetime_ontime``: LIVETIME <= ONTIME <= TSTOP - TSTART (relative ``tolerance``)."""
    if livetime > ontime * (1.0 + tolerance):
        return Finding(
            "livetime_ontime",
            f"LIVETIME = {livetime:.6g} s exceeds ONTIME = {ontime:.6g} s (ratio "
            f"{livetime / ontime:.4g}, tolerance {tolerance:g})",
        )
    if span is not None and span > 0 and ontime > span * (1.0 + tolerance):
        return Finding(
            "livetime_ontime",
            f"ONTIME = {ontime:.6g} s exceeds TSTOP - TSTART = {span:.6g} s (ratio "
            f"{ontime / span:.4g}, tolerance {tolerance:g})",
        )
    return None


def find_deadc(*, deadc: float | None, livetime: float, ontime: float, tolerance: float = 0.01):
    """``deadc``: a given DEADC agrees with LIVETIME / ONTIME within ``tolerance``.

    None without DEADC, or without a positive LIVETIME and ONTIME (which the
    reduction refuses with its own error).
    """
    if deadc is None or not (ontime > 0 and livetime > 0):
        return None
    ratio = livetime / ontime
    if np.isfinite(deadc) and 0 < deadc <= 1 and abs(deadc - ratio) <= tolerance:
        return None
    return Finding(
        "deadc",
        f"DEADC = {deadc:.6g}, but LIVETIME / ONTIME = {livetime:.6g} / {ontime:.6g} = "
        f"{ratio:.6g} (DEADC must be in (0, 1]; tolerance {tolerance:g})",
    )


def find_pointing_index(header_radec, index_radec, *, tolerance: float = 0.01):
    """``pointing_index``: header and obs-index pointings agree within ``tolerance`` deg."""
    from dl3flow.maps.coords import angular_offset

    if header_radec is None or index_radec is None:
        return None
    (ra1, dec1), (ra2, dec2) = header_radec, index_radec
    values = np.array([ra1, dec1, ra2, dec2], float)
    distance = float(angular_offset(ra1, dec1, ra2, dec2)) if np.all(np.isfinite(values)) else None
    if distance is not None and distance <= tolerance:
        return None
    shown = "undefined" if distance is None else f"{distance:.4g} deg"
    return Finding(
        "pointing_index",
        f"the events header points at RA {ra1:.5g}, Dec {dec1:.5g} deg, the obs index at RA "
        f"{ra2:.5g}, Dec {dec2:.5g} deg: {shown} apart (tolerance {tolerance:g} deg)",
    )


# ----------------------------------------------------------------------------- events


def events_energy_invalid(energy) -> np.ndarray:
    """``events_energy``: True where ENERGY is not finite or not positive."""
    energy = np.asarray(energy, float)
    with np.errstate(invalid="ignore"):
        return ~(np.isfinite(energy) & (energy > 0))


def events_direction_invalid(ra, dec) -> np.ndarray:
    """``events_direction``: True where RA is not finite or DEC not finite or |DEC| > 90."""
    ra, dec = np.asarray(ra, float), np.asarray(dec, float)
    with np.errstate(invalid="ignore"):
        return ~(np.isfinite(ra) & np.isfinite(dec) & (np.abs(dec) <= 90.0))


def events_time_invalid(
    time, start, stop, *, tstart: float, tstop: float, tolerance: float = 1.0
) -> np.ndarray:
    """``events_time``: True where TIME is not finite, outside the GTI or TSTART..TSTOP."""
    time = np.asarray(time, float)
    bad = ~np.isfinite(time)
    good = ~bad
    with np.errstate(invalid="ignore"):
        bad[good] = (time[good] < tstart - tolerance) | (time[good] > tstop + tolerance)
    good = ~bad
    bad[good] = ~_inside_gti(time[good], start, stop, tolerance)
    return bad


_EVENT_WHAT = {
    "events_energy": "a non-finite or non-positive ENERGY",
    "events_direction": "a non-finite RA, or a DEC not finite or outside [-90, 90] deg",
    "events_time": "a TIME not finite or outside the GTI and TSTART..TSTOP",
}


def _event_finding(check: str, bad: np.ndarray):
    n_bad = int(bad.sum())
    if n_bad == 0:
        return None
    return Finding(
        check, f"{_percent(n_bad, bad.size)} events have {_EVENT_WHAT[check]}", n_bad, bad.size
    )


# ----------------------------------------------------------------------------- IRFs


def _node_slice(axis, lo: float, hi: float) -> slice:
    """The table nodes of ``axis`` that interpolation reads for coordinates in [lo, hi]."""
    nodes = axis.nodes
    first = max(int(np.searchsorted(nodes, lo, side="right")) - 1, 0)
    last = min(int(np.searchsorted(nodes, hi, side="left")), nodes.size - 1)
    return slice(min(first, last), last + 1)


@dataclass(frozen=True)
class _Usage:
    """Coordinate ranges the geometry uses, per IRF axis name: (lo, hi)."""

    ranges: dict = field(default_factory=dict)

    @classmethod
    def of(cls, geom, offset_max: float) -> _Usage:
        r_max = math.sqrt(2.0) * float(offset_max)
        return cls(
            ranges={
                "energy_true": (geom.energy_true.edges[0], geom.energy_true.edges[-1]),
                "energy": (geom.energy.edges[0], geom.energy.edges[-1]),
                "offset": (0.0, r_max),
                "fov_lon": (-r_max, r_max),
                "fov_lat": (-r_max, r_max),
                "rad": (0.0, float(geom.rad_edges[-1])),
                "migra": (-np.inf, np.inf),
            }
        )

    def slices(self, axes) -> tuple[slice, ...]:
        return tuple(_node_slice(axis, *self.ranges[axis.name]) for axis in axes)


def irf_used_values(irf, usage: _Usage) -> dict[str, np.ndarray]:
    """The table values of ``irf`` the geometry uses: {array name: values}."""
    slices = usage.slices(irf.axes)
    names = _PARAMETRIC.get(type(irf).__name__, ("data",))
    return {name: np.asarray(getattr(irf, name))[slices] for name in names}


def find_irf_values(kind: str, values: dict, *, negative_tolerance: float = 0.05) -> list:
    """``irf_finite``, ``irf_negative``, ``irf_all_zero`` findings for one IRF's values."""
    findings = []
    for name, array in values.items():
        what = kind if name == "data" else f"{kind} {name.upper()}"
        finite = np.isfinite(array)
        if not finite.all():
            n_bad = int((~finite).sum())
            findings.append(
                Finding(
                    "irf_finite",
                    f"{what}: {_percent(n_bad, array.size)} of the values the geometry uses "
                    "are NaN or infinite",
                    n_bad,
                    array.size,
                )
            )
        good = array[finite]
        scale = float(good.max()) if good.size and good.max() > 0 else 0.0
        negative = good < -negative_tolerance * scale
        if negative.any():
            findings.append(
                Finding(
                    "irf_negative",
                    f"{what}: {_percent(int(negative.sum()), array.size)} of the values the "
                    f"geometry uses are negative (down to {good.min():.4g}; largest value "
                    f"{scale:.4g}, tolerance {negative_tolerance:g} of it)",
                    int(negative.sum()),
                    array.size,
                )
            )
        if good.size == finite.size and not np.any(good != 0) and name in ("data", "scale"):
            findings.append(
                Finding(
                    "irf_all_zero",
                    f"{what}: all {array.size} values the geometry uses are zero",
                    array.size,
                    array.size,
                )
            )
    return findings


def _edisp_integrals(edisp, usage: _Usage) -> np.ndarray:
    """Integral over migra of the density at each used (energy_true, offset) node."""
    s_e, s_m, s_o = usage.slices(edisp.axes)
    width = np.diff(edisp.axis("migra").edges)
    return np.einsum("emo,m->eo", np.asarray(edisp.data)[s_e, :, s_o], width)


def _psf_integrals(psf, usage: _Usage) -> np.ndarray:
    """Integral over the solid angle of a tabulated PSF at each used node."""
    s_e, s_o, _ = usage.slices(psf.axes)
    rad = psf.axis("rad")
    edges = np.deg2rad(np.clip(rad.edges, 0.0, None))
    ring = np.pi * (edges[1:] ** 2 - edges[:-1] ** 2)  # small-angle solid angle per bin
    return np.einsum("eor,r->eo", np.asarray(psf.data)[s_e, s_o, :], ring)


def _parametric_ok(psf, usage: _Usage) -> np.ndarray:
    """Where a parametric PSF can be normalised: positive widths (and King gamma > 1)."""
    values = irf_used_values(psf, usage)
    if "gamma" in values:
        return (values["gamma"] > 1) & (values["sigma"] > 0)
    sigmas = [values[f"sigma_{i}"] for i in (1, 2, 3)]
    norm = values["scale"] * (sigmas[0] ** 2 + values["ampl_2"] * sigmas[1] ** 2)
    norm = norm + values["scale"] * values["ampl_3"] * sigmas[2] ** 2
    return np.all([s > 0 for s in sigmas], axis=0) & (norm > 0)


def find_normalisation(kind: str, irf, usage: _Usage, *, tolerance: float = 0.05):
    """``irf_normalisation``: an edisp / PSF integrates to at most 1 + ``tolerance``,
    and (parametric PSF) has positive widths, at every used node."""
    with np.errstate(invalid="ignore", over="ignore"):
        if kind == "edisp":
            integral, what = _edisp_integrals(irf, usage), "integrates over migra"
        elif hasattr(irf, "data"):
            integral, what = _psf_integrals(irf, usage), "integrates over the solid angle"
        else:
            bad = ~_parametric_ok(irf, usage)
            if not bad.any():
                return None
            return Finding(
                "irf_normalisation",
                f"{kind}: {_percent(int(bad.sum()), bad.size)} of the (energy, offset) nodes the "
                "geometry uses have a non-positive width or normalisation (King: GAMMA <= 1)",
                int(bad.sum()),
                bad.size,
            )
        finite = integral[np.isfinite(integral)]
        bad = finite > 1.0 + tolerance
    if not bad.any():
        return None
    return Finding(
        "irf_normalisation",
        f"{kind}: at {_percent(int(bad.sum()), integral.size)} of the (energy, offset) nodes the "
        f"geometry uses the probability {what} to more than 1 (up to {finite.max():.4g}; "
        f"tolerance {tolerance:g})",
        int(bad.sum()),
        integral.size,
    )


# ----------------------------------------------------------------------------- the view


class ValidatedObservation:
    """An observation as validated: its events without the dropped ones, its IRFs as
    checked (a repaired one where a policy kept a repairable defect), the rest delegated.

    Attributes
    ----------
    observation : `dl3flow.data.observation.Observation`
    events : `dl3flow.data.observation.EventList`
    quality_meta : dict
        FITS keywords for the dataset header: ``NEVDROP`` (events dropped) and
        ``IRFNNEG`` (negative IRF values within the tolerance, clipped at zero).
    """

    def __init__(self, observation, *, events, irfs: dict, quality_meta: dict):
        self.observation = observation
        self.events = events
        self._irfs = dict(irfs)
        self.quality_meta = dict(quality_meta)

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("observation", "_irfs"):
            raise AttributeError(name)
        if name in self._irfs:
            return self._irfs[name]
        return getattr(self.observation, name)

    def __repr__(self) -> str:
        return f"ValidatedObservation({self.observation!r})"


def _act(finding: Finding | None, obs_id: int, action: str) -> None:
    """Reject (raise `~dl3flow.data.quality.QualityError`), warn, or ignore a finding."""
    if finding is None or action == "ignore":
        return
    message = f"obs {obs_id}: {finding.message}"
    if action == "reject":
        raise QualityError(obs_id, finding.check, f"{message} [check {finding.check}]")
    quality.warn(obs_id, finding.check, message)


def _apply(finding: Finding | None, obs_id: int, policy: QualityPolicy) -> None:
    """Act on a finding by its check's policy."""
    if finding is not None:
        _act(finding, obs_id, policy.policy(finding.check))


def _seconds(header, key: str) -> float | None:
    value = header.get(key)
    if value is None:
        return None
    unit = str(header.get("TIMEUNIT", "s")).strip() or "s"
    try:
        return float(value) * u.Unit(unit).to(u.s)
    except (TypeError, ValueError, u.UnitsError):
        return None


def _index_pointing(observation):
    index = getattr(observation, "index_quantity", None)
    if index is None:
        return None
    ra, dec = index("RA_PNT", u.deg), index("DEC_PNT", u.deg)
    return None if ra is None or dec is None else (ra, dec)


def _header_pointing(header):
    ra, dec = header.get("RA_PNT"), header.get("DEC_PNT")
    return None if ra is None or dec is None else (float(ra), float(dec))


def _check_metadata(observation, gti, header, policy: QualityPolicy) -> tuple[float, float]:
    """The checks of the GTI, the times and the pointing; (TSTART, TSTOP) in s."""
    obs_id = observation.obs_id
    tstart, tstop = _seconds(header, "TSTART"), _seconds(header, "TSTOP")
    if tstart is None or tstop is None:
        tstart, tstop = -np.inf, np.inf
    found = find_gti_valid(
        gti.start, gti.stop, tstart=tstart, tstop=tstop, tolerance=policy.time_tolerance
    )
    _apply(found, obs_id, policy)
    livetime, ontime = float(observation.livetime), float(observation.ontime)
    span = tstop - tstart if np.isfinite(tstop - tstart) else None
    found = find_livetime_ontime(
        livetime=livetime, ontime=ontime, span=span, tolerance=policy.livetime_tolerance
    )
    _apply(found, obs_id, policy)
    deadc = header.get("DEADC")
    if deadc is None and hasattr(observation, "index_quantity"):
        deadc = observation.index_quantity("DEADC", None)
    found = find_deadc(
        deadc=None if deadc is None else float(deadc),
        livetime=livetime,
        ontime=ontime,
        tolerance=policy.deadc_tolerance,
    )
    _apply(found, obs_id, policy)
    found = find_pointing_index(
        _header_pointing(header), _index_pointing(observation), tolerance=policy.pointing_tolerance
    )
    _apply(found, obs_id, policy)
    return tstart, tstop


def _check_events(observation, events, gti, times, policy: QualityPolicy):
    """The event checks; the event list without the dropped events and their number."""
    obs_id = observation.obs_id
    tstart, tstop = times
    tol = policy.time_tolerance
    _apply(find_gti_overlap(events.time, gti.start, gti.stop, tolerance=tol), obs_id, policy)
    masks = {
        "events_energy": lambda: events_energy_invalid(events.energy),
        "events_direction": lambda: events_direction_invalid(events.ra, events.dec),
        "events_time": lambda: events_time_invalid(
            events.time, gti.start, gti.stop, tstart=tstart, tstop=tstop, tolerance=tol
        ),
    }
    dropped = np.zeros(len(events), dtype=bool)
    for check in EVENT_CHECKS:
        action = policy.policy(check)
        if action == "ignore":
            continue
        bad = masks[check]()
        finding = _event_finding(check, bad)
        if finding is None:
            continue
        limit = f"{100 * policy.max_invalid_event_fraction:g} %"
        if action == "reject" and finding.fraction <= policy.max_invalid_event_fraction:
            action, note = "warn", f": dropped (at most {limit} may be)"
        elif action == "reject":
            note = f", more than the {limit} allowed"
        else:
            note = ": dropped"
        _act(replace(finding, message=finding.message + note), obs_id, action)
        dropped |= bad
    if not dropped.any():
        return events, 0
    keep = ~dropped
    kept = type(events)(
        ra=events.ra[keep],
        dec=events.dec[keep],
        energy=events.energy[keep],
        time=events.time[keep],
        header=events.header,
    )
    return kept, int(dropped.sum())


def _irf_findings(kind: str, irf, usage: _Usage, policy: QualityPolicy) -> list:
    """Every finding about one IRF, in the order of the checks."""
    values = irf_used_values(irf, usage)
    findings = find_irf_values(kind, values, negative_tolerance=policy.negative_tolerance)
    if kind in ("edisp", "psf") and not any(f.check == "irf_finite" for f in findings):
        findings.append(
            find_normalisation(kind, irf, usage, tolerance=policy.normalisation_tolerance)
        )
    for repair in getattr(irf, "repairs", ()):
        findings.append(Finding("irf_repaired", f"{kind}: {repair}"))
    return [f for f in findings if f is not None]


def _without_non_finite(irf):
    """A new IRF with its non-finite table values set to zero, and how many there were."""
    names = _PARAMETRIC.get(type(irf).__name__, ("data",))
    arrays = {name: np.asarray(getattr(irf, name)) for name in names}
    n_fixed = sum(int((~np.isfinite(a)).sum()) for a in arrays.values())
    fixed = {name: np.where(np.isfinite(a), a, 0.0) for name, a in arrays.items()}
    return replace(irf, **fixed), n_fixed


def _tolerated_negatives(irf, usage: _Usage, tolerance: float) -> int:
    """Negative values within the tolerance (clipped at zero by the interpolation)."""
    n = 0
    for array in irf_used_values(irf, usage).values():
        good = array[np.isfinite(array)]
        scale = float(good.max()) if good.size and good.max() > 0 else 0.0
        n += int(((good < 0) & (good >= -tolerance * scale)).sum())
    return n


def _check_irfs(observation, usage: _Usage, kinds, policy: QualityPolicy):
    """The IRF checks; the IRFs repaired on a kept defect, and the header counts."""
    obs_id = observation.obs_id
    repaired, n_fixed, n_negative = {}, 0, 0
    for kind in kinds:
        irf = getattr(observation, kind)
        if irf is None:
            continue  # the reduction says which IRF is missing
        findings = _irf_findings(kind, irf, usage, policy)
        for finding in findings:
            action = policy.policy(finding.check)
            if finding.check == "irf_finite" and action != "reject":
                finding = replace(finding, message=f"{finding.message}: set to 0")
            _act(finding, obs_id, action)
        if any(f.check == "irf_finite" for f in findings):
            repaired[kind], n = _without_non_finite(irf)
            n_fixed += n
        n_negative += _tolerated_negatives(irf, usage, policy.negative_tolerance)
    return repaired, {"IRFNFIX": n_fixed, "IRFNNEG": n_negative}


def validate_observation(
    observation,
    *,
    geom,
    offset_max: float,
    edisp: bool = True,
    psf: bool = True,
    policy: QualityPolicy | None = None,
) -> ValidatedObservation:
    """Validate one observation's DL3 data before it is reduced.

    Parameters
    ----------
    observation : `dl3flow.data.observation.Observation`
        Its events, GTI, IRFs and metadata are read (and cached).
    geom : `~dl3flow.maps.geom.DatasetGeom`
        The analysis geometry (the energy ranges and PSF radii it uses).
    offset_max : float
        deg; offsets up to ``sqrt(2) * offset_max`` are used.
    edisp, psf : bool
        Whether the energy dispersion and the PSF are used (and so checked).
    policy : `~dl3flow.data.quality.QualityPolicy`, optional
        Default: every check with its default policy.

    Returns
    -------
    ValidatedObservation
        For `dl3flow.makers.map.reduce_observation`: the events without the dropped
        ones, the IRFs (repaired where a policy kept a repairable defect).

    Raises
    ------
    `~dl3flow.data.quality.QualityError`
        For the first failed check whose policy is ``reject``; the message names the
        observation, what was found with its numbers, and the check.

    Warns
    -----
    `~dl3flow.data.quality.ObservationWarning`
        For each failed check whose policy is ``warn`` (and for the few dropped
        events of an event check with policy ``reject``).
    """
    policy = policy or QualityPolicy()
    events, gti = observation.events, observation.gti
    times = _check_metadata(observation, gti, events.header, policy)
    kept, n_dropped = _check_events(observation, events, gti, times, policy)
    kinds = ("aeff", *(("edisp",) if edisp else ()), *(("psf",) if psf else ()), "bkg")
    usage = _Usage.of(geom, offset_max)
    irfs, meta = _check_irfs(observation, usage, kinds, policy)
    return ValidatedObservation(
        observation, events=kept, irfs=irfs, quality_meta={"NEVDROP": n_dropped, **meta}
    )
