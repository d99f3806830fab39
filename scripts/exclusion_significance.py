"""Exclusion mask from the first-pass significance image (hysteresis, then dilation)."""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from dl3flow.config.sections import parse_significance
from dl3flow.estimators.maps import read_maps
from dl3flow.makers.exclusion import significance_mask
from dl3flow.workflow.support import job_geom, script_job, script_provenance

with script_job(snakemake) as log:
    name = snakemake.wildcards.analysis
    key = f"analyses.{name}.exclusion.significance"
    geom = job_geom(snakemake, snakemake.params.geom)
    significance = parse_significance(name, snakemake.params.significance)
    if significance is None:
        raise ValueError(f"{key}: not configured (null)")
    maps = read_maps(snakemake.input.maps)
    mask = significance_mask(
        maps.image("sqrt_ts", 0),
        geom.sky,
        **significance.as_kwargs(),
        key=key,
        source=snakemake.input.maps,
    )
    mask.write(snakemake.output[0], provenance=script_provenance(snakemake))
    log.info("wrote %s (%d pixels excluded)", snakemake.output[0], mask.n_excluded)
