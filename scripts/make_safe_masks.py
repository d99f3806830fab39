"""Safe data-range masks of a batch of observations (the analysis' safe_mask methods).

Everything comes from the reduced datasets (their maps, pointing and the aeff's
default range in their meta): the DL3 files are not read again. A rejected
observation gets a flagged all-False mask.
"""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from dl3flow.config.sections import parse_safe_mask
from dl3flow.config.values import parse_angle
from dl3flow.datasets.map import read_dataset
from dl3flow.datasets.rejection import rejection_of
from dl3flow.makers.safe import (
    DatasetObservation,
    make_safe_mask,
    rejected_safe_mask,
)
from dl3flow.makers.safe_io import write_safe_mask
from dl3flow.workflow.support import batch_observations, script_job, write_batch_manifest

with script_job(snakemake) as log:
    name, params = snakemake.wildcards.analysis, snakemake.params
    offset_max = parse_angle(name, "offset_max", params.offset_max)
    options = parse_safe_mask(name, params.safe_mask, offset_max=offset_max, frame=params.frame)
    observations = batch_observations(snakemake, per_observation=["datasets"])
    for obs in observations:
        dataset = read_dataset(obs.inputs["datasets"])
        rejection = rejection_of(dataset.meta)
        if rejection is not None:  # all-False, flagged
            log.warning("obs %d rejected by the reduction: %s", obs.obs_id, rejection)
            safe = rejected_safe_mask(dataset, rejection, methods=options.methods)
        else:
            observation = DatasetObservation.from_dataset(dataset)
            safe = make_safe_mask(dataset, observation, **options.as_kwargs())
        for method, result in safe.details.items():
            log.info(
                "obs %d %s: %s - %s TeV (%s)",
                obs.obs_id,
                method,
                result.energy_min,
                result.energy_max,
                result.note,
            )
        obs.directory.mkdir(parents=True, exist_ok=True)
        path = obs.directory / "mask_safe.fits"
        write_safe_mask(safe, path, provenance=obs.provenance(snakemake))
        log.info("obs %d: %d of %d bins safe", obs.obs_id, safe.mask.sum(), safe.mask.size)
    write_batch_manifest(snakemake, observations)
