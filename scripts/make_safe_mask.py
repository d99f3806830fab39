"""Safe data-range mask of one observation (methods of the analysis' safe_mask section).

Everything comes from the reduced dataset (its maps, pointing and the aeff's default
range in its meta): the DL3 file is not read again.
"""

# ruff: noqa: F821  (`snakemake` is injected by Snakemake's script directive)
from dl3flow.config import analysis_config
from dl3flow.dataset import read_dataset
from dl3flow.rejection import rejection_of
from dl3flow.safe_mask import (
    DatasetObservation,
    make_safe_mask,
    rejected_safe_mask,
    write_safe_mask,
)
from dl3flow.workflow_support import script_job, script_provenance

with script_job(snakemake) as log:
    cfg = analysis_config(snakemake.config, snakemake.wildcards.analysis)
    obs_id = int(snakemake.wildcards.obs_id)
    dataset = read_dataset(snakemake.input.dataset)
    rejection = rejection_of(dataset.meta)
    if rejection is not None:  # all-False, flagged
        log.warning("rejected by the reduction: %s", rejection)
        safe = rejected_safe_mask(dataset, rejection, methods=cfg.safe_mask.methods)
    else:
        observation = DatasetObservation.from_dataset(dataset)
        safe = make_safe_mask(dataset, observation, **cfg.safe_mask.as_kwargs())
    for method, result in safe.details.items():
        log.info(
            "obs %d %s: %s - %s TeV (%s)",
            obs_id,
            method,
            result.energy_min,
            result.energy_max,
            result.note,
        )
    write_safe_mask(safe, snakemake.output[0], provenance=script_provenance(snakemake))
    log.info("wrote %s (%d of %d bins safe)", snakemake.output[0], safe.mask.sum(), safe.mask.size)
