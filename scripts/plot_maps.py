"""Plots of excess maps: significance (exclusion contour, catalog sources), excess, flux,
exposure and the significance distribution outside the exclusion regions."""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from dl3flow.config.geometry import parse_geom
from dl3flow.config.sections import parse_plots
from dl3flow.estimators.maps import read_maps
from dl3flow.io.atomic import write_figure
from dl3flow.makers.exclusion import read_mask, read_mask_sources
from dl3flow.plotting.maps import excess_map_figures
from dl3flow.workflow.products import significance_distribution
from dl3flow.workflow.support import script_job, script_provenance

with script_job(snakemake) as log:
    name, params = snakemake.wildcards.analysis, snakemake.params
    layout = parse_geom(name, params.geom)  # (its energy axes)
    plots = parse_plots(name, params.plots, geom=layout)
    maps = read_maps(snakemake.input.maps)
    exclusion, _, _ = read_mask(snakemake.input.exclusion)
    band = int(snakemake.wildcards.get("band", 0))
    fit = significance_distribution(maps, exclusion, band=band)
    log.info("significance outside the exclusion: mean %.3f, width %.3f (%d pixels)", *fit.values())
    figures = excess_map_figures(
        maps,
        band=band,
        exclusion=exclusion,
        sources=read_mask_sources(snakemake.input.catalog),  # catalog sources in the field
        name=name + params.label,
        caption=plots.caption,
        which=list(snakemake.output.keys()),
    )
    provenance = script_provenance(snakemake, parameters=fit)
    for kind, figure in figures.items():
        write_figure(figure, snakemake.output[kind])
        provenance.to_sidecar(snakemake.output[kind])
        log.info("wrote %s", snakemake.output[kind])
