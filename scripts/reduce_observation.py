"""Reduce one observation to a map dataset on a cutout of the analysis geometry."""

# ruff: noqa: F821  (`snakemake` is injected by Snakemake's script directive)
from dl3flow.config import analysis_config
from dl3flow.datastore import DataStore
from dl3flow.io import script_logging
from dl3flow.reduce import reduce_observation

with script_logging(snakemake.log) as log:
    cfg = analysis_config(snakemake.config, snakemake.wildcards.analysis)
    obs_id = int(snakemake.wildcards.obs_id)
    store = DataStore.from_files(
        obs_index=snakemake.input.obs_index, hdu_index=snakemake.input.hdu_index
    )
    log.info("%s: reducing observation %d of %s", cfg.name, obs_id, store.base_dir)
    dataset = reduce_observation(
        store.observation(obs_id),
        geom=cfg.geom,
        offset_max=cfg.offset_max.to_value("deg"),
        edisp=cfg.edisp,
        psf=cfg.psf,
        fov_rotation_step=cfg.fov_rotation_step.to_value("deg"),
    )
    dataset.write(snakemake.output[0])
    log.info("wrote %s (%d counts)", snakemake.output[0], dataset.counts.sum())
