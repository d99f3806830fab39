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
