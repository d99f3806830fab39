"""The bad-input catalogue: each malformed input, by name, and exactly what it does.

Every case is one parametrized test whose id names the input (``events-truncated``,
``hdu-index-missing-column``, ``region-unparsable``, ``config-binsz-wrong-unit`` ...).
Each asserts

* the error type, and a message naming the file, the observation or the config key
  (and the cause);
* that nothing was written into the inputs (the tmp copy of the data store, region
  and catalog files): same listing and checksums before and after;
* that no output file is left, complete or half-written, in the results directory
  (the real writers run; for writer cases a failure is injected mid-write).

DL3 cases corrupt a copy of one H.E.S.S. DL3 DR1 file in ``tmp_path`` (fixture
``hess_obs_copy``; the shared data is only read) and run the per-observation job
(`dl3flow.workflow.rejection.reduce_to_files` with ``on_bad_observation="fail"``).

This work made use of data from the H.E.S.S. DL3 public test data release 1
(HESS DL3 DR1, H.E.S.S. collaboration, 2018).
"""

from __future__ import annotations

import copy
import errno
import gzip
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import astropy.units as u
import numpy as np
import pytest
from _factories import make_dataset, make_geom
from astropy.io import fits
from astropy.table import Table

from dl3flow.config.analysis import analysis_config
from dl3flow.config.values import ConfigError
from dl3flow.data.errors import CorruptFileError, IndexFormatError, MissingIndexError
from dl3flow.data.store import DataStore
from dl3flow.datasets.io import DatasetError
from dl3flow.datasets.map import MapDataset, read_dataset
from dl3flow.datasets.rejection import BadObservationError, Rejection
from dl3flow.io.header import STRUCTURAL_KEYWORD
from dl3flow.io.provenance import Provenance, ProvenanceError
from dl3flow.makers.catalogs import CatalogError, CatalogSpec, read_catalog
from dl3flow.makers.exclusion import ExclusionError, ExclusionMask, regions_mask
from dl3flow.makers.safe import SafeMask
from dl3flow.makers.safe_io import write_safe_mask
from dl3flow.maps.geom import SkyGeom
from dl3flow.workflow.rejection import reduce_to_files, write_rejections

OBS = 23523  # the observation hess_obs_copy copies (conftest.HESS_OBS_ID)
FILE = f"hess_dl3_dr1_obs_id_{OBS:06d}.fits.gz"
KEY = "analyses.crab"
CONFIG = {
    "analyses": {
        "crab": {
            "data_store": "unused",
            "geom": {
                "center": {"lon": "83.633 deg", "lat": "22.014 deg"},
                "width": "3 deg",
                "binsz": "0.1 deg",
                "energy": {"min": "1 TeV", "max": "10 TeV", "nbin": 2},
                "energy_true": {"min": "0.5 TeV", "max": "20 TeV", "nbin": 3},
            },
            "offset_max": "1.5 deg",
        }
    }
}
SKY = SkyGeom.create(center=(83.633, 22.014), width=2.0, binsz=0.1)


@dataclass(frozen=True)
class Case:
    """One malformed input.

    ``run(ctx)`` must raise ``error`` with a message matching ``match``, in which
    ``{store}``, ``{inputs}`` and ``{out}`` stand for the (regex-escaped) paths.
    ``store`` (``hess_obs_copy`` keyword arguments) asks for a DL3 copy in
    ``{inputs}/store``; ``prepare(ctx)`` writes other bad input files first.
    """

    id: str
    run: Callable
    error: type
    match: str
    store: dict | None = None
    prepare: Callable | None = None


# ----------------------------------------------------------------------- helpers


def _job(ctx):
    """The per-observation workflow job, failing on a bad observation."""
    cfg = analysis_config(CONFIG, "crab")
    store = DataStore.from_dir(ctx.store)
    obs_dir = ctx.out / "obs" / str(OBS)
    return reduce_to_files(
        store.observation,
        obs_id=OBS,
        dataset_path=obs_dir / "dataset.fits",
        status_path=obs_dir / "status.json",
        on_bad_observation="fail",
        geom=cfg.geom,
        offset_max=cfg.offset_max.to_value("deg"),
    )


def _open_store(ctx):
    return DataStore.from_dir(ctx.store)


def _bad_obs(stage: str, error: str, cause: str, *, names_file: bool = True) -> str:
    """BadObservationError pattern: obs, stage, error type, then the file and the cause."""
    file = f"(?=.*{re.escape(FILE)})" if names_file else ""
    return f"^observation {OBS}: {stage} failed: {error}: {file}(?=.*{cause})"


def _truncate_gzip(raw: bytes) -> bytes:
    return raw[: len(raw) // 2]


def _truncate_fits(raw: bytes) -> bytes:
    data = gzip.decompress(raw)
    return gzip.compress(data[: len(data) - 5 * 2880], mtime=0)


def _drop_hdu(name):
    def mutate(hdulist):
        del hdulist[name]

    return mutate


def _nan(name, column):
    def mutate(hdulist):
        hdulist[name].data[column][:] = np.nan

    return mutate


def _events_header(**values):
    def mutate(hdulist):
        header = hdulist["EVENTS"].header
        for key, value in values.items():
            if value is None:
                del header[key]
            else:
                header[key] = value

    return mutate


def _header(name, **values):
    def mutate(hdulist):
        for key, value in values.items():
            if value is None:
                del hdulist[name].header[key]
            else:
                hdulist[name].header[key] = value

    return mutate


def _column_unit(name, column, unit):
    def mutate(hdulist):
        hdulist[name].columns.change_unit(column, unit)

    return mutate


def _drop_column(name, column):
    def mutate(hdulist):
        hdu = hdulist[name]
        table = Table.read(hdu)
        table.remove_column(column)
        new = fits.table_to_hdu(table)
        for card in hdu.header.cards:
            if not STRUCTURAL_KEYWORD.match(card.keyword) and card.keyword not in new.header:
                new.header.append(card)
        new.name = hdu.name
        hdulist[name] = new

    return mutate


def _values(name, column, change):
    """Change the values of a column in place: ``change(array)`` (an IRF's row 0)."""

    def mutate(hdulist):
        data = hdulist[name].data[column]
        change(data if name in ("EVENTS", "GTI") else data[0])

    return mutate


def _setitem(index, value):
    def change(array):
        array[index] = value

    return change


def _scale(factor):
    def change(array):
        array *= factor

    return change


def _shift(seconds):
    def change(array):
        array += seconds

    return change


def _empty_gti(hdulist):
    gti = hdulist["GTI"]
    hdulist["GTI"] = fits.BinTableHDU(gti.data[:0], header=gti.header, name="GTI")


def _quality(cause: str, check: str) -> str:
    """BadObservationError pattern of a rejection by a validation check."""
    tail = f"{cause}.*\\[check {check}\\]$"
    return _bad_obs("quality", "QualityError", f"obs {OBS}: (?=.*{tail})", names_file=False)


def _empty_events(hdulist):
    events = hdulist["EVENTS"]
    hdulist["EVENTS"] = fits.BinTableHDU(events.data[:0], header=events.header, name="EVENTS")


def _drop_index_column(column):
    def mutate(table):
        table.remove_column(column)

    return mutate


def _set_class(table):
    table["HDU_CLASS"][table["HDU_TYPE"] == "aeff"] = "aeff_3d"


def _duplicate_events_row(table):
    table.add_row(table[np.flatnonzero(table["HDU_TYPE"] == "events")[0]])


def _missing_file(table):
    table["FILE_NAME"] = [name.replace(FILE, "nope.fits.gz") for name in table["FILE_NAME"]]


def _duplicate_obs(table):
    table.add_row(table[0])


def _float_obs_id(table):
    table["OBS_ID"] = table["OBS_ID"] + 0.5


def _index_pointing(ra, dec):
    def mutate(table):
        table["RA_PNT"], table["DEC_PNT"] = ra, dec

    return mutate


def _no_pointing_in_index(table):
    table.remove_columns(["RA_PNT", "DEC_PNT"])


def _garbage_index(kind):
    def prepare(ctx):
        (ctx.store / f"{kind}-index.fits.gz").write_bytes(gzip.compress(b"not FITS" * 100))

    return prepare


def _truncated_index(kind):
    def prepare(ctx):
        path = ctx.store / f"{kind}-index.fits.gz"
        raw = path.read_bytes()
        path.write_bytes(raw[: len(raw) // 2])

    return prepare


def _remove_index(kind):
    def prepare(ctx):
        (ctx.store / f"{kind}-index.fits.gz").unlink()

    return prepare


def _config(path: str, value):
    """CONFIG with ``analyses.crab.<path>`` set to ``value`` (``...`` deletes it)."""

    def run(ctx):
        config = copy.deepcopy(CONFIG)
        node = config["analyses"]["crab"]
        *parents, last = path.split(".")
        for name in parents:
            node = node.setdefault(name, {})
        if value is ...:
            del node[last]
        else:
            node[last] = value
        return analysis_config(config, "crab")

    return run


def _regions(strings=(), files=()):
    def run(ctx):
        paths = [ctx.inputs / name for name in files]
        return regions_mask(SKY, strings=strings, files=paths, key=f"{KEY}.exclusion")

    return run


def _write_input(name, content: bytes):
    def prepare(ctx):
        (ctx.inputs / name).write_bytes(content)

    return prepare


def _catalog_table():
    return Table(
        {
            "source_name": ["3HWC J0534+220", "3HWC J0540+228"],
            "ra": [83.6279, 85.166] * u.deg,
            "dec": [22.0243, 22.8719] * u.deg,
            "ts": [35736.5, 28.8],
        }
    )


def _catalog_file(change=None):
    def prepare(ctx):
        table = _catalog_table()
        if change is not None:
            change(table)
        table.write(ctx.inputs / "catalog.ecsv")

    return prepare


def _catalog(kind="3hwc", name="catalog.ecsv", **kwargs):
    def run(ctx):
        spec = CatalogSpec(kind=kind, path=ctx.inputs / name, **kwargs)
        return read_catalog(spec, key=f"{KEY}.exclusion.catalogs[0]")

    return run


def _dataset(meta=None):
    geom = make_geom(
        center=(83.6, 22.0),
        width=(0.5, 0.4),
        energy=[1.0, 3.0, 10.0],
        energy_true=[0.5, 1.0, 5.0, 20.0],
    )
    return make_dataset(geom, counts=1.0, background=1.0, meta=meta or {"OBS_ID": 1})


def _disk_full(ctx):
    """Make FITS writes (astropy's and dl3flow.io.fits's) fail half-way, as a full disk does."""
    real_write_bytes = Path.write_bytes

    def write_bytes(self, data):
        real_write_bytes(self, bytes(data[:2000]))
        raise OSError(errno.ENOSPC, "No space left on device")

    ctx.monkeypatch.setattr(Path, "write_bytes", write_bytes)

    def writeto(self, fileobj, *args, **kwargs):
        if isinstance(fileobj, str | os.PathLike):
            with open(fileobj, "wb") as fh:
                fh.write(b"SIMPLE  =                    T" + b" " * 2000)
        else:
            fileobj.write(b"SIMPLE  =                    T" + b" " * 2000)
        raise OSError(errno.ENOSPC, "No space left on device")

    ctx.monkeypatch.setattr(fits.HDUList, "writeto", writeto)


def _write_dataset(ctx):
    _disk_full(ctx)
    _dataset().write(ctx.out / "dataset.fits")


def _write_dataset_bad_meta(ctx):
    _dataset(meta={"TOO_LONG_KEY": 1}).write(ctx.out / "dataset.fits")


def _write_safe_mask(ctx):
    ds = _dataset()
    safe = SafeMask(mask=ds.mask_safe, sky=ds.geom.sky, energy=ds.geom.energy, methods=())
    _disk_full(ctx)
    write_safe_mask(safe, ctx.out / "mask_safe.fits")


def _write_exclusion(ctx):
    mask = ExclusionMask(mask=np.ones(SKY.shape, bool), geom=SKY, recipe={"kind": "regions"})
    _disk_full(ctx)
    mask.write(ctx.out / "masks" / "exclusion.fits")


def _write_rejections(ctx):
    def write(self, path, *args, **kwargs):
        Path(path).write_text("# %ECSV 1.0\n# ---\n# datatype:\n")
        raise OSError(errno.ENOSPC, "No space left on device")

    ctx.monkeypatch.setattr(Table, "write", write)
    rejection = Rejection(obs_id=1, stage="irf", reason="obs 1: x", error="IrfError")
    write_rejections([rejection], ctx.out / "tables" / "rejected_observations.ecsv")


def _write_sidecar(ctx):
    prov = Provenance.create(rule="plot")

    def write_text(self, *args, **kwargs):
        with open(self, "w") as fh:
            fh.write('{"format": 1, "rule": ')
        raise OSError(errno.ENOSPC, "No space left on device")

    ctx.monkeypatch.setattr(Path, "write_text", write_text)
    prov.to_sidecar(ctx.out / "plots" / "counts.png")


def _provenance_missing_input(ctx):
    Provenance.create(
        rule="reduce_observation",
        inputs=[ctx.store / "data" / "nope.fits.gz"],
        checksum_cache=ctx.out / "cache",
    )


def _provenance_bad_parameter(ctx):
    Provenance.create(rule="stack", parameters={"geom": {"frames": {"icrs", "galactic"}}})


# ----------------------------------------------------------------------- the catalogue

STORE = {}  # an intact copy of the observation
DL3 = [
    Case(
        "events-truncated",
        _job,
        BadObservationError,
        _bad_obs("events", "CorruptFileError", "not a valid gzip file .corrupt or truncated"),
        store={"raw": _truncate_gzip},
    ),
    Case(
        "fits-truncated",
        _job,
        BadObservationError,
        _bad_obs("events", "CorruptFileError", "truncated or corrupt: File may have been trunc"),
        store={"raw": _truncate_fits},
    ),
    Case(
        "dl3-file-not-fits",
        _job,
        BadObservationError,
        _bad_obs("events", "CorruptFileError", "is not a valid FITS file"),
        store={"raw": lambda raw: gzip.compress(b"hello, not FITS\n" * 300)},
    ),
    Case(
        "dl3-file-missing",
        _job,
        BadObservationError,
        _bad_obs(
            "events",
            "MissingFileError",
            r"file .*nope\.fits\.gz referenced by the HDU index .*hdu-index\.fits\.gz "
            f"for obs_id {OBS} .events. does not exist",
            names_file=False,
        ),
        store={"hdu_index": _missing_file},
    ),
    Case(
        "events-hdu-missing",
        _job,
        BadObservationError,
        _bad_obs(
            "events", "MissingHDUError", f"HDU 'events' .events, events. of obs_id {OBS} is not in"
        ),
        store={"hdus": _drop_hdu("EVENTS")},
    ),
    Case(
        "aeff-hdu-missing",
        _job,
        BadObservationError,
        _bad_obs("irf", "MissingHDUError", f"HDU 'aeff' .aeff, aeff_2d. of obs_id {OBS} is not in"),
        store={"hdus": _drop_hdu("AEFF")},
    ),
    Case(
        "events-missing-column",
        _job,
        BadObservationError,
        _bad_obs("events", "InvalidHDUError", r"\[events\] .obs 23523, events. has no ENERGY col"),
        store={"hdus": _drop_column("EVENTS", "ENERGY")},
    ),
    Case(
        "events-energy-wrong-unit",
        _job,
        BadObservationError,
        _bad_obs("events", "InvalidHDUError", "column ENERGY of .* has unit 'deg', not convert"),
        store={"hdus": _column_unit("EVENTS", "ENERGY", "deg")},
    ),
    Case(
        "events-empty",
        _job,
        BadObservationError,
        _bad_obs("reduce", "ReductionError", "the event list is empty", names_file=False),
        store={"hdus": _empty_events},
    ),
    Case(
        "livetime-zero",
        _job,
        BadObservationError,
        _bad_obs(
            "reduce", "ReductionError", "LIVETIME must be positive, got 0.0", names_file=False
        ),
        store={"hdus": _events_header(LIVETIME=0.0)},
    ),
    Case(
        "pointing-outside-geometry",
        _job,
        BadObservationError,
        _bad_obs(
            "reduce",
            "ReductionError",
            "pointing 250 -40 is outside the analysis geometry",
            names_file=False,
        ),
        store={
            "hdus": _events_header(RA_PNT=250.0, DEC_PNT=-40.0),
            "obs_index": _index_pointing(250.0, -40.0),
        },
    ),
    Case(
        "pointing-missing",
        _job,
        BadObservationError,
        _bad_obs(
            "metadata",
            "InvalidHDUError",
            r"no RA_PNT/DEC_PNT in the events header .* nor in the obs index .*obs-index\.fits",
        ),
        store={
            "hdus": _events_header(RA_PNT=None, DEC_PNT=None),
            "obs_index": _no_pointing_in_index,
        },
    ),
    Case(
        "aeff-nan-filled",
        _job,
        BadObservationError,
        _bad_obs("irf", "IrfError", r"\[aeff\] .obs 23523, aeff.: column 'EFFAREA' has no finite"),
        store={"hdus": _nan("AEFF", "EFFAREA")},
    ),
    Case(
        "bkg-nan-filled",
        _job,
        BadObservationError,
        _bad_obs("irf", "IrfError", r"\[bkg\] .obs 23523, bkg.: column 'BKG' has no finite"),
        store={"hdus": _nan("BKG", "BKG")},
    ),
    Case(
        "edisp-nan-filled",
        _job,
        BadObservationError,
        _bad_obs("irf", "IrfError", r"\[edisp\] .obs 23523, edisp.: column 'MATRIX' has no fin"),
        store={"hdus": _nan("EDISP", "MATRIX")},
    ),
    Case(
        "aeff-effarea-wrong-unit",
        _job,
        BadObservationError,
        _bad_obs("irf", "IrfError", r"\[aeff\] .obs 23523, aeff.: column 'EFFAREA'.*TeV"),
        store={"hdus": _column_unit("AEFF", "EFFAREA", "TeV")},
    ),
    Case(
        # a missing HDUCLAS4 is fine (the HDU index names the class); a contradicting
        # HDUCLAS2 is not
        "aeff-hduclas2-contradicts-the-index",
        _job,
        BadObservationError,
        _bad_obs(
            "irf",
            "IrfError",
            r"\[aeff\] .obs 23523, aeff.: the HDU index says HDU class 'aeff_2d', but "
            r"HDUCLAS2 is 'EDISP'",
        ),
        store={"hdus": _header("AEFF", HDUCLAS4=None, HDUCLAS2="EDISP")},
    ),
    Case(
        "bkg-fovalign-unknown",
        _job,
        BadObservationError,
        _bad_obs("irf", "IrfError", r"\[bkg\] .obs 23523, bkg.: unsupported FOVALIGN 'SIDEWAYS'"),
        store={"hdus": _header("BKG", FOVALIGN="SIDEWAYS")},
    ),
    Case(
        "gti-missing-column",
        _job,
        BadObservationError,
        _bad_obs("gti", "InvalidHDUError", r"\[gti\] .obs 23523, gti. has no STOP column"),
        store={"hdus": _drop_column("GTI", "STOP")},
    ),
    Case(
        "hdu-index-unsupported-class",
        _job,
        BadObservationError,
        _bad_obs("irf", "UnsupportedHDUClassError", "HDU_CLASS 'aeff_3d', which is not supp"),
        store={"hdu_index": _set_class},
    ),
    Case(
        "hdu-index-duplicate-events-row",
        _job,
        BadObservationError,
        _bad_obs(
            "events", "AmbiguousHDUError", f"obs_id {OBS} has 2 HDU index rows of type 'events'"
        ),
        store={"hdu_index": _duplicate_events_row},
    ),
]

#: Impossible DL3 content: rejected by a named check of the validation, with its numbers
#: (the observation has 7613 events).
QUALITY = [
    Case(
        "events-energy-nan-10-percent",
        _job,
        BadObservationError,
        _quality(
            r"762 of 7613 \(10 %\) events have a non-finite or non-positive ENERGY, "
            r"more than the 0\.1 % allowed",
            "events_energy",
        ),
        store={"hdus": _values("EVENTS", "ENERGY", _setitem(slice(None, None, 10), np.nan))},
    ),
    Case(
        "events-energy-all-negative",
        _job,
        BadObservationError,
        _quality(
            r"7613 of 7613 \(100 %\) events have a non-finite or non-positive", "events_energy"
        ),
        store={"hdus": _values("EVENTS", "ENERGY", _scale(-1.0))},
    ),
    Case(
        "events-ra-nan",
        _job,
        BadObservationError,
        _quality(r"762 of 7613 \(10 %\) events have a non-finite RA, or a DEC", "events_direction"),
        store={"hdus": _values("EVENTS", "RA", _setitem(slice(None, None, 10), np.nan))},
    ),
    Case(
        "events-dec-inf",
        _job,
        BadObservationError,
        _quality(r"762 of 7613 \(10 %\) events have a non-finite RA", "events_direction"),
        store={"hdus": _values("EVENTS", "DEC", _setitem(slice(None, None, 10), np.inf))},
    ),
    Case(
        "events-dec-plus-200-deg",
        _job,
        BadObservationError,
        _quality(
            r"7613 of 7613 \(100 %\) events have a non-finite RA, or a DEC not finite or "
            r"outside \[-90, 90\] deg",
            "events_direction",
        ),
        store={"hdus": _values("EVENTS", "DEC", _shift(200.0))},
    ),
    Case(
        "events-time-outside-gti",
        _job,
        BadObservationError,
        _quality(
            r"762 of 7613 \(10 %\) events have a TIME not finite or outside the GTI",
            "events_time",
        ),
        store={"hdus": _values("EVENTS", "TIME", _setitem(slice(None, None, 10), 0.0))},
    ),
    Case(
        "gti-does-not-overlap-events",
        _job,
        BadObservationError,
        _quality(
            r"none of the 7613 events lies inside the GTI \(1\.23891e\+08\.\.1\.23893e\+08 s; "
            r"events 1\.24891e\+08\.\.1\.24893e\+08 s; tolerance 1 s\)",
            "gti_overlap",
        ),
        store={"hdus": _values("EVENTS", "TIME", _shift(1e6))},
    ),
    Case(
        "gti-empty",
        _job,
        BadObservationError,
        _quality("the GTI table has no interval", "gti_valid"),
        store={"hdus": _empty_gti},
    ),
    Case(
        "gti-reversed",
        _job,
        BadObservationError,
        _quality(r"1 of 1 \(100 %\) GTI intervals are non-finite or end before", "gti_valid"),
        store={"hdus": _values("GTI", "STOP", _shift(-1e4))},
    ),
    Case(
        "livetime-above-ontime",
        _job,
        BadObservationError,
        _quality(
            r"LIVETIME = 1e\+07 s exceeds ONTIME = 1687 s \(ratio 5928, tolerance 0\.001\)",
            "livetime_ontime",
        ),
        store={"hdus": _events_header(LIVETIME=1e7, DEADC=None)},
    ),
    Case(
        "deadc-contradicts-livetime",
        _job,
        BadObservationError,
        _quality(r"DEADC = 0\.5, but LIVETIME / ONTIME = 1581\.74 / 1687 = 0\.937603", "deadc"),
        store={"hdus": _events_header(DEADC=0.5)},
    ),
    Case(
        "pointing-header-contradicts-obs-index",
        _job,
        BadObservationError,
        _quality(
            r"the events header points at RA 83\.633, Dec 23\.514 deg, the obs index at RA "
            r"83\.633, Dec 21\.514 deg: 2 deg apart \(tolerance 0\.01 deg\)",
            "pointing_index",
        ),
        store={"hdus": _events_header(DEC_PNT=23.514)},
    ),
    Case(
        "aeff-all-zero",
        _job,
        BadObservationError,
        _quality(r"aeff: all \d+ values the geometry uses are zero", "irf_all_zero"),
        store={"hdus": _values("AEFF", "EFFAREA", _scale(0.0))},
    ),
    Case(
        "aeff-negative",
        _job,
        BadObservationError,
        _quality(r"aeff: \d+ of \d+ .* are negative \(down to -", "irf_negative"),
        store={"hdus": _values("AEFF", "EFFAREA", _setitem((slice(None), slice(40, 50)), -1e5))},
    ),
    Case(
        "aeff-nan-in-some-energy-bins",
        _job,
        BadObservationError,
        _quality(r"aeff: 60 of \d+ \(.* %\) of the values the geometry uses are NaN", "irf_finite"),
        store={"hdus": _values("AEFF", "EFFAREA", _setitem((slice(None), slice(40, 50)), np.nan))},
    ),
    Case(
        "edisp-all-zero",
        _job,
        BadObservationError,
        _quality(r"edisp: all \d+ values the geometry uses are zero", "irf_all_zero"),
        store={"hdus": _values("EDISP", "MATRIX", _scale(0.0))},
    ),
    Case(
        "edisp-not-normalisable",
        _job,
        BadObservationError,
        _quality(
            r"edisp: at .* nodes the geometry uses the probability integrates over migra to "
            r"more than 1 \(up to",
            "irf_normalisation",
        ),
        store={"hdus": _values("EDISP", "MATRIX", _scale(10.0))},
    ),
    Case(
        "psf-all-zero",
        _job,
        BadObservationError,
        _quality(r"psf: all \d+ values the geometry uses are zero", "irf_all_zero"),
        store={"hdus": _values("PSF", "RPSF", _scale(0.0))},
    ),
    Case(
        "bkg-negative",
        _job,
        BadObservationError,
        _quality(r"bkg: \d+ of \d+ .* are negative", "irf_negative"),
        store={"hdus": _values("BKG", "BKG", _setitem(slice(0, 10), -1e-3))},
    ),
    Case(
        "bkg-all-zero",
        _job,
        BadObservationError,
        _quality(r"bkg: all \d+ values the geometry uses are zero", "irf_all_zero"),
        store={"hdus": _values("BKG", "BKG", _scale(0.0))},
    ),
    Case(
        "bkg-nan-in-some-energy-bins",
        _job,
        BadObservationError,
        _quality(r"bkg: \d+ of \d+ .* NaN or infinite", "irf_finite"),
        store={"hdus": _values("BKG", "BKG", _setitem(slice(5, 7), np.nan))},
    ),
]

INDEX = [
    Case(
        "obs-index-missing",
        _open_store,
        MissingIndexError,
        r"no obs index file in {store} \(looked for obs-index\.fits\.gz or obs-index\.fits\)",
        store=STORE,
        prepare=_remove_index("obs"),
    ),
    Case(
        "hdu-index-missing-column",
        _open_store,
        IndexFormatError,
        r"HDU index file {store}/hdu-index\.fits\.gz lacks required column\(s\) FILE_NAME",
        store={"hdu_index": _drop_index_column("FILE_NAME")},
    ),
    Case(
        "hdu-index-truncated",
        _open_store,
        CorruptFileError,
        r"HDU index file {store}/hdu-index\.fits\.gz is not a valid gzip file",
        store=STORE,
        prepare=_truncated_index("hdu"),
    ),
    Case(
        "obs-index-not-fits",
        _open_store,
        CorruptFileError,
        r"obs index file {store}/obs-index\.fits\.gz is not a valid FITS file",
        store=STORE,
        prepare=_garbage_index("obs"),
    ),
    Case(
        "obs-index-duplicate-obs-id",
        _open_store,
        IndexFormatError,
        r"obs index file {store}/obs-index\.fits\.gz lists obs_id 23523 more than once",
        store={"obs_index": _duplicate_obs},
    ),
    Case(
        "obs-index-non-integer-obs-id",
        _open_store,
        IndexFormatError,
        r"obs index file {store}/obs-index\.fits\.gz has non-integer OBS_ID values",
        store={"obs_index": _float_obs_id},
    ),
]

REGIONS = [
    Case(
        "region-unparsable",
        _regions(strings=["icrs;circle(83.6,22.0"]),
        ExclusionError,
        rf"{KEY}\.exclusion\.regions\[0\]: cannot parse 'icrs;circle\(83\.6,22\.0' as ds9",
    ),
    Case(
        "region-unknown-shape",
        _regions(strings=["icrs;circle(83.6,22,0.3)", "icrs;blob(1,2,3)"]),
        ExclusionError,
        rf"{KEY}\.exclusion\.regions\[1\]: cannot parse 'icrs;blob\(1,2,3\)' as ds9 regions",
    ),
    Case(
        "region-pixel-coordinates",
        _regions(strings=["image;circle(10,10,3)"]),
        ExclusionError,
        rf"{KEY}\.exclusion\.regions\[0\]: .* gives a pixel region \(CirclePixelRegion\)",
    ),
    Case(
        "region-point-no-area",
        _regions(strings=["icrs;point(83.6,22.0)"]),
        ExclusionError,
        rf"{KEY}\.exclusion\.regions\[0\]: .* gives a PointSkyRegion, which has no area",
    ),
    Case(
        "region-polygon-two-vertices",
        _regions(strings=["icrs;polygon(83,22,84,22)"]),
        ExclusionError,
        rf"{KEY}\.exclusion\.regions\[0\]: .* gives a PolygonSkyRegion with 2 vertices",
    ),
    Case(
        "region-negative-radius",
        _regions(strings=["fk5;circle(83.6,22,-1)"]),
        ExclusionError,
        rf"{KEY}\.exclusion\.regions\[0\]: .*'radius' must be strictly positive",
    ),
    Case(
        "region-exclude-flag",
        _regions(strings=["icrs;-circle(83.6,22,0.3)"]),
        ExclusionError,
        rf"{KEY}\.exclusion\.regions\[0\]: .* has a ds9 exclude \('-'\) region",
    ),
    Case(
        "region-file-missing",
        _regions(files=["nope.reg"]),
        ExclusionError,
        rf"{KEY}\.exclusion\.region_files\[0\]: region file '{{inputs}}/nope\.reg' does not exist",
    ),
    Case(
        "region-file-unparsable",
        _regions(files=["bad.reg"]),
        ExclusionError,
        rf"{KEY}\.exclusion\.region_files\[0\]: cannot parse region file '{{inputs}}/bad\.reg'",
        prepare=_write_input("bad.reg", b"# Region file format: DS9\nhello world\n"),
    ),
    Case(
        "region-file-empty",
        _regions(files=["empty.reg"]),
        ExclusionError,
        rf"{KEY}\.exclusion\.region_files\[0\]: region file '{{inputs}}/empty\.reg' contains no",
        prepare=_write_input("empty.reg", b"# Region file format: DS9\nfk5\n"),
    ),
    Case(
        # a path to the wrong (text) file: refused, and its content is not echoed
        "region-file-not-a-region-file",
        _regions(files=["notes.txt"]),
        ExclusionError,
        rf"^(?!.*SECRET){KEY}\.exclusion\.region_files\[0\]: cannot parse region file "
        rf"'{{inputs}}/notes\.txt' as ds9 regions: .*its content is not repeated here$",
        prepare=_write_input("notes.txt", b"password: SECRET-1234\nSECRET line two\n"),
    ),
    Case(
        "region-file-is-fits",
        _regions(files=["image.fits"]),
        ExclusionError,
        rf"^(?!.*SIMPLE){KEY}\.exclusion\.region_files\[0\]: cannot read region file "
        rf"'{{inputs}}/image\.fits': binary data, not a ds9 region file$",
        prepare=_write_input(
            "image.fits", fits.PrimaryHDU(np.zeros((4, 4))).header.tostring().encode()
        ),
    ),
    Case(
        "region-file-binary",
        _regions(files=["binary.reg"]),
        ExclusionError,
        rf"{KEY}\.exclusion\.region_files\[0\]: cannot read region file '{{inputs}}/binary\.reg'",
        prepare=_write_input("binary.reg", b"\xff\xfe\x00\x01"),
    ),
]

CATALOGS = [
    Case(
        "catalog-missing",
        _catalog(name="nope.ecsv"),
        CatalogError,
        rf"{KEY}\.exclusion\.catalogs\[0\]: catalog file '{{inputs}}/nope\.ecsv' does not exist",
    ),
    Case(
        "catalog-missing-column",
        _catalog(),
        CatalogError,
        rf"{KEY}\.exclusion\.catalogs\[0\]: catalog '{{inputs}}/catalog\.ecsv' has no column "
        r"'ra' \(configured as lon\)",
        prepare=_catalog_file(lambda t: t.remove_column("ra")),
    ),
    Case(
        "catalog-position-wrong-unit",
        _catalog(),
        CatalogError,
        rf"{KEY}\.exclusion\.catalogs\[0\]: column 'ra' has unit TeV, expected an angle",
        prepare=_catalog_file(lambda t: setattr(t["ra"], "unit", u.TeV)),
    ),
    Case(
        "catalog-position-not-numeric",
        _catalog(),
        CatalogError,
        rf"{KEY}\.exclusion\.catalogs\[0\]: column 'dec' is not numeric",
        prepare=_catalog_file(lambda t: t.replace_column("dec", t["source_name"])),
    ),
    Case(
        "catalog-unreadable",
        _catalog(),
        CatalogError,
        rf"{KEY}\.exclusion\.catalogs\[0\]: cannot read catalog '{{inputs}}/catalog\.ecsv'",
        prepare=_write_input("catalog.ecsv", b"# %ECSV 1.0\n# ---\n# datatype: [\n"),
    ),
    Case(
        "catalog-cut-column-missing",
        _catalog(cuts={"sqrt_ts": 5}),
        CatalogError,
        rf"{KEY}\.exclusion\.catalogs\[0\]: catalog .*catalog\.ecsv' has no column 'sqrt_ts' "
        r"\(configured as cuts\.sqrt_ts\)",
        prepare=_catalog_file(),
    ),
    Case(
        "catalog-table-without-columns",
        _catalog(kind="table"),
        CatalogError,
        rf"{KEY}\.exclusion\.catalogs\[0\]\.columns: a 'table' catalog needs the column role",
        prepare=_catalog_file(),
    ),
]

CONFIG_CASES = [
    Case(
        "config-binsz-wrong-unit",
        _config("geom.binsz", "0.02 TeV"),
        ConfigError,
        rf"^{KEY}\.geom\.binsz: expected an angle, got '0\.02 TeV'",
    ),
    Case(
        "config-width-without-unit",
        _config("geom.width", "5"),
        ConfigError,
        rf"^{KEY}\.geom\.width: expected an angle with a unit",
    ),
    Case(
        "config-binsz-unparsable",
        _config("geom.binsz", "abc deg"),
        ConfigError,
        rf"^{KEY}\.geom\.binsz: cannot read 'abc deg' as an angle",
    ),
    Case(
        "config-cut-wrong-unit",
        _config("selection", {"cuts": {"ZEN_PNT": {"max": "40 TeV"}}}),
        ConfigError,
        rf"^{KEY}\.selection\.cuts\.ZEN_PNT\.max: expected an angle, got '40 TeV'",
    ),
    Case(
        "config-offset-max-negative",
        _config("offset_max", "-1 deg"),
        ConfigError,
        rf"^{KEY}\.offset_max: must be positive, got '-1 deg'",
    ),
    Case(
        "config-offset-max-nan",
        _config("offset_max", "nan deg"),
        ConfigError,
        rf"^{KEY}\.offset_max: expected a finite value, got 'nan deg'",
    ),
    Case(
        "config-energy-min-above-max",
        _config("geom.energy.min", "20 TeV"),
        ConfigError,
        rf"^{KEY}\.geom\.energy: 'min' '20 TeV' must be below 'max' '10 TeV'",
    ),
    Case(
        "config-energy-nbin-zero",
        _config("geom.energy.nbin", 0),
        ConfigError,
        rf"^{KEY}\.geom\.energy\.nbin: expected an integer >= 1, got 0",
    ),
    Case(
        "config-frame-unknown",
        _config("geom.frame", "fk4"),
        ConfigError,
        rf"^{KEY}\.geom\.frame: expected one of icrs, galactic, got 'fk4'",
    ),
    Case(
        "config-latitude-out-of-range",
        _config("geom.center.lat", "95 deg"),
        ConfigError,
        rf"^{KEY}\.geom\.center\.lat: must be within \[-90, 90\] deg, got '95 deg'",
    ),
    Case(
        "config-geom-missing",
        _config("geom", ...),
        ConfigError,
        rf"^{KEY}: missing key 'geom'",
    ),
    Case(
        "config-unknown-key",
        _config("offset_maximum", "2 deg"),
        ConfigError,
        rf"^{KEY}: unknown key\(s\) 'offset_maximum'",
    ),
    Case(
        "config-safe-mask-unknown-method",
        _config("safe_mask", {"methods": ["aeff-default", "magic"]}),
        ConfigError,
        rf"^{KEY}\.safe_mask\.methods\[1\]: unknown method 'magic'",
    ),
    Case(
        "config-obs-ids-duplicate",
        _config("selection", {"obs_ids": [23523, 23523]}),
        ConfigError,
        rf"^{KEY}\.selection\.obs_ids: duplicate observation ids",
    ),
    Case(
        "config-geometry-exceeds-memory",
        _config("geom.binsz", "0.0001 deg"),
        ConfigError,
        rf"^{KEY}\.geom\.width / {KEY}\.geom\.binsz: '3 deg' at '0\.0001 deg' is 900,000,000 "
        r"pixels x 5 energy planes, estimated [\d,]+ MB for the stacking and map jobs "
        r"\(dl3flow\.config\.resources\), more than this machine's [\d,]+ MB",
    ),
    Case(
        "config-quality-unknown-check",
        _config("quality", {"checks": {"livetime": "warn"}}),
        ConfigError,
        rf"^{KEY}\.quality\.checks: unknown key\(s\) 'livetime'",
    ),
    Case(
        "config-quality-unknown-policy",
        _config("quality", {"checks": {"irf_finite": "repair"}}),
        ConfigError,
        rf"^{KEY}\.quality\.checks\.irf_finite: expected one of reject, warn, ignore, got 'repair'",
    ),
    Case(
        "config-quality-tolerance-wrong-unit",
        _config("quality", {"time_tolerance": "1 deg"}),
        ConfigError,
        rf"^{KEY}\.quality\.time_tolerance: expected a time, got '1 deg'",
    ),
    Case(
        "config-edisp-not-boolean",
        _config("edisp", "yes"),
        ConfigError,
        rf"^{KEY}\.edisp: expected true or false, got 'yes'",
    ),
]

WRITERS = [
    Case(
        "write-dataset-disk-full",
        _write_dataset,
        OSError,
        "No space left on device",
    ),
    Case(
        "write-dataset-meta-not-fits",
        _write_dataset_bad_meta,
        DatasetError,
        "meta key 'TOO_LONG_KEY' is not a FITS keyword",
    ),
    Case(
        "write-safe-mask-disk-full",
        _write_safe_mask,
        OSError,
        "No space left on device",
    ),
    Case(
        "write-exclusion-disk-full",
        _write_exclusion,
        OSError,
        "No space left on device",
    ),
    Case(
        "write-rejection-table-disk-full",
        _write_rejections,
        OSError,
        "No space left on device",
    ),
    Case(
        "write-provenance-sidecar-disk-full",
        _write_sidecar,
        OSError,
        "No space left on device",
    ),
    Case(
        "provenance-input-missing",
        _provenance_missing_input,
        ProvenanceError,
        r"input file {store}/data/nope\.fits\.gz does not exist",
        store=STORE,
    ),
    Case(
        "provenance-parameter-not-json",
        _provenance_bad_parameter,
        ProvenanceError,
        r"parameters\.geom\.frames: set .* has no canonical JSON form",
    ),
]

CASES = DL3 + QUALITY + INDEX + REGIONS + CATALOGS + CONFIG_CASES + WRITERS


def _snapshot(directory: Path) -> dict[str, str]:
    """Every file below ``directory`` with its SHA-256."""
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def test_catalogue_is_large_and_ids_are_unique():
    ids = [case.id for case in CASES]
    assert len(ids) >= 25
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(case, request, tmp_path, monkeypatch):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    out = tmp_path / "results"
    out.mkdir()
    store = None
    if case.store is not None:
        store = request.getfixturevalue("hess_obs_copy")("inputs/store", **case.store)
    ctx = SimpleNamespace(store=store, inputs=inputs, out=out, monkeypatch=monkeypatch)
    if case.prepare is not None:
        case.prepare(ctx)
    before = _snapshot(inputs)
    paths = {"store": store, "inputs": inputs, "out": out}
    pattern = case.match.format_map({k: re.escape(str(v)) for k, v in paths.items()})

    with pytest.raises(case.error, match=pattern):
        case.run(ctx)

    monkeypatch.undo()
    assert _snapshot(inputs) == before, "an input was modified"
    assert _snapshot(out) == {}, "an output file was left behind"


# ----------------------------------------------------------------------- outcomes, not errors


def _skip_job(ctx, **quality):
    """The per-observation job with on_bad_observation: skip (and a quality section)."""
    config = copy.deepcopy(CONFIG)
    if quality:
        config["analyses"]["crab"]["quality"] = quality
    cfg = analysis_config(config, "crab")
    store = DataStore.from_dir(ctx.store)
    obs_dir = ctx.out / "obs" / str(OBS)
    result = reduce_to_files(
        store.observation,
        obs_id=OBS,
        dataset_path=obs_dir / "dataset.fits",
        status_path=obs_dir / "status.json",
        on_bad_observation="skip",
        geom=cfg.geom,
        offset_max=cfg.offset_max.to_value("deg"),
        quality=cfg.quality,
    )
    return result, obs_dir


def _check_of(case: Case) -> str:
    return re.search(r"check (\w+)", case.match).group(1)


@pytest.mark.parametrize("case", QUALITY, ids=[case.id for case in QUALITY])
def test_quality_rejection_row(case, hess_obs_copy, tmp_path):
    """With on_bad_observation: skip the same input gives the rejection row, by check."""
    from dl3flow.datasets.rejection import rejection_of
    from dl3flow.workflow.rejection import read_rejections, read_status, rejections_table

    store = hess_obs_copy("store", **case.store)
    ctx = SimpleNamespace(store=store, out=tmp_path / "results")
    result, obs_dir = _skip_job(ctx)
    check = _check_of(case)
    assert isinstance(result, Rejection)
    assert (result.stage, result.check, result.error) == ("quality", check, "QualityError")
    assert read_status(obs_dir / "status.json") == result
    written = read_dataset(obs_dir / "dataset.fits")
    assert rejection_of(written.meta) == result
    assert written.meta["REJCHECK"] == check and not written.mask_safe.any()
    path = write_rejections([result], ctx.out / "tables" / "rejected_observations.ecsv")
    assert list(rejections_table([result])["CHECK"]) == [check]
    assert read_rejections(path) == [result]


#: Defects a careful analyst keeps, with a warning: (id, corruption, quality section,
#: check, message pattern, events dropped).
WARNED = [
    (
        "events-energy-nan-two-events",
        {"hdus": _values("EVENTS", "ENERGY", _setitem([5, 500], np.nan))},
        {},
        "events_energy",
        r"^obs 23523: 2 of 7613 \(0\.0263 %\) events have a non-finite or non-positive "
        r"ENERGY: dropped \(at most 0\.1 % may be\)$",
        2,
    ),
    (
        "events-time-outside-gti-three-events",
        {"hdus": _values("EVENTS", "TIME", _setitem([0, 1, 2], 0.0))},
        {},
        "events_time",
        r"^obs 23523: 3 of 7613 \(0\.0394 %\) events have a TIME not finite or outside the "
        r"GTI and TSTART\.\.TSTOP: dropped \(at most 0\.1 % may be\)$",
        3,
    ),
    (
        "events-energy-nan-10-percent-policy-warn",
        {"hdus": _values("EVENTS", "ENERGY", _setitem(slice(None, None, 10), np.nan))},
        {"checks": {"events_energy": "warn"}},
        "events_energy",
        r"^obs 23523: 762 of 7613 \(10 %\) events have a non-finite or non-positive ENERGY: "
        r"dropped$",
        762,
    ),
    (
        "pointing-header-contradicts-obs-index-policy-warn",
        {"hdus": _events_header(DEC_PNT=21.534)},
        {"checks": {"pointing_index": "warn"}},
        "pointing_index",
        r"^obs 23523: the events header points at RA 83\.633, Dec 21\.534 deg, the obs index "
        r"at RA 83\.633, Dec 21\.514 deg: 0\.01956 deg apart \(tolerance 0\.01 deg\)$",
        0,
    ),
]


@pytest.mark.parametrize(
    ("corrupt", "quality", "check", "pattern", "n_dropped"),
    [case[1:] for case in WARNED],
    ids=[case[0] for case in WARNED],
)
def test_quality_warning_row(corrupt, quality, check, pattern, n_dropped, hess_obs_copy, tmp_path):
    """The observation is kept; the warning is in its status (the QA table's row)."""
    from dl3flow.workflow.rejection import notes_table, read_status, read_status_notes

    ctx = SimpleNamespace(store=hess_obs_copy("store", **corrupt), out=tmp_path / "results")
    result, obs_dir = _skip_job(ctx, **quality)
    assert isinstance(result, MapDataset)
    assert read_status(obs_dir / "status.json") is None
    notes = read_status_notes(obs_dir / "status.json")
    assert [note.check for note in notes] == [check]
    assert re.search(pattern, notes[0].message), notes[0].message
    assert list(notes_table(notes)["CHECK"]) == [check]
    written = read_dataset(obs_dir / "dataset.fits")
    assert written.meta["NEVDROP"] == n_dropped
    assert written.meta["N_EVENTS"] == 7613 - n_dropped


def test_nan_aeff_kept_by_policy_warn_is_set_to_zero_and_said(hess_obs_copy, tmp_path):
    from dl3flow.workflow.rejection import read_status_notes

    corrupt = {"hdus": _values("AEFF", "EFFAREA", _setitem((slice(None), slice(40, 50)), np.nan))}
    ctx = SimpleNamespace(store=hess_obs_copy("store", **corrupt), out=tmp_path / "results")
    result, obs_dir = _skip_job(ctx, checks={"irf_finite": "warn"})
    notes = read_status_notes(obs_dir / "status.json")
    assert [(n.check, n.message) for n in notes] == [
        (
            "irf_finite",
            "obs 23523: aeff: 60 of 240 (25 %) of the values the geometry uses are NaN or "
            "infinite: set to 0",
        )
    ]
    assert np.isfinite(result.exposure).all()
    assert read_dataset(obs_dir / "dataset.fits").meta["IRFNFIX"] == 60


def test_status_file_carries_provenance(hess_obs_copy, tmp_path):
    from dl3flow.io.provenance import read_provenance

    store = DataStore.from_dir(hess_obs_copy("store"))
    cfg = analysis_config(CONFIG, "crab")
    obs_dir = tmp_path / "obs" / str(OBS)
    reduce_to_files(
        store.observation,
        obs_id=OBS,
        dataset_path=obs_dir / "dataset.fits",
        status_path=obs_dir / "status.json",
        provenance=lambda: Provenance.create(rule="reduce_observation", obs_ids=[OBS]),
        geom=cfg.geom,
        offset_max=cfg.offset_max.to_value("deg"),
    )
    prov = read_provenance(obs_dir / "status.json")
    assert (prov.rule, list(prov.obs_ids)) == ("reduce_observation", [OBS])
    assert prov.as_dict() == read_provenance(obs_dir / "dataset.fits").as_dict()


def test_source_name_longer_than_a_plot_is_cut(tmp_path):
    """A 100,000-character source name made a 1.1-million-pixel-wide PNG."""
    from dl3flow.io.atomic import write_figure
    from dl3flow.plotting.maps import plot_significance_map
    from dl3flow.plotting.masks import plot_exclusion
    from dl3flow.plotting.text import LABEL_CHARS

    name = "J0534+220 " + "x" * 100_000
    sources = Table({"NAME": [name], "RA": [83.63], "DEC": [22.01]})
    figures = {
        "exclusion": plot_exclusion(np.ones(SKY.shape, bool), SKY, sources=sources, title=name),
        "significance": plot_significance_map(
            np.zeros(SKY.shape),
            SKY,
            sources=Table({"name": [name], "ra": [83.63], "dec": [22.01]}),
            name=name,
            caption=name,
        ),
    }
    for kind, figure in figures.items():
        texts = [t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text"))]
        assert max(map(len, texts)) <= LABEL_CHARS["caption"] + 40, kind
        assert any(
            t.startswith("J0534+220 xxx") and t.endswith("\N{HORIZONTAL ELLIPSIS}") for t in texts
        )
        path = write_figure(figure, tmp_path / f"{kind}.png")
        width, height = _png_size(path)
        assert width < 1500 and height < 1500, (kind, width, height)  # about 1000 x 850


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[16:24]
    return int.from_bytes(header[:4], "big"), int.from_bytes(header[4:], "big")


def test_killed_simulation_leaves_no_temporary_store_after_resume(tmp_path):
    """The demo store job removes what a SIGKILLed earlier attempt left beside it."""
    from dl3flow.simulate.store import remove_stale_store_temporaries

    resources = tmp_path / "resources"
    store = resources / "demo-dl3"
    stale = [resources / ".demo-dl3.tmp-a1b2c3", resources / ".demo-dl3.old-d4e5f6"]
    for path in stale:
        (path / "data").mkdir(parents=True)
        (path / "data" / "half.fits.gz").write_bytes(b"\x1f\x8b half written")
    other = resources / ".demo-dl3-other.tmp-zzz"  # another store's: not touched
    other.mkdir()
    store.mkdir()
    (store / "obs-index.fits.gz").write_bytes(b"kept")
    assert sorted(remove_stale_store_temporaries(store)) == sorted(stale)
    assert sorted(p.name for p in resources.iterdir()) == [".demo-dl3-other.tmp-zzz", "demo-dl3"]
    assert (store / "obs-index.fits.gz").read_bytes() == b"kept"
    assert remove_stale_store_temporaries(resources / "absent" / "demo-dl3") == []
