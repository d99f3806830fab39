"""Per-observation quality notes: what was assumed or found doubtful in the DL3 data.

A reduction that goes on despite something doubtful in the data (a keyword that is
missing and had to be assumed, a pointing that cannot be right) must say so where a
person reads it, not only in one job's log. The science functions call :func:`warn`,
which raises an :class:`ObservationWarning` carrying a :class:`QualityNote` (the
observation, the name of the check and a message); the per-observation job collects
them with :func:`collect_notes` and records them in its status file, and the workflow
gathers them into ``results/<analysis>/tables/observation_warnings.ecsv``, the report
and the end-of-run summary.

Named checks (:data:`CHECKS`):

``fov_alignment_assumed``
    The bkg_3d HDU has no FOVALIGN keyword and ``background.fov_alignment`` is
    ``auto``: the GADF default ALTAZ was assumed (gammapy assumes RADEC).
``fov_alignment_override``
    ``background.fov_alignment`` contradicts the file's FOVALIGN keyword.
``pointing_below_horizon``
    The background is ALTAZ-aligned, and the pointing, computed from the site and the
    observation times, is below the horizon during the run.
``pointing_altitude_mismatch``
    The same computed altitude disagrees with the ALT_PNT of the events header or
    obs index by more than :data:`ALTITUDE_TOLERANCE_DEG`.

The DL3 validation (`dl3flow.data.checks.validate_observation`, run where the
DL3 is read, before any product is made) adds one named check per physical
expectation (:data:`VALIDATION_CHECKS`). Each has a policy (:data:`POLICIES`):
``reject`` (the observation is rejected with a :class:`QualityError` naming the
check and its numbers), ``warn`` (kept, with a note) or ``ignore``; the defaults
(:data:`DEFAULT_POLICIES`) and the tolerances are a :class:`QualityPolicy`,
configured per analysis in the config's ``quality`` section. The checks are listed
with what they protect in ``docs/quality.md``.
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

__all__ = [
    "ALTITUDE_TOLERANCE_DEG",
    "CHECKS",
    "DEFAULT_POLICIES",
    "EVENT_CHECKS",
    "POLICIES",
    "VALIDATION_CHECKS",
    "ObservationWarning",
    "QualityError",
    "QualityNote",
    "QualityPolicy",
    "collect_notes",
    "warn",
]

#: Checks of the DL3 validation (`dl3flow.data.checks`) -> default policy.
DEFAULT_POLICIES = types.MappingProxyType(
    {
        "gti_valid": "reject",
        "gti_overlap": "reject",
        "livetime_ontime": "reject",
        "deadc": "reject",
        "pointing_index": "reject",
        "events_energy": "reject",
        "events_direction": "reject",
        "events_time": "reject",
        "irf_finite": "reject",
        "irf_negative": "reject",
        "irf_all_zero": "reject",
        "irf_normalisation": "reject",
        "irf_repaired": "warn",
    }
)

#: Names of the checks of the DL3 validation, in the order they run.
VALIDATION_CHECKS = tuple(DEFAULT_POLICIES)

#: Event checks: the events they find are dropped and counted; with ``reject`` the
#: observation is rejected only if more than ``max_invalid_event_fraction`` of them
#: fail (below that they are dropped with a warning).
EVENT_CHECKS = ("events_energy", "events_direction", "events_time")

#: What a failed check does: reject the observation, keep it with a warning, or
#: keep it without one.
POLICIES = ("reject", "warn", "ignore")

#: Names of the checks that can produce a :class:`QualityNote`.
CHECKS = (
    "fov_alignment_assumed",
    "fov_alignment_override",
    "pointing_below_horizon",
    "pointing_altitude_mismatch",
    *VALIDATION_CHECKS,
)

#: ALT_PNT may differ by this much (deg) from the altitudes computed over the run.
ALTITUDE_TOLERANCE_DEG = 3.0


@dataclass(frozen=True)
class QualityPolicy:
    """What each validation check does, and its tolerances.

    Attributes
    ----------
    policies : Mapping
        Check name -> ``"reject"``, ``"warn"`` or ``"ignore"``; the checks not
        given take :data:`DEFAULT_POLICIES`.
    max_invalid_event_fraction : float
        An event check with policy ``reject`` rejects the observation when more than
        this fraction of its events fail (below it, they are dropped with a warning).
    time_tolerance : float
        s; events and GTI bounds may lie this far outside the GTI and TSTART/TSTOP
        (producers round the GTI to whole seconds: H.E.S.S. DR1 has events up to
        0.93 s past the last GTI stop).
    livetime_tolerance : float
        Relative: LIVETIME may exceed ONTIME, and ONTIME the span TSTOP - TSTART, by
        this fraction.
    deadc_tolerance : float
        DEADC (where given) and LIVETIME / ONTIME may differ by this much.
    pointing_tolerance : float
        deg; the events header's RA_PNT/DEC_PNT and the obs index' may differ by this.
    negative_tolerance : float
        Relative: IRF values below ``-negative_tolerance`` times the largest value the
        geometry uses fail ``irf_negative``; smaller negative values are smoothing
        noise (H.E.S.S. DR1 energy dispersions have them in every observation), clipped
        at zero by the interpolation as in gammapy and counted in the dataset header.
    normalisation_tolerance : float
        Relative: an energy-dispersion density (over migra) or PSF (over the solid
        angle) may integrate to at most ``1 + normalisation_tolerance``.

    Raises
    ------
    ValueError
        For an unknown check or policy, or a negative tolerance.
    """

    policies: Mapping = field(default_factory=dict)
    max_invalid_event_fraction: float = 0.001
    time_tolerance: float = 1.0
    livetime_tolerance: float = 0.001
    deadc_tolerance: float = 0.01
    pointing_tolerance: float = 0.01
    negative_tolerance: float = 0.05
    normalisation_tolerance: float = 0.05

    def __post_init__(self):
        unknown = sorted(set(self.policies) - set(VALIDATION_CHECKS))
        if unknown:
            raise ValueError(
                f"unknown quality check(s) {', '.join(map(repr, unknown))} "
                f"(known: {', '.join(VALIDATION_CHECKS)})"
            )
        for check, policy in self.policies.items():
            if policy not in POLICIES:
                raise ValueError(
                    f"quality check {check}: policy must be one of {', '.join(POLICIES)}, "
                    f"got {policy!r}"
                )
        merged = types.MappingProxyType({**DEFAULT_POLICIES, **dict(self.policies)})
        object.__setattr__(self, "policies", merged)
        for name in (
            "max_invalid_event_fraction",
            "time_tolerance",
            "livetime_tolerance",
            "deadc_tolerance",
            "pointing_tolerance",
            "negative_tolerance",
            "normalisation_tolerance",
        ):
            value = float(getattr(self, name))
            if not value >= 0:
                raise ValueError(f"quality {name} must be >= 0, got {value}")
            object.__setattr__(self, name, value)

    def policy(self, check: str) -> str:
        """The policy of ``check`` (one of :data:`VALIDATION_CHECKS`)."""
        return self.policies[check]


class QualityError(ValueError):
    """A validation check with policy ``reject`` failed for one observation.

    Attributes
    ----------
    obs_id : int
    check : str
        One of :data:`VALIDATION_CHECKS`.
    """

    def __init__(self, obs_id: int, check: str, message: str):
        super().__init__(message)
        self.obs_id = int(obs_id)
        self.check = check


@dataclass(frozen=True)
class QualityNote:
    """One doubtful finding about one observation.

    Attributes
    ----------
    obs_id : int
    check : str
        One of :data:`CHECKS`.
    message : str
        What was found or assumed, naming the observation (and the file where known).
    """

    obs_id: int
    check: str
    message: str

    def __post_init__(self):
        if self.check not in CHECKS:
            raise ValueError(f"unknown check {self.check!r} (known: {', '.join(CHECKS)})")

    def __str__(self) -> str:
        return f"obs {self.obs_id} ({self.check}): {self.message}"

    def as_dict(self) -> dict:
        return {"obs_id": self.obs_id, "check": self.check, "message": self.message}


class ObservationWarning(UserWarning):
    """A warning about one observation's data; ``note`` is the :class:`QualityNote`."""

    def __init__(self, note: QualityNote):
        super().__init__(str(note))
        self.note = note


def warn(obs_id: int, check: str, message: str) -> None:
    """Emit an :class:`ObservationWarning` for ``obs_id`` from check ``check``."""
    note = QualityNote(obs_id=int(obs_id), check=check, message=message)
    warnings.warn(ObservationWarning(note), stacklevel=2)


@contextmanager
def collect_notes() -> Iterator[list[QualityNote]]:
    """Collect the :class:`QualityNote` of every ObservationWarning raised in the block.

    Yields a list that is filled when the block ends (also when it raises). Every
    ObservationWarning is recorded, however often the same one is raised; other
    warnings are passed on unchanged.
    """
    notes: list[QualityNote] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ObservationWarning)
        try:
            yield notes
        finally:
            others = []
            for item in caught:
                if isinstance(item.message, ObservationWarning):
                    notes.append(item.message.note)
                else:
                    others.append(item)
    for item in others:
        warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
