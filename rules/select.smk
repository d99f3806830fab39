# Observation selection. A checkpoint: the per-observation jobs follow from its table.


checkpoint select_observations:
    input:
        unpack(data_store_index),
    output:
        OBSERVATIONS,
    log:
        "logs/{analysis}/select_observations.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/select_observations.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("select_observations"),
        runtime=job_runtime("select_observations"),
    params:
        selection=section("selection"),
        # geom.center: auto is chosen here: a change of its limit re-selects
        auto_center=lambda wildcards: auto_center_params(
            ANALYSIS_CONFIGS[wildcards.analysis]
        ),
    script:
        "../scripts/select_observations.py"
