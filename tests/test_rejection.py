"""Tests of dl3flow.workflow.rejection: one bad observation is a clear error or a rejection record.

Each failure is made on a copy of one H.E.S.S. DL3 DR1 file in ``tmp_path``
(``hess_obs_copy`` in conftest.py); the shared data is only read.

This work made use of data from the H.E.S.S. DL3 public test data release 1
(HESS DL3 DR1, H.E.S.S. collaboration, 2018).
"""

import json
import re

import numpy as np
import pytest
from astropy.io import fits

from dl3flow.config.analysis import analysis_config
from dl3flow.data.quality import QualityNote
from dl3flow.data.store import DataStore
from dl3flow.datasets.map import MapDataset, read_dataset
from dl3flow.datasets.rejection import BadObservationError, Rejection, rejection_of
from dl3flow.io.provenance import (
    Provenance,
    data_checksum,
    file_checksum,
    observation_files,
    read_provenance,
)
from dl3flow.workflow.rejection import (
    collect_notes,
    collect_rejections,
    notes_summary,
    read_notes,
    read_rejections,
    read_status,
    read_status_notes,
    reduce_or_reject,
    reduce_to_files,
    rejection_summary,
    write_notes,
    write_rejections,
    write_status,
)

OBS = 23523  # the observation hess_obs_copy copies (conftest.HESS_OBS_ID)
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


@pytest.fixture(scope="module")
def cfg():
    return analysis_config(CONFIG, "crab")


def _kwargs(cfg):
    return {"geom": cfg.geom, "offset_max": cfg.offset_max.to_value("deg")}


def _set_nan(name, column):
    def mutate(hdulist):
        hdulist[name].data[column][:] = np.nan

    return mutate


def _set_header(**values):
    def mutate(hdulist):
        hdulist["EVENTS"].header.update(values)

    return mutate


def _index_pointing(ra, dec):
    def mutate(table):
        table["RA_PNT"], table["DEC_PNT"] = ra, dec

    return mutate


def _empty_events(hdulist):
    events = hdulist["EVENTS"]
    hdulist["EVENTS"] = fits.BinTableHDU(events.data[:0], header=events.header, name="EVENTS")


def _drop(name):
    def mutate(hdulist):
        del hdulist[name]

    return mutate


def _truncate(raw):
    return raw[: len(raw) // 2]


# (id, fixture kwargs, stage, error type, message pattern); every message names obs 23523
FAILURES = [
    ("truncated-file", {"raw": _truncate}, "events", "CorruptFileError", "not a valid gzip"),
    ("missing-hdu", {"hdus": _drop("AEFF")}, "irf", "MissingHDUError", "HDU 'aeff'.* is not in"),
    ("nan-aeff", {"hdus": _set_nan("AEFF", "EFFAREA")}, "irf", "IrfError", "no finite values"),
    ("nan-bkg", {"hdus": _set_nan("BKG", "BKG")}, "irf", "IrfError", "'BKG' has no finite"),
    ("empty-events", {"hdus": _empty_events}, "reduce", "ReductionError", "event list is empty"),
    (
        "zero-livetime",
        {"hdus": _set_header(LIVETIME=0.0)},
        "reduce",
        "ReductionError",
        "LIVETIME must be positive, got 0.0",
    ),
    (
        "outside-geometry",
        {
            "hdus": _set_header(RA_PNT=250.0, DEC_PNT=-40.0),
            "obs_index": _index_pointing(250.0, -40.0),
        },
        "reduce",
        "ReductionError",
        "pointing 250 -40 is outside the analysis geometry",
    ),
    (
        "pointing-header-contradicts-index",
        {"hdus": _set_header(RA_PNT=250.0, DEC_PNT=-40.0)},
        "quality",
        "QualityError",
        r"events header points at RA 250, Dec -40 deg, the obs index at RA 83\.633, Dec "
        r"21\.514 deg: 158\.2 deg apart \(tolerance 0\.01 deg\) \[check pointing_index\]",
    ),
]


@pytest.mark.parametrize(
    ("corrupt", "stage", "error", "pattern"),
    [case[1:] for case in FAILURES],
    ids=[case[0] for case in FAILURES],
)
def test_skip_gives_a_rejection_naming_observation_and_cause(
    hess_obs_copy, cfg, corrupt, stage, error, pattern
):
    store = DataStore.from_dir(hess_obs_copy(**corrupt))
    result = reduce_or_reject(store.observation, obs_id=OBS, **_kwargs(cfg))
    assert isinstance(result, Rejection)
    assert (result.obs_id, result.stage, result.error) == (OBS, stage, error)
    assert str(OBS) in result.reason
    assert re.search(pattern, result.reason), result.reason


@pytest.mark.parametrize(
    ("corrupt", "stage", "error", "pattern"),
    [case[1:] for case in FAILURES],
    ids=[case[0] for case in FAILURES],
)
def test_fail_raises_naming_observation_stage_and_cause(
    hess_obs_copy, cfg, corrupt, stage, error, pattern
):
    store = DataStore.from_dir(hess_obs_copy(**corrupt))
    match = f"observation {OBS}: {stage} failed: {error}: .*{pattern}"
    with pytest.raises(BadObservationError, match=match) as info:
        reduce_or_reject(store.observation, obs_id=OBS, on_bad_observation="fail", **_kwargs(cfg))
    assert type(info.value.__cause__).__name__ == error
    assert info.value.rejection.stage == stage


def test_good_observation_gives_a_dataset(hess_obs_copy, cfg):
    store = DataStore.from_dir(hess_obs_copy())
    result = reduce_or_reject(
        store.observation, obs_id=OBS, on_bad_observation="fail", **_kwargs(cfg)
    )
    assert isinstance(result, MapDataset)
    assert result.meta["OBS_ID"] == OBS and result.counts.sum() > 0


def test_unknown_observation_is_rejected_at_open(hess_obs_copy, cfg):
    store = DataStore.from_dir(hess_obs_copy())
    result = reduce_or_reject(store.observation, obs_id=12345, **_kwargs(cfg))
    assert result.stage == "open" and result.error == "UnknownObservationError"
    assert "obs_id 12345 is not in the obs index" in result.reason


def test_reason_names_the_observation_when_the_cause_does_not(cfg):
    def loader(obs_id):
        raise OSError("disk on fire")

    result = reduce_or_reject(loader, obs_id=7, **_kwargs(cfg))
    expected = Rejection(obs_id=7, stage="open", reason="obs 7: disk on fire", error="OSError")
    assert result == expected


def test_memory_error_is_not_a_rejection(cfg):
    def loader(obs_id):
        raise MemoryError

    with pytest.raises(MemoryError):
        reduce_or_reject(loader, obs_id=7, **_kwargs(cfg))


def test_invalid_mode(cfg):
    with pytest.raises(ValueError, match="on_bad_observation must be one of fail, skip, got 'x'"):
        reduce_or_reject(lambda i: None, obs_id=1, on_bad_observation="x", **_kwargs(cfg))


def test_psf_and_edisp_are_read_only_when_requested(hess_obs_copy, cfg):
    store = DataStore.from_dir(hess_obs_copy(hdus=_set_nan("PSF", "RPSF")))
    result = reduce_or_reject(store.observation, obs_id=OBS, psf=False, **_kwargs(cfg))
    assert isinstance(result, MapDataset) and result.psf is None
    result = reduce_or_reject(store.observation, obs_id=OBS, **_kwargs(cfg))
    assert (result.stage, result.error) == ("irf", "IrfError") and "'RPSF'" in result.reason


# ----------------------------------------------------------------------- files


def test_reduce_to_files_ok_writes_dataset_then_status(hess_obs_copy, cfg, tmp_path):
    store = DataStore.from_dir(hess_obs_copy())
    prov = Provenance.create(rule="reduce_observation", obs_ids=[OBS])
    out = tmp_path / "results" / "obs" / str(OBS)
    result = reduce_to_files(
        store.observation,
        obs_id=OBS,
        dataset_path=out / "dataset.fits",
        status_path=out / "status.json",
        provenance=prov,
        **_kwargs(cfg),
    )
    assert isinstance(result, MapDataset)
    assert read_dataset(out / "dataset.fits").meta["OBS_ID"] == OBS
    assert read_provenance(out / "dataset.fits") == prov
    assert read_status(out / "status.json") is None
    assert sorted(p.name for p in out.iterdir()) == ["dataset.fits", "status.json"]


def test_reduce_to_files_skip_writes_a_flagged_dataset_and_the_status(hess_obs_copy, cfg, tmp_path):
    """A rejected observation still has its dataset: flagged, nothing to use."""
    store = DataStore.from_dir(hess_obs_copy(hdus=_empty_events))
    out = tmp_path / "obs"
    result = reduce_to_files(
        store.observation,
        obs_id=OBS,
        dataset_path=out / "dataset.fits",
        status_path=out / "status.json",
        **_kwargs(cfg),
    )
    assert read_status(out / "status.json") == result
    assert sorted(p.name for p in out.iterdir()) == ["dataset.fits", "status.json"]
    dataset = read_dataset(out / "dataset.fits")
    assert rejection_of(dataset.meta) == result
    assert dataset.meta["STATUS"] == "REJECTED" and dataset.meta["REJSTAGE"] == "reduce"
    assert not dataset.mask_safe.any()
    assert dataset.counts.sum() == 0 and dataset.exposure.sum() == 0
    assert dataset.background.sum() == 0
    # on the cutout around the pointing, as a reduced dataset (the header was readable)
    cut, _ = cfg.geom.cutout(store.observation(OBS).pointing, 2 * cfg.offset_max.to_value("deg"))
    assert dataset.geom.sky.shape == cut.sky.shape
    assert dataset.geom.sky.wcs.wcs.compare(cut.sky.wcs.wcs)


def test_a_rejected_observation_without_pointing_sits_at_the_map_centre(
    hess_obs_copy, cfg, tmp_path
):
    store = DataStore.from_dir(hess_obs_copy(raw=_truncate))
    result = reduce_to_files(
        store.observation,
        obs_id=OBS,
        dataset_path=tmp_path / "dataset.fits",
        status_path=tmp_path / "status.json",
        **_kwargs(cfg),
    )
    assert isinstance(result, Rejection) and result.stage == "events"
    dataset = read_dataset(tmp_path / "dataset.fits")
    assert rejection_of(dataset.meta) == result
    cut, _ = cfg.geom.cutout(cfg.geom.sky.center_skydir, 2 * cfg.offset_max.to_value("deg"))
    assert dataset.geom.sky.wcs.wcs.compare(cut.sky.wcs.wcs)


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ({}, None),
        ({"STATUS": "ok"}, None),
        (
            REJECTION_META := Rejection(obs_id=5, stage="irf", reason="r", error="E").to_meta(),
            Rejection(obs_id=5, stage="irf", reason="r", error="E"),
        ),
    ],
)
def test_rejection_of(meta, expected):
    assert rejection_of(meta) == expected


def test_rejection_of_an_incomplete_flag():
    with pytest.raises(ValueError, match="a product flagged REJECTED lacks a field .*REJSTAGE"):
        rejection_of({"STATUS": "REJECTED", "OBS_ID": 1})


def test_reduce_to_files_fail_writes_nothing(hess_obs_copy, cfg, tmp_path):
    store = DataStore.from_dir(hess_obs_copy(hdus=_empty_events))
    out = tmp_path / "obs"
    with pytest.raises(BadObservationError, match=f"observation {OBS}: reduce failed"):
        reduce_to_files(
            store.observation,
            obs_id=OBS,
            dataset_path=out / "dataset.fits",
            status_path=out / "status.json",
            on_bad_observation="fail",
            **_kwargs(cfg),
        )
    assert not out.exists()


REJECTIONS = [
    Rejection(obs_id=3, stage="irf", reason="obs 3: aeff is NaN", error="IrfError"),
    Rejection(obs_id=1, stage="events", reason='obs 1: it\'s "quoted", é', error="X"),
]


def test_status_round_trip(tmp_path):
    write_status(tmp_path / "a.json", obs_id=3, rejection=REJECTIONS[0])
    write_status(tmp_path / "b.json", obs_id=2)
    write_status(tmp_path / "c.json", obs_id=1, rejection=REJECTIONS[1])
    assert read_status(tmp_path / "a.json") == REJECTIONS[0]
    assert read_status(tmp_path / "b.json") is None
    assert json.loads((tmp_path / "b.json").read_text())["status"] == "ok"
    paths = [tmp_path / n for n in ("a.json", "b.json", "c.json")]
    assert collect_rejections(paths) == [REJECTIONS[1], REJECTIONS[0]]


def test_write_status_checks_the_observation(tmp_path):
    with pytest.raises(ValueError, match="status of obs 4: the rejection is for obs 3"):
        write_status(tmp_path / "s.json", obs_id=4, rejection=REJECTIONS[0])
    assert not (tmp_path / "s.json").exists()


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (None, r"status file .*s\.json does not exist"),
        ("{", r"status file .*s\.json is not readable JSON"),
        ('{"status": "maybe", "obs_id": 1}', "status must be 'ok' or 'rejected', got 'maybe'"),
        ("[1]", "status must be 'ok' or 'rejected', got None"),
        ('{"status": "rejected", "obs_id": 1}', r"s\.json lacks or mangles a field .*'stage'"),
        ('{"status": "ok", "obs_id": "x"}', r"s\.json lacks or mangles a field"),
    ],
)
def test_read_status_errors(tmp_path, content, match):
    if content is not None:
        (tmp_path / "s.json").write_text(content)
    with pytest.raises(ValueError, match=match):
        read_status(tmp_path / "s.json")


def test_rejection_table_round_trip(tmp_path):
    path = tmp_path / "tables" / "rejected_observations.ecsv"
    write_rejections(REJECTIONS, path)
    assert read_rejections(path) == sorted(REJECTIONS, key=lambda r: r.obs_id)
    write_rejections([], tmp_path / "none.ecsv")
    assert read_rejections(tmp_path / "none.ecsv") == []


def test_rejection_table_does_not_overwrite(tmp_path):
    path = tmp_path / "r.ecsv"
    write_rejections([], path)
    with pytest.raises(FileExistsError, match=r"r\.ecsv exists"):
        write_rejections(REJECTIONS, path)
    assert read_rejections(path) == []


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (None, r"rejection table .*r\.ecsv does not exist"),
        ("# %ECSV 1.0\n# ---\n# garbage: [\n", r"r\.ecsv is not a readable ECSV table"),
        ("# %ECSV 1.0\n# ---\n# datatype:\n# - {name: OBS_ID, datatype: int64}\nOBS_ID\n1\n", ""),
    ],
    ids=["missing", "garbage", "missing-columns"],
)
def test_read_rejections_errors(tmp_path, content, match):
    if content is not None:
        (tmp_path / "r.ecsv").write_text(content)
    match = match or r"r\.ecsv lacks column\(s\) STAGE, ERROR, REASON"
    with pytest.raises(ValueError, match=match):
        read_rejections(tmp_path / "r.ecsv")


def test_rejection_summary():
    assert rejection_summary([]) == "no observation rejected"
    assert rejection_summary([], n_total=5) == "no observation rejected (of 5)"
    text = rejection_summary(REJECTIONS[:1], n_total=5)
    assert text.splitlines() == [
        "1 of 5 observation(s) rejected:",
        "  obs 3 (irf): IrfError: obs 3: aeff is NaN",
    ]


def test_reduce_to_files_calls_the_provenance_factory_after_the_reduction(
    hess_obs_copy, cfg, tmp_path
):
    calls = []

    def factory():
        calls.append(1)
        return Provenance.create(rule="reduce_observation", obs_ids=[OBS])

    def unreadable():
        raise PermissionError("cannot read data/obs.fits.gz")

    bad = DataStore.from_dir(hess_obs_copy("bad", raw=_truncate))
    result = reduce_to_files(
        bad.observation,
        obs_id=OBS,
        dataset_path=tmp_path / "bad" / "dataset.fits",
        status_path=tmp_path / "bad" / "status.json",
        provenance=factory,
        **_kwargs(cfg),
    )
    assert isinstance(result, Rejection) and calls == [1]
    assert read_provenance(tmp_path / "bad" / "dataset.fits").rule == "reduce_observation"
    # a rejected observation whose inputs cannot even be hashed still gets its dataset
    reduce_to_files(
        bad.observation,
        obs_id=OBS,
        dataset_path=tmp_path / "bad2" / "dataset.fits",
        status_path=tmp_path / "bad2" / "status.json",
        provenance=unreadable,
        **_kwargs(cfg),
    )
    header = fits.getheader(tmp_path / "bad2" / "dataset.fits")
    assert header["PROVERR"] == "provenance not recorded: cannot read data/obs.fits.gz"
    good = DataStore.from_dir(hess_obs_copy("good"))
    with pytest.raises(PermissionError, match="cannot read"):  # an accepted one must have it
        reduce_to_files(
            good.observation,
            obs_id=OBS,
            dataset_path=tmp_path / "good" / "dataset.fits",
            status_path=tmp_path / "good" / "status.json",
            provenance=unreadable,
            **_kwargs(cfg),
        )
    reduce_to_files(
        good.observation,
        obs_id=OBS,
        dataset_path=tmp_path / "good" / "dataset.fits",
        status_path=tmp_path / "good" / "status.json",
        provenance=factory,
        **_kwargs(cfg),
    )
    assert calls == [1, 1]
    assert read_provenance(tmp_path / "good" / "dataset.fits").rule == "reduce_observation"


def test_observation_files_and_their_provenance(hess_obs_copy, tmp_path):
    root = hess_obs_copy()
    store = DataStore.from_dir(root)
    files = observation_files(store, OBS)
    assert files == [
        root / "obs-index.fits.gz",
        root / "hdu-index.fits.gz",
        root / "data" / f"hess_dl3_dr1_obs_id_{OBS:06d}.fits.gz",
    ]
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    prov = Provenance.create(
        rule="reduce_observation", inputs=files, obs_ids=[OBS], checksum_cache=tmp_path / "sums"
    )
    assert [item.sha256 for item in prov.inputs] == [file_checksum(f) for f in files]
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before  # store untouched
    assert len(list((tmp_path / "sums").glob("*.json"))) == 3


def test_reruns_give_identical_data(hess_obs_copy, cfg, tmp_path):
    store = DataStore.from_dir(hess_obs_copy())
    paths = []
    for run in ("one", "two"):
        path = tmp_path / run / "dataset.fits"
        reduce_to_files(
            store.observation,
            obs_id=OBS,
            dataset_path=path,
            status_path=tmp_path / run / "status.json",
            provenance=Provenance.create(rule="reduce_observation", parameters={"run": run}),
            **_kwargs(cfg),
        )
        paths.append(path)
    assert data_checksum(paths[0]) == data_checksum(paths[1])
    assert paths[0].read_bytes() != paths[1].read_bytes()  # headers (dates, provenance) differ


# ----------------------------------------------------------------- quality notes

NOTES = [
    QualityNote(obs_id=3, check="fov_alignment_assumed", message="obs 3: assumed ALTAZ"),
    QualityNote(obs_id=3, check="pointing_below_horizon", message="obs 3: below"),
    QualityNote(obs_id=1, check="fov_alignment_assumed", message="obs 1: assumed ALTAZ"),
]


def test_status_notes_round_trip(tmp_path):
    write_status(tmp_path / "a.json", obs_id=3, notes=NOTES[:2])
    write_status(tmp_path / "b.json", obs_id=2)
    write_status(tmp_path / "c.json", obs_id=1, rejection=REJECTIONS[1], notes=NOTES[2:])
    assert read_status_notes(tmp_path / "a.json") == NOTES[:2]
    assert read_status(tmp_path / "a.json") is None
    assert read_status_notes(tmp_path / "b.json") == []
    assert read_status(tmp_path / "c.json") == REJECTIONS[1]
    paths = [tmp_path / n for n in ("a.json", "b.json", "c.json")]
    assert collect_notes(paths) == [NOTES[2], *NOTES[:2]]
    # a status of an earlier version, without the key, has no warnings
    (tmp_path / "d.json").write_text('{"format": 1, "obs_id": 4, "status": "ok"}')
    assert read_status_notes(tmp_path / "d.json") == []


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (None, r"status file .*s\.json does not exist"),
        ('{"obs_id": 1, "warnings": [{"check": "x"}]}', r"s\.json has malformed warnings"),
        (
            '{"obs_id": 1, "warnings": [{"check": "nope", "message": "m"}]}',
            r"s\.json has malformed warnings .*unknown check 'nope'",
        ),
    ],
)
def test_read_status_notes_errors(tmp_path, content, match):
    if content is not None:
        (tmp_path / "s.json").write_text(content)
    with pytest.raises(ValueError, match=match):
        read_status_notes(tmp_path / "s.json")


def test_write_status_checks_the_observation_of_a_note(tmp_path):
    with pytest.raises(ValueError, match="status of obs 4: a warning is for obs 3"):
        write_status(tmp_path / "s.json", obs_id=4, notes=NOTES[:1])
    assert not (tmp_path / "s.json").exists()


def test_notes_table_round_trip_and_summary(tmp_path):
    path = tmp_path / "tables" / "observation_warnings.ecsv"
    write_notes(NOTES, path)
    assert read_notes(path) == [NOTES[2], *NOTES[:2]]
    write_notes([], tmp_path / "empty.ecsv")
    assert read_notes(tmp_path / "empty.ecsv") == []
    assert notes_summary(NOTES) == (
        "  fov_alignment_assumed: 2 observation(s) (1, 3)\n"
        "  pointing_below_horizon: 1 observation(s) (3)"
    )
    with pytest.raises(ValueError, match=r"warnings table .*nothing\.ecsv does not exist"):
        read_notes(tmp_path / "nothing.ecsv")


def _no_fovalign_not_sash(hdulist):
    """The bkg_3d loses its FOVALIGN, the events their SASH creator (no DR1 rule)."""
    del hdulist["BKG"].header["FOVALIGN"]
    hdulist["EVENTS"].header["CREATOR"] = "dl3flow test"
    return hdulist


def test_reduce_to_files_records_the_warnings_in_the_status(hess_obs_copy, cfg, tmp_path):
    """A missing FOVALIGN is said in the status; H.E.S.S.' ALT_PNT agrees with the site."""
    store = DataStore.from_dir(hess_obs_copy(hdus=_no_fovalign_not_sash))
    out = tmp_path / "obs"
    result = reduce_to_files(
        store.observation,
        obs_id=OBS,
        dataset_path=out / "dataset.fits",
        status_path=out / "status.json",
        **_kwargs(cfg),
    )
    assert isinstance(result, MapDataset)
    assert result.meta["FOVALIGN"] == "ALTAZ"
    notes = read_status_notes(out / "status.json")
    assert [(n.obs_id, n.check) for n in notes] == [(OBS, "fov_alignment_assumed")]
    assert notes[0].message.startswith(
        f"obs {OBS}: the bkg_3d HDU has no FOVALIGN keyword; assumed ALTAZ"
    )
