"""Significance image (Cash, top-hat correlation) of the first-pass stacked dataset."""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from dl3flow.datasets.map import read_dataset
from dl3flow.estimators.excess import estimate_excess_maps
from dl3flow.workflow.support import script_job, script_provenance

with script_job(snakemake) as log:
    name = snakemake.wildcards.analysis
    radius = snakemake.params.correlation_radius  # deg, parsed (rules/common.smk)
    if radius is None:
        raise ValueError(f"analyses.{name}.exclusion.significance: not configured (null)")
    maps = estimate_excess_maps(read_dataset(snakemake.input[0]), correlation_radius=radius)
    meta = {"ANALYSIS": name, "STAGE": "initial"}
    maps.write(snakemake.output[0], meta=meta, provenance=script_provenance(snakemake))
    log.info(
        "wrote %s (correlation radius %g deg, max significance %.2f)",
        snakemake.output[0],
        radius,
        float(max(maps["sqrt_ts"][0][maps["mask"][0]], default=float("nan"))),
    )
