# Background correction: FoV normalisation per observation outside the final
# exclusion mask, in batch jobs published by rule obs_dataset_bkg
# (always writes its dataset and a status: an observation that is
# skipped or failed is recorded, and dropped ones are left out of the stack by
# rule stack_datasets), the per-observation norm table, and the ring background with
# its excess, WStat significance and flux maps (one job: both need the ring).


rule normalize_backgrounds:
    input:
        datasets=batch_inputs(OBS_DATASET),
        masks_safe=batch_inputs(OBS_SAFE_MASK),
        exclusion=EXCLUSION,
    output:
        batch=directory(batch_dir("background")),
        manifest=batch_manifest("background"),
    log:
        "logs/{analysis}/normalize_backgrounds/{batch}.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/normalize_backgrounds/{{batch}}.tsv"
    conda:
        "../envs/dl3flow.yaml"
    threads: 1
    resources:
        mem_mb=job_mem_mb("normalize_backgrounds"),
        runtime=job_runtime("normalize_backgrounds"),
    params:
        obs_ids=batch_obs_ids,
        background=section("background"),
    script:
        "../scripts/normalize_backgrounds.py"


rule obs_dataset_bkg:
    input:
        unpack(batch_of("background")),
    output:
        dataset=OBS_BKG_DATASET,
        status=OBS_BKG_STATUS,
    log:
        "logs/{analysis}/obs_dataset_bkg/{obs_id}.log",
    localrule: True
    conda:
        "../envs/dl3flow.yaml"
    shell:
        PUBLISH


rule background_norms_table:
    input:
        obs_bkg_status,
    output:
        BACKGROUND_NORMS_TABLE,
    log:
        "logs/{analysis}/background_norms_table.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/background_norms_table.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("background_norms_table"),
        runtime=job_runtime("background_norms_table"),
    params:
        obs_ids=analysis_obs_ids,
    script:
        "../scripts/background_norms_table.py"


rule ring_background:
    input:
        dataset=STACKED_DATASET,
        exclusion=EXCLUSION,
    output:
        ring=RING_DATASET,
        maps=MAPS_RING,
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
        geom=section("geom"),
        ring=section("ring"),
        maps=section("maps"),
    script:
        "../scripts/ring_background.py"
