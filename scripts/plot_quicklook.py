"""Quick-look images (counts, background, exposure) of the stacked dataset."""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from dl3flow.config.geometry import parse_geom
from dl3flow.config.sections import parse_plots
from dl3flow.datasets.map import read_dataset
from dl3flow.io.atomic import write_figure
from dl3flow.plotting.quicklook import quicklook_figures
from dl3flow.workflow.support import script_job, script_provenance

with script_job(snakemake) as log:
    name, params = snakemake.wildcards.analysis, snakemake.params
    layout = parse_geom(name, params.geom)  # (its energy axes)
    plots = parse_plots(name, params.plots, geom=layout)
    dataset = read_dataset(snakemake.input[0])
    figures = quicklook_figures(
        dataset,
        exposure_energy_true=plots.exposure_energy_true,
        caption=plots.caption,
    )
    provenance = script_provenance(snakemake)
    for kind, figure in figures.items():
        write_figure(figure, snakemake.output[kind])
        provenance.to_sidecar(snakemake.output[kind])
        log.info("wrote %s", snakemake.output[kind])
