"""Off-source significance distribution on real fields (issue 7 acceptance).

Runs the workflow for the H.E.S.S. DL3 DR1 Crab (the session's whole run of the
example, conftest.py) and PKS 2155-304 examples up to the final maps, then fits a
Gaussian to the significance (``stacked/maps.fits``, Cash, FoV-normalised stack) of
the pixels outside the final exclusion mask (``masks/exclusion.fits``): mean within
+-0.1, width within 0.9-1.1. The numbers
are printed (``pytest -s``). Skipped without the data.

This work made use of data from the H.E.S.S. DL3 public test data release 1
(HESS DL3 DR1, H.E.S.S. collaboration, 2018).
"""

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dl3flow.estimators.maps import read_maps
from dl3flow.makers.exclusion import read_mask
from dl3flow.workflow.products import significance_distribution

pytestmark = pytest.mark.workflow

REPO = Path(__file__).resolve().parents[2]
WORKFLOW_FILES = ("Snakefile", "rules", "scripts", "config", "envs", "report")


def _check_off_source(workdir, analysis, start):
    results = f"results/{analysis}"
    exclusion, _, _ = read_mask(workdir / results / "masks" / "exclusion.fits")
    fits = {}
    for name in ("maps", "maps_ring"):
        maps = read_maps(workdir / results / "stacked" / f"{name}.fits")
        fits[name] = significance_distribution(maps, exclusion)
        print(
            f"{analysis} {name} ({maps.meta['STAT']}, r = {maps.meta['CORR_RAD']} deg): "
            f"mean {fits[name]['mean']:+.3f}, width {fits[name]['width']:.3f}, "
            f"{fits[name]['n']} pixels outside the exclusion "
            f"({time.perf_counter() - start:.0f} s)"
        )
    fit = fits["maps"]
    assert abs(fit["mean"]) <= 0.1, fit
    assert 0.9 <= fit["width"] <= 1.1, fit


def test_off_source_significance_crab(crab_example_run):
    """On the session's whole run of the Crab example (conftest.py), read only."""
    _check_off_source(crab_example_run, "crab", time.perf_counter())


def test_off_source_significance_pks2155(tmp_path, shared_data, hess_dr1):
    workdir = tmp_path / "workflow"
    workdir.mkdir()
    for name in WORKFLOW_FILES:
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, workdir / name)
    (tmp_path / "shared").mkdir()  # the example's '../shared/data/...' paths
    (tmp_path / "shared" / "data").symlink_to(shared_data.resolve())
    results = "results/pks2155"
    targets = [f"{results}/stacked/maps.fits", f"{results}/stacked/maps_ring.fits"]
    command = [sys.executable, "-m", "snakemake", "--directory", str(workdir), *targets]
    command += ["--cores", "2", "--configfile", "config/examples/hess-dr1-pks2155.yaml"]
    command += ["--config", f"data_store={hess_dr1}"]
    start = time.perf_counter()
    run = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, (run.stdout + run.stderr)[-5000:]
    _check_off_source(workdir, "pks2155", start)
