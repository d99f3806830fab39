"""First pass: FoV-normalise each observation outside the initial exclusion mask, stack."""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from dl3flow.config.sections import parse_background
from dl3flow.datasets.map import read_dataset
from dl3flow.io.atomic import write_table
from dl3flow.makers.background import results_table
from dl3flow.makers.safe import with_safe_mask
from dl3flow.makers.safe_io import read_safe_mask
from dl3flow.workflow.steps import (
    describe_norm,
    normalise_observation,
    read_exclusion,
    stack_background_corrected,
)
from dl3flow.workflow.support import job_geom, script_job, script_provenance

with script_job(snakemake) as log:
    name = snakemake.wildcards.analysis
    geom = job_geom(snakemake, snakemake.params.geom)
    background = parse_background(name, snakemake.params.background)
    exclusion = read_exclusion(snakemake.input.exclusion)
    pairs = list(zip(snakemake.input.datasets, snakemake.input.masks, strict=True))
    results = []

    def normalised():
        for dataset, safe in pairs:
            dataset = with_safe_mask(read_dataset(dataset), read_safe_mask(safe))
            out, res = normalise_observation(dataset, exclusion, **background.as_kwargs())
            results.append(res)
            (log.info if res.ok else log.warning)("first pass: %s", describe_norm(res))
            yield out

    stacked = stack_background_corrected(
        normalised(), geom=geom, name=f"{name}-initial", logger=log
    )
    provenance = script_provenance(snakemake, obs_ids=stacked.meta["OBS_IDS"])
    write_table(results_table(results), snakemake.output.table, format="ascii.ecsv")
    provenance.to_sidecar(snakemake.output.table)
    stacked.write(snakemake.output.dataset, provenance=provenance)
    log.info("wrote %s (%d counts)", snakemake.output.dataset, stacked.counts.sum())
