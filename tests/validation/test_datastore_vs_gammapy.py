"""dl3flow.data.store / dl3flow.data.selection against gammapy 1.3 on H.E.S.S. DL3 DR1."""

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from dl3flow.data.selection import select_observations
from dl3flow.data.store import DataStore

gammapy_data = pytest.importorskip("gammapy.data")

pytestmark = pytest.mark.validation

CRAB = SkyCoord(83.633, 22.014, unit="deg", frame="icrs")
OBS_IDS = [20136, 23523, 23592, 33787, 47802]  # PKS 2155, Crab, Crab, MSH 15-52, RX J1713


@pytest.fixture(scope="module")
def stores(hess_dr1):
    return DataStore.from_dir(hess_dr1), gammapy_data.DataStore.from_dir(hess_dr1)


def test_obs_ids_match(stores):
    ours, theirs = stores
    np.testing.assert_array_equal(ours.obs_ids, theirs.obs_ids)


def test_crab_cone_selection_matches_gammapy(stores):
    ours, theirs = stores
    radius = 2.5 * u.deg
    expected = theirs.obs_table.select_sky_circle(CRAB, radius)
    selected, rejected = select_observations(ours.obs_table, cone=dict(center=CRAB, radius=radius))
    assert selected["OBS_ID"].tolist() == sorted(expected["OBS_ID"].tolist())
    assert len(selected) == 4
    assert len(selected) + len(rejected) == len(ours.obs_table)
    # manual separations agree as well
    pointing = SkyCoord(ours.obs_table["RA_PNT"], ours.obs_table["DEC_PNT"], frame="icrs")
    manual = ours.obs_table["OBS_ID"][CRAB.separation(pointing) < radius]
    assert selected["OBS_ID"].tolist() == sorted(manual.tolist())


def test_range_cut_matches_gammapy(stores):
    ours, theirs = stores
    # gammapy's select_range is half-open [min, max); dl3flow's cuts are closed [min, max].
    # No ZEN_PNT sits on the boundaries used here, so the selections agree.
    expected = theirs.obs_table.select_range("ZEN_PNT", [10, 40] * u.deg)
    selected, _ = select_observations(ours.obs_table, cuts={"ZEN_PNT": (10 * u.deg, 40 * u.deg)})
    assert selected["OBS_ID"].tolist() == sorted(expected["OBS_ID"].tolist())


@pytest.mark.parametrize("obs_id", OBS_IDS)
def test_hdu_paths_match(stores, obs_id):
    ours, theirs = stores
    for hdu_type in ("events", "gti", "aeff", "edisp", "psf", "bkg"):
        location = ours.hdu_location(obs_id, hdu_type)
        reference = theirs.hdu_table.hdu_location(obs_id, hdu_type)
        assert location.file == reference.path().resolve()
        assert location.hdu_name == reference.hdu_name
        assert location.hdu_class == reference.hdu_class


@pytest.mark.parametrize("obs_id", OBS_IDS)
def test_observation_matches_gammapy(stores, obs_id):
    ours, theirs = stores
    obs = ours.observation(obs_id)
    ref = theirs.obs(obs_id)

    events, ref_events = obs.events, ref.events
    np.testing.assert_array_equal(events.ra, ref_events.radec.ra.deg)
    np.testing.assert_array_equal(events.dec, ref_events.radec.dec.deg)
    np.testing.assert_array_equal(events.energy, ref_events.energy.to_value("TeV"))
    ref_met = (ref_events.time - ref_events.time_ref).to_value("s")
    np.testing.assert_allclose(events.time, ref_met, rtol=0, atol=1e-6)

    gti = obs.gti
    np.testing.assert_allclose(
        gti["START"].data, (ref.gti.time_start - ref.gti.time_ref).to_value("s"), atol=1e-6
    )
    assert obs.livetime == pytest.approx(ref.observation_live_time_duration.to_value("s"))
    assert obs.ontime == pytest.approx(ref.observation_time_duration.to_value("s"))
    assert obs.deadc == pytest.approx(1 - ref.observation_dead_time_fraction)

    assert abs((obs.tstart - ref.tstart).to_value("s")) < 1e-6
    assert abs((obs.tstop - ref.tstop).to_value("s")) < 1e-6
    assert abs((obs.tmid - ref.tmid).to_value("s")) < 1e-6

    pointing = ref.get_pointing_icrs(ref.tmid)
    assert obs.pointing.separation(pointing).to_value("arcsec") < 1e-6

    assert obs.bkg_fov_alignment == ref.bkg.fov_alignment.value

    location, ref_location = obs.location, ref.observatory_earth_location
    np.testing.assert_allclose(
        u.Quantity(location.geocentric).to_value("m"),
        u.Quantity(ref_location.geocentric).to_value("m"),
        atol=1e-3,
    )
