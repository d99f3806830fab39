"""dl3flow's per-observation reduction and stacking against gammapy's MapDatasetMaker.

The H.E.S.S. Crab example (issue 2): runs 23523, 23526, 23559, 23592; a 5 deg
ICRS/CAR geometry with 0.02 deg pixels; reco energy 1-10 TeV (11 log bins), true
energy 0.5-20 TeV (20 log bins); cutouts of width 2 x 2.5 deg. gammapy's chain is
``MapDataset.create`` -> ``cutout`` -> ``MapDatasetMaker().run`` -> ``stack``.

This work made use of data from the H.E.S.S. DL3 public test data release 1
(HESS DL3 DR1, H.E.S.S. collaboration, 2018).
"""

import astropy.units as u
import numpy as np
import pytest

gammapy = pytest.importorskip("gammapy")

from gammapy.data import DataStore as GpDataStore  # noqa: E402
from gammapy.datasets import MapDataset as GpMapDataset  # noqa: E402
from gammapy.makers import MapDatasetMaker  # noqa: E402
from gammapy.maps import MapAxis, WcsGeom  # noqa: E402

from dl3flow.data.store import DataStore  # noqa: E402
from dl3flow.datasets.map import read_dataset  # noqa: E402
from dl3flow.datasets.stacking import stack_datasets  # noqa: E402
from dl3flow.makers.map import reduce_observation  # noqa: E402
from dl3flow.maps.geom import DatasetGeom, EnergyAxis, SkyGeom  # noqa: E402

pytestmark = pytest.mark.validation

OBS_IDS = [23523, 23526, 23559, 23592]
CENTER = (83.633, 22.014)
OFFSET_MAX = 2.5


def _relative_agreement(ours, theirs):
    """Max and median |relative difference| where gammapy > 1 % of its maximum."""
    significant = theirs > 0.01 * theirs.max()
    rel = np.abs(ours[significant] / theirs[significant] - 1)
    return rel.max(), np.median(rel)


@pytest.fixture(scope="module")
def crab(hess_dr1, tmp_path_factory):
    energy = MapAxis.from_energy_bounds(1, 10, 11, unit="TeV")
    energy_true = MapAxis.from_energy_bounds(0.5, 20, 20, unit="TeV", name="energy_true")
    gp_geom = WcsGeom.create(
        skydir=CENTER, width=5, binsz=0.02, frame="icrs", proj="CAR", axes=[energy]
    )
    gp_stacked = GpMapDataset.create(gp_geom, energy_axis_true=energy_true, name="stacked")
    maker = MapDatasetMaker()
    gp_store = GpDataStore.from_dir(hess_dr1)
    gp_per_obs = {}
    for obs in gp_store.get_observations(OBS_IDS):
        cutout = gp_stacked.cutout(
            obs.get_pointing_icrs(obs.tmid), width=2 * OFFSET_MAX * u.deg, name=f"{obs.obs_id}"
        )
        ds = maker.run(cutout, obs)
        gp_per_obs[obs.obs_id] = ds
        gp_stacked.stack(ds)

    geom = DatasetGeom.create(
        sky=SkyGeom.create(center=CENTER, width=5, binsz=0.02, frame="icrs", proj="CAR"),
        energy=EnergyAxis.from_bounds(1 * u.TeV, 10 * u.TeV, 11, name="energy"),
        energy_true=EnergyAxis.from_bounds(0.5 * u.TeV, 20 * u.TeV, 20, name="energy_true"),
    )
    store = DataStore.from_dir(hess_dr1)
    out = tmp_path_factory.mktemp("crab")
    per_obs = {}
    for obs_id in OBS_IDS:
        ds = reduce_observation(store.observation(obs_id), geom=geom, offset_max=OFFSET_MAX)
        ds.write(out / f"{obs_id}.fits")
        per_obs[obs_id] = ds
    stacked = stack_datasets(per_obs.values(), geom=geom)
    stacked.write(out / "stacked.fits")
    return {
        "gp": gp_stacked,
        "gp_obs": gp_per_obs,
        "ours": stacked,
        "ours_obs": per_obs,
        "dir": out,
    }


def test_stacked_counts_identical(crab):
    np.testing.assert_array_equal(crab["ours"].counts, crab["gp"].counts.data)
    assert crab["ours"].counts.sum() > 1000


@pytest.mark.parametrize("name", ["exposure", "background"])
def test_stacked_maps_agree(crab, name):
    ours = getattr(crab["ours"], name)
    theirs = getattr(crab["gp"], name).data
    assert ours.shape == theirs.shape
    worst, median = _relative_agreement(ours, theirs)
    print(f"stacked {name}: max rel diff {worst:.2e}, median {median:.2e}")
    assert worst < 0.01
    assert median <= 0.001


@pytest.mark.parametrize("obs_id", OBS_IDS)
def test_per_observation_maps_agree(crab, obs_id):
    ours, theirs = crab["ours_obs"][obs_id], crab["gp_obs"][obs_id]
    assert ours.geom.sky.wcs.to_header() == theirs.counts.geom.wcs.to_header()
    np.testing.assert_array_equal(ours.counts, theirs.counts.data)
    for name in ("exposure", "background"):
        worst, median = _relative_agreement(getattr(ours, name), getattr(theirs, name).data)
        assert worst < 0.01, (obs_id, name, worst)
        assert median <= 0.001, (obs_id, name, median)


def test_stacked_irf_maps_agree(crab):
    ours, theirs = crab["ours"], crab["gp"]
    kernel = theirs.edisp.edisp_map.data
    np.testing.assert_allclose(ours.edisp.kernel, kernel, atol=1e-6)
    psf = theirs.psf.psf_map.data
    np.testing.assert_allclose(ours.psf.psf, psf, rtol=1e-3, atol=1e-6 * psf.max())


@pytest.mark.parametrize("name", ["stacked", *OBS_IDS])
def test_gammapy_reads_our_datasets(crab, name):
    path = crab["dir"] / f"{name}.fits"
    gp = GpMapDataset.read(path)
    ours = read_dataset(path)
    np.testing.assert_array_equal(gp.counts.data, ours.counts)
    np.testing.assert_allclose(gp.exposure.data, ours.exposure, rtol=1e-6)
    np.testing.assert_allclose(gp.background.data, ours.background, rtol=1e-6)
    assert gp.edisp is not None and gp.psf is not None
    assert gp.counts.geom.center_skydir.separation(ours.geom.sky.center_skydir) < 1e-9 * u.deg
