"""Atomic file output, observation tables and logging for workflow scripts.

Every product is written to a temporary file in the target directory, flushed to
disk (``fsync``) and moved into place with :func:`os.replace`, which is atomic on
POSIX file systems: a reader (or a Snakemake restart after a crash or a cluster
time-out) sees either the previous file or the complete new one, never a partial
file. On failure the temporary file is removed and an existing target is untouched.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = [
    "atomic_path",
    "atomic_write",
    "write_table",
    "write_figure",
    "write_observations",
    "read_observations",
    "read_geom_center",
    "script_logging",
]

log = logging.getLogger(__name__)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(directory: Path) -> None:
    """Flush a directory entry (the rename) to disk; not possible on every OS."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path, *, overwrite: bool = False) -> Iterator[Path]:
    """Context manager yielding a temporary path that replaces ``path`` on success.

    The temporary file lives in the target directory (so that the final
    :func:`os.replace` is atomic) and keeps the target's suffix (so that writers
    that infer the format from the name, like astropy and matplotlib, still work).
    It exists (empty) when the block starts; writers must be allowed to overwrite it.

    Parameters
    ----------
    path : str or `pathlib.Path`
        Final location. Missing parent directories are created.
    overwrite : bool
        Whether an existing ``path`` may be replaced.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False (checked before writing).

    Examples
    --------
    >>> with atomic_path("results/table.ecsv") as tmp:  # doctest: +SKIP
    ...     table.write(tmp, overwrite=True)
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists (pass overwrite=True to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{''.join(path.suffixes)}"
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        # mkstemp creates 0600 files; give the product the usual permissions
        os.chmod(tmp, 0o666 & ~_umask())
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} appeared while it was being written")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def atomic_write(path, writer: Callable[[Path], object], *, overwrite: bool = False) -> Path:
    """Call ``writer(tmp_path)`` and move the result to ``path`` atomically.

    Parameters
    ----------
    path : str or `pathlib.Path`
        Final location.
    writer : callable
        Writes the complete file to the path it is given (which already exists, empty).
    overwrite : bool
        Whether an existing ``path`` may be replaced.

    Returns
    -------
    path : `pathlib.Path`
    """
    with atomic_path(path, overwrite=overwrite) as tmp:
        writer(tmp)
    return Path(path)


def write_table(table, path, *, overwrite: bool = False, format: str | None = None) -> Path:
    """Write an astropy table atomically (format from the suffix, e.g. ``.ecsv``)."""
    return atomic_write(
        path, lambda tmp: table.write(tmp, format=format, overwrite=True), overwrite=overwrite
    )


def write_figure(figure, path, *, overwrite: bool = False, **savefig_kwargs) -> Path:
    """Save a matplotlib figure atomically (``dpi=150``, tight bounding box by default)."""
    kwargs = {"dpi": 150, "bbox_inches": "tight"} | savefig_kwargs
    suffix = Path(path).suffix.lstrip(".") or "png"
    kwargs.setdefault("format", suffix)
    return atomic_write(path, lambda tmp: figure.savefig(tmp, **kwargs), overwrite=overwrite)


def write_observations(
    selected, rejected, path, *, overwrite: bool = False, auto_center=None
) -> Path:
    """Write the selected observations with the rejected ones (and why) as ECSV.

    The table rows are the selected observations (all obs-index columns); the
    rejected ones are listed in the table metadata under ``rejected`` as
    ``{OBS_ID, REASON}`` entries, readable in the ECSV header and by
    :func:`read_observations`.

    Parameters
    ----------
    selected : `~astropy.table.Table`
        Selected rows of the obs-index table (with an ``OBS_ID`` column).
    rejected : `~astropy.table.Table`
        Columns ``OBS_ID`` and ``REASON``.
    path : str or `pathlib.Path`
    overwrite : bool
    auto_center : `dl3flow.data.selection.AutoCenter`, optional
        The map centre chosen from the selected pointings (``geom.center: auto``),
        recorded under ``geom_center`` (lon, lat, frame, the observations used and
        dropped) and read by :func:`read_geom_center`.
    """
    from astropy.table import Table

    table = Table(selected, copy=True)
    table.meta = {
        key: value
        for key, value in table.meta.items()
        if isinstance(value, str | int | float | bool | list)
    }
    table.meta["n_selected"] = len(table)
    table.meta["n_rejected"] = len(rejected)
    table.meta["rejected"] = [
        {"OBS_ID": int(row["OBS_ID"]), "REASON": str(row["REASON"])} for row in rejected
    ]
    if auto_center is not None:
        sph = auto_center.center.spherical
        table.meta["geom_center"] = {
            "lon_deg": float(sph.lon.deg),
            "lat_deg": float(sph.lat.deg),
            "frame": auto_center.center.frame.name,
            "max_separation_deg": auto_center.max_separation,
            "used": list(auto_center.used),
            "dropped": list(auto_center.dropped),
            "description": auto_center.describe(),
        }
    return write_table(table, path, overwrite=overwrite, format="ascii.ecsv")


def read_geom_center(path):
    """The map centre recorded by :func:`write_observations` (``auto_center``).

    Raises
    ------
    ValueError
        If the table records no centre (its analysis does not have ``geom.center:
        auto``, or it was written before); the message names the file.
    """
    from astropy.coordinates import SkyCoord
    from astropy.table import Table

    meta = Table.read(path, format="ascii.ecsv").meta.get("geom_center")
    if not isinstance(meta, dict):
        raise ValueError(f"{path} records no map centre (geom_center) for geom.center: auto")
    return SkyCoord(meta["lon_deg"], meta["lat_deg"], unit="deg", frame=meta["frame"])


def read_observations(path):
    """Read a table written by :func:`write_observations`.

    Returns
    -------
    selected : `~astropy.table.Table`
    rejected : `~astropy.table.Table`
        Columns ``OBS_ID`` (int) and ``REASON`` (str).
    """
    from astropy.table import Table

    selected = Table.read(path, format="ascii.ecsv")
    entries = selected.meta.get("rejected") or []
    rejected = Table(
        {
            "OBS_ID": [int(e["OBS_ID"]) for e in entries],
            "REASON": [str(e["REASON"]) for e in entries],
        },
        dtype=[int, str],
    )
    return selected, rejected


def _no_iers_auto_download() -> None:
    """astropy's ``iers.conf.auto_download = False``, without importing astropy.utils.iers.

    The option lives in astropy's configuration (section ``utils.iers.iers``), where
    ``iers.conf.auto_download = False`` stores it, and is read from there on every
    access, whenever astropy.utils.iers is imported. Importing that module just to set
    it would cost every job astropy.table and astropy.time (0.2-0.4 s).
    """
    try:
        from astropy.config import get_config

        get_config("astropy.utils.iers.iers")["auto_download"] = False
    except Exception:  # pragma: no cover - astropy changed its configuration layout
        from astropy.utils import iers

        iers.conf.auto_download = False


@contextlib.contextmanager
def script_logging(log_path=None, *, level: int = logging.INFO) -> Iterator[logging.Logger]:
    """Log to ``log_path`` (a Snakemake ``log`` file) for the duration of a script.

    Configures the root logger (``dl3flow`` modules log through it), captures
    warnings, turns off astropy's IERS auto-download (no network at run time),
    and logs any exception with its traceback before re-raising it, so that the
    log file says why a job failed.

    Parameters
    ----------
    log_path : str, `pathlib.Path`, Snakemake ``log`` object or None
        Log file; the first entry is used for a list-like. None logs to stderr.
    level : int
        Logging level.
    """
    if log_path is not None and not isinstance(log_path, str | os.PathLike):
        log_path = log_path[0] if len(log_path) else None
    if log_path is not None:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_path, mode="w")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    _no_iers_auto_download()
    logger = logging.getLogger("dl3flow.script")
    try:
        yield logger
    except BaseException:
        logger.exception("failed")
        raise
    finally:
        logging.captureWarnings(False)
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
