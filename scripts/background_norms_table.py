"""Table of the FoV background normalisation of every observation (status and reason)."""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from astropy.table import Table, vstack

from dl3flow.io.atomic import write_table
from dl3flow.workflow.support import script_job, script_provenance

with script_job(snakemake) as log:
    rows = [Table.read(path, format="ascii.ecsv") for path in snakemake.input]
    table = vstack(rows, metadata_conflicts="silent")
    table.meta = dict(rows[0].meta) if rows else {}
    write_table(table, snakemake.output[0], format="ascii.ecsv")
    script_provenance(snakemake).to_sidecar(snakemake.output[0])
    for row in table[table["status"] != "ok"]:
        log.warning(
            "obs %d: %s, %s (%s)", row["obs_id"], row["status"], row["action"], row["reason"]
        )
    counts = {s: int((table["action"] == s).sum()) for s in sorted(set(table["action"]))}
    log.info("wrote %s (%d observations: %s)", snakemake.output[0], len(table), counts)
