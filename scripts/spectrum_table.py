"""Table of the per-observation and stacked ON/OFF spectra (n_on, n_off, alpha, excess, ...)."""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from dl3flow.datasets.spectrum import read_spectrum_dataset
from dl3flow.io.atomic import write_table
from dl3flow.makers.spectrum import spectrum_table
from dl3flow.workflow.support import script_job, script_provenance

with script_job(snakemake) as log:
    datasets = [read_spectrum_dataset(path) for path in snakemake.input.spectra]
    stacked = read_spectrum_dataset(snakemake.input.stacked)
    table = spectrum_table(datasets, stacked)
    write_table(table, snakemake.output[0], format="ascii.ecsv", overwrite=True)
    script_provenance(snakemake).to_sidecar(snakemake.output[0])
    for row in table[table["status"] != "ok"]:
        log.warning("%s: %s", row["name"], row["status"])
    row = table[-1]
    n_on, n_off, excess, sigma = (row[k] for k in ("n_on", "n_off", "excess", "significance"))
    log.info("stacked: n_on %d, n_off %d, excess %.1f, %.1f sigma", n_on, n_off, excess, sigma)
