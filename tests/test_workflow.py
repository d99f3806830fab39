"""Workflow tests: Snakemake dry runs (fast) and end-to-end runs (marked ``workflow``).

Each test runs on a copy of the workflow files (Snakefile, rules, scripts, config,
envs) in a temporary directory, never on the data: real data are referenced by an
absolute ``--config data_store=...``.

This work made use of data from the H.E.S.S. DL3 public test data release 1
(HESS DL3 DR1, H.E.S.S. collaboration, 2018).
"""

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "rules", "scripts", "config", "envs")
CRAB = "config/examples/hess-dr1-crab.yaml"
CRAB_OBS_IDS = (23523, 23526, 23559, 23592)


@pytest.fixture
def workdir(tmp_path):
    """A copy of the workflow files."""
    for name in WORKFLOW_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name)
        elif source.exists():
            shutil.copy2(source, tmp_path / name)
    return tmp_path


@pytest.fixture
def fake_store(tmp_path):
    """Empty index files: enough for a dry run, which never opens them."""
    store = tmp_path / "fake-store"
    store.mkdir()
    for name in ("obs-index.fits.gz", "hdu-index.fits.gz"):
        (store / name).write_bytes(b"")
    return store


def snakemake(workdir, *args, timeout=1200):
    command = [sys.executable, "-m", "snakemake", "--directory", str(workdir), *map(str, args)]
    return subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, timeout=timeout, check=False
    )


def job_counts(output: str) -> dict:
    """The 'Job stats' table of a dry run as {rule: count}."""
    block = output.split("Job stats:", 1)[1].split("total", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", block, re.MULTILINE)}


def test_dry_run_demo(workdir):
    result = snakemake(workdir, "-n", "--cores", 2)
    assert result.returncode == 0, result.stdout + result.stderr
    assert job_counts(result.stdout + result.stderr) == {
        "all": 1,
        "simulate_data_store": 1,
        "select_observations": 1,
        "stack_datasets": 1,
        "plot_quicklook": 1,
        "safe_energy_table": 1,
        "plot_safe_energy": 1,
    }


def test_dry_run_crab(workdir, fake_store):
    result = snakemake(
        workdir, "-n", "--cores", 2, "--configfile", CRAB, "--config", f"data_store={fake_store}"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert job_counts(output) == {
        "all": 1,
        "select_observations": 1,
        "stack_datasets": 1,
        "plot_quicklook": 1,
        "safe_energy_table": 1,
        "plot_safe_energy": 1,
    }
    assert f"{fake_store}/obs-index.fits.gz" in output
    assert "results/crab/observations.ecsv" in output


def test_dry_run_several_analyses(workdir, fake_store):
    (workdir / "both.yaml").write_text(
        (workdir / CRAB).read_text().replace("run: [crab]", "run: null")
    )
    result = snakemake(
        workdir, "-n", "--configfile", "both.yaml", "--config", f"data_store={fake_store}"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    counts = job_counts(result.stdout + result.stderr)
    assert counts["select_observations"] == 2 and counts["plot_quicklook"] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--config", "run=nope"), "run: unknown analysis 'nope'; defined: demo"),
        (
            ("--configfile", CRAB, "--config", "data_store="),
            "analyses.crab.data_store: no data store given",
        ),
    ],
)
def test_dry_run_config_errors(workdir, args, message):
    result = snakemake(workdir, "-n", *args)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


def test_dry_run_bad_quantity_names_key(workdir):
    (workdir / "bad.yaml").write_text("analyses:\n  demo:\n    geom:\n      binsz: 0.02 TeV\n")
    result = snakemake(workdir, "-n", "--configfile", "bad.yaml")
    assert result.returncode != 0
    assert (
        "analyses.demo.geom.binsz: expected an angle, got '0.02 TeV'"
        in result.stdout + result.stderr
    )


def test_dry_run_schema_violation(workdir):
    (workdir / "bad.yaml").write_text("analyses:\n  demo:\n    offset_mx: 2 deg\n")
    result = snakemake(workdir, "-n", "--configfile", "bad.yaml")
    assert result.returncode != 0
    assert "Error validating config file" in result.stdout + result.stderr
    assert "offset_mx" in result.stdout + result.stderr


def test_lint(workdir):
    result = snakemake(workdir, "--lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations" in result.stdout + result.stderr


def _check_products(workdir, analysis, obs_ids=None):
    from astropy.table import Table

    from dl3flow.dataset import read_dataset
    from dl3flow.io import read_observations

    results = workdir / "results" / analysis
    selected, _ = read_observations(results / "observations.ecsv")
    if obs_ids is not None:
        assert sorted(selected["OBS_ID"]) == sorted(obs_ids)
    for obs_id in selected["OBS_ID"]:
        assert (results / "obs" / str(obs_id) / "dataset.fits").is_file()
        assert (results / "obs" / str(obs_id) / "mask_safe.fits").is_file()
        assert (workdir / "logs" / analysis / "reduce_observation" / f"{obs_id}.log").is_file()
    stacked = read_dataset(results / "stacked" / "dataset.fits")
    assert stacked.counts.sum() > 0
    table = Table.read(results / "tables" / "safe_energy.ecsv")
    assert sorted(table["obs_id"]) == sorted(selected["OBS_ID"])
    for name in ("counts", "background", "exposure", "safe_energy_threshold"):
        png = results / "plots" / f"{name}.png"
        assert png.read_bytes()[:4] == b"\x89PNG"
    # nothing half-written is left behind
    assert not [p for p in results.rglob("*") if ".tmp" in p.name]
    return stacked


@pytest.mark.workflow
def test_run_demo(workdir):
    from astropy.table import Table

    start = time.perf_counter()
    result = snakemake(workdir, "--cores", 2)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    print(f"demo workflow: {time.perf_counter() - start:.1f} s")
    _check_products(workdir, "demo", obs_ids=range(1, 7))
    assert (workdir / "resources" / "demo-sources.reg").is_file()
    again = snakemake(workdir, "-n", "--cores", 2)
    assert "Nothing to be done" in again.stdout + again.stderr

    # changing only safe_mask settings re-runs the masks and what uses them, never the
    # per-observation reduction (rerun triggers include params and code)
    (workdir / "safe.yaml").write_text(
        "analyses:\n  demo:\n    safe_mask:\n      methods: [aeff-default, bkg-peak]\n"
    )
    changed = snakemake(workdir, "-n", "--cores", 2, "--configfile", "safe.yaml")
    assert changed.returncode == 0, changed.stdout + changed.stderr
    counts = job_counts(changed.stdout + changed.stderr)
    assert "reduce_observation" not in counts, counts
    assert counts["make_safe_mask"] == 6 and counts["stack_datasets"] == 1, counts
    rerun = snakemake(workdir, "--cores", 2, "--configfile", "safe.yaml")
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-5000:]
    table = Table.read(workdir / "results/demo/tables/safe_energy.ecsv")
    assert set(table["methods"]) == {"aeff-default,bkg-peak"}
    # ... while a reduction setting does re-run it
    (workdir / "geom.yaml").write_text("analyses:\n  demo:\n    fov_rotation_step: 2 deg\n")
    reduce = snakemake(workdir, "-n", "--cores", 2, "--configfile", "safe.yaml", "geom.yaml")
    assert job_counts(reduce.stdout + reduce.stderr)["reduce_observation"] == 6


@pytest.mark.workflow
def test_run_crab(workdir, hess_dr1):
    start = time.perf_counter()
    result = snakemake(
        workdir, "--cores", 2, "--configfile", CRAB, "--config", f"data_store={hess_dr1}"
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    print(f"crab workflow: {time.perf_counter() - start:.1f} s")
    stacked = _check_products(workdir, "crab", obs_ids=CRAB_OBS_IDS)
    assert stacked.counts.shape == (11, 250, 250)
    assert stacked.exposure.shape == (20, 250, 250)
