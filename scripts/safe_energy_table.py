"""Table of the safe energy range of every observation (with its zenith angle)."""

# ruff: noqa: F821  (`snakemake` is injected by Snakemake's script directive)
from dl3flow.io.atomic import read_observations, write_table
from dl3flow.makers.safe import read_safe_mask, safe_energy_table
from dl3flow.workflow.support import script_job, script_provenance

with script_job(snakemake) as log:
    selected, _ = read_observations(snakemake.input.observations)
    masks = [read_safe_mask(path) for path in snakemake.input.masks]
    table = safe_energy_table(masks, selected)
    write_table(table, snakemake.output[0], format="ascii.ecsv")
    script_provenance(snakemake).to_sidecar(snakemake.output[0])
    log.info("wrote %s (%d observations)", snakemake.output[0], len(table))
