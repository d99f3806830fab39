"""The simulated data store read and reduced by gammapy 1.3 (the yardstick).

gammapy must predict what dl3flow.simulate injected: background counts from the
``bkg_3d`` HDU and source counts from exposure x spectrum (through PSF and energy
dispersion).
"""

import numpy as np
import pytest

gammapy = pytest.importorskip("gammapy")

import astropy.units as u  # noqa: E402
from astropy.coordinates import SkyCoord  # noqa: E402
from gammapy.data import DataStore  # noqa: E402
from gammapy.datasets import MapDataset  # noqa: E402
from gammapy.makers import MapDatasetMaker  # noqa: E402
from gammapy.maps import MapAxis, WcsGeom  # noqa: E402
from gammapy.modeling.models import (  # noqa: E402
    GaussianSpatialModel,
    PointSpatialModel,
    PowerLawSpectralModel,
    SkyModel,
)

from dl3flow.simulate.config import SimulationConfig  # noqa: E402
from dl3flow.simulate.events import simulate_observation  # noqa: E402
from dl3flow.simulate.store import write_data_store  # noqa: E402

pytestmark = pytest.mark.validation


@pytest.fixture(scope="module")
def sim_store(tmp_path_factory):
    config = SimulationConfig(seed=2024, n_obs=4)
    path = tmp_path_factory.mktemp("gp") / "store"
    write_data_store(config, path)
    return config, path


@pytest.fixture(scope="module")
def dataset(sim_store):
    """3 x 3 deg map dataset of the first observation, centred on the target."""
    config, path = sim_store
    obs = DataStore.from_dir(path).get_observations([config.obs_id_start])[0]
    # fine reco-energy bins: gammapy integrates the background power-law-wise per bin
    energy = MapAxis.from_energy_bounds(0.1, 100, 30, unit="TeV", name="energy")
    energy_true = MapAxis.from_energy_bounds(0.05, 100, 40, unit="TeV", name="energy_true")
    geom = WcsGeom.create(
        skydir=SkyCoord(config.target_ra, config.target_dec, unit="deg"),
        width=3 * u.deg,
        binsz=0.02,
        frame="icrs",
        axes=[energy],
    )
    empty = MapDataset.create(geom, energy_axis_true=energy_true, name="sim")
    return MapDatasetMaker().run(empty, obs), obs


def test_data_store_reads(sim_store):
    config, path = sim_store
    store = DataStore.from_dir(path)
    assert list(store.obs_table["OBS_ID"]) == list(range(1, config.n_obs + 1))
    observations = store.get_observations()
    assert len(observations) == config.n_obs
    for obs in observations:
        assert obs.aeff is not None and obs.edisp is not None
        assert obs.psf is not None and obs.bkg is not None
        assert obs.events.table["ENERGY"].unit == u.TeV
        assert len(obs.events.table) == store.obs_table["EVENT_COUNT"][obs.obs_id - 1]
        assert obs.observation_live_time_duration.to_value("s") == pytest.approx(config.livetime)
        assert obs.gti.time_sum.to_value("s") == pytest.approx(config.ontime)
        pointing = obs.get_pointing_icrs(obs.tmid)
        target = SkyCoord(config.target_ra, config.target_dec, unit="deg")
        assert pointing.separation(target).deg == pytest.approx(config.wobble_offset, abs=1e-5)


def test_irfs_evaluate_as_designed(sim_store):
    config, path = sim_store
    obs = DataStore.from_dir(path).obs(config.obs_id_start)
    r68 = obs.psf.containment_radius(0.68, energy_true=1 * u.TeV, offset=0.25 * u.deg)
    assert 0.08 < r68.to_value("deg") < 0.12
    aeff = obs.aeff.evaluate(energy_true=10 * u.TeV, offset=0.5 * u.deg)
    assert 5e4 < aeff.to_value("m2") < 2e5
    kernel = obs.edisp.to_edisp_kernel(
        offset=0.5 * u.deg,
        energy_axis_true=MapAxis.from_energy_edges(
            np.geomspace(1, 10, 5) * u.TeV, name="energy_true"
        ),
        energy_axis=MapAxis.from_energy_edges(np.geomspace(0.1, 100, 41) * u.TeV),
    )
    np.testing.assert_allclose(kernel.pdf_matrix.sum(axis=1), 1.0, atol=0.01)
    # the background gammapy reads is the analytic model written: on-axis power law
    rates = obs.bkg.evaluate(
        energy=[3, 30] * u.TeV, fov_lon=[0, 0] * u.deg, fov_lat=[0.05, 0.05] * u.deg
    )
    ratio = (rates[0] / rates[1]).to_value("")
    assert ratio == pytest.approx(10**2.7, rel=0.02)


def test_background_matches_in_source_free_annulus(sim_store, dataset):
    config, _ = sim_store
    data, obs = dataset
    geom = data.counts.geom.to_image()
    pointing = obs.get_pointing_icrs(obs.tmid)
    mask = (geom.separation(pointing) > 0.4 * u.deg) & (geom.separation(pointing) < 1.4 * u.deg)
    for src in config.sources:
        centre = SkyCoord(src.ra, src.dec, unit="deg")
        mask &= geom.separation(centre) > (0.5 + 3 * src.sigma) * u.deg
    n_on = data.counts.data[:, mask].sum()
    n_bkg = data.background.data[:, mask].sum()
    assert n_bkg > 1000
    print(f"annulus: counts {n_on:.0f}, predicted background {n_bkg:.1f}")
    assert abs(n_on - n_bkg) < 3 * np.sqrt(n_bkg), (n_on, n_bkg)


def test_bright_source_excess_matches_injection(sim_store, dataset):
    config, _ = sim_store
    data, _ = dataset
    src = config.sources[0]
    spectral = PowerLawSpectralModel(
        index=src.index,
        amplitude=src.amplitude * u.Unit("cm-2 s-1 TeV-1"),
        reference=src.reference * u.TeV,
    )
    spatial = PointSpatialModel(lon_0=src.ra * u.deg, lat_0=src.dec * u.deg, frame="icrs")
    data.models = [SkyModel(spatial_model=spatial, spectral_model=spectral, name="bright")]
    npred = data.npred_signal()
    geom = data.counts.geom.to_image()
    on = geom.separation(SkyCoord(src.ra, src.dec, unit="deg")) < 0.3 * u.deg
    n_on = data.counts.data[:, on].sum()
    excess = n_on - data.background.data[:, on].sum()
    expected = npred.data[:, on].sum()
    assert expected > 200
    print(f"bright source: excess {excess:.1f}, gammapy expectation {expected:.1f}")
    assert abs(excess - expected) < 3 * np.sqrt(n_on), (excess, expected)
    # gammapy's exposure x spectrum agrees with the simulator's own expectation
    total = npred.data.sum()
    injected = simulate_observation(config, 0).expected_sources[0]
    assert total == pytest.approx(injected, rel=0.03)


def test_gaussian_source_prediction_matches_simulator(sim_store, dataset):
    config, _ = sim_store
    data, _ = dataset
    src = next(s for s in config.sources if s.kind == "gaussian")
    spatial = GaussianSpatialModel(
        lon_0=src.ra * u.deg, lat_0=src.dec * u.deg, sigma=src.sigma * u.deg, frame="icrs"
    )
    spectral = PowerLawSpectralModel(
        index=src.index, amplitude=src.amplitude * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV
    )
    data.models = [SkyModel(spatial_model=spatial, spectral_model=spectral, name="ext")]
    k = config.sources.index(src)
    injected = simulate_observation(config, 0).expected_sources[k]
    assert data.npred_signal().data.sum() == pytest.approx(injected, rel=0.05)
