# Per-observation reduction: counts, exposure, background, edisp, psf on a cutout.
# One job per observation, independent of the others (groupable on a cluster).
# params list exactly the config keys the script uses, so that changing other
# sections (e.g. safe_mask) does not re-run it.


rule reduce_observation:
    input:
        unpack(observation_inputs),
    output:
        "results/{analysis}/obs/{obs_id}/dataset.fits",
    log:
        "logs/{analysis}/reduce_observation/{obs_id}.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/reduce_observation/{{obs_id}}.tsv"
    conda:
        "../envs/dl3flow.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        geom=lambda wildcards: analysis_section(wildcards)["geom"],
        offset_max=lambda wildcards: analysis_section(wildcards).get("offset_max"),
        irfs=lambda wildcards: [
            analysis_section(wildcards).get(key) for key in ("edisp", "psf")
        ],
        fov_rotation_step=lambda wildcards: analysis_section(wildcards).get(
            "fov_rotation_step"
        ),
    script:
        "../scripts/reduce_observation.py"
