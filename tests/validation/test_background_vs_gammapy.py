"""dl3flow's FoV background normalisation and ring background against gammapy 1.3.

Fields (issue 6): the 4 H.E.S.S. Crab runs (23523, 23526, 23559, 23592) and the
PKS 2155-304 runs (every run of the observation index within 3 deg of
(329.717, -30.226)). Geometry: 5 deg ICRS/CAR with 0.02 deg pixels centred on the
target, reco energy 1-10 TeV (11 log bins), true energy 0.5-20 TeV (20 log bins);
per-observation cutouts of 2 x 2.5 deg, safe mask ``SafeMaskMaker(offset-max 2.5
deg)``, exclusion: a 0.3 deg circle around the target.

Both sides start from the same gammapy-made per-observation datasets
(``MapDatasetMaker`` + ``SafeMaskMaker``), which dl3flow reads from the files
gammapy writes. The Crab runs are also reduced by dl3flow itself
(``reduce_observation``) to check the full chain. The ring background runs on the
stack of the FoV-scaled Crab datasets, integrated over energy.

This work made use of data from the H.E.S.S. DL3 public test data release 1
(HESS DL3 DR1, H.E.S.S. collaboration, 2018).
"""

from dataclasses import replace

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import Table

gammapy = pytest.importorskip("gammapy")

from gammapy.data import DataStore as GpDataStore  # noqa: E402
from gammapy.datasets import MapDataset as GpMapDataset  # noqa: E402
from gammapy.datasets import MapDatasetOnOff as GpMapDatasetOnOff  # noqa: E402
from gammapy.makers import (  # noqa: E402
    FoVBackgroundMaker,
    MapDatasetMaker,
    RingBackgroundMaker,
    SafeMaskMaker,
)
from gammapy.maps import MapAxis, WcsGeom  # noqa: E402
from gammapy.modeling.models import PowerLawNormSpectralModel  # noqa: E402
from regions import CircleSkyRegion  # noqa: E402

from dl3flow.data.store import DataStore  # noqa: E402
from dl3flow.datasets.map import read_dataset  # noqa: E402
from dl3flow.datasets.onoff import read_dataset_onoff  # noqa: E402
from dl3flow.makers.background import normalize_background  # noqa: E402
from dl3flow.makers.map import reduce_observation  # noqa: E402
from dl3flow.makers.ring import ring_background  # noqa: E402
from dl3flow.maps.geom import DatasetGeom, EnergyAxis, SkyGeom  # noqa: E402

pytestmark = pytest.mark.validation

OFFSET_MAX = 2.5
EXCLUSION_RADIUS = 0.3
RING_R_IN, RING_WIDTH = 0.5 * u.deg, 0.3 * u.deg
CRAB = {"center": (83.633, 22.014), "obs_ids": [23523, 23526, 23559, 23592]}
PKS = {"center": (329.717, -30.226), "obs_ids": None}  # from the obs index


def _pks_obs_ids(hess_dr1):
    table = Table.read(hess_dr1 / "obs-index.fits.gz")
    pointings = SkyCoord(table["RA_PNT"], table["DEC_PNT"], unit="deg")
    near = pointings.separation(SkyCoord(*PKS["center"], unit="deg")) < 3 * u.deg
    return [int(i) for i in table["OBS_ID"][near]]


def _gp_norms(ds, exclusion, method):
    """gammapy's FoV norm (and tilt) for a copy of ``ds``; None if it failed."""
    kwargs = {}
    if method == "fit":
        model = PowerLawNormSpectralModel()
        model.tilt.frozen = False
        kwargs["spectral_model"] = model
    out = FoVBackgroundMaker(method=method, exclusion_mask=exclusion, **kwargs).run(
        ds.copy(name=ds.name)
    )
    if not out.mask_safe.data.any():
        return None
    spectral = out.models[f"{ds.name}-bkg"].spectral_model
    return {
        "norm": spectral.norm.value,
        "norm_err": spectral.norm.error,
        "tilt": spectral.tilt.value,
        "tilt_err": spectral.tilt.error,
        "dataset": out,
    }


def _field(hess_dr1, tmp_path, center, obs_ids):
    energy = MapAxis.from_energy_bounds(1, 10, 11, unit="TeV")
    energy_true = MapAxis.from_energy_bounds(0.5, 20, 20, unit="TeV", name="energy_true")
    gp_geom = WcsGeom.create(
        skydir=center, width=5, binsz=0.02, frame="icrs", proj="CAR", axes=[energy]
    )
    target = SkyCoord(*center, unit="deg")
    region = CircleSkyRegion(target, EXCLUSION_RADIUS * u.deg)
    gp_exclusion = ~gp_geom.to_image().region_mask([region])
    gp_stacked = GpMapDataset.create(gp_geom, energy_axis_true=energy_true, name="stacked")
    maker = MapDatasetMaker()
    safe = SafeMaskMaker(methods=["offset-max"], offset_max=OFFSET_MAX * u.deg)
    store = GpDataStore.from_dir(hess_dr1)
    per_obs = {}
    for obs in store.get_observations(obs_ids):
        cutout = gp_stacked.cutout(
            obs.get_pointing_icrs(obs.tmid), width=2 * OFFSET_MAX * u.deg, name=f"{obs.obs_id}"
        )
        ds = safe.run(maker.run(cutout, obs), obs)
        path = tmp_path / f"{obs.obs_id}.fits"
        ds.write(path)
        scale = _gp_norms(ds, gp_exclusion, "scale")
        per_obs[obs.obs_id] = {
            "gp": ds,
            "ours": read_dataset(path),
            "scale": scale,
            "fit": _gp_norms(ds, gp_exclusion, "fit"),
        }
        if scale is not None:
            gp_stacked.stack(scale["dataset"])
    parent = SkyGeom.create(center=center, width=5, binsz=0.02, frame="icrs", proj="CAR")
    assert parent.wcs.to_header() == gp_geom.wcs.to_header()
    return {
        "obs": per_obs,
        "exclusion": gp_exclusion.data.astype(bool),
        "parent": parent,
        "gp_exclusion": gp_exclusion,
        "gp_stacked": gp_stacked,
        "dir": tmp_path,
    }


@pytest.fixture(scope="module")
def fields(hess_dr1, tmp_path_factory):
    crab = _field(hess_dr1, tmp_path_factory.mktemp("crab"), CRAB["center"], CRAB["obs_ids"])
    pks = _field(hess_dr1, tmp_path_factory.mktemp("pks"), PKS["center"], _pks_obs_ids(hess_dr1))
    return {"crab": crab, "pks": pks}


@pytest.mark.parametrize("field", ["crab", "pks"])
def test_scale_norms_agree(fields, field):
    data = fields[field]
    worst = 0.0
    for obs_id, entry in data["obs"].items():
        ds, res = normalize_background(
            entry["ours"], data["exclusion"], exclusion_geom=data["parent"], method="scale"
        )
        theirs = entry["scale"]
        assert theirs is not None, obs_id
        assert res.status == "ok" and res.obs_id == obs_id, res
        rel = abs(res.norm / theirs["norm"] - 1)
        worst = max(worst, rel)
        assert rel < 1e-3, (obs_id, res.norm, theirs["norm"])
        assert res.norm_err == pytest.approx(theirs["norm_err"], rel=1e-3)
        np.testing.assert_allclose(
            ds.background, theirs["dataset"].npred_background().data, rtol=1e-5
        )
    print(f"{field}: {len(data['obs'])} runs, scale norm max rel diff {worst:.2e}")


def test_gammapy_reads_normalised_dataset(fields):
    """dataset_bkg.fits: background scaled, result in the header, gammapy opens it."""
    data = fields["crab"]
    entry = data["obs"][23523]
    for method, exclusion in (
        ("scale", data["exclusion"]),
        ("fit", np.zeros_like(data["exclusion"])),  # skipped (all excluded), kept unscaled
    ):
        ds, res = normalize_background(
            entry["ours"],
            exclusion,
            exclusion_geom=data["parent"],
            method=method,
            on_failure="keep_unscaled",
        )
        path = data["dir"] / f"bkg_{method}.fits"
        ds.write(path)
        gp = GpMapDataset.read(path)
        np.testing.assert_allclose(gp.background.data, ds.background, rtol=1e-6)
        assert read_dataset(path).meta["BKGSTAT"] == res.status


@pytest.mark.parametrize("field", ["crab", "pks"])
def test_fit_norms_and_tilts_agree(fields, field):
    data = fields[field]
    worst_norm = worst_tilt = worst_err = 0.0
    for obs_id, entry in data["obs"].items():
        _, res = normalize_background(
            entry["ours"], data["exclusion"], exclusion_geom=data["parent"], method="fit"
        )
        theirs = entry["fit"]
        assert theirs is not None, obs_id
        assert res.status == "ok", res
        d_norm = abs(res.norm - theirs["norm"]) / theirs["norm_err"]
        d_tilt = abs(res.tilt - theirs["tilt"]) / theirs["tilt_err"]
        worst_norm, worst_tilt = max(worst_norm, d_norm), max(worst_tilt, d_tilt)
        assert d_norm < 1 and d_tilt < 1, (obs_id, res, theirs)
        for name in ("norm_err", "tilt_err"):
            rel = abs(getattr(res, name) / theirs[name] - 1)
            worst_err = max(worst_err, rel)
            assert rel < 0.05, (obs_id, name, getattr(res, name), theirs[name])
    print(
        f"{field}: fit |d norm| <= {worst_norm:.2e} sigma, |d tilt| <= {worst_tilt:.2e} sigma, "
        f"errors max rel diff {worst_err:.2e}"
    )


def test_fit_with_frozen_tilt_agrees(fields):
    """gammapy's default pl-norm has the tilt frozen: norm only."""
    data = fields["crab"]
    for entry in data["obs"].values():
        _, res = normalize_background(
            entry["ours"],
            data["exclusion"],
            exclusion_geom=data["parent"],
            method="fit",
            fit_tilt=False,
        )
        out = FoVBackgroundMaker(method="fit", exclusion_mask=data["gp_exclusion"]).run(
            entry["gp"].copy(name=entry["gp"].name)
        )
        norm = out.models[f"{entry['gp'].name}-bkg"].spectral_model.norm
        assert res.tilt == 0 and np.isnan(res.tilt_err)
        assert abs(res.norm - norm.value) < 0.1 * norm.error
        assert res.norm_err == pytest.approx(norm.error, rel=0.02)


def test_full_dl3flow_chain_agrees(fields, hess_dr1):
    """dl3flow's own reduction + offset safe mask + exclusion -> same scale norms."""
    data = fields["crab"]
    geom = DatasetGeom.create(
        sky=SkyGeom.create(center=CRAB["center"], width=5, binsz=0.02, frame="icrs", proj="CAR"),
        energy=EnergyAxis.from_bounds(1 * u.TeV, 10 * u.TeV, 11, name="energy"),
        energy_true=EnergyAxis.from_bounds(0.5 * u.TeV, 20 * u.TeV, 20, name="energy_true"),
    )
    exclusion = geom.sky.separation(*CRAB["center"]) >= EXCLUSION_RADIUS
    store = DataStore.from_dir(hess_dr1)
    worst = {"scale": 0.0, "fit": 0.0}
    for obs_id in CRAB["obs_ids"]:
        obs = store.observation(obs_id)
        ds = reduce_observation(obs, geom=geom, offset_max=OFFSET_MAX, edisp=False, psf=False)
        inside = ds.geom.sky.separation(ds.meta["RA_PNT"], ds.meta["DEC_PNT"]) < OFFSET_MAX
        ds = replace(ds, mask_safe=np.broadcast_to(inside, ds.counts.shape))
        for method in ("scale", "fit"):
            _, res = normalize_background(
                ds, exclusion, exclusion_geom=geom.sky, method=method, fit_tilt=True
            )
            theirs = data["obs"][obs_id][method]
            assert res.status == "ok"
            if method == "scale":
                diff = abs(res.norm / theirs["norm"] - 1)
                assert diff < 1e-3, (obs_id, res.norm, theirs["norm"])
            else:
                diff = abs(res.norm - theirs["norm"]) / theirs["norm_err"]
                assert diff < 1, (obs_id, res, theirs)
                assert abs(res.tilt - theirs["tilt"]) < theirs["tilt_err"]
            worst[method] = max(worst[method], diff)
    print(
        f"full chain: scale max rel diff {worst['scale']:.2e}, "
        f"fit max |d norm| {worst['fit']:.2e} sigma"
    )


@pytest.fixture(scope="module")
def ring(fields):
    data = fields["crab"]
    gp_image = data["gp_stacked"].to_image()
    gp_ring = RingBackgroundMaker(
        r_in=RING_R_IN, width=RING_WIDTH, exclusion_mask=data["gp_exclusion"]
    ).run(gp_image)
    path = data["dir"] / "stacked_scaled.fits"
    data["gp_stacked"].write(path)
    ours = ring_background(read_dataset(path), data["exclusion"], r_in=RING_R_IN, width=RING_WIDTH)
    return {"gp": gp_ring, "ours": ours, "dir": data["dir"]}


def test_ring_counts_off_and_alpha_agree(ring):
    gp, ours = ring["gp"], ring["ours"]
    assert ours.counts.shape == gp.counts.data.shape == (1, 250, 250)
    np.testing.assert_array_equal(ours.counts, gp.counts.data)
    valid = gp.acceptance_off.data > 0
    assert valid.sum() > 10000
    np.testing.assert_array_equal(ours.acceptance_off > 0, valid)
    np.testing.assert_array_equal(ours.mask_safe, gp.mask_safe.data)
    worst = {}
    for name, theirs in (
        ("counts_off", gp.counts_off.data),
        ("alpha", gp.alpha.data),
        ("acceptance_off", gp.acceptance_off.data),
    ):
        mine = getattr(ours, name)
        nonzero = valid & (theirs != 0)
        rel = np.abs(mine[nonzero] / theirs[nonzero] - 1)
        worst[name] = rel.max()
        assert rel.max() < 5e-3, (name, rel.max())
        # where gammapy's value is 0, ours is (near) 0 too
        np.testing.assert_allclose(mine[valid & (theirs == 0)], 0, atol=1e-3)
    np.testing.assert_allclose(ours.acceptance, gp.acceptance.data, rtol=1e-5)
    print("ring max rel diff: " + ", ".join(f"{k} {v:.2e}" for k, v in worst.items()))


def test_gammapy_reads_our_ring_dataset(ring):
    path = ring["dir"] / "ring.fits"
    ours = ring["ours"]
    ours.write(path)
    gp = GpMapDatasetOnOff.read(path)
    np.testing.assert_array_equal(gp.counts.data, ours.counts)
    np.testing.assert_allclose(gp.counts_off.data, ours.counts_off)
    np.testing.assert_allclose(gp.acceptance.data, ours.acceptance)
    np.testing.assert_allclose(gp.acceptance_off.data, ours.acceptance_off)
    # alpha: gammapy's from the float32-stored acceptances, ours from float64
    mask = ours.mask_safe
    np.testing.assert_allclose(gp.alpha.data[mask], ours.alpha[mask], rtol=1e-6)
    np.testing.assert_array_equal(gp.mask_safe.data, ours.mask_safe)
    np.testing.assert_allclose(gp.exposure.data, ours.exposure, rtol=1e-6)
    back = read_dataset_onoff(path)
    np.testing.assert_array_equal(back.counts_off, ours.counts_off)
    assert back.meta["RING_RIN"] == pytest.approx(RING_R_IN.value)
    # and dl3flow reads gammapy's own on-off file
    gp_path = ring["dir"] / "ring_gammapy.fits"
    ring["gp"].write(gp_path)
    theirs = read_dataset_onoff(gp_path)
    np.testing.assert_allclose(theirs.counts_off, ring["gp"].counts_off.data)
