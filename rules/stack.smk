# Stack the per-observation datasets of the selected observations.


rule stack_datasets:
    input:
        obs_datasets,
    output:
        "results/{analysis}/stacked/dataset.fits",
    log:
        "logs/{analysis}/stack_datasets.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/stack_datasets.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=4000,
        runtime=20,
    script:
        "../scripts/stack_datasets.py"
