"""The record of a rejected observation: what failed, where and why, and how it is flagged.

A per-observation failure gives a :class:`Rejection` (obs_id, stage, reason, exception
type and, for the DL3 validation, the check), or, with ``on_bad_observation="fail"``,
a :class:`BadObservationError` carrying it. A product of a rejected observation (its
map dataset, :func:`rejected_dataset`, or its spectrum) is still written, flagged by
the FITS keywords of :meth:`Rejection.to_meta`; the steps after the reduction read the
flag back with :func:`rejection_of` and pass the observation on as rejected.

The protocol that produces and collects these records -- the reduction of one
observation stage by stage, the per-observation status files and the table of
rejected observations -- is `dl3flow.workflow.rejection`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BadObservationError",
    "ON_BAD_OBSERVATION",
    "Rejection",
    "STAGES",
    "rejected_dataset",
    "rejection_of",
]

#: Accepted values of ``on_bad_observation``.
ON_BAD_OBSERVATION = ("fail", "skip")

#: Stages of `dl3flow.workflow.rejection.reduce_or_reject`, in order.
STAGES = ("open", "events", "gti", "irf", "metadata", "quality", "reduce")


@dataclass(frozen=True)
class Rejection:
    """Why one observation was left out.

    Attributes
    ----------
    obs_id : int
    stage : str
        One of :data:`STAGES` (where the failure happened).
    reason : str
        The error message; it names the observation and, where known, the file.
    error : str
        Exception class name, e.g. ``"CorruptFileError"``.
    check : str
        The validation check that rejected it (`dl3flow.data.quality.VALIDATION_CHECKS`),
        ``""`` for a failure that is not a check's.
    """

    obs_id: int
    stage: str
    reason: str
    error: str
    check: str = ""

    def __str__(self) -> str:
        check = f" [{self.check}]" if self.check else ""
        return f"obs {self.obs_id} ({self.stage}{check}): {self.error}: {self.reason}"

    def as_dict(self) -> dict:
        return {
            "obs_id": self.obs_id,
            "stage": self.stage,
            "check": self.check,
            "reason": self.reason,
            "error": self.error,
        }

    def to_meta(self) -> dict:
        """FITS keywords flagging a product of this observation as rejected.

        ``STATUS = 'REJECTED'``, ``REJSTAGE``, ``REJCHECK``, ``REJERROR``,
        ``REJREASN`` (read back by :func:`rejection_of`).
        """
        return {
            "OBS_ID": self.obs_id,
            "STATUS": "REJECTED",
            "REJSTAGE": self.stage,
            "REJCHECK": self.check,
            "REJERROR": self.error,
            "REJREASN": self.reason,
        }


def rejection_of(meta) -> Rejection | None:
    """The :class:`Rejection` recorded in a product's meta (a dict), None if it is usable.

    Raises
    ------
    ValueError
        If ``STATUS`` is ``REJECTED`` but a field is missing.
    """
    if str(meta.get("STATUS", "")).strip().upper() != "REJECTED":
        return None
    try:
        return Rejection(
            obs_id=int(meta["OBS_ID"]),
            stage=str(meta["REJSTAGE"]),
            reason=str(meta["REJREASN"]),
            error=str(meta["REJERROR"]),
            check=str(meta.get("REJCHECK", "")).strip(),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"a product flagged REJECTED lacks a field ({exc!r})") from None


def rejected_dataset(rejection: Rejection, *, geom, offset_max: float, pointing=None):
    """The dataset written for a rejected observation: flagged, with nothing to use.

    Every selected observation has a dataset file (a declared product of the
    workflow). A rejected one holds zero counts, exposure and background and an
    all-False safe mask on the cutout of ``geom`` around ``pointing`` (else the map
    centre), and its meta says ``STATUS = 'REJECTED'`` with the stage, error and
    reason (:meth:`Rejection.to_meta`): the safe mask, background and stacking steps
    read the flag and pass the observation on as rejected.

    Parameters
    ----------
    rejection : Rejection
    geom : `~dl3flow.maps.geom.DatasetGeom`
        The analysis geometry.
    offset_max : float
        deg; the cutout is ``2 * offset_max`` wide, as a reduced dataset's.
    pointing : `~astropy.coordinates.SkyCoord`, optional
        The observation's pointing, if it could be read and lies on the map.
    """
    import numpy as np

    from dl3flow.datasets.map import MapDataset
    from dl3flow.maps.geom import GeomError

    cut = None
    if pointing is not None:
        try:
            cut, _ = geom.cutout(pointing, 2.0 * offset_max)
        except GeomError:
            cut = None
    if cut is None:
        cut, _ = geom.cutout(geom.sky.center_skydir, 2.0 * offset_max)
    shape = (cut.energy.nbin, *cut.sky.shape)
    return MapDataset(
        geom=cut,
        counts=np.zeros(shape),
        exposure=np.zeros((cut.energy_true.nbin, *cut.sky.shape)),
        background=np.zeros(shape),
        mask_safe=np.zeros(shape, dtype=bool),
        name=f"obs-{rejection.obs_id}",
        meta=rejection.to_meta(),
    )


class BadObservationError(RuntimeError):
    """One observation cannot be used; raised with ``on_bad_observation="fail"``.

    Attributes
    ----------
    rejection : Rejection
        What failed, where and why (the original exception is ``__cause__``).
    """

    def __init__(self, rejection: Rejection):
        self.rejection = rejection
        super().__init__(
            f"observation {rejection.obs_id}: {rejection.stage} failed: "
            f"{rejection.error}: {rejection.reason}"
        )


def _check_on_bad_observation(on_bad_observation: str) -> None:
    """ValueError unless ``on_bad_observation`` is one of :data:`ON_BAD_OBSERVATION`."""
    if on_bad_observation not in ON_BAD_OBSERVATION:
        raise ValueError(
            f"on_bad_observation must be one of {', '.join(ON_BAD_OBSERVATION)}, "
            f"got {on_bad_observation!r}"
        )


def _rejection_reason(obs_id: int, exc: BaseException) -> str:
    """The exception message, prefixed with the observation if it does not name it."""
    message = " ".join(str(exc).split()) or repr(exc)
    if str(obs_id) not in message:
        message = f"obs {obs_id}: {message}"
    return message
