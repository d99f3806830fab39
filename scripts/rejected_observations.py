"""Gather the reduction statuses of an analysis: its rejected observations and warnings."""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from dl3flow.workflow.rejection import (
    collect_statuses,
    notes_summary,
    rejection_summary,
    write_notes,
    write_rejections,
)
from dl3flow.workflow.support import script_job, script_provenance

with script_job(snakemake) as log:
    rejections, notes = collect_statuses(snakemake.input)  # each status read once
    if rejections and snakemake.params.on_bad_observation == "fail":
        raise RuntimeError(
            "on_bad_observation is fail, but observation(s) were rejected by an earlier "
            "run with skip; fix their data (they are then reduced again) or use skip.\n"
            + rejection_summary(rejections, n_total=len(snakemake.input))
        )
    if rejections and len(rejections) == len(snakemake.input):
        raise RuntimeError(
            "every selected observation was rejected: nothing to analyse.\n"
            + rejection_summary(rejections, n_total=len(snakemake.input))
        )
    write_rejections(rejections, snakemake.output.rejections)
    write_notes(notes, snakemake.output.warnings)
    provenance = script_provenance(snakemake)
    for path in snakemake.output:
        provenance.to_sidecar(path)
    (log.warning if rejections else log.info)(
        "%s", rejection_summary(rejections, n_total=len(snakemake.input))
    )
    if notes:
        log.warning("warnings about the data:\n%s", notes_summary(notes))
    log.info("wrote %s", ", ".join(snakemake.output))
