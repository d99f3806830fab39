"""Plot the 1D spectra: theta², excess and significance per energy bin, cumulative
significance and excess vs livetime, ON/OFF regions on the counts (one job, 4 PNGs)."""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from dl3flow.data.store import DataStore
from dl3flow.datasets.rejection import rejection_of
from dl3flow.datasets.spectrum import read_spectrum_dataset
from dl3flow.io.atomic import write_figure
from dl3flow.plotting.spectrum import spectrum_figures
from dl3flow.workflow.steps import read_exclusion
from dl3flow.workflow.support import script_job, script_provenance

with script_job(snakemake) as log:
    datasets = [read_spectrum_dataset(path) for path in snakemake.input.spectra]
    datasets = [ds for ds in datasets if rejection_of(ds.meta) is None]
    stacked = read_spectrum_dataset(snakemake.input.stacked)
    store = DataStore.from_files(
        obs_index=snakemake.input.obs_index, hdu_index=snakemake.input.hdu_index
    )
    events = [store.observation(int(ds.meta["OBS_ID"])).events for ds in datasets]
    exclusion = snakemake.input.get("exclusion")
    exclusion = read_exclusion(exclusion, sources=False) if exclusion else None
    caption = snakemake.wildcards.analysis
    figures = spectrum_figures(datasets, stacked, events, exclusion=exclusion, caption=caption)
    provenance = script_provenance(snakemake)
    for name, figure in figures.items():
        write_figure(figure, snakemake.output[name], overwrite=True)
        provenance.to_sidecar(snakemake.output[name])
        log.info("wrote %s", snakemake.output[name])
