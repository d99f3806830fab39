# Quick-look images of the stacked dataset (plots only read products).


rule plot_quicklook:
    input:
        "results/{analysis}/stacked/dataset.fits",
    output:
        counts="results/{analysis}/plots/counts.png",
        background="results/{analysis}/plots/background.png",
        exposure="results/{analysis}/plots/exposure.png",
    log:
        "logs/{analysis}/plot_quicklook.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/plot_quicklook.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        plots=lambda wildcards: analysis_section(wildcards).get("plots"),
    script:
        "../scripts/plot_quicklook.py"


rule plot_safe_energy:
    input:
        "results/{analysis}/tables/safe_energy.ecsv",
    output:
        "results/{analysis}/plots/safe_energy_threshold.png",
    log:
        "logs/{analysis}/plot_safe_energy.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/plot_safe_energy.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        plots=lambda wildcards: analysis_section(wildcards).get("plots"),
    script:
        "../scripts/plot_safe_energy.py"


rule plot_exclusion:
    input:
        mask=exclusion_plot_mask,
        dataset="results/{analysis}/stacked/dataset.fits",
    output:
        "results/{analysis}/plots/exclusion_{mask}.png",
    log:
        "logs/{analysis}/plot_exclusion/{mask}.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/plot_exclusion/{{mask}}.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        plots=lambda wildcards: analysis_section(wildcards).get("plots"),
    script:
        "../scripts/plot_exclusion.py"


rule plot_background_norms:
    input:
        "results/{analysis}/tables/background_norms.ecsv",
    output:
        "results/{analysis}/plots/background_norms.png",
    log:
        "logs/{analysis}/plot_background_norms.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/plot_background_norms.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/plot_background_norms.py"
