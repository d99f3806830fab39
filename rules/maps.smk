# Final products: correlated excess, significance and flux maps of the stacked
# dataset (Cash, known background) and of the ring dataset (WStat / Li & Ma), the
# table of significance peaks, and their plots (plots only read products). Every
# plot is a report item: snakemake --report report.html (rules/report.smk).


rule excess_maps:
    input:
        STACKED_DATASET,
    output:
        MAPS,
    log:
        "logs/{analysis}/excess_maps.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/excess_maps.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("excess_maps"),
        runtime=job_runtime("excess_maps"),
    params:
        geom=section("geom"),
        maps=section("maps"),
        per_band=False,
    script:
        "../scripts/excess_maps.py"


use rule excess_maps as excess_maps_bands with:
    output:
        MAPS_BANDS,
    log:
        "logs/{analysis}/excess_maps_bands.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/excess_maps_bands.tsv"
    params:
        geom=section("geom"),
        maps=section("maps"),
        per_band=True,


rule find_peaks:
    input:
        MAPS,
    output:
        PEAKS_TABLE,
    log:
        "logs/{analysis}/find_peaks.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/find_peaks.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("find_peaks"),
        runtime=job_runtime("find_peaks"),
    params:
        geom=section("geom"),
        maps=section("maps"),
    script:
        "../scripts/find_peaks.py"


rule plot_maps:
    input:
        maps=MAPS,
        exclusion=EXCLUSION,
        catalog=EXCLUSION_CATALOG,
    output:
        significance=map_plot("significance", "significance"),
        excess=map_plot("excess", "excess"),
        flux=map_plot("flux", "flux"),
        flux_exposure=map_plot("flux_exposure", "flux_exposure"),
        significance_distribution=map_plot(
            "significance_distribution",
            "significance_distribution",
            "Significance distribution",
        ),
    log:
        "logs/{analysis}/plot_maps.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/plot_maps.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("plot_maps"),
        runtime=job_runtime("plot_maps"),
    params:
        geom=section("geom"),
        plots=section("plots"),
        overlays=figure_overlays(),
        label="",
    script:
        "../scripts/plot_maps.py"


rule plot_maps_ring:
    input:
        maps=MAPS_RING,
        exclusion=EXCLUSION,
        catalog=EXCLUSION_CATALOG,
    output:
        significance=map_plot("significance_ring", "significance_ring"),
        significance_distribution=map_plot(
            "significance_distribution_ring",
            "significance_distribution_ring",
            "Significance distribution",
        ),
    log:
        "logs/{analysis}/plot_maps_ring.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/plot_maps_ring.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("plot_maps_ring"),
        runtime=job_runtime("plot_maps_ring"),
    params:
        geom=section("geom"),
        plots=section("plots"),
        overlays=figure_overlays(),
        label=" (ring background, WStat)",
    script:
        "../scripts/plot_maps.py"


rule plot_significance_band:
    input:
        maps=MAPS_BANDS,
        exclusion=EXCLUSION,
        catalog=EXCLUSION_CATALOG,
    output:
        significance=map_plot(
            "significance_band{band}", "significance_band", "Sky maps per energy band"
        ),
    log:
        "logs/{analysis}/plot_significance_band/{band}.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/plot_significance_band/{{band}}.tsv"
    wildcard_constraints:
        band=r"\d+",
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("plot_significance_band"),
        runtime=job_runtime("plot_significance_band"),
    params:
        geom=section("geom"),
        plots=section("plots"),
        overlays=figure_overlays(),
        label="",
    script:
        "../scripts/plot_maps.py"


rule plot_observation_qa:
    input:
        observations=OBSERVATIONS,
        norms=BACKGROUND_NORMS_TABLE,
        safe_energy=SAFE_ENERGY_TABLE,
    output:
        map_plot("observation_qa", "observation_qa", "Observations"),
    log:
        "logs/{analysis}/plot_observation_qa.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/plot_observation_qa.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("plot_observation_qa"),
        runtime=job_runtime("plot_observation_qa"),
    params:
        geom=section("geom"),
        plots=section("plots"),
    script:
        "../scripts/plot_observation_qa.py"
