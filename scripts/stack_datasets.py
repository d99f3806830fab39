"""Stack the background-corrected datasets of one analysis, leaving out dropped ones."""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from dl3flow.workflow.steps import stack_background_corrected
from dl3flow.workflow.support import job_geom, script_job, script_provenance

with script_job(snakemake) as log:
    name = snakemake.wildcards.analysis
    geom = job_geom(snakemake, snakemake.params.geom)
    paths = list(snakemake.input.datasets)
    log.info("%s: stacking %d background-corrected datasets", name, len(paths))
    stacked = stack_background_corrected(paths, geom=geom, name=name, logger=log)
    provenance = script_provenance(snakemake, obs_ids=stacked.meta["OBS_IDS"])
    stacked.write(snakemake.output[0], provenance=provenance)
    log.info(
        "wrote %s (%d counts; %d observation(s) dropped, see tables/background_norms.ecsv)",
        snakemake.output[0],
        stacked.counts.sum(),
        stacked.meta["NDROPPED"],
    )
