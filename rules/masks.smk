# Exclusion masks on the analysis geometry (True = usable for the background), in
# two stages so that the file graph stays acyclic:
#   exclusion_initial (regions, catalogs and their AND, in one job)
#   -> first pass (stack_initial, significance_initial) -> exclusion_significance
#   -> exclusion (final). Without `exclusion.significance` the first pass is skipped
# and the final mask is the initial one.


# One job for the masks that need only the geometry and the configured regions and
# catalogs (three declared files): a job's start costs more than the masks.
rule exclusion_initial:
    input:
        unpack(geometry_inputs),
        regions=exclusion_region_files,
        catalogs=exclusion_catalog_files,
    output:
        regions=EXCLUSION_REGIONS,
        catalog=EXCLUSION_CATALOG,
        initial=EXCLUSION_INITIAL,
    log:
        "logs/{analysis}/exclusion_initial.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/exclusion_initial.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("exclusion_initial"),
        runtime=job_runtime("exclusion_initial"),
    params:
        geom=section("geom"),
        # not its significance mask (a change of it must not re-run these masks)
        exclusion=lambda wildcards: {
            key: section("exclusion", key)(wildcards)
            for key in ("regions", "region_files", "catalogs")
        },
    script:
        "../scripts/exclusion_initial.py"


# First pass (only for analyses with a significance mask): each observation
# FoV-normalised outside the initial mask, stacked, and its significance image.
rule stack_initial:
    input:
        unpack(geometry_inputs),
        datasets=obs_datasets,
        masks=obs_safe_masks,
        exclusion=EXCLUSION_INITIAL,
    output:
        dataset=INITIAL_DATASET,
        table=INITIAL_NORMS,
    log:
        "logs/{analysis}/stack_initial.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/stack_initial.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("stack_initial"),
        runtime=job_runtime("stack_initial"),
    params:
        geom=section("geom"),
        background=section("background"),
    script:
        "../scripts/stack_initial.py"


rule significance_initial:
    input:
        INITIAL_DATASET,
    output:
        INITIAL_MAPS,
    log:
        "logs/{analysis}/significance_initial.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/significance_initial.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("significance_initial"),
        runtime=job_runtime("significance_initial"),
    params:
        # (deg) all it uses of exclusion.significance: a change of its thresholds
        # re-runs the mask, not this image
        correlation_radius=lambda wildcards: significance_radius(wildcards.analysis),
    script:
        "../scripts/significance_initial.py"


rule exclusion_significance:
    input:
        unpack(geometry_inputs),
        maps=INITIAL_MAPS,
    output:
        EXCLUSION_SIGNIFICANCE,
    log:
        "logs/{analysis}/exclusion_significance.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/exclusion_significance.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("exclusion_significance"),
        runtime=job_runtime("exclusion_significance"),
    params:
        geom=section("geom"),
        significance=section("exclusion", "significance"),
    script:
        "../scripts/exclusion_significance.py"


rule exclusion_final:
    input:
        final_exclusion_inputs,
    output:
        EXCLUSION,
    log:
        "logs/{analysis}/exclusion_final.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/exclusion_final.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("exclusion_final"),
        runtime=job_runtime("exclusion_final"),
    params:
        stage="final",
    script:
        "../scripts/combine_exclusions.py"
