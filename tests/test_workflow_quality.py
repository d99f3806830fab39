"""Impossible DL3 in the workflow: a mixed store, defective observations among good ones.

The demo's simulator writes 8 observations into a temporary directory; four get a
defect the DL3 validation must reject (dl3flow.data.checks), one a defect it must
keep with a warning (two events with a NaN energy: dropped and counted). The run
completes (rc 0); every defective observation is in the rejection table or the
warnings table under the right check name, and in the end-of-run summary; and the
products of the good observations -- each dataset and the stack -- have exactly the
data of a clean run over the good observations alone (the warned one entering the
clean run with its two bad events deleted from its file).
"""

import gzip
import io

import numpy as np
import pytest
import yaml
from _workflow_util import REPO, copy_workflow, output_of, run_snakemake, temporary_files

pytestmark = pytest.mark.workflow

N_OBS = 8
GOOD = [1, 2, 4]
WARNED = {7: "events_energy"}
#: obs id -> (check that must reject it, what the test does to its file)
REJECTED = {
    3: "events_energy",  # 10 % of the energies NaN
    5: "livetime_ontime",  # LIVETIME 1e7 s (ONTIME 1894.74 s)
    6: "irf_all_zero",  # effective area all zero
    8: "irf_negative",  # background rate negative in every energy bin
}
BAD_ROWS = [10, 20]  # the events of obs 7 whose energy becomes NaN


def _rewrite(path, change):
    """Rewrite a gzipped DL3 file with ``change(hdulist)`` applied (a tmp copy)."""
    from astropy.io import fits

    with fits.open(path) as hdulist:
        copy = fits.HDUList([hdu.copy() for hdu in hdulist])
    change(copy)
    buffer = io.BytesIO()
    copy.writeto(buffer)
    path.write_bytes(gzip.compress(buffer.getvalue(), mtime=0))


def _nan_energy(rows):
    def change(hdulist):
        hdulist["EVENTS"].data["ENERGY"][rows] = np.nan

    return change


def _drop_events(rows):
    def change(hdulist):
        from astropy.io import fits

        events = hdulist["EVENTS"]
        keep = np.ones(len(events.data), dtype=bool)
        keep[rows] = False
        hdulist["EVENTS"] = fits.BinTableHDU(events.data[keep], header=events.header)

    return change


def _livetime(hdulist):
    hdulist["EVENTS"].header["LIVETIME"] = 1e7
    hdulist["EVENTS"].header.pop("DEADC", None)


def _aeff_zero(hdulist):
    hdulist["AEFF"].data["EFFAREA"][:] = 0.0


def _bkg_negative(hdulist):
    hdulist["BKG"].data["BKG"][:] *= -1.0


CHANGES = {
    3: _nan_energy(slice(None, None, 10)),
    5: _livetime,
    6: _aeff_zero,
    8: _bkg_negative,
    7: _nan_energy(BAD_ROWS),
}


def _store(directory, changes):
    from dl3flow.simulate.config import simulation_config_from_dict
    from dl3flow.simulate.store import write_data_store

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    section = {k: v for k, v in config["simulation"].items() if v is not None}
    section["n_obs"] = N_OBS
    store = write_data_store(simulation_config_from_dict(section), directory / "store")
    for obs_id, change in changes.items():
        _rewrite(store / "data" / f"dl3flow_sim_obs_id_{obs_id:06d}.fits.gz", change)
    return store


#: What test_good_observations_give_the_clean_run_data compares: all the clean run makes
#: (no plots, maps of the ring, report pages: the mixed run makes them all).
CLEAN_TARGETS = (
    "results/demo/stacked/maps.fits",
    "results/demo/masks/exclusion.fits",
    "results/demo/stacked/initial/dataset.fits",
    "results/demo/stacked/dataset.fits",
    *(
        f"results/demo/obs/{obs_id}/{name}"
        for obs_id in sorted([*GOOD, *WARNED])
        for name in ("dataset.fits", "dataset_bkg.fits", "mask_safe.fits")
    ),
)


def _run(tmp_path_factory, name, store, obs_ids, targets=()):
    workdir = copy_workflow(tmp_path_factory.mktemp(name) / "workflow")
    analysis = {"data_store": str(store), "selection": {"obs_ids": obs_ids}}
    (workdir / "store.yaml").write_text(yaml.safe_dump({"analyses": {"demo": analysis}}))
    args = ("--", *targets) if targets else ()
    result = run_snakemake(workdir, "--cores", 2, "--configfile", "store.yaml", *args)
    assert result.returncode == 0, output_of(result)
    return workdir, result


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(mixed workdir, its result, clean workdir): the two runs this module compares.

    The mixed run is a whole run (plots and report pages too, rejections and all);
    the clean run, the reference, makes only the products compared with it.
    """
    mixed_store = _store(tmp_path_factory.mktemp("mixed-store"), CHANGES)
    clean_store = _store(tmp_path_factory.mktemp("clean-store"), {7: _drop_events(BAD_ROWS)})
    mixed, result = _run(tmp_path_factory, "mixed", mixed_store, list(range(1, N_OBS + 1)))
    clean_obs = sorted([*GOOD, *WARNED])
    clean, _ = _run(tmp_path_factory, "clean", clean_store, clean_obs, CLEAN_TARGETS)
    return mixed, result, clean


def test_every_defective_observation_is_rejected_or_warned_by_name(runs):
    from dl3flow.datasets.map import read_dataset
    from dl3flow.workflow.rejection import read_notes, read_rejections, read_status

    mixed, result, _ = runs
    tables = mixed / "results" / "demo" / "tables"
    rejections = read_rejections(tables / "rejected_observations.ecsv")
    assert {r.obs_id: r.check for r in rejections} == REJECTED
    for rejection in rejections:
        assert (rejection.stage, rejection.error) == ("quality", "QualityError")
        assert rejection.reason.endswith(f"[check {rejection.check}]")
        obs = mixed / "results" / "demo" / "obs" / str(rejection.obs_id)
        assert read_status(obs / "status.json") == rejection
        assert read_dataset(obs / "dataset.fits").meta["REJCHECK"] == rejection.check
    by_obs = {r.obs_id: r.reason for r in rejections}
    assert "events have a non-finite or non-positive ENERGY, more than the 0.1 %" in by_obs[3]
    assert "LIVETIME = 1e+07 s exceeds ONTIME = 1894.74 s" in by_obs[5]
    assert "aeff: all" in by_obs[6] and "bkg:" in by_obs[8]

    notes = read_notes(tables / "observation_warnings.ecsv")
    assert [(n.obs_id, n.check) for n in notes] == list(WARNED.items())
    assert notes[0].message.startswith("obs 7: 2 of ")
    assert notes[0].message.endswith(
        "events have a non-finite or non-positive ENERGY: dropped (at most 0.1 % may be)"
    )

    stdout = result.stdout + result.stderr
    assert "4 rejected:" in stdout and "during the analysis (4;" in stdout
    for obs_id, check in REJECTED.items():
        assert f"obs {obs_id} (quality [{check}]): QualityError" in stdout
    assert "events_energy: 1 observation(s) (7)" in stdout
    assert not temporary_files(mixed)


def _science_checksums(path):
    """Data checksums of every HDU but META_TABLE (which lists the left-out observations)."""
    from dl3flow.io.provenance import hdu_checksums

    return {k: v for k, v in hdu_checksums(path).items() if not k.endswith(":META_TABLE")}


def test_good_observations_give_the_clean_run_data(runs):
    from dl3flow.datasets.map import read_dataset
    from dl3flow.io.provenance import data_checksum

    mixed, _, clean = runs
    results = [run / "results" / "demo" for run in (mixed, clean)]
    products = ["stacked/maps.fits", "masks/exclusion.fits"]
    for obs_id in [*GOOD, *WARNED]:
        products += [f"obs/{obs_id}/{name}" for name in ("dataset.fits", "dataset_bkg.fits")]
        products.append(f"obs/{obs_id}/mask_safe.fits")
    for product in products:
        assert data_checksum(results[0] / product) == data_checksum(results[1] / product), product
    for product in ("stacked/initial/dataset.fits", "stacked/dataset.fits"):
        checksums = [_science_checksums(path / product) for path in results]
        assert checksums[0] == checksums[1] and len(checksums[0]) > 5, product
    stacked, stacked_clean = (read_dataset(path / "stacked" / "dataset.fits") for path in results)
    assert sorted(stacked.meta["OBS_IDS"]) == sorted(stacked_clean.meta["OBS_IDS"])
    assert sorted(stacked.meta["OBS_IDS"]) == sorted([*GOOD, *WARNED])
    assert sorted(stacked.meta["DROPPED"]) == sorted(REJECTED)
    assert stacked.counts.sum() > 0
    warned = read_dataset(results[0] / "obs" / "7" / "dataset.fits")
    assert warned.meta["NEVDROP"] == len(BAD_ROWS)
