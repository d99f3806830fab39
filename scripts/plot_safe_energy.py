"""Plot the safe energy threshold of each observation against its zenith angle."""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from astropy.table import Table

from dl3flow.config.geometry import parse_geom
from dl3flow.config.sections import parse_plots
from dl3flow.io.atomic import write_figure
from dl3flow.plotting.quicklook import plot_safe_energy
from dl3flow.workflow.support import script_job, script_provenance

with script_job(snakemake) as log:
    name, params = snakemake.wildcards.analysis, snakemake.params
    layout = parse_geom(name, params.geom)  # (its energy axes)
    plots = parse_plots(name, params.plots, geom=layout)
    table = Table.read(snakemake.input[0], format="ascii.ecsv")
    figure = plot_safe_energy(
        table, energy_edges=layout.energy.edges, name=name, caption=plots.caption
    )
    write_figure(figure, snakemake.output[0])
    script_provenance(snakemake).to_sidecar(snakemake.output[0])
    log.info("wrote %s", snakemake.output[0])
