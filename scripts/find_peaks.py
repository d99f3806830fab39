"""Table of the significance peaks (local maxima above a threshold) of the stacked maps."""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from dl3flow.config.geometry import parse_geom
from dl3flow.config.sections import parse_maps
from dl3flow.estimators.maps import read_maps
from dl3flow.estimators.peaks import find_peaks, write_peaks
from dl3flow.workflow.support import script_job, script_provenance

with script_job(snakemake) as log:
    name, params = snakemake.wildcards.analysis, snakemake.params
    options = parse_maps(name, params.maps, geom=parse_geom(name, params.geom))
    peaks = options.peaks
    maps = read_maps(snakemake.input[0])
    table = find_peaks(
        maps.image("sqrt_ts"), maps.sky, threshold=peaks.threshold, min_distance=peaks.min_distance
    )
    table.meta.update(
        analysis=name,
        map=f"{snakemake.input[0]} [SQRT_TS]",
        min_distance=str(peaks.min_distance),
        correlation_radius=str(options.correlation_radius),
    )
    write_peaks(table, snakemake.output[0])
    script_provenance(snakemake).to_sidecar(snakemake.output[0])
    for row in table:
        log.info(
            "%s: %.2f sigma at RA %.3f, Dec %.3f", *(row[c] for c in ("name", "value", "ra", "dec"))
        )
    log.info("wrote %s (%d peaks above %g sigma)", snakemake.output[0], len(table), peaks.threshold)
