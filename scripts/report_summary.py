"""The front page of an analysis in the report: key numbers and the significance map."""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from pathlib import Path

from dl3flow.io.atomic import atomic_write
from dl3flow.workflow.summary import read_summary, summary_html
from dl3flow.workflow.support import script_job, script_provenance

with script_job(snakemake) as log:
    analysis = snakemake.wildcards.analysis
    summary = read_summary(Path(snakemake.input.observations).parent, name=analysis)
    page = summary_html(summary, image=snakemake.input.significance)
    atomic_write(snakemake.output[0], lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))
    script_provenance(snakemake).to_sidecar(snakemake.output[0])  # as every product
    log.info("wrote %s", snakemake.output[0])
