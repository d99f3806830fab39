"""FoV background normalisation of a batch of observations outside the final exclusion."""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from dl3flow.config.sections import parse_background
from dl3flow.datasets.map import read_dataset
from dl3flow.io.atomic import write_table
from dl3flow.makers.background import results_table
from dl3flow.makers.safe import with_safe_mask
from dl3flow.makers.safe_io import read_safe_mask
from dl3flow.workflow.steps import describe_norm, normalise_observation, read_exclusion
from dl3flow.workflow.support import batch_observations, script_job, write_batch_manifest

with script_job(snakemake) as log:
    background = parse_background(snakemake.wildcards.analysis, snakemake.params.background)
    exclusion = read_exclusion(snakemake.input.exclusion, sources=False)  # mask + geometry
    observations = batch_observations(snakemake, per_observation=["datasets", "masks_safe"])
    for obs in observations:
        dataset = read_dataset(obs.inputs["datasets"])
        dataset = with_safe_mask(dataset, read_safe_mask(obs.inputs["masks_safe"]))
        out, res = normalise_observation(dataset, exclusion, **background.as_kwargs())
        (log.info if res.ok else log.warning)("obs %d: %s", obs.obs_id, describe_norm(res))
        # always both outputs: a dropped observation is recorded, not missing
        provenance = obs.provenance(snakemake)
        obs.directory.mkdir(parents=True, exist_ok=True)
        status = obs.directory / "background_norm.ecsv"
        write_table(results_table([res]), status, format="ascii.ecsv")
        provenance.to_sidecar(status)
        out.write(obs.directory / "dataset_bkg.fits", provenance=provenance)
    write_batch_manifest(snakemake, observations)
