"""Reduce a batch of observations to map datasets on cutouts; or record why one cannot be.

For each observation both products are always written (under the batch directory,
published as results/<analysis>/obs/<obs_id>/ by rule obs_dataset): the dataset
(for a rejected observation a flagged one with nothing to use,
dl3flow.datasets.rejection.rejected_dataset) and the status (ok or rejected with stage and
reason, and the warnings about the data). The DL3 is validated first
(dl3flow.data.checks, the analysis' quality section). on_bad_observation: fail
raises instead.
"""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from dl3flow.config.sections import parse_quality
from dl3flow.config.values import parse_angle, parse_flag
from dl3flow.data.store import DataStore
from dl3flow.datasets.rejection import Rejection
from dl3flow.workflow.rejection import reduce_to_files
from dl3flow.workflow.support import (
    batch_observations,
    job_geom,
    matching_inputs,
    script_job,
    write_batch_manifest,
)

with script_job(snakemake) as log:
    name, params = snakemake.wildcards.analysis, snakemake.params
    geom = job_geom(snakemake, params.geom)
    offset_max = parse_angle(name, "offset_max", params.offset_max)
    fov_rotation_step = parse_angle(name, "fov_rotation_step", params.fov_rotation_step)
    irfs = {key: parse_flag(name, key, params.irfs[key]) for key in ("edisp", "psf")}
    quality = parse_quality(name, params.quality)
    index = [snakemake.input.obs_index, snakemake.input.hdu_index]
    store = DataStore.from_files(obs_index=index[0], hdu_index=index[1])
    observations = batch_observations(snakemake)
    for obs in observations:
        log.info("%s: reducing observation %d of %s", name, obs.obs_id, store.base_dir)
        files = matching_inputs(store.observation_files(obs.obs_id), snakemake.input.files)
        result = reduce_to_files(
            store.observation,
            obs_id=obs.obs_id,
            dataset_path=obs.directory / "dataset.fits",
            status_path=obs.directory / "status.json",
            provenance=lambda obs=obs, files=files: obs.provenance(
                snakemake, inputs=[*index, *files]
            ),
            on_bad_observation=params.on_bad_observation,
            geom=geom,
            offset_max=offset_max.to_value("deg"),
            **irfs,
            fov_rotation_step=fov_rotation_step.to_value("deg"),
            fov_alignment=params.fov_alignment,
            quality=quality,
        )
        if isinstance(result, Rejection):
            log.warning("obs %d rejected (on_bad_observation: skip): %s", obs.obs_id, result)
        else:
            log.info("obs %d: %d counts", obs.obs_id, result.counts.sum())
    write_batch_manifest(snakemake, observations)
