# Background correction: FoV normalisation per observation outside the final
# exclusion mask (always writes its dataset and a status: an observation that is
# skipped or failed is recorded, and dropped ones are left out of the stack by
# rule stack_datasets), the per-observation norm table, and the ring background.


rule normalize_background:
    input:
        dataset=OBS_DATASET,
        mask_safe=OBS_SAFE_MASK,
        exclusion="results/{analysis}/masks/exclusion.fits",
    output:
        dataset=OBS_BKG_DATASET,
        status="results/{analysis}/obs/{obs_id}/background_norm.ecsv",
    log:
        "logs/{analysis}/normalize_background/{obs_id}.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/normalize_background/{{obs_id}}.tsv"
    conda:
        "../envs/dl3flow.yaml"
    threads: 1
    resources:
        mem_mb=job_mem_mb("normalize_background"),
        runtime=job_runtime("normalize_background"),
    params:
        background=lambda wildcards: analysis_section(wildcards).get("background"),
    script:
        "../scripts/normalize_background.py"


rule background_norms_table:
    input:
        obs_bkg_status,
    output:
        "results/{analysis}/tables/background_norms.ecsv",
    log:
        "logs/{analysis}/background_norms_table.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/background_norms_table.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("background_norms_table"),
        runtime=job_runtime("background_norms_table"),
    script:
        "../scripts/background_norms_table.py"


rule ring_background:
    input:
        dataset="results/{analysis}/stacked/dataset.fits",
        exclusion="results/{analysis}/masks/exclusion.fits",
    output:
        "results/{analysis}/stacked/ring.fits",
    log:
        "logs/{analysis}/ring_background.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/ring_background.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("ring_background"),
        runtime=job_runtime("ring_background"),
    params:
        ring=lambda wildcards: analysis_section(wildcards).get("ring"),
    script:
        "../scripts/ring_background.py"
