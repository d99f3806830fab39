"""Table of the safe energy range of every observation (with its zenith angle)."""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from dl3flow.io.atomic import read_observations, write_table
from dl3flow.makers.safe_io import read_safe_mask, safe_energy_table
from dl3flow.workflow.support import script_job, script_provenance

with script_job(snakemake) as log:
    selected, _ = read_observations(snakemake.input.observations)
    masks = [read_safe_mask(path) for path in snakemake.input.masks]
    table = safe_energy_table(masks, selected)
    write_table(table, snakemake.output[0], format="ascii.ecsv")
    script_provenance(snakemake).to_sidecar(snakemake.output[0])
    log.info("wrote %s (%d observations)", snakemake.output[0], len(table))
