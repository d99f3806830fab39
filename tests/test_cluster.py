"""The Snakemake profiles: local checks, and the demo on a real Slurm cluster.

``test_slurm_demo_matches_local`` (marked ``cluster``) runs the demo analysis with
``--profile profiles/slurm`` through snakemake-executor-plugin-slurm and compares its
products with those of a local run by data checksums (FITS headers carry dates and
checksums, so file bytes differ). It needs a working Slurm cluster and opts in::

    .ci/slurm/start.sh          # one-node cluster on localhost (root, Debian)
    DL3FLOW_SLURM_TEST=1 python -m pytest -m cluster tests/test_cluster.py
    .ci/slurm/stop.sh

The one-node CI cluster has no accounting database, so jobs are polled with
``squeue`` (``--slurm-status-command squeue``), not ``sacct``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import _workflow_util
import numpy as np
import pytest
import yaml
from _workflow_util import snakemake_command

REPO = Path(__file__).resolve().parents[1]
PROFILES = REPO / "profiles"


def copy_workflow(destination: Path) -> Path:
    """The workflow files and its profiles, in ``destination``."""
    return _workflow_util.copy_workflow(destination, extra=("profiles",))


# ------------------------------------------------------------------ data checksums
def _array_digest(array) -> str:
    array = np.asarray(array)
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def data_checksums(path: Path) -> dict[str, str]:
    """sha256 of the data of one product, headers and metadata left out.

    FITS: each HDU's data array (keyed by HDU index and EXTNAME); ECSV: each column;
    PNG: the decoded pixel array. Other files (provenance sidecars, logs, reports)
    carry dates and paths: only their presence is compared.
    """
    if path.name.endswith((".fits", ".fits.gz")):
        from astropy.io import fits

        with fits.open(path) as hdul:
            return {
                f"{path.name}[{index}:{hdu.name}]": _array_digest(hdu.data)
                for index, hdu in enumerate(hdul)
                if hdu.data is not None
            }
    if path.suffix == ".ecsv":
        from astropy.table import Table

        table = Table.read(path, format="ascii.ecsv")
        return {
            f"{path.name}[{name}]": _array_digest(np.asarray(table[name]).astype(str))
            for name in table.colnames
        }
    if path.suffix == ".png":
        import matplotlib.image

        return {path.name: _array_digest(matplotlib.image.imread(path))}
    return {path.name: "present"}


def product_checksums(results: Path) -> dict[str, str]:
    checksums = {}
    for path in sorted(p for p in results.rglob("*") if p.is_file()):
        relative = path.relative_to(results).parent
        checksums.update({f"{relative}/{k}": v for k, v in data_checksums(path).items()})
    return checksums


def test_data_checksums_ignore_headers(tmp_path):
    from astropy.io import fits

    data = np.arange(6.0).reshape(2, 3)
    for name, date in (("a.fits", "2020-01-01"), ("b.fits", "2026-11-22")):
        fits.PrimaryHDU(data, header=fits.Header({"DATE": date})).writeto(tmp_path / name)
    (a,), (b,) = (data_checksums(tmp_path / n).values() for n in ("a.fits", "b.fits"))
    assert a == b
    fits.PrimaryHDU(data + 1).writeto(tmp_path / "c.fits")
    assert next(iter(data_checksums(tmp_path / "c.fits").values())) != a


# ------------------------------------------------------------------ profiles
@pytest.mark.parametrize("profile", ["local", "slurm"])
def test_profile_is_valid_yaml(profile):
    settings = yaml.safe_load((PROFILES / profile / "config.yaml").read_text())
    assert settings["default-resources"]["mem_mb"] > 0
    assert settings["rerun-incomplete"] is True
    if profile == "slurm":
        assert settings["executor"] == "slurm"
        groups = settings["groups"]
        assert {"reduce_observations", "make_safe_masks", "normalize_backgrounds"} <= set(groups)
        assert set(groups.values()) == set(settings["group-components"])


@pytest.mark.dryrun
def test_local_profile_dry_run(tmp_path):
    workdir = copy_workflow(tmp_path / "workflow")
    result = subprocess.run(
        snakemake_command(workdir, "--profile", "profiles/local", "-n"),
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "simulate_data_store" in result.stdout + result.stderr


THREADS_SNAKEFILE = """
rule all:
    input: "env.txt"

rule show_env:
    output: "env.txt"
    threads: 2
    script: "show_env.py"
"""
THREADS_SCRIPT = """
import os
names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
with open(snakemake.output[0], "w") as f:
    f.write(" ".join(f"{n}={os.environ.get(n)}" for n in names))
"""


@pytest.mark.dryrun
def test_profile_pins_blas_threads(tmp_path):
    """Script jobs see OMP/OpenBLAS/MKL thread counts equal to their ``threads``."""
    (tmp_path / "Snakefile").write_text(THREADS_SNAKEFILE)
    (tmp_path / "show_env.py").write_text(THREADS_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    result = subprocess.run(
        snakemake_command(
            tmp_path, "--profile", PROFILES / "local", "--cores", 2, "--snakefile", "Snakefile"
        ),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "env.txt").read_text() == (
        "OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 MKL_NUM_THREADS=2"
    )


# conda-forge names of the pinned packages -> their Python distribution names
CONDA_TO_DIST = {"matplotlib-base": "matplotlib", "snakemake-minimal": "snakemake"}


def test_conda_env_pins_match_installed():
    """envs/dl3flow.yaml pins the versions this environment runs (``--sdm conda``).

    Compared on major.minor: a fresh venv may pick up a newer patch release.
    """
    from importlib.metadata import PackageNotFoundError, version

    env = yaml.safe_load((REPO / "envs" / "dl3flow.yaml").read_text())
    assert env["channels"][0] == "conda-forge"
    pins = dict(spec.split("=", 1) for spec in env["dependencies"] if isinstance(spec, str))
    assert "python" in pins
    mismatched = {}
    for name, pinned in pins.items():
        if name == "python":
            continue
        try:
            installed = version(CONDA_TO_DIST.get(name, name))
        except PackageNotFoundError:
            mismatched[name] = (pinned, None)
            continue
        if installed.split(".")[:2] != pinned.split(".")[:2]:
            mismatched[name] = (pinned, installed)
    assert not mismatched, f"envs/dl3flow.yaml vs installed (pinned, installed): {mismatched}"


# ------------------------------------------------------------------ real Slurm
def slurm_skip_reason() -> str | None:
    if os.environ.get("DL3FLOW_SLURM_TEST") != "1":
        return "set DL3FLOW_SLURM_TEST=1 to run on Slurm (start one with .ci/slurm/start.sh)"
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm not installed (pip install -e '.[cluster]')"
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return "Slurm client commands (sinfo, sbatch) not found"
    probe = subprocess.run(
        ["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=30, check=False
    )
    if probe.returncode != 0:
        return f"sinfo failed, no Slurm controller reachable: {probe.stderr.strip()}"
    if not {"idle", "mix", "alloc"} & set(probe.stdout.split()):
        return f"no Slurm node is up (sinfo states: {probe.stdout.split()})"
    return None


@pytest.mark.cluster
@pytest.mark.workflow
def test_slurm_demo_matches_local(tmp_path):
    reason = slurm_skip_reason()
    if reason:
        pytest.skip(reason)
    local = copy_workflow(tmp_path / "local")
    slurm = copy_workflow(tmp_path / "slurm")

    # The local reference runs meanwhile: the Slurm run mostly waits for polls.
    with open(tmp_path / "local.log", "w") as local_log:
        local_run = subprocess.Popen(
            snakemake_command(local, "--cores", 1),
            cwd=local,
            stdout=local_log,
            stderr=subprocess.STDOUT,
        )
        slurm_run = subprocess.run(
            snakemake_command(
                slurm,
                "--profile",
                "profiles/slurm",
                # this one-node cluster: 2 CPUs, no accounting database (no sacct)
                "--cores",
                2,
                "--resources",
                "mem_mb=8000",
                "--slurm-no-account",
                "--slurm-status-command",
                "squeue",
                "--slurm-init-seconds-before-status-checks",
                1,
                "--latency-wait",
                10,
                "--verbose",
            ),
            cwd=slurm,
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        local_rc = local_run.wait(timeout=1200)
    log = slurm_run.stdout + slurm_run.stderr
    (tmp_path / "slurm.log").write_text(log)
    assert slurm_run.returncode == 0, log[-5000:]
    assert local_rc == 0, (tmp_path / "local.log").read_text()[-5000:]

    # every job went through sbatch; the per-observation ones as group jobs
    sbatch_calls = [line for line in log.splitlines() if line.startswith("sbatch call:")]
    submitted = [line for line in log.splitlines() if "has been submitted with SLURM jobid" in line]
    assert sbatch_calls and len(submitted) == len(sbatch_calls), log[-5000:]
    assert any("group_reduce_batches" in line for line in submitted), submitted
    print("\n".join(submitted))

    expected, got = product_checksums(local / "results"), product_checksums(slurm / "results")
    assert expected, "the local run wrote no products"
    assert sorted(got) == sorted(expected)
    differing = [key for key in expected if got[key] != expected[key]]
    assert not differing, differing
