"""Ring-background on-off dataset of the stacked dataset and its maps (WStat / Li & Ma).

The on-off dataset (outside the final exclusion) and its excess, significance and
flux maps in one job: the maps need nothing else, and a job's start costs more.
"""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from dl3flow.config.geometry import parse_geom
from dl3flow.config.sections import parse_maps, parse_ring
from dl3flow.datasets.map import read_dataset
from dl3flow.makers.ring import ring_background
from dl3flow.workflow.products import ring_excess_maps
from dl3flow.workflow.steps import read_exclusion
from dl3flow.workflow.support import script_job, script_provenance

with script_job(snakemake) as log:
    name, params = snakemake.wildcards.analysis, snakemake.params
    layout = parse_geom(name, params.geom)  # (its energy axis: the ring's band edges)
    ring = parse_ring(name, params.ring, geom=layout)
    options = parse_maps(name, params.maps, geom=layout)
    if ring is None:
        raise ValueError(f"analyses.{name}.ring: not configured (null)")
    exclusion = read_exclusion(snakemake.input.exclusion)
    dataset = read_dataset(snakemake.input.dataset)
    onoff = ring_background(
        dataset, exclusion.mask, exclusion_geom=exclusion.geom, **ring.as_kwargs()
    )
    onoff.write(snakemake.output.ring, provenance=script_provenance(snakemake))
    log.info(
        "wrote %s (%d bands; %d on counts, %d off counts)",
        snakemake.output.ring,
        onoff.geom.energy.nbin,
        onoff.counts.sum(),
        onoff.counts_off.sum(),
    )
    # ring off counts are correlated once, by the ring (correlate_off=False)
    maps = ring_excess_maps(onoff, dataset, **options.as_kwargs())
    provenance = script_provenance(
        snakemake,
        obs_ids=dataset.meta.get("OBS_IDS") or (),
        parameters={**options.as_kwargs(), "correlate_off": False},
    )
    maps.write(snakemake.output.maps, meta={"ANALYSIS": name}, provenance=provenance)
    significance = maps.image("sqrt_ts")
    peak = max(significance[significance == significance], default=float("nan"))
    log.info("wrote %s (max significance, WStat: %.2f)", snakemake.output.maps, peak)
