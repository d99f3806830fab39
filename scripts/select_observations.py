"""Select the observations of one analysis; record why the others were rejected."""

# ruff: noqa: F821  (`snakemake` is injected by Snakemake's script directive)
from dl3flow.config import analysis_config
from dl3flow.datastore import DataStore
from dl3flow.io import script_logging, write_observations
from dl3flow.selection import select_observations

with script_logging(snakemake.log) as log:
    cfg = analysis_config(snakemake.config, snakemake.wildcards.analysis)
    store = DataStore.from_files(
        obs_index=snakemake.input.obs_index, hdu_index=snakemake.input.hdu_index
    )
    selected, rejected = select_observations(store.obs_table, **cfg.selection.as_kwargs())
    log.info("%s: %d selected, %d rejected", cfg.name, len(selected), len(rejected))
    for row in rejected:
        log.info("rejected %d: %s", row["OBS_ID"], row["REASON"])
    write_observations(selected, rejected, snakemake.output[0])
