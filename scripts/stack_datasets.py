"""Stack the per-observation datasets of one analysis, each with its own safe mask."""

# ruff: noqa: F821  (`snakemake` is injected by Snakemake's script directive)
from dl3flow.config import analysis_config
from dl3flow.dataset import read_dataset, stack_datasets
from dl3flow.io import script_logging
from dl3flow.safe_mask import read_safe_mask, with_safe_mask

with script_logging(snakemake.log) as log:
    cfg = analysis_config(snakemake.config, snakemake.wildcards.analysis)
    pairs = list(zip(snakemake.input.datasets, snakemake.input.masks, strict=True))
    log.info("%s: stacking %d datasets with their safe masks", cfg.name, len(pairs))
    datasets = (with_safe_mask(read_dataset(d), read_safe_mask(m)) for d, m in pairs)
    stacked = stack_datasets(datasets, geom=cfg.geom, name=cfg.name)
    stacked.write(snakemake.output[0])
    log.info("wrote %s (%d counts)", snakemake.output[0], stacked.counts.sum())
