"""Unit tests of dl3flow.datasets.map, .io and .stacking on tiny geometries with literal arrays."""

from pathlib import Path

import numpy as np
import pytest
from _factories import make_geom
from astropy.io import fits
from astropy.table import Table

from dl3flow.datasets import io as dsio
from dl3flow.datasets.io import DatasetError
from dl3flow.datasets.map import (
    EDispKernelMap,
    MapDataset,
    PSFMap,
    empty_dataset,
    read_dataset,
)
from dl3flow.datasets.stacking import cutout_slices, stack, stack_datasets
from dl3flow.maps.geom import DatasetGeom, EnergyAxis, SkyGeom

RAD = np.array([0.0, 0.1, 0.3])


def _geom():
    """4 x 5 pixels of 0.1 deg, 2 reco and 3 true energy bins, a 2 x 2 IRF image."""
    return make_geom(
        center=(10.0, 0.0),
        width=(0.5, 0.4),
        energy=[1.0, 3.0, 10.0],
        energy_true=[0.5, 1.0, 5.0, 20.0],
        rad_edges=RAD,
    )


def _sub(sky: SkyGeom, iy0: int, ix0: int, ny: int, nx: int) -> SkyGeom:
    """The cutout of ``sky`` starting at pixel (iy0, ix0)."""
    wcs = sky.wcs.deepcopy()
    wcs.wcs.crpix = wcs.wcs.crpix - np.array([ix0, iy0])
    wcs.array_shape = (ny, nx)
    return SkyGeom(wcs=wcs, shape=(ny, nx))


def _cutout_geom(geom, iy0, ix0, ny, nx):
    return DatasetGeom(
        sky=_sub(geom.sky, iy0, ix0, ny, nx),
        energy=geom.energy,
        energy_true=geom.energy_true,
        irf_sky=geom.irf_sky,
        rad_edges=geom.rad_edges,
    )


def _irfs(geom, kernel_value=0.5, psf_value=2.0, exposure=1.0):
    ny, nx = geom.irf_sky.shape
    return (
        EDispKernelMap(
            kernel=np.full((3, 2, ny, nx), kernel_value), exposure=np.full((3, 1, ny, nx), exposure)
        ),
        PSFMap(psf=np.full((3, 2, ny, nx), psf_value), exposure=np.full((3, 1, ny, nx), exposure)),
    )


def _gti(start, stop, mjdrefi=51910, mjdreff=0.0, timesys="tt"):
    return Table(
        {"START": [float(start)], "STOP": [float(stop)]},
        meta={"MJDREFI": mjdrefi, "MJDREFF": mjdreff, "TIMESYS": timesys},
    )


def _full_dataset(**kwargs):
    geom = _geom()
    counts = np.arange(40, dtype=float).reshape(2, 4, 5)
    edisp, psf = _irfs(geom)
    defaults = dict(
        geom=geom,
        counts=counts,
        exposure=np.arange(60, dtype=float).reshape(3, 4, 5) * 1e6,
        background=counts / 8.0,
        mask_safe=counts % 3 != 0,
        edisp=edisp,
        psf=psf,
        name="obs-1",
        meta={"OBS_IDS": [23523], "LIVETIME": 1581.5, "TELESCOP": "HESS", "RA_PNT": 83.6},
        gti=_gti(100.0, 1787.0),
    )
    defaults.update(kwargs)
    return MapDataset(**defaults)


# ------------------------------------------------------------------------- container


def test_shape_mismatch_names_array_and_shapes():
    with pytest.raises(DatasetError, match=r"background has shape \(2, 4, 4\).*\(2, 4, 5\)"):
        _full_dataset(background=np.zeros((2, 4, 4)))


def test_irf_shape_mismatch():
    geom = _geom()
    with pytest.raises(DatasetError, match=r"edisp kernel has shape"):
        _full_dataset(
            edisp=EDispKernelMap(kernel=np.zeros((3, 3, 2, 2)), exposure=np.zeros((3, 1, 2, 2)))
        )
    with pytest.raises(DatasetError, match=r"psf exposure has shape"):
        _full_dataset(psf=PSFMap(psf=np.zeros((3, 2, 2, 2)), exposure=np.zeros((3, 2, 2, 2))))
    with pytest.raises(DatasetError, match="edisp must be an EDispKernelMap"):
        _full_dataset(edisp=_irfs(geom)[1])
    with pytest.raises(DatasetError, match="psf must be a PSFMap"):
        _full_dataset(psf=_irfs(geom)[0])
    with pytest.raises(DatasetError, match="geom must be a DatasetGeom"):
        _full_dataset(geom=geom.sky)


def test_gti_validation():
    with pytest.raises(DatasetError, match="START and STOP"):
        _full_dataset(gti=Table({"START": [0.0]}))
    with pytest.raises(DatasetError, match="MJDREFI and MJDREFF"):
        _full_dataset(gti=Table({"START": [0.0], "STOP": [1.0]}))
    with pytest.raises(DatasetError, match="TIMESYS 'xyz'"):
        _full_dataset(gti=_gti(0, 1, timesys="xyz"))
    ds = _full_dataset(gti=Table({"START": [0.0], "STOP": [1.0]}, meta={"MJDREF": 51910.5}))
    assert ds.gti.meta == {"MJDREFI": 51910, "MJDREFF": 0.5, "TIMESYS": "tt"}


def test_empty_dataset():
    geom = _geom()
    ds = empty_dataset(geom)
    assert ds.name == "stacked"
    assert ds.counts.shape == (2, 4, 5) and not ds.counts.any()
    assert ds.exposure.shape == (3, 4, 5)
    assert ds.mask_safe.dtype == bool and not ds.mask_safe.any()
    assert ds.edisp.kernel.shape == (3, 2, 2, 2)
    assert ds.psf.psf.shape == (3, 2, 2, 2)
    assert len(ds.gti) == 0 and ds.gti.meta == {"MJDREFI": 51544, "MJDREFF": 0.0, "TIMESYS": "utc"}
    assert ds.meta == {}


# ------------------------------------------------------------------------------- I/O


def test_write_read_round_trip_exact(tmp_path):
    ds = _full_dataset(meta={"OBS_IDS": [1, 2], "LIVETIME": 12.5, "TELESCOP": "HESS", "OK": True})
    path = tmp_path / "ds.fits"
    ds.write(path)
    back = read_dataset(path)
    for name in ("counts", "exposure", "background", "mask_safe"):
        np.testing.assert_array_equal(getattr(back, name), getattr(ds, name))
    assert back.mask_safe.dtype == bool
    np.testing.assert_array_equal(back.edisp.kernel, ds.edisp.kernel)
    np.testing.assert_array_equal(back.edisp.exposure, ds.edisp.exposure)
    np.testing.assert_array_equal(back.psf.psf, ds.psf.psf)
    np.testing.assert_array_equal(back.psf.exposure, ds.psf.exposure)
    assert back.name == "obs-1"
    assert back.meta == {"OBS_IDS": [1, 2], "LIVETIME": 12.5, "TELESCOP": "HESS", "OK": True}
    np.testing.assert_array_equal(back.gti["START"], [100.0])
    np.testing.assert_array_equal(back.gti["STOP"], [1787.0])
    assert back.gti.meta == ds.gti.meta
    np.testing.assert_array_equal(back.geom.energy.edges, ds.geom.energy.edges)
    np.testing.assert_array_equal(back.geom.energy_true.edges, ds.geom.energy_true.edges)
    np.testing.assert_array_equal(back.geom.rad_edges, RAD)
    assert back.geom.sky.shape == (4, 5) and back.geom.irf_sky.shape == (2, 2)
    assert cutout_slices(ds.geom.sky, back.geom.sky) == (slice(0, 4), slice(0, 5))


def test_written_layout(tmp_path):
    path = tmp_path / "ds.fits"
    _full_dataset().write(path)
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == [
            "PRIMARY",
            "COUNTS",
            "COUNTS_BANDS",
            "EXPOSURE",
            "EXPOSURE_BANDS",
            "BACKGROUND",
            "BACKGROUND_BANDS",
            "EDISP",
            "EDISP_BANDS",
            "EDISP_EXPOSURE",
            "EDISP_EXPOSURE_BANDS",
            "PSF",
            "PSF_BANDS",
            "PSF_EXPOSURE",
            "PSF_EXPOSURE_BANDS",
            "MASK_SAFE",
            "MASK_SAFE_BANDS",
            "GTI",
            "META_TABLE",
        ]
        assert hdul["EXPOSURE"].header["BUNIT"] == "m2 s"
        assert hdul["PSF"].header["BUNIT"] == "sr-1"
        assert hdul["COUNTS"].header["BANDSHDU"] == "COUNTS_BANDS"
        assert hdul["COUNTS"].header["WCSSHAPE"] == "(5,4,2)"
        assert hdul["PSF"].header["AXCOLS1"] == "RAD_MIN,RAD_MAX"
        assert hdul["PSF"].header["AXCOLS2"] == "ENERGY_TRUE_MIN,ENERGY_TRUE_MAX"
        assert hdul["EXPOSURE"].header["META"] == '{"livetime": "1581.5 s"}'
        # maps float32 as gammapy's, masks one byte (gammapy reads any integer as bool)
        assert hdul["MASK_SAFE"].data.dtype == np.uint8
        assert hdul["COUNTS"].data.dtype == hdul["EXPOSURE"].data.dtype == ">f4"
        bands = hdul["EDISP_BANDS"].data
        np.testing.assert_array_equal(bands["CHANNEL"], np.arange(6))
        np.testing.assert_array_equal(bands["E_MIN"], [1.0, 3.0] * 3)
        np.testing.assert_array_equal(bands["ENERGY_TRUE_MIN"], [0.5, 0.5, 1.0, 1.0, 5.0, 5.0])
        np.testing.assert_array_equal(hdul["EDISP_EXPOSURE_BANDS"].data["E_MAX"], [10.0] * 3)
        primary = hdul[0].header
        assert primary["NAME"] == "obs-1"
        assert primary["CREATOR"].startswith("dl3flow")
        assert "DATE" in primary
        assert primary["TELESCOP"] == "HESS" and primary["LIVETIME"] == 1581.5


def test_write_without_optional_parts(tmp_path):
    ds = _full_dataset(edisp=None, psf=None, gti=None, meta={})
    path = tmp_path / "bare.fits"
    ds.write(path)
    back = read_dataset(path)
    assert back.edisp is None and back.psf is None and back.gti is None
    assert back.meta == {}
    assert back.geom.irf_sky.shape == (2, 2)


def test_write_refuses_to_overwrite(tmp_path):
    path = tmp_path / "ds.fits"
    path.write_bytes(b"old")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        _full_dataset().write(path)
    assert path.read_bytes() == b"old"
    _full_dataset().write(path, overwrite=True)
    assert read_dataset(path).name == "obs-1"


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "ds.fits"
    path.write_bytes(b"old")

    real_write_bytes = Path.write_bytes

    def failing_write_bytes(self, data):  # dl3flow.io.fits's bytes, cut short
        real_write_bytes(self, data[:7])
        raise OSError("disk full")

    monkeypatch.setattr(Path, "write_bytes", failing_write_bytes)
    with pytest.raises(OSError, match="disk full"):
        _full_dataset().write(path, overwrite=True)
    assert path.read_bytes() == b"old"
    with pytest.raises(OSError, match="disk full"):
        _full_dataset().write(tmp_path / "new.fits")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds.fits"]


@pytest.mark.parametrize(
    ("meta", "match"),
    [
        ({"TOOLONGKEY": 1}, "not a FITS keyword"),
        ({"lower": 1}, "not a FITS keyword"),
        ({"NAME": "x"}, "reserved"),
        ({"NAXIS3": 1}, "reserved"),
        ({"NESTED": {"a": 1}}, "cannot write a dict"),
        ({"GRID": [[1, 2], [3, 4]]}, "lists must be 1-D"),
        ({"BAD": float("nan")}, "not FITS-legal"),
    ],
)
def test_meta_errors(tmp_path, meta, match):
    with pytest.raises(DatasetError, match=match):
        _full_dataset(meta=meta).write(tmp_path / "x.fits")
    assert not (tmp_path / "x.fits").exists()


@pytest.mark.filterwarnings("ignore:File may have been truncated")
def test_read_errors(tmp_path):
    with pytest.raises(DatasetError, match="missing.fits: no such file"):
        read_dataset(tmp_path / "missing.fits")
    garbage = tmp_path / "garbage.fits"
    garbage.write_bytes(b"not a fits file at all" * 200)
    with pytest.raises(DatasetError, match="garbage.fits: cannot read dataset"):
        read_dataset(garbage)
    path = tmp_path / "ds.fits"
    _full_dataset().write(path)
    with fits.open(path) as hdul:
        del hdul["MASK_SAFE"]
        hdul.writeto(tmp_path / "nomask.fits")
    with pytest.raises(DatasetError, match="nomask.fits: no MASK_SAFE HDU"):
        read_dataset(tmp_path / "nomask.fits")
    with fits.open(path) as hdul:
        del hdul["EDISP_EXPOSURE"]
        hdul.writeto(tmp_path / "noedispexp.fits")
    with pytest.raises(DatasetError, match="noedispexp.fits: no EDISP_EXPOSURE HDU"):
        read_dataset(tmp_path / "noedispexp.fits")
    with fits.open(path) as hdul:
        hdul["EDISP"].header["AXCOLS1"] = "MIGRA_MIN,MIGRA_MAX"
        hdul.writeto(tmp_path / "migra.fits")
    with pytest.raises(DatasetError, match="migra.fits: EDISP has a migra axis"):
        read_dataset(tmp_path / "migra.fits")
    with fits.open(path) as hdul:
        hdul["BACKGROUND"].data = np.zeros((2, 4, 4))
        hdul.writeto(tmp_path / "shape.fits")
    with pytest.raises(DatasetError, match=r"shape.fits: background has shape \(2, 4, 4\)"):
        read_dataset(tmp_path / "shape.fits")
    truncated = tmp_path / "truncated.fits"
    truncated.write_bytes(path.read_bytes()[:20000])
    with pytest.raises(DatasetError, match="truncated.fits"):
        read_dataset(truncated)


# -------------------------------------------------------------------------- stacking


def test_cutout_slices_shifted():
    sky = _geom().sky
    assert cutout_slices(sky, sky) == (slice(0, 4), slice(0, 5))
    assert cutout_slices(sky, _sub(sky, 1, 2, 3, 3)) == (slice(1, 4), slice(2, 5))
    assert cutout_slices(sky, _sub(sky, 0, 0, 2, 1)) == (slice(0, 2), slice(0, 1))


def test_cutout_slices_errors():
    sky = _geom().sky
    wcs = sky.wcs.deepcopy()
    wcs.wcs.crpix = wcs.wcs.crpix - np.array([0.5, 0.0])
    half = SkyGeom(wcs=wcs, shape=(2, 2))
    with pytest.raises(
        DatasetError, match=r"crpix=\(2\.5,2\.5\).*not pixel-aligned.*crpix=\(3,2\.5\)"
    ):
        cutout_slices(sky, half)
    other = SkyGeom.create(center=(10.0, 0.0), width=(0.5, 0.4), binsz=0.05)
    with pytest.raises(DatasetError, match="not pixel-aligned"):
        cutout_slices(sky, other)
    with pytest.raises(DatasetError, match="does not lie inside"):
        cutout_slices(sky, _sub(sky, 2, 3, 3, 3))


def _cutout_dataset(geom, iy0, ix0, ny, nx, *, counts, mask, meta, gti, exposure_value):
    g = _cutout_geom(geom, iy0, ix0, ny, nx)
    return MapDataset(
        geom=g,
        counts=counts,
        exposure=np.full((3, ny, nx), exposure_value),
        background=counts / 10.0,
        mask_safe=mask,
        meta=meta,
        gti=gti,
    )


def _two_cutouts():
    geom = _geom()
    # cutout A: rows 0-1, columns 0-2; reco bin 0 unsafe in its first column
    counts_a = np.array([[[1.0, 2, 3], [4, 5, 6]], [[7, 8, 9], [10, 11, 12]]])
    mask_a = np.ones((2, 2, 3), dtype=bool)
    mask_a[0, :, 0] = False
    # cutout B: rows 1-3, columns 2-3; nothing safe in its last row
    counts_b = np.array([[[1.0, 1], [2, 2], [3, 3]], [[4, 4], [5, 5], [6, 6]]])
    mask_b = np.ones((2, 3, 2), dtype=bool)
    mask_b[:, 2, :] = False
    a = _cutout_dataset(
        geom,
        0,
        0,
        2,
        3,
        counts=counts_a,
        mask=mask_a,
        exposure_value=10.0,
        meta={
            "OBS_IDS": [1],
            "LIVETIME": 100.0,
            "ONTIME": 110.0,
            "TELESCOP": "HESS",
            "RA_PNT": 1.0,
        },
        gti=_gti(0, 50),
    )
    b = _cutout_dataset(
        geom,
        1,
        2,
        3,
        2,
        counts=counts_b,
        mask=mask_b,
        exposure_value=5.0,
        meta={
            "OBS_IDS": [2],
            "LIVETIME": 200.0,
            "ONTIME": 220.0,
            "TELESCOP": "HESS",
            "RA_PNT": 2.0,
        },
        gti=_gti(40, 80),
    )
    return geom, a, b


def test_stack_two_cutouts_exact():
    geom, a, b = _two_cutouts()
    result = stack_datasets([a, b], geom=geom)
    expected_counts = np.array(
        [
            [[0, 2, 3, 0, 0], [0, 5, 6 + 1, 1, 0], [0, 0, 2, 2, 0], [0, 0, 0, 0, 0]],
            [[7, 8, 9, 0, 0], [10, 11, 12 + 4, 4, 0], [0, 0, 5, 5, 0], [0, 0, 0, 0, 0]],
        ],
        dtype=float,
    )
    np.testing.assert_array_equal(result.counts, expected_counts)
    np.testing.assert_array_equal(result.background, expected_counts / 10.0)
    expected_mask = expected_counts > 0
    np.testing.assert_array_equal(result.mask_safe, expected_mask)
    # exposure uses the image mask (OR over energy): column 0 of A is safe in bin 1
    expected_exposure = np.array(
        [[10, 10, 10, 0, 0], [10, 10, 15, 5, 0], [0, 0, 5, 5, 0], [0, 0, 0, 0, 0]], dtype=float
    )
    np.testing.assert_array_equal(result.exposure, np.broadcast_to(expected_exposure, (3, 4, 5)))
    assert result.meta == {
        "OBS_IDS": [1, 2],
        "LIVETIME": 300.0,
        "ONTIME": 330.0,
        "TELESCOP": "HESS",
    }
    # overlapping intervals merged, in the 2000-01-01 UTC reference of the empty stack
    assert len(result.gti) == 1
    assert result.gti.meta["TIMESYS"] == "utc"
    offset = (dsio._gti_reference(a.gti) - dsio._gti_reference(result.gti)).to_value("s")
    np.testing.assert_allclose(
        [result.gti["START"][0], result.gti["STOP"][0]], [offset, offset + 80.0], rtol=1e-15
    )
    # IRF maps: neither cutout has any, the empty stack keeps its zeros
    assert not result.edisp.kernel.any() and not result.psf.psf.any()


def test_stack_datasets_equals_repeated_stack_and_streams():
    geom, a, b = _two_cutouts()
    manual = stack(stack(empty_dataset(geom, name="s"), a), b)
    consumed = []

    def gen():
        for ds in (a, b):
            consumed.append(ds.meta["OBS_IDS"][0])
            yield ds

    streamed = stack_datasets(gen(), geom=geom, name="s")
    assert consumed == [1, 2]
    for name in ("counts", "exposure", "background", "mask_safe"):
        np.testing.assert_array_equal(getattr(streamed, name), getattr(manual, name))
    assert streamed.meta == manual.meta and streamed.name == "s"


def test_stack_does_not_mutate_inputs():
    geom, a, b = _two_cutouts()
    a_counts, a_meta, a_gti = a.counts.copy(), dict(a.meta), a.gti.copy()
    stacked = stack(a_as_parent := _embed(geom, a), b)
    np.testing.assert_array_equal(a.counts, a_counts)
    assert a.meta == a_meta
    np.testing.assert_array_equal(a.gti["START"], a_gti["START"])
    assert stacked is not a_as_parent


def _embed(geom, ds):
    """A full-geometry dataset holding ``ds`` (a cutout) via a stack into an empty one."""
    return stack(empty_dataset(geom), ds)


def test_stack_zeroes_stacked_values_outside_its_mask():
    geom = _geom()
    base = _full_dataset(edisp=None, psf=None)
    other = _full_dataset(edisp=None, psf=None, mask_safe=np.zeros((2, 4, 5), dtype=bool))
    result = stack(base, other)
    np.testing.assert_array_equal(result.counts, np.where(base.mask_safe, base.counts, 0.0))
    image = base.mask_safe.any(axis=0)
    np.testing.assert_array_equal(result.exposure, np.where(image, base.exposure, 0.0))
    # other has no safe pixel: its livetime is not added (gammapy's rule), its OBS_IDS are
    assert result.meta["LIVETIME"] == 1581.5
    assert result.meta["OBS_IDS"] == [23523, 23523]
    assert result.geom is geom or result.geom is base.geom


def test_stack_irfs_exposure_weighted():
    geom = _geom()
    edisp1, psf1 = _irfs(geom, kernel_value=0.2, psf_value=1.0, exposure=1.0)
    edisp2, psf2 = _irfs(geom, kernel_value=0.8, psf_value=4.0, exposure=3.0)
    ones = np.ones((2, 4, 5), dtype=bool)
    first = _full_dataset(mask_safe=ones, edisp=edisp1, psf=psf1)
    second = _full_dataset(mask_safe=ones, edisp=edisp2, psf=psf2)
    result = stack_datasets([first, second], geom=geom)
    np.testing.assert_allclose(result.edisp.kernel, (0.2 * 1 + 0.8 * 3) / 4.0, rtol=1e-15)
    np.testing.assert_allclose(result.psf.psf, (1.0 * 1 + 4.0 * 3) / 4.0, rtol=1e-15)
    np.testing.assert_array_equal(result.edisp.exposure, 4.0)
    np.testing.assert_array_equal(result.psf.exposure, 4.0)


def test_stack_irf_masks():
    geom = _geom()
    # IRF pixel centres sit at sky pixel coordinates x in {0.5, 2.5}, y in {0.5, 2.5}
    edisp1, psf1 = _irfs(geom, kernel_value=0.2, psf_value=1.0, exposure=1.0)
    edisp2, psf2 = _irfs(geom, kernel_value=0.8, psf_value=4.0, exposure=3.0)
    mask = np.zeros((2, 4, 5), dtype=bool)
    mask[1, :2, :2] = True  # reco bin 1 safe around IRF pixel (0, 0) only
    first = _full_dataset(mask_safe=np.ones((2, 4, 5), dtype=bool), edisp=edisp1, psf=psf1)
    second = _full_dataset(mask_safe=mask, edisp=edisp2, psf=psf2)
    result = stack_datasets([first, second], geom=geom)
    expected = np.full((3, 2, 2, 2), 0.2)
    expected[:, 1, 0, 0] = (0.2 + 0.8 * 3) / 4.0
    expected[:, 0, 0, 0] = 0.2 / 4.0  # exposure counted for the pixel, reco bin 0 not
    np.testing.assert_allclose(result.edisp.kernel, expected, rtol=1e-15)
    expected_psf = np.full((3, 2, 2, 2), 1.0)
    expected_psf[:, :, 0, 0] = (1.0 + 4.0 * 3) / 4.0
    np.testing.assert_allclose(result.psf.psf, expected_psf, rtol=1e-15)
    assert result.edisp.exposure[0, 0, 0, 0] == 4.0 and result.edisp.exposure[0, 0, 1, 1] == 1.0


def test_stack_errors():
    geom, a, b = _two_cutouts()
    other_energy = DatasetGeom(
        sky=geom.sky,
        energy=EnergyAxis(np.array([1.0, 2.0, 10.0])),
        energy_true=geom.energy_true,
        irf_sky=geom.irf_sky,
        rad_edges=RAD,
    )
    with pytest.raises(DatasetError, match="energy axes differ"):
        stack(empty_dataset(other_energy), a)
    big = _full_dataset()
    with pytest.raises(DatasetError, match="does not lie inside"):
        stack(a, big)
    other_rad = DatasetGeom(
        sky=geom.sky,
        energy=geom.energy,
        energy_true=geom.energy_true,
        irf_sky=geom.irf_sky,
        rad_edges=np.array([0.0, 0.2, 0.3]),
    )
    with pytest.raises(DatasetError, match="rad axes differ"):
        stack(empty_dataset(other_rad), big)


def test_stack_gti_union_and_reference():
    geom, a, b = _two_cutouts()
    c = MapDataset(
        geom=a.geom,
        counts=a.counts,
        exposure=a.exposure,
        background=a.background,
        mask_safe=a.mask_safe,
        meta={"OBS_IDS": [3]},
        gti=_gti(50, 60),  # touches A's interval: merged
    )
    far = MapDataset(
        geom=a.geom,
        counts=a.counts,
        exposure=a.exposure,
        background=a.background,
        mask_safe=a.mask_safe,
        meta={"OBS_IDS": [4]},
        gti=_gti(1000, 1100),
    )
    result = stack(stack(stack(_embed(geom, far), a), c), b)
    offset = (dsio._gti_reference(a.gti) - dsio._gti_reference(result.gti)).to_value("s")
    np.testing.assert_allclose(np.asarray(result.gti["START"]) - offset, [0.0, 1000.0], atol=1e-6)
    np.testing.assert_allclose(np.asarray(result.gti["STOP"]) - offset, [80.0, 1100.0], atol=1e-6)
    assert result.meta["OBS_IDS"] == [4, 1, 3, 2]
    assert "TELESCOP" not in result.meta  # absent in c and far: dropped


def test_stack_meta_single_obs_id():
    geom, a, b = _two_cutouts()
    a1 = MapDataset(**{**_fields(a), "meta": {"OBS_ID": 11, "LIVETIME": 1.0, "RA_PNT": 1.0}})
    b1 = MapDataset(**{**_fields(b), "meta": {"OBS_ID": 12, "LIVETIME": 2.0, "RA_PNT": 2.0}})
    result = stack_datasets([a1, b1], geom=geom)
    assert result.meta == {"OBS_IDS": [11, 12], "LIVETIME": 3.0}


def _fields(ds):
    names = ("geom", "counts", "exposure", "background", "mask_safe", "edisp", "psf", "name", "gti")
    return {n: getattr(ds, n) for n in names}


# ------------------------------------------ light I/O (issue 14): no astropy.table


def test_gti_is_a_table_like_gtitable():
    import astropy.units as u

    from dl3flow.data.gti import GTITable

    ds = _full_dataset(gti=_gti(100.0, 1787.0))
    gti = ds.gti
    assert isinstance(gti, GTITable) and len(gti) == 1 and gti.colnames == ["START", "STOP"]
    assert gti["START"].unit == u.s and list(gti["STOP"]) == [1787.0]
    np.testing.assert_array_equal(gti["START"].value, [100.0])
    table = gti.to_table()
    assert isinstance(table, Table) and table.meta == gti.meta
    assert table["STOP"].unit == u.s and gti.pformat() == table.pformat()  # from the Table
    copy = gti.copy()
    copy["START"][0] = -1.0
    assert gti["START"][0] == 100.0
    with pytest.raises(ValueError, match=r"GTI START and STOP differ in length \(2 vs 1\)"):
        GTITable(start=[0.0, 1.0], stop=[1.0])
    with pytest.raises(KeyError, match="TSTART"):
        gti["TSTART"]


def test_table_hdus_are_written_as_astropy_table_writes_them():
    """Band and GTI tables without astropy.table: the same header and bytes."""
    import astropy.units as u
    from astropy.io import fits

    columns = [
        fits.Column("CHANNEL", "K", array=np.arange(3, dtype=np.int64)),
        fits.Column("E_MIN", "D", unit="TeV", array=np.array([1.0, 2.0, 4.0])),
    ]
    light = dsio._table_hdu(columns, name="COUNTS_BANDS")
    reference = fits.BinTableHDU.from_columns(columns, name="COUNTS_BANDS")
    assert light.header.tostring() == reference.header.tostring()
    assert light.data.tobytes() == reference.data.tobytes()
    gti = _full_dataset(gti=_gti(100.0, 1787.0, mjdreff=0.5)).gti
    seconds = {name: gti[name].value * u.s for name in ("START", "STOP")}
    old = fits.BinTableHDU(Table(seconds, meta=gti.meta), name="GTI")  # as written before
    new = dsio._gti_hdu(gti)
    assert new.header.tostring() == old.header.tostring()
    assert new.data.tobytes() == old.data.tobytes()
    back = dsio._read_gti(new)
    assert back.meta == gti.meta and list(back["START"]) == [100.0]
