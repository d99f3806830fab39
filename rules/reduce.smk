# Per-observation reduction: counts, exposure, background, edisp, psf on a cutout.
# One job per observation, independent of the others (groupable on a cluster).
# params list exactly the config keys the script uses, so that changing other
# sections (e.g. safe_mask) does not re-run it.
#
# A bad observation must not break the run (on_bad_observation: skip): the job's
# declared output is its status file (ok, or rejected with stage and reason); the
# dataset is written beside it only when the reduction succeeded. Checkpoint
# rejected_observations gathers the statuses; the input functions of every later
# rule (common.smk: accepted_obs_ids) ask it which datasets exist, so the DAG only
# ever holds jobs for accepted observations. With on_bad_observation: fail the job
# fails with an error naming the observation and the cause.


rule reduce_observation:
    input:
        unpack(geometry_inputs),
        unpack(observation_inputs),
    output:
        status=OBS_STATUS,
    log:
        "logs/{analysis}/reduce_observation/{obs_id}.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/reduce_observation/{{obs_id}}.tsv"
    conda:
        "../envs/dl3flow.yaml"
    threads: 1
    resources:
        mem_mb=job_mem_mb("reduce_observation"),
        runtime=job_runtime("reduce_observation"),
    params:
        geom=lambda wildcards: analysis_section(wildcards)["geom"],
        offset_max=lambda wildcards: analysis_section(wildcards).get("offset_max"),
        irfs=lambda wildcards: [
            analysis_section(wildcards).get(key) for key in ("edisp", "psf")
        ],
        fov_rotation_step=lambda wildcards: analysis_section(wildcards).get(
            "fov_rotation_step"
        ),
        fov_alignment=lambda wildcards: ANALYSIS_CONFIGS[
            wildcards.analysis
        ].background.fov_alignment,
        dataset=OBS_DATASET,
    script:
        "../scripts/reduce_observation.py"


checkpoint rejected_observations:
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
        # a param: switching to fail re-checks the statuses of an earlier skip run
        on_bad_observation=lambda wildcards: ANALYSIS_CONFIGS[
            wildcards.analysis
        ].on_bad_observation,
    script:
        "../scripts/rejected_observations.py"
