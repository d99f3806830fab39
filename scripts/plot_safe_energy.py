"""Plot the safe energy threshold of each observation against its zenith angle."""

# ruff: noqa: F821  (`snakemake` is injected by Snakemake's script directive)
from astropy.table import Table

from dl3flow.config import analysis_config
from dl3flow.io import script_logging, write_figure
from dl3flow.plotting import plot_safe_energy

with script_logging(snakemake.log) as log:
    cfg = analysis_config(snakemake.config, snakemake.wildcards.analysis)
    table = Table.read(snakemake.input[0], format="ascii.ecsv")
    figure = plot_safe_energy(table, energy_edges=cfg.geom.energy.edges, caption=cfg.plots.caption)
    write_figure(figure, snakemake.output[0])
    log.info("wrote %s", snakemake.output[0])
