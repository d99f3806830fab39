# The observation (selected, rejected by the selection, rejected by the reduction)
# and background-normalisation tables as HTML pages, report items
# of `snakemake --report report.html` (the plots are report items of their rules).


rule report_table:
    input:
        lambda wildcards: [
            path.format(analysis=wildcards.analysis)
            for path in REPORT_TABLES[wildcards.table]
        ],
    output:
        report(
            "results/{analysis}/report/{table}.html",
            caption="../report/table.rst",
            category="Observations",
            subcategory="{analysis}",
        ),
    log:
        "logs/{analysis}/report_table/{table}.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/report_table/{{table}}.tsv"
    wildcard_constraints:
        table="|".join(REPORT_TABLES),
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("report_table"),
        runtime=job_runtime("report_table"),
    params:
        kind="{table}",
    script:
        "../scripts/report_table.py"
