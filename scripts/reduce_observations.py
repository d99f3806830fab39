"""Reduce a batch of observations to map datasets on cutouts; or record why one cannot be.

For each observation both products are always written (under the batch directory,
published as results/<analysis>/obs/<obs_id>/ by rule obs_dataset): the dataset
(for a rejected observation a flagged one with nothing to use,
dl3flow.rejection.rejected_dataset) and the status (ok or rejected with stage and
reason, and the warnings about the data). on_bad_observation: fail raises instead.
"""

# ruff: noqa: F821  (`snakemake` is injected by Snakemake's script directive)
from dl3flow.datastore import DataStore
from dl3flow.rejection import Rejection, reduce_to_files
from dl3flow.workflow_support import (
    batch_observations,
    job_config,
    matching_inputs,
    script_job,
)

with script_job(snakemake) as log:
    cfg = job_config(snakemake)
    index = [snakemake.input.obs_index, snakemake.input.hdu_index]
    store = DataStore.from_files(obs_index=index[0], hdu_index=index[1])
    for obs in batch_observations(snakemake):
        log.info("%s: reducing observation %d of %s", cfg.name, obs.obs_id, store.base_dir)
        files = matching_inputs(store.observation_files(obs.obs_id), snakemake.input.files)
        result = reduce_to_files(
            store.observation,
            obs_id=obs.obs_id,
            dataset_path=obs.directory / "dataset.fits",
            status_path=obs.directory / "status.json",
            provenance=lambda obs=obs, files=files: obs.provenance(
                snakemake, inputs=[*index, *files]
            ),
            on_bad_observation=cfg.on_bad_observation,
            geom=cfg.geom,
            offset_max=cfg.offset_max.to_value("deg"),
            edisp=cfg.edisp,
            psf=cfg.psf,
            fov_rotation_step=cfg.fov_rotation_step.to_value("deg"),
            fov_alignment=cfg.background.fov_alignment,
        )
        if isinstance(result, Rejection):
            log.warning("obs %d rejected (on_bad_observation: skip): %s", obs.obs_id, result)
        else:
            log.info("obs %d: %d counts", obs.obs_id, result.counts.sum())
