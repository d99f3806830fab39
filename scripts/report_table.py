"""An ECSV table of the analysis as an HTML page, a Snakemake report item."""

# ruff: noqa: F821  (`snakemake` is injected by Snakemake's script directive)
from pathlib import Path

from astropy.table import Table

from dl3flow.io import atomic_write, read_observations
from dl3flow.products import tables_html
from dl3flow.rejection import notes_table, read_notes, read_rejections, rejections_table
from dl3flow.workflow_support import script_job

with script_job(snakemake) as log:
    analysis = snakemake.wildcards.analysis
    if snakemake.params.kind == "observations":
        selected, rejected = read_observations(snakemake.input[0])
        failed = rejections_table(read_rejections(snakemake.input[1]))
        warned = notes_table(read_notes(snakemake.input[2]))
        tables = {
            "Selected observations": selected,
            "Rejected by the selection": rejected,
            "Rejected during the analysis (left out of every product)": failed,
            "Warnings about the data (assumptions, doubtful values)": warned,
        }
        title = f"{analysis}: observations"
    else:
        table = Table.read(snakemake.input[0], format="ascii.ecsv")
        heading, what = {
            "background_norms": (
                "Background normalisation per observation",
                "FoV background normalisation",
            ),
            "spectrum_runs": ("ON/OFF spectrum per observation, then stacked", "1D spectra"),
        }[snakemake.params.kind]
        tables = {heading: table}
        title = f"{analysis}: {what}"
    page = tables_html(tables, title=title, note=f"from {', '.join(snakemake.input)}")
    atomic_write(snakemake.output[0], lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))
    log.info("wrote %s", snakemake.output[0])
