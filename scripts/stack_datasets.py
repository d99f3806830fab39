"""Stack the per-observation datasets of one analysis on the analysis geometry."""

# ruff: noqa: F821  (`snakemake` is injected by Snakemake's script directive)
from dl3flow.config import analysis_config
from dl3flow.dataset import read_dataset, stack_datasets
from dl3flow.io import script_logging

with script_logging(snakemake.log) as log:
    cfg = analysis_config(snakemake.config, snakemake.wildcards.analysis)
    paths = list(snakemake.input)
    log.info("%s: stacking %d datasets", cfg.name, len(paths))
    stacked = stack_datasets((read_dataset(p) for p in paths), geom=cfg.geom, name=cfg.name)
    stacked.write(snakemake.output[0])
    log.info("wrote %s (%d counts)", snakemake.output[0], stacked.counts.sum())
