"""Plot the FoV background norm (and tilt) of every observation."""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from astropy.table import Table

from dl3flow.io.atomic import write_figure
from dl3flow.plotting.background import plot_background_norms
from dl3flow.workflow.support import script_job, script_provenance

with script_job(snakemake) as log:
    table = Table.read(snakemake.input[0], format="ascii.ecsv")
    title = f"{snakemake.wildcards.analysis}: FoV background normalisation"
    write_figure(plot_background_norms(table, title=title), snakemake.output[0])
    script_provenance(snakemake).to_sidecar(snakemake.output[0])
    log.info("wrote %s", snakemake.output[0])
