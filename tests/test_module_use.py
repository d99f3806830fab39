"""dl3flow as a Snakemake module inside another workflow (README: "Running on a cluster").

The outer workflow lives in a temporary directory and includes this checkout's
Snakefile with ``module`` + ``use rule * from dl3flow as dl3flow_*``; all its outputs
(the simulated demo store, results, logs) go to the temporary directory.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

OUTER_SNAKEFILE = """\
# An analysis workflow of its own that uses dl3flow as a module.
configfile: "{repo}/config/config.yaml"


module dl3flow:
    snakefile:
        "{repo}/Snakefile"
    config:
        config


use rule * from dl3flow as dl3flow_*


rule all:
    default_target: True
    input:
        rules.dl3flow_all.input,
        "summary.txt",


# a rule of the outer workflow that reads a dl3flow product
rule summary:
    input:
        "results/demo/stacked/dataset.fits",
    output:
        "summary.txt",
    run:
        from astropy.io import fits

        with fits.open(input[0]) as hdul:
            counts = int(hdul["COUNTS"].data.sum())
        Path(output[0]).write_text(f"stacked counts: {{counts}}\\n")
"""


@pytest.fixture
def outer(tmp_path):
    (tmp_path / "Snakefile").write_text(OUTER_SNAKEFILE.format(repo=REPO))
    return tmp_path


def snakemake(workdir, *args, timeout=900):
    command = [sys.executable, "-m", "snakemake", "--directory", str(workdir), *map(str, args)]
    return subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_module_dry_run(outer):
    result = snakemake(outer, "-n", "--cores", 2)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for rule in ("dl3flow_simulate_data_store", "dl3flow_select_observations", "summary"):
        assert rule in output
    # every dl3flow rule is renamed; none leaks in under its own name
    assert "\nsimulate_data_store " not in output


@pytest.mark.workflow
def test_module_run(outer):
    result = snakemake(outer, "--cores", 2)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert (outer / "results/demo/stacked/dataset.fits").is_file()
    assert (outer / "summary.txt").read_text().startswith("stacked counts: ")
    # dl3flow's own files stay where they are: outputs went to the outer workflow
    assert not (REPO / "summary.txt").exists()
