# Stack the background-corrected datasets of the selected observations (each with
# its safe mask); observations dropped by the background normalisation are left
# out, and the log and the stacked meta (NDROPPED, DROPPED) say which.


rule stack_datasets:
    input:
        unpack(geometry_inputs),
        datasets=obs_bkg_datasets,
    output:
        STACKED_DATASET,
    log:
        "logs/{analysis}/stack_datasets.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/stack_datasets.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("stack_datasets"),
        runtime=job_runtime("stack_datasets"),
    params:
        geom=section("geom"),
    script:
        "../scripts/stack_datasets.py"
