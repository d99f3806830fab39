"""Safe data-range masks on tiny synthetic datasets with known thresholds."""

import dataclasses
import logging
from types import SimpleNamespace

import _factories
import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table

from dl3flow.datasets.map import EDispKernelMap, MapDataset
from dl3flow.datasets.stacking import stack_datasets
from dl3flow.makers.safe import (
    SAFE_MASK_METHODS,
    SafeMask,
    energy_mask,
    make_safe_mask,
    rejected_safe_mask,
    with_safe_mask,
)
from dl3flow.makers.safe_io import read_safe_mask, safe_energy_table, write_safe_mask
from dl3flow.makers.safe_methods import (
    SafeMaskError,
    energy_range_aeff_default,
    energy_range_aeff_max,
    energy_range_bkg_peak,
    energy_range_edisp_bias,
    evaluation_position,
    mask_background_valid,
    mask_offset_max,
)
from dl3flow.maps.geom import DatasetGeom, EnergyAxis, SkyGeom

RECO = np.array([0.5, 1.0, 2.0, 4.0, 8.0])  # 4 bins, factor 2
TRUE = np.array([0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0])  # 6 bins, factor 2
POINTING = SkyCoord(10.0, 0.0, unit="deg")


def make_geom(true_edges=TRUE):
    return _factories.make_geom(
        center=(10.0, 0.0), width=5.0, binsz=0.5, energy=RECO, energy_true=true_edges
    )


def make_dataset(*, aeff=None, background=None, edisp=None, geom=None, livetime=100.0):
    """aeff: effective area per true bin (m2), the same in every pixel."""
    geom = geom or make_geom()
    n_t = geom.energy_true.nbin
    ny, nx = geom.sky.shape
    aeff = np.ones(n_t) if aeff is None else np.asarray(aeff, float)
    exposure = aeff[:, None, None] * livetime * np.ones((n_t, ny, nx))
    return _factories.make_dataset(
        geom,
        counts=1.0,
        exposure=exposure,
        background=1.0 if background is None else background,
        edisp=edisp,
        meta={"OBS_ID": 1, "LIVETIME": livetime},
    )


def make_observation(lo=1.0, hi=4.0, obs_id=1):
    return SimpleNamespace(
        obs_id=obs_id,
        aeff=SimpleNamespace(lo_threshold=lo, hi_threshold=hi),
        pointing=POINTING,
    )


# ------------------------------------------------------------------------ energy_mask


@pytest.mark.parametrize(
    ("energy_min", "energy_max", "expected"),
    [
        (None, None, [1, 1, 1, 1]),
        (1.0, None, [0, 1, 1, 1]),  # a threshold on an edge keeps the bin above it
        (1.1, None, [0, 0, 1, 1]),  # a bin straddling the threshold is dropped
        (None, 4.0, [1, 1, 1, 0]),
        (None, 3.9, [1, 1, 0, 0]),
        (0.7, 5.0, [0, 1, 1, 0]),
        (np.inf, None, [0, 0, 0, 0]),
    ],
)
def test_energy_mask(energy_min, energy_max, expected):
    result = energy_mask(RECO, energy_min=energy_min, energy_max=energy_max)
    np.testing.assert_array_equal(result, np.array(expected, dtype=bool))


# ---------------------------------------------------------------------- aeff-default


def test_aeff_default_thresholds():
    result = energy_range_aeff_default(SimpleNamespace(lo_threshold=1.0, hi_threshold=4.0))
    assert (result.energy_min, result.energy_max) == (1.0, 4.0)
    safe = make_safe_mask(make_dataset(), make_observation(), methods=["aeff-default"])
    np.testing.assert_array_equal(safe.mask.any(axis=(1, 2)), [False, True, True, False])
    assert safe.mask[1:3].all()
    assert (safe.energy_min, safe.energy_max) == (1.0, 4.0)
    assert safe.binned_range == (1.0, 4.0)


@pytest.mark.parametrize("missing", [None, 0.0])
def test_aeff_default_missing_threshold_warns_and_does_not_cut(caplog, missing):
    aeff = SimpleNamespace(lo_threshold=missing, hi_threshold=missing)
    with caplog.at_level(logging.WARNING, logger="dl3flow.makers.safe_methods"):
        result = energy_range_aeff_default(aeff, obs_id=7)
    assert result.energy_min is None and result.energy_max is None
    assert "No default lower safe energy threshold (LO_THRES) defined for obs 7" in caplog.text
    assert "HI_THRES" in caplog.text
    safe = make_safe_mask(
        make_dataset(), make_observation(lo=missing, hi=missing), methods=["aeff-default"]
    )
    assert safe.mask.all()
    assert safe.energy_min is None and safe.energy_max is None


# -------------------------------------------------------------------------- aeff-max


def test_aeff_max_power_law_threshold():
    """aeff = E^2 at the true centres: log-log interpolation is exact."""
    centers = EnergyAxis(TRUE, name="energy_true").centers
    ds = make_dataset(aeff=centers**2)
    result = energy_range_aeff_max(ds, aeff_percent=10, position=POINTING)
    expected = np.sqrt(0.1) * centers[-1]  # 10 % of max(E^2) = (sqrt(0.1) E_last)^2
    assert result.energy_min == pytest.approx(expected, rel=1e-9)
    safe = make_safe_mask(ds, make_observation(), methods=["aeff-max"], aeff_percent=10)
    # 3.58 TeV (true) applied to reco energy: only [4, 8] TeV is fully above it
    np.testing.assert_array_equal(safe.mask.any(axis=(1, 2)), [False, False, False, True])


@pytest.mark.parametrize(
    ("aeff", "expected"),
    [
        ([1, 1, 1, 1, 1, 1], 0.25),  # never below 10 %: lower edge of the first bin
        ([0, 1, 1, 1, 1, 1], 0.5),  # ... of the first bin with a positive aeff
    ],
)
def test_aeff_max_no_root_falls_back_to_lower_edge(aeff, expected):
    """Deliberate fix of gammapy #5834 (gammapy uses the bin centre)."""
    result = energy_range_aeff_max(make_dataset(aeff=aeff), aeff_percent=10, position=POINTING)
    assert result.energy_min == expected
    assert "everywhere" in result.note


def test_aeff_max_zero_aeff_gives_empty_mask():
    ds = make_dataset(aeff=np.zeros(6))
    result = energy_range_aeff_max(ds, aeff_percent=10, position=POINTING)
    assert result.energy_min == np.inf
    safe = make_safe_mask(ds, make_observation(), methods=["aeff-max"])
    assert not safe.mask.any()
    assert safe.binned_range is None


def test_aeff_max_evaluated_at_position_or_fixed_offset():
    """Exposure only in the western half (ix >= 5 has lon < 10): evaluation place matters."""
    ds = make_dataset()
    exposure = ds.exposure.copy()
    exposure[:, :, 5:] = 0.0
    ds = MapDataset(**{**ds.__dict__, "exposure": exposure})
    east = SkyCoord(11.5, 0.0, unit="deg")
    assert energy_range_aeff_max(ds, position=east).energy_min == 0.25
    west = SkyCoord(8.5, 0.0, unit="deg")
    assert energy_range_aeff_max(ds, position=west).energy_min == np.inf
    # fixed_offset goes north of the pointing: pixel column 5 (lon 9.75), no exposure
    where = evaluation_position(ds.geom.sky, pointing=POINTING, fixed_offset=1.0)
    assert where.separation(POINTING).deg == pytest.approx(1.0)
    assert where.dec.deg == pytest.approx(1.0)
    safe = make_safe_mask(ds, make_observation(), methods=["aeff-max"], position=east)
    assert safe.mask.all()
    assert safe.parameters["position"] == (11.5, 0.0, "icrs")


# ------------------------------------------------------------------------ edisp-bias


def bias_kernel(p_same, geom):
    """True bin i -> reco bin i with probability p, bin i + 1 otherwise (same edges)."""
    n = geom.energy.nbin
    ny, nx = geom.irf_sky.shape
    kernel = np.zeros((n, n, ny, nx))
    for i, p in enumerate(p_same):
        kernel[i, i] = p
        if i + 1 < n:
            kernel[i, i + 1] = 1 - p
    return EDispKernelMap(kernel=kernel, exposure=np.ones((n, 1, ny, nx)))


def test_edisp_bias_threshold():
    geom = make_geom(true_edges=RECO)
    # bias = (1 - p) since the next bin's centre is twice as high: [0.5, 0.3, 0.05, 0]
    ds = make_dataset(geom=geom, aeff=np.ones(4), edisp=bias_kernel([0.5, 0.7, 0.95, 1.0], geom))
    centers = geom.energy_true.centers
    t = (np.log(0.1) - np.log(0.3)) / (np.log(0.05) - np.log(0.3))  # log-log interpolation
    expected_true = centers[1] * 2**t
    result = energy_range_edisp_bias(ds, bias_percent=10, position=POINTING)
    assert result.energy_min == pytest.approx(expected_true * 1.1, rel=1e-9)
    safe = make_safe_mask(ds, make_observation(), methods=["edisp-bias"], bias_percent=10)
    # threshold 2.16 TeV (true) * 1.1 = 2.38 TeV (reco): only [4, 8] TeV is safe
    np.testing.assert_array_equal(safe.mask.any(axis=(1, 2)), [False, False, False, True])


def test_edisp_bias_without_crossing_uses_peak():
    geom = make_geom(true_edges=RECO)
    ds = make_dataset(geom=geom, aeff=np.ones(4), edisp=bias_kernel([0.5, 0.6, 0.7, 1.0], geom))
    # bias [0.5, 0.4, 0.3, 0]: peaks in the first bin and never reaches 60 %
    result = energy_range_edisp_bias(ds, bias_percent=60, position=POINTING)
    # never 60 %: the search start, the (first) peak-bias true energy, times 1.6
    assert result.energy_min == pytest.approx(geom.energy_true.centers[0] * 1.6)
    assert "never" in result.note


def test_edisp_bias_needs_edisp():
    with pytest.raises(SafeMaskError, match="'edisp-bias' needs an edisp kernel map"):
        make_safe_mask(make_dataset(), make_observation(), methods=["edisp-bias"])


# -------------------------------------------------------------------------- bkg-peak


@pytest.mark.parametrize(("peak", "expected"), [(2, [0, 0, 1, 1]), (0, [1, 1, 1, 1])])
def test_bkg_peak_keeps_the_peak_bin(peak, expected):
    """The peak bin is kept: a peak in the first bin cuts nothing (gammapy #3851)."""
    background = np.ones((4, 10, 10))
    background[peak] = 5.0
    ds = make_dataset(background=background)
    assert energy_range_bkg_peak(ds).energy_min == RECO[peak]
    safe = make_safe_mask(ds, make_observation(), methods=["bkg-peak"])
    np.testing.assert_array_equal(safe.mask.all(axis=(1, 2)), np.array(expected, dtype=bool))


# ------------------------------------------------------------- offset-max, bkg-valid


def test_offset_max():
    geom = make_geom()
    mask = mask_offset_max(geom.sky, pointing=POINTING, offset_max=1.6)
    lon, lat = geom.sky.pixel_centers()
    expected = SkyCoord(lon, lat, unit="deg").separation(POINTING).deg < 1.6
    np.testing.assert_array_equal(mask, expected)
    assert 0 < mask.sum() < mask.size
    safe = make_safe_mask(
        make_dataset(), make_observation(), methods=["offset-max"], offset_max=1.6
    )
    np.testing.assert_array_equal(safe.mask, np.broadcast_to(expected, safe.mask.shape))


@pytest.mark.parametrize("offset_max", [0.0, -1.0])
def test_offset_max_must_be_positive(offset_max):
    with pytest.raises(SafeMaskError, match="offset_max must be positive"):
        mask_offset_max(make_geom().sky, pointing=POINTING, offset_max=offset_max)
    with pytest.raises(SafeMaskError, match="offset_max must be positive"):
        make_safe_mask(make_dataset(), make_observation(), offset_max=offset_max)


def test_invalid_background_is_always_unsafe():
    background = np.ones((4, 10, 10))
    background[0, 0, 0] = np.nan
    background[1, 0, 1] = 0.0
    background[2, 0, 2] = -1.0
    ds = make_dataset(background=background)
    valid = mask_background_valid(ds)
    assert valid.sum() == valid.size - 3
    safe = make_safe_mask(ds, make_observation(lo=None, hi=None), methods=[])
    np.testing.assert_array_equal(safe.mask, valid)


# ----------------------------------------------------------------------- combination


def test_methods_combine_with_and():
    background = np.ones((4, 10, 10))
    background[2] = 5.0
    ds = make_dataset(background=background)
    obs = make_observation(lo=1.0, hi=None)
    parts = [
        make_safe_mask(ds, obs, methods=[m], offset_max=1.6).mask
        for m in ("aeff-default", "bkg-peak", "offset-max")
    ]
    safe = make_safe_mask(
        ds, obs, methods=["offset-max", "bkg-peak", "aeff-default"], offset_max=1.6
    )
    np.testing.assert_array_equal(safe.mask, parts[0] & parts[1] & parts[2])
    assert safe.methods == ("aeff-default", "offset-max", "bkg-peak")  # SAFE_MASK_METHODS order
    assert safe.energy_min == 2.0 and safe.energy_max is None
    assert set(safe.details) == {"aeff-default", "offset-max", "bkg-peak"}
    assert safe.details["offset-max"].note == "offset < 1.6 deg from the pointing"
    assert ds.mask_safe.all()  # input untouched


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"methods": ["aeff-min"]}, r"unknown safe-mask method\(s\) 'aeff-min'"),
        ({"methods": "aeff-max"}, "methods must be a list"),
        ({"aeff_percent": 101}, r"aeff_percent must be within \[0, 100\], got 101"),
        ({"bias_percent": -1}, r"bias_percent must be within \[0, 100\], got -1"),
        (
            {"position": POINTING, "fixed_offset": 0.5},
            "position and fixed_offset are mutually exclusive",
        ),
    ],
)
def test_make_safe_mask_errors(kwargs, match):
    with pytest.raises(SafeMaskError, match=match):
        make_safe_mask(make_dataset(), make_observation(), **kwargs)


def test_evaluation_position_errors():
    sky = make_geom().sky
    with pytest.raises(SafeMaskError, match="mutually exclusive"):
        evaluation_position(sky, position=POINTING, fixed_offset=1.0)
    with pytest.raises(SafeMaskError, match="fixed_offset needs the observation's pointing"):
        evaluation_position(sky, fixed_offset=1.0)
    assert evaluation_position(sky).separation(sky.center_skydir).deg < 1e-12


def test_safe_mask_shape_checked():
    geom = make_geom()
    with pytest.raises(
        SafeMaskError, match=r"mask has shape \(1, 2\), geometry needs \(4, 10, 10\)"
    ):
        SafeMask(mask=np.ones((1, 2)), sky=geom.sky, energy=geom.energy, methods=())


def test_all_methods_listed():
    assert SAFE_MASK_METHODS == ("aeff-default", "aeff-max", "edisp-bias", "offset-max", "bkg-peak")


# ------------------------------------------------------------------------------- I/O


def test_write_read_round_trip(tmp_path):
    ds = make_dataset()
    safe = make_safe_mask(
        ds,
        make_observation(),
        methods=["aeff-default", "aeff-max", "offset-max"],
        fixed_offset=0.5 * u.deg,
        offset_max=2.0,
    )
    path = write_safe_mask(safe, tmp_path / "mask_safe.fits", provenance={"DATASET": "d.fits"})
    back = read_safe_mask(path)
    np.testing.assert_array_equal(back.mask, safe.mask)
    assert back.methods == safe.methods
    assert (back.energy_min, back.energy_max) == (safe.energy_min, safe.energy_max)
    assert back.details == safe.details
    assert back.parameters == safe.parameters
    assert back.obs_id == 1
    np.testing.assert_array_equal(back.energy.edges, RECO)
    header = fits.getheader(path, 0)
    assert header["METHODS"] == "aeff-default,aeff-max,offset-max"
    assert header["E_MIN"] == safe.energy_min and header["E_MAX"] == 4.0
    assert header["EBIN_MIN"] == 1.0 and header["OFFSETMX"] == 2.0
    assert header["FIXOFFST"] == 0.5 and header["DATASET"] == "d.fits"
    assert fits.getheader(path, "MASK_SAFE")["BANDSHDU"] == "MASK_SAFE_BANDS"
    assert not list(tmp_path.glob("*.tmp"))
    with pytest.raises(FileExistsError, match="exists; pass overwrite=True"):
        write_safe_mask(safe, path)
    write_safe_mask(safe, path, overwrite=True)


def test_write_read_empty_and_uncut(tmp_path):
    safe = make_safe_mask(make_dataset(aeff=np.zeros(6)), make_observation(), methods=["aeff-max"])
    back = read_safe_mask(write_safe_mask(safe, tmp_path / "a.fits"))
    assert back.energy_min == np.inf and back.energy_max is None
    assert fits.getheader(tmp_path / "a.fits")["EBIN_MIN"] == "none"


def test_a_rejected_observations_mask_is_empty_flagged_and_left_out_of_the_table(tmp_path):
    from dl3flow.datasets.rejection import Rejection

    rejection = Rejection(obs_id=9, stage="events", reason="obs 9: truncated", error="E")
    safe = rejected_safe_mask(make_dataset(), rejection, methods=("aeff-default",))
    assert not safe.mask.any() and safe.obs_id == 9 and safe.methods == ("aeff-default",)
    back = read_safe_mask(write_safe_mask(safe, tmp_path / "mask_safe.fits"))
    assert back.rejection == rejection and not back.mask.any()
    assert fits.getheader(tmp_path / "mask_safe.fits")["STATUS"] == "REJECTED"
    ok = make_safe_mask(make_dataset(), make_observation(), methods=["aeff-default"])
    assert ok.rejection is None
    assert list(safe_energy_table([ok, back])["obs_id"]) == [1]


def test_read_rejects_other_files(tmp_path):
    path = tmp_path / "other.fits"
    fits.HDUList([fits.PrimaryHDU()]).writeto(path)
    with pytest.raises(SafeMaskError, match="not a dl3flow safe-mask file"):
        read_safe_mask(path)


# ------------------------------------------------------------------ table, stacking


def test_safe_energy_table():
    obs = [make_observation(lo=1.0, obs_id=1), make_observation(lo=None, hi=None, obs_id=2)]
    masks = [
        make_safe_mask(make_dataset(), o, methods=["aeff-default", "offset-max"], offset_max=2.0)
        for o in obs
    ]
    observations = Table({"OBS_ID": [2, 1], "ZEN_PNT": [30.0, 20.0] * u.deg})
    table = safe_energy_table(masks, observations)
    assert list(table["obs_id"]) == [1, 2]
    assert list(table["methods"]) == ["aeff-default,offset-max"] * 2
    assert table["energy_min"][0] == 1.0 and np.isnan(table["energy_min"][1])
    assert table["energy_min_binned"][0] == 1.0 and table["energy_min_binned"][1] == 0.5
    assert list(table["offset_max"]) == [2.0, 2.0]
    assert list(table["zenith"]) == [20.0, 30.0]
    assert table["energy_min"].unit == u.TeV and table["zenith"].unit == u.deg
    no_zenith = safe_energy_table(masks[:1])
    assert np.isnan(no_zenith["zenith"][0])
    assert len(safe_energy_table([])) == 0


def test_stacking_respects_safe_masks():
    ds = make_dataset()
    safe = make_safe_mask(ds, make_observation(lo=1.0, hi=4.0), methods=["aeff-default"])
    masked = with_safe_mask(ds, safe)
    assert ds.mask_safe.all() and not masked.mask_safe[0].any()
    stacked = stack_datasets([masked, masked], geom=make_geom())
    np.testing.assert_array_equal(stacked.counts.sum(axis=(1, 2)), [0, 200, 200, 0])


def test_with_safe_mask_checks_geometry():
    ds = make_dataset()
    other = DatasetGeom.create(
        sky=SkyGeom.create(center=(10.0, 0.0), width=4.0, binsz=0.5),
        energy=EnergyAxis(RECO, name="energy"),
        energy_true=EnergyAxis(TRUE, name="energy_true"),
    )
    safe = SafeMask(
        mask=np.ones((4, 8, 8), dtype=bool),
        sky=other.sky,
        energy=other.energy,
        methods=(),
        obs_id=3,
    )
    with pytest.raises(SafeMaskError, match="safe mask of obs 3 does not match the geometry"):
        with_safe_mask(ds, safe)


def test_the_safe_mask_needs_only_the_reduced_dataset():
    """The reduction records pointing and default range: no second read of the DL3 file."""
    from dl3flow.makers.safe import DatasetObservation

    ds = make_dataset()
    meta = {"OBS_ID": 1, "RA_PNT": 10.0, "DEC_PNT": 0.0, "AEFF_LO": 1.0, "AEFF_HI": "none"}
    ds = dataclasses.replace(ds, meta=meta)
    observation = DatasetObservation.from_dataset(ds)
    assert (observation.aeff.lo_threshold, observation.aeff.hi_threshold) == (1.0, None)
    methods = ["aeff-default", "offset-max"]
    from_dataset = make_safe_mask(ds, observation, methods=methods, offset_max=2.0)
    direct = make_safe_mask(ds, make_observation(lo=1.0, hi=None), methods=methods, offset_max=2.0)
    np.testing.assert_array_equal(from_dataset.mask, direct.mask)
    assert from_dataset.details == direct.details
    older = dataclasses.replace(ds, meta={"OBS_ID": 1, "RA_PNT": 10.0, "DEC_PNT": 0.0})
    with pytest.raises(SafeMaskError, match=r"lacks AEFF_LO, AEFF_HI in its meta .*reduce the"):
        DatasetObservation.from_dataset(older)
