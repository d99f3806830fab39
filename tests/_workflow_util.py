"""Helpers of the end-to-end workflow tests (not a test module).

A test runs the workflow on a copy of its files (Snakefile, rules, scripts, config,
envs) in a temporary directory; products are compared by their data checksums
(`dl3flow.io.provenance.data_checksum`: data, not headers or creation dates).
"""

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "rules", "scripts", "config", "envs", "report")
#: Suffixes of the data products (checksummed); other files under results/ are
#: plots (PNG), provenance sidecars and per-observation status files.
DATA_SUFFIXES = (".fits", ".ecsv")

#: An analysis workflow of its own that includes this checkout's Snakefile as the
#: Snakemake module ``dl3flow`` (README: "Running on a cluster"), with a rule that
#: reads a dl3flow product: ``OUTER_SNAKEFILE.format(repo=REPO)``.
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


def copy_workflow(workdir: Path, *, extra: tuple[str, ...] = ()) -> Path:
    """Copy the workflow files (and ``extra`` ones, e.g. "profiles") into ``workdir``."""
    workdir.mkdir(parents=True)
    for name in (*WORKFLOW_FILES, *extra):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, workdir / name)
        elif source.exists():
            shutil.copy2(source, workdir / name)
    return workdir


def snakemake_command(workdir: Path, *args) -> list[str]:
    return [sys.executable, "-m", "snakemake", "--directory", str(workdir), *map(str, args)]


def run_snakemake(workdir: Path, *args, timeout=1200) -> subprocess.CompletedProcess:
    return subprocess.run(
        snakemake_command(workdir, *args),
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def output_of(result: subprocess.CompletedProcess, tail: int = 6000) -> str:
    return (result.stdout + result.stderr)[-tail:]


def product_files(workdir: Path, *, batches: bool = False) -> list[str]:
    """Every file under results/ (relative paths, sorted).

    Without ``batches``, the batch jobs' working directories (results/<analysis>/
    batches/, published as the per-observation products) are left out: they depend
    on ``observations_per_job``, the products do not.
    """
    results = workdir / "results"
    return sorted(
        str(p.relative_to(workdir))
        for p in results.rglob("*")
        if p.is_file() and (batches or p.relative_to(results).parts[1:2] != ("batches",))
    )


def data_checksums(workdir: Path) -> dict[str, str]:
    """{relative path: data checksum} of every FITS and ECSV product under results/."""
    from dl3flow.io.provenance import data_checksum

    return {
        path: data_checksum(workdir / path)
        for path in product_files(workdir)
        if path.endswith(DATA_SUFFIXES)
    }


def temporary_files(workdir: Path) -> list[str]:
    """Leftovers of interrupted atomic writes (``.<name>.<random>.tmp<suffix>``)."""
    return [p for p in product_files(workdir, batches=True) if ".tmp" in Path(p).name]


def step_log(workdir: Path, analysis: str, rule: str) -> str:
    """The logs of a per-observation step's batch jobs (logs/<analysis>/<rule>/*.log), joined."""
    logs = sorted((workdir / "logs" / analysis / rule).glob("*.log"))
    assert logs, f"no logs of rule {rule} in {workdir / 'logs' / analysis}"
    return "\n".join(path.read_text() for path in logs)
