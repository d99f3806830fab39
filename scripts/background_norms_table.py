"""Table of the FoV background normalisation of every observation (status and reason)."""

# ruff: noqa: F821  (`snakemake` is injected by Snakemake's script directive)
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
