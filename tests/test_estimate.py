"""Excess, significance and flux maps on tiny synthetic datasets; peaks; maps files."""

import math

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from dl3flow.datasets.map import EDispKernelMap, MapDataset
from dl3flow.estimators.correlation import band_indices, correlate, resample_energy, tophat_kernel
from dl3flow.estimators.excess import (
    REFERENCE_AMPLITUDE,
    edisp_kernel_center,
    estimate_excess_maps,
    estimate_excess_maps_onoff,
    exposure_reco,
    power_law_integral,
)
from dl3flow.estimators.maps import MAP_UNITS, EstimateError, read_maps, write_maps
from dl3flow.estimators.peaks import PEAK_COLUMNS, PeaksError, find_peaks, write_peaks
from dl3flow.maps.geom import DatasetGeom, EnergyAxis, SkyGeom
from dl3flow.stats import CashCounts, WStatCounts

EDGES = np.array([1.0, 2.0, 4.0, 8.0])


def _sky(n=15, binsz=0.1):
    return SkyGeom.create(center=(83.6, 22.0), width=n * binsz, binsz=binsz)


def _geom(n=15, binsz=0.1):
    return DatasetGeom.create(
        sky=_sky(n, binsz),
        energy=EnergyAxis(EDGES, name="energy"),
        energy_true=EnergyAxis(EDGES, name="energy_true"),
        binsz_irf=0.5,
    )


def _dataset(*, counts=1.0, background=1.0, exposure=1e9, edisp="diagonal", mask=None):
    geom = _geom()
    shape = (3, *geom.sky.shape)
    ny, nx = geom.irf_sky.shape
    kwargs = {}
    if edisp == "diagonal":
        kernel = np.zeros((3, 3, ny, nx))
        kernel[np.arange(3), np.arange(3)] = 1.0
        kwargs["edisp"] = EDispKernelMap(kernel=kernel, exposure=np.ones((3, 1, ny, nx)))
    return MapDataset(
        geom=geom,
        counts=np.broadcast_to(counts, shape).copy(),
        exposure=np.full(shape, exposure),
        background=np.broadcast_to(background, shape).copy(),
        mask_safe=np.ones(shape, bool) if mask is None else mask,
        **kwargs,
    )


# ----------------------------------------------------------------------------- kernel


def test_tophat_kernel_includes_the_boundary():
    kernel = tophat_kernel(0.1, _sky(binsz=0.02))
    assert kernel.shape == (11, 11)
    assert kernel.max() == 1.0 and set(np.unique(kernel)) == {0.0, 1.0}
    # pixel centres with x^2 + y^2 <= 25: 81 of them, (5, 0) and (3, 4) included
    assert kernel.sum() == 81
    assert kernel[5, 10] == 1.0 and kernel[5 + 3, 5 + 4] == 1.0 and kernel[0, 0] == 0.0


def test_tophat_kernel_accepts_quantities():
    a = tophat_kernel(0.1 * u.deg, _sky(binsz=0.02))
    b = tophat_kernel("6 arcmin", _sky(binsz=0.02))
    assert np.array_equal(a, b)


@pytest.mark.parametrize("radius", [0, -0.1])
def test_tophat_kernel_rejects_non_positive_radius(radius):
    with pytest.raises(EstimateError, match="correlation_radius must be positive"):
        tophat_kernel(radius, _sky())


def test_tophat_kernel_rejects_non_angles():
    with pytest.raises(EstimateError, match="correlation_radius: expected an angle"):
        tophat_kernel(1 * u.TeV, _sky())


# ------------------------------------------------------------------------- correlation


def test_correlate_sums_over_the_disc():
    kernel = tophat_kernel(0.1, _sky())  # radius 1 pixel: a plus of 5 pixels
    assert kernel.sum() == 5
    image = np.zeros((1, 7, 7))
    image[0, 3, 3] = 2.0
    image[0, 0, 0] = 1.0
    out = correlate(image, kernel, integer=True)
    assert out[0, 3, 3] == 2 and out[0, 2, 3] == 2 and out[0, 3, 4] == 2
    assert out[0, 2, 2] == 0 and out[0, 0, 1] == 1 and out[0, 1, 0] == 1
    assert out.sum() == 2 * 5 + 1 * 3  # the corner loses two neighbours outside the image
    # exact zeros away from any input, no negative FFT noise
    real = correlate(image * 0.1, kernel)
    assert real[0, 6, 6] == 0.0 and np.all(real >= 0)
    assert real[0, 3, 3] == pytest.approx(0.2, rel=1e-12)


@pytest.mark.parametrize(
    ("images", "kernel", "match"),
    [
        (np.full((3, 3), -1.0), np.ones((3, 3)), "finite, non-negative"),
        (np.full((3, 3), np.nan), np.ones((3, 3)), "finite, non-negative"),
        (np.ones((3, 3)), np.ones(3), "2D kernel"),
    ],
)
def test_correlate_rejects_bad_input(images, kernel, match):
    with pytest.raises(EstimateError, match=match):
        correlate(images, kernel)


# ----------------------------------------------------------------------- energy bands


def test_band_indices():
    assert list(band_indices(EDGES)) == [0, 3]
    assert list(band_indices(EDGES, [1, 4, 8])) == [0, 2, 3]
    # gammapy: an edge inside a bin starts the band at that bin
    assert list(band_indices(EDGES, [1.5, 8])) == [0, 3]
    assert list(band_indices(EDGES, [1, 3, 8] * u.TeV)) == [0, 1, 3]
    # round-off near a dataset edge does not shift a band
    assert list(band_indices(EDGES * (1 + 1e-15), [1, 4, 8])) == [0, 2, 3]
    assert list(band_indices(EDGES, [1, 4 * (1 - 1e-12), 8 * (1 + 1e-9)])) == [0, 2, 3]


@pytest.mark.parametrize(
    ("band", "match"),
    [
        ([4, 2], "increasing"),
        ([4], "increasing"),
        ([0.5, 4], "exceed the dataset energy axis"),
        ([1, 9], "exceed the dataset energy axis"),
        ([1, 1.5, 8], "contains no dataset bin"),
    ],
)
def test_band_indices_errors(band, match):
    with pytest.raises(EstimateError, match=match):
        band_indices(EDGES, band)


def test_resample_energy():
    data = np.arange(3.0)[:, None, None] * np.ones((3, 2, 2)) + 1  # 1, 2, 3
    weights = np.ones((3, 2, 2), bool)
    weights[2, 0, 0] = False
    out = resample_energy(data, [0, 1, 3], weights=weights)
    assert out.shape == (2, 2, 2)
    assert out[0, 1, 1] == 1 and out[1, 1, 1] == 5 and out[1, 0, 0] == 2
    mask = resample_energy(weights, [0, 3], reduce="or")
    assert mask.dtype == bool and mask.all()
    with pytest.raises(EstimateError, match="reduce must be 'sum' or 'or'"):
        resample_energy(data, [0, 3], reduce="max")


# --------------------------------------------------------------------------- exposure


def test_power_law_integral():
    # index 2: A (1/E1 - 1/E2) TeV ; index 1: A ln(E2 / E1)
    assert power_law_integral(1.0, 2.0, index=2) == pytest.approx(0.5e-12, rel=1e-14)
    assert power_law_integral(1.0, 10.0, index=1) == pytest.approx(1e-12 * math.log(10), rel=1e-14)
    assert power_law_integral(1.0, 4.0, index=3, amplitude=2.0) == pytest.approx(
        2.0 / 2 * (1 - 1 / 16), rel=1e-14
    )


def test_exposure_reco_diagonal_edisp():
    ds = _dataset(exposure=2e9)
    npred = exposure_reco(ds, spectral_index=2.0)
    lo, hi = EDGES[:-1], EDGES[1:]
    expected = 2e9 * 1e4 * REFERENCE_AMPLITUDE * (1 / lo - 1 / hi)  # m2 s * cm-2 s-1 * 1e4
    assert np.allclose(npred[:, 3, 4], expected, rtol=1e-13)
    # without an edisp map and with identical axes: the same
    assert np.allclose(exposure_reco(_dataset(exposure=2e9, edisp=None)), npred, rtol=1e-13)


def test_exposure_reco_needs_edisp_for_different_axes():
    ds = _dataset(edisp=None)
    geom = DatasetGeom.create(
        sky=ds.geom.sky,
        energy=ds.geom.energy,
        energy_true=EnergyAxis(np.array([0.5, 1, 2, 4, 8, 16.0]), name="energy_true"),
    )
    shape = (5, *geom.sky.shape)
    ds = MapDataset(
        geom=geom,
        counts=ds.counts,
        exposure=np.ones(shape),
        background=ds.background,
        mask_safe=ds.mask_safe,
    )
    with pytest.raises(EstimateError, match="no energy dispersion and its true and reconstructed"):
        exposure_reco(ds)


def test_edisp_kernel_center_uses_the_centre_or_the_nearest_valid_pixel():
    ds = _dataset()
    ny, nx = ds.geom.irf_sky.shape
    kernel = np.zeros((3, 3, ny, nx))
    for iy in range(ny):
        for ix in range(nx):
            kernel[0, 0, iy, ix] = 10 * iy + ix + 1
    centre = (ny // 2, nx // 2)  # odd sizes: the centre pixel
    assert (ny % 2, nx % 2) == (1, 1)
    edisp = EDispKernelMap(kernel=kernel, exposure=np.ones((3, 1, ny, nx)))
    ds2 = MapDataset(**{**_fields(ds), "edisp": edisp})
    assert edisp_kernel_center(ds2)[0, 0] == kernel[0, 0][centre]
    kernel[:, :, centre[0], centre[1]] = 0.0
    ds3 = MapDataset(**{**_fields(ds), "edisp": EDispKernelMap(kernel, edisp.exposure)})
    value = edisp_kernel_center(ds3)[0, 0]
    neighbours = {
        kernel[0, 0, centre[0] + dy, centre[1] + dx]
        for dy, dx in ((0, 1), (1, 0), (0, -1), (-1, 0))
    }
    assert value in neighbours


def test_edisp_kernel_center_needs_edisp():
    with pytest.raises(EstimateError, match="no energy-dispersion kernel map"):
        edisp_kernel_center(_dataset(edisp=None))


def _fields(ds):
    return {
        "geom": ds.geom,
        "counts": ds.counts,
        "exposure": ds.exposure,
        "background": ds.background,
        "mask_safe": ds.mask_safe,
        "edisp": ds.edisp,
    }


# ------------------------------------------------------------------------ Cash maps


def test_excess_maps_cash_hand_values():
    counts = np.ones((3, 15, 15))
    counts[:, 7, 7] = 11.0  # 10 extra counts per bin in the centre pixel
    ds = _dataset(counts=counts, background=1.0, exposure=1e9)
    maps = estimate_excess_maps(ds, correlation_radius=0.1)  # radius 1 pixel: 5 pixels
    assert list(maps.energy_edges) == [1.0, 8.0]
    # centre: n_on = 3 bins * (5 + 10), background 3 * 5
    # (counts are rounded to integers, the FFT-correlated background is not)
    assert maps["counts"][0, 7, 7] == 45
    assert maps["background"][0, 7, 7] == pytest.approx(15, rel=1e-12)
    assert maps["excess"][0, 7, 7] == pytest.approx(30, rel=1e-12)
    ts = 2 * (45 * math.log(45 / 15) - 30)
    assert maps["sqrt_ts"][0, 7, 7] == pytest.approx(math.sqrt(ts), rel=1e-12)
    assert maps["ts"][0, 7, 7] == pytest.approx(ts, rel=1e-12)
    # far from the spike: nothing
    assert maps["sqrt_ts"][0, 2, 2] == pytest.approx(0.0, abs=1e-6)
    # corner: 3 pixels in the disc
    assert maps["counts"][0, 0, 0] == 9
    assert maps["background"][0, 0, 0] == pytest.approx(9, rel=1e-12)
    # flux: the exposure-weighted reference counts are uniform, so exposure (cm2 s)
    # is 1e9 m2 s = 1e13 cm2 s and the flux the excess / 1e13
    assert np.allclose(maps["exposure"][0], 1e13, rtol=1e-12)
    assert maps["flux"][0, 7, 7] == pytest.approx(30 / 1e13, rel=1e-12)
    assert maps["flux_err"][0, 7, 7] == pytest.approx(math.sqrt(45) / 1e13, rel=1e-12)
    ul = CashCounts(45, 15).upper_limit(2.0)
    assert maps["flux_ul"][0, 7, 7] == pytest.approx(ul / 1e13, rel=1e-12)
    assert maps.meta["STAT"] == "cash" and maps.meta["CORR_RAD"] == 0.1
    assert maps["mask"].all()
    assert maps.image("sqrt_ts").shape == (15, 15)


def test_excess_maps_cash_bands_mask_and_options():
    mask = np.ones((3, 15, 15), bool)
    mask[:, :, :3] = False  # left columns unsafe in every bin
    mask[2, :, 10:] = False  # highest bin unsafe on the right
    ds = _dataset(counts=2.0, background=1.0, mask=mask)
    maps = estimate_excess_maps(
        ds, correlation_radius=0.1, energy_edges=[1, 2, 8], n_sigma=2.0, errn_errp=True
    )
    assert list(maps.energy_edges) == [1.0, 2.0, 8.0]
    assert maps["counts"].shape == (2, 15, 15)
    for name in maps.names:
        if name != "mask":
            assert np.all(np.isnan(maps[name][:, :, :3]))
    # the right part of band 2 has only the 2-4 TeV bin
    assert maps["counts"][1, 7, 12] == 2 * 5 and maps["counts"][1, 7, 6] == 4 * 5
    stat = CashCounts(10, 5)
    assert maps["flux_err"][1, 7, 12] == pytest.approx(
        2 * stat.error / maps["exposure"][1, 7, 12], rel=1e-12
    )
    assert maps["flux_errn"][1, 7, 12] == pytest.approx(
        stat.errn(2.0) / maps["exposure"][1, 7, 12], rel=1e-12
    )
    assert maps["flux_errp"][1, 7, 12] > 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_sigma": 0}, "n_sigma must be a positive number"),
        ({"n_sigma_ul": -1}, "n_sigma_ul must be a positive number"),
        ({"spectral_index": np.nan}, "spectral_index must be finite"),
        ({"correlation_radius": 0}, "correlation_radius must be positive"),
        ({"energy_edges": [0.1, 1]}, "exceed the dataset energy axis"),
    ],
)
def test_excess_maps_option_errors(kwargs, match):
    with pytest.raises(EstimateError, match=match):
        estimate_excess_maps(_dataset(), **kwargs)


def test_excess_maps_getitem_error():
    maps = estimate_excess_maps(_dataset())
    with pytest.raises(KeyError, match="no map 'nope'"):
        maps["nope"]


# ------------------------------------------------------------------------ WStat maps


def _onoff(**overrides):
    shape = (3, 15, 15)
    arrays = {
        "counts": np.full(shape, 2.0),
        "counts_off": np.full(shape, 8.0),
        "acceptance": np.ones(shape),
        "acceptance_off": np.full(shape, 4.0),
    }
    arrays.update(overrides)
    return arrays


def test_excess_maps_onoff_hand_values():
    arrays = _onoff()
    arrays["counts"][:, 7, 7] = 12.0
    maps = estimate_excess_maps_onoff(
        sky=_sky(), energy_edges_dataset=EDGES, correlation_radius=0.1, correlate_off=True, **arrays
    )
    # centre: n_on = 3 * (4 * 2 + 12) = 60; n_off = 3 * 5 * 8 = 120; alpha = 0.25
    assert maps["counts"][0, 7, 7] == 60
    assert maps["background"][0, 7, 7] == pytest.approx(30, rel=1e-12)
    ts = 2 * (60 * math.log(5 * 60 / 180) + 120 * math.log(1.25 * 120 / 180))
    assert maps["sqrt_ts"][0, 7, 7] == pytest.approx(math.sqrt(ts), rel=1e-10)
    assert maps["sqrt_ts"][0, 2, 2] == pytest.approx(0.0, abs=1e-6)
    assert "flux" not in maps.names  # no exposure given
    assert maps.meta["STAT"] == "wstat" and maps.meta["CORR_OFF"] is True


def test_excess_maps_onoff_uncorrelated_off_and_flux():
    arrays = _onoff()
    exposure = np.full((3, 15, 15), 5.0)  # reference-model counts per bin
    maps = estimate_excess_maps_onoff(
        sky=_sky(),
        energy_edges_dataset=EDGES,
        correlation_radius=0.1,
        correlate_off=False,
        exposure_reco=exposure,
        **arrays,
    )
    # n_off not correlated: 3 * 8; alpha = correlated acceptance / acceptance_off = 5 * 3 / 12
    stat = WStatCounts(30, 24, 15 / 12)
    assert maps["sqrt_ts"][0, 7, 7] == pytest.approx(float(stat.sqrt_ts), rel=1e-10, abs=1e-12)
    ref = power_law_integral(1.0, 8.0, index=2.0)
    assert maps["exposure"][0, 7, 7] == pytest.approx(15 / ref, rel=1e-12)
    assert maps["flux_ul"][0, 7, 7] == pytest.approx(
        float(stat.upper_limit(2.0)) / (15 / ref), rel=1e-9
    )


def test_excess_maps_onoff_zero_acceptance_off():
    arrays = _onoff()
    arrays["acceptance_off"][:, :, :5] = 0.0  # no ring: alpha 0, background 0
    arrays["counts_off"][:, :, :5] = 0.0
    maps = estimate_excess_maps_onoff(
        sky=_sky(), energy_edges_dataset=EDGES, correlation_radius=0.1, **arrays
    )
    assert maps["background"][0, 7, 1] == 0.0 or np.isnan(maps["background"][0, 7, 1])
    assert np.isfinite(maps["sqrt_ts"][0, 7, 10])


def test_excess_maps_onoff_shape_error():
    arrays = _onoff(counts=np.ones((2, 15, 15)))
    with pytest.raises(
        EstimateError, match=r"counts has shape \(2, 15, 15\), expected \(3, 15, 15\)"
    ):
        estimate_excess_maps_onoff(sky=_sky(), energy_edges_dataset=EDGES, **arrays)


def test_excess_maps_onoff_option_error():
    with pytest.raises(EstimateError, match="n_sigma must be a positive number"):
        estimate_excess_maps_onoff(sky=_sky(), energy_edges_dataset=EDGES, n_sigma=-1, **_onoff())


# ----------------------------------------------------------------------------- files


def test_write_and_read_maps(tmp_path):
    maps = estimate_excess_maps(_dataset(counts=2.0), energy_edges=[1, 2, 8])
    path = maps.write(tmp_path / "stacked" / "maps.fits", meta={"ANALYSIS": "crab"})
    with fits.open(path) as hdul:
        names = [h.name for h in hdul]
        assert names[0] == "PRIMARY" and names[-1] == "BANDS"
        assert "SQRT_TS" in names and "FLUX" in names
        assert hdul["FLUX"].header["BUNIT"] == MAP_UNITS["flux"]
        assert hdul["FLUX"].header["BANDSHDU"] == "BANDS"
        assert hdul[0].header["STAT"] == "cash" and hdul[0].header["ANALYSIS"] == "crab"
        bands = Table.read(hdul["BANDS"])
        assert list(bands["E_MIN"]) == [1.0, 2.0] and list(bands["E_MAX"]) == [2.0, 8.0]
    back = read_maps(path)
    assert back.names == maps.names
    # stored as float32, as gammapy stores maps
    assert np.array_equal(back["sqrt_ts"], maps["sqrt_ts"].astype(np.float32), equal_nan=True)
    assert back["mask"].dtype == bool
    assert np.allclose(back.energy_edges, [1, 2, 8])
    assert back.sky.shape == maps.sky.shape
    with pytest.raises(FileExistsError, match="exists"):
        maps.write(path)
    maps.write(path, overwrite=True)


def test_write_maps_records_provenance(tmp_path):
    from dl3flow.io.provenance import Provenance, read_provenance

    maps = estimate_excess_maps(_dataset(counts=2.0))
    source = tmp_path / "dataset.fits"
    source.write_bytes(b"stacked")
    record = Provenance.create(
        rule="excess_maps", inputs=[source], parameters={"correlation_radius": "0.1 deg"}
    )
    path = maps.write(tmp_path / "maps.fits", provenance=record)
    back = read_provenance(path)
    assert back.rule == "excess_maps" and back.parameters["correlation_radius"] == "0.1 deg"
    assert read_maps(path).meta["STAT"] == "cash"
    # a mapping is taken as extra primary-header keywords
    path = maps.write(tmp_path / "maps2.fits", provenance={"ANALYSIS": "demo"})
    assert fits.getheader(path)["ANALYSIS"] == "demo"


def test_write_maps_accepts_2d_images(tmp_path):
    sky = _sky()
    path = write_maps(
        {"significance": np.zeros((15, 15))}, sky, tmp_path / "m.fits", energy_edges=[1, 10]
    )
    assert read_maps(path)["significance"].shape == (1, 15, 15)


@pytest.mark.parametrize(
    ("maps", "match"),
    [
        ({}, "at least one map"),
        ({"a": np.zeros((2, 15, 15))}, r"map 'a' has shape \(2, 15, 15\), expected \(1, 15, 15\)"),
        ({"bad name": np.zeros((15, 15))}, "cannot be an HDU name"),
        ({"bands": np.zeros((15, 15))}, "cannot be an HDU name"),
    ],
)
def test_write_maps_errors(tmp_path, maps, match):
    with pytest.raises(EstimateError, match=match):
        write_maps(maps, _sky(), tmp_path / "m.fits", energy_edges=[1, 10])


def test_write_maps_bad_meta(tmp_path):
    with pytest.raises(EstimateError, match="is not FITS-legal"):
        write_maps(
            {"a": np.zeros((15, 15))},
            _sky(),
            tmp_path / "m.fits",
            energy_edges=[1, 10],
            meta={"A": object()},
        )


def test_read_maps_errors(tmp_path):
    bad = tmp_path / "bad.fits"
    bad.write_text("not fits")
    with pytest.raises(EstimateError, match="cannot read maps"):
        read_maps(bad)
    nobands = tmp_path / "nobands.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((2, 2)), name="A")]).writeto(nobands)
    with pytest.raises(EstimateError, match="no BANDS table"):
        read_maps(nobands)
    noimage = tmp_path / "noimage.fits"
    table = fits.BinTableHDU(Table({"E_MIN": [1.0], "E_MAX": [2.0]}), name="BANDS")
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(noimage)
    with pytest.raises(EstimateError, match="no image HDUs"):
        read_maps(noimage)


# ----------------------------------------------------------------------------- peaks


def _peak_image():
    image = np.zeros((15, 15))
    image[7, 7] = 9.0
    image[7, 9] = 6.0  # 2 pixels from the brighter one
    image[2, 12] = 4.0
    image[12, 2] = 2.0
    image[0, 0] = np.nan
    return image


def test_find_peaks_semantics():
    sky = _sky()
    table = find_peaks(_peak_image(), sky, threshold=3.0, min_distance=1)
    assert table.colnames == list(PEAK_COLUMNS)
    assert list(table["value"]) == [9.0, 6.0, 4.0]
    assert list(table["x"]) == [7, 9, 12] and list(table["y"]) == [7, 7, 2]
    assert list(table["name"]) == ["peak_1", "peak_2", "peak_3"]
    assert table["ra"].unit == u.deg
    ra, dec = sky.wcs.wcs_pix2world(7, 7, 0)
    assert table["ra"][0] == pytest.approx(float(ra)) and table["dec"][0] == pytest.approx(
        float(dec)
    )
    # min_distance 2 pixels: the 6 next to the 9 is no longer a local maximum
    wider = find_peaks(_peak_image(), sky, threshold=3.0, min_distance="0.2 deg")
    assert list(wider["value"]) == [9.0, 4.0]
    assert wider.meta["min_distance_pix"] == 2
    # threshold is strict
    strict = find_peaks(_peak_image(), sky, threshold=4.0, min_distance=1)
    assert list(strict["value"]) == [9.0, 6.0]


def test_find_peaks_empty_cases(tmp_path):
    sky = _sky()
    assert len(find_peaks(np.ones((15, 15)), sky, threshold=0, min_distance=1)) == 0
    assert len(find_peaks(np.full((15, 15), np.nan), sky, threshold=0, min_distance=1)) == 0
    empty = find_peaks(_peak_image(), sky, threshold=100, min_distance=1)
    assert len(empty) == 0 and empty.colnames == list(PEAK_COLUMNS)
    path = write_peaks(
        find_peaks(_peak_image(), sky, threshold=3, min_distance=1),
        tmp_path / "tables" / "peaks.ecsv",
    )
    back = Table.read(path)
    assert list(back["value"]) == [9.0, 6.0, 4.0]
    write_peaks(empty, tmp_path / "empty.ecsv")


@pytest.mark.parametrize(
    ("image", "kwargs", "match"),
    [
        (np.zeros((3, 3)), {"threshold": 1, "min_distance": 1}, "image has shape"),
        (
            np.zeros((15, 15)),
            {"threshold": np.zeros((3, 3)), "min_distance": 1},
            "threshold must be a scalar",
        ),
        (np.zeros((15, 15)), {"threshold": 1, "min_distance": -1}, "non-negative number of pixels"),
        (
            np.zeros((15, 15)),
            {"threshold": 1, "min_distance": 1.5},
            "non-negative number of pixels",
        ),
        (
            np.zeros((15, 15)),
            {"threshold": 1, "min_distance": "1 TeV"},
            "expected pixels or an angle",
        ),
    ],
)
def test_find_peaks_errors(image, kwargs, match):
    with pytest.raises(PeaksError, match=match):
        find_peaks(image, _sky(), **kwargs)
