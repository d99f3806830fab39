"""Bad data stores at the level of the workflow's DAG (found trying them as a user would).

Each product of an observation is a declared output, whatever happened to it, and
the observation's files are found by dl3flow's DataStore, as the jobs find them:

- an hdu-index with a ``BASE_DIR`` header (valid GADF) runs;
- a missing DL3 file, or a symlink loop, rejects that observation with the reason,
  and the rest runs (it used to stop the whole DAG with a MissingInputException);
- a rejected observation whose file is then fixed is in the stack, the tables and
  the maps after one run (jobs behind a checkpoint used to be pruned as up to date);
- a DL3 file corrupted after a run: one run with 2 cores re-reduces it, and its
  safe mask and background-corrected dataset follow (no race with a deleted
  undeclared dataset, no stale ``dataset_bkg.fits`` beside a rejected status).

The store is the demo's simulation (4 short observations) with its data moved under
``BASE_DIR``; the first pass (significance mask) is off to keep the runs short.
"""

import gzip
import shutil

import pytest
from _workflow_util import copy_workflow, output_of, run_snakemake, temporary_files

pytestmark = pytest.mark.workflow

N_OBS = 4
TARGETS = (
    "results/demo/stacked/dataset.fits",
    "results/demo/tables/rejected_observations.ecsv",
    "results/demo/tables/background_norms.ecsv",
    "results/demo/tables/safe_energy.ecsv",
)


def _file(store, obs_id):
    return store / "sub" / "data" / f"dl3flow_sim_obs_id_{obs_id:06d}.fits.gz"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """The simulated store, its files under ``sub/`` reached through BASE_DIR = 'sub'."""
    from astropy.io import fits

    from dl3flow.simulate.config import simulation_config_from_dict
    from dl3flow.simulate.store import write_data_store

    config = simulation_config_from_dict({"seed": 3, "n_obs": N_OBS, "livetime": 600.0})
    root = write_data_store(config, tmp_path_factory.mktemp("store") / "store")
    (root / "sub").mkdir()
    shutil.move(root / "data", root / "sub" / "data")
    with fits.open(root / "hdu-index.fits.gz") as hdulist:
        hdulist = fits.HDUList([hdu.copy() for hdu in hdulist])
    hdulist["HDU_INDEX"].header["BASE_DIR"] = "sub"
    hdulist.writeto(root / "hdu-index.fits.gz", overwrite=True)
    return root


def _run(workdir):
    return run_snakemake(workdir, "--cores", 2, "--configfile", "store.yaml", "--", *TARGETS)


def _state(workdir):
    from astropy.table import Table

    from dl3flow.datasets.map import read_dataset
    from dl3flow.datasets.rejection import rejection_of
    from dl3flow.makers.safe_io import read_safe_mask
    from dl3flow.workflow.rejection import read_rejections

    results = workdir / "results" / "demo"
    stacked = read_dataset(results / "stacked" / "dataset.fits")
    rejected = {r.obs_id: r for r in read_rejections(results / "tables/rejected_observations.ecsv")}
    for obs_id in range(1, N_OBS + 1):
        obs = results / "obs" / str(obs_id)
        flags = {
            rejection_of(read_dataset(obs / "dataset.fits").meta),
            read_safe_mask(obs / "mask_safe.fits").rejection,
            rejection_of(read_dataset(obs / "dataset_bkg.fits").meta),
        }
        # every product of an observation tells the same story
        assert flags == {rejected.get(obs_id)}, (obs_id, flags)
    norms = Table.read(results / "tables" / "background_norms.ecsv")
    used = sorted(set(norms["obs_id"][norms["action"] != "dropped"]))
    return sorted(stacked.meta["OBS_IDS"]), rejected, used


def test_bad_files_reject_one_observation_and_a_fix_needs_one_run(tmp_path, store):
    data = tmp_path / "store"
    shutil.copytree(store, data, symlinks=True)
    workdir = copy_workflow(tmp_path / "workflow")
    (workdir / "store.yaml").write_text(
        f"analyses:\n  demo:\n    data_store: {data}\n    exclusion:\n      significance: null\n"
    )
    saved = _file(data, 2).read_bytes()
    _file(data, 2).unlink()  # a missing file
    _file(data, 3).unlink()
    _file(data, 3).symlink_to(_file(data, 3).name)  # a symlink loop

    first = _run(workdir)
    assert first.returncode == 0, output_of(first)
    stacked, rejected, used = _state(workdir)
    assert stacked == used == [1, 4]
    assert sorted(rejected) == [2, 3]
    assert rejected[2].error == "MissingFileError" and rejected[3].error == "MissingFileError"
    assert f"{_file(data, 2)} referenced by the HDU index" in rejected[2].reason
    assert not temporary_files(workdir)

    # the file is back: one run puts the observation in the stack and the tables
    _file(data, 2).write_bytes(saved)
    second = _run(workdir)
    assert second.returncode == 0, output_of(second)
    stacked, rejected, used = _state(workdir)
    assert stacked == used == [1, 2, 4] and sorted(rejected) == [3]
    again = run_snakemake(workdir, "-n", "--configfile", "store.yaml", "--", *TARGETS)
    assert "Nothing to be done" in again.stdout + again.stderr, output_of(again)

    # a file corrupted after the run: one run (2 cores) rejects it everywhere
    _file(data, 1).write_bytes(gzip.compress(b"not a FITS file", mtime=0))
    third = _run(workdir)
    assert third.returncode == 0, output_of(third)
    stacked, rejected, used = _state(workdir)
    assert stacked == used == [2, 4] and sorted(rejected) == [1, 3]
    assert rejected[1].error == "CorruptFileError"
    assert not temporary_files(workdir)
