# The workflow's products, bound from the one table of product paths
# (dl3flow.workflow.support.PRODUCTS, which the scripts and the command line share):
# a rule names another's output by these (or by rules.<name>.output), never by a path
# typed again. Logs: logs/{analysis}/{rule}[/{obs_id}].log; Snakemake's benchmark TSVs
# beside them, under BENCHMARKS (logs/benchmarks).
from dl3flow.workflow.support import BENCHMARKS, PRODUCTS, product_path

OBSERVATIONS = PRODUCTS["observations"]
REJECTIONS_TABLE = PRODUCTS["rejections"]
WARNINGS_TABLE = PRODUCTS["warnings"]
# Per-observation reduction: the dataset (flagged STATUS = REJECTED for a rejected
# observation) and the status (ok or rejected, and why; warnings about the data).
OBS_STATUS = PRODUCTS["obs_status"]
OBS_DATASET = PRODUCTS["obs_dataset"]
OBS_SAFE_MASK = PRODUCTS["obs_safe_mask"]
OBS_BKG_DATASET = PRODUCTS["obs_bkg_dataset"]
OBS_BKG_STATUS = PRODUCTS["obs_bkg_status"]
# Per-observation 1D ON/OFF spectrum (analyses with a `spectrum` section, rules/spectrum.smk).
OBS_SPECTRUM = PRODUCTS["obs_spectrum"]
# The per-observation steps run as batch jobs of up to `observations_per_job`
# observations (a job's start costs more than reducing one observation): each writes
# its observations' products under results/{analysis}/batches/{step}/{batch}/{obs_id}/,
# and cheap per-observation rules publish them (hard links) as the declared per-
# observation targets above, which every later step reads.
OBS_BATCH = PRODUCTS["batch"]
# Exclusion masks; EXCLUSION is the final one.
EXCLUSION_REGIONS = PRODUCTS["exclusion_regions"]
EXCLUSION_CATALOG = PRODUCTS["exclusion_catalog"]
EXCLUSION_INITIAL = PRODUCTS["exclusion_initial"]
EXCLUSION_SIGNIFICANCE = PRODUCTS["exclusion_significance"]
EXCLUSION = PRODUCTS["exclusion"]
# First pass (analyses with exclusion.significance).
INITIAL_DATASET = PRODUCTS["initial_dataset"]
INITIAL_NORMS = PRODUCTS["initial_norms"]
INITIAL_MAPS = PRODUCTS["initial_maps"]
# Stacked dataset, ring background, maps.
STACKED_DATASET = PRODUCTS["stacked_dataset"]
RING_DATASET = PRODUCTS["ring_dataset"]
MAPS = PRODUCTS["maps"]
MAPS_BANDS = PRODUCTS["maps_bands"]
MAPS_RING = PRODUCTS["maps_ring"]
# Tables.
SAFE_ENERGY_TABLE = PRODUCTS["safe_energy_table"]
BACKGROUND_NORMS_TABLE = PRODUCTS["background_norms_table"]
PEAKS_TABLE = PRODUCTS["peaks_table"]
SPECTRUM_TABLE = PRODUCTS["spectrum_table"]
# 1D spectra (rules/spectrum.smk); OGIP (XSPEC, Sherpa, 3ML): the PHA file and its
# ARF, RMF and BKG files beside it.
STACKED_SPECTRUM = PRODUCTS["stacked_spectrum"]
OGIP_SPECTRUM = {
    kind: product_path("ogip_spectrum", suffix=suffix)
    for kind, suffix in (("pha", ""), ("arf", "_arf"), ("rmf", "_rmf"), ("bkg", "_bkg"))
}


def plot_path(name, analysis="{analysis}"):
    """A plot (``results/{analysis}/plots/<name>.png``)."""
    return product_path("plot", name=name, analysis=analysis)


def report_page(name, analysis="{analysis}"):
    """A page of the report (``results/{analysis}/report/<name>.html``)."""
    return product_path("report_page", name=name, analysis=analysis)


def of(pattern, analysis):
    """``pattern`` of one analysis (its ``{analysis}`` filled in)."""
    return pattern.replace("{analysis}", analysis)
