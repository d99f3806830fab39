"""dl3flow's excess/significance/flux maps against gammapy 1.3's ExcessMapEstimator.

The stacked H.E.S.S. Crab dataset (issue 7 acceptance): runs 23523, 23526, 23559,
23592; 5 deg ICRS/CAR geometry with 0.02 deg pixels centred on (83.633, 22.014);
reco energy 1-10 TeV (11 bins), true energy 0.5-20 TeV (20 bins); cutouts of
2 x 2.5 deg; ``MapDatasetMaker`` + ``SafeMaskMaker(offset-max 2.5 deg)`` + stack.
gammapy writes it, dl3flow reads it. The on-off (WStat) case is gammapy's
``RingBackgroundMaker`` on that dataset, its arrays passed to dl3flow.

Acceptance: |delta significance| <= 0.01 sigma where |significance| < 30; excess
and flux within 0.1 %.

This work made use of data from the H.E.S.S. DL3 public test data release 1
(HESS DL3 DR1, H.E.S.S. collaboration, 2018).
"""

import warnings

import astropy.units as u
import numpy as np
import pytest

gammapy = pytest.importorskip("gammapy")

from astropy.coordinates import SkyCoord  # noqa: E402
from gammapy.data import DataStore as GpDataStore  # noqa: E402
from gammapy.datasets import MapDataset as GpMapDataset  # noqa: E402
from gammapy.estimators import ExcessMapEstimator  # noqa: E402
from gammapy.estimators.utils import find_peaks as gp_find_peaks  # noqa: E402
from gammapy.makers import MapDatasetMaker, RingBackgroundMaker, SafeMaskMaker  # noqa: E402
from gammapy.maps import Map, MapAxis, WcsGeom  # noqa: E402
from regions import CircleSkyRegion  # noqa: E402

from dl3flow.datasets.map import read_dataset  # noqa: E402
from dl3flow.estimators.correlation import band_indices, resample_energy  # noqa: E402
from dl3flow.estimators.excess import (  # noqa: E402
    edisp_kernel_center,
    estimate_excess_maps,
    estimate_excess_maps_onoff,
    exposure_reco,
)
from dl3flow.estimators.peaks import find_peaks  # noqa: E402

pytestmark = pytest.mark.validation

OBS_IDS = [23523, 23526, 23559, 23592]
CENTER = (83.633, 22.014)
OFFSET_MAX = 2.5
SIG_TOL = 0.01
REL_TOL = 1e-3


@pytest.fixture(scope="module")
def crab(hess_dr1, tmp_path_factory):
    energy = MapAxis.from_energy_bounds(1, 10, 11, unit="TeV")
    energy_true = MapAxis.from_energy_bounds(0.5, 20, 20, unit="TeV", name="energy_true")
    geom = WcsGeom.create(
        skydir=CENTER, width=5, binsz=0.02, frame="icrs", proj="CAR", axes=[energy]
    )
    stacked = GpMapDataset.create(geom, energy_axis_true=energy_true, name="stacked")
    maker = MapDatasetMaker()
    safe = SafeMaskMaker(methods=["offset-max"], offset_max=OFFSET_MAX * u.deg)
    for obs in GpDataStore.from_dir(hess_dr1).get_observations(OBS_IDS):
        cutout = stacked.cutout(
            obs.get_pointing_icrs(obs.tmid), width=2 * OFFSET_MAX * u.deg, name=f"{obs.obs_id}"
        )
        stacked.stack(safe.run(maker.run(cutout, obs), obs))
    path = tmp_path_factory.mktemp("crab_estimate") / "stacked.fits"
    stacked.write(path)
    gp = GpMapDataset.read(path)
    return {"gp": gp, "ours": read_dataset(path), "dir": path.parent}


def _compare(ours, gp_maps, label, *, extra=()):
    """Print and return the agreement; NaN patterns must match."""
    sig, gsig = ours["sqrt_ts"], gp_maps["sqrt_ts"].data
    assert np.array_equal(np.isnan(sig), np.isnan(gsig))
    finite = np.isfinite(sig)
    low = finite & (np.abs(gsig) < 30)
    result = {"max|dsig|": float(np.max(np.abs(sig - gsig)[low]))}
    pairs = [("excess", gp_maps["npred_excess"].data), ("counts", gp_maps["npred"].data)]
    pairs += [("flux", gp_maps["flux"].quantity.to_value("cm-2 s-1"))]
    pairs += [(name, gp_maps[name].quantity.to_value("cm-2 s-1")) for name in extra]
    for name, theirs in pairs:
        mine = ours[name]
        assert np.array_equal(np.isnan(mine), np.isnan(theirs)), name
        ok = np.isfinite(mine)
        # relative difference where the value is not a near-cancellation
        big = ok & (np.abs(theirs) > 1e-3 * np.nanmax(np.abs(theirs)))
        result[f"max rel d{name}"] = float(np.max(np.abs(mine[big] / theirs[big] - 1)))
    print(f"\n{label}: " + ", ".join(f"{k} = {v:.2e}" for k, v in result.items()))
    return result


def test_edisp_kernel_is_gammapys(crab):
    assert np.array_equal(
        edisp_kernel_center(crab["ours"]), crab["gp"].edisp.get_edisp_kernel().data
    )


@pytest.mark.parametrize("energy_edges", [None, [1, 3, 10]], ids=["integrated", "bands"])
def test_cash_maps_agree(crab, energy_edges):
    estimator = ExcessMapEstimator(
        correlation_radius="0.1 deg",
        n_sigma_ul=2,
        selection_optional=["ul", "errn-errp"],
        energy_edges=None if energy_edges is None else energy_edges * u.TeV,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gp_maps = estimator.run(crab["gp"])
    ours = estimate_excess_maps(
        crab["ours"],
        correlation_radius=0.1,
        energy_edges=energy_edges,
        n_sigma_ul=2,
        errn_errp=True,
    )
    assert ours["sqrt_ts"].shape == gp_maps["sqrt_ts"].data.shape
    assert np.allclose(ours.energy_edges, gp_maps.geom.axes["energy"].edges.to_value("TeV"))
    result = _compare(
        ours,
        gp_maps,
        f"cash {energy_edges}",
        extra=("flux_err", "flux_ul", "flux_errn", "flux_errp"),
    )
    assert result["max|dsig|"] <= SIG_TOL
    assert result["max rel dexcess"] <= REL_TOL and result["max rel dflux"] <= REL_TOL
    assert result["max rel dcounts"] == 0.0
    for name in ("flux_err", "flux_ul", "flux_errn", "flux_errp"):
        assert result[f"max rel d{name}"] <= REL_TOL


@pytest.fixture(scope="module")
def ring(crab):
    gp = crab["gp"]
    region = CircleSkyRegion(SkyCoord(*CENTER, unit="deg"), 0.3 * u.deg)
    exclusion = ~gp.counts.geom.to_image().region_mask([region])
    maker = RingBackgroundMaker(r_in="0.5 deg", width="0.3 deg", exclusion_mask=exclusion)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {"image": maker.run(gp.to_image()), "cube": maker.run(gp)}


def _onoff_arrays(onoff):
    return {
        "energy_edges_dataset": onoff.counts.geom.axes["energy"].edges.to_value("TeV"),
        "counts": onoff.counts.data,
        "counts_off": onoff.counts_off.data,
        "acceptance": onoff.acceptance.data,
        "acceptance_off": onoff.acceptance_off.data,
        "mask_safe": onoff.mask_safe.data,
    }


def test_wstat_maps_agree_image(crab, ring):
    """Energy-integrated ring background: significance, excess, flux."""
    ds = crab["ours"]
    onoff = ring["image"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gp_maps = ExcessMapEstimator(correlation_radius="0.1 deg").run(onoff)
    # the reference-model exposure of the stacked dataset, summed like the image
    npred_ref = resample_energy(
        exposure_reco(ds), band_indices(ds.geom.energy.edges), weights=ds.mask_safe
    )
    ours = estimate_excess_maps_onoff(
        sky=ds.geom.sky,
        exposure_reco=npred_ref,
        correlation_radius=0.1,
        correlate_off=True,  # gammapy's default, to compare like with like
        **_onoff_arrays(onoff),
    )
    result = _compare(ours, gp_maps, "wstat image", extra=("flux_err",))
    assert result["max|dsig|"] <= SIG_TOL
    assert result["max rel dexcess"] <= REL_TOL and result["max rel dflux"] <= REL_TOL
    assert result["max rel dflux_err"] <= REL_TOL


def test_wstat_errors_and_upper_limits_agree(crab, ring):
    """Asymmetric errors and upper limits (gammapy: brentq per pixel) on a 1 deg cutout."""
    ds = crab["ours"]
    position, width = SkyCoord(*CENTER, unit="deg"), 1.0 * u.deg
    onoff = ring["image"].cutout(position, width)
    estimator = ExcessMapEstimator(
        correlation_radius="0.1 deg", n_sigma_ul=3, selection_optional=["ul", "errn-errp"]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gp_maps = estimator.run(onoff)
    sky, (sy, sx) = ds.geom.sky.cutout(position, width)
    npred_ref = resample_energy(
        exposure_reco(ds), band_indices(ds.geom.energy.edges), weights=ds.mask_safe
    )[:, sy, sx]
    ours = estimate_excess_maps_onoff(
        sky=sky,
        exposure_reco=npred_ref,
        correlation_radius=0.1,
        n_sigma_ul=3,
        errn_errp=True,
        correlate_off=True,  # gammapy's default, to compare like with like
        **_onoff_arrays(onoff),
    )
    extra = ("flux_err", "flux_ul", "flux_errn", "flux_errp")
    result = _compare(ours, gp_maps, "wstat cutout", extra=extra)
    assert result["max|dsig|"] <= SIG_TOL
    for name in ("excess", "flux", *extra):
        assert result[f"max rel d{name}"] <= REL_TOL


@pytest.mark.parametrize("correlate_off", [True, False])
def test_wstat_maps_agree_bands(crab, ring, correlate_off):
    """Ring background per energy bin, grouped into two bands (no optional maps: gammapy
    solves them pixel by pixel, which takes minutes)."""
    ds = crab["ours"]
    estimator = ExcessMapEstimator(
        correlation_radius="0.1 deg", energy_edges=[1, 3, 10] * u.TeV, correlate_off=correlate_off
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gp_maps = estimator.run(ring["cube"])
    ours = estimate_excess_maps_onoff(
        sky=ds.geom.sky,
        exposure_reco=exposure_reco(ds),
        correlation_radius=0.1,
        energy_edges=[1, 3, 10],
        correlate_off=correlate_off,
        **_onoff_arrays(ring["cube"]),
    )
    result = _compare(ours, gp_maps, f"wstat bands correlate_off={correlate_off}")
    assert result["max|dsig|"] <= SIG_TOL
    assert result["max rel dexcess"] <= REL_TOL and result["max rel dflux"] <= REL_TOL


def test_gammapy_reads_maps_and_peaks_agree(crab):
    ours = estimate_excess_maps(crab["ours"], correlation_radius=0.1)
    path = ours.write(crab["dir"] / "maps.fits")
    for name in ("sqrt_ts", "flux", "excess", "background"):
        m = Map.read(path, hdu=name)
        # stored as float32, as gammapy stores maps
        assert np.array_equal(m.data, ours[name].astype(np.float32), equal_nan=True)
    assert Map.read(path, hdu="flux").unit == u.Unit("cm-2 s-1")
    image = Map.read(path, hdu="sqrt_ts").slice_by_idx({"energy": 0})
    theirs = gp_find_peaks(image, threshold=3, min_distance="0.25 deg")
    mine = find_peaks(ours.image("sqrt_ts"), ours.sky, threshold=3, min_distance="0.25 deg")
    assert len(mine) == len(theirs) > 0
    assert np.array_equal(mine["x"], theirs["x"]) and np.array_equal(mine["y"], theirs["y"])
    assert np.allclose(mine["ra"], np.asarray(theirs["ra"]), atol=1e-9)
    assert np.allclose(mine["dec"], np.asarray(theirs["dec"]), atol=1e-9)
    assert np.array_equal(np.float32(mine["value"]), theirs["value"])  # theirs: the float32 file
