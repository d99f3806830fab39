"""Stack the per-observation ON/OFF spectra, leaving out rejected observations."""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from dl3flow.datasets.rejection import rejection_of
from dl3flow.datasets.spectrum import read_spectrum_dataset
from dl3flow.makers.spectrum import stack_spectra
from dl3flow.workflow.support import script_job, script_provenance

with script_job(snakemake) as log:
    datasets = [read_spectrum_dataset(path) for path in snakemake.input.spectra]
    used = [int(ds.meta["OBS_ID"]) for ds in datasets if rejection_of(ds.meta) is None]
    stacked = stack_spectra(datasets, name="stacked")
    provenance = script_provenance(snakemake, obs_ids=used)
    stacked.write(snakemake.output[0], overwrite=True, provenance=provenance)
    mask = stacked.mask_safe
    log.info(
        "wrote %s (%d of %d observations; n_on %d, n_off %d in the safe range)",
        snakemake.output[0],
        len(used),
        len(datasets),
        stacked.counts[mask].sum(),
        stacked.counts_off[mask].sum(),
    )
