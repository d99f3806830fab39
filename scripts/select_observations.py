"""Select the observations of one analysis; record why the others were rejected.

With ``geom.center: auto`` the map centre is chosen here, from the selected pointings.
"""

# ruff: noqa: F821, E402  (`snakemake` is injected; delegate() runs before the imports)
from dl3flow.workflow.jobserver import delegate

delegate()  # into the warm job server when one runs: dl3flow.workflow.jobserver

from dl3flow.config.sections import parse_selection
from dl3flow.data.selection import select_observations
from dl3flow.data.store import DataStore
from dl3flow.io.atomic import write_observations
from dl3flow.workflow.support import auto_center_of, script_job, script_provenance

with script_job(snakemake) as log:
    name = snakemake.wildcards.analysis
    selection = parse_selection(name, snakemake.params.selection)
    store = DataStore.from_files(
        obs_index=snakemake.input.obs_index, hdu_index=snakemake.input.hdu_index
    )
    selected, rejected = select_observations(store.obs_table, **selection.as_kwargs())
    log.info("%s: %d selected, %d rejected", name, len(selected), len(rejected))
    for row in rejected:
        log.info("rejected %d: %s", row["OBS_ID"], row["REASON"])
    center = auto_center_of(selected, snakemake.params.auto_center)
    if center is not None:
        log.info("%s: geom.center auto: %s", name, center.describe())
    write_observations(selected, rejected, snakemake.output[0], auto_center=center)
    obs_ids = [int(obs_id) for obs_id in selected["OBS_ID"]]
    script_provenance(snakemake, obs_ids=obs_ids).to_sidecar(snakemake.output[0])
