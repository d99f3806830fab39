"""The simulated data store through dl3flow's own reduction (issue 3 acceptance).

The simulator writes an ``MC_ID`` column (0 = background, k = k-th source), so the
number of injected source events in a region is known exactly; the reduction
must find it back as excess, and its IRF background must predict the counts of
a source-free region, both within 3 sigma of the Poisson error. The data store is
read through `dl3flow.data.store` like real data: no special case.
"""

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits

from dl3flow.data.store import DataStore
from dl3flow.datasets.stacking import stack_datasets
from dl3flow.makers.map import make_counts, reduce_observation
from dl3flow.maps.coords import angular_offset
from dl3flow.maps.geom import DatasetGeom, EnergyAxis, SkyGeom
from dl3flow.simulate.config import simulation_config_from_dict
from dl3flow.simulate.store import write_data_store

N_OBS = 6
TARGET = (60.0, -25.0)


@pytest.fixture(scope="module")
def reduced(tmp_path_factory):
    config = simulation_config_from_dict(
        {"seed": 7, "n_obs": N_OBS, "target": {"name": "SIM", "ra": TARGET[0], "dec": TARGET[1]}}
    )
    path = write_data_store(config, tmp_path_factory.mktemp("sim") / "store")
    geom = DatasetGeom.create(
        sky=SkyGeom.create(center=TARGET, width=4.0, binsz=0.02),
        energy=EnergyAxis.from_bounds(0.5 * u.TeV, 20 * u.TeV, 8),
        energy_true=EnergyAxis.from_bounds(0.3 * u.TeV, 30 * u.TeV, 15, name="energy_true"),
    )
    store = DataStore.from_dir(path)
    datasets, truth = [], np.zeros(geom.sky.shape)
    for obs_id in store.obs_ids:
        obs = store.observation(obs_id)
        ds = reduce_observation(obs, geom=geom, offset_max=2.0, edisp=False, psf=False)
        datasets.append(ds)
        # injected events of the bright source (MC_ID 1), binned like the counts
        location = store.hdu_location(obs_id, "events")
        events = fits.getdata(location.file, location.hdu_name)
        src = events["MC_ID"] == 1
        counts = make_counts(
            ra=events["RA"][src],
            dec=events["DEC"][src],
            energy=events["ENERGY"][src],
            sky=geom.sky,
            energy_edges=geom.energy.edges,
        )
        truth += counts.sum(axis=0)
    stacked = stack_datasets(datasets, geom=geom)
    return {"stacked": stacked, "truth": truth, "config": config, "geom": geom}


def _distance_to(geom, lon, lat):
    ra, dec = geom.sky.pixel_centers_icrs()
    return angular_offset(ra, dec, lon, lat)


def test_bright_source_excess_recovers_injected_counts(reduced):
    stacked, geom = reduced["stacked"], reduced["geom"]
    region = _distance_to(geom, *TARGET) < 0.3
    n_on = stacked.counts.sum(axis=0)[region].sum()
    background = stacked.background.sum(axis=0)[region].sum()
    excess = n_on - background
    injected = reduced["truth"][region].sum()
    sigma = np.sqrt(n_on)
    print(f"bright source: excess {excess:.1f}, injected {injected:.0f}, sigma {sigma:.1f}")
    assert injected > 300
    assert abs(excess - injected) < 3 * sigma


def test_background_predicts_source_free_counts(reduced):
    stacked, geom, config = reduced["stacked"], reduced["geom"], reduced["config"]
    free = _distance_to(geom, *TARGET) < 1.8  # well covered by the wobble pointings
    for source in config.sources:
        free &= _distance_to(geom, source.ra, source.dec) > 0.5 + 3 * source.sigma
    counts = stacked.counts.sum(axis=0)[free].sum()
    predicted = stacked.background.sum(axis=0)[free].sum()
    sigma = np.sqrt(predicted)
    print(f"source-free region: counts {counts:.0f}, predicted {predicted:.1f}, sigma {sigma:.1f}")
    assert predicted > 1000
    assert abs(counts - predicted) < 3 * sigma
