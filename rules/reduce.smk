# Per-observation reduction: counts, exposure, background, edisp, psf on a cutout.
# Batch jobs of up to `observations_per_job` observations (rules/common.smk), each
# observation independent of the others; rule obs_dataset publishes an observation's
# dataset and status as its declared targets. params list exactly the config keys
# the script uses, so that changing other sections (e.g. safe_mask) does not re-run it.
#
# A bad observation must not break the run (on_bad_observation: skip), and follows
# one protocol through every step: its dataset is still written, flagged (STATUS =
# REJECTED with stage, error and reason; nothing usable, all-False safe mask), and
# so are its safe mask and background-corrected dataset; the stacking leaves it out
# and rule rejected_observations lists it. Every product is a declared output, so
# a deleted one is re-made and a fixed input re-runs all that depends on it. With
# on_bad_observation: fail the job fails with an error naming the observation.


rule reduce_observations:
    input:
        unpack(geometry_inputs),
        unpack(batch_observation_inputs),
    output:
        batch=directory(batch_dir("reduce")),
        manifest=batch_manifest("reduce"),
    log:
        "logs/{analysis}/reduce_observations/{batch}.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/reduce_observations/{{batch}}.tsv"
    conda:
        "../envs/dl3flow.yaml"
    threads: 1
    resources:
        mem_mb=job_mem_mb("reduce_observations"),
        runtime=job_runtime("reduce_observations"),
    params:
        obs_ids=batch_obs_ids,
        geom=section("geom"),
        offset_max=section("offset_max"),
        irfs=lambda wildcards: {
            key: section(key)(wildcards) for key in ("edisp", "psf")
        },
        fov_rotation_step=section("fov_rotation_step"),
        fov_alignment=section("background", "fov_alignment"),
        quality=section("quality"),
        on_bad_observation=unrecorded(section("on_bad_observation")),
    script:
        "../scripts/reduce_observations.py"


rule obs_dataset:
    input:
        unpack(batch_of("reduce")),
    output:
        dataset=OBS_DATASET,
        status=OBS_STATUS,
    log:
        "logs/{analysis}/obs_dataset/{obs_id}.log",
    localrule: True
    conda:
        "../envs/dl3flow.yaml"
    shell:
        PUBLISH


rule rejected_observations:
    input:
        obs_statuses,
    output:
        rejections=REJECTIONS_TABLE,
        warnings=WARNINGS_TABLE,
    log:
        "logs/{analysis}/rejected_observations.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/rejected_observations.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("rejected_observations"),
        runtime=job_runtime("rejected_observations"),
    params:
        obs_ids=analysis_obs_ids,
        # a param: switching to fail re-checks the statuses of an earlier skip run
        on_bad_observation=section("on_bad_observation"),
    script:
        "../scripts/rejected_observations.py"
