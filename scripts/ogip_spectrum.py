"""The stacked ON/OFF spectrum as OGIP PHA, ARF, RMF and BKG files (XSPEC, Sherpa, 3ML)."""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from dl3flow.datasets.spectrum import read_spectrum_dataset
from dl3flow.workflow.support import script_job, script_provenance

with script_job(snakemake) as log:
    stacked = read_spectrum_dataset(snakemake.input[0])
    names = stacked.write_ogip(snakemake.output.pha, overwrite=True)
    expected = {key: str(snakemake.output[key]) for key in names}
    if {key: str(path) for key, path in names.items()} != expected:
        raise RuntimeError(f"OGIP files {names} differ from the declared outputs {expected}")
    provenance = script_provenance(snakemake)
    for path in names.values():
        provenance.to_sidecar(path)
    log.info("wrote %s", ", ".join(map(str, names.values())))
