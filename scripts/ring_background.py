"""Ring-background on-off dataset of the stacked dataset (outside the final exclusion)."""

# ruff: noqa: F821  (`snakemake` is injected by Snakemake's script directive)
from dl3flow.background import ring_background
from dl3flow.config import analysis_config
from dl3flow.dataset import read_dataset
from dl3flow.steps import read_exclusion
from dl3flow.workflow_support import script_job, script_provenance

with script_job(snakemake) as log:
    cfg = analysis_config(snakemake.config, snakemake.wildcards.analysis)
    if cfg.ring is None:
        raise ValueError(f"analyses.{cfg.name}.ring: not configured (null)")
    exclusion = read_exclusion(snakemake.input.exclusion)
    onoff = ring_background(
        read_dataset(snakemake.input.dataset),
        exclusion.mask,
        exclusion_geom=exclusion.geom,
        **cfg.ring.as_kwargs(),
    )
    onoff.write(snakemake.output[0], provenance=script_provenance(snakemake))
    log.info(
        "wrote %s (%d bands; %d on counts, %d off counts)",
        snakemake.output[0],
        onoff.geom.energy.nbin,
        onoff.counts.sum(),
        onoff.counts_off.sum(),
    )
