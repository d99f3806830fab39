"""Exclusion masks from the analysis' regions, from its catalogs, and their AND (initial)."""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from pathlib import Path

from dl3flow.config.sections import parse_exclusion
from dl3flow.makers.exclusion import catalogs_mask, combine_exclusions, regions_mask
from dl3flow.workflow.support import job_geom, script_job, script_provenance

with script_job(snakemake) as log:
    name = snakemake.wildcards.analysis
    geom = job_geom(snakemake, snakemake.params.geom)
    excl = parse_exclusion(name, snakemake.params.exclusion)  # without its significance
    out = snakemake.output
    provenance = script_provenance(snakemake)
    regions = regions_mask(geom.sky, strings=excl.regions, files=excl.region_files, key=excl.key)
    if not excl.regions and not excl.region_files:
        log.info("%s: no exclusion regions configured: nothing excluded", name)
    catalogs = catalogs_mask(geom.sky, excl.catalogs, key=f"{excl.key}.catalogs")
    if not excl.catalogs:
        log.info("%s: no exclusion catalogs configured: nothing excluded", name)
    for entry in catalogs.recipe["catalogs"]:
        log.info("%s %s: excluded %s", entry["kind"], entry["path"], entry["excluded"])
    combined = combine_exclusions(regions, catalogs)
    recipe = {
        **combined.recipe,
        "stage": "initial",
        "inputs": [Path(out.regions).name, Path(out.catalog).name],
    }
    initial = type(combined)(combined.mask, combined.geom, recipe, combined.sources)
    for mask, path in ((regions, out.regions), (catalogs, out.catalog), (initial, out.initial)):
        mask.write(path, provenance=provenance)
        log.info("wrote %s (%d pixels excluded)", path, mask.n_excluded)
