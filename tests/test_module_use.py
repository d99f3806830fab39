"""dl3flow as a Snakemake module inside another workflow (docs/cluster.md).

The outer workflow (``_workflow_util.OUTER_SNAKEFILE``) lives in a temporary directory
and includes this checkout's Snakefile with ``module`` + ``use rule * from dl3flow as
dl3flow_*``; all its outputs (the simulated demo store, results, logs) go to the
temporary directory. Its whole run is the session fixture ``demo_module_run``
(conftest.py), which test_reproducibility.py also compares with the demo run.

Also here: Snakemake and its jobs import dl3flow from the workflow's own ``src/``
(what makes ``--sdm conda`` environments, which do not install dl3flow, work).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _workflow_util import OUTER_SNAKEFILE, copy_workflow, output_of

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def outer(tmp_path):
    (tmp_path / "Snakefile").write_text(OUTER_SNAKEFILE.format(repo=REPO))
    return tmp_path


def snakemake(workdir, *args, timeout=900):
    command = [sys.executable, "-m", "snakemake", "--directory", str(workdir), *map(str, args)]
    return subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.mark.dryrun
def test_module_dry_run(outer):
    result = snakemake(outer, "-n", "--cores", 2)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for rule in ("dl3flow_simulate_data_store", "dl3flow_select_observations", "summary"):
        assert rule in output
    # every dl3flow rule is renamed; none leaks in under its own name
    assert "\nsimulate_data_store " not in output


@pytest.mark.workflow
def test_module_run(demo_module_run, demo_run):
    from _workflow_util import data_checksums

    outer, result = demo_module_run
    assert result.returncode == 0, output_of(result)
    assert (outer / "results/demo/stacked/dataset.fits").is_file()
    assert (outer / "summary.txt").read_text().startswith("stacked counts: ")
    # dl3flow's own files stay where they are: outputs went to the outer workflow
    assert not (REPO / "summary.txt").exists()
    # ... and hold the same data as the demo run on its own (conftest.py)
    module, alone = data_checksums(outer), data_checksums(demo_run)
    assert module.keys() == alone.keys()
    assert [path for path in module if module[path] != alone[path]] == []


# Appended to a copy of dl3flow/__init__.py: every process that imports that copy
# says so in a log file.
IMPORT_PROBE = """
import os as _os
import sys as _sys

with open(_os.environ["DL3FLOW_IMPORT_PROBE"], "a") as _probe:
    _probe.write(f"{_os.getpid()} {__file__}\\n")
"""


@pytest.mark.dryrun
def test_jobs_import_dl3flow_from_the_workflow_src(tmp_path):
    """Not from the installed package: a copy of the workflow with its own src/."""
    workdir = copy_workflow(tmp_path / "workflow")
    shutil.copytree(REPO / "src" / "dl3flow", workdir / "src" / "dl3flow")
    init = workdir / "src" / "dl3flow" / "__init__.py"
    init.write_text(init.read_text() + IMPORT_PROBE)
    probe = tmp_path / "imports.log"
    env = {**os.environ, "DL3FLOW_IMPORT_PROBE": str(probe)}
    env.pop("PYTHONPATH", None)

    target = "resources/demo-dl3/obs-index.fits.gz"  # one job: simulate_data_store
    command = [sys.executable, "-m", "snakemake", "--cores", "1", target]
    result = subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    assert (workdir / target).is_file()
    imports = [line.split(" ", 1) for line in probe.read_text().splitlines()]
    # Snakemake itself (parsing rules/common.smk) and the job's script, each a process
    assert len({pid for pid, _ in imports}) >= 2, imports
    assert {path for _, path in imports} == {str(init)}
