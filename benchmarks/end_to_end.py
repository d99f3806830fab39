"""End to end: a gammapy 1.3 script vs the dl3flow workflow on PKS 2155-304 (H.E.S.S. DR1).

Usage::

    python benchmarks/end_to_end.py [--data ../shared/data/hess-dl3-dr1] [--repeat 1]
        [--skip-gammapy] [--full] [--job-overhead] [--keep DIR] [--cores 2] [--gammapy-ul]
        [--max-obs N]

Runs, back to back in one invocation on the same machine (each run as a subprocess,
so that interpreter start-up and imports count on both sides):

(a) **gammapy 1.3**: a script written to the work directory and run with this Python.
    The 21 runs of obs-index ``OBJECT == 'PKS 2155-304'``, the geometry and axes of
    ``config/examples/hess-dr1-pks2155.yaml`` (read at run time: CAR ICRS 5 deg x 5 deg,
    0.02 deg pixels, 11 reco / 20 true energy bins, offset_max 2.5 deg, binsz_irf
    0.2 deg); one pass of ``DatasetsMaker([MapDatasetMaker(), SafeMaskMaker(aeff-default,
    offset-max), FoVBackgroundMaker(method="scale", exclusion_mask)], stack_datasets=True,
    n_jobs=cores, cutout_mode="partial", cutout_width=2 offset_max)``, exclusion = a
    0.3 deg circle around PKS 2155-304; ``ExcessMapEstimator(correlation_radius=0.1 deg)``
    of the stack; ``RingBackgroundMaker(r_in=0.5 deg, width=0.3 deg)`` of
    ``stacked.to_image()`` (dl3flow's ring with ``ring.energy_edges: null``: one band)
    and its ``ExcessMapEstimator(correlate_off=False)`` (dl3flow correlates the ring's off
    counts once, see ``dl3flow.makers.ring``); the estimators' default
    ``selection_optional`` (no ``flux_ul``, which dl3flow's maps always have:
    ``--gammapy-ul`` adds ``["ul"]``, minutes for the WStat maps). It writes the stacked
    dataset, the ring dataset and both maps files. Timed: the subprocess' wall time
    (start-up, imports, data store opened ... files written); the script also reports
    its own import and analysis times.
(b) **dl3flow**: ``snakemake --cores C`` in a fresh copy of the workflow with a config
    overlay (``end_to_end.yaml`` in the copy, ``--configfile``): analysis ``pks`` = the
    example's selection, geometry and axes, the same exclusion circle only (no catalogs,
    no significance mask, so no first pass), FoV background ``scale``, ring and maps as
    in (a); targets ``results/pks/stacked/maps.fits`` and ``maps_ring.fits`` (and what
    they need), not the default ``all``. Timed: snakemake's wall time.

Printed: ``nproc``, ``uptime`` before and after every measured run, the wall times,
their ratio, dl3flow's job count and summed job seconds (``s`` column of the
per-job benchmark TSVs Snakemake writes, found by their header anywhere in the
work directory) in total and per rule, and the maximum significance of both
analyses (gammapy's ``sqrt_ts``, dl3flow's ``SQRT_TS`` HDU) as a sanity check.

``--full`` also runs the default target (every plot, table and report page) in
another fresh copy with the example's full exclusion (its catalogs and significance
mask, paths made absolute relative to the repository) and prints its wall time and
the ratio full / (b). ``--job-overhead`` measures, instead of the runs above, the
fixed cost of one job: the import time of each ``scripts/*.py``'s top-level imports,
and the wall time per job of a no-op Snakemake ``script:`` job and ``shell:`` job.
``--repeat N`` runs every measured run N times (fresh copies) and reports the best;
``--skip-gammapy`` skips (a); ``--keep DIR`` keeps the work directories under DIR
(replacing earlier ones of the same name); ``--gammapy-ul``: see (a); ``--max-obs N``
uses only the first N runs on both sides (quick checks while developing, not a
benchmark).

This work made use of data from the H.E.S.S. DL3 public test data release 1
(HESS DL3 DR1, H.E.S.S. collaboration, 2018).
"""

from __future__ import annotations

import argparse
import ast
import copy
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from astropy.io import fits
from astropy.table import Table

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "hess-dl3-dr1"
EXAMPLE = REPO / "config" / "examples" / "hess-dr1-pks2155.yaml"
EXAMPLE_ANALYSIS = "pks2155"
WORKFLOW_FILES = ("Snakefile", "rules", "scripts", "config", "envs", "report", "src")
SOURCE = "PKS 2155-304"
ANALYSIS = "pks"
TARGETS = (f"results/{ANALYSIS}/stacked/maps.fits", f"results/{ANALYSIS}/stacked/maps_ring.fits")
OVERLAY_FILE = "end_to_end.yaml"
#: Exclusion of (a) and (b): a 0.3 deg circle around PKS 2155-304.
EXCLUSION_CIRCLE = (329.717, -30.226, 0.3)
RING = {"r_in": "0.5 deg", "width": "0.3 deg"}
CORRELATION_RADIUS = "0.1 deg"
#: First columns of the TSV that Snakemake's ``benchmark:`` directive writes.
TSV_HEADER = "s\th:m:s\tmax_rss"

GAMMAPY_SCRIPT = '''\
"""gammapy 1.3 reference of benchmarks/end_to_end.py (written at run time).

Usage: python gammapy_pks.py PARAMS.json OUTDIR; prints a JSON line of timings.
"""

import time

T0 = time.perf_counter()

import json  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import astropy.units as u  # noqa: E402
from astropy.coordinates import SkyCoord  # noqa: E402
from gammapy.data import DataStore  # noqa: E402
from gammapy.datasets import MapDataset  # noqa: E402
from gammapy.estimators import ExcessMapEstimator  # noqa: E402
from gammapy.makers import (  # noqa: E402
    DatasetsMaker,
    FoVBackgroundMaker,
    MapDatasetMaker,
    RingBackgroundMaker,
    SafeMaskMaker,
)
from gammapy.maps import MapAxis, WcsGeom  # noqa: E402
from regions import CircleSkyRegion  # noqa: E402

T_IMPORTED = time.perf_counter()


def energy_axis(spec, name):
    return MapAxis.from_energy_bounds(
        u.Quantity(spec["min"]), u.Quantity(spec["max"]), nbin=int(spec["nbin"]), name=name
    )


def main():
    params = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore")
    t_start = time.perf_counter()

    store = DataStore.from_dir(params["data"])
    if params["obs_ids"] is None:
        table = store.obs_table
        obs_ids = list(table["OBS_ID"][table["OBJECT"] == params["object"]])
    else:
        obs_ids = params["obs_ids"]
    observations = store.get_observations(obs_ids)

    geom_spec = params["geom"]
    center = SkyCoord(
        u.Quantity(geom_spec["center"]["lon"]),
        u.Quantity(geom_spec["center"]["lat"]),
        frame=geom_spec["center"].get("frame") or geom_spec["frame"],
    )
    geom = WcsGeom.create(
        skydir=center,
        width=u.Quantity(geom_spec["width"]),
        binsz=u.Quantity(geom_spec["binsz"]),
        frame=geom_spec["frame"],
        proj=geom_spec["proj"],
        axes=[energy_axis(geom_spec["energy"], "energy")],
    )
    offset_max = u.Quantity(params["offset_max"])
    stacked = MapDataset.create(
        geom,
        energy_axis_true=energy_axis(geom_spec["energy_true"], "energy_true"),
        binsz_irf=u.Quantity(geom_spec["binsz_irf"]),
        name="stacked",
    )
    lon, lat, radius = params["exclusion_circle"]
    region = CircleSkyRegion(SkyCoord(lon, lat, unit="deg", frame="icrs"), radius * u.deg)
    mask = geom.to_image().region_mask([region], inside=False)

    maker = DatasetsMaker(
        [
            MapDatasetMaker(),
            SafeMaskMaker(methods=["aeff-default", "offset-max"], offset_max=offset_max),
            FoVBackgroundMaker(method="scale", exclusion_mask=mask),
        ],
        stack_datasets=True,
        n_jobs=params["n_jobs"],
        cutout_mode="partial",
        cutout_width=2 * offset_max,
    )
    stacked = maker.run(stacked, observations)[0]  # Datasets of the one stacked dataset
    stacked.write(out / "stacked.fits", overwrite=True)

    radius_corr = u.Quantity(params["correlation_radius"])
    optional = params["selection_optional"]
    estimator = ExcessMapEstimator(correlation_radius=radius_corr, selection_optional=optional)
    estimator.run(stacked).write(out / "maps.fits", overwrite=True)

    ring = RingBackgroundMaker(
        r_in=u.Quantity(params["ring"]["r_in"]),
        width=u.Quantity(params["ring"]["width"]),
        exclusion_mask=mask,
    ).run(stacked.to_image())
    ring.write(out / "ring.fits", overwrite=True)
    estimator_ring = ExcessMapEstimator(
        correlation_radius=radius_corr, correlate_off=False, selection_optional=optional
    )
    estimator_ring.run(ring).write(out / "maps_ring.fits", overwrite=True)

    t_end = time.perf_counter()
    print(
        json.dumps(
            {
                "n_obs": len(observations),
                "import_s": T_IMPORTED - T0,
                "analysis_s": t_end - t_start,
            }
        )
    )


if __name__ == "__main__":
    main()
'''

NOOP_SNAKEFILE = """\
# benchmarks/end_to_end.py --job-overhead: N no-op jobs of one kind
from dl3flow.workflow import jobserver

KIND = config["kind"]
N = int(config["count"])


rule all:
    input:
        expand("out/{kind}_{i}.txt", kind=KIND, i=range(N)),


rule script_job:
    output:
        "out/script_{i}.txt",
    script:
        "noop.py"


rule perobs_job:
    output:
        "out/perobs_{i}.txt",
    script:
        "perobs.py"


rule served_job:
    output:
        "out/served_{i}.txt",
    script:
        "served.py"


rule shell_job:
    output:
        "out/shell_{i}.txt",
    shell:
        "touch {output}"


onstart:
    if KIND == "served":
        print(jobserver.start(scripts_dir=workflow.basedir, local=workflow.local_exec))


onsuccess:
    jobserver.stop()


onerror:
    jobserver.stop()
"""

NOOP_SCRIPT = """\
from pathlib import Path

Path(snakemake.output[0]).touch()  # noqa: F821
"""

#: The lightest per-observation step: its no-op job imports what its script imports.
PEROBS_SCRIPT = REPO / "scripts" / "make_safe_masks.py"


def perobs_scripts() -> tuple[str, str]:
    """No-op scripts with ``PEROBS_SCRIPT``'s imports: run alone, and handed to the server."""
    imports = [ast.unparse(node) for node in script_imports(PEROBS_SCRIPT)]
    imports = [line for line in imports if "jobserver" not in line]
    body = "\n".join([*imports, "from pathlib import Path", NOOP_SCRIPT.splitlines()[-1]])
    served = "from dl3flow.workflow.jobserver import delegate\n\ndelegate()\n" + body
    return body + "\n", served + "\n"


# --- helpers ---------------------------------------------------------------------------


def uptime(label: str) -> None:
    """Print the machine's ``uptime`` (load averages) with a label."""
    result = subprocess.run(["uptime"], capture_output=True, text=True, check=False)
    print(f"  uptime {label:>6s}: {result.stdout.strip()}", flush=True)


def run_timed(command: list[str], cwd: Path, log: Path | None = None) -> tuple[float, str]:
    """Run ``command`` in ``cwd``; return (wall seconds, combined output). Raise on failure."""
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    output = result.stdout + result.stderr
    if log is not None:
        log.write_text(output)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed in {cwd}:\n{output[-4000:]}")
    return seconds, output


def fresh_dir(path: Path) -> Path:
    """An empty directory at ``path`` (an earlier one of that name is removed)."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def copy_workflow(destination: Path) -> Path:
    """Copy the workflow files (as tests/_workflow_util.py, plus src/) into ``destination``."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns(".*"))
        elif source.exists():
            shutil.copy2(source, destination / name)
    return destination


def snakemake_command(workdir: Path, *args) -> list[str]:
    """``python -m snakemake --directory workdir ARGS`` with this Python."""
    return [sys.executable, "-m", "snakemake", "--directory", str(workdir), *map(str, args)]


def count_steps(output: str) -> int:
    """Jobs of a run: the last 'i of n steps' line of Snakemake's output."""
    steps = re.findall(r"(\d+) of (\d+) steps", output)
    return int(steps[-1][1]) if steps else 0


def pks_obs_ids(data: Path, max_obs: int | None) -> list[int] | None:
    """The first ``max_obs`` PKS 2155-304 runs of the obs-index (None: all, by OBJECT)."""
    if max_obs is None:
        return None
    table = Table.read(data / "obs-index.fits.gz")
    ids = [int(i) for i in table["OBS_ID"][table["OBJECT"] == SOURCE]]
    return ids[:max_obs]


def max_significance(path: Path, hdu: str = "SQRT_TS") -> float:
    """Largest finite value of the ``hdu`` image of a maps file."""
    with fits.open(path) as hdul:
        data = np.asarray(hdul[hdu].data, dtype=float)
    return float(np.nanmax(np.where(np.isfinite(data), data, np.nan)))


def best(runs: list[dict]) -> dict:
    """The run with the smallest wall time."""
    return min(runs, key=lambda run: run["wall_s"])


# --- (a) gammapy -----------------------------------------------------------------------


def example_analysis() -> dict:
    """The ``pks2155`` analysis section of config/examples/hess-dr1-pks2155.yaml."""
    return yaml.safe_load(EXAMPLE.read_text())["analyses"][EXAMPLE_ANALYSIS]


def gammapy_params(data: Path, obs_ids: list[int] | None, cores: int, ul: bool) -> dict:
    """Parameters of the gammapy script: the example's geometry, the (b) exclusion."""
    example = example_analysis()
    geom = {"frame": "icrs", "proj": "CAR", "binsz_irf": "0.2 deg", **example["geom"]}
    return {
        "data": str(data.resolve()),
        "object": SOURCE,
        "obs_ids": obs_ids,
        "geom": geom,
        "offset_max": example["offset_max"],
        "exclusion_circle": EXCLUSION_CIRCLE,
        "ring": RING,
        "correlation_radius": CORRELATION_RADIUS,
        "n_jobs": cores,
        "selection_optional": ["ul"] if ul else None,
    }


def run_gammapy(
    data: Path, workdir: Path, obs_ids: list[int] | None, cores: int, ul: bool = False
) -> dict:
    """Write and run the gammapy script in ``workdir``; its wall time and products."""
    fresh_dir(workdir)
    script = workdir / "gammapy_pks.py"
    script.write_text(GAMMAPY_SCRIPT)
    params = workdir / "params.json"
    params.write_text(json.dumps(gammapy_params(data, obs_ids, cores, ul), indent=1))
    out = workdir / "out"
    uptime("before")
    wall, output = run_timed(
        [sys.executable, str(script), str(params), str(out)], workdir, workdir / "run.log"
    )
    uptime("after")
    inner = json.loads(output.strip().splitlines()[-1]) if output.strip() else {}
    for name in ("stacked.fits", "ring.fits", "maps.fits", "maps_ring.fits"):
        if not (out / name).is_file():
            raise RuntimeError(f"gammapy script did not write {out / name}")
    return {
        "wall_s": wall,
        **inner,
        "max_sqrt_ts": max_significance(out / "maps.fits"),
        "max_sqrt_ts_ring": max_significance(out / "maps_ring.fits"),
        "workdir": workdir,
    }


# --- (b) dl3flow -----------------------------------------------------------------------


def overlay_config(data: Path, obs_ids: list[int] | None, *, full_exclusion: bool) -> dict:
    """Config overlay: analysis ``pks`` = the example's, with the (b) or the full exclusion."""
    example = example_analysis()
    selection = copy.deepcopy(example["selection"])
    if obs_ids is not None:
        selection["obs_ids"] = obs_ids
    if full_exclusion:
        exclusion = copy.deepcopy(example["exclusion"])
        for catalog in exclusion.get("catalogs") or []:
            catalog["path"] = str((REPO / catalog["path"]).resolve())
        exclusion["region_files"] = [
            str((REPO / path).resolve()) for path in exclusion.get("region_files") or []
        ]
    else:
        lon, lat, radius = EXCLUSION_CIRCLE
        exclusion = {
            "regions": [f"icrs;circle({lon},{lat},{radius})"],
            "region_files": [],
            "catalogs": [],
            "significance": None,
        }
    analysis = {
        "selection": selection,
        "geom": {"binsz_irf": "0.2 deg", **example["geom"]},
        "offset_max": example["offset_max"],
        "edisp": True,
        "psf": True,
        "safe_mask": {"methods": ["aeff-default", "offset-max"]},
        "exclusion": exclusion,
        "background": {**example.get("background", {}), "method": "scale"},
        "ring": {**RING, "energy_edges": None},
        "maps": {**example.get("maps", {}), "correlation_radius": CORRELATION_RADIUS},
        "plots": example.get("plots", {}),
    }
    return {"data_store": str(data.resolve()), "run": [ANALYSIS], "analyses": {ANALYSIS: analysis}}


def rule_names(workdir: Path) -> set[str]:
    """Rule names defined in the workflow copy's Snakefile and rules/*.smk."""
    pattern = re.compile(r"^\s*(?:(?:rule|checkpoint)\s+(\w+)\s*:|use rule \w+ as (\w+))", re.M)
    names = set()
    for path in [workdir / "Snakefile", *sorted((workdir / "rules").glob("*.smk"))]:
        for match in pattern.finditer(path.read_text()):
            names.add(match[1] or match[2])
    return names


def benchmark_tsvs(workdir: Path) -> list[Path]:
    """Every TSV under ``workdir`` written by Snakemake's ``benchmark:`` directive."""
    found = []
    for path in sorted(workdir.rglob("*.tsv")):
        if ".snakemake" in path.parts:
            continue
        with open(path) as f:
            if f.readline().startswith(TSV_HEADER):
                found.append(path)
    return found


def rule_of(tsv: Path, workdir: Path, names: set[str]) -> str:
    """The rule of a benchmark TSV: the innermost path part (or stem) naming a rule.

    Falls back to the parent directory (per-wildcard TSVs) or the stem.
    """
    parts = [*tsv.relative_to(workdir).parent.parts, tsv.stem]
    for part in reversed(parts):
        if part in names:
            return part
    return parts[-2] if len(parts) >= 3 and parts[-2] != ANALYSIS else tsv.stem


def job_seconds(workdir: Path) -> dict[str, dict]:
    """{rule: {jobs, s}} from the benchmark TSVs (``s``: mean over a TSV's rows)."""
    names = rule_names(workdir)
    per_rule: dict[str, dict] = {}
    for tsv in benchmark_tsvs(workdir):
        with open(tsv) as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        seconds = float(np.mean([float(row["s"]) for row in rows])) if rows else 0.0
        entry = per_rule.setdefault(rule_of(tsv, workdir, names), {"jobs": 0, "s": 0.0})
        entry["jobs"] += 1
        entry["s"] += seconds
    return dict(sorted(per_rule.items(), key=lambda item: -item[1]["s"]))


def run_dl3flow(
    data: Path,
    workdir: Path,
    obs_ids: list[int] | None,
    cores: int,
    *,
    full: bool = False,
) -> dict:
    """Run the workflow in a fresh copy: (b) the two maps targets, or (full) ``all``."""
    fresh_dir(workdir)
    copy_workflow(workdir)
    overlay = overlay_config(data, obs_ids, full_exclusion=full)
    (workdir / OVERLAY_FILE).write_text(yaml.safe_dump(overlay, sort_keys=False))
    targets = () if full else TARGETS
    # targets first: --configfile takes every argument after it
    command = snakemake_command(workdir, *targets, "--cores", cores, "--configfile", OVERLAY_FILE)
    uptime("before")
    wall, output = run_timed(command, workdir, workdir / "run.log")
    uptime("after")
    for target in TARGETS:
        if not (workdir / target).is_file():
            raise RuntimeError(f"dl3flow did not write {workdir / target}")
    rules = job_seconds(workdir)
    return {
        "wall_s": wall,
        "steps": count_steps(output),
        "jobs": sum(r["jobs"] for r in rules.values()),
        "job_s": sum(r["s"] for r in rules.values()),
        "rules": rules,
        "max_sqrt_ts": max_significance(workdir / TARGETS[0]),
        "max_sqrt_ts_ring": max_significance(workdir / TARGETS[1]),
        "workdir": workdir,
    }


# --- --job-overhead --------------------------------------------------------------------


def script_imports(path: Path) -> list[ast.stmt]:
    """Import statements of a script run at import time (not inside functions or classes)."""
    found = []

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                if not (isinstance(child, ast.ImportFrom) and child.module == "__future__"):
                    found.append(child)
            else:
                visit(child)

    visit(ast.parse(path.read_text(), filename=str(path)))
    return found


def module_names(statements: list[ast.stmt]) -> list[str]:
    """Top-level module names of import statements, in order, without repeats."""
    names = []
    for node in statements:
        modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
        names += [m for m in modules if m and m not in names]
    return names


def best_wall(command: list[str], repeat: int, env: dict | None = None) -> float:
    """Best wall time (s) of ``repeat`` runs of ``command`` (nan if it fails)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run(command, capture_output=True, env=env, check=False)
        if result.returncode != 0:
            return float("nan")
        times.append(time.perf_counter() - start)
    return min(times)


def import_times(repeat: int = 3) -> tuple[float, list[tuple[str, float, list[str]]]]:
    """Interpreter start-up (s) and, per script, the best wall time of its imports (s).

    Each script's import statements (``ast.unparse``) run as ``python -c``, with the
    repository's src/ first on PYTHONPATH as in the workflow's jobs.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    startup = best_wall([sys.executable, "-c", "pass"], repeat, env)
    rows = []
    for script in sorted((REPO / "scripts").glob("*.py")):
        statements = script_imports(script)
        code = "\n".join(ast.unparse(node) for node in statements) or "pass"
        seconds = best_wall([sys.executable, "-c", code], repeat, env)
        rows.append((script.name, seconds, module_names(statements)))
    rows.sort(key=lambda row: -np.nan_to_num(row[1]))
    return startup, rows


def noop_jobs(root: Path, kind: str, n: int, repeat: int) -> tuple[float, float]:
    """Best wall time (s) of ``n`` no-op jobs of ``kind``, and of the re-run with 0 jobs."""
    walls, nothing = [], []
    for i in range(repeat):
        workdir = fresh_dir(root / f"{kind}-n{n}-{i}")
        (workdir / "Snakefile").write_text(NOOP_SNAKEFILE)
        (workdir / "noop.py").write_text(NOOP_SCRIPT)
        perobs, served = perobs_scripts()
        (workdir / "perobs.py").write_text(perobs)
        (workdir / "served.py").write_text(served)
        args = ("--cores", 1, "--config", f"kind={kind}", f"count={n}")
        wall, output = run_timed(snakemake_command(workdir, *args), workdir)
        if count_steps(output) != n + 1:
            raise RuntimeError(f"expected {n + 1} jobs, got:\n{output[-2000:]}")
        walls.append(wall)
        nothing.append(run_timed(snakemake_command(workdir, *args), workdir)[0])
    return min(walls), min(nothing)


def job_overhead(root: Path, repeat: int) -> None:
    """Print the import time per script and the wall time per no-op Snakemake job."""
    print("\n== job overhead: import time of each script's top-level imports")
    print(f"   (python -c '<its import statements>', best of {repeat}, src/ on PYTHONPATH)")
    uptime("before")
    startup, rows = import_times(repeat)
    uptime("after")
    print(f"   bare interpreter start-up (python -c pass): {startup:.3f} s")
    print(f"{'script':32s} {'imports (s)':>11s} {'- start-up (s)':>14s}  modules")
    for name, seconds, modules in rows:
        print(f"{name:32s} {seconds:11.3f} {seconds - startup:14.3f}  {', '.join(modules)}")

    print(f"\n== job overhead: no-op Snakemake jobs (--cores 1, best of {repeat})")
    print(f"{'kind':8s} {'0 jobs (s)':>10s} {'1 job (s)':>10s} {'10 jobs (s)':>11s} ", end="")
    print(f"{'(10-1)/9 (s/job)':>17s} {'(10-0)/10 (s/job)':>18s}")
    for kind in ("shell", "script", "perobs", "served"):
        uptime("before")
        one, _ = noop_jobs(root, kind, 1, repeat)
        ten, zero = noop_jobs(root, kind, 10, repeat)
        uptime("after")
        print(
            f"{kind:8s} {zero:10.2f} {one:10.2f} {ten:11.2f} "
            f"{(ten - one) / 9:17.3f} {(ten - zero) / 10:18.3f}"
        )
    print(f"   perobs: a no-op script with {PEROBS_SCRIPT.name}'s imports; served: the same")
    print("   handed to dl3flow.workflow.jobserver (started in onstart, imports made once);")
    print("   0 jobs: the same workflow re-run with every output up to date (start-up + DAG);")
    print("   each count also runs the local `all` job.")


# --- report ----------------------------------------------------------------------------


def print_rules(result: dict) -> None:
    """Per-rule job count and summed job seconds of a dl3flow run."""
    print(f"  {'rule':30s} {'jobs':>5s} {'sum s':>8s} {'mean s':>8s}")
    for rule, entry in result["rules"].items():
        mean = entry["s"] / entry["jobs"]
        print(f"  {rule:30s} {entry['jobs']:5d} {entry['s']:8.1f} {mean:8.2f}")
    print(f"  {'total':30s} {result['jobs']:5d} {result['job_s']:8.1f}")


def print_summary(
    gammapy: dict | None, dl3flow: dict, full: dict | None, repeat: int, cores: int
) -> None:
    """The table of wall times, ratios, job counts and the significance sanity line."""
    print(f"\n== summary (best of {repeat}; nproc {os.cpu_count()})")
    print(f"{'run':34s} {'wall (s)':>9s} {'jobs':>5s} {'job s (sum)':>12s}")
    if gammapy is not None:
        print(
            f"{'(a) gammapy 1.3 script':34s} {gammapy['wall_s']:9.1f} {'-':>5s} {'-':>12s}"
            f"   (imports {gammapy['import_s']:.1f} s, analysis {gammapy['analysis_s']:.1f} s)"
        )
    print(
        f"{'(b) dl3flow maps + maps_ring':34s} {dl3flow['wall_s']:9.1f} {dl3flow['jobs']:5d} "
        f"{dl3flow['job_s']:12.1f}   (snakemake counted {dl3flow['steps']} steps)"
    )
    if full is not None:
        print(
            f"{'(full) dl3flow all, full exclusion':34s} {full['wall_s']:9.1f} "
            f"{full['jobs']:5d} {full['job_s']:12.1f}   (snakemake counted {full['steps']} steps)"
        )
    if gammapy is not None:
        print(f"ratio gammapy / dl3flow (wall): {gammapy['wall_s'] / dl3flow['wall_s']:.2f}")
    if full is not None:
        print(f"ratio full / (b) (wall):        {full['wall_s'] / dl3flow['wall_s']:.2f}")
    busy = dl3flow["job_s"] / (dl3flow["wall_s"] * cores)
    print(f"dl3flow job seconds / (wall x {cores} cores):  {busy:.2f}")
    print("\n(b) dl3flow per rule (benchmark TSVs):")
    print_rules(dl3flow)
    if full is not None:
        print("\n(full) dl3flow per rule (benchmark TSVs):")
        print_rules(full)
    print("\nsanity: maximum significance (stacked, Cash / ring, WStat)")
    if gammapy is not None:
        print(
            f"  gammapy sqrt_ts: {gammapy['max_sqrt_ts']:.2f} / {gammapy['max_sqrt_ts_ring']:.2f}"
            f"  ({gammapy['n_obs']} observations)"
        )
    print(f"  dl3flow SQRT_TS: {dl3flow['max_sqrt_ts']:.2f} / {dl3flow['max_sqrt_ts_ring']:.2f}")
    if full is not None:
        print(
            f"  dl3flow (full exclusion) SQRT_TS: {full['max_sqrt_ts']:.2f} / "
            f"{full['max_sqrt_ts_ring']:.2f}"
        )


def main(argv=None) -> int:
    """Parse the arguments, run the measurements and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="H.E.S.S. DL3 DR1")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each kind (best of)")
    parser.add_argument("--skip-gammapy", action="store_true", help="skip (a)")
    parser.add_argument("--full", action="store_true", help="also the default target, full mask")
    parser.add_argument("--job-overhead", action="store_true", help="the fixed cost of a job")
    parser.add_argument("--keep", type=Path, help="keep the work directories under DIR")
    parser.add_argument("--cores", type=int, default=2, help="snakemake --cores, gammapy n_jobs")
    parser.add_argument("--max-obs", type=int, help="only the first N runs (quick checks)")
    parser.add_argument(
        "--gammapy-ul", action="store_true", help="gammapy also computes flux_ul maps (slow)"
    )
    args = parser.parse_args(argv)
    if not (args.data / "obs-index.fits.gz").is_file():
        raise SystemExit(f"H.E.S.S. DL3 DR1 not found at {args.data} (use --data)")
    if args.repeat < 1:
        raise SystemExit("--repeat must be at least 1")

    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        root, cleanup = args.keep.resolve(), None
    else:
        cleanup = tempfile.TemporaryDirectory(prefix="dl3flow-end-to-end-")
        root = Path(cleanup.name)
    print(f"machine: nproc {os.cpu_count()}; work directories under {root}")
    try:
        if args.job_overhead:
            job_overhead(root / "job-overhead", max(3, args.repeat))
            return 0
        obs_ids = pks_obs_ids(args.data, args.max_obs)
        if obs_ids is not None:
            print(f"--max-obs {args.max_obs}: observations {obs_ids} (not a benchmark)")
        runs: dict[str, list[dict]] = {"gammapy": [], "dl3flow": [], "full": []}
        for i in range(args.repeat):
            if not args.skip_gammapy:
                print(f"\n-- (a) gammapy 1.3 script, run {i + 1}/{args.repeat}", flush=True)
                result = run_gammapy(
                    args.data, root / f"gammapy-{i}", obs_ids, args.cores, args.gammapy_ul
                )
                print(f"  wall {result['wall_s']:.1f} s")
                runs["gammapy"].append(result)
            print(f"\n-- (b) dl3flow, maps targets, run {i + 1}/{args.repeat}", flush=True)
            result = run_dl3flow(args.data, root / f"dl3flow-{i}", obs_ids, args.cores)
            print(f"  wall {result['wall_s']:.1f} s, {result['jobs']} jobs")
            runs["dl3flow"].append(result)
            if args.full:
                print(f"\n-- (full) dl3flow, all, run {i + 1}/{args.repeat}", flush=True)
                result = run_dl3flow(args.data, root / f"full-{i}", obs_ids, args.cores, full=True)
                print(f"  wall {result['wall_s']:.1f} s, {result['jobs']} jobs")
                runs["full"].append(result)
        print_summary(
            best(runs["gammapy"]) if runs["gammapy"] else None,
            best(runs["dl3flow"]),
            best(runs["full"]) if runs["full"] else None,
            args.repeat,
            args.cores,
        )
    finally:
        if cleanup is not None:
            cleanup.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
