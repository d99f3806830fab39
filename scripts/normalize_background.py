"""FoV background normalisation of one observation outside the final exclusion mask."""

# ruff: noqa: F821  (`snakemake` is injected by Snakemake's script directive)
from dl3flow.background import results_table
from dl3flow.config import analysis_config
from dl3flow.dataset import read_dataset
from dl3flow.io import write_table
from dl3flow.safe_mask import read_safe_mask, with_safe_mask
from dl3flow.steps import describe_norm, normalise_observation, read_exclusion
from dl3flow.workflow_support import script_job, script_provenance

with script_job(snakemake) as log:
    cfg = analysis_config(snakemake.config, snakemake.wildcards.analysis)
    dataset = read_dataset(snakemake.input.dataset)
    dataset = with_safe_mask(dataset, read_safe_mask(snakemake.input.mask_safe))
    exclusion = read_exclusion(snakemake.input.exclusion, sources=False)  # mask + geometry
    out, res = normalise_observation(dataset, exclusion, **cfg.background.as_kwargs())
    (log.info if res.ok else log.warning)("%s", describe_norm(res))
    # always both outputs: a dropped observation is recorded, not missing
    provenance = script_provenance(snakemake)
    write_table(results_table([res]), snakemake.output.status, format="ascii.ecsv")
    provenance.to_sidecar(snakemake.output.status)
    out.write(snakemake.output.dataset, provenance=provenance)
    log.info("wrote %s (%s)", snakemake.output.dataset, res.action)
