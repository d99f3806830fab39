"""Tests of the data store (dl3flow.data: index, store, observation, observatory) on tiny
synthetic GADF stores (and on H.E.S.S. DL3 DR1)."""

import gzip
import hashlib
import pickle
import re
import sys
import time
import types

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import EarthLocation
from astropy.io import fits
from astropy.table import MaskedColumn, Table
from astropy.time import Time

from dl3flow.data import index as index_module
from dl3flow.data import observation as observation_module
from dl3flow.data import observatory as observatory_module
from dl3flow.data.errors import (
    AmbiguousHDUError,
    CorruptFileError,
    DataStoreError,
    IndexFormatError,
    InvalidHDUError,
    MissingFileError,
    MissingHDUError,
    MissingIndexError,
    UnknownObservationError,
    UnsupportedHDUClassError,
)
from dl3flow.data.observation import EventList
from dl3flow.data.observatory import OBSERVATORY_LOCATIONS
from dl3flow.data.store import DataStore
from dl3flow.irf.aeff import EffectiveArea2D
from dl3flow.irf.axes import IrfError

MJDREFI, MJDREFF = 51910, 0.5

EVENTS_HEADER = {
    "TELESCOP": "HESS",
    "TSTART": 1000.0,
    "TSTOP": 2000.0,
    "MJDREFI": MJDREFI,
    "MJDREFF": MJDREFF,
    "TIMESYS": "TT",
    "TIMEUNIT": "s",
    "ONTIME": 1000.0,
    "LIVETIME": 900.0,
    "DEADC": 0.9,
    "RA_PNT": 83.5,
    "DEC_PNT": 22.5,
    "OBS_MODE": "WOBBLE",
    "GEOLON": 16.5,
    "GEOLAT": -23.25,
    "ALTITUDE": 1800.0,
}


# --------------------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------------------


def events_hdu(obs_id, *, header=None, energy_unit="TeV", drop=(), name="EVENTS"):
    table = Table(
        {
            "EVENT_ID": np.array([1, 2, 3], dtype=np.int64),
            "TIME": np.array([1100.0, 1200.5, 1900.25]) * u.s,
            "RA": np.array([83.0, 84.0, 85.0], dtype=np.float32) * u.deg,
            "DEC": np.array([21.0, 22.0, 23.0], dtype=np.float32) * u.deg,
            "ENERGY": np.array([1.0, 2.0, 4.0], dtype=np.float32) * u.Unit(energy_unit),
        }
    )
    table.remove_columns(list(drop))
    hdu = fits.table_to_hdu(table)
    hdu.name = name
    hdu.header["OBS_ID"] = obs_id
    for key, value in {**EVENTS_HEADER, **(header or {})}.items():
        if value is None:
            hdu.header.remove(key, ignore_missing=True)
        else:
            hdu.header[key] = value
    return hdu


def gti_hdu(start=(1000.0, 1500.0), stop=(1400.0, 2000.0)):
    table = Table({"START": np.array(start) * u.s, "STOP": np.array(stop) * u.s})
    hdu = fits.table_to_hdu(table)
    hdu.name = "GTI"
    hdu.header["MJDREFI"] = MJDREFI
    hdu.header["MJDREFF"] = MJDREFF
    return hdu


def irf_hdu(name, value=1.0):
    hdu = fits.BinTableHDU.from_columns([fits.Column(name="VALUE", format="E", array=[value])])
    hdu.name = name
    return hdu


def write_fits(path, hdus, *, compress=None):
    """Write a FITS file; gzip it when the name ends with .gz (or compress=True)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = fits.HDUList([fits.PrimaryHDU(), *hdus])
    if compress is None:
        compress = path.name.endswith(".gz")
    if compress:
        raw_path = path.with_name(path.name + ".raw")
        buffer.writeto(raw_path)
        path.write_bytes(gzip.compress(raw_path.read_bytes()))
        raw_path.unlink()
    else:
        buffer.writeto(path, overwrite=True)
    return path


def obs_index_table(obs_ids=(1, 2, 3)):
    n = len(obs_ids)
    table = Table(
        {
            "OBS_ID": np.array(obs_ids, dtype=np.int64),
            "RA_PNT": np.full(n, 83.25) * u.deg,
            "DEC_PNT": np.full(n, 22.25) * u.deg,
            "ZEN_PNT": np.linspace(20.0, 40.0, n) * u.deg,
            "ONTIME": np.full(n, 1200.0) * u.s,
            "LIVETIME": np.full(n, 1000.0) * u.s,
            "DEADC": np.full(n, 0.8),
            "TSTART": np.full(n, 1000.0) * u.s,
            "TSTOP": np.full(n, 2200.0) * u.s,
            "OBJECT": np.array(["Crab"] * n),
        }
    )
    table.meta.update({"MJDREFI": MJDREFI, "MJDREFF": MJDREFF, "TIMESYS": "TT"})
    return table


HDU_ROWS = [
    # obs 1: events, gti, aeff in its own file; psf and bkg in a shared IRF file
    (1, "events", "events", "data", "obs_000001.fits.gz", "EVENTS"),
    (1, "gti", "gti", "data", "obs_000001.fits.gz", "GTI"),
    (1, "aeff", "aeff_2d", "data", "obs_000001.fits.gz", "AEFF"),
    (1, "psf", "psf_table", "irf", "shared.fits", "PSF"),
    (1, "bkg", "bkg_3d", "irf", "shared.fits", "BKG"),
    # obs 2: no bkg
    (2, "events", "events", "data", "obs_000002.fits.gz", "events"),
    (2, "gti", "gti", "data", "obs_000002.fits.gz", "gti"),
    (2, "aeff", "aeff_2d", "data", "obs_000002.fits.gz", "aeff"),
    (2, "psf", "psf_table", "irf", "shared.fits", "PSF"),
    # obs 4: only in the HDU index
    (4, "events", "events", "data", "obs_000004.fits.gz", "EVENTS"),
]


def hdu_index_table(rows=HDU_ROWS, *, meta=None):
    columns = list(zip(*rows, strict=True))
    table = Table(
        {
            "OBS_ID": np.array(columns[0], dtype=np.int64),
            "HDU_TYPE": np.array(columns[1]),
            "HDU_CLASS": np.array(columns[2]),
            "FILE_DIR": np.array(columns[3]),
            "FILE_NAME": np.array(columns[4]),
            "HDU_NAME": np.array(columns[5]),
        }
    )
    table.meta.update(meta or {})
    return table


def write_index(path, table, extname):
    hdu = fits.table_to_hdu(table)
    hdu.name = extname
    return write_fits(path, [hdu])


def make_store(root, *, hdu_rows=HDU_ROWS, hdu_meta=None, obs_ids=(1, 2, 3), data=True):
    """Write a synthetic store into ``root`` and return ``root``."""
    write_index(root / "obs-index.fits.gz", obs_index_table(obs_ids), "OBS_INDEX")
    write_index(root / "hdu-index.fits.gz", hdu_index_table(hdu_rows, meta=hdu_meta), "HDU_INDEX")
    if data:
        write_fits(
            root / "data" / "obs_000001.fits.gz",
            [events_hdu(1), gti_hdu(), irf_hdu("AEFF", 1.0)],
        )
        write_fits(
            root / "data" / "obs_000002.fits.gz",
            [
                events_hdu(2, header={"RA_PNT": None, "DEC_PNT": None}),
                gti_hdu(),
                irf_hdu("AEFF", 2.0),
            ],
        )
        write_fits(root / "irf" / "shared.fits", [irf_hdu("PSF", 3.0), irf_hdu("BKG", 4.0)])
    return root


@pytest.fixture
def store_dir(tmp_path):
    return make_store(tmp_path / "store")


@pytest.fixture
def store(store_dir):
    return DataStore.from_dir(store_dir)


@pytest.fixture
def fake_irf(monkeypatch):
    """Replace dl3flow.irf.io by a module whose read_irf records its calls."""
    calls = []
    module = types.ModuleType("dl3flow.irf.io")

    def read_irf(hdu, *, hdu_class, source):
        calls.append((hdu.name, source))
        return {
            "name": hdu.name,
            "value": float(hdu.data["VALUE"][0]),
            "hdu_class": hdu_class,
            "source": source,
        }

    module.read_irf = read_irf
    monkeypatch.setitem(sys.modules, "dl3flow.irf.io", module)
    return calls


@pytest.fixture
def open_counter(monkeypatch):
    """Count _open_fits calls per file (index files and data files)."""
    counts = {}
    original = index_module._open_fits

    def counting(path, *, what):
        counts[path.name] = counts.get(path.name, 0) + 1
        return original(path, what=what)

    monkeypatch.setattr(index_module, "_open_fits", counting)  # the index tables
    monkeypatch.setattr(observation_module, "_open_fits", counting)  # the data files
    return counts


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------------------
# Opening stores
# --------------------------------------------------------------------------------------


def test_from_dir_reads_both_indexes(store, store_dir):
    assert store.base_dir == store_dir.resolve()
    assert store.obs_index_path == store_dir / "obs-index.fits.gz"
    assert store.hdu_index_path == store_dir / "hdu-index.fits.gz"
    assert list(store.obs_table["OBS_ID"]) == [1, 2, 3]
    assert len(store.hdu_table) == len(HDU_ROWS)
    assert store.obs_table["RA_PNT"].unit == u.deg


def test_obs_ids_are_observations_in_both_indexes(store):
    ids = store.obs_ids
    assert ids.dtype == np.int64
    assert ids.tolist() == [1, 2]


def test_from_dir_accepts_uncompressed_indexes(tmp_path):
    root = make_store(tmp_path)
    for name in ("obs-index", "hdu-index"):
        raw = gzip.decompress((root / f"{name}.fits.gz").read_bytes())
        (root / f"{name}.fits.gz").unlink()
        (root / f"{name}.fits").write_bytes(raw)
    store = DataStore.from_dir(root)
    assert store.obs_index_path.name == "obs-index.fits"
    assert store.hdu_index_path.name == "hdu-index.fits"
    assert store.obs_ids.tolist() == [1, 2]


def test_from_dir_prefers_gz_when_both_exist(tmp_path):
    root = make_store(tmp_path)
    write_index(root / "obs-index.fits", obs_index_table((7,)), "OBS_INDEX")
    store = DataStore.from_dir(root)
    assert store.obs_index_path.name == "obs-index.fits.gz"
    assert list(store.obs_table["OBS_ID"]) == [1, 2, 3]


def test_from_files_takes_explicit_paths_and_index_dir_as_base(tmp_path):
    root = make_store(tmp_path / "store")
    other = tmp_path / "elsewhere"
    other.mkdir()
    obs_index = other / "my-obs.fits"
    obs_index.write_bytes(gzip.decompress((root / "obs-index.fits.gz").read_bytes()))
    store = DataStore.from_files(obs_index=obs_index, hdu_index=root / "hdu-index.fits.gz")
    assert store.base_dir == root.resolve()
    assert store.obs_index_path == obs_index


def test_from_dir_missing_directory(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(MissingIndexError, match=f"directory {missing} does not exist"):
        DataStore.from_dir(missing)


def test_from_dir_missing_obs_index_names_dir_and_files(tmp_path):
    root = make_store(tmp_path)
    (root / "obs-index.fits.gz").unlink()
    with pytest.raises(
        MissingIndexError,
        match=f"no obs index file in {tmp_path} "
        "\\(looked for obs-index.fits.gz or obs-index.fits\\)",
    ):
        DataStore.from_dir(root)


def test_from_dir_missing_hdu_index_names_dir_and_files(tmp_path):
    root = make_store(tmp_path)
    (root / "hdu-index.fits.gz").unlink()
    with pytest.raises(
        MissingIndexError,
        match=f"no HDU index file in {tmp_path} "
        "\\(looked for hdu-index.fits.gz or hdu-index.fits\\)",
    ):
        DataStore.from_dir(root)


def test_from_files_missing_file_is_named(tmp_path):
    root = make_store(tmp_path)
    missing = tmp_path / "missing-hdu.fits"
    with pytest.raises(MissingIndexError, match=f"HDU index file {missing} does not exist"):
        DataStore.from_files(obs_index=root / "obs-index.fits.gz", hdu_index=missing)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"this is not a FITS file at all" * 200, "is not a valid FITS file"),
        (b"", "is not a valid FITS file"),
    ],
)
def test_corrupt_obs_index_is_named(tmp_path, content, match):
    root = make_store(tmp_path)
    (root / "obs-index.fits.gz").write_bytes(content)
    with pytest.raises(CorruptFileError, match=f"obs index file {root}/obs-index.fits.gz {match}"):
        DataStore.from_dir(root)


def test_truncated_gzip_hdu_index_is_named(tmp_path):
    root = make_store(tmp_path)
    path = root / "hdu-index.fits.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CorruptFileError, match=f"HDU index file {path} is not a valid gzip file"):
        DataStore.from_dir(root)


def test_hdu_index_missing_column_names_file_and_column(tmp_path):
    root = make_store(tmp_path)
    table = hdu_index_table()
    table.remove_column("FILE_NAME")
    write_index(root / "hdu-index.fits.gz", table, "HDU_INDEX")
    with pytest.raises(
        IndexFormatError,
        match=f"HDU index file {root}/hdu-index.fits.gz lacks required column\\(s\\) FILE_NAME",
    ):
        DataStore.from_dir(root)


def test_obs_index_missing_obs_id_column(tmp_path):
    root = make_store(tmp_path)
    table = obs_index_table()
    table.remove_column("OBS_ID")
    write_index(root / "obs-index.fits.gz", table, "OBS_INDEX")
    with pytest.raises(
        IndexFormatError,
        match=f"obs index file {root}/obs-index.fits.gz lacks required column\\(s\\) OBS_ID",
    ):
        DataStore.from_dir(root)


def test_obs_index_duplicate_obs_id(tmp_path):
    root = make_store(tmp_path)
    write_index(root / "obs-index.fits.gz", obs_index_table((1, 2, 2)), "OBS_INDEX")
    with pytest.raises(IndexFormatError, match="obs-index.fits.gz lists obs_id 2 more than once"):
        DataStore.from_dir(root)


def test_hdu_index_without_named_extension_uses_first_table(tmp_path):
    root = make_store(tmp_path)
    write_index(root / "hdu-index.fits.gz", hdu_index_table(), "SOMETHING")
    assert DataStore.from_dir(root).obs_ids.tolist() == [1, 2]


def test_hdu_index_with_only_a_primary_hdu(tmp_path):
    root = make_store(tmp_path)
    write_fits(root / "hdu-index.fits.gz", [])
    with pytest.raises(CorruptFileError, match="hdu-index.fits.gz contains no table HDU"):
        DataStore.from_dir(root)


# --------------------------------------------------------------------------------------
# HDU locations
# --------------------------------------------------------------------------------------


def test_hdu_location_fields(store, store_dir):
    location = store.hdu_location(1, "aeff")
    assert location.obs_id == 1
    assert location.hdu_type == "aeff"
    assert location.hdu_class == "aeff_2d"
    assert location.file == store_dir.resolve() / "data" / "obs_000001.fits.gz"
    assert location.hdu_name == "AEFF"
    assert location.source == f"{location.file}[AEFF] (obs 1, aeff)"


def test_hdu_location_shared_irf_file(store, store_dir):
    assert store.hdu_location(1, "psf").file == store.hdu_location(2, "psf").file
    assert store.hdu_location(2, "psf").file == store_dir.resolve() / "irf" / "shared.fits"


def test_hdu_location_strips_blanks_and_accepts_numpy_ids(tmp_path):
    rows = [(1, " events", "events ", " data ", " obs_000001.fits.gz", " EVENTS ")]
    root = make_store(tmp_path, hdu_rows=rows)
    store = DataStore.from_dir(root)
    location = store.hdu_location(np.int32(1), "events")
    assert location.file == root.resolve() / "data" / "obs_000001.fits.gz"
    assert location.hdu_name == "EVENTS"
    assert location.hdu_class == "events"


def test_base_dir_header_keyword_is_relative_to_index_dir(tmp_path):
    root = tmp_path / "index"
    rows = [(1, "events", "events", "data", "obs_000001.fits.gz", "EVENTS")]
    make_store(root, hdu_rows=rows, hdu_meta={"BASE_DIR": "../payload"}, data=False)
    store = DataStore.from_dir(root)
    expected = root.resolve() / "../payload" / "data" / "obs_000001.fits.gz"
    assert store.hdu_location(1, "events").file == expected


def test_observation_files_are_resolved_as_the_readers_resolve_them(tmp_path):
    root = tmp_path / "index"
    rows = [
        (1, "events", "events", "data", "obs_000001.fits.gz", "EVENTS"),
        (1, "gti", "gti", "data", "obs_000001.fits.gz", "GTI"),
        (1, "aeff", "aeff_2d", "../../caldb", "irf.fits", "EFFECTIVE AREA"),
        (2, "events", "events", "data", "obs_000002.fits.gz", "EVENTS"),
    ]
    make_store(root, hdu_rows=rows, hdu_meta={"BASE_DIR": "../payload"}, data=False)
    store = DataStore.from_dir(root)
    base = root.resolve() / "../payload"
    assert store.observation_files(1) == [
        base / "../../caldb" / "irf.fits",
        base / "data" / "obs_000001.fits.gz",
    ]
    assert store.observation_files(np.int64(2)) == [store.hdu_location(2, "events").file]
    assert store.observation_files(3) == []


def test_absolute_base_dir_header_keyword(tmp_path):
    rows = [(1, "events", "events", "", "obs_000001.fits.gz", "EVENTS")]
    payload = tmp_path / "payload"
    make_store(tmp_path / "index", hdu_rows=rows, hdu_meta={"BASE_DIR": str(payload)})
    store = DataStore.from_dir(tmp_path / "index")
    assert store.base_dir == payload
    assert store.hdu_location(1, "events").file == payload / "obs_000001.fits.gz"


def test_masked_file_dir_means_base_dir(tmp_path):
    root = make_store(tmp_path, data=False)
    table = hdu_index_table()
    table["FILE_DIR"] = MaskedColumn(table["FILE_DIR"], mask=[True] * len(table))
    write_index(root / "hdu-index.fits.gz", table, "HDU_INDEX")
    store = DataStore.from_dir(root)
    assert store.hdu_location(1, "events").file == root.resolve() / "obs_000001.fits.gz"


def test_hdu_location_missing_type_names_obs_and_type(store):
    with pytest.raises(
        MissingHDUError,
        match="obs_id 2 has no HDU of type 'bkg' in the HDU index .*hdu-index.fits.gz "
        "\\(available types: aeff, events, gti, psf\\)",
    ):
        store.hdu_location(2, "bkg")


def test_hdu_location_class_filter(store):
    assert store.hdu_location(1, "psf", hdu_class="psf_table").hdu_name == "PSF"
    with pytest.raises(
        MissingHDUError, match="obs_id 1 has no HDU of type 'psf' and class 'psf_king'"
    ):
        store.hdu_location(1, "psf", hdu_class="psf_king")


def test_ambiguous_hdu_rows(tmp_path):
    rows = [*HDU_ROWS, (1, "psf", "psf_king", "irf", "king.fits", "PSF")]
    store = DataStore.from_dir(make_store(tmp_path, hdu_rows=rows))
    with pytest.raises(AmbiguousHDUError, match="obs_id 1 has 2 HDU index rows of type 'psf'"):
        store.hdu_location(1, "psf")
    assert store.hdu_location(1, "psf", hdu_class="psf_king").file.name == "king.fits"


@pytest.mark.parametrize(
    ("obs_id", "match"),
    [
        (99, "obs_id 99 is not in the obs index .*obs-index.fits.gz"),
        (4, "obs_id 4 is not in the obs index"),
        (3, "obs_id 3 has no rows in the HDU index .*hdu-index.fits.gz"),
    ],
)
def test_unknown_observation(store, obs_id, match):
    with pytest.raises(UnknownObservationError, match=match):
        store.observation(obs_id)
    with pytest.raises(UnknownObservationError, match=match):
        store.hdu_location(obs_id, "events")


def test_obs_id_must_be_integer(store):
    with pytest.raises(TypeError, match="obs_id must be an integer, got 1.5"):
        store.observation(1.5)


def test_errors_share_a_base_class():
    for error in (
        MissingIndexError,
        IndexFormatError,
        CorruptFileError,
        UnknownObservationError,
        MissingHDUError,
        AmbiguousHDUError,
        MissingFileError,
        UnsupportedHDUClassError,
        InvalidHDUError,
    ):
        assert issubclass(error, DataStoreError)


# --------------------------------------------------------------------------------------
# Observations: laziness, caching, events, GTI
# --------------------------------------------------------------------------------------


def test_observation_is_lazy(tmp_path, open_counter):
    store = DataStore.from_dir(make_store(tmp_path, data=False))
    obs = store.observation(1)  # no data file exists: still fine
    assert obs.obs_id == 1
    assert obs.meta["OBJECT"] == "Crab"
    assert open_counter == {"obs-index.fits.gz": 1, "hdu-index.fits.gz": 1}  # no data file


def test_events_values_and_types(store):
    events = store.observation(1).events
    assert isinstance(events, EventList)
    assert len(events) == 3
    np.testing.assert_array_equal(events.ra, [83.0, 84.0, 85.0])
    np.testing.assert_array_equal(events.dec, [21.0, 22.0, 23.0])
    np.testing.assert_array_equal(events.energy, [1.0, 2.0, 4.0])
    np.testing.assert_array_equal(events.time, [1100.0, 1200.5, 1900.25])
    for array in (events.ra, events.dec, events.energy, events.time):
        assert array.dtype == np.float64
        assert not array.flags.writeable
    assert events.header["OBS_ID"] == 1
    assert events.header["LIVETIME"] == 900.0
    assert "TTYPE1" not in events.header
    with pytest.raises(TypeError):
        events.header["OBS_ID"] = 5


def test_events_energy_converted_to_tev(tmp_path):
    root = make_store(tmp_path)
    write_fits(
        root / "data" / "obs_000001.fits.gz",
        [events_hdu(1, energy_unit="GeV"), gti_hdu(), irf_hdu("AEFF")],
    )
    events = DataStore.from_dir(root).observation(1).events
    np.testing.assert_allclose(events.energy, [1e-3, 2e-3, 4e-3], rtol=1e-7)


def test_events_incompatible_unit(tmp_path):
    root = make_store(tmp_path)
    path = write_fits(
        root / "data" / "obs_000001.fits.gz",
        [events_hdu(1, energy_unit="m"), gti_hdu(), irf_hdu("AEFF")],
    )
    with pytest.raises(
        InvalidHDUError,
        match=f"column ENERGY of {path}\\[EVENTS\\] \\(obs 1, events\\) has unit 'm'",
    ):
        _ = DataStore.from_dir(root).observation(1).events


def test_events_missing_column_names_file_hdu_column(tmp_path):
    root = make_store(tmp_path)
    path = write_fits(
        root / "data" / "obs_000001.fits.gz",
        [events_hdu(1, drop=("ENERGY",)), gti_hdu(), irf_hdu("AEFF")],
    )
    with pytest.raises(
        InvalidHDUError, match=f"{path}\\[EVENTS\\] \\(obs 1, events\\) has no ENERGY column"
    ):
        _ = DataStore.from_dir(root).observation(1).events


def test_hdu_name_lookup_is_case_insensitive(store):
    assert len(store.observation(2).events) == 3  # index says "events", file has EVENTS


def test_eventlist_is_picklable_and_checks_lengths():
    events = EventList(ra=[1.0], dec=[2.0], energy=[3.0], time=[4.0], header={"A": 1})
    clone = pickle.loads(pickle.dumps(events))
    assert clone.ra.tolist() == [1.0]
    assert dict(clone.header) == {"A": 1}
    with pytest.raises(ValueError, match="different lengths"):
        EventList(ra=[1.0, 2.0], dec=[2.0], energy=[3.0], time=[4.0])


def test_eventlist_does_not_touch_its_inputs():
    ra = np.array([1.0, 2.0])
    header = {"A": 1}
    events = EventList(ra=ra, dec=ra, energy=ra, time=ra, header=header)
    assert ra.flags.writeable
    assert events.ra is not ra
    header["A"] = 2
    assert events.header["A"] == 1


def test_gti_values_and_copies(store):
    obs = store.observation(1)
    gti = obs.gti
    assert gti.colnames == ["START", "STOP"]
    assert gti["START"].unit == u.s
    np.testing.assert_array_equal(gti["START"].value, [1000.0, 1500.0])
    np.testing.assert_array_equal(gti["STOP"].value, [1400.0, 2000.0])
    assert gti.meta["MJDREFI"] == MJDREFI
    gti["START"][0] = -1.0
    assert obs.gti["START"][0] == 1000.0


def test_each_file_is_opened_once_per_observation(store, fake_irf, open_counter):
    obs = store.observation(1)
    _ = obs.events, obs.gti, obs.gti, obs.aeff, obs.psf, obs.bkg, obs.pointing, obs.tstart
    assert open_counter == {"obs_000001.fits.gz": 1, "shared.fits": 1}
    obs2 = store.observation(2)
    _ = obs2.events, obs2.psf
    assert open_counter == {"obs_000001.fits.gz": 1, "shared.fits": 2, "obs_000002.fits.gz": 1}


def test_close_drops_file_cache_but_keeps_results(store, open_counter):
    obs = store.observation(1)
    events = obs.events
    obs.close()
    assert obs.events is events
    _ = obs.gti
    assert open_counter == {"obs_000001.fits.gz": 2}


def test_inputs_are_not_modified(store_dir, fake_irf):
    files = sorted(p for p in store_dir.rglob("*") if p.is_file())
    before = {p: (sha256(p), p.stat().st_mtime_ns) for p in files}
    store = DataStore.from_dir(store_dir)
    for obs_id in store.obs_ids:
        obs = store.observation(obs_id)
        _ = obs.events, obs.gti, obs.aeff, obs.psf, obs.bkg, obs.livetime, obs.location
    assert {p: (sha256(p), p.stat().st_mtime_ns) for p in files} == before
    assert sorted(p for p in store_dir.rglob("*") if p.is_file()) == files


# --------------------------------------------------------------------------------------
# Observations: error paths for data files
# --------------------------------------------------------------------------------------


def test_missing_data_file_names_path_and_obs(tmp_path):
    store = DataStore.from_dir(make_store(tmp_path, data=False))
    path = tmp_path.resolve() / "data" / "obs_000001.fits.gz"
    with pytest.raises(
        MissingFileError,
        match=f"file {path} referenced by the HDU index .* "
        "for obs_id 1 \\(events\\) does not exist",
    ):
        _ = store.observation(1).events


def test_hdu_missing_from_file_names_file_and_hdu(tmp_path):
    root = make_store(tmp_path)
    path = write_fits(root / "data" / "obs_000001.fits.gz", [events_hdu(1), irf_hdu("AEFF")])
    with pytest.raises(
        MissingHDUError,
        match=f"HDU 'GTI' \\(gti, gti\\) of obs_id 1 is not in {path} "
        "\\(HDUs: PRIMARY, EVENTS, AEFF\\)",
    ):
        _ = DataStore.from_dir(root).observation(1).gti


def test_truncated_gzip_data_file(tmp_path):
    root = make_store(tmp_path)
    path = root / "data" / "obs_000001.fits.gz"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(
        CorruptFileError,
        match=f"data file \\(obs_id 1, events\\) {path} is not a valid gzip file",
    ):
        _ = DataStore.from_dir(root).observation(1).events


@pytest.mark.parametrize("cut", [-2000, 2880 * 2 + 100])
def test_truncated_fits_data_file(tmp_path, cut):
    root = make_store(tmp_path)
    path = root / "irf" / "shared.fits"
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(CorruptFileError, match=f"data file \\(obs_id 1, psf\\) {path} is"):
        _ = DataStore.from_dir(root).observation(1).psf


def test_garbage_data_file(tmp_path):
    root = make_store(tmp_path)
    path = root / "data" / "obs_000001.fits.gz"
    path.write_bytes(b"SIMPLE? no." * 500)
    with pytest.raises(CorruptFileError, match=f"{path} is not a valid FITS file"):
        _ = DataStore.from_dir(root).observation(1).events


# --------------------------------------------------------------------------------------
# IRFs
# --------------------------------------------------------------------------------------


def test_irfs_are_read_with_read_irf(store, fake_irf):
    obs = store.observation(1)
    aeff = obs.aeff
    assert aeff["value"] == 1.0
    assert aeff["source"] == f"{store.hdu_location(1, 'aeff').file}[AEFF] (obs 1, aeff)"
    assert aeff["hdu_class"] == "aeff_2d"  # the reader is chosen by the HDU index class
    assert obs.psf["value"] == 3.0
    assert obs.bkg["value"] == 4.0
    assert obs.edisp is None  # no edisp row
    assert obs.aeff is aeff  # cached
    assert [name for name, _ in fake_irf] == ["AEFF", "PSF", "BKG"]


def test_missing_bkg_is_none(store, fake_irf):
    obs = store.observation(2)
    assert obs.bkg is None
    assert obs.aeff["value"] == 2.0


def test_unknown_irf_class_raises_on_access(tmp_path, fake_irf):
    rows = [r if r[1] != "aeff" else (*r[:2], "aeff_3d", *r[3:]) for r in HDU_ROWS]
    store = DataStore.from_dir(make_store(tmp_path, hdu_rows=rows))
    obs = store.observation(1)
    assert len(obs.events) == 3  # other HDUs still work
    path = tmp_path.resolve() / "data" / "obs_000001.fits.gz"
    with pytest.raises(
        UnsupportedHDUClassError,
        match=f"obs_id 1: aeff HDU {path}\\[AEFF\\] has HDU_CLASS 'aeff_3d', which is not "
        "supported \\(supported: aeff_2d\\)",
    ):
        _ = obs.aeff
    assert fake_irf == []


@pytest.mark.parametrize(
    ("hdu_type", "hdu_class"), [("AEFF", "AEFF_2D"), ("Aeff", "Aeff_2D"), (" aeff", "aeff_2d ")]
)
def test_hdu_type_and_class_are_case_insensitive(tmp_path, fake_irf, hdu_type, hdu_class):
    rows = [
        (1, "EVENTS", "EVENTS", "data", "obs_000001.fits.gz", "EVENTS"),
        (1, "Gti", "gti", "data", "obs_000001.fits.gz", "GTI"),
        (1, hdu_type, hdu_class, "data", "obs_000001.fits.gz", "AEFF"),
    ]
    store = DataStore.from_dir(make_store(tmp_path, hdu_rows=rows))
    assert store.hdu_types(1) == ["aeff", "events", "gti"]
    assert list(store.hdu_table["HDU_CLASS"]) == ["events", "gti", "aeff_2d"]
    for wanted in (("aeff", "aeff_2d"), ("AEFF", "AEFF_2D")):
        location = store.hdu_location(1, wanted[0], hdu_class=wanted[1])
        assert (location.hdu_type, location.hdu_class) == ("aeff", "aeff_2d")
    obs = store.observation(1)
    assert len(obs.events) == 3 and len(obs.gti) == 2
    assert obs.aeff["hdu_class"] == "aeff_2d"  # supported, and passed on lower-case


def caldb_aeff_hdu(area):
    """A CTA-caldb-style effective area: OGIP HDUCLAS4 '2D', no LO_THRES / HI_THRES."""
    table = Table(
        {
            "ENERG_LO": np.array([[0.1, 1.0]]) * u.TeV,
            "ENERG_HI": np.array([[1.0, 10.0]]) * u.TeV,
            "THETA_LO": np.array([[0.0, 1.0]]) * u.deg,
            "THETA_HI": np.array([[1.0, 2.0]]) * u.deg,
            "EFFAREA": np.full((1, 2, 2), area) * u.m**2,
        }
    )
    hdu = fits.table_to_hdu(table)
    hdu.name = "EFFECTIVE AREA"
    for key, value in (
        ("HDUCLASS", "OGIP"),
        ("HDUCLAS1", "RESPONSE"),
        ("HDUCLAS2", "EFF_AREA"),
        ("HDUCLAS3", "FULL-ENCLOSURE"),
        ("HDUCLAS4", "2D"),
    ):
        hdu.header[key] = value
    return hdu


def test_shared_caldb_irf_file_through_file_dir_with_dotdot(tmp_path):
    # CTA 1DC layout: index/gps/hdu-index.fits.gz reaches the events and the one
    # caldb IRF file of all observations through FILE_DIR '../../...'
    root = tmp_path / "1dc"
    caldb, events = "../../caldb/data/cta/1dc/bcf/South_z20_50h", "../../data/baseline/gps"
    rows = []
    for obs_id in (1, 2, 3):
        name = f"gps_baseline_{obs_id:06d}.fits"
        rows += [
            (obs_id, "events", "events", events, name, "EVENTS"),
            (obs_id, "gti", "gti", events, name, "GTI"),
        ]
        header = {"HDUCLAS1": "EVENTS"}
        write_fits(
            root / "data/baseline/gps" / name, [events_hdu(obs_id, header=header), gti_hdu()]
        )
    rows += [
        (obs_id, "aeff", "aeff_2d", caldb, "irf_file.fits", "EFFECTIVE AREA") for obs_id in (1, 2)
    ]
    # obs 3: the index points its aeff at the event list
    rows.append((3, "aeff", "aeff_2d", events, "gps_baseline_000003.fits", "EVENTS"))
    irf_file = root / "caldb/data/cta/1dc/bcf/South_z20_50h/irf_file.fits"
    write_fits(irf_file, [caldb_aeff_hdu(5.0)])
    index = root / "index" / "gps"
    write_index(index / "obs-index.fits.gz", obs_index_table(), "OBS_INDEX")
    write_index(index / "hdu-index.fits.gz", hdu_index_table(rows), "HDU_INDEX")

    store = DataStore.from_dir(index)
    location = store.hdu_location(1, "aeff")
    assert location.file == index.resolve() / caldb / "irf_file.fits"
    assert location.file.resolve() == irf_file.resolve()
    assert store.hdu_location(2, "aeff").file == location.file
    for obs_id in (1, 2):
        obs = store.observation(obs_id)
        assert len(obs.events) == 3
        assert isinstance(obs.aeff, EffectiveArea2D)
        np.testing.assert_array_equal(obs.aeff.data, 5.0)
        assert obs.aeff.lo_threshold is None and obs.aeff.hi_threshold is None
    events_file = index.resolve() / events / "gps_baseline_000003.fits"
    with pytest.raises(
        IrfError,
        match=re.escape(f"{events_file}[EVENTS] (obs 3, aeff): the HDU index says HDU class ")
        + "'aeff_2d', but HDUCLAS1 is 'EVENTS'",
    ):
        _ = store.observation(3).aeff


def test_bkg_fov_alignment(tmp_path, monkeypatch):
    # the alignment is the bkg IRF's own (irf.read_irf: FOVALIGN, GADF default ALTAZ)
    module = types.ModuleType("dl3flow.irf.io")
    module.read_irf = lambda hdu, *, hdu_class, source: types.SimpleNamespace(
        fov_alignment=hdu.header.get("FOVALIGN", "ALTAZ")
    )
    monkeypatch.setitem(sys.modules, "dl3flow.irf.io", module)
    root = make_store(tmp_path)
    store = DataStore.from_dir(root)
    assert store.observation(1).bkg_fov_alignment == "ALTAZ"  # no FOVALIGN keyword
    assert store.observation(2).bkg_fov_alignment is None  # no bkg
    bkg = irf_hdu("BKG", 4.0)
    bkg.header["FOVALIGN"] = "RADEC"
    write_fits(root / "irf" / "shared.fits", [irf_hdu("PSF", 3.0), bkg])
    assert DataStore.from_dir(root).observation(1).bkg_fov_alignment == "RADEC"
    header = {"CREATOR": "SASH FITS::EventListWriter", "HDUVERS": "0.2"}
    write_fits(
        root / "data" / "obs_000001.fits.gz",
        [events_hdu(1, header=header), gti_hdu(), irf_hdu("AEFF")],
    )
    # gammapy's backward-compatibility rule for old H.E.S.S. data wins over FOVALIGN
    assert DataStore.from_dir(root).observation(1).bkg_fov_alignment == "REVERSE_LON_RADEC"


# --------------------------------------------------------------------------------------
# Metadata: pointing, times, location
# --------------------------------------------------------------------------------------


def test_pointing_from_events_header(store):
    pointing = store.observation(1).pointing
    assert pointing.frame.name == "icrs"
    assert (pointing.ra.deg, pointing.dec.deg) == (83.5, 22.5)


def test_pointing_falls_back_to_obs_index(store):
    pointing = store.observation(2).pointing  # its events header has no RA_PNT/DEC_PNT
    assert (pointing.ra.deg, pointing.dec.deg) == (83.25, 22.25)


def test_pointing_missing_everywhere(tmp_path):
    root = make_store(tmp_path)
    table = obs_index_table()
    table.remove_columns(["RA_PNT", "DEC_PNT"])
    write_index(root / "obs-index.fits.gz", table, "OBS_INDEX")
    with pytest.raises(InvalidHDUError, match="obs_id 2: no RA_PNT/DEC_PNT in the events header"):
        _ = DataStore.from_dir(root).observation(2).pointing


def test_drift_mode_is_refused(tmp_path):
    root = make_store(tmp_path)
    write_fits(
        root / "data" / "obs_000001.fits.gz",
        [events_hdu(1, header={"OBS_MODE": "DRIFT"}), gti_hdu(), irf_hdu("AEFF")],
    )
    with pytest.raises(InvalidHDUError, match="obs_id 1: OBS_MODE DRIFT .* not supported"):
        _ = DataStore.from_dir(root).observation(1).pointing


def test_times_from_events_header(store):
    obs = store.observation(1)
    reference = Time(MJDREFI, MJDREFF, format="mjd", scale="tt")
    assert obs.tstart.scale == "tt"
    assert abs((obs.tstart - reference).to_value(u.s) - 1000.0) < 1e-6
    assert abs((obs.tstop - reference).to_value(u.s) - 2000.0) < 1e-6
    assert abs((obs.tmid - reference).to_value(u.s) - 1500.0) < 1e-6
    assert abs(obs.tstart.mjd - (MJDREFI + MJDREFF + 1000.0 / 86400.0)) < 1e-10


def test_times_with_timeunit_days_and_index_reference(tmp_path):
    root = make_store(tmp_path)
    header = {"MJDREFI": None, "MJDREFF": None, "TIMEUNIT": "d", "TSTART": 0.25, "TSTOP": 0.5}
    write_fits(
        root / "data" / "obs_000001.fits.gz",
        [events_hdu(1, header=header), gti_hdu(), irf_hdu("AEFF")],
    )
    obs = DataStore.from_dir(root).observation(1)
    # MJDREFI/MJDREFF come from the obs-index header, TIMEUNIT from there too (default s)
    reference = Time(MJDREFI, MJDREFF, format="mjd", scale="tt")
    assert abs((obs.tstart - reference).to_value(u.s) - 0.25) < 1e-6


def test_missing_time_reference(tmp_path):
    root = make_store(tmp_path)
    write_fits(
        root / "data" / "obs_000001.fits.gz",
        [events_hdu(1, header={"MJDREFI": None, "MJDREFF": None}), gti_hdu(), irf_hdu("AEFF")],
    )
    table = obs_index_table()
    table.meta.clear()
    write_index(root / "obs-index.fits.gz", table, "OBS_INDEX")
    with pytest.raises(
        InvalidHDUError,
        match="obs_id 1: no MJDREFI/MJDREFF .*obs_000001.fits.gz nor in the obs index",
    ):
        _ = DataStore.from_dir(root).observation(1).tstart


def test_livetime_ontime_deadc_from_header(store):
    obs = store.observation(1)
    assert (obs.livetime, obs.ontime, obs.deadc) == (900.0, 1000.0, 0.9)


def test_livetime_ontime_deadc_fall_back_to_obs_index(tmp_path):
    root = make_store(tmp_path)
    header = {"LIVETIME": None, "ONTIME": None, "DEADC": None}
    write_fits(
        root / "data" / "obs_000001.fits.gz",
        [events_hdu(1, header=header), gti_hdu(), irf_hdu("AEFF")],
    )
    obs = DataStore.from_dir(root).observation(1)
    assert obs.livetime == 1000.0
    assert obs.ontime == 1200.0
    assert obs.deadc == pytest.approx(0.8)


def test_obs_index_units_are_honoured(tmp_path):
    root = make_store(tmp_path)
    header = {"LIVETIME": None, "ONTIME": None}
    write_fits(
        root / "data" / "obs_000001.fits.gz",
        [events_hdu(1, header=header), gti_hdu(), irf_hdu("AEFF")],
    )
    table = obs_index_table()
    table["LIVETIME"] = [10.0, 10.0, 10.0] * u.min
    write_index(root / "obs-index.fits.gz", table, "OBS_INDEX")
    assert DataStore.from_dir(root).observation(1).livetime == pytest.approx(600.0)


def test_ontime_falls_back_to_tstop_minus_tstart(tmp_path):
    root = make_store(tmp_path)
    header = {"LIVETIME": None, "ONTIME": None, "DEADC": None}
    write_fits(
        root / "data" / "obs_000001.fits.gz",
        [events_hdu(1, header=header), gti_hdu(), irf_hdu("AEFF")],
    )
    table = obs_index_table()
    table.remove_columns(["LIVETIME", "ONTIME", "DEADC"])
    write_index(root / "obs-index.fits.gz", table, "OBS_INDEX")
    obs = DataStore.from_dir(root).observation(1)
    assert obs.ontime == 1000.0  # TSTOP - TSTART of the events header
    assert obs.deadc == 1.0
    assert obs.livetime == 1000.0


def test_deadc_from_livetime_over_ontime(tmp_path):
    root = make_store(tmp_path)
    write_fits(
        root / "data" / "obs_000001.fits.gz",
        [events_hdu(1, header={"DEADC": None}), gti_hdu(), irf_hdu("AEFF")],
    )
    table = obs_index_table()
    table.remove_column("DEADC")
    write_index(root / "obs-index.fits.gz", table, "OBS_INDEX")
    assert DataStore.from_dir(root).observation(1).deadc == pytest.approx(0.9)


def test_location_from_geo_keywords(store):
    location = store.observation(1).location
    assert location.lon.deg == pytest.approx(16.5)
    assert location.lat.deg == pytest.approx(-23.25)
    assert location.height.to_value(u.m) == pytest.approx(1800.0)


@pytest.mark.parametrize(
    ("telescope", "key"),
    [("HESS", "HESS"), ("H.E.S.S.", "HESS"), ("CTA-North", "CTA_NORTH"), ("cta_south", "CTA_SOUTH"),
     ("MAGIC", "MAGIC"), ("VERITAS", "VERITAS"), ("LST-1", "LST")],
)  # fmt: skip
def test_location_from_telescop(tmp_path, telescope, key):
    root = make_store(tmp_path)
    header = {"GEOLON": None, "GEOLAT": None, "ALTITUDE": None, "TELESCOP": telescope}
    write_fits(
        root / "data" / "obs_000001.fits.gz",
        [events_hdu(1, header=header), gti_hdu(), irf_hdu("AEFF")],
    )
    assert DataStore.from_dir(root).observation(1).location is OBSERVATORY_LOCATIONS[key]


def test_location_unknown_telescope_is_none(tmp_path):
    root = make_store(tmp_path)
    header = {"GEOLON": None, "GEOLAT": None, "ALTITUDE": None, "TELESCOP": "CTA"}
    write_fits(
        root / "data" / "obs_000001.fits.gz",
        [events_hdu(1, header=header), gti_hdu(), irf_hdu("AEFF")],
    )
    assert DataStore.from_dir(root).observation(1).location is None


def test_location_from_obs_index_header(tmp_path):
    root = make_store(tmp_path)
    header = {"GEOLON": None, "GEOLAT": None, "ALTITUDE": None, "TELESCOP": None}
    write_fits(
        root / "data" / "obs_000001.fits.gz",
        [events_hdu(1, header=header), gti_hdu(), irf_hdu("AEFF")],
    )
    table = obs_index_table()
    table.meta.update({"GEOLON": "10.0", "GEOLAT": "-20.0", "GEOALT": 500.0})  # strings too
    write_index(root / "obs-index.fits.gz", table, "OBS_INDEX")
    location = DataStore.from_dir(root).observation(1).location
    assert location.lon.deg == pytest.approx(10.0)
    assert location.lat.deg == pytest.approx(-20.0)
    assert location.height.to_value(u.m) == pytest.approx(500.0)


def test_hess_location_matches_gammapy_constants():
    # gammapy.data.observatory_locations["hess"]: 16d30m00.8s, -23d16m18.4s, 1835 m
    hess = OBSERVATORY_LOCATIONS["HESS"]
    assert hess.lon.deg == pytest.approx(16 + 30 / 60 + 0.8 / 3600)
    assert hess.lat.deg == pytest.approx(-(23 + 16 / 60 + 18.4 / 3600))
    assert isinstance(hess, EarthLocation)


def test_meta_is_a_fresh_dict_with_none_for_masked(tmp_path):
    root = make_store(tmp_path)
    table = obs_index_table()
    table["ZEN_PNT"] = MaskedColumn(table["ZEN_PNT"], mask=[True, False, False])
    write_index(root / "obs-index.fits.gz", table, "OBS_INDEX")
    obs = DataStore.from_dir(root).observation(1)
    meta = obs.meta
    assert meta["OBS_ID"] == 1
    assert meta["ZEN_PNT"] is None
    assert meta["OBJECT"] == "Crab"
    meta["OBJECT"] = "changed"
    assert obs.meta["OBJECT"] == "Crab"


# --------------------------------------------------------------------------------------
# Real data: H.E.S.S. DL3 DR1
# --------------------------------------------------------------------------------------


def test_hess_dr1_obs_23523(hess_dr1):
    store = DataStore.from_dir(hess_dr1)
    assert len(store.obs_ids) == 105
    obs = store.observation(23523)
    assert len(obs.events) == 7613
    assert obs.livetime == pytest.approx(1581.7368, abs=1e-4)
    assert obs.ontime == 1687.0
    assert obs.deadc == pytest.approx(0.937603298574686)
    assert obs.pointing.ra.deg == pytest.approx(83.6333, abs=1e-4)
    assert obs.pointing.dec.deg == pytest.approx(21.5144, abs=1e-4)
    assert obs.tstart.tt.isot == "2004-12-04T22:08:10.184"
    assert (obs.tstop - obs.tstart).to_value(u.s) == pytest.approx(1687.0, abs=1e-6)
    gti = obs.gti
    assert gti["START"].unit == u.s
    assert np.sum(gti["STOP"].data - gti["START"].data) == 1687.0
    assert obs.location.lat.deg == pytest.approx(-23.2717777777778)
    assert obs.meta["OBJECT"] == "Crab Nebula"
    assert store.hdu_location(23523, "bkg").hdu_class == "bkg_3d"
    assert obs.bkg_fov_alignment == "REVERSE_LON_RADEC"


def test_hess_dr1_all_observations_open(hess_dr1):
    store = DataStore.from_dir(hess_dr1)
    n_events = 0
    for obs_id in store.obs_ids:
        obs = store.observation(obs_id)
        n_events += len(obs.events)
        assert len(obs.gti) >= 1
        assert obs.livetime > 0
        assert obs.meta["EVENT_COUNT"] == len(obs.events)
    assert n_events == int(np.sum(store.obs_table["EVENT_COUNT"]))


def test_hess_dr1_irfs(hess_dr1):
    pytest.importorskip("dl3flow.irf.io")
    obs = DataStore.from_dir(hess_dr1).observation(23523)
    for name in ("aeff", "edisp", "psf", "bkg"):
        assert getattr(obs, name) is not None


def test_hess_dr1_read_time(hess_dr1):
    """Opening one observation and reading all its HDUs stays well below a second."""
    store = DataStore.from_dir(hess_dr1)
    start = time.perf_counter()
    obs = store.observation(23523)
    _ = obs.events, obs.gti, obs.pointing, obs.tstart, obs.livetime
    for location in (store.hdu_location(23523, t) for t in ("aeff", "edisp", "psf", "bkg")):
        obs._data(location, obs._hdu(location))
    assert time.perf_counter() - start < 1.0


def test_direct_construction_strips_without_mutating_inputs(tmp_path):
    rows = [(1, " events ", "events", " data", "obs_000001.fits.gz ", "EVENTS ")]
    hdu_table = hdu_index_table(rows)
    before = hdu_table.copy()
    store = DataStore(
        base_dir=tmp_path,
        obs_table=obs_index_table(),
        hdu_table=hdu_table,
        obs_index_path=tmp_path / "o.fits",
        hdu_index_path=tmp_path / "h.fits",
    )
    assert store.hdu_location(1, "events").file == tmp_path / "data" / "obs_000001.fits.gz"
    assert np.all(hdu_table == before)
    assert hdu_table["HDU_TYPE"][0] == " events "


def test_direct_construction_validates_columns(tmp_path):
    hdu_table = hdu_index_table()
    hdu_table.remove_column("HDU_NAME")
    with pytest.raises(
        IndexFormatError, match=f"HDU index file {tmp_path}/h.fits lacks .*HDU_NAME"
    ):
        DataStore(
            base_dir=tmp_path,
            obs_table=obs_index_table(),
            hdu_table=hdu_table,
            obs_index_path=tmp_path / "o.fits",
            hdu_index_path=tmp_path / "h.fits",
        )


# --------------------------------------------------------------------------------------
# Light reading (issue 14): no astropy.table, .coordinates or .time for the reduction
# --------------------------------------------------------------------------------------


def test_index_rows_are_those_of_the_astropy_table(tmp_path):
    """The index read from its FITS columns: the same rows as ``Table.read`` gives."""
    root = make_store(tmp_path)
    table = obs_index_table()
    table["ZEN_PNT"] = MaskedColumn(table["ZEN_PNT"], mask=[True, False, False])
    table["N_TELS"] = MaskedColumn(np.array([4, -1, 3]), mask=[False, True, False])
    table["OBJECT"] = ["Crab  ", "", " PKS 2155"]
    table["DEADC"] = [0.8, np.nan, 0.9]
    table["VECTOR"] = np.arange(6.0).reshape(3, 2)
    write_index(root / "obs-index.fits.gz", table, "OBS_INDEX")
    store = DataStore.from_dir(root)
    with fits.open(store.obs_index_path) as hdulist:  # as DataStore opened it before
        reference = Table.read(hdulist["OBS_INDEX"])
    for row, obs_id in enumerate(reference["OBS_ID"]):
        expected = {
            name: index_module._python_scalar(reference[row][name]) for name in reference.colnames
        }
        got = store.obs_row(int(obs_id))
        assert got.keys() == expected.keys()
        for name, value in expected.items():
            assert type(got[name]) is type(value), name
            np.testing.assert_array_equal(got[name], value)
    assert store.obs_row(2)["N_TELS"] is None and store.obs_row(1)["ZEN_PNT"] is None
    assert [store.obs_row(i)["OBJECT"] for i in (1, 2, 3)] == ["Crab", "", " PKS 2155"]
    # the Tables, made when asked for
    assert "obs_table" not in vars(store)
    assert store.obs_table.colnames == reference.colnames
    assert list(store.hdu_table["HDU_CLASS"]) == [r[2] for r in HDU_ROWS]


def test_pointing_radec_is_the_pointing_in_degrees(tmp_path):
    root = make_store(tmp_path)
    for ra, expected in ((-10.0, 350.0), (370.5, 10.5), (360.0, 0.0), (83.5, 83.5)):
        write_fits(
            root / "data" / "obs_000001.fits.gz",
            [events_hdu(1, header={"RA_PNT": ra}), gti_hdu(), irf_hdu("AEFF", 1.0)],
        )
        obs = DataStore.from_dir(root).observation(1)
        assert obs.pointing_radec == (expected, 22.5)
        icrs = obs.pointing.icrs
        assert obs.pointing_radec == (icrs.ra.deg, icrs.dec.deg)
    write_fits(
        root / "data" / "obs_000001.fits.gz",
        [events_hdu(1, header={"DEC_PNT": 91.0}), gti_hdu(), irf_hdu("AEFF", 1.0)],
    )
    with pytest.raises(ValueError, match=r"Latitude angle\(s\) must be within -90 deg"):
        _ = DataStore.from_dir(root).observation(1).pointing_radec


def test_observatory_locations_are_made_once():
    locations = observatory_module.OBSERVATORY_LOCATIONS
    assert locations is observatory_module.OBSERVATORY_LOCATIONS
    assert set(locations) == set(observatory_module._OBSERVATORY_SITES)
    with pytest.raises(AttributeError, match="has no attribute 'NO_SUCH_NAME'"):
        _ = observatory_module.NO_SUCH_NAME
