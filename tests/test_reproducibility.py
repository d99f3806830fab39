"""Reproducibility of the demo workflow: provenance, determinism, resume after SIGKILL.

Two independent runs of the demo (each in its own directory, simulation included: the
session's ``demo_run`` and ``demo_module_run``, the demo through dl3flow used as a
Snakemake module, conftest.py) must give the same products, with identical data in
every FITS and ECSV product; a run killed with SIGKILL in the middle and resumed
with ``--rerun-incomplete`` must give the same data as an uninterrupted run, with no
partially written file left behind.
Data are compared with `dl3flow.io.provenance.data_checksum` (headers hold dates).
"""

import os
import signal
import subprocess
import sys
import time

import pytest
from _workflow_util import (
    copy_workflow,
    data_checksums,
    output_of,
    product_files,
    run_snakemake,
    snakemake_command,
    temporary_files,
)

pytestmark = pytest.mark.workflow

N_OBS = 6


@pytest.fixture(scope="module")
def run_a(demo_run):
    """The session's demo run (conftest.py), read only."""
    return demo_run


@pytest.fixture(scope="module")
def run_b(demo_module_run):
    """The session's second demo run, as a module (conftest.py), read only.

    The module test (test_module_use.py) made the same second run to compare it with
    the first one: one run serves both.
    """
    workdir, result = demo_module_run
    assert result.returncode == 0, output_of(result)
    return workdir


def _differences(a: dict, b: dict) -> list[str]:
    return sorted(key for key in a.keys() | b.keys() if a.get(key) != b.get(key))


# ------------------------------------------------------------------------ provenance


def test_provenance_cli_shows_how_the_stack_was_made(run_a):
    from dl3flow import __version__
    from dl3flow.io.provenance import config_hash, file_checksum, read_provenance

    path = "results/demo/stacked/dataset.fits"
    result = subprocess.run(
        [sys.executable, "-m", "dl3flow.cli", "provenance", path],
        cwd=run_a,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout
    record = read_provenance(run_a / path)
    assert record.rule == "stack_datasets" and record.analysis == "demo"
    assert record.obs_ids == tuple(range(1, N_OBS + 1))
    assert f"dl3flow:     {__version__}" in text
    assert "rule:        stack_datasets" in text and "analysis:    demo" in text
    for package in ("numpy", "scipy", "astropy", "regions"):
        assert f"{package} {record.packages[package]}" in text
    assert f"config hash: sha256:{record.config_hash}" in text and len(record.config_hash) == 64
    assert f"obs_ids ({N_OBS}): 1, 2, 3, 4, 5, 6" in text
    # every input with its checksum: the background-corrected datasets and the norm table
    inputs = {item.path: item.sha256 for item in record.inputs}
    expected = [f"results/demo/obs/{i}/dataset_bkg.fits" for i in range(1, N_OBS + 1)]
    assert list(inputs)[:N_OBS] == expected
    for name, checksum in inputs.items():
        assert checksum == file_checksum(run_a / name)
        assert f"sha256:{checksum}" in text and name in text

    # a per-observation dataset: its DL3 files and the reduction parameters
    obs = read_provenance(run_a / "results/demo/obs/2/dataset.fits")
    assert obs.rule == "reduce_observations" and obs.obs_ids == (2,)
    # the config hash is that of the config sections the job was given (its params)
    for product in (obs, record):
        given = {k: v for k, v in product.parameters.items() if k != "obs_ids"}
        assert product.config_hash == config_hash(given)
    assert obs.config_hash != record.config_hash  # reduction and stacking use other keys
    assert [item.path for item in obs.inputs] == [
        "resources/demo-dl3/obs-index.fits.gz",
        "resources/demo-dl3/hdu-index.fits.gz",
        "resources/demo-dl3/data/dl3flow_sim_obs_id_000002.fits.gz",
    ]
    assert obs.parameters["offset_max"] == "2 deg" and obs.parameters["irfs"] == {
        "edisp": True,
        "psf": True,
    }
    assert obs.parameters["geom"]["binsz"] == "0.02 deg"
    # the DL3 checksums were cached outside the data store
    assert len(list((run_a / "resources" / "checksums").glob("*.json"))) >= N_OBS + 2


def test_every_product_has_provenance(run_a):
    from astropy.io import fits

    from dl3flow.io.provenance import read_provenance

    suffixes = (".fits", ".ecsv", ".png", ".html")
    products = [p for p in product_files(run_a) if p.endswith(suffixes)]
    assert len(products) > 40
    for path in products:
        record = read_provenance(run_a / path)  # header for FITS, sidecar otherwise
        assert record.rule and record.dl3flow_version, path
        if path.endswith(".fits"):
            assert "PROVENAN" in fits.getheader(run_a / path), path
        if "/obs/" in path:
            assert record.obs_ids == (int(path.split("/")[3]),), path


# ------------------------------------------------------------------------ determinism


def test_two_runs_give_identical_data(run_a, run_b):
    assert product_files(run_a) == product_files(run_b)
    a, b = data_checksums(run_a), data_checksums(run_b)
    assert len(a) > 30
    assert not _differences(a, b)
    assert not temporary_files(run_a) and not temporary_files(run_b)


# ------------------------------------------------------------------------ resume


def test_resume_after_sigkill(tmp_path_factory, run_a):
    workdir = copy_workflow(tmp_path_factory.mktemp("killed") / "workflow")
    obs_dir = workdir / "results" / "demo" / "obs"
    batches = workdir / "results" / "demo" / "batches" / "reduce"
    # batches of 2 observations: the kill leaves some published, some not begun
    kill_args = ("--config", "observations_per_job=2")

    def reduced():
        return sorted(int(p.parent.name) for p in obs_dir.glob("*/status.json"))

    def in_batches():  # observations reduced by a batch job, published or not
        return sorted(int(p.parent.name) for p in batches.glob("*/*/status.json"))

    log = open(workdir / "killed-run.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        snakemake_command(workdir, "--cores", 1, *kill_args),
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the kill reaches every job
    )
    deadline = time.monotonic() + 900
    try:
        while len(in_batches()) < 3:  # the second batch has begun
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no observation reduced in time"
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        log.close()
    done = reduced()
    assert len(done) < N_OBS, done
    assert not (workdir / "results" / "demo" / "stacked" / "dataset.fits").exists()
    # a partial write of the killed batch job, as SIGKILL during a write leaves it
    # (if the kill came while a batch job ran: a batch directory that Snakemake has
    # not marked finished with its .snakemake_timestamp)
    running = [
        path
        for path in sorted(batches.glob("*"))
        if path.is_dir() and not (path / ".snakemake_timestamp").exists()
    ]
    leftovers = [path / ".dataset.fits.k1ll3d.tmp.fits" for path in running]
    for leftover in leftovers:
        leftover.write_bytes(b"SIMPLE  =                    T" + b"\0" * 100)

    assert run_snakemake(workdir, "--unlock", *kill_args).returncode == 0  # the killed lock
    resumed = run_snakemake(workdir, "--cores", 2, "--rerun-incomplete", *kill_args)
    assert resumed.returncode == 0, output_of(resumed)
    assert not any(path.exists() for path in leftovers)  # made again from scratch

    assert not temporary_files(workdir)
    assert product_files(workdir) == product_files(run_a)
    assert not _differences(data_checksums(workdir), data_checksums(run_a))
