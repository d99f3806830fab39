"""dl3flow's dataset files and stacking against gammapy 1.3's ``MapDataset``."""

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import Table
from astropy.time import Time

from dl3flow.datasets.map import EDispKernelMap, MapDataset, PSFMap, read_dataset
from dl3flow.datasets.stacking import stack_datasets
from dl3flow.maps.geom import DatasetGeom, EnergyAxis, SkyGeom

gammapy = pytest.importorskip("gammapy")

from gammapy.data import GTI  # noqa: E402
from gammapy.datasets import MapDataset as GPMapDataset  # noqa: E402
from gammapy.maps import MapAxis, WcsGeom  # noqa: E402

pytestmark = pytest.mark.validation

CENTER = (83.63, 22.01)
# bounds whose bin centres gammapy maps to exact pixel indices (see _mask_safe_edisp)
E_RECO = (0.5, 20.0, 2)
E_TRUE = (0.3, 30.0, 3)


def _gp_geom(width=(2.0, 1.6), binsz=0.05):
    energy = MapAxis.from_energy_bounds(E_RECO[0], E_RECO[1], E_RECO[2], unit="TeV")
    return WcsGeom.create(skydir=CENTER, binsz=binsz, width=width, frame="icrs", axes=[energy])


def _gp_energy_true():
    return MapAxis.from_energy_bounds(
        E_TRUE[0], E_TRUE[1], E_TRUE[2], unit="TeV", name="energy_true"
    )


def _dl_geom(width=(2.0, 1.6), binsz=0.05):
    return DatasetGeom.create(
        sky=SkyGeom.create(center=CENTER, width=width, binsz=binsz),
        energy=EnergyAxis.from_bounds(E_RECO[0], E_RECO[1], E_RECO[2]),
        energy_true=EnergyAxis.from_bounds(E_TRUE[0], E_TRUE[1], E_TRUE[2], name="energy_true"),
    )


def _as_float64(ds):
    """gammapy's ``MapDataset.create`` uses float32 maps; use float64 to compare at 1e-10."""
    for m in (ds.counts, ds.exposure, ds.background):
        m.data = m.data.astype(np.float64)
    for irf in (ds.edisp.edisp_map, ds.edisp.exposure_map, ds.psf.psf_map, ds.psf.exposure_map):
        irf.data = irf.data.astype(np.float64)
    return ds


def _random_gp_dataset(rng, name, gti_start):
    ds = _as_float64(GPMapDataset.create(_gp_geom(), energy_axis_true=_gp_energy_true(), name=name))
    ds.counts.data = rng.poisson(4.0, ds.counts.data.shape).astype(np.float64)
    ds.exposure.data = rng.uniform(1e8, 2e8, ds.exposure.data.shape)
    ds.background.data = rng.uniform(0.0, 2.0, ds.background.data.shape)
    kernel = rng.uniform(0.0, 1.0, ds.edisp.edisp_map.data.shape)
    ds.edisp.edisp_map.data = kernel / kernel.sum(axis=1, keepdims=True)
    ds.edisp.exposure_map.data = rng.uniform(1e8, 2e8, ds.edisp.exposure_map.data.shape)
    ds.psf.psf_map.data = rng.uniform(0.0, 1e4, ds.psf.psf_map.data.shape)
    ds.psf.exposure_map.data = rng.uniform(1e8, 2e8, ds.psf.exposure_map.data.shape)
    ds.gti = GTI.create(
        [gti_start] * u.s,
        [gti_start + 1000.0] * u.s,
        reference_time=Time(51910.00074287037, format="mjd", scale="tt"),
    )
    ds.exposure.meta["livetime"] = 900.0 * u.s
    return ds


def _to_dl3flow(gp_ds, tmp_path):
    path = tmp_path / f"{gp_ds.name}.fits"
    gp_ds.write(path)
    return read_dataset(path)


def _assert_same(dl, gp, *, rtol=1e-10, stored=False):
    """dl3flow's arrays against gammapy's; ``stored``: as written to FITS (float32)."""

    def v(array):
        return np.asarray(array, dtype=np.float32 if stored else None)

    np.testing.assert_allclose(v(dl.counts), gp.counts.data, rtol=rtol, atol=0)
    np.testing.assert_allclose(v(dl.exposure), gp.exposure.data, rtol=rtol, atol=0)
    np.testing.assert_allclose(v(dl.background), gp.background.data, rtol=rtol, atol=0)
    np.testing.assert_array_equal(dl.mask_safe, gp.mask_safe.data)
    np.testing.assert_allclose(v(dl.edisp.kernel), gp.edisp.edisp_map.data, rtol=rtol, atol=1e-14)
    np.testing.assert_allclose(v(dl.edisp.exposure), gp.edisp.exposure_map.data, rtol=rtol, atol=0)
    np.testing.assert_allclose(v(dl.psf.psf), gp.psf.psf_map.data, rtol=rtol, atol=1e-10)
    np.testing.assert_allclose(v(dl.psf.exposure), gp.psf.exposure_map.data, rtol=rtol, atol=0)


def test_gammapy_centres_are_exact_pixels():
    """Precondition of the stacking comparison (see dl3flow.datasets.stacking._mask_safe_edisp)."""
    axis = _gp_geom().axes["energy"]
    assert np.array_equal(axis.coord_to_pix(axis.center), np.arange(axis.nbin))


def test_gammapy_reads_dl3flow_file(tmp_path):
    rng = np.random.default_rng(1)
    geom = _dl_geom(width=(0.5, 0.4), binsz=0.1)
    ny, nx = geom.sky.shape
    nyi, nxi = geom.irf_sky.shape
    ds = MapDataset(
        geom=geom,
        counts=rng.poisson(3.0, (2, ny, nx)).astype(float),
        exposure=rng.uniform(1e8, 2e8, (3, ny, nx)),
        background=rng.uniform(0, 1, (2, ny, nx)),
        mask_safe=rng.uniform(size=(2, ny, nx)) > 0.3,
        edisp=EDispKernelMap(
            kernel=rng.uniform(size=(3, 2, nyi, nxi)), exposure=rng.uniform(size=(3, 1, nyi, nxi))
        ),
        psf=PSFMap(
            psf=rng.uniform(size=(3, 66, nyi, nxi)), exposure=rng.uniform(size=(3, 1, nyi, nxi))
        ),
        name="dl",
        meta={"OBS_IDS": [23523], "LIVETIME": 1581.5},
        gti=Table({"START": [0.0], "STOP": [1687.0]}, meta={"MJDREFI": 51910, "MJDREFF": 0.0}),
    )
    path = tmp_path / "dl.fits"
    ds.write(path)
    gp = GPMapDataset.read(path)
    _assert_same(ds, gp, rtol=0, stored=True)
    assert gp.name == "dl"
    assert gp.counts.geom == WcsGeom.create(
        skydir=CENTER, binsz=0.1, width=(0.5, 0.4), frame="icrs", axes=[_gp_geom().axes["energy"]]
    )
    assert gp.exposure.geom.axes["energy_true"] == _gp_energy_true()
    assert gp.psf.psf_map.geom.to_image() == gp.counts.geom.to_image().to_binsz(0.2)
    assert gp.exposure.meta["livetime"] == 1581.5 * u.s
    assert list(gp.meta_table["OBS_IDS"][0]) == [23523]
    np.testing.assert_allclose(gp.gti.met_stop.to_value("s"), [1687.0], rtol=1e-12)


def test_dl3flow_reads_gammapy_file(tmp_path):
    gp = _random_gp_dataset(np.random.default_rng(2), "gp", 0.0)
    gp.mask_safe.data[0, :, :5] = True
    path = tmp_path / "gp.fits"
    gp.write(path)
    dl = read_dataset(path)
    _assert_same(dl, gp, rtol=0)
    assert dl.name == "gp"
    assert dl.meta["LIVETIME"] == 900.0
    assert dl.geom.sky.wcs.wcs.compare(gp.counts.geom.wcs.wcs, tolerance=1e-9)
    assert dl.geom.irf_sky.wcs.wcs.compare(gp.psf.psf_map.geom.wcs.wcs, tolerance=1e-9)
    np.testing.assert_allclose(dl.geom.energy.edges, gp.counts.geom.axes["energy"].edges.value)
    np.testing.assert_allclose(
        dl.geom.energy_true.edges, gp.exposure.geom.axes["energy_true"].edges.value
    )
    np.testing.assert_allclose(dl.geom.rad_edges, gp.psf.psf_map.geom.axes["rad"].edges.value)


@pytest.mark.parametrize("n_obs", [2, 3])
def test_stacking_matches_gammapy(tmp_path, n_obs):
    rng = np.random.default_rng(10 + n_obs)
    positions = [(83.3, 21.8), (83.9, 22.2), (83.63, 22.01)][:n_obs]
    cutouts = []
    for i, (ra, dec) in enumerate(positions):
        full = _random_gp_dataset(rng, f"obs{i}", 2000.0 * i)
        pos = SkyCoord(ra, dec, unit="deg")
        cut = full.cutout(pos, width=(1.2 * u.deg, 0.9 * u.deg), name=f"obs{i}")
        # a spatial offset cut and an energy threshold, different per observation
        sep = cut.counts.geom.separation(pos).to_value("deg")
        cut.mask_safe.data[...] = sep < 0.45
        cut.mask_safe.data[: i % 2] = False
        cutouts.append(cut)

    gp_stacked = _as_float64(
        GPMapDataset.create(_gp_geom(), energy_axis_true=_gp_energy_true(), name="stacked")
    )
    for cut in cutouts:
        gp_stacked.stack(cut)

    dl_cutouts = [_to_dl3flow(cut, tmp_path) for cut in cutouts]
    dl_stacked = stack_datasets(iter(dl_cutouts), geom=_dl_geom())
    _assert_same(dl_stacked, gp_stacked)
    assert dl_stacked.meta["LIVETIME"] == pytest.approx(
        gp_stacked.exposure.meta["livetime"].to_value("s"), rel=1e-12
    )
    # the stacked GTI: 2000-01-01 UTC reference, observations merged in time order
    gp_gti = gp_stacked.gti
    np.testing.assert_allclose(
        dl_stacked.gti["START"], gp_gti.met_start.to_value("s"), rtol=0, atol=1e-6
    )
    np.testing.assert_allclose(
        dl_stacked.gti["STOP"], gp_gti.met_stop.to_value("s"), rtol=0, atol=1e-6
    )
    assert dl_stacked.gti.meta["TIMESYS"] == gp_gti.time_ref.scale
    # and the written stack is read by gammapy with the same arrays
    path = tmp_path / "stacked.fits"
    dl_stacked.write(path)
    _assert_same(dl_stacked, GPMapDataset.read(path), rtol=0, stored=True)
