# Quick-look images of the stacked dataset (plots only read products).


rule plot_quicklook:
    input:
        STACKED_DATASET,
    output:
        counts=report(
            plot_path("counts"),
            caption="../report/counts.rst",
            category="Stacked dataset",
            subcategory="{analysis}",
            labels=report_labels("counts"),
        ),
        background=report(
            plot_path("background"),
            caption="../report/background.rst",
            category="Stacked dataset",
            subcategory="{analysis}",
            labels=report_labels("background"),
        ),
        exposure=report(
            plot_path("exposure"),
            caption="../report/exposure.rst",
            category="Stacked dataset",
            subcategory="{analysis}",
            labels=report_labels("exposure"),
        ),
    log:
        "logs/{analysis}/plot_quicklook.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/plot_quicklook.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("plot_quicklook"),
        runtime=job_runtime("plot_quicklook"),
    params:
        geom=section("geom"),
        plots=section("plots"),
        overlays=figure_overlays(),
    script:
        "../scripts/plot_quicklook.py"


rule plot_safe_energy:
    input:
        SAFE_ENERGY_TABLE,
    output:
        report(
            plot_path("safe_energy_threshold"),
            caption="../report/safe_energy.rst",
            category="Observations",
            subcategory="{analysis}",
            labels=report_labels("safe_energy"),
        ),
    log:
        "logs/{analysis}/plot_safe_energy.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/plot_safe_energy.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("plot_safe_energy"),
        runtime=job_runtime("plot_safe_energy"),
    params:
        geom=section("geom"),
        plots=section("plots"),
    script:
        "../scripts/plot_safe_energy.py"


# The four masks every analysis has in one job (a plot job's start, matplotlib's
# import, costs more than a plot); the first-pass significance mask, when there is
# one, in its own (it waits for the first pass).
rule plot_exclusions:
    input:
        regions=EXCLUSION_REGIONS,
        catalog=EXCLUSION_CATALOG,
        initial=EXCLUSION_INITIAL,
        final=EXCLUSION,
        dataset=STACKED_DATASET,
    output:
        regions=report(
            plot_path("exclusion_regions"),
            caption="../report/exclusion.rst",
            category="Exclusion masks",
            subcategory="{analysis}",
            labels=report_labels("exclusion_regions"),
        ),
        catalog=report(
            plot_path("exclusion_catalog"),
            caption="../report/exclusion.rst",
            category="Exclusion masks",
            subcategory="{analysis}",
            labels=report_labels("exclusion_catalog"),
        ),
        initial=report(
            plot_path("exclusion_initial"),
            caption="../report/exclusion.rst",
            category="Exclusion masks",
            subcategory="{analysis}",
            labels=report_labels("exclusion_initial"),
        ),
        final=report(
            plot_path("exclusion_final"),
            caption="../report/exclusion.rst",
            category="Exclusion masks",
            subcategory="{analysis}",
            labels=report_labels("exclusion_final"),
        ),
    log:
        "logs/{analysis}/plot_exclusions.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/plot_exclusions.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("plot_exclusions"),
        runtime=job_runtime("plot_exclusions"),
    params:
        geom=section("geom"),
        plots=section("plots"),
        overlays=figure_overlays(),
    script:
        "../scripts/plot_exclusion.py"


use rule plot_exclusions as plot_exclusion_significance with:
    input:
        significance=EXCLUSION_SIGNIFICANCE,
        dataset=STACKED_DATASET,
    output:
        significance=report(
            plot_path("exclusion_significance"),
            caption="../report/exclusion.rst",
            category="Exclusion masks",
            subcategory="{analysis}",
            labels=report_labels("exclusion_significance"),
        ),
    log:
        "logs/{analysis}/plot_exclusion_significance.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/plot_exclusion_significance.tsv"


rule plot_background_norms:
    input:
        BACKGROUND_NORMS_TABLE,
    output:
        report(
            plot_path("background_norms"),
            caption="../report/background_norms.rst",
            category="Observations",
            subcategory="{analysis}",
            labels=report_labels("background_norms"),
        ),
    log:
        "logs/{analysis}/plot_background_norms.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/plot_background_norms.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("plot_background_norms"),
        runtime=job_runtime("plot_background_norms"),
    script:
        "../scripts/plot_background_norms.py"
