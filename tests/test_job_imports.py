"""The per-observation workflow jobs import only what they need (issue 14).

Every Snakemake job is a new Python process, and a per-observation job (rules
reduce_observation, make_safe_mask, normalize_background, extract_spectra) computes
for ~0.1 s: its imports must stay light. Each test runs, in a fresh interpreter, the imports of a
job's script and the calls it makes, on a one-observation simulated store (RADEC
bkg_3d), then checks ``sys.modules``.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

#: Modules (with their submodules) a per-observation job must not import, and why.
FORBIDDEN = (
    # ~0.8 s: needed by background `method: fit` (scipy.optimize), the stacked jobs
    # (edisp stacking weights, scipy.interpolate) and exclusion masks (scipy.ndimage)
    "scipy",
    # ~0.6 s: needed for a galactic geometry, ALTAZ backgrounds, region files and the
    # selection's cone; the reduction works on the pointing as floats
    "astropy.coordinates",
    # ~0.3 s with yaml: needed by the selection, ECSV tables and catalogs; index
    # tables, GTIs and band tables are read and written as FITS record arrays
    "astropy.table",
    # needed by ALTAZ backgrounds only (tstart, tstop)
    "astropy.time",
    # the astropy.wcs package imports astropy.coordinates, .table and .time; the
    # geometry uses wcslib through its extension astropy.wcs._wcs alone
    "astropy.wcs.wcs",
    "astropy.wcs.utils",
    # imports astropy.table and astropy.time (script_logging sets its option without)
    "astropy.utils.iers",
    # Cutout2D (astropy.nddata) and the ring kernel (astropy.convolution): other jobs
    "astropy.nddata",
    "astropy.convolution",
    # plots, YAML/ECSV, the config schema, Snakemake itself: other jobs or the parent
    "matplotlib",
    "pandas",
    "regions",
    "yaml",
    "jsonschema",
    "snakemake",
)

#: The astropy packages a per-observation job may import: units, io.fits, what
#: ``import astropy`` loads itself, and wcslib's extension module astropy.wcs._wcs.
ALLOWED_ASTROPY = {
    "astropy",
    "astropy._version",
    "astropy.config",
    "astropy.constants",
    "astropy.extern",
    "astropy.io",
    "astropy.logger",
    "astropy.tests",
    "astropy.units",
    "astropy.utils",
    "astropy.version",
    "astropy.wcs",  # astropy.wcs._wcs only (astropy.wcs.wcs and .utils are forbidden)
}

# Runs in a fresh interpreter, argv[1] a JSON dict (paths, config); prints the
# forbidden modules and the astropy packages loaded after the imports and after the
# calls. A fake `snakemake` object stands for the one the script directive injects.
CHILD = """
import json, sys
from types import SimpleNamespace

args = json.loads(sys.argv[1])
forbidden = tuple(args["forbidden"])


def loaded():
    names = set(sys.modules)
    astropy = {".".join(m.split(".")[:2]) for m in names if m.split(".")[0] == "astropy"}
    bad = {p for p in forbidden for m in names if m == p or m.startswith(p + ".")}
    return {"forbidden": sorted(bad), "astropy": sorted(astropy)}


@IMPORTS@
from dl3flow.config.analysis import analysis_config
from dl3flow.workflow.support import script_job, script_provenance

report = {"imports": loaded()}
print(json.dumps(report), flush=True)
job = SimpleNamespace(
    rule=args["rule"],
    input=args["inputs"],
    output=args["outputs"],
    params={},
    wildcards=SimpleNamespace(analysis="tiny", obs_id="1"),
    log=[args["log"]],
    config=args["config"],
)
with script_job(job):
    cfg = analysis_config(args["config"], "tiny")
@CALLS@
report["run"] = loaded()
print(json.dumps(report))
"""

REDUCE_IMPORTS = """
from dl3flow.data.store import DataStore
from dl3flow.datasets.rejection import Rejection
from dl3flow.workflow.rejection import reduce_to_files
from dl3flow.makers.map import reduce_observation
from dl3flow.workflow.support import job_geom
"""

# the reduction alone (reduce_to_files, the script's call: test_reduce_to_files_stays_light)
REDUCE_CALLS = """
store = DataStore.from_files(obs_index=args["obs_index"], hdu_index=args["hdu_index"])
with script_job(job):
    dataset = reduce_observation(
        store.observation(1),
        geom=cfg.geom,
        offset_max=cfg.offset_max.to_value("deg"),
        edisp=cfg.edisp,
        psf=cfg.psf,
        fov_rotation_step=cfg.fov_rotation_step.to_value("deg"),
        fov_alignment=cfg.background.fov_alignment,
    )
    assert dataset.meta["FOVALIGN"] == "RADEC", dataset.meta
    dataset.write(args["dataset"], provenance=script_provenance(job))
"""

REDUCE_TO_FILES_CALLS = """
store = DataStore.from_files(obs_index=args["obs_index"], hdu_index=args["hdu_index"])
with script_job(job):
    result = reduce_to_files(
        store.observation,
        obs_id=1,
        dataset_path=args["root"] + "/dataset_rtf.fits",
        status_path=args["root"] + "/status.json",
        provenance=lambda: script_provenance(job),
        on_bad_observation="fail",
        geom=cfg.geom,
        offset_max=cfg.offset_max.to_value("deg"),
        edisp=cfg.edisp,
        psf=cfg.psf,
        fov_rotation_step=cfg.fov_rotation_step.to_value("deg"),
        fov_alignment=cfg.background.fov_alignment,
    )
    assert not isinstance(result, Rejection), result
"""

# scripts/make_safe_masks.py, with the default methods [aeff-default, offset-max]
SAFE_MASK_IMPORTS = """
from dl3flow.datasets.map import read_dataset
from dl3flow.datasets.rejection import rejection_of
from dl3flow.makers.safe import DatasetObservation, make_safe_mask, rejected_safe_mask
from dl3flow.makers.safe_io import write_safe_mask
"""

SAFE_MASK_CALLS = """
with script_job(job):
    dataset = read_dataset(args["dataset"])
    assert rejection_of(dataset.meta) is None
    assert cfg.safe_mask.methods == ("aeff-default", "offset-max"), cfg.safe_mask
    observation = DatasetObservation.from_dataset(dataset)
    safe = make_safe_mask(dataset, observation, **cfg.safe_mask.as_kwargs())
    assert 0 < safe.mask.sum() < safe.mask.size
    write_safe_mask(safe, args["mask_safe"], provenance=script_provenance(job))
"""

# scripts/normalize_backgrounds.py with method: scale, up to the dataset (its ECSV
# status table needs astropy.table; the exclusion's SOURCES table is not read)
NORMALIZE_IMPORTS = """
from dl3flow.makers.background import results_table
from dl3flow.datasets.map import read_dataset
from dl3flow.io.atomic import write_table
from dl3flow.makers.safe import with_safe_mask
from dl3flow.makers.safe_io import read_safe_mask
from dl3flow.workflow.steps import describe_norm, normalise_observation, read_exclusion
"""

NORMALIZE_CALLS = """
with script_job(job):
    assert cfg.background.method == "scale"
    dataset = read_dataset(args["dataset"])
    dataset = with_safe_mask(dataset, read_safe_mask(args["mask_safe"]))
    exclusion = read_exclusion(args["exclusion"], sources=False)
    out, res = normalise_observation(dataset, exclusion, **cfg.background.as_kwargs())
    assert res.ok and res.action == "scaled", describe_norm(res)
    out.write(args["dataset_bkg"], provenance=script_provenance(job))
"""

# scripts/extract_spectra.py with reflected regions and aeff-default (aeff-max solves
# for its threshold with scipy.optimize, as gammapy: an analysis that asks for it pays)
SPECTRUM_IMPORTS = """
from dl3flow.data.store import DataStore
from dl3flow.datasets.rejection import Rejection
from dl3flow.makers.spectrum import extract_spectrum_to_file
from dl3flow.workflow.steps import read_exclusion
from dl3flow.workflow.support import batch_observations, matching_inputs
"""

SPECTRUM_CALLS = """
store = DataStore.from_files(obs_index=args["obs_index"], hdu_index=args["hdu_index"])
with script_job(job):
    exclusion = read_exclusion(args["exclusion"], sources=False)
    result = extract_spectrum_to_file(
        store.observation,
        obs_id=1,
        path=args["root"] + "/spectrum.fits",
        provenance=lambda: script_provenance(job),
        on_bad_observation="fail",
        exclusion=exclusion,
        **cfg.spectrum.extract_kwargs(),
    )
    assert result.n_off_regions > 0 and result.counts.sum() > 0
"""

JOBS = {
    "reduce_observations": (REDUCE_IMPORTS, REDUCE_CALLS),
    "make_safe_masks": (SAFE_MASK_IMPORTS, SAFE_MASK_CALLS),
    "normalize_backgrounds": (NORMALIZE_IMPORTS, NORMALIZE_CALLS),
    "extract_spectra": (SPECTRUM_IMPORTS, SPECTRUM_CALLS),
}


@pytest.fixture(scope="module")
def tiny_job(tmp_path_factory):
    """A one-observation simulated store, the analysis config and an exclusion mask."""
    from dl3flow.config.analysis import analysis_config
    from dl3flow.makers.exclusion import write_mask
    from dl3flow.simulate.config import SimulationConfig
    from dl3flow.simulate.store import write_data_store

    root = tmp_path_factory.mktemp("job_imports")
    store = write_data_store(SimulationConfig(n_obs=1, livetime=120.0), root / "store")
    config = {
        "analyses": {
            "tiny": {
                "data_store": str(store),
                "geom": {
                    "center": {"lon": "60 deg", "lat": "-25 deg"},
                    "width": "3 deg",
                    "binsz": "0.1 deg",
                    "energy": {"min": "0.5 TeV", "max": "20 TeV", "nbin": 4},
                    "energy_true": {"min": "0.3 TeV", "max": "30 TeV", "nbin": 6},
                },
                "offset_max": "1.5 deg",
                "background": {"method": "scale"},
                "spectrum": {
                    "on_region": "icrs;circle(60,-25,0.1)",
                    "energy": {"min": "0.5 TeV", "max": "20 TeV", "nbin": 4, "per_decade": False},
                    "energy_true": {"min": "0.3 TeV", "max": "30 TeV", "nbin": 6},
                    "safe_mask": {"methods": ["aeff-default"]},
                },
            }
        }
    }
    sky = analysis_config(config, "tiny").geom.sky
    mask = np.ones(sky.shape, dtype=bool)
    mask[10:20, 10:20] = False
    write_mask(mask, sky, root / "exclusion.fits", recipe={"kind": "test"})
    return {
        "root": str(root),
        "config": config,
        "obs_index": str(store / "obs-index.fits.gz"),
        "hdu_index": str(store / "hdu-index.fits.gz"),
        "exclusion": str(root / "exclusion.fits"),
        "dataset": str(root / "dataset.fits"),
        "mask_safe": str(root / "mask_safe.fits"),
        "dataset_bkg": str(root / "dataset_bkg.fits"),
    }


def _run_job(paths: dict, rule: str, imports: str, calls: str) -> dict:
    """Run ``imports`` then ``calls`` in a new interpreter; its report (see CHILD)."""
    code = CHILD.replace("@IMPORTS@", imports.strip()).replace("@CALLS@", calls.strip())
    args = {
        **paths,
        "rule": rule,
        "forbidden": list(FORBIDDEN),
        "inputs": [paths["obs_index"], paths["hdu_index"]],
        "outputs": [f"{paths['root']}/{rule}.out"],
        "log": f"{paths['root']}/{rule}.log",
    }
    result = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)],
        cwd=paths["root"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    reports = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert reports, f"{rule}: nothing imported:\n{result.stderr[-3000:]}"
    report = reports[-1]
    # a job that failed after heavy imports is reported by its imports check
    if "run" not in report and not report["imports"]["forbidden"]:
        pytest.fail(f"{rule} failed:\n{result.stderr[-3000:]}")
    return report


def _check(report: dict, stage: str) -> None:
    forbidden = report[stage]["forbidden"] if stage in report else ["(the job failed)"]
    assert not forbidden, f"{stage}: heavy modules loaded: {forbidden}"
    extra = sorted(set(report[stage]["astropy"]) - ALLOWED_ASTROPY)
    assert not extra, f"{stage}: astropy packages beyond units and io.fits: {extra}"


# in workflow order: each job reads the product of the one before
@pytest.mark.parametrize("rule", list(JOBS))
def test_per_observation_jobs_stay_light(tiny_job, rule):
    report = _run_job(tiny_job, rule, *JOBS[rule])
    _check(report, "imports")
    _check(report, "run")


def test_reduce_to_files_stays_light(tiny_job):
    """The reduction job's own call (reduce_to_files, as scripts/reduce_observation.py)."""
    report = _run_job(tiny_job, "reduce_observation", REDUCE_IMPORTS, REDUCE_TO_FILES_CALLS)
    _check(report, "imports")
    _check(report, "run")


def test_the_check_catches_a_heavy_import(tiny_job):
    report = _run_job(tiny_job, "heavy", "import json", "import astropy.coordinates")
    _check(report, "imports")
    with pytest.raises(AssertionError, match=r"run: heavy modules loaded: \['astropy\.coord"):
        _check(report, "run")
