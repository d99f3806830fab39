"""Excess, WStat (Li & Ma) significance and flux maps of the ring-background dataset."""

# ruff: noqa: F821  (`snakemake` is injected by Snakemake's script directive)
from dl3flow.config import analysis_config
from dl3flow.dataset import read_dataset
from dl3flow.dataset_onoff import read_dataset_onoff
from dl3flow.products import ring_excess_maps
from dl3flow.workflow_support import script_job, script_provenance

with script_job(snakemake) as log:
    cfg = analysis_config(snakemake.config, snakemake.wildcards.analysis)
    onoff = read_dataset_onoff(snakemake.input.ring)
    dataset = read_dataset(snakemake.input.dataset)
    # ring off counts are correlated once, by the ring (correlate_off=False)
    maps = ring_excess_maps(onoff, dataset, **cfg.maps.as_kwargs())
    provenance = script_provenance(
        snakemake,
        obs_ids=dataset.meta.get("OBS_IDS") or (),
        parameters={**cfg.maps.as_kwargs(), "correlate_off": False},
    )
    maps.write(snakemake.output[0], meta={"ANALYSIS": cfg.name}, provenance=provenance)
    significance = maps.image("sqrt_ts")
    peak = max(significance[significance == significance], default=float("nan"))
    log.info("wrote %s (max significance, WStat: %.2f)", snakemake.output[0], peak)
