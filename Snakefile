# dl3flow: IACT DL3 (GADF) data -> binned sky-map datasets.
#
#   snakemake --cores 2                          # demo analysis on a simulated data store
#   snakemake --cores 2 --configfile config/examples/hess-dr1-crab.yaml \
#       --config data_store=../shared/data/hess-dl3-dr1
#
# Configuration keys: src/dl3flow/config/schema.yaml. File targets: docs/outputs.md.
import os
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("8.0")

# The science lives in this workflow's src/dl3flow: Snakemake imports it from there,
# and so does every job, through PYTHONPATH (also in `--sdm conda` environments,
# which do not install dl3flow, and when this workflow is used as a module).
DL3FLOW_SRC = Path(str(workflow.current_basedir)) / "src"
if DL3FLOW_SRC.is_dir():
    sys.path.insert(0, str(DL3FLOW_SRC))
    _pythonpath = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if str(DL3FLOW_SRC) not in _pythonpath:
        # (update(): PYTHONPATH is optional, not an `envvars` requirement for the linter)
        os.environ.update(
            PYTHONPATH=os.pathsep.join(filter(None, [str(DL3FLOW_SRC), *_pythonpath]))
        )


configfile: "config/config.yaml"


# dl3flow's check first: one line per problem, naming the key ("did you mean" for a
# typo); Snakemake's validate (which also fills in the defaults) would print the
# whole schema and config.
from snakemake.exceptions import WorkflowError

from dl3flow.config.values import ConfigError
from dl3flow.config.check import check_config
from dl3flow.config.schema import SCHEMA_FILE, load_schema

try:
    check_config(config, load_schema())
except ConfigError as exc:
    raise WorkflowError(f"invalid configuration:\n{exc}") from None


# dl3flow's package data (src/dl3flow/config/schema.yaml), whose defaults dl3flow.config.options uses
validate(config, str(SCHEMA_FILE))


report: "report/workflow.rst"


# Local runs: one warm process imports numpy, astropy and dl3flow once and forks each
# job's script (dl3flow.workflow.jobserver; config key job_server).
from dl3flow.workflow import jobserver

JOB_SCRIPTS = Path(str(workflow.current_basedir)) / "scripts"


include: "rules/paths.smk"
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
include: "rules/spectrum.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),
        observation_products,


# End of a successful run: per analysis where its results are, the observations used
# and rejected (and why), the livetime, the highest peaks and the off-source
# significance, then how to build the report (dl3flow.workflow.summary; also `dl3flow summary
# results`).
onstart:
    print(
        "dl3flow:",
        jobserver.start(
            scripts_dir=JOB_SCRIPTS,
            enabled=config["job_server"],
            local=workflow.local_exec,
            deployment=workflow.deployment_settings.deployment_method,
        ),
    )


onerror:
    jobserver.stop()


onsuccess:
    jobserver.stop()
    summary = run_summary(ANALYSES)
    if summary:
        print(f"dl3flow: finished\n{summary}")
