"""Extract the ON/OFF spectrum of each observation of a batch; or record why it cannot be.

Each observation's spectrum is always written (under the batch directory, published
as results/<analysis>/obs/<obs_id>/spectrum.fits by rule obs_spectrum); a rejected
observation gets a flagged one (dl3flow.makers.spectrum.rejected_spectrum).
on_bad_observation: fail raises instead.
"""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from dl3flow.config.spectrum import parse_spectrum
from dl3flow.data.store import DataStore
from dl3flow.datasets.rejection import Rejection
from dl3flow.makers.spectrum import extract_spectrum_to_file
from dl3flow.workflow.steps import read_exclusion
from dl3flow.workflow.support import (
    batch_observations,
    matching_inputs,
    script_job,
    write_batch_manifest,
)

with script_job(snakemake) as log:
    spectrum = parse_spectrum(snakemake.wildcards.analysis, snakemake.params.spectrum)
    recorded = {"spectrum": spectrum.as_params()}  # the options as parsed (provenance)
    index = [snakemake.input.obs_index, snakemake.input.hdu_index]
    store = DataStore.from_files(obs_index=index[0], hdu_index=index[1])
    exclusion = snakemake.input.get("exclusion")
    exclusion = read_exclusion(exclusion, sources=False) if exclusion else None
    observations = batch_observations(snakemake)
    for obs in observations:
        files = matching_inputs(store.observation_files(obs.obs_id), snakemake.input.files)
        result = extract_spectrum_to_file(
            store.observation,
            obs_id=obs.obs_id,
            path=obs.directory / "spectrum.fits",
            provenance=lambda obs=obs, f=files: obs.provenance(
                snakemake, inputs=[*index, *f], parameters=recorded
            ),
            on_bad_observation=snakemake.params.on_bad_observation,
            exclusion=exclusion,
            **spectrum.extract_kwargs(),
        )
        if isinstance(result, Rejection):
            log.warning("obs %d rejected (on_bad_observation: skip): %s", obs.obs_id, result)
        else:
            n_on, n_off = result.counts.sum(), len(result.off_regions)
            log.info("obs %d: n_on %d, %d OFF regions", obs.obs_id, n_on, n_off)
    write_batch_manifest(snakemake, observations)
