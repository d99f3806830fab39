"""A CTA-1DC-like (caldb style) simulated store: dl3flow's reduction against gammapy 1.3.

The store of ``dl3flow.simulate.store`` with ``irf_style="caldb"`` (one shared IRF file,
OGIP-style HDUCLAS4, CTA's HDU names, a ``psf_3gauss``, no FOVALIGN, background unit
``1/s/MeV/sr``), with its index files moved to ``index/all/`` as in CTA 1DC, so that
every ``FILE_DIR`` starts with ``../../``. gammapy's chain is ``MapDataset.create`` ->
``cutout`` -> ``MapDatasetMaker().run`` (as tests/validation/test_reduce_vs_gammapy.py,
with its tolerances). gammapy 1.3 assumes RADEC for a bkg_3d without FOVALIGN, dl3flow
the GADF default ALTAZ: the comparison asks dl3flow for ``fov_alignment="radec"``.
"""

import gzip
import io

import astropy.units as u
import numpy as np
import pytest

gammapy = pytest.importorskip("gammapy")

from astropy.table import Table  # noqa: E402
from gammapy.data import DataStore as GpDataStore  # noqa: E402
from gammapy.datasets import MapDataset as GpMapDataset  # noqa: E402
from gammapy.makers import MapDatasetMaker  # noqa: E402
from gammapy.maps import MapAxis, WcsGeom  # noqa: E402

from dl3flow.data.store import DataStore  # noqa: E402
from dl3flow.makers.map import reduce_observation  # noqa: E402
from dl3flow.maps.geom import DatasetGeom, EnergyAxis, SkyGeom  # noqa: E402
from dl3flow.simulate.config import SimulationConfig  # noqa: E402
from dl3flow.simulate.store import write_data_store  # noqa: E402

pytestmark = [
    pytest.mark.validation,
    # gammapy (astropy's FITS unit parser) reading CTA's background unit
    pytest.mark.filterwarnings("ignore:'1/s/MeV/sr' did not parse as fits unit"),
]

OBS_IDS = [1, 2]
CENTER = (60.0, -25.0)
OFFSET_MAX = 2.0


def _relative_agreement(ours, theirs):
    """Max and median |relative difference| where gammapy > 1 % of its maximum."""
    significant = theirs > 0.01 * theirs.max()
    rel = np.abs(ours[significant] / theirs[significant] - 1)
    return rel.max(), np.median(rel)


def _index_in_subdirectory(store, subdir="index/all"):
    """Copy the index files to ``store/subdir`` with FILE_DIR made relative to it."""
    index = store / subdir
    index.mkdir(parents=True)
    (index / "obs-index.fits.gz").write_bytes((store / "obs-index.fits.gz").read_bytes())
    table = Table.read(store / "hdu-index.fits.gz", hdu="HDU_INDEX")
    up = "/".join([".."] * len(subdir.split("/")))
    table["FILE_DIR"] = [f"{up}/{str(d).strip()}" for d in table["FILE_DIR"]]
    table.meta["EXTNAME"] = "HDU_INDEX"
    buffer = io.BytesIO()
    table.write(buffer, format="fits")
    (index / "hdu-index.fits.gz").write_bytes(gzip.compress(buffer.getvalue(), mtime=0))
    return index


@pytest.fixture(scope="module")
def caldb(tmp_path_factory):
    config = SimulationConfig(seed=5, n_obs=len(OBS_IDS), livetime=900.0, irf_style="caldb")
    store = write_data_store(config, tmp_path_factory.mktemp("caldb") / "store")
    index = _index_in_subdirectory(store)

    energy = MapAxis.from_energy_bounds(0.5, 20, 8, unit="TeV")
    energy_true = MapAxis.from_energy_bounds(0.3, 30, 15, unit="TeV", name="energy_true")
    gp_geom = WcsGeom.create(
        skydir=CENTER, width=4, binsz=0.02, frame="icrs", proj="CAR", axes=[energy]
    )
    gp_empty = GpMapDataset.create(gp_geom, energy_axis_true=energy_true, name="empty")
    maker = MapDatasetMaker()
    gp_store = GpDataStore.from_dir(index)
    gp = {}
    for obs in gp_store.get_observations(OBS_IDS):
        cutout = gp_empty.cutout(
            obs.get_pointing_icrs(obs.tmid), width=2 * OFFSET_MAX * u.deg, name=f"{obs.obs_id}"
        )
        gp[obs.obs_id] = maker.run(cutout, obs)

    geom = DatasetGeom.create(
        sky=SkyGeom.create(center=CENTER, width=4, binsz=0.02, frame="icrs", proj="CAR"),
        energy=EnergyAxis.from_bounds(0.5 * u.TeV, 20 * u.TeV, 8, name="energy"),
        energy_true=EnergyAxis.from_bounds(0.3 * u.TeV, 30 * u.TeV, 15, name="energy_true"),
    )
    store = DataStore.from_dir(index)
    ours = {
        obs_id: reduce_observation(
            store.observation(obs_id), geom=geom, offset_max=OFFSET_MAX, fov_alignment="radec"
        )
        for obs_id in OBS_IDS
    }
    return {"gp": gp, "ours": ours, "store": store}


def test_store_is_caldb_like(caldb):
    store = caldb["store"]
    files = {store.hdu_location(obs_id, "aeff").file for obs_id in OBS_IDS}
    assert len(files) == 1  # one IRF file for all observations ...
    (file,) = files
    assert "../../caldb/data/" in str(file)  # ... reached through FILE_DIR '../../...'
    obs = store.observation(OBS_IDS[0])
    assert type(obs.psf).__name__ == "PSF3Gauss" and obs.aeff.lo_threshold is None


@pytest.mark.parametrize("obs_id", OBS_IDS)
def test_counts_identical(caldb, obs_id):
    ours, theirs = caldb["ours"][obs_id], caldb["gp"][obs_id]
    assert ours.geom.sky.wcs.to_header() == theirs.counts.geom.wcs.to_header()
    np.testing.assert_array_equal(ours.counts, theirs.counts.data)
    assert ours.counts.sum() > 500


@pytest.mark.parametrize("obs_id", OBS_IDS)
@pytest.mark.parametrize("name", ["exposure", "background"])
def test_maps_agree(caldb, obs_id, name):
    ours = getattr(caldb["ours"][obs_id], name)
    theirs = getattr(caldb["gp"][obs_id], name).data
    assert ours.shape == theirs.shape
    worst, median = _relative_agreement(ours, theirs)
    print(f"obs {obs_id} {name}: max rel diff {worst:.2e}, median {median:.2e}")
    assert worst < 0.01
    assert median <= 0.001


@pytest.mark.parametrize("obs_id", OBS_IDS)
def test_irf_maps_agree(caldb, obs_id):
    ours, theirs = caldb["ours"][obs_id], caldb["gp"][obs_id]
    kernel = theirs.edisp.edisp_map.data
    np.testing.assert_allclose(ours.edisp.kernel, kernel, atol=1e-6)
    # gammapy's psf_3gauss map is in deg-2 (its psf_table maps in sr-1), dl3flow's in sr-1
    assert theirs.psf.psf_map.unit == u.Unit("deg-2")
    psf = theirs.psf.psf_map.quantity.to_value("sr-1")
    np.testing.assert_allclose(ours.psf.psf, psf, rtol=1e-3, atol=1e-6 * psf.max())
    print(
        f"obs {obs_id}: edisp max abs diff {np.abs(ours.edisp.kernel - kernel).max():.1e}, "
        f"psf max rel diff {_relative_agreement(ours.psf.psf, psf)[0]:.1e}"
    )
