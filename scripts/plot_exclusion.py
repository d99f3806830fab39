"""Plot exclusion masks over the stacked counts image, excluded sources labelled.

One figure per output; each output is named after the mask input it draws.
"""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from dl3flow.config.geometry import parse_geom
from dl3flow.config.sections import parse_plots
from dl3flow.datasets.map import read_dataset
from dl3flow.io.atomic import write_figure
from dl3flow.plotting.masks import plot_exclusion
from dl3flow.workflow.steps import read_exclusion
from dl3flow.workflow.support import script_job, script_provenance

TITLES = {
    "regions": "Exclusion mask from regions",
    "catalog": "Exclusion mask from catalogs",
    "initial": "Initial exclusion mask (regions AND catalogs)",
    "significance": "Exclusion mask from the first-pass significance",
    "final": "Final exclusion mask",
}

with script_job(snakemake) as log:
    name, params = snakemake.wildcards.analysis, snakemake.params
    layout = parse_geom(name, params.geom)  # (its energy axes)
    plots = parse_plots(name, params.plots, geom=layout)
    dataset = read_dataset(snakemake.input.dataset)
    counts = (dataset.counts * dataset.mask_safe).sum(axis=0)
    for mask_name, path in snakemake.output.items():  # one plot per mask
        mask = read_exclusion(snakemake.input[mask_name])
        figure = plot_exclusion(
            mask.mask,
            mask.geom,
            counts=counts,
            sources=mask.sources,
            title=f"{name}: {TITLES[mask_name]}",
            caption=plots.caption,
        )
        write_figure(figure, path)
        inputs = [snakemake.input[mask_name], snakemake.input.dataset]
        script_provenance(snakemake, inputs=inputs).to_sidecar(path)
        log.info("wrote %s", path)
