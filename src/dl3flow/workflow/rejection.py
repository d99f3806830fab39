"""Failure isolation: one bad observation is either a clear error or a rejection record.

A per-observation failure -- a corrupt or truncated file, a missing HDU, a NaN-filled
IRF, an empty event list, zero livetime, an observation entirely outside the
geometry -- must never be silent, and, if the analysis says so, must not stop the
other observations. :func:`reduce_or_reject` reduces one observation and, depending
on ``on_bad_observation``:

``"fail"``
    raises `~dl3flow.datasets.rejection.BadObservationError` naming the observation, the
    stage that failed and the cause (the original exception is chained);
``"skip"``
    returns a `~dl3flow.datasets.rejection.Rejection` (obs_id, stage, reason, exception
    type).

The stages are, in order: ``open`` (the loader, e.g. ``DataStore.observation``),
``events``, ``gti``, ``irf`` (aeff, bkg, and edisp / psf when requested),
``metadata`` (pointing, times, livetime), ``quality`` (the DL3 validation,
`dl3flow.data.checks.validate_observation`: impossible content, by named check)
and ``reduce`` (the reduction itself: geometry overlap, positive livetime, non-empty
event list, finite maps). Reading is lazy and cached per observation, so reading
first costs nothing extra and tells which part of the data is bad. A rejection by
the validation carries the name of the check (`~dl3flow.datasets.rejection.Rejection.check`)
and, in its reason, the numbers found. The record itself, the FITS flag of a rejected
observation's products and the error are in `dl3flow.datasets.rejection`.

In a workflow each observation job writes a small status file (:func:`write_status`,
JSON: ``ok`` or the rejection); a collecting job gathers them
(:func:`collect_rejections`) into ``results/{analysis}/tables/rejected_observations.ecsv``
(:func:`write_rejections`, :func:`read_rejections`) and prints
:func:`rejection_summary`. :func:`reduce_to_files` does the whole per-observation job
in one call; a workflow script is then::

    store = DataStore.from_files(obs_index=..., hdu_index=...)
    reduce_to_files(
        store.observation, obs_id=obs_id, dataset_path=..., status_path=...,
        on_bad_observation=cfg.on_bad_observation, geom=cfg.geom, offset_max=...,
        provenance=lambda: Provenance.create(
            rule="reduce_observation", inputs=observation_files(store, obs_id), ...
        ),
    )
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from operator import attrgetter
from pathlib import Path

from dl3flow.datasets.rejection import (
    BadObservationError,
    Rejection,
    _check_on_bad_observation,
    _rejection_reason,
    rejected_dataset,
)

__all__ = [
    "collect_notes",
    "collect_rejections",
    "collect_statuses",
    "notes_summary",
    "notes_table",
    "read_notes",
    "read_status_notes",
    "write_notes",
    "read_rejections",
    "read_status",
    "reduce_or_reject",
    "rejections_table",
    "reduce_to_files",
    "rejection_summary",
    "write_rejections",
    "write_status",
]

log = logging.getLogger(__name__)

_STATUS_FORMAT = 1


def reduce_or_reject(
    observation_loader: Callable,
    *,
    obs_id: int,
    geom,
    offset_max: float,
    edisp: bool = True,
    psf: bool = True,
    fov_rotation_step: float = 1.0,
    fov_alignment: str = "auto",
    on_bad_observation: str = "skip",
    quality=None,
):
    """Reduce one observation, or say precisely why it cannot be.

    Parameters
    ----------
    observation_loader : callable
        ``observation_loader(obs_id)`` returns a `dl3flow.data.observation.Observation`,
        e.g. ``DataStore.from_dir(path).observation``.
    obs_id : int
        The observation.
    geom, offset_max, edisp, psf, fov_rotation_step, fov_alignment
        As for `dl3flow.makers.map.reduce_observation`.
    on_bad_observation : {"skip", "fail"}
        What a failure gives: a `~dl3flow.datasets.rejection.Rejection` (``"skip"``) or a
        `~dl3flow.datasets.rejection.BadObservationError` (``"fail"``).
    quality : `~dl3flow.data.quality.QualityPolicy`, optional
        Policies and tolerances of the DL3 validation (stage ``quality``); default:
        every check with its default policy.

    Returns
    -------
    `~dl3flow.datasets.map.MapDataset` or `Rejection`

    Raises
    ------
    BadObservationError
        With ``on_bad_observation="fail"``, on any failure of the observation
        (the message names the observation, the stage and the cause).
    ValueError
        If ``on_bad_observation`` is not ``"fail"`` or ``"skip"``.
    """
    from dl3flow.data.checks import validate_observation
    from dl3flow.irf.rad_max import is_point_like
    from dl3flow.makers.map import reduce_observation

    _check_on_bad_observation(on_bad_observation)
    obs_id = int(obs_id)
    stage = "open"
    try:
        observation = observation_loader(obs_id)
        stage = "events"
        observation.events  # noqa: B018 - read (and cache) to locate failures
        stage = "gti"
        observation.gti  # noqa: B018
        stage = "irf"
        aeff = observation.aeff
        if aeff is not None and is_point_like(aeff):  # no sky map from point-like IRFs
            from dl3flow.makers.spectrum import check_map_analysis

            raise ValueError(check_map_analysis(observation))
        observation.bkg  # noqa: B018
        if edisp:
            observation.edisp  # noqa: B018
        if psf:
            observation.psf  # noqa: B018
        stage = "metadata"
        observation.pointing_radec  # noqa: B018
        observation.livetime  # noqa: B018
        observation.ontime  # noqa: B018
        stage = "quality"
        observation = validate_observation(
            observation, geom=geom, offset_max=offset_max, edisp=edisp, psf=psf, policy=quality
        )
        stage = "reduce"
        return reduce_observation(
            observation,
            geom=geom,
            offset_max=offset_max,
            edisp=edisp,
            psf=psf,
            fov_rotation_step=fov_rotation_step,
            fov_alignment=fov_alignment,
        )
    except MemoryError:
        raise
    except Exception as exc:
        rejection = Rejection(
            obs_id=obs_id,
            stage=stage,
            reason=_rejection_reason(obs_id, exc),
            error=type(exc).__name__,
            check=str(getattr(exc, "check", "") or ""),
        )
        if on_bad_observation == "fail":
            raise BadObservationError(rejection) from exc
        log.warning("rejected %s", rejection)
        return rejection


# ----------------------------------------------------------------------------- status files


def write_status(
    path,
    *,
    obs_id: int,
    rejection: Rejection | None = None,
    notes: Iterable = (),
    provenance=None,
) -> Path:
    """Write the per-observation status file (JSON, atomically).

    ``{"obs_id": N, "status": "ok"}`` or ``{"obs_id": N, "status": "rejected",
    "stage": ..., "check": ..., "reason": ..., "error": ...}``, with ``"warnings"``: the
    `~dl3flow.data.quality.QualityNote` list ``notes`` as ``{"check", "message"}`` objects,
    and ``"provenance"``: the `~dl3flow.io.provenance.Provenance` record (or a dict) of
    the job, as every product carries (`dl3flow.io.provenance.read_provenance` reads it).

    Raises
    ------
    ValueError
        If ``rejection`` or a note is for another observation.
    """
    from dl3flow.io.atomic import atomic_write

    content = {"format": _STATUS_FORMAT, "obs_id": int(obs_id), "status": "ok"}
    if rejection is not None:
        if rejection.obs_id != int(obs_id):
            raise ValueError(f"status of obs {obs_id}: the rejection is for obs {rejection.obs_id}")
        content |= {"status": "rejected"} | rejection.as_dict()
    notes = list(notes)
    for note in notes:
        if note.obs_id != int(obs_id):
            raise ValueError(f"status of obs {obs_id}: a warning is for obs {note.obs_id}")
    content["warnings"] = [{"check": n.check, "message": n.message} for n in notes]
    if provenance is not None:
        content["provenance"] = (
            provenance.as_dict() if hasattr(provenance, "as_dict") else dict(provenance)
        )
    text = json.dumps(content, indent=1, sort_keys=True) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text), overwrite=True)


def read_status(path) -> Rejection | None:
    """Read a status file: None for ``ok``, the :class:`Rejection` otherwise.

    Raises
    ------
    ValueError
        If the file is missing, not JSON or not a status file (the message names it).
    """
    path = Path(path)
    return _status_rejection(_load_status(path), path)


def _status_rejection(content, path: Path) -> Rejection | None:
    status = content.get("status") if isinstance(content, dict) else None
    try:
        if status == "ok":
            int(content["obs_id"])
            return None
        if status == "rejected":
            return Rejection(
                obs_id=int(content["obs_id"]),
                stage=str(content["stage"]),
                reason=str(content["reason"]),
                error=str(content["error"]),
                check=str(content.get("check", "")),
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"status file {path} lacks or mangles a field ({exc!r})") from None
    raise ValueError(f"status file {path}: status must be 'ok' or 'rejected', got {status!r}")


def _load_status(path: Path):
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"status file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"status file {path} is not readable JSON ({exc})") from None


def read_status_notes(path) -> list:
    """The `~dl3flow.data.quality.QualityNote` list of a status file (empty if it has none).

    Raises
    ------
    ValueError
        If the file is missing, not JSON, or its warnings are malformed (the message
        names it).
    """
    path = Path(path)
    return _status_notes(_load_status(path), path)


def _status_notes(content, path: Path) -> list:
    from dl3flow.data.quality import QualityNote

    try:
        obs_id = int(content["obs_id"])
        return [
            QualityNote(obs_id=obs_id, check=str(item["check"]), message=str(item["message"]))
            for item in content.get("warnings", [])
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"status file {path} has malformed warnings ({exc!r})") from None


def collect_statuses(status_paths: Iterable) -> tuple[list[Rejection], list]:
    """The rejections and the quality notes of many status files, each file read once.

    Both sorted by obs_id (notes stable within one observation).
    """
    rejections, notes = [], []
    for path in map(Path, status_paths):
        content = _load_status(path)
        rejection = _status_rejection(content, path)
        if rejection is not None:
            rejections.append(rejection)
        notes += _status_notes(content, path)
    by_obs = attrgetter("obs_id")
    return sorted(rejections, key=by_obs), sorted(notes, key=by_obs)


def collect_rejections(status_paths: Iterable) -> list[Rejection]:
    """The rejections among many status files, sorted by obs_id."""
    return collect_statuses(status_paths)[0]


def collect_notes(status_paths: Iterable) -> list:
    """The quality notes of many status files, sorted by obs_id (stable within one)."""
    return collect_statuses(status_paths)[1]


# ----------------------------------------------------------------------------- table


def rejections_table(rejections: Iterable[Rejection]):
    """Rejections as an `~astropy.table.Table`: OBS_ID, STAGE, CHECK, ERROR, REASON, by obs_id.

    ``CHECK`` is the validation check that rejected the observation (empty for
    another failure).
    """
    from astropy.table import Table

    rows = sorted(rejections, key=lambda r: r.obs_id)
    table = Table(
        {
            "OBS_ID": [r.obs_id for r in rows],
            "STAGE": [r.stage for r in rows],
            "CHECK": [r.check for r in rows],
            "ERROR": [r.error for r in rows],
            "REASON": [r.reason for r in rows],
        },
        dtype=[int, str, str, str, str],
    )
    table.meta["n_rejected"] = len(rows)
    table.meta["comments"] = ["observations left out of the analysis, and why"]
    return table


def write_rejections(rejections: Iterable[Rejection], path, *, overwrite: bool = False) -> Path:
    """Write :func:`rejections_table` as an ECSV file (atomically).

    An empty list gives a table without rows (the file always exists, so a
    workflow can declare it as an output).
    """
    from dl3flow.io.atomic import write_table

    table = rejections_table(rejections)
    return write_table(table, path, overwrite=overwrite, format="ascii.ecsv")


def _read_table(path, what: str, columns: tuple[str, ...]):
    """An ECSV table with ``columns``; ValueError naming ``what`` and the file otherwise."""
    from astropy.table import Table

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{what} {path} does not exist")
    try:
        table = Table.read(path, format="ascii.ecsv")
    except Exception as exc:
        raise ValueError(f"{what} {path} is not a readable ECSV table ({exc})") from exc
    missing = [name for name in columns if name not in table.colnames]
    if missing:
        raise ValueError(f"{what} {path} lacks column(s) {', '.join(missing)}")
    return table


def read_rejections(path) -> list[Rejection]:
    """Read a table written by :func:`write_rejections`.

    Raises
    ------
    ValueError
        If the file is missing, unreadable or lacks a column (the message names it).
    """
    table = _read_table(path, "rejection table", ("OBS_ID", "STAGE", "ERROR", "REASON"))
    checks = [""] * len(table)  # tables written before the checks had no CHECK column
    if "CHECK" in table.colnames:
        column = table["CHECK"]  # ECSV reads an empty string back as masked
        checks = column.filled("") if hasattr(column, "filled") else column
    return [
        Rejection(
            obs_id=int(row["OBS_ID"]),
            stage=str(row["STAGE"]),
            reason=str(row["REASON"]),
            error=str(row["ERROR"]),
            check=str(check),
        )
        for row, check in zip(table, checks, strict=True)
    ]


def notes_table(notes: Iterable):
    """Quality notes as an `~astropy.table.Table`: OBS_ID, CHECK, MESSAGE, by obs_id."""
    from astropy.table import Table

    rows = sorted(notes, key=lambda note: note.obs_id)
    table = Table(
        {
            "OBS_ID": [n.obs_id for n in rows],
            "CHECK": [n.check for n in rows],
            "MESSAGE": [n.message for n in rows],
        },
        dtype=[int, str, str],
    )
    table.meta["n_warnings"] = len(rows)
    table.meta["comments"] = [
        "warnings about the data of observations that were used (or rejected later): "
        "what was assumed or looks wrong (dl3flow.quality)"
    ]
    return table


def write_notes(notes: Iterable, path, *, overwrite: bool = False) -> Path:
    """Write :func:`notes_table` as an ECSV file (atomically; no rows if no notes)."""
    from dl3flow.io.atomic import write_table

    return write_table(notes_table(notes), path, overwrite=overwrite, format="ascii.ecsv")


def read_notes(path) -> list:
    """Read a table written by :func:`write_notes`.

    Raises
    ------
    ValueError
        If the file is missing, unreadable or lacks a column (the message names it).
    """
    from dl3flow.data.quality import QualityNote

    table = _read_table(path, "warnings table", ("OBS_ID", "CHECK", "MESSAGE"))
    return [
        QualityNote(obs_id=int(row["OBS_ID"]), check=str(row["CHECK"]), message=str(row["MESSAGE"]))
        for row in table
    ]


def notes_summary(notes: Iterable) -> str:
    """Per check, how many observations got a warning, and which (for the end of a run)."""
    by_check: dict[str, list[int]] = {}
    for note in notes:
        by_check.setdefault(note.check, []).append(note.obs_id)
    lines = []
    for check, obs_ids in by_check.items():
        ids = sorted(set(obs_ids))
        shown = ", ".join(map(str, ids[:8])) + (", ..." if len(ids) > 8 else "")
        lines.append(f"  {check}: {len(ids)} observation(s) ({shown})")
    return "\n".join(lines)


def rejection_summary(rejections: Iterable[Rejection], *, n_total: int | None = None) -> str:
    """One line per rejected observation, after a count (for the end of a run)."""
    rejections = list(rejections)
    of = f" of {n_total}" if n_total is not None else ""
    if not rejections:
        return f"no observation rejected{f' (of {n_total})' if n_total is not None else ''}"
    lines = [f"{len(rejections)}{of} observation(s) rejected:"]
    lines += [f"  {r}" for r in rejections]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- one job


def reduce_to_files(
    observation_loader: Callable,
    *,
    obs_id: int,
    dataset_path,
    status_path,
    provenance=None,
    on_bad_observation: str = "skip",
    **reduce_kwargs,
):
    """The per-observation job: reduce, always write the dataset and the status.

    The dataset (with ``provenance`` in its primary header) is written first and
    the status file (with the same record) last, so a status file means the job
    finished. A rejected observation gets a flagged dataset with nothing to use
    (`~dl3flow.datasets.rejection.rejected_dataset`), so that both files are always
    there. The `~dl3flow.data.quality.ObservationWarning` raised on the way are logged
    and recorded in the status file (:func:`read_status_notes`).

    Parameters
    ----------
    observation_loader, obs_id, on_bad_observation, **reduce_kwargs
        As for :func:`reduce_or_reject` (``geom``, ``offset_max``, ``edisp``, ...).
    dataset_path, status_path : str or `~pathlib.Path`
    provenance : `~dl3flow.io.provenance.Provenance`, dict or callable, optional
        Recorded in the dataset's primary header. A callable (no arguments) is
        called after the reduction (the provenance of a rejected observation's
        dataset records the inputs as they are, missing files included).

    Returns
    -------
    `~dl3flow.datasets.map.MapDataset` or `Rejection`

    Raises
    ------
    BadObservationError
        With ``on_bad_observation="fail"`` (no file is written then).
    """
    from dl3flow.data.quality import collect_notes as collecting

    with collecting() as notes:
        result = reduce_or_reject(
            observation_loader,
            obs_id=obs_id,
            on_bad_observation=on_bad_observation,
            **reduce_kwargs,
        )
    for note in notes:
        log.warning("%s", note)
    dataset = result
    if isinstance(result, Rejection):
        dataset = rejected_dataset(
            result,
            geom=reduce_kwargs["geom"],
            offset_max=reduce_kwargs["offset_max"],
            pointing=_pointing_or_none(observation_loader, obs_id),
        )
    if callable(provenance):
        try:
            provenance = provenance()
        except OSError as exc:  # hashing an input of a rejected observation
            if not isinstance(result, Rejection):
                raise
            provenance = {"PROVERR": f"provenance not recorded: {exc}"[:68]}
    dataset_path = Path(dataset_path)
    dataset_path.parent.mkdir(parents=True, exist_ok=True)
    dataset.write(dataset_path, overwrite=True, provenance=provenance)
    rejection = result if isinstance(result, Rejection) else None
    write_status(
        status_path, obs_id=obs_id, rejection=rejection, notes=notes, provenance=provenance
    )
    return result


def _pointing_or_none(observation_loader: Callable, obs_id: int):
    """The observation's pointing if it can be read at all (for a rejected one's cutout)."""
    try:
        return observation_loader(obs_id).pointing
    except Exception:  # a rejected observation: anything may be broken
        return None
