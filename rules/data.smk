# Simulated demo data store (config `simulation`), read by analyses whose
# data_store is resources/demo-dl3.


rule simulate_data_store:
    output:
        obs_index=f"{DEMO_DATA_STORE}/obs-index.fits.gz",
        hdu_index=f"{DEMO_DATA_STORE}/hdu-index.fits.gz",
        catalog=DEMO_CATALOG,
        regions=DEMO_REGIONS,
    log:
        "logs/simulate_data_store.log",
    benchmark:
        f"{BENCHMARKS}/simulate_data_store.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
        runtime=lambda wildcards, attempt: 15 * attempt,
    params:
        simulation=config["simulation"],
    script:
        "../scripts/simulate_data_store.py"
