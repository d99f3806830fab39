"""Write the simulated demo data store, its source catalog and region file."""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from pathlib import Path

from dl3flow.simulate.catalog import write_region_file, write_source_catalog
from dl3flow.simulate.config import simulation_config_from_dict
from dl3flow.simulate.store import remove_stale_store_temporaries, write_data_store
from dl3flow.workflow.support import script_job, script_provenance

with script_job(snakemake) as log:
    # null values in the config mean "simulate's default"
    section = {k: v for k, v in snakemake.params.simulation.items() if v is not None}
    sim = simulation_config_from_dict(section)
    store = Path(snakemake.output.obs_index).parent
    # a killed earlier attempt leaves its half-written store beside the target
    for stale in remove_stale_store_temporaries(store):
        log.warning("removed %s, left by an interrupted earlier attempt", stale)
    log.info("simulating %d observations (seed %d) into %s", sim.n_obs, sim.seed, store)
    write_data_store(sim, store, overwrite=True)
    write_source_catalog(sim.sources, snakemake.output.catalog, overwrite=True)  # FITS by suffix
    write_region_file(sim.sources, snakemake.output.regions, overwrite=True)
    provenance = script_provenance(snakemake, config_section=snakemake.params.simulation)
    for path in snakemake.output:
        provenance.to_sidecar(path)
    log.info("wrote %s", ", ".join(map(str, snakemake.output)))
