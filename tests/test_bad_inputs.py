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
(`dl3flow.rejection.reduce_to_files` with ``on_bad_observation="fail"``).

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
from astropy.io import fits
from astropy.table import Table

from dl3flow.catalogs import CatalogError, CatalogSpec, read_catalog
from dl3flow.config import ConfigError, analysis_config
from dl3flow.dataset import DatasetError, MapDataset
from dl3flow.datastore import (
    CorruptFileError,
    DataStore,
    IndexFormatError,
    MissingIndexError,
)
from dl3flow.exclusion import ExclusionError, ExclusionMask, regions_mask
from dl3flow.fits_header import STRUCTURAL_KEYWORD
from dl3flow.geom import DatasetGeom, EnergyAxis, SkyGeom
from dl3flow.provenance import Provenance, ProvenanceError
from dl3flow.rejection import BadObservationError, Rejection, reduce_to_files, write_rejections
from dl3flow.safe_mask import SafeMask, write_safe_mask

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
    geom = DatasetGeom.create(
        sky=SkyGeom.create(center=(83.6, 22.0), width=(0.5, 0.4), binsz=0.1),
        energy=EnergyAxis(np.array([1.0, 3.0, 10.0])),
        energy_true=EnergyAxis(np.array([0.5, 1.0, 5.0, 20.0]), name="energy_true"),
    )
    ones = np.ones((2, 4, 5))
    return MapDataset(
        geom=geom,
        counts=ones,
        exposure=np.ones((3, 4, 5)),
        background=ones,
        mask_safe=ones.astype(bool),
        name="obs-1",
        meta=meta or {"OBS_ID": 1},
    )


def _disk_full(ctx):
    """Make astropy FITS writes fail half-way, as a full disk does."""

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

CASES = DL3 + INDEX + REGIONS + CATALOGS + CONFIG_CASES + WRITERS


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
