"""The demo workflow on a CTA-1DC-like simulated store (``simulation.irf_style: caldb``).

One IRF file shared by all observations under ``caldb/``, OGIP-style HDUCLAS4
('2D', '3GAUSS', '3D'), CTA's HDU names, no FOVALIGN, no LO_THRES / HI_THRES: every
observation must be accepted (this is what rejected all of CTA 1DC before the IRFs
were read by their HDU-index class), and the assumed FOVALIGN must be said for each
one in tables/observation_warnings.ecsv. The map is centred with ``geom.center: auto``
(the mean of the two wobble pointings).
"""

import pytest
from _workflow_util import copy_workflow, output_of, run_snakemake

pytestmark = pytest.mark.workflow

N_OBS = 2


def test_demo_on_caldb_store(tmp_path):
    from astropy.coordinates import SkyCoord

    from dl3flow.datasets.map import read_dataset
    from dl3flow.io.atomic import read_geom_center, read_observations
    from dl3flow.workflow.rejection import read_notes, read_rejections

    workdir = copy_workflow(tmp_path / "workflow")
    (workdir / "caldb.yaml").write_text(
        f"simulation:\n  n_obs: {N_OBS}\n  livetime: 600.0\n  irf_style: caldb\n"
        "analyses:\n  demo:\n    geom:\n      center: auto\n"
    )
    result = run_snakemake(workdir, "--cores", 2, "--configfile", "caldb.yaml")
    assert result.returncode == 0, output_of(result)
    store = workdir / "resources" / "demo-dl3"
    assert (store / "caldb/data/dl3flow/sim/bcf/sim_z20/irf_file.fits").is_file()
    results = workdir / "results" / "demo"
    assert read_rejections(results / "tables" / "rejected_observations.ecsv") == []
    for obs_id in range(1, N_OBS + 1):
        dataset = read_dataset(results / "obs" / str(obs_id) / "dataset.fits")
        assert dataset.counts.sum() > 0 and dataset.exposure.max() > 0
    stacked = read_dataset(results / "stacked" / "dataset.fits")
    assert stacked.meta["NDROPPED"] == 0

    # the assumed FOVALIGN, once per observation, in the table and the summary
    notes = read_notes(results / "tables" / "observation_warnings.ecsv")
    assert [(n.obs_id, n.check) for n in notes] == [
        (obs_id, "fov_alignment_assumed") for obs_id in range(1, N_OBS + 1)
    ]
    assert "fov_alignment_assumed: 2 observation(s) (1, 2)" in result.stdout + result.stderr
    # geom.center auto: the midpoint of the two wobble pointings
    center = read_geom_center(results / "observations.ecsv")
    selected, _ = read_observations(results / "observations.ecsv")
    a, b = SkyCoord(selected["RA_PNT"], selected["DEC_PNT"], unit="deg")
    assert center.separation(a).deg == pytest.approx(0.5 * a.separation(b).deg, abs=1e-6)
    assert center.separation(b).deg == pytest.approx(0.5 * a.separation(b).deg, abs=1e-6)
    assert stacked.geom.sky.center_skydir.separation(center).deg < 1e-6
