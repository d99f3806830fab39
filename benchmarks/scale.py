"""How the workflow scales with the number of observations (simulated demo data).

Usage::

    python benchmarks/scale.py [--n-obs 50 200 500] [--cores 2] [--workdir DIR]

For each number of observations N, runs the demo analysis in a fresh copy of the
workflow (``DIR/nN``) with ``simulation.n_obs = N`` and a selection that keeps every
observation, and reports:

- wall time of the full run (``snakemake --cores C``), including the simulation;
- the number of Snakemake jobs it ran;
- peak memory (max_rss, MB) per job, per rule, from the per-rule benchmark TSVs;
- DAG-building time: ``snakemake -n`` on the finished run (every file up to date,
  the checkpoint resolved, so the DAG holds all N-dependent jobs) and
  ``snakemake -n --forcerun reduce_observations`` (the DAG of a re-run of every
  per-observation job and what follows), each the best of ``--repeat`` runs; and
  ``snakemake --list-rules`` (start-up and parsing, no DAG), so that
  ``dry run - list-rules`` is the DAG building alone. Start-up includes loading the
  installed executor plugins: with Slurm's client tools installed but no
  controller reachable, the Slurm plugin's import waits ~9 s for its probes.

Results are printed as a table and written to ``DIR/scale.json``; a finished N is
not run again unless ``--force`` (so a long N can run in the background);
``--remeasure-dag`` times the dry runs of finished sizes again (a quiet machine).
``--dag-only`` runs only the simulation and the selection (the checkpoint), then
times ``snakemake -n`` of the full DAG: the DAG-building cost of a large N in
minutes instead of the whole run.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "rules", "scripts", "config", "envs", "profiles")
BENCHMARKS = Path("logs/benchmarks")  # dl3flow.workflow.support.BENCHMARKS

OVERLAY_FILE = "scale.yaml"
OVERLAY = """\
# benchmarks/scale.py: the demo with {n_obs} simulated observations, all selected
simulation:
  n_obs: {n_obs}
analyses:
  demo:
    selection:
      obs_ids: null
      cone: null
      cuts:
        ZEN_PNT: {{max: 90 deg}}
"""


def copy_workflow(destination: Path) -> None:
    destination.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, destination / name, dirs_exist_ok=True)
        elif source.exists():
            shutil.copy2(source, destination / name)


def snakemake(workdir: Path, *args) -> tuple[float, str]:
    """Run snakemake in ``workdir``; return (seconds, combined output)."""
    command = [sys.executable, "-m", "snakemake", "--directory", str(workdir), *map(str, args)]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{output[-3000:]}")
    return seconds, output


def count_jobs(output: str) -> int:
    """Jobs run: the last 'i of n steps' line of a run."""
    steps = re.findall(r"(\d+) of (\d+) steps", output)
    return int(steps[-1][1]) if steps else 0


def dry_run_jobs(output: str) -> int:
    match = re.search(r"^total\s+(\d+)\s*$", output, re.MULTILINE)
    return int(match[1]) if match else 0


def memory_per_rule(workdir: Path) -> dict[str, dict]:
    """{rule: {jobs, max_rss_max, max_rss_median, s_median}} from the benchmark TSVs.

    The rule is the first path component below logs/benchmarks/<analysis>/ that
    is a directory (one TSV per observation) or the TSV's stem.
    """
    by_rule: dict[str, list[tuple[float, float]]] = {}
    root = workdir / BENCHMARKS
    for tsv in root.rglob("*.tsv"):
        parts = tsv.relative_to(root).parts
        rule = parts[-2] if len(parts) >= 3 else tsv.stem
        with open(tsv) as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        for row in rows[-1:]:
            by_rule.setdefault(rule, []).append((float(row["max_rss"]), float(row["s"])))
    return {
        rule: {
            "jobs": len(values),
            "max_rss_max": max(v[0] for v in values),
            "max_rss_median": statistics.median(v[0] for v in values),
            "s_median": statistics.median(v[1] for v in values),
        }
        for rule, values in sorted(by_rule.items())
    }


def prepare(n_obs: int, workdir: Path) -> tuple[str, ...]:
    copy_workflow(workdir)
    (workdir / OVERLAY_FILE).write_text(OVERLAY.format(n_obs=n_obs))
    return ("--configfile", OVERLAY_FILE)


def run_dag_only(n_obs: int, workdir: Path, cores: int) -> dict:
    common = prepare(n_obs, workdir)
    simulate, _ = snakemake(workdir, *common, "--cores", cores, "results/demo/observations.ecsv")
    dag, output = snakemake(workdir, *common, "-n")
    return {
        "n_obs": n_obs,
        "cores": cores,
        "simulate_and_select_s": round(simulate, 1),
        "dag_dry_run_todo_s": round(dag, 2),
        "dag_dry_run_todo_jobs": dry_run_jobs(output),
    }


def measure_dag(workdir: Path, common: tuple[str, ...], repeat: int) -> dict:
    """Best-of-``repeat`` times of start-up/parsing and of the dry runs of a finished run."""

    def best(*args) -> tuple[float, str]:
        runs = [snakemake(workdir, *common, *args) for _ in range(repeat)]
        return min(runs, key=lambda run: run[0])

    parse, _ = best("--list-rules")
    uptodate, _ = best("-n")
    rerun, out_rerun = best("-n", "--forcerun", "reduce_observations")
    return {
        "startup_parse_s": round(parse, 2),
        "dag_dry_run_uptodate_s": round(uptodate, 2),
        "dag_dry_run_rerun_s": round(rerun, 2),
        "dag_dry_run_rerun_jobs": dry_run_jobs(out_rerun),
    }


def run_one(n_obs: int, workdir: Path, cores: int, repeat: int) -> dict:
    common = prepare(n_obs, workdir)
    wall, output = snakemake(workdir, *common, "--cores", cores)
    (workdir / "run.log").write_text(output)
    return {
        "n_obs": n_obs,
        "cores": cores,
        "wall_s": round(wall, 1),
        "jobs": count_jobs(output),
        **measure_dag(workdir, common, repeat),
        "memory": memory_per_rule(workdir),
    }


def print_result(result: dict) -> None:
    if "wall_s" not in result:
        print(
            f"\n== {result['n_obs']} observations (--dag-only): simulation + selection "
            f"{result['simulate_and_select_s']} s; DAG (snakemake -n) of the remaining "
            f"{result['dag_dry_run_todo_jobs']} jobs: {result['dag_dry_run_todo_s']} s"
        )
        return
    parse = result.get("startup_parse_s")
    print(
        f"\n== {result['n_obs']} observations, {result['cores']} cores: "
        f"wall {result['wall_s']} s, {result['jobs']} jobs; "
        f"DAG (snakemake -n): {result['dag_dry_run_uptodate_s']} s up to date, "
        f"{result['dag_dry_run_rerun_s']} s for a re-run of "
        f"{result['dag_dry_run_rerun_jobs']} jobs"
        + (
            f"; start-up + parsing (--list-rules) {parse} s, so DAG building "
            f"{result['dag_dry_run_uptodate_s'] - parse:.2f} s / "
            f"{result['dag_dry_run_rerun_s'] - parse:.2f} s"
            if parse is not None
            else ""
        )
    )
    print(f"{'rule':28s} {'jobs':>5s} {'max_rss max':>12s} {'median':>8s} {'s median':>9s}")
    for rule, m in result["memory"].items():
        print(
            f"{rule:28s} {m['jobs']:5d} {m['max_rss_max']:10.0f}MB "
            f"{m['max_rss_median']:6.0f}MB {m['s_median']:9.2f}"
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-obs", type=int, nargs="+", default=[50, 200, 500])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/dl3flow-scale"))
    parser.add_argument("--force", action="store_true", help="re-run finished sizes")
    parser.add_argument(
        "--dag-only", action="store_true", help="simulate + select, then time the dry run"
    )
    parser.add_argument(
        "--remeasure-dag", action="store_true", help="time the dry runs of finished sizes again"
    )
    parser.add_argument("--repeat", type=int, default=3, help="dry runs timed (best of)")
    args = parser.parse_args(argv)

    summary_path = args.workdir / "scale.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    for n_obs in args.n_obs:
        key = f"{n_obs}-dag" if args.dag_only else str(n_obs)
        if args.remeasure_dag and key in summary and "wall_s" in summary[key]:
            workdir = args.workdir / f"n{n_obs}"
            common = ("--configfile", OVERLAY_FILE)
            summary[key].update(measure_dag(workdir, common, args.repeat))
            summary_path.write_text(json.dumps(summary, indent=1))
            print_result(summary[key])
            continue
        if key in summary and not args.force:
            print_result(summary[key])
            continue
        workdir = args.workdir / (f"n{n_obs}-dag" if args.dag_only else f"n{n_obs}")
        if workdir.exists():
            shutil.rmtree(workdir)
        print(f"running {n_obs} observations in {workdir} ...", flush=True)
        if args.dag_only:
            result = run_dag_only(n_obs, workdir, args.cores)
        else:
            result = run_one(n_obs, workdir, args.cores, args.repeat)
        # re-read: another size may have finished meanwhile (runs in parallel)
        if summary_path.is_file():
            summary = json.loads(summary_path.read_text())
        summary[key] = result
        args.workdir.mkdir(parents=True, exist_ok=True)
        summary_path.write_text(json.dumps(summary, indent=1))
        print_result(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
