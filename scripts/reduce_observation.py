"""Reduce one observation to a map dataset on a cutout; or record why it cannot be.

Both outputs are always written: the dataset (for a rejected observation a flagged
one with nothing to use, dl3flow.rejection.rejected_dataset) and the status (ok or
rejected with stage, check and reason, and the warnings about the data). The DL3
is validated first (dl3flow.quality_checks, the analysis' quality section).
on_bad_observation: fail raises instead.
"""

# ruff: noqa: F821  (`snakemake` is injected by Snakemake's script directive)
from dl3flow.datastore import DataStore
from dl3flow.rejection import Rejection, reduce_to_files
from dl3flow.workflow_support import job_config, script_job, script_provenance

with script_job(snakemake) as log:
    cfg = job_config(snakemake)
    obs_id = int(snakemake.wildcards.obs_id)
    store = DataStore.from_files(
        obs_index=snakemake.input.obs_index, hdu_index=snakemake.input.hdu_index
    )
    log.info("%s: reducing observation %d of %s", cfg.name, obs_id, store.base_dir)
    result = reduce_to_files(
        store.observation,
        obs_id=obs_id,
        dataset_path=snakemake.output.dataset,
        status_path=snakemake.output.status,
        provenance=lambda: script_provenance(snakemake),
        on_bad_observation=cfg.on_bad_observation,
        geom=cfg.geom,
        offset_max=cfg.offset_max.to_value("deg"),
        edisp=cfg.edisp,
        psf=cfg.psf,
        fov_rotation_step=cfg.fov_rotation_step.to_value("deg"),
        fov_alignment=cfg.background.fov_alignment,
        quality=cfg.quality,
    )
    if isinstance(result, Rejection):
        log.warning("rejected (on_bad_observation: skip): %s", result)
    else:
        log.info("wrote %s (%d counts)", snakemake.output.dataset, result.counts.sum())
