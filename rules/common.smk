# Configuration, observation selection, wildcard constraints and input functions.
from pathlib import Path

from snakemake.exceptions import WorkflowError

from dl3flow.config import (
    ANALYSIS_NAME_PATTERN,
    ConfigError,
    analysis_config,
    analysis_names,
    check_exclusion_inputs,
)
from dl3flow.io import read_observations

# Logs: logs/{analysis}/{rule}[/{obs_id}].log; benchmarks mirror them under BENCHMARKS.
BENCHMARKS = "benchmarks/output"
# Directory of the simulated demo data store and its source catalog and region
# file (rules/data.smk).
DEMO_DATA_STORE = "resources/demo-dl3"
DEMO_CATALOG = "resources/demo-sources.fits"
DEMO_REGIONS = "resources/demo-sources.reg"

# Parse every analysis up front: a bad quantity, region string, missing region file
# or catalog column fails here, naming its key, before any job runs. (Files that a
# rule writes, the demo's, are checked by the rule that reads them.)
try:
    ANALYSES = analysis_names(config)
    ANALYSIS_CONFIGS = {name: analysis_config(config, name) for name in ANALYSES}
    for _cfg in ANALYSIS_CONFIGS.values():
        check_exclusion_inputs(_cfg, produced=(DEMO_CATALOG, DEMO_REGIONS))
except ConfigError as exc:
    raise WorkflowError(f"invalid configuration: {exc}") from None

# Exclusion-mask plots: {mask} -> mask file name under results/{analysis}/masks/.
EXCLUSION_MASKS = {
    "regions": "exclusion_regions",
    "catalog": "exclusion_catalog",
    "initial": "exclusion_initial",
    "significance": "exclusion_significance",
    "final": "exclusion",
}


wildcard_constraints:
    analysis=ANALYSIS_NAME_PATTERN,
    obs_id=r"\d+",
    mask="|".join(EXCLUSION_MASKS),


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


def obs_bkg_datasets(wildcards):
    """Background-corrected datasets of the selected observations."""
    return expand(
        "results/{analysis}/obs/{obs_id}/dataset_bkg.fits",
        analysis=wildcards.analysis,
        obs_id=selected_obs_ids(wildcards.analysis),
    )


def obs_bkg_status(wildcards):
    """Background-normalisation status tables of the selected observations."""
    return expand(
        "results/{analysis}/obs/{obs_id}/background_norm.ecsv",
        analysis=wildcards.analysis,
        obs_id=selected_obs_ids(wildcards.analysis),
    )


def exclusion_region_files(wildcards):
    """Region files of the analysis (inputs, so that editing one re-runs the mask)."""
    return [str(p) for p in ANALYSIS_CONFIGS[wildcards.analysis].exclusion.region_files]


def exclusion_catalog_files(wildcards):
    """Catalog files of the analysis."""
    return [
        str(c.path) for c in ANALYSIS_CONFIGS[wildcards.analysis].exclusion.catalogs
    ]


def has_significance_mask(analysis):
    """Whether the analysis builds a significance mask (and so runs a first pass)."""
    return ANALYSIS_CONFIGS[analysis].exclusion.significance is not None


def final_exclusion_inputs(wildcards):
    """The masks combined into the final exclusion mask."""
    masks = [f"results/{wildcards.analysis}/masks/exclusion_initial.fits"]
    if has_significance_mask(wildcards.analysis):
        masks.append(f"results/{wildcards.analysis}/masks/exclusion_significance.fits")
    return masks


def exclusion_plot_mask(wildcards):
    """The mask file drawn by plot_exclusion."""
    return f"results/{wildcards.analysis}/masks/{EXCLUSION_MASKS[wildcards.mask]}.fits"


def exclusion_plots(analysis):
    """Exclusion-mask plots of an analysis (no significance plot without that mask)."""
    names = [
        m
        for m in EXCLUSION_MASKS
        if m != "significance" or has_significance_mask(analysis)
    ]
    return [f"results/{analysis}/plots/exclusion_{name}.png" for name in names]


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
            f"results/{analysis}/masks/exclusion.fits",
            f"results/{analysis}/tables/background_norms.ecsv",
            f"results/{analysis}/plots/background_norms.png",
        ]
        targets += [f"results/{analysis}/plots/{name}.png" for name in QUICKLOOK]
        targets += exclusion_plots(analysis)
        if ANALYSIS_CONFIGS[analysis].ring is not None:
            targets.append(f"results/{analysis}/stacked/ring.fits")
    return targets
