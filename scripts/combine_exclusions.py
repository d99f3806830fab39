"""Combine exclusion masks with logical AND (the initial and the final mask)."""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from pathlib import Path

from dl3flow.makers.exclusion import combine_exclusions
from dl3flow.workflow.steps import read_exclusion
from dl3flow.workflow.support import script_job, script_provenance

with script_job(snakemake) as log:
    masks = [read_exclusion(path) for path in snakemake.input]
    combined = combine_exclusions(*masks)
    recipe = {**combined.recipe, "stage": snakemake.params.stage}
    recipe["inputs"] = [Path(path).name for path in snakemake.input]
    combined = type(combined)(combined.mask, combined.geom, recipe, combined.sources)
    combined.write(snakemake.output[0], provenance=script_provenance(snakemake))
    log.info(
        "wrote %s = AND of %s (%d pixels excluded)",
        snakemake.output[0],
        ", ".join(recipe["inputs"]),
        combined.n_excluded,
    )
