# dl3flow: IACT DL3 (GADF) data -> binned sky-map datasets.
#
#   snakemake --cores 2                          # demo analysis on a simulated data store
#   snakemake --cores 2 --configfile config/examples/hess-dr1-crab.yaml \
#       --config data_store=../shared/data/hess-dl3-dr1
#
# Configuration keys: config/schema.yaml. File targets: README.md.
from snakemake.utils import min_version, validate

min_version("8.0")


configfile: "config/config.yaml"


validate(config, "config/schema.yaml")


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/select.smk"
include: "rules/reduce.smk"
include: "rules/safe_mask.smk"
include: "rules/masks.smk"
include: "rules/background.smk"
include: "rules/stack.smk"
include: "rules/plots.smk"
include: "rules/maps.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),


# End of a successful run: which observations each analysis left out, and why
# (results/<analysis>/tables/rejected_observations.ecsv; on_bad_observation: skip).
onsuccess:
    summary = run_summary(ANALYSES)
    if summary:
        print(f"dl3flow: rejected observations\n{summary}")
