"""The layer the Snakemake rules and scripts call: job set-up and provenance, the warm
job server of local runs, steps that combine several modules, final products, the
rejection protocol, resource requests and the run summary.

The names below are imported from their module on first use (`dl3flow._lazy`):
importing this package imports none of its modules.
"""

from dl3flow._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "jobserver": ["JOB_SERVER_ENV", "delegate", "job_modules", "start", "stop", "usable"],
        "products": [
            "ring_excess_maps",
            "off_source_values",
            "significance_distribution",
            "tables_html",
            "compact_observations",
            "OBSERVATION_COLUMNS",
        ],
        "rejection": [
            "collect_notes",
            "collect_rejections",
            "collect_statuses",
            "notes_summary",
            "notes_table",
            "read_notes",
            "read_status_notes",
            "write_notes",
            "read_rejections",
            "read_status",
            "reduce_or_reject",
            "rejections_table",
            "reduce_to_files",
            "rejection_summary",
            "write_rejections",
            "write_status",
        ],
        "steps": [
            "StackError",
            "read_exclusion",
            "describe_norm",
            "normalise_observation",
            "is_dropped",
            "stack_background_corrected",
        ],
        "summary": [
            "AnalysisSummary",
            "Peak",
            "read_summary",
            "format_summary",
            "analysis_dirs",
            "REPORT_COMMAND",
            "MAX_PEAKS",
            "MAX_LISTED",
            "summary_html",
        ],
        "support": [
            "BENCHMARKS",
            "CHECKSUM_CACHE",
            "PRODUCTS",
            "product_path",
            "DEMO_CATALOG",
            "DEMO_DATA_STORE",
            "DEMO_REGIONS",
            "REJECTIONS_TABLE",
            "job_obs_ids",
            "remove_stale_temporaries",
            "run_summary",
            "script_job",
            "script_provenance",
            "WARNINGS_TABLE",
            "auto_center_of",
            "auto_center_params",
            "choose_center",
            "job_geom",
            "observation_batches",
            "batch_observations",
            "BatchObservation",
            "matching_inputs",
            "write_batch_manifest",
        ],
    },
)
