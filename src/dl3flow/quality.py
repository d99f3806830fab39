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
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = [
    "ALTITUDE_TOLERANCE_DEG",
    "CHECKS",
    "ObservationWarning",
    "QualityNote",
    "collect_notes",
    "warn",
]

#: Names of the checks that can produce a :class:`QualityNote`.
CHECKS = (
    "fov_alignment_assumed",
    "fov_alignment_override",
    "pointing_below_horizon",
    "pointing_altitude_mismatch",
)

#: ALT_PNT may differ by this much (deg) from the altitudes computed over the run.
ALTITUDE_TOLERANCE_DEG = 3.0


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
