"""Excess, Cash significance and flux maps of the stacked dataset (one band, or per band)."""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from dl3flow.config.geometry import parse_geom
from dl3flow.config.sections import parse_maps
from dl3flow.datasets.map import read_dataset
from dl3flow.estimators.excess import estimate_excess_maps
from dl3flow.workflow.support import script_job, script_provenance

with script_job(snakemake) as log:
    name, params = snakemake.wildcards.analysis, snakemake.params
    options = parse_maps(name, params.maps, geom=parse_geom(name, params.geom))
    bands = options.energy_bands if params.per_band else None
    dataset = read_dataset(snakemake.input[0])
    maps = estimate_excess_maps(dataset, energy_edges=bands, **options.as_kwargs())
    provenance = script_provenance(
        snakemake,
        obs_ids=dataset.meta.get("OBS_IDS") or (),
        parameters={**options.as_kwargs(), "energy_edges": bands},
    )
    maps.write(snakemake.output[0], meta={"ANALYSIS": name}, provenance=provenance)
    peak = [f"{max(s[s == s], default=float('nan')):.2f}" for s in maps["sqrt_ts"]]
    log.info("max significance per band (edges %s TeV): %s", maps.energy_edges, ", ".join(peak))
    log.info("wrote %s (correlation radius %s)", snakemake.output[0], options.correlation_radius)
