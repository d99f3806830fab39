# The front page of each analysis (key numbers and the significance map) and its
# tables (observations, background norms, peaks, safe energy) as HTML pages, report
# items of `snakemake --report report.html` (the plots are report items of their rules).


rule report_summary:
    input:
        observations=OBSERVATIONS,
        rejections=REJECTIONS_TABLE,
        warnings=WARNINGS_TABLE,
        peaks=PEAKS_TABLE,
        significance=plot_path("significance"),
    output:
        report(
            report_page("summary"),
            caption="../report/summary.rst",
            category="Summary",
            subcategory="{analysis}",
            labels=report_labels("summary"),
        ),
    log:
        "logs/{analysis}/report_summary.log",
    benchmark:
        f"{BENCHMARKS}/{{analysis}}/report_summary.tsv"
    conda:
        "../envs/dl3flow.yaml"
    resources:
        mem_mb=job_mem_mb("report_summary"),
        runtime=job_runtime("report_summary"),
    script:
        "../scripts/report_summary.py"


rule report_table:
    input:
        lambda wildcards: [
            path.format(analysis=wildcards.analysis)
            for path in REPORT_TABLES[wildcards.table]
        ],
    output:
        report(
            report_page("{table}"),
            caption="../report/table.rst",
            category="Observations",
            subcategory="{analysis}",
            labels=report_labels("table_{table}"),
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
