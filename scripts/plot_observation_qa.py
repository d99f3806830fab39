"""Per-observation quality plot: background norms, livetime, safe energy thresholds."""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from astropy.table import Table

from dl3flow.config.geometry import parse_geom
from dl3flow.config.sections import parse_plots
from dl3flow.io.atomic import read_observations, write_figure
from dl3flow.plotting.qa import plot_observation_qa
from dl3flow.workflow.support import script_job, script_provenance

with script_job(snakemake) as log:
    name, params = snakemake.wildcards.analysis, snakemake.params
    layout = parse_geom(name, params.geom)  # (its energy axes)
    plots = parse_plots(name, params.plots, geom=layout)
    selected, _ = read_observations(snakemake.input.observations)
    figure = plot_observation_qa(
        observations=selected,
        background_norms=Table.read(snakemake.input.norms, format="ascii.ecsv"),
        safe_energy=Table.read(snakemake.input.safe_energy, format="ascii.ecsv"),
        name=name,
        energy_range=(layout.energy.edges[0], layout.energy.edges[-1]),
        caption=plots.caption,
    )
    write_figure(figure, snakemake.output[0])
    script_provenance(snakemake).to_sidecar(snakemake.output[0])
    log.info("wrote %s (%d observations)", snakemake.output[0], len(selected))
