"""Exclusion mask from the analysis' source catalogs (excluded sources in its SOURCES HDU)."""

# ruff: noqa: F821  (`snakemake` is injected by Snakemake's script directive)
from dl3flow.exclusion import catalogs_mask
from dl3flow.workflow_support import job_config, script_job, script_provenance

with script_job(snakemake) as log:
    cfg = job_config(snakemake)
    excl = cfg.exclusion
    mask = catalogs_mask(cfg.geom.sky, excl.catalogs, key=f"{excl.key}.catalogs")
    if not excl.catalogs:
        log.info("%s: no exclusion catalogs configured: nothing excluded", cfg.name)
    for entry in mask.recipe["catalogs"]:
        log.info("%s %s: excluded %s", entry["kind"], entry["path"], entry["excluded"])
    mask.write(snakemake.output[0], provenance=script_provenance(snakemake))
    log.info("wrote %s (%d pixels excluded)", snakemake.output[0], mask.n_excluded)
