"""An ECSV table of the analysis as an HTML page, a Snakemake report item."""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from pathlib import Path

from astropy.table import Table

from dl3flow.io.atomic import atomic_write, read_observations
from dl3flow.workflow.products import compact_observations, tables_html
from dl3flow.workflow.rejection import notes_table, read_notes, read_rejections, rejections_table
from dl3flow.workflow.support import script_job, script_provenance

#: {table} -> (page title, section heading) of the single-table pages.
PAGES = {
    "background_norms": ("FoV background normalisation", "Background normalisation"),
    "peaks": ("significance peaks", "Peaks of the significance map (highest first)"),
    "safe_energy": ("safe energy thresholds", "Safe energy range per observation"),
    "spectrum_runs": ("1D spectra", "ON/OFF spectrum per observation, then stacked"),
}

with script_job(snakemake) as log:
    analysis, kind = snakemake.wildcards.analysis, snakemake.params.kind
    if kind == "observations":
        selected, rejected = read_observations(snakemake.input[0])
        tables = {
            "Selected observations": compact_observations(selected),
            "Rejected by the selection": rejected,
            "Rejected during the analysis (left out of every product)": rejections_table(
                read_rejections(snakemake.input[1])
            ),
            "Warnings about the data (assumptions, doubtful values)": notes_table(
                read_notes(snakemake.input[2])
            ),
            "Selected observations: every obs-index column": selected,
        }
        title = f"{analysis}: observations"
    else:
        page, heading = PAGES[kind]
        tables = {heading: Table.read(snakemake.input[0], format="ascii.ecsv")}
        title = f"{analysis}: {page}"
    page = tables_html(tables, title=title, note=f"from {', '.join(snakemake.input)}")
    atomic_write(snakemake.output[0], lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))
    script_provenance(snakemake).to_sidecar(snakemake.output[0])  # as every product
    log.info("wrote %s", snakemake.output[0])
