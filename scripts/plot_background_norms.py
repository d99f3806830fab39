"""Plot the FoV background norm (and tilt) of every observation."""

# ruff: noqa: F821  (`snakemake` is injected by Snakemake's script directive)
from astropy.table import Table

from dl3flow.io import script_logging, write_figure
from dl3flow.plotting_background import plot_background_norms

with script_logging(snakemake.log) as log:
    table = Table.read(snakemake.input[0], format="ascii.ecsv")
    title = f"{snakemake.wildcards.analysis}: FoV background normalisation"
    write_figure(plot_background_norms(table, title=title), snakemake.output[0])
    log.info("wrote %s", snakemake.output[0])
