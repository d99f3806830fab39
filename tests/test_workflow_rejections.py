"""Failure isolation in the workflow: one corrupt observation of the demo data store.

The demo's simulated data store is written to a temporary directory and observation
3 loses its effective-area HDU. With ``on_bad_observation: skip`` the run completes
without it: its products are all written, flagged REJECTED with nothing to use, the
stack leaves it out, the rejection table and the end-of-run summary say why; with
``fail`` the run stops with an error naming the observation and the cause.
"""

import gzip
import io
import json

import pytest
import yaml
from _workflow_util import (
    REPO,
    copy_workflow,
    output_of,
    run_snakemake,
    step_log,
    temporary_files,
)

pytestmark = pytest.mark.workflow

BAD_OBS = 3
N_OBS = 6


@pytest.fixture(scope="module")
def bad_store(tmp_path_factory):
    """The demo's simulated data store with the AEFF HDU of observation 3 dropped."""
    from astropy.io import fits

    from dl3flow.simulate.config import simulation_config_from_dict
    from dl3flow.simulate.store import write_data_store

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    section = {k: v for k, v in config["simulation"].items() if v is not None}
    store = write_data_store(
        simulation_config_from_dict(section), tmp_path_factory.mktemp("bad") / "store"
    )
    path = store / "data" / f"dl3flow_sim_obs_id_{BAD_OBS:06d}.fits.gz"
    with fits.open(path) as hdulist:
        kept = fits.HDUList([hdu.copy() for hdu in hdulist if hdu.name != "AEFF"])
    buffer = io.BytesIO()
    kept.writeto(buffer)
    path.write_bytes(gzip.compress(buffer.getvalue(), mtime=0))
    return store


def _workdir(tmp_path_factory, store, on_bad_observation):
    workdir = copy_workflow(tmp_path_factory.mktemp(on_bad_observation) / "workflow")
    (workdir / "bad.yaml").write_text(
        f"on_bad_observation: {on_bad_observation}\nanalyses:\n  demo:\n    data_store: {store}\n"
    )
    return workdir


@pytest.fixture(scope="module")
def skip_run(tmp_path_factory, bad_store):
    workdir = _workdir(tmp_path_factory, bad_store, "skip")
    result = run_snakemake(workdir, "--cores", 2, "--configfile", "bad.yaml")
    return workdir, result


def test_skip_completes_without_the_bad_observation(skip_run):
    from astropy.table import Table

    from dl3flow.datasets.map import read_dataset
    from dl3flow.datasets.rejection import rejection_of
    from dl3flow.io.provenance import read_provenance
    from dl3flow.makers.safe_io import read_safe_mask
    from dl3flow.workflow.rejection import read_rejections, read_status

    workdir, result = skip_run
    assert result.returncode == 0, output_of(result)
    results = workdir / "results" / "demo"
    good = [obs_id for obs_id in range(1, N_OBS + 1) if obs_id != BAD_OBS]

    (rejection,) = read_rejections(results / "tables" / "rejected_observations.ecsv")
    assert (rejection.obs_id, rejection.stage, rejection.error) == (
        BAD_OBS,
        "irf",
        "MissingHDUError",
    )
    assert "HDU 'aeff'" in rejection.reason
    assert f"dl3flow_sim_obs_id_{BAD_OBS:06d}.fits.gz" in rejection.reason
    assert read_status(results / "obs" / str(BAD_OBS) / "status.json") == rejection
    # the rejected observation has all its products, flagged, with nothing to use
    bad = results / "obs" / str(BAD_OBS)
    assert sorted(p.name for p in bad.iterdir() if not p.name.endswith(".prov.json")) == [
        "background_norm.ecsv",
        "dataset.fits",
        "dataset_bkg.fits",
        "mask_safe.fits",
        "status.json",
    ]
    assert rejection_of(read_dataset(bad / "dataset.fits").meta) == rejection
    assert read_safe_mask(bad / "mask_safe.fits").rejection == rejection
    assert not read_safe_mask(bad / "mask_safe.fits").mask.any()
    stacked = read_dataset(results / "stacked" / "dataset.fits")
    assert sorted(stacked.meta["OBS_IDS"]) == good and stacked.counts.sum() > 0
    assert stacked.meta["DROPPED"] == [BAD_OBS]
    assert read_provenance(results / "stacked" / "dataset.fits").obs_ids == tuple(good)
    assert sorted(Table.read(results / "tables" / "safe_energy.ecsv")["obs_id"]) == good
    norms = Table.read(results / "tables" / "background_norms.ecsv")
    assert sorted(norms["obs_id"]) == list(range(1, N_OBS + 1))
    (row,) = norms[norms["obs_id"] == BAD_OBS]
    assert (row["status"], row["action"]) == ("skipped", "dropped")
    assert row["reason"].startswith("observation rejected (irf): MissingHDUError")
    for obs_id in good:
        assert read_status(results / "obs" / str(obs_id) / "status.json") is None
        assert (results / "obs" / str(obs_id) / "dataset_bkg.fits").is_file()
    assert (results / "plots" / "counts.png").is_file()
    assert not temporary_files(workdir)

    # the end-of-run summary names it, and its log says why
    output = result.stdout + result.stderr
    assert "demo: results in results/demo/" in output
    assert f"  observations: {N_OBS - 1} used, livetime " in output
    assert "    during the analysis (1; results/demo/tables/rejected_observations.ecsv):" in output
    assert f"      obs {BAD_OBS} (irf): MissingHDUError: HDU 'aeff'" in output
    log = step_log(workdir, "demo", "reduce_observations")
    assert f"obs {BAD_OBS} rejected (on_bad_observation: skip)" in log


def test_skip_rerun_has_nothing_to_do(skip_run):
    workdir, result = skip_run
    assert result.returncode == 0, output_of(result)
    again = run_snakemake(workdir, "-n", "--configfile", "bad.yaml")
    assert "Nothing to be done" in again.stdout + again.stderr, output_of(again)


def test_switching_to_fail_reports_earlier_rejections(skip_run):
    workdir, result = skip_run
    assert result.returncode == 0, output_of(result)
    table = "results/demo/tables/rejected_observations.ecsv"
    switch = ("--config", "on_bad_observation=fail")
    fail = run_snakemake(workdir, "--cores", 1, "--configfile", "bad.yaml", *switch, "--", table)
    assert fail.returncode != 0
    output = fail.stdout + fail.stderr
    assert "on_bad_observation is fail, but observation(s) were rejected" in output
    assert f"obs {BAD_OBS} (irf): MissingHDUError" in output


def test_fail_stops_naming_the_observation(tmp_path_factory, bad_store):
    workdir = _workdir(tmp_path_factory, bad_store, "fail")
    # only as far as the reduction: the failure is in it
    target = "results/demo/tables/rejected_observations.ecsv"
    result = run_snakemake(workdir, "--cores", 2, "--configfile", "bad.yaml", "--", target)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"BadObservationError: observation {BAD_OBS}: irf failed: MissingHDUError" in output
    assert f"dl3flow_sim_obs_id_{BAD_OBS:06d}.fits.gz" in output
    obs = workdir / "results" / "demo" / "obs"
    assert not (obs / str(BAD_OBS)).exists() or not any((obs / str(BAD_OBS)).iterdir())
    assert not (workdir / target).exists()
    assert "BadObservationError" in step_log(workdir, "demo", "reduce_observations")
    # the good observations that were reduced before the stop are complete
    for status in obs.glob("*/status.json"):
        assert json.loads(status.read_text())["status"] == "ok"
    assert not temporary_files(workdir)
