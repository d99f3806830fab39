"""The simulated GADF DL3 data store of the embedded demo, written deterministically.

The demo analysis of the workflow runs on a data store written by
:func:`write_data_store`: wobble observations of a configurable sky (point and
Gaussian sources with power-law spectra, ``dl3flow.simulate.config``) seen through
analytic, H.E.S.S.-like instrument response functions (IRFs,
``dl3flow.simulate.instrument``), plus a hadronic background drawn from the ``bkg_3d``
model that is written alongside (``dl3flow.simulate.events``).

Layout and header keywords mimic the H.E.S.S. DL3 DR1 release (``obs-index.fits.gz``,
``hdu-index.fits.gz`` and one ``data/*_obs_id_XXXXXX.fits.gz`` file per observation
with ``EVENTS``, ``GTI``, ``AEFF``, ``EDISP``, ``PSF`` and ``BKG`` HDUs). The IRF
tables use the array layout gammapy's ``to_table`` writers produce (which is also the
layout of DR1), so gammapy and any generic GADF reader load them.

With ``irf_style="caldb"`` the store instead mimics CTA's first data challenge (1DC)
and its caldb: ``data/*_obs_id_XXXXXX.fits.gz`` hold only ``EVENTS`` and ``GTI``, and
ONE IRF file, ``caldb/data/dl3flow/sim/bcf/sim_z20/irf_file.fits``, serves every
observation (the HDU index lists its four HDUs for each of them, ``FILE_DIR`` relative
to the store). Its HDUs are named ``EFFECTIVE AREA``, ``ENERGY DISPERSION`` (``ETRUE``
columns), ``POINT SPREAD FUNCTION`` (the PSF as ``psf_3gauss`` parameters:
``SCALE``, ``SIGMA_1``, ``AMPL_2``, ``SIGMA_2``, ``AMPL_3 = 0``, ``SIGMA_3``) and
``BACKGROUND``, with OGIP-style ``HDUCLAS4`` (``2D``, ``3GAUSS``, ``3D``) while the
HDU index says ``aeff_2d``, ``edisp_2d``, ``psf_3gauss``, ``bkg_3d``; there is no
``LO_THRES`` / ``HI_THRES`` and no ``FOVALIGN`` (readers assume their default; the
background is rotationally symmetric, so it does not matter), and the background
unit is ``1/s/MeV/sr`` (parsed by astropy only as OGIP). As CTA's ``South_z20_50h``,
the IRF is computed at one fixed zenith angle (20 deg), and so that the store stays
self-consistent the events of every observation are drawn from that same instrument,
whatever the zenith angle of its pointing (which the indexes still report).

The same configuration gives byte-identical files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from glob import escape as glob_escape
from pathlib import Path
from typing import Any

from astropy.coordinates import SkyCoord
from astropy.io import fits

from dl3flow.maps.coords import angular_offset
from dl3flow.simulate.config import SimulationConfig
from dl3flow.simulate.events import SimulatedObservation, simulate_observation
from dl3flow.simulate.hdus import (
    _CALDB_IRF_NAME,
    _caldb_irf_tables,
    _events_hdu,
    _fits_bytes,
    _gti_hdu,
    _gzip_bytes,
    _hdu_index_hdu,
    _irf_tables,
    _obs_index_hdu,
    _time_strings,
)
from dl3flow.simulate.instrument import _CALDB_ZENITH_DEG, _Instrument, _observation_instrument

__all__ = ["SIMULATION_FORMAT_VERSION", "remove_stale_store_temporaries", "write_data_store"]

#: Bumped whenever the same configuration would produce different files.
SIMULATION_FORMAT_VERSION = 1

_FILE_PREFIX = "dl3flow_sim"
_MANIFEST = "simulation.json"
_CALDB_DIR = f"caldb/data/dl3flow/sim/bcf/{_CALDB_IRF_NAME}"
_CALDB_FILE = "irf_file.fits"


def _data_file_name(obs_id: int) -> str:
    return f"{_FILE_PREFIX}_obs_id_{obs_id:06d}.fits.gz"


_HDU_TYPES = (
    # hdu type, hdu class, extension name
    ("events", "events", "EVENTS"),
    ("gti", "gti", "GTI"),
    ("aeff", "aeff_2d", "AEFF"),
    ("edisp", "edisp_2d", "EDISP"),
    ("psf", "psf_table", "PSF"),
    ("bkg", "bkg_3d", "BKG"),
)

_CALDB_HDU_TYPES = (
    # hdu type, hdu class, extension name of the shared caldb IRF file
    ("aeff", "aeff_2d", "EFFECTIVE AREA"),
    ("edisp", "edisp_2d", "ENERGY DISPERSION"),
    ("psf", "psf_3gauss", "POINT SPREAD FUNCTION"),
    ("bkg", "bkg_3d", "BACKGROUND"),
)


def _tag(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "target"


def _write_caldb_irf(config, directory: Path) -> list[dict[str, Any]]:
    """Write the shared IRF file of the caldb style; its HDU-index rows (no OBS_ID)."""
    instrument = _Instrument(_CALDB_ZENITH_DEG, config.energy_range, config.background_norm)
    tables = _caldb_irf_tables(config, instrument)
    primary = fits.PrimaryHDU()
    primary.header["TELESCOP"] = config.telescope
    content = _fits_bytes(fits.HDUList([primary])) + b"".join(t.tobytes() for t in tables)
    (directory / _CALDB_DIR).mkdir(parents=True)
    (directory / _CALDB_DIR / _CALDB_FILE).write_bytes(content)
    return [
        {
            "HDU_TYPE": hdu_type,
            "HDU_CLASS": hdu_class,
            "FILE_DIR": _CALDB_DIR,
            "FILE_NAME": _CALDB_FILE,
            "HDU_NAME": extname,
            "SIZE": table.filebytes(),
        }
        for (hdu_type, hdu_class, extname), table in zip(_CALDB_HDU_TYPES, tables, strict=True)
    ]


def _write_observation(config, index, directory: Path, target_glonlat, shared_irf_rows=()):
    """Write the data file of one observation; its HDU-index rows.

    ``shared_irf_rows`` (caldb style): rows of the shared IRF file, listed for this
    observation too; its data file then only holds EVENTS and GTI.
    """
    sim = simulate_observation(config, index)
    plan = sim.plan
    caldb = config.irf_style == "caldb"
    primary = fits.PrimaryHDU()
    primary.header["TELESCOP"] = config.telescope
    primary.header["OBS_ID"] = plan.obs_id
    events = _events_hdu(config, sim, target_glonlat)
    gti = _gti_hdu(config, plan)
    irfs = [] if caldb else _irf_tables(config, plan, _observation_instrument(config, plan))
    content = _fits_bytes(fits.HDUList([primary, events, gti])) + b"".join(
        t.tobytes() for t in irfs
    )
    name = _data_file_name(plan.obs_id)
    (directory / "data" / name).write_bytes(_gzip_bytes(content))
    sizes = [events.filebytes(), gti.filebytes(), *(t.filebytes() for t in irfs)]
    own_types = _HDU_TYPES[:2] if caldb else _HDU_TYPES  # events, gti (+ IRFs)
    hdu_rows = [
        {
            "OBS_ID": plan.obs_id,
            "HDU_TYPE": hdu_type,
            "HDU_CLASS": hdu_class,
            "FILE_DIR": "data",
            "FILE_NAME": name,
            "HDU_NAME": extname if caldb else extname.lower(),
            "SIZE": size,
        }
        for (hdu_type, hdu_class, extname), size in zip(own_types, sizes, strict=True)
    ]
    hdu_rows += [{"OBS_ID": plan.obs_id, **row} for row in shared_irf_rows]
    return sim, hdu_rows


def _manifest(config: SimulationConfig) -> dict[str, Any]:
    return {
        "generator": "dl3flow.simulate",
        "format_version": SIMULATION_FORMAT_VERSION,
        "config": config.to_dict(),
    }


def _store_matches(path: Path, config: SimulationConfig) -> bool:
    manifest = path / _MANIFEST
    if not manifest.is_file():
        return False
    try:
        existing = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return False
    expected = json.loads(json.dumps(_manifest(config)))
    complete = (path / "obs-index.fits.gz").is_file() and (path / "hdu-index.fits.gz").is_file()
    return existing == expected and complete


def remove_stale_store_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove what an interrupted :func:`write_data_store` of ``path`` left beside it.

    :func:`write_data_store` builds the store in ``.<name>.tmp-*`` beside ``path`` and
    moves an old store through ``.<name>.old-*``; a process killed with SIGKILL
    cannot remove them. Call this only where no other process writes ``path`` (the
    workflow job whose output it is: Snakemake locks its outputs); ``path`` itself
    is never touched.

    Returns
    -------
    list of `~pathlib.Path`
        The directories removed.
    """
    path = Path(path)
    if not path.parent.is_dir():
        return []
    removed = []
    for kind in ("tmp", "old"):
        for stale in sorted(path.parent.glob(f".{glob_escape(path.name)}.{kind}-*")):
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)
                removed.append(stale)
    return removed


def write_data_store(
    config: SimulationConfig, path: str | os.PathLike, *, overwrite: bool = False
) -> Path:
    """Write a simulated GADF DL3 data store to the directory ``path``.

    The store is written to a temporary sibling directory and renamed into place, so
    ``path`` either does not exist or holds a complete store. Writing the same
    configuration again is a no-op; an existing different store (or any non-empty
    directory) is only replaced with ``overwrite=True``.

    Parameters
    ----------
    config : SimulationConfig
    path : path-like
        Directory to create (``obs-index.fits.gz``, ``hdu-index.fits.gz``,
        ``simulation.json``, ``data/<prefix>_obs_id_XXXXXX.fits.gz``; caldb style
        also ``caldb/data/dl3flow/sim/bcf/sim_z20/irf_file.fits``).
    overwrite : bool, optional
        Replace an existing different store.

    Returns
    -------
    pathlib.Path
        The data store directory.

    Raises
    ------
    FileExistsError
        If ``path`` holds something else and ``overwrite`` is false.
    NotADirectoryError
        If ``path`` exists and is not a directory.
    """
    path = Path(path)
    if _check_existing_store(path, config, overwrite):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    tmp.chmod(0o755)  # mkdtemp creates 0o700
    try:
        _write_store_files(config, tmp)
        _move_into_place(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _check_existing_store(path: Path, config: SimulationConfig, overwrite: bool) -> bool:
    """Whether ``path`` already holds this store; raise if it may not be replaced."""
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"data store path {path} exists and is not a directory")
    if path.is_dir():
        if _store_matches(path, config):
            return True
        if any(path.iterdir()) and not overwrite:
            raise FileExistsError(
                f"{path} already holds a different data store or other files; "
                "refusing to overwrite it (pass overwrite=True or remove it)"
            )
    return False


def _write_store_files(config: SimulationConfig, tmp: Path) -> None:
    """Write every file of the store into the (new, empty) directory ``tmp``."""
    (tmp / "data").mkdir()
    shared_irf_rows = _write_caldb_irf(config, tmp) if config.irf_style == "caldb" else []
    target = SkyCoord(config.target_ra, config.target_dec, unit="deg", frame="icrs")
    target_glonlat = (float(target.galactic.l.deg), float(target.galactic.b.deg))
    hdu_rows, sims = [], []
    for index in range(config.n_obs):
        sim, rows = _write_observation(config, index, tmp, target_glonlat, shared_irf_rows)
        sims.append(sim)
        hdu_rows.extend(rows)
    obs_rows = _obs_index_rows(config, sims)
    primary = fits.PrimaryHDU()
    for name, hdu in (
        ("obs-index.fits.gz", _obs_index_hdu(config, obs_rows)),
        ("hdu-index.fits.gz", _hdu_index_hdu(hdu_rows)),
    ):
        content = _fits_bytes(fits.HDUList([primary.copy(), hdu]))
        (tmp / name).write_bytes(_gzip_bytes(content))
    (tmp / _MANIFEST).write_text(json.dumps(_manifest(config), indent=2, sort_keys=True))


def _obs_index_rows(config: SimulationConfig, sims: list[SimulatedObservation]) -> list[dict]:
    """The observation-index rows of the simulated observations ``sims``."""
    plans_ra = [sim.plan.ra_pnt for sim in sims]
    plans_dec = [sim.plan.dec_pnt for sim in sims]
    gal = SkyCoord(plans_ra, plans_dec, unit="deg", frame="icrs").galactic
    return [
        _obs_index_row(config, sim, glon, glat)
        for sim, glon, glat in zip(sims, gal.l.deg, gal.b.deg, strict=True)
    ]


def _obs_index_row(config: SimulationConfig, sim: SimulatedObservation, glon, glat) -> dict:
    """The observation-index row of ``sim``, pointing at galactic (``glon``, ``glat``)."""
    plan = sim.plan
    date_obs, time_obs = _time_strings(plan.mjd_start)
    date_end, time_end = _time_strings(plan.mjd_start + config.ontime / 86400.0)
    offset = float(angular_offset(plan.ra_pnt, plan.dec_pnt, config.target_ra, config.target_dec))
    return {
        "OBS_ID": plan.obs_id,
        "RA_PNT": plan.ra_pnt,
        "DEC_PNT": plan.dec_pnt,
        "GLON_PNT": glon,
        "GLAT_PNT": glat,
        "ZEN_PNT": plan.zenith,
        "ALT_PNT": plan.alt,
        "AZ_PNT": plan.az,
        "OBJECT": config.target_name,
        "RA_OBJ": config.target_ra,
        "DEC_OBJ": config.target_dec,
        "OFFSET_OBJ": offset,
        "ONTIME": config.ontime,
        "LIVETIME": config.livetime,
        "DEADC": config.deadc,
        "TSTART": plan.tstart,
        "TSTOP": plan.tstop,
        "DATE-OBS": date_obs,
        "TIME-OBS": time_obs,
        "DATE-END": date_end,
        "TIME-END": time_end,
        "N_TELS": 4,
        "TELLIST": "1,2,3,4",
        "QUALITY": 0,
        "MUONEFF": 1.0,
        "EVENT_COUNT": sim.events["EVENT_ID"].size,
        "TARGET_NAME": config.target_name,
        "TARGET_TAG": _tag(config.target_name),
        "TARGET_OFFSET": offset,
        "SAFE_ENERGY_LO": sim.lo_thres,
        "SAFE_ENERGY_HI": config.energy_range[1],
    }


def _move_into_place(tmp: Path, path: Path) -> None:
    """Rename the written store ``tmp`` to ``path``, replacing what is there."""
    if path.exists():
        trash = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
        os.replace(path, trash / path.name)
        os.replace(tmp, path)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(tmp, path)
