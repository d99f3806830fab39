"""Quick-look images (counts, background, exposure) of the stacked dataset."""

# ruff: noqa: F821  (`snakemake` is injected by Snakemake's script directive)
from dl3flow.config import analysis_config
from dl3flow.dataset import read_dataset
from dl3flow.io import write_figure
from dl3flow.plotting import quicklook_figures
from dl3flow.workflow_support import script_job, script_provenance

with script_job(snakemake) as log:
    cfg = analysis_config(snakemake.config, snakemake.wildcards.analysis)
    dataset = read_dataset(snakemake.input[0])
    figures = quicklook_figures(
        dataset,
        exposure_energy_true=cfg.plots.exposure_energy_true,
        caption=cfg.plots.caption,
    )
    provenance = script_provenance(snakemake)
    for name, figure in figures.items():
        write_figure(figure, snakemake.output[name])
        provenance.to_sidecar(snakemake.output[name])
        log.info("wrote %s", snakemake.output[name])
