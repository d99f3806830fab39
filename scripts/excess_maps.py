"""Excess, Cash significance and flux maps of the stacked dataset (one band, or per band)."""

# ruff: noqa: F821  (`snakemake` is injected by Snakemake's script directive)
from dl3flow.config import analysis_config
from dl3flow.dataset import read_dataset
from dl3flow.estimate import estimate_excess_maps
from dl3flow.workflow_support import script_job, script_provenance

with script_job(snakemake) as log:
    cfg = analysis_config(snakemake.config, snakemake.wildcards.analysis)
    bands = cfg.maps.energy_bands if snakemake.params.per_band else None
    dataset = read_dataset(snakemake.input[0])
    maps = estimate_excess_maps(dataset, energy_edges=bands, **cfg.maps.as_kwargs())
    provenance = script_provenance(
        snakemake,
        obs_ids=dataset.meta.get("OBS_IDS") or (),
        parameters={**cfg.maps.as_kwargs(), "energy_edges": bands},
    )
    maps.write(snakemake.output[0], meta={"ANALYSIS": cfg.name}, provenance=provenance)
    peak = [f"{max(s[s == s], default=float('nan')):.2f}" for s in maps["sqrt_ts"]]
    log.info("max significance per band (edges %s TeV): %s", maps.energy_edges, ", ".join(peak))
    log.info("wrote %s (correlation radius %s)", snakemake.output[0], cfg.maps.correlation_radius)
