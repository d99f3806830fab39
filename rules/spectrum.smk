# 1D ON/OFF spectra (analyses with a `spectrum` section; the same selection as the
# maps). Batch jobs extract each observation's spectrum (ON region, OFF regions from
# the reflected or wobble finder avoiding the final exclusion mask, exposure, edisp,
# safe mask) and rule obs_spectrum publishes it as results/{analysis}/obs/{obs_id}/
# spectrum.fits; a bad observation gets a flagged spectrum (STATUS = REJECTED), which
# the stacking leaves out and the table lists. params carry the spectrum section the
# jobs parse (their provenance records the parsed options).


rule extract_spectra:
    input:
        unpack(batch_observation_inputs),
        unpack(spectrum_exclusion),
    output:
        batch=directory(batch_dir("spectrum")),
        manifest=batch_manifest("spectrum"),
    log:
        "logs/{analysis}/extract_spectra/{batch}.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/extract_spectra/{{batch}}.tsv"
    conda:
        "../envs/dl3flow.yaml"
    threads: 1
    resources:
        mem_mb=job_mem_mb("extract_spectra"),
        runtime=job_runtime("extract_spectra"),
    params:
        obs_ids=batch_obs_ids,
        spectrum=section("spectrum"),
        on_bad_observation=unrecorded(section("on_bad_observation")),
    script:
        "../scripts/extract_spectra.py"


rule obs_spectrum:
    input:
        unpack(batch_of("spectrum")),
    output:
        OBS_SPECTRUM,
    log:
        "logs/{analysis}/obs_spectrum/{obs_id}.log",
    localrule: True
    conda:
        "../envs/dl3flow.yaml"
    shell:
        PUBLISH


rule stack_spectra:
    input:
        spectra=obs_spectra,
    output:
        STACKED_SPECTRUM,
    log:
        "logs/{analysis}/stack_spectra.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/stack_spectra.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("stack_spectra"),
        runtime=job_runtime("stack_spectra"),
    script:
        "../scripts/stack_spectra.py"


# Only for `spectrum.ogip: true` (spectrum_targets): the stacked spectrum as OGIP files.
rule ogip_spectrum:
    input:
        STACKED_SPECTRUM,
    output:
        **OGIP_SPECTRUM,
    log:
        "logs/{analysis}/ogip_spectrum.log",
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("ogip_spectrum"),
        runtime=job_runtime("ogip_spectrum"),
    script:
        "../scripts/ogip_spectrum.py"


rule spectrum_table:
    input:
        spectra=obs_spectra,
        stacked=STACKED_SPECTRUM,
    output:
        SPECTRUM_TABLE,
    log:
        "logs/{analysis}/spectrum_table.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/spectrum_table.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("spectrum_table"),
        runtime=job_runtime("spectrum_table"),
    params:
        obs_ids=analysis_obs_ids,
    script:
        "../scripts/spectrum_table.py"


# The spectrum plots, in one job (reads the events of the selected observations for
# the theta² distribution and the counts image).
rule plot_spectrum:
    input:
        unpack(spectrum_plot_inputs),
        spectra=obs_spectra,
        stacked=STACKED_SPECTRUM,
    output:
        **{
            name: report(
                plot_path(name),
                caption=f"../report/{name}.rst",
                category="Spectrum",
                subcategory="{analysis}",
                labels=report_labels(name),
            )
            for name in SPECTRUM_PLOTS
        },
    log:
        "logs/{analysis}/plot_spectrum.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/plot_spectrum.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("plot_spectrum"),
        runtime=job_runtime("plot_spectrum"),
    params:
        obs_ids=analysis_obs_ids,
    script:
        "../scripts/plot_spectrum.py"
