"""Exclusion mask from the analysis' ds9 region strings and region files."""

# ruff: noqa: F821  (`snakemake` is injected by Snakemake's script directive)
from dl3flow.exclusion import regions_mask
from dl3flow.workflow_support import job_config, script_job, script_provenance

with script_job(snakemake) as log:
    cfg = job_config(snakemake)
    excl = cfg.exclusion
    mask = regions_mask(cfg.geom.sky, strings=excl.regions, files=excl.region_files, key=excl.key)
    if not excl.regions and not excl.region_files:
        log.info("%s: no exclusion regions configured: nothing excluded", cfg.name)
    mask.write(snakemake.output[0], provenance=script_provenance(snakemake))
    log.info("wrote %s (%d pixels excluded)", snakemake.output[0], mask.n_excluded)
