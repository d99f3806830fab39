# Safe data range per observation (its own file target, so that changing the
# `safe_mask` settings re-runs only the masks and what depends on them).


rule make_safe_mask:
    input:
        # the reduced dataset holds all it needs (no second read of the DL3 file)
        dataset=OBS_DATASET,
    output:
        OBS_SAFE_MASK,
    log:
        "logs/{analysis}/make_safe_mask/{obs_id}.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/make_safe_mask/{{obs_id}}.tsv"
    conda:
        "../envs/dl3flow.yaml"
    threads: 1
    resources:
        mem_mb=job_mem_mb("make_safe_mask"),
        runtime=job_runtime("make_safe_mask"),
    params:
        safe_mask=lambda wildcards: analysis_section(wildcards).get("safe_mask"),
        offset_max=lambda wildcards: analysis_section(wildcards).get("offset_max"),
    script:
        "../scripts/make_safe_mask.py"


rule safe_energy_table:
    input:
        observations="results/{analysis}/observations.ecsv",
        masks=obs_safe_masks,
    output:
        "results/{analysis}/tables/safe_energy.ecsv",
    log:
        "logs/{analysis}/safe_energy_table.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/safe_energy_table.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("safe_energy_table"),
        runtime=job_runtime("safe_energy_table"),
    script:
        "../scripts/safe_energy_table.py"
