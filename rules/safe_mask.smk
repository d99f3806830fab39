# Safe data range per observation (its own file target, so that changing the
# `safe_mask` settings re-runs only the masks and what depends on them), in batch
# jobs as the reduction (the same batches), published by rule obs_safe_mask.


rule make_safe_masks:
    input:
        # the reduced datasets hold all it needs (no second read of the DL3 files)
        datasets=batch_inputs(OBS_DATASET),
    output:
        batch=directory(batch_dir("safe_mask")),
        manifest=batch_manifest("safe_mask"),
    log:
        "logs/{analysis}/make_safe_masks/{batch}.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/make_safe_masks/{{batch}}.tsv"
    conda:
        "../envs/dl3flow.yaml"
    threads: 1
    resources:
        mem_mb=job_mem_mb("make_safe_masks"),
        runtime=job_runtime("make_safe_masks"),
    params:
        obs_ids=batch_obs_ids,
        safe_mask=section("safe_mask"),
        offset_max=section("offset_max"),
        # the frame of safe_mask.position without one
        frame=section("geom", "frame"),
    script:
        "../scripts/make_safe_masks.py"


rule obs_safe_mask:
    input:
        unpack(batch_of("safe_mask")),
    output:
        OBS_SAFE_MASK,
    log:
        "logs/{analysis}/obs_safe_mask/{obs_id}.log",
    localrule: True
    conda:
        "../envs/dl3flow.yaml"
    shell:
        PUBLISH


rule safe_energy_table:
    input:
        observations=OBSERVATIONS,
        masks=obs_safe_masks,
    output:
        SAFE_ENERGY_TABLE,
    log:
        "logs/{analysis}/safe_energy_table.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/safe_energy_table.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("safe_energy_table"),
        runtime=job_runtime("safe_energy_table"),
    params:
        obs_ids=analysis_obs_ids,
    script:
        "../scripts/safe_energy_table.py"
