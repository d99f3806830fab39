# Configuration, observation selection, wildcard constraints and input functions.
from pathlib import Path

from snakemake.exceptions import WorkflowError

from dl3flow.config import (
    ANALYSIS_NAME_PATTERN,
    ConfigError,
    analysis_config,
    analysis_names,
)
from dl3flow.io import read_observations

# Logs: logs/{analysis}/{rule}[/{obs_id}].log; benchmarks mirror them under BENCHMARKS.
BENCHMARKS = "benchmarks/output"
# Directory of the simulated demo data store (rules/data.smk).
DEMO_DATA_STORE = "resources/demo-dl3"

# Parse every analysis up front: a bad quantity fails here, naming its key,
# before any job runs.
try:
    ANALYSES = analysis_names(config)
    ANALYSIS_CONFIGS = {name: analysis_config(config, name) for name in ANALYSES}
except ConfigError as exc:
    raise WorkflowError(f"invalid configuration: {exc}") from None


wildcard_constraints:
    analysis=ANALYSIS_NAME_PATTERN,
    obs_id=r"\d+",


def analysis_section(wildcards):
    """Raw config section of one analysis; as params, a change re-runs its jobs."""
    return config["analyses"][wildcards.analysis]


def _index_file(directory, stem):
    """``stem.fits.gz`` unless only ``stem.fits`` exists (as DataStore.from_dir)."""
    for name in (f"{stem}.fits.gz", f"{stem}.fits"):
        if (Path(directory) / name).is_file():
            return str(Path(directory) / name)
    return str(Path(directory) / f"{stem}.fits.gz")


def data_store_index(wildcards):
    """The obs-index and hdu-index files of the analysis' data store."""
    directory = ANALYSIS_CONFIGS[wildcards.analysis].data_store
    return {
        "obs_index": _index_file(directory, "obs-index"),
        "hdu_index": _index_file(directory, "hdu-index"),
    }


_HDU_FILES = {}


def _observation_files(directory, obs_id):
    """Files of one observation listed in the hdu-index (none before it exists)."""
    index = Path(_index_file(directory, "hdu-index"))
    if not index.is_file():
        return []
    if directory not in _HDU_FILES:
        from astropy.table import Table

        files = {}
        for row in Table.read(index):
            path = (
                Path(directory)
                / str(row["FILE_DIR"]).strip()
                / str(row["FILE_NAME"]).strip()
            )
            files.setdefault(int(row["OBS_ID"]), set()).add(str(path))
        _HDU_FILES[directory] = {key: sorted(value) for key, value in files.items()}
    return _HDU_FILES[directory].get(int(obs_id), [])


def observation_inputs(wildcards):
    """Index files plus every file of the observation (so that changes re-run it)."""
    directory = str(ANALYSIS_CONFIGS[wildcards.analysis].data_store)
    inputs = data_store_index(wildcards)
    inputs["files"] = _observation_files(directory, wildcards.obs_id)
    return inputs


def selected_obs_ids(analysis):
    """Observation ids selected by checkpoint select_observations."""
    path = checkpoints.select_observations.get(analysis=analysis).output[0]
    selected, _ = read_observations(path)
    return [int(obs_id) for obs_id in selected["OBS_ID"]]


def obs_datasets(wildcards):
    """Per-observation datasets of the selected observations."""
    return expand(
        "results/{analysis}/obs/{obs_id}/dataset.fits",
        analysis=wildcards.analysis,
        obs_id=selected_obs_ids(wildcards.analysis),
    )


def obs_safe_masks(wildcards):
    """Per-observation safe masks of the selected observations (same order)."""
    return expand(
        "results/{analysis}/obs/{obs_id}/mask_safe.fits",
        analysis=wildcards.analysis,
        obs_id=selected_obs_ids(wildcards.analysis),
    )


QUICKLOOK = ("counts", "background", "exposure")


def all_targets():
    """Final products of every analysis to run."""
    targets = []
    for analysis in ANALYSES:
        targets += [
            f"results/{analysis}/observations.ecsv",
            f"results/{analysis}/stacked/dataset.fits",
            f"results/{analysis}/tables/safe_energy.ecsv",
            f"results/{analysis}/plots/safe_energy_threshold.png",
        ]
        targets += [f"results/{analysis}/plots/{name}.png" for name in QUICKLOOK]
    return targets
