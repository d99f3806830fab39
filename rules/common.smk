# Configuration, observation selection, wildcard constraints and input functions.
import os
from pathlib import Path

from snakemake.exceptions import WorkflowError

from dl3flow.config.analysis import (
    analysis_config,
    analysis_names,
    analysis_sections,
    check_data_store,
    check_exclusion_inputs,
)
from dl3flow.config.options import ANALYSIS_NAME_PATTERN
from dl3flow.config.values import ConfigError
from dl3flow.plotting.text import figure_overlays, report_labels
from dl3flow.io.atomic import read_observations
from dl3flow.workflow.support import (
    DEMO_CATALOG,
    DEMO_DATA_STORE,
    DEMO_REGIONS,
    auto_center_params,
    run_summary,
)

# The simulated demo data store, its source catalog and region file (rules/data.smk):
# DEMO_DATA_STORE, DEMO_CATALOG, DEMO_REGIONS of dl3flow.workflow.support. Product
# paths: rules/paths.smk.


def batch_dir(step):
    """The batch directory pattern of a step (a rule's `directory()` output)."""
    return OBS_BATCH.replace("{step}", step)


def batch_manifest(step):
    """The manifest of a batch job (written last: a killed job has none)."""
    return OBS_BATCH.replace("{step}", step) + ".json"


# Parse every analysis up front: a bad quantity, region string, missing region file
# or catalog column fails here, naming its key, before any job runs. (Files that a
# rule writes, the demo's, are checked by the rule that reads them.)
try:
    ANALYSES = analysis_names(config)
    ANALYSIS_CONFIGS = {name: analysis_config(config, name) for name in ANALYSES}
    # the same, unparsed (defaults filled in): what the rules give their jobs as params
    ANALYSIS_SECTIONS = {name: analysis_sections(config, name) for name in ANALYSES}
    for _cfg in ANALYSIS_CONFIGS.values():
        check_data_store(_cfg, produced=(DEMO_DATA_STORE,))
        check_exclusion_inputs(_cfg, produced=(DEMO_CATALOG, DEMO_REGIONS))
except ConfigError as exc:
    raise WorkflowError(f"invalid configuration: {exc}") from None

# Exclusion-mask plots (results/{analysis}/plots/exclusion_<name>.png).
EXCLUSION_MASKS = ("regions", "catalog", "initial", "significance", "final")


wildcard_constraints:
    analysis=ANALYSIS_NAME_PATTERN,
    obs_id=r"\d+",
    batch=r"\d+",


# A job's config is its params: the sections (plain values, dl3flow.config.analysis.
# analysis_sections) its script uses and parses (dl3flow.config's parse_<section>), so
# that what re-runs a job is what it uses (tests/test_rule_params.py checks the scripts).
# Snakemake records a job's params as the set of their reprs: give a job's scalars
# that could trade values in one dict (e.g. `irfs`).
def section(*keys):
    """Params function: the analysis' section ``keys[0]`` (``keys[1:]``: a value in it)."""

    def value(wildcards):
        out = ANALYSIS_SECTIONS[wildcards.analysis]
        for key in keys:
            out = out[key]
        return out

    return value


def unrecorded(param):
    """A params function whose value is not a re-run trigger.

    Snakemake does not record params computed from a job's ``input`` (its
    "derived" params), so a change of this value alone does not re-run the job:
    for on_bad_observation, which changes no output of a job that succeeds (a
    switch to fail is checked by rule rejected_observations, whose param it is).
    """

    def derived(wildcards, input):
        return param(wildcards)

    return derived


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


_DATA_STORES = {}


def _data_store(directory):
    """The analysis' data store, opened once per Snakemake run (by dl3flow, as the jobs do)."""
    if directory not in _DATA_STORES:
        from dl3flow.data.errors import DataStoreError
        from dl3flow.data.store import DataStore

        try:
            _DATA_STORES[directory] = DataStore.from_dir(directory)
        except DataStoreError as exc:
            raise WorkflowError(f"data store {directory}: {exc}") from None
    return _DATA_STORES[directory]


def _observation_files(analysis, obs_id):
    """The observation's DL3 files that exist (changes re-run its batch).

    Paths are resolved by dl3flow's DataStore (BASE_DIR / FILE_DIR / FILE_NAME), as
    the job resolves them. A file that is missing (or a broken link) is left out:
    the job then rejects the observation with that reason, and the rest runs.
    """
    directory = str(ANALYSIS_CONFIGS[analysis].data_store)
    files = _data_store(directory).observation_files(obs_id)
    return [_as_configured(path, directory) for path in files if path.is_file()]


def _as_configured(path, directory):
    """A resolved path as the config names the store: relative for a relative store.

    (The recorded input set then does not change when the workflow directory moves.)
    """
    if Path(directory).is_absolute():
        return str(path)
    return os.path.relpath(path, Path.cwd().resolve())


def geometry_inputs(wildcards):
    """The selection's table for a rule that places the map, if its centre is auto.

    With ``geom.center: auto`` the centre is chosen by checkpoint select_observations
    (``dl3flow.workflow.support.job_geom`` reads it); a fixed centre needs nothing.
    """
    if ANALYSIS_CONFIGS[wildcards.analysis].auto_center is None:
        return {}
    return {
        "observations": expand(
            rules.select_observations.output[0], analysis=wildcards.analysis
        )[0]
    }


_SELECTED = {}


def selected_obs_ids(analysis):
    """Observation ids selected by checkpoint select_observations.

    The table is read once per version of the file (every batch and publishing job
    asks, at DAG time), again when the checkpoint has rewritten it.
    """
    path = checkpoints.select_observations.get(analysis=analysis).output[0]
    key = (str(path), os.stat(path).st_mtime_ns)
    if key not in _SELECTED:
        selected, _ = read_observations(path)
        _SELECTED[key] = [int(obs_id) for obs_id in selected["OBS_ID"]]
    return list(_SELECTED[key])


def analysis_obs_ids(wildcards):
    """The selected observations (the `obs_ids` param of a job that reads theirs)."""
    return selected_obs_ids(wildcards.analysis)


def observation_batches(analysis):
    """Batch name -> observation ids of the per-observation batch jobs of an analysis."""
    from dl3flow.workflow.support import observation_batches as split

    batches = split(
        selected_obs_ids(analysis), max_per_job=config["observations_per_job"]
    )
    return {f"{index:03d}": obs_ids for index, obs_ids in enumerate(batches, 1)}


def batch_obs_ids(wildcards):
    """The observations of a batch job (its `obs_ids` param)."""
    return observation_batches(wildcards.analysis)[wildcards.batch]


def batch_of(step):
    """Input function: the batch directory of `step` that holds this observation.

    And the batch's manifest: Snakemake re-runs a job only for missing outputs that
    are asked for, and a killed batch job leaves its directory but no manifest.
    """

    def directory(wildcards):
        obs_id = int(wildcards.obs_id)
        for batch, obs_ids in observation_batches(wildcards.analysis).items():
            if obs_id in obs_ids:
                path = OBS_BATCH.format(
                    analysis=wildcards.analysis, step=step, batch=batch
                )
                return {"batch": path, "manifest": f"{path}.json"}
        raise WorkflowError(
            f"observation {obs_id} is not selected by analysis {wildcards.analysis} "
            f"({of(OBSERVATIONS, wildcards.analysis)})"
        )

    return directory


# Publish a batch job's products of one observation as its declared targets: a hard
# link (a copy where the file system has none), touched so that it is newer than the
# batch directory; a provenance sidecar goes along.
PUBLISH = (
    "exec 2> {log:q}; for out in {output:q}; do"
    ' src={input.batch:q}/{wildcards.obs_id}/"$(basename "$out")";'
    ' for suffix in "" .prov.json; do'
    ' if [ -z "$suffix" ] || [ -e "$src$suffix" ]; then'
    ' ln -f "$src$suffix" "$out$suffix" 2>/dev/null || cp "$src$suffix" "$out$suffix";'
    ' touch "$out$suffix"; fi; done; done'
)


def batch_inputs(pattern):
    """Input function: `pattern`'s per-observation files of a batch's observations."""

    def inputs(wildcards):
        return expand(
            pattern, analysis=wildcards.analysis, obs_id=batch_obs_ids(wildcards)
        )

    return inputs


def batch_observation_inputs(wildcards):
    """Index files plus the DL3 files of a batch's observations that exist."""
    # a file of one observation changes: its batch is re-reduced (and only its batch)
    inputs = data_store_index(wildcards)
    inputs["files"] = [
        path
        for obs_id in batch_obs_ids(wildcards)
        for path in _observation_files(wildcards.analysis, obs_id)
    ]
    return inputs


def obs_statuses(wildcards):
    """Reduction status files of the selected observations."""
    return _per_observation(OBS_STATUS, wildcards)


def _per_observation(pattern, wildcards):
    return expand(
        pattern,
        analysis=wildcards.analysis,
        obs_id=selected_obs_ids(wildcards.analysis),
    )


def obs_datasets(wildcards):
    """Per-observation datasets of the selected observations (rejected ones flagged)."""
    return _per_observation(OBS_DATASET, wildcards)


def obs_safe_masks(wildcards):
    """Per-observation safe masks of the selected observations (same order)."""
    return _per_observation(OBS_SAFE_MASK, wildcards)


def obs_bkg_datasets(wildcards):
    """Background-corrected datasets of the selected observations."""
    return _per_observation(OBS_BKG_DATASET, wildcards)


def obs_bkg_status(wildcards):
    """Background-normalisation status tables of the selected observations."""
    return _per_observation(OBS_BKG_STATUS, wildcards)


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


def significance_radius(analysis):
    """``exclusion.significance.correlation_radius`` in deg (None without that mask)."""
    significance = ANALYSIS_CONFIGS[analysis].exclusion.significance
    if significance is None:
        return None
    return float(significance.correlation_radius.to_value("deg"))


def final_exclusion_inputs(wildcards):
    """The masks combined into the final exclusion mask."""
    masks = [of(EXCLUSION_INITIAL, wildcards.analysis)]
    if has_significance_mask(wildcards.analysis):
        masks.append(of(EXCLUSION_SIGNIFICANCE, wildcards.analysis))
    return masks


def exclusion_plots(analysis):
    """Exclusion-mask plots of an analysis (no significance plot without that mask)."""
    names = [
        m
        for m in EXCLUSION_MASKS
        if m != "significance" or has_significance_mask(analysis)
    ]
    return [plot_path(f"exclusion_{name}", analysis) for name in names]


QUICKLOOK = ("counts", "background", "exposure")


def all_targets():
    """Final products of every analysis to run."""
    targets = []
    for analysis in ANALYSES:
        targets += spectrum_targets(analysis)  # rules/spectrum.smk
        if not ANALYSIS_CONFIGS[analysis].maps_enabled:  # spectrum only
            targets.append(of(OBSERVATIONS, analysis))
            continue
        targets += [
            of(OBSERVATIONS, analysis),
            of(REJECTIONS_TABLE, analysis),
            of(WARNINGS_TABLE, analysis),
            of(STACKED_DATASET, analysis),
            of(SAFE_ENERGY_TABLE, analysis),
            plot_path("safe_energy_threshold", analysis),
            of(EXCLUSION, analysis),
            of(BACKGROUND_NORMS_TABLE, analysis),
            plot_path("background_norms", analysis),
        ]
        targets += [plot_path(name, analysis) for name in QUICKLOOK]
        targets += exclusion_plots(analysis)
        if ANALYSIS_CONFIGS[analysis].ring is not None:
            targets.append(of(RING_DATASET, analysis))
        targets += maps_targets(analysis)  # rules/maps.smk
        targets += report_targets(analysis)  # rules/report.smk
    return targets


def observation_products(wildcards):
    """Every per-observation product of the selected observations (for rule all).

    They are targets too, so that one deleted by hand is made again (Snakemake does
    not re-make an intermediate file whose users are up to date).
    """
    targets = []
    for analysis in ANALYSES:
        obs_ids = selected_obs_ids(analysis)
        if ANALYSIS_CONFIGS[analysis].maps_enabled:
            for pattern in (OBS_DATASET, OBS_SAFE_MASK, OBS_BKG_DATASET):
                targets += expand(pattern, analysis=analysis, obs_id=obs_ids)
        if ANALYSIS_CONFIGS[analysis].spectrum is not None:
            targets += expand(OBS_SPECTRUM, analysis=analysis, obs_id=obs_ids)
    return targets


# Final maps, their plots and the report pages (rules/maps.smk, rules/report.smk).
MAP_PLOTS = (
    "significance",
    "excess",
    "flux",
    "flux_exposure",
    "significance_distribution",
)
RING_PLOTS = ("significance", "significance_distribution")


def energy_band_count(analysis):
    """Number of `maps.energy_bands` bands of an analysis (0: no per-band maps)."""
    bands = ANALYSIS_CONFIGS[analysis].maps.energy_bands
    return 0 if bands is None else len(bands) - 1


def maps_targets(analysis):
    """Final maps, tables and plots of an analysis."""
    targets = [
        of(MAPS, analysis),
        of(PEAKS_TABLE, analysis),
        plot_path("observation_qa", analysis),
    ]
    targets += [plot_path(name, analysis) for name in MAP_PLOTS]
    if energy_band_count(analysis):
        targets.append(of(MAPS_BANDS, analysis))
        targets += [
            plot_path(f"significance_band{band}", analysis)
            for band in range(energy_band_count(analysis))
        ]
    if ANALYSIS_CONFIGS[analysis].ring is not None:
        targets.append(of(MAPS_RING, analysis))
        targets += [plot_path(f"{name}_ring", analysis) for name in RING_PLOTS]
    return targets


def map_plot(name, caption, category="Sky maps"):
    """A plot as a report item (captions in report/, one subcategory per analysis,
    listed by the title of dl3flow.plotting.text.REPORT_TITLES[caption])."""
    return report(
        plot_path(name),
        caption=f"../report/{caption}.rst",
        category=category,
        subcategory="{analysis}",
        labels=report_labels(caption),
    )


# Tables shown in the report as HTML pages: {table} -> its ECSV files.
REPORT_TABLES = {
    "observations": [
        OBSERVATIONS,
        REJECTIONS_TABLE,
        WARNINGS_TABLE,
    ],
    "background_norms": [BACKGROUND_NORMS_TABLE],
    "peaks": [PEAKS_TABLE],
    "safe_energy": [SAFE_ENERGY_TABLE],
    # analyses with a spectrum only (spectrum_targets)
    "spectrum_runs": [SPECTRUM_TABLE],
}


def report_targets(analysis):
    """Report pages of the map part of an analysis: its summary (front page), its tables."""
    pages = ["summary", *(name for name in REPORT_TABLES if name != "spectrum_runs")]
    return [report_page(name, analysis) for name in pages]


# Resource requests (dl3flow.config.resources): grow with the geometry size and with `attempt`.
def job_mem_mb(rule_name):
    """``mem_mb`` of a rule's jobs (MB), for ``resources: mem_mb=job_mem_mb("rule")``."""
    from dl3flow.config import resources

    def mem_mb(wildcards, attempt):
        size = resources.job_size(ANALYSIS_CONFIGS[wildcards.analysis], rule_name)
        return resources.mem_mb(rule_name, **size, attempt=attempt)

    return mem_mb


def job_runtime(rule_name):
    """``runtime`` of a rule's jobs (minutes); stacking grows with its input datasets."""
    from dl3flow.config import resources

    def runtime(wildcards, input, attempt):
        size = resources.job_size(ANALYSIS_CONFIGS[wildcards.analysis], rule_name)
        if "batch" in wildcards.keys():
            n_obs = len(batch_obs_ids(wildcards))
        else:
            n_obs = len(input.datasets) if "datasets" in input.keys() else 1
        return resources.runtime(rule_name, **size, attempt=attempt, n_obs=n_obs)

    return runtime


# 1D spectra (rules/spectrum.smk): plots and input functions (products: rules/paths.smk).
SPECTRUM_PLOTS = (
    "theta2",
    "spectrum_excess",
    "cumulative_significance",
    "spectrum_regions",
)


def spectrum_exclusion(wildcards):
    """The final exclusion mask, unless the spectrum's exclusion is `none`."""
    if ANALYSIS_CONFIGS[wildcards.analysis].spectrum.exclusion == "none":
        return {}
    return {"exclusion": of(EXCLUSION, wildcards.analysis)}


def spectrum_plot_inputs(wildcards):
    """Index and DL3 files of the selected observations, and the exclusion mask if used."""
    inputs = data_store_index(wildcards) | spectrum_exclusion(wildcards)
    inputs["files"] = [
        path
        for obs_id in selected_obs_ids(wildcards.analysis)
        for path in _observation_files(wildcards.analysis, obs_id)
    ]
    return inputs


def obs_spectra(wildcards):
    """The per-observation spectra of the selected observations."""
    return _per_observation(OBS_SPECTRUM, wildcards)


def spectrum_targets(analysis):
    """The final spectrum products of an analysis (none without a `spectrum` section).

    (The per-observation spectra are in observation_products.)
    """
    spectrum = ANALYSIS_CONFIGS[analysis].spectrum
    if spectrum is None:
        return []
    targets = [
        of(STACKED_SPECTRUM, analysis),
        of(SPECTRUM_TABLE, analysis),
    ]
    targets += [plot_path(name, analysis) for name in SPECTRUM_PLOTS]
    targets.append(report_page("spectrum_runs", analysis))
    if spectrum.ogip:
        targets += [of(path, analysis) for path in OGIP_SPECTRUM.values()]
    return targets
