"""dl3flow's 1D ON/OFF spectra against gammapy 1.3 (issue 17).

gammapy: ``SpectrumDatasetMaker(containment_correction=...)`` +
``ReflectedRegionsBackgroundMaker`` (+ ``SafeMaskMaker``), stacked with
``Datasets.stack_reduce``; dl3flow: `dl3flow.makers.spectrum.extract_spectrum` and
`stack_spectra` with the same options.

* H.E.S.S. DL3 DR1, the 4 Crab runs: ON circle 0.11 deg at (83.633, 22.014),
  exclusion 0.5 deg around it (TAN mask, 0.05 deg pixels), reflected regions,
  containment correction on and off, safe mask aeff-max 10 %, reco 0.5-40 TeV
  (10/decade), true 0.05-100 TeV (20/decade).
* MAGIC (energy-dependent RAD_MAX): the 2 runs in magic-rad-max/, ON point at the
  same position, wobble with 3 OFF regions, aeff-default, reco 50 GeV-100 TeV
  (5/decade), true 10 GeV-100 TeV (10/decade).

Per observation and stacked: n_on and n_off identical, alpha <= 1e-6 relative,
exposure <= 0.1 % (measured: ~5e-8, the livetime: dl3flow uses the LIVETIME keyword,
gammapy ONTIME x DEADC), edisp <= 1e-6 absolute (measured ~2e-12), safe masks
identical. gammapy reads the files dl3flow writes (gadf and OGIP) back to the same
numbers.

This work made use of data from the H.E.S.S. DL3 public test data release 1
(HESS DL3 DR1, H.E.S.S. collaboration, 2018). The MAGIC data are Gammapy data
(CC BY-NC-SA 4.0) released by the MAGIC collaboration for the energy-dependent 1D
extraction; see the README.md beside them.
"""

import warnings

import astropy.units as u
import numpy as np
import pytest

gammapy = pytest.importorskip("gammapy")

from astropy.coordinates import SkyCoord  # noqa: E402
from gammapy.data import DataStore as GpDataStore  # noqa: E402
from gammapy.datasets import Datasets, SpectrumDataset  # noqa: E402
from gammapy.datasets import SpectrumDatasetOnOff as GpSpectrum  # noqa: E402
from gammapy.makers import (  # noqa: E402
    ReflectedRegionsBackgroundMaker,
    SafeMaskMaker,
    SpectrumDatasetMaker,
)
from gammapy.makers import WobbleRegionsFinder as GpWobble  # noqa: E402
from gammapy.maps import MapAxis, RegionGeom, WcsGeom  # noqa: E402
from regions import CircleSkyRegion, PointSkyRegion  # noqa: E402

from dl3flow.data.store import DataStore  # noqa: E402
from dl3flow.datasets.spectrum import read_spectrum_dataset  # noqa: E402
from dl3flow.makers.reflected import ReflectedRegionsFinder, WobbleRegionsFinder  # noqa: E402
from dl3flow.makers.spectrum import extract_spectrum, spectrum_summary, stack_spectra  # noqa: E402
from dl3flow.maps.geom import EnergyAxis, SkyGeom  # noqa: E402
from dl3flow.maps.regions import CircleRegion  # noqa: E402

pytestmark = pytest.mark.validation

CRAB_OBS_IDS = [23523, 23526, 23559, 23592]
CRAB = (83.633, 22.014)
ALPHA_RTOL = 1e-6
EXPOSURE_RTOL = 1e-3
EDISP_ATOL = 1e-6


@pytest.fixture(scope="module")
def magic_dir(shared_data):
    path = shared_data / "magic-rad-max" / "data"
    if not (path / "obs-index.fits.gz").is_file():
        pytest.skip(f"MAGIC RAD_MAX data not found at {path}")
    return path


def _axes(reco, true):
    energy = MapAxis.from_energy_bounds(*reco, per_decade=True, unit="TeV", name="energy")
    energy_true = MapAxis.from_energy_bounds(*true, per_decade=True, unit="TeV", name="energy_true")
    ours = (
        EnergyAxis(energy.edges.to_value("TeV")),
        EnergyAxis(energy_true.edges.to_value("TeV"), name="energy_true"),
    )
    return energy, energy_true, ours


def _crab_exclusion():
    target = SkyCoord(*CRAB, unit="deg")
    geom = WcsGeom.create(npix=(150, 150), binsz=0.05, skydir=target, proj="TAN", frame="icrs")
    mask = ~geom.region_mask([CircleSkyRegion(target, 0.5 * u.deg)])
    ours = SkyGeom.create(center=CRAB, width=7.5, binsz=0.05, proj="TAN")
    assert ours.shape == tuple(geom.data_shape)
    return mask, (mask.data.copy(), ours)


def _run_crab(hess_dr1, containment):
    energy, energy_true, (e, et) = _axes((0.5, 40, 10), (0.05, 100, 20))
    target = SkyCoord(*CRAB, unit="deg")
    geom = RegionGeom.create(region=CircleSkyRegion(target, 0.11 * u.deg), axes=[energy])
    empty = SpectrumDataset.create(geom=geom, energy_axis_true=energy_true)
    gp_mask, mask = _crab_exclusion()
    maker = SpectrumDatasetMaker(
        containment_correction=containment, selection=["counts", "exposure", "edisp"]
    )
    bkg = ReflectedRegionsBackgroundMaker(exclusion_mask=gp_mask)
    safe = SafeMaskMaker(methods=["aeff-max"], aeff_percent=10)
    gp_store, store = GpDataStore.from_dir(hess_dr1), DataStore.from_dir(hess_dr1)
    pairs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for obs_id in CRAB_OBS_IDS:
            obs = gp_store.obs(obs_id)
            ds = safe.run(bkg.run(maker.run(empty.copy(name=str(obs_id)), obs), obs), obs)
            ours = extract_spectrum(
                store.observation(obs_id),
                on_region=CircleRegion(*CRAB, 0.11),
                energy=e,
                energy_true=et,
                finder=ReflectedRegionsFinder(),
                exclusion=mask,
                containment_correction=containment,
                safe_mask_methods=["aeff-max"],
                aeff_percent=10,
            )
            pairs.append((ds, ours))
    return pairs


def _run_magic(magic_dir):
    energy, energy_true, (e, et) = _axes((0.05, 100, 5), (0.01, 100, 10))
    geom = RegionGeom.create(region=PointSkyRegion(SkyCoord(*CRAB, unit="deg")), axes=[energy])
    empty = SpectrumDataset.create(geom=geom, energy_axis_true=energy_true)
    maker = SpectrumDatasetMaker(selection=["counts", "exposure", "edisp"])
    bkg = ReflectedRegionsBackgroundMaker(region_finder=GpWobble(n_off_regions=3))
    safe = SafeMaskMaker(methods=["aeff-default"])
    gp_store, store = GpDataStore.from_dir(magic_dir), DataStore.from_dir(magic_dir)
    pairs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for obs_id in store.obs_ids:
            obs = gp_store.obs(obs_id, required_irf="point-like")
            ds = safe.run(bkg.run(maker.run(empty.copy(name=str(obs_id)), obs), obs), obs)
            ours = extract_spectrum(
                store.observation(obs_id),
                on_region=CircleRegion(*CRAB),
                energy=e,
                energy_true=et,
                finder=WobbleRegionsFinder(3),
                safe_mask_methods=["aeff-default"],
            )
            pairs.append((ds, ours))
    return pairs


@pytest.fixture(scope="module", params=[True, False], ids=["containment", "no-containment"])
def crab(request, hess_dr1):
    return _run_crab(hess_dr1, request.param)


@pytest.fixture(scope="module")
def magic(magic_dir):
    return _run_magic(magic_dir)


def _compare(gp, ours, *, what):
    np.testing.assert_array_equal(ours.counts, gp.counts.data.ravel(), err_msg=f"{what} n_on")
    np.testing.assert_array_equal(
        ours.counts_off, gp.counts_off.data.ravel(), err_msg=f"{what} n_off"
    )
    gp_alpha = gp.alpha.data.ravel()
    ok = gp.counts_off.data.ravel() > 0  # gammapy's alpha elsewhere is nan_to_num(x / 0)
    np.testing.assert_allclose(ours.alpha[ok], gp_alpha[ok], rtol=ALPHA_RTOL, err_msg=what)
    np.testing.assert_allclose(
        ours.exposure, gp.exposure.data.ravel(), rtol=EXPOSURE_RTOL, atol=0, err_msg=what
    )
    kernel = gp.edisp.get_edisp_kernel().data
    np.testing.assert_allclose(ours.edisp, kernel, atol=EDISP_ATOL, rtol=0, err_msg=what)
    np.testing.assert_array_equal(ours.mask_safe, gp.mask_safe.data.ravel(), err_msg=what)


def _check(pairs):
    for gp, ours in pairs:
        _compare(gp, ours, what=f"obs {ours.name}")
        assert ours.n_off_regions == int(gp.acceptance_off.data.ravel()[0])
    gp_stacked = Datasets([gp for gp, _ in pairs]).stack_reduce()
    stacked = stack_spectra([ours for _, ours in pairs])
    _compare(gp_stacked, stacked, what="stacked")
    info, row = gp_stacked.info_dict(), spectrum_summary(stacked)
    assert (row["n_on"], row["n_off"]) == (info["counts"], info["counts_off"])
    assert row["alpha"] == pytest.approx(info["alpha"], rel=ALPHA_RTOL)
    assert row["significance"] == pytest.approx(float(info["sqrt_ts"]), rel=1e-6)
    return stacked


def test_crab_reflected_regions(crab):
    _check(crab)


def test_crab_offsets_and_region_counts(crab):
    """The two wobble pairs have 8 and 39 OFF regions (exclusion respected)."""
    assert [ours.n_off_regions for _, ours in crab] == [8, 8, 39, 39]


def test_magic_rad_max_wobble(magic):
    assert len(magic) == 2
    _check(magic)
    assert all(ours.n_off_regions == 3 for _, ours in magic)


def test_gammapy_reads_dl3flow_files(crab, magic, tmp_path):
    for _gp, ours in (crab[0], magic[0]):
        path = tmp_path / f"spectrum_{ours.name}.fits"
        ours.write(path)
        back = GpSpectrum.read(path, format="gadf")
        _compare(back, ours, what=f"gadf {ours.name}")
        names = ours.write_ogip(tmp_path / "ogip" / f"pha_obs{ours.name}.fits")
        ogip = GpSpectrum.read(names["pha"])
        np.testing.assert_array_equal(ogip.counts.data.ravel(), ours.counts)
        np.testing.assert_array_equal(ogip.counts_off.data.ravel(), ours.counts_off)
        np.testing.assert_allclose(ogip.alpha.data.ravel(), ours.alpha, rtol=1e-12)
        np.testing.assert_allclose(ogip.exposure.data.ravel(), ours.exposure, rtol=1e-12)
        np.testing.assert_array_equal(ogip.mask_safe.data.ravel(), ours.mask_safe)
        kernel = ogip.edisp.get_edisp_kernel().data  # float32 in the RMF
        np.testing.assert_allclose(kernel, ours.edisp, rtol=1e-6, atol=1e-12)


def test_gammapy_reads_the_stacked_spectrum(crab, magic, tmp_path):
    """The stack keeps the first dataset's OFF regions (as gammapy's stacking keeps its
    geometry): without them gammapy's reader cannot build the OFF region geometry."""
    for pairs in (crab, magic):
        gp_stacked = Datasets([gp for gp, _ in pairs]).stack_reduce()
        stacked = stack_spectra([ours for _, ours in pairs])
        assert stacked.n_off_regions == pairs[0][1].n_off_regions
        path = tmp_path / f"stacked_{len(pairs)}.fits"
        stacked.write(path)
        back = GpSpectrum.read(path, format="gadf")
        _compare(back, stacked, what="stacked, read by gammapy")
        _compare(gp_stacked, read_spectrum_dataset(path), what="stacked, read back")


def test_dl3flow_reads_gammapy_files(crab, tmp_path):
    gp, ours = crab[0]
    path = tmp_path / "gp.fits"
    gp.write(path, format="gadf")
    back = read_spectrum_dataset(path)
    np.testing.assert_array_equal(back.counts, ours.counts)
    np.testing.assert_array_equal(back.counts_off, ours.counts_off)
    np.testing.assert_allclose(back.alpha, ours.alpha, rtol=ALPHA_RTOL)
    assert back.n_off_regions == ours.n_off_regions
    for a, b in zip(back.off_regions.regions, ours.off_regions.regions, strict=True):
        assert (a.ra, a.dec, a.radius) == pytest.approx((b.ra, b.dec, b.radius), abs=1e-9)


@pytest.mark.parametrize("kind", ["table", "3gauss", "king"])
def test_psf_containment(kind, hess_dr1):
    """`psf_containment` against gammapy's ``PSF.containment`` for each PSF class."""
    from test_irf_vs_gammapy import parametric_hdu, read_both

    from dl3flow.irf.psf import psf_containment

    if kind == "table":
        ours = DataStore.from_dir(hess_dr1).observation(23523).psf
        theirs = GpDataStore.from_dir(hess_dr1).obs(23523).psf
    else:
        ours, theirs = read_both(*parametric_hdu(kind))
    energy_true = np.geomspace(0.05, 90, 41)
    for rad in (0.05, 0.11, 0.3):
        for offset in (0.2, 0.5, 1.3):
            values = psf_containment(ours, rad=rad, offset=offset, energy_true=energy_true)
            expected = theirs.containment(
                rad=rad * u.deg, offset=offset * u.deg, energy_true=energy_true * u.TeV
            )
            np.testing.assert_allclose(values, np.asarray(expected), rtol=1e-10, atol=1e-12)
