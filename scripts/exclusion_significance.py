"""Exclusion mask from the first-pass significance image (hysteresis, then dilation)."""

# ruff: noqa: F821  (`snakemake` is injected by Snakemake's script directive)
from dl3flow.estimate import read_maps
from dl3flow.exclusion import significance_mask
from dl3flow.workflow_support import job_config, script_job, script_provenance

with script_job(snakemake) as log:
    cfg = job_config(snakemake)
    significance = cfg.exclusion.significance
    if significance is None:
        raise ValueError(f"{cfg.exclusion.key}.significance: not configured (null)")
    maps = read_maps(snakemake.input.maps)
    mask = significance_mask(
        maps.image("sqrt_ts", 0),
        cfg.geom.sky,
        **significance.as_kwargs(),
        key=f"{cfg.exclusion.key}.significance",
        source=snakemake.input.maps,
    )
    mask.write(snakemake.output[0], provenance=script_provenance(snakemake))
    log.info("wrote %s (%d pixels excluded)", snakemake.output[0], mask.n_excluded)
