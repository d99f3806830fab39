# Stack the per-observation datasets of the selected observations, each with its
# safe mask (rule make_safe_mask) in place of the dataset's own.


rule stack_datasets:
    input:
        datasets=obs_datasets,
        masks=obs_safe_masks,
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
