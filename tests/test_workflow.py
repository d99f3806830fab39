"""Workflow tests: Snakemake dry runs (marked ``dryrun``) and end-to-end runs (``workflow``).

Each test runs on a copy of the workflow files (Snakefile, rules, scripts, config,
envs) in a temporary directory, never on the data: real data are referenced by an
absolute ``--config data_store=...``.

This work made use of data from the H.E.S.S. DL3 public test data release 1
(HESS DL3 DR1, H.E.S.S. collaboration, 2018).
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _workflow_util import copy_workflow, step_log

REPO = Path(__file__).resolve().parents[1]
CRAB = "config/examples/hess-dr1-crab.yaml"
PKS = "config/examples/hess-dr1-pks2155.yaml"
MSH = "config/examples/hess-dr1-msh1552.yaml"
CRAB_OBS_IDS = (23523, 23526, 23559, 23592)
SHARED_DATA = Path(os.environ.get("DL3FLOW_SHARED_DATA", REPO.parent / "shared" / "data"))

# Jobs of every analysis before the selection checkpoint has run (dry run).
COMMON_JOBS = {
    "all": 1,
    "select_observations": 1,
    # gathers the reduction statuses: the rejected observations and the warnings
    "rejected_observations": 1,
    "stack_datasets": 1,
    "plot_quicklook": 1,
    "safe_energy_table": 1,
    "plot_safe_energy": 1,
    "exclusion_initial": 1,  # also writes the regions and the catalog masks
    "exclusion_final": 1,
    "background_norms_table": 1,
    "plot_background_norms": 1,
    "ring_background": 1,
    # final maps, peaks, their plots and the report pages (rules/maps.smk, report.smk)
    "excess_maps": 1,
    "find_peaks": 1,
    "plot_maps": 1,
    "plot_maps_ring": 1,
    "plot_observation_qa": 1,
    "report_table": 4,
    "report_summary": 1,
}
# ... and of the first pass, only with a significance mask.
FIRST_PASS_JOBS = {"stack_initial": 1, "significance_initial": 1, "exclusion_significance": 1}


@pytest.fixture
def workdir(tmp_path):
    """A copy of the workflow files in tmp_path/workflow.

    tmp_path/shared/data links to the shared data (when present), so that the
    examples' paths relative to the workflow directory ('../shared/data/...') work.
    """
    workdir = copy_workflow(tmp_path / "workflow")
    if SHARED_DATA.is_dir():
        (tmp_path / "shared").mkdir()
        (tmp_path / "shared" / "data").symlink_to(SHARED_DATA.resolve())
    return workdir


@pytest.fixture
def shared(workdir):
    """Skip unless the shared data (region files, catalogs) is reachable from workdir."""
    if not (workdir.parent / "shared" / "data" / "catalogs").is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set DL3FLOW_SHARED_DATA)")
    return workdir.parent / "shared" / "data"


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


def _dry_run(workdir, *configfiles) -> str:
    """The output of a dry run with ``configfiles`` (the job counts: job_counts)."""
    result = snakemake(workdir, "-n", "--cores", 2, "--configfile", *configfiles)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    return result.stdout + result.stderr


def job_counts(output: str) -> dict:
    """The 'Job stats' table of a dry run as {rule: count}."""
    block = output.split("Job stats:", 1)[1].split("total", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", block, re.MULTILINE)}


@pytest.mark.dryrun
def test_dry_run_demo(workdir):
    result = snakemake(workdir, "-n", "--cores", 2)
    assert result.returncode == 0, result.stdout + result.stderr
    assert job_counts(result.stdout + result.stderr) == {
        **COMMON_JOBS,
        **FIRST_PASS_JOBS,
        "simulate_data_store": 1,
        "plot_exclusions": 1,
        "plot_exclusion_significance": 1,
        # maps.energy_bands: two bands
        "excess_maps_bands": 1,
        "plot_significance_band": 2,
    }


@pytest.mark.parametrize(
    ("example", "analysis", "first_pass"),
    [(CRAB, "crab", False), (PKS, "pks2155", True), (MSH, "msh1552", False)],
)
@pytest.mark.dryrun
def test_dry_run_examples(workdir, shared, fake_store, example, analysis, first_pass):
    result = snakemake(
        workdir, "-n", "--cores", 2, "--configfile", example, "--config", f"data_store={fake_store}"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    expected = {**COMMON_JOBS, "plot_exclusions": 1}
    if first_pass:
        expected.update(FIRST_PASS_JOBS, plot_exclusion_significance=1)
    assert job_counts(output) == expected
    assert f"{fake_store}/obs-index.fits.gz" in output
    assert f"results/{analysis}/observations.ecsv" in output
    assert f"results/{analysis}/stacked/ring.fits" in output


@pytest.mark.dryrun
def test_dry_run_without_significance_has_no_first_pass(workdir):
    (workdir / "nosig.yaml").write_text(
        "analyses:\n  demo:\n    exclusion:\n      significance: null\n    ring: null\n"
    )
    result = snakemake(workdir, "-n", "--cores", 2, "--configfile", "nosig.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    counts = job_counts(result.stdout + result.stderr)
    assert not set(FIRST_PASS_JOBS) & set(counts), counts
    assert "ring_background" not in counts and counts["plot_exclusions"] == 1
    assert "plot_exclusion_significance" not in counts
    assert "stacked/initial" not in result.stdout + result.stderr


@pytest.mark.dryrun
def test_dry_run_several_analyses(workdir, shared, fake_store):
    (workdir / "both.yaml").write_text(
        (workdir / CRAB).read_text().replace("run: [crab]", "run: null")
    )
    result = snakemake(
        workdir, "-n", "--configfile", "both.yaml", "--config", f"data_store={fake_store}"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    counts = job_counts(result.stdout + result.stderr)
    assert counts["select_observations"] == 2 and counts["plot_quicklook"] == 2
    assert counts["stack_initial"] == 1 and counts["exclusion_final"] == 2  # demo only


@pytest.mark.parametrize(
    ("exclusion", "message"),
    [
        (
            "regions: ['icrs;circel(60,-25,0.3)']",
            "analyses.demo.exclusion.regions[0]: cannot parse 'icrs;circel(60,-25,0.3)'",
        ),
        (
            "region_files: [nope.reg]",
            "analyses.demo.exclusion.region_files[0]: region file 'nope.reg' does not exist",
        ),
        (
            "catalogs: [{kind: table, path: resources/demo-sources.fits}]",
            "analyses.demo.exclusion.catalogs[0].columns: a 'table' catalog needs",
        ),
    ],
)
@pytest.mark.dryrun
def test_dry_run_exclusion_errors(workdir, exclusion, message):
    (workdir / "bad.yaml").write_text(f"analyses:\n  demo:\n    exclusion:\n      {exclusion}\n")
    result = snakemake(workdir, "-n", "--configfile", "bad.yaml")
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


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
@pytest.mark.dryrun
def test_dry_run_config_errors(workdir, args, message):
    result = snakemake(workdir, "-n", *args)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


@pytest.mark.dryrun
def test_dry_run_bad_quantity_names_key(workdir):
    (workdir / "bad.yaml").write_text("analyses:\n  demo:\n    geom:\n      binsz: 0.02 TeV\n")
    result = snakemake(workdir, "-n", "--configfile", "bad.yaml")
    assert result.returncode != 0
    assert (
        "analyses.demo.geom.binsz: expected an angle, got '0.02 TeV'"
        in result.stdout + result.stderr
    )


@pytest.mark.dryrun
def test_dry_run_schema_violation(workdir):
    """dl3flow's check runs before Snakemake's validate: a few lines, not the schema."""
    result = snakemake(workdir, "-n", "--config", "analyses={demo: {offset_maxx: 2 deg}}")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "analyses.demo.offset_maxx: unknown key (did you mean 'offset_max'?)" in output
    assert "Error validating config file" not in output
    error = output[output.index("WorkflowError") :].strip().splitlines()
    assert len(error) <= 5, error
    (workdir / "bad.yaml").write_text("data_stor: x\n")
    result = snakemake(workdir, "-n", "--configfile", "bad.yaml")
    assert "data_stor: unknown key (did you mean 'data_store'?)" in result.stdout + result.stderr


@pytest.mark.dryrun
def test_dry_run_missing_data_store(workdir):
    result = snakemake(
        workdir, "-n", "--configfile", CRAB, "--config", "data_store=/nonexistent/store"
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert (
        "invalid configuration: analyses.crab.data_store: data store directory "
        "/nonexistent/store does not exist"
    ) in output
    assert "MissingInputException" not in output


@pytest.mark.dryrun
def test_lint(workdir):
    result = snakemake(workdir, "--lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations" in result.stdout + result.stderr


def _check_products(workdir, analysis, obs_ids=None, *, first_pass=False):
    from astropy.table import Table

    from dl3flow.datasets.map import read_dataset
    from dl3flow.datasets.onoff import read_dataset_onoff
    from dl3flow.io.atomic import read_observations
    from dl3flow.makers.exclusion import read_mask

    results = workdir / "results" / analysis
    selected, _ = read_observations(results / "observations.ecsv")
    if obs_ids is not None:
        assert sorted(selected["OBS_ID"]) == sorted(obs_ids)
    for obs_id in selected["OBS_ID"]:
        for name in ("dataset.fits", "mask_safe.fits", "dataset_bkg.fits"):
            assert (results / "obs" / str(obs_id) / name).is_file()
    reduce_log = step_log(workdir, analysis, "reduce_observations")
    background_log = step_log(workdir, analysis, "normalize_backgrounds")
    for obs_id in selected["OBS_ID"]:
        assert f"reducing observation {obs_id} of" in reduce_log
        assert f"obs {obs_id}: " in background_log
    stacked = read_dataset(results / "stacked" / "dataset.fits")
    assert stacked.counts.sum() > 0
    table = Table.read(results / "tables" / "safe_energy.ecsv")
    assert sorted(table["obs_id"]) == sorted(selected["OBS_ID"])
    norms = Table.read(results / "tables" / "background_norms.ecsv")
    assert sorted(norms["obs_id"]) == sorted(selected["OBS_ID"])

    # exclusion masks: True = usable, each with its recipe; final = AND of the others
    masks = {}
    stages = ["regions", "catalog", "initial", "significance", ""]
    for stage in stages if first_pass else [s for s in stages if s != "significance"]:
        name = f"exclusion_{stage}" if stage else "exclusion"
        mask, geom, recipe = read_mask(results / "masks" / f"{name}.fits")
        assert geom.shape == stacked.geom.sky.shape and recipe["kind"]
        masks[stage or "final"] = mask
    assert (masks["initial"] == (masks["regions"] & masks["catalog"])).all()
    assert (masks["final"] <= masks["initial"]).all()
    if first_pass:
        assert (masks["final"] == (masks["initial"] & masks["significance"])).all()
        assert (results / "stacked" / "initial" / "maps.fits").is_file()
    else:
        assert not (results / "stacked" / "initial").exists()
        assert (masks["final"] == masks["initial"]).all()

    ring = read_dataset_onoff(results / "stacked" / "ring.fits")
    assert ring.counts.sum() == stacked.counts[stacked.mask_safe].sum()
    plots = ["counts", "background", "exposure", "safe_energy_threshold", "background_norms"]
    plots += [f"exclusion_{m}" for m in masks]
    for name in plots:
        png = results / "plots" / f"{name}.png"
        assert png.read_bytes()[:4] == b"\x89PNG", name
    # nothing half-written is left behind
    assert not [p for p in results.rglob("*") if ".tmp" in p.name]
    return stacked, norms


@pytest.mark.workflow
def test_run_demo(demo_run, tmp_path):
    import numpy as np
    from astropy.table import Table

    from dl3flow.datasets.map import read_dataset

    # the session's demo run (conftest.py) is read only: changes go to a copy
    stacked, norms = _check_products(demo_run, "demo", obs_ids=range(1, 7), first_pass=True)
    assert (demo_run / "resources" / "demo-sources.reg").is_file()
    assert (demo_run / "resources" / "demo-sources.fits").is_file()
    assert set(norms["status"]) == {"ok"} and stacked.meta["NDROPPED"] == 0
    workdir = tmp_path / "demo"
    shutil.copytree(demo_run, workdir, symlinks=True)
    again = snakemake(workdir, "-n", "--cores", 2)
    assert "Nothing to be done" in again.stdout + again.stderr, again.stdout + again.stderr

    # re-run granularity (dry runs): a job re-runs for what it uses (its params), so
    # - the significance thresholds re-run that mask, not its first pass, the masks
    #   from regions and catalogs, the reduction or the safe masks
    (workdir / "high.yaml").write_text(
        "analyses:\n  demo:\n    exclusion:\n      significance:\n        high: 7\n"
    )
    counts = job_counts(_dry_run(workdir, "high.yaml"))
    assert counts["exclusion_significance"] == 1 and counts["exclusion_final"] == 1, counts
    for rule in ("reduce_observations", "make_safe_masks", "exclusion_initial", "stack_initial"):
        assert rule not in counts, counts
    assert "significance_initial" not in counts, counts
    # - an exclusion region re-runs the masks, neither the reduction nor the safe masks
    (workdir / "region.yaml").write_text(
        "analyses:\n  demo:\n    exclusion:\n      regions: ['icrs;circle(80, -30, 0.3)']\n"
    )
    counts = job_counts(_dry_run(workdir, "region.yaml"))
    assert counts["exclusion_initial"] == 1 and counts["normalize_backgrounds"] >= 1, counts
    assert "reduce_observations" not in counts and "make_safe_masks" not in counts, counts
    # - a switch to on_bad_observation: fail re-checks the statuses, re-reduces nothing
    (workdir / "fail.yaml").write_text("on_bad_observation: fail\n")
    counts = job_counts(_dry_run(workdir, "fail.yaml"))
    assert counts.get("rejected_observations") == 1 and "reduce_observations" not in counts, counts
    assert "extract_spectra" not in counts, counts

    # a forced failure of every normalisation, kept unscaled: the run goes on, the
    # table says why, and the stack holds the IRF background of every observation
    (workdir / "keep.yaml").write_text(
        "analyses:\n  demo:\n    background:\n      min_counts: 1000000000\n"
        "      on_failure: keep_unscaled\n"
    )
    keep = snakemake(workdir, "--cores", 2, "--configfile", "keep.yaml")
    assert keep.returncode == 0, (keep.stdout + keep.stderr)[-5000:]
    table = Table.read(workdir / "results/demo/tables/background_norms.ecsv")
    assert set(table["status"]) == {"skipped"} and set(table["action"]) == {"kept_unscaled"}
    assert all("must be > min_counts = 1e+09" in reason for reason in table["reason"])
    unscaled = read_dataset(workdir / "results/demo/stacked/dataset.fits")
    assert unscaled.counts.sum() == stacked.counts.sum() and unscaled.meta["NDROPPED"] == 0
    for obs_id in range(1, 7):
        obs = workdir / "results/demo/obs" / str(obs_id)
        kept = read_dataset(obs / "dataset_bkg.fits")
        assert kept.meta["BKGACT"] == "kept_unscaled" and kept.mask_safe.any()
        np.testing.assert_array_equal(
            kept.background, read_dataset(obs / "dataset.fits").background
        )

    # ... and dropped: the observations below the median counts are left out of the
    # stack (and said so in the table and the stack log), the others are stacked
    median = float(np.median(norms["counts"]))
    (workdir / "drop.yaml").write_text(
        f"analyses:\n  demo:\n    background:\n      min_counts: {median}\n      on_failure: drop\n"
    )
    drop = snakemake(workdir, "--cores", 2, "--configfile", "drop.yaml")
    assert drop.returncode == 0, (drop.stdout + drop.stderr)[-5000:]
    table = Table.read(workdir / "results/demo/tables/background_norms.ecsv")
    dropped = sorted(table["obs_id"][table["action"] == "dropped"])
    assert dropped and len(dropped) < 6
    assert set(table["status"][table["action"] == "dropped"]) == {"skipped"}
    partial = read_dataset(workdir / "results/demo/stacked/dataset.fits")
    assert partial.meta["NDROPPED"] == len(dropped) and partial.meta["DROPPED"] == dropped
    assert sorted(partial.meta["OBS_IDS"]) == sorted(set(range(1, 7)) - set(dropped))
    log = (workdir / "logs/demo/stack_datasets.log").read_text()
    assert f"obs {dropped[0]} left out of the stack: background normalisation skipped" in log

    # changing only safe_mask settings re-runs the masks and what uses them, never the
    # per-observation reduction (rerun triggers include params and code)
    (workdir / "safe.yaml").write_text(
        "analyses:\n  demo:\n    safe_mask:\n      methods: [aeff-default, bkg-peak]\n"
    )
    changed = snakemake(workdir, "-n", "--cores", 2, "--configfile", "safe.yaml")
    assert changed.returncode == 0, changed.stdout + changed.stderr
    counts = job_counts(changed.stdout + changed.stderr)
    assert "reduce_observations" not in counts and "obs_dataset" not in counts, counts
    assert counts["make_safe_masks"] == 1 and counts["obs_safe_mask"] == 6, counts
    assert counts["stack_datasets"] == 1, counts
    # ... and the exclusion masks from regions and catalogs do not depend on them
    assert "exclusion_initial" not in counts, counts
    rerun = snakemake(workdir, "--cores", 2, "--configfile", "safe.yaml")
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-5000:]
    table = Table.read(workdir / "results/demo/tables/safe_energy.ecsv")
    assert set(table["methods"]) == {"aeff-default,bkg-peak"}
    # ... while a reduction setting does re-run it
    (workdir / "geom.yaml").write_text("analyses:\n  demo:\n    fov_rotation_step: 2 deg\n")
    reduce = snakemake(workdir, "-n", "--cores", 2, "--configfile", "safe.yaml", "geom.yaml")
    counts = job_counts(reduce.stdout + reduce.stderr)
    assert counts["reduce_observations"] == 1 and counts["obs_dataset"] == 6, counts

    # a dataset deleted by hand is a declared product: the next run simply re-makes it
    # (published again from its batch, not reduced again) and what depends on it
    # (through the first pass, every normalisation)
    (workdir / "results/demo/obs/2/dataset.fits").unlink()
    again = snakemake(workdir, "-n", "--cores", 2, "--configfile", "safe.yaml")
    assert again.returncode == 0, (again.stdout + again.stderr)[-5000:]
    counts = job_counts(again.stdout + again.stderr)
    assert "reduce_observations" not in counts and counts["obs_dataset"] == 1, counts
    assert counts["make_safe_masks"] == 1, counts
    assert counts["stack_datasets"] == 1 and "simulate_data_store" not in counts, counts


@pytest.mark.workflow
def test_run_crab(crab_example_run):
    from dl3flow.makers.exclusion import read_mask, read_mask_sources

    # the session's Crab run (conftest.py: the whole example on DR1) is read only
    workdir = crab_example_run
    stacked, norms = _check_products(workdir, "crab", obs_ids=CRAB_OBS_IDS)
    assert stacked.counts.shape == (11, 250, 250)
    assert stacked.exposure.shape == (20, 250, 250)
    assert set(norms["status"]) == {"ok"}
    mask, _, _ = read_mask(workdir / "results/crab/masks/exclusion.fits")
    assert not mask[125, 125] and mask[0, 0]  # the Crab is excluded, the corner is not
    sources = read_mask_sources(workdir / "results/crab/masks/exclusion_catalog.fits")
    assert "Crab nebula" in list(sources["NAME"])
