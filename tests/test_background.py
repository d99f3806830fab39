"""Unit tests of dl3flow.makers.background (FoV normalisation) and makers.ring, onoff, plots."""

import math
from dataclasses import replace

import astropy.units as u
import numpy as np
import pytest
from _factories import make_dataset, make_geom
from astropy.table import Table
from scipy.signal import convolve

from dl3flow.datasets.io import DatasetError
from dl3flow.datasets.map import MapDataset, read_dataset
from dl3flow.datasets.onoff import MapDatasetOnOff, read_dataset_onoff
from dl3flow.datasets.stacking import stack_datasets
from dl3flow.io.atomic import write_table
from dl3flow.makers.background import (
    RESULT_COLUMNS,
    BackgroundError,
    BackgroundNormResult,
    exclusion_cutout,
    normalize_background,
    results_table,
)
from dl3flow.makers.ring import ring_background, ring_kernel
from dl3flow.maps.geom import SkyGeom

NY = NX = 10


def _geom(*, width=1.0, center=(0.0, 0.0), n_energy=3):
    return make_geom(center=center, width=width, energy=(1.0, 10.0, n_energy))


def _dataset(counts=1.0, background=0.5, *, geom=None, mask_safe=True, obs_id=7):
    return make_dataset(
        geom or _geom(), counts=counts, background=background, mask_safe=mask_safe, obs_id=obs_id
    )


def _half_excluded():
    """Exclusion mask: the left half (x < 5) excluded."""
    excl = np.ones((NY, NX), dtype=bool)
    excl[:, :5] = False
    return excl


# ------------------------------------------------------------------------------- scale


def test_scale_exact_and_inputs_untouched():
    ds = _dataset(counts=1.0, background=0.5)
    before = ds.background.copy()
    out, res = normalize_background(ds, method="scale")
    assert res.status == "ok" and res.reason == "" and res.action == "scaled"
    assert res.norm == 2.0
    assert res.norm_err == pytest.approx(math.sqrt(300) / 150)
    assert (res.tilt, res.counts, res.npred_background) == (0.0, 300.0, 150.0)
    assert math.isnan(res.tilt_err)
    assert (res.obs_id, res.livetime, res.method, res.reference_energy) == (7, 100.0, "scale", 1.0)
    np.testing.assert_array_equal(out.background, 2 * before)
    np.testing.assert_array_equal(ds.background, before)  # input not modified
    np.testing.assert_array_equal(out.counts, ds.counts)
    assert out.meta["BKGSTAT"] == "ok" and out.meta["BKGNORM"] == 2.0
    assert out.meta["OBS_ID"] == 7 and "BKGTERR" not in out.meta  # NaN not written


def test_scale_uses_only_safe_and_not_excluded_pixels():
    counts = np.ones((3, NY, NX))
    counts[:, :, :5] = 100.0  # a source in the excluded half
    counts[0] = 50.0  # first energy bin outside the safe range
    mask = np.ones((3, NY, NX), dtype=bool)
    mask[0] = False
    ds = _dataset(counts=counts, background=0.25, mask_safe=mask)
    _, res = normalize_background(ds, _half_excluded(), method="scale")
    assert (res.counts, res.npred_background) == (100.0, 25.0)
    assert res.norm == 4.0


def test_exclusion_cut_out_of_parent_geometry():
    parent = SkyGeom.create(center=(0.0, 0.0), width=2.0, binsz=0.1)  # 20 x 20
    ds = _dataset(counts=1.0, background=0.5)
    slices = (slice(5, 15), slice(5, 15))
    excl_parent = np.zeros((20, 20), dtype=bool)
    excl_parent[slices] = _half_excluded()
    np.testing.assert_array_equal(
        exclusion_cutout(excl_parent, parent=parent, child=ds.geom.sky), _half_excluded()
    )
    _, res = normalize_background(ds, excl_parent, exclusion_geom=parent)
    assert res.counts == 150.0


def test_exclusion_errors():
    ds = _dataset()
    with pytest.raises(BackgroundError, match=r"shape \(5, 5\).*pass exclusion_geom"):
        normalize_background(ds, np.ones((5, 5), dtype=bool))
    parent = SkyGeom.create(center=(0.0, 0.0), width=2.0, binsz=0.1)
    with pytest.raises(BackgroundError, match="but its geometry has"):
        exclusion_cutout(np.ones((3, 3)), parent=parent, child=ds.geom.sky)
    shifted = SkyGeom.create(center=(0.05, 0.0), width=2.0, binsz=0.1)  # half a pixel off
    with pytest.raises(BackgroundError, match="does not cover the dataset.*pixel-aligned"):
        normalize_background(ds, np.ones((20, 20), dtype=bool), exclusion_geom=shifted)


# --------------------------------------------------------------------------------- fit


def _model_dataset(norm, tilt, e_ref=1.0):
    """Counts equal to the model expectation: the fit must recover norm and tilt."""
    geom = _geom(n_energy=4)
    rng = np.random.default_rng(1)
    bkg = rng.uniform(0.5, 2.0, size=(4, NY, NX)) * np.array([40, 20, 10, 5])[:, None, None]
    factor = norm * (geom.energy.centers / e_ref) ** -tilt
    return _dataset(counts=bkg * factor[:, None, None], background=bkg, geom=geom)


def _cash(ds, norm, tilt, e_ref=1.0):
    mu = ds.background * norm * ((ds.geom.energy.centers / e_ref) ** -tilt)[:, None, None]
    return 2 * np.sum(mu - ds.counts * np.log(mu))


def test_fit_recovers_norm_and_tilt_with_curvature_errors():
    ds = _model_dataset(1.3, 0.2)
    out, res = normalize_background(ds, method="fit")
    assert res.status == "ok" and res.action == "scaled"
    assert res.norm == pytest.approx(1.3, rel=1e-10)
    assert res.tilt == pytest.approx(0.2, abs=1e-10)
    np.testing.assert_allclose(out.background, ds.counts, rtol=1e-8)
    # independent check of the errors: covariance = 2 * inverse Hessian of Cash
    h = np.zeros((2, 2))
    p0, step = np.array([res.norm, res.tilt]), np.array([1e-4, 1e-4])
    for i in range(2):
        for j in range(2):
            ei, ej = np.eye(2)[i] * step[i], np.eye(2)[j] * step[j]
            h[i, j] = (
                _cash(ds, *(p0 + ei + ej))
                - _cash(ds, *(p0 + ei - ej))
                - _cash(ds, *(p0 - ei + ej))
                + _cash(ds, *(p0 - ei - ej))
            ) / (4 * step[i] * step[j])
    cov = 2 * np.linalg.inv(h)
    assert res.norm_err == pytest.approx(math.sqrt(cov[0, 0]), rel=1e-4)
    assert res.tilt_err == pytest.approx(math.sqrt(cov[1, 1]), rel=1e-4)


def test_fit_reference_energy():
    ds = _model_dataset(1.3, 0.2, e_ref=3.0)
    _, res = normalize_background(ds, method="fit", reference_energy="3 TeV")
    assert res.norm == pytest.approx(1.3, rel=1e-10)
    assert res.tilt == pytest.approx(0.2, abs=1e-10)
    assert res.reference_energy == 3.0


def test_fit_frozen_tilt_equals_scale():
    ds = _model_dataset(1.3, 0.2)
    _, fit = normalize_background(ds, method="fit", fit_tilt=False)
    _, scale = normalize_background(ds, method="scale")
    assert fit.tilt == 0.0 and math.isnan(fit.tilt_err)
    assert fit.norm == pytest.approx(scale.norm, rel=1e-10)
    assert fit.norm_err == pytest.approx(scale.norm_err, rel=1e-10)


# ----------------------------------------------------------------------- failure paths


def _counts_only_in_excluded_half():
    counts = np.zeros((3, NY, NX))
    counts[:, :, :5] = 3.0
    return _dataset(counts=counts, background=0.5)


@pytest.mark.parametrize("method", ["scale", "fit"])
def test_no_counts_outside_exclusion(method):
    ds = _counts_only_in_excluded_half()
    out, res = normalize_background(ds, _half_excluded(), method=method, on_failure="keep_unscaled")
    assert res.status == "skipped" and res.action == "kept_unscaled"
    assert res.reason == "0 counts outside the exclusion (must be > min_counts = 0)"
    assert math.isnan(res.norm) and math.isnan(res.norm_err)
    assert (res.counts, res.npred_background) == (0.0, 75.0)
    np.testing.assert_array_equal(out.background, ds.background)
    assert out.meta["BKGSTAT"] == "skipped" and out.meta["BKGACT"] == "kept_unscaled"
    assert "BKGNORM" not in out.meta
    dropped, res = normalize_background(ds, _half_excluded(), method=method, on_failure="drop")
    assert dropped is None and res.action == "dropped" and res.status == "skipped"


@pytest.mark.parametrize("method", ["scale", "fit"])
def test_every_pixel_excluded(method):
    out, res = normalize_background(
        _dataset(), np.zeros((NY, NX), dtype=bool), method=method, on_failure="keep_unscaled"
    )
    assert res.status == "skipped"
    assert res.reason == "no pixel inside the safe mask and outside the exclusion mask"
    assert (res.counts, res.npred_background) == (0.0, 0.0)
    assert out is not None


def test_no_safe_pixel_is_like_every_pixel_excluded():
    _, res = normalize_background(_dataset(mask_safe=False))
    assert res.reason == "no pixel inside the safe mask and outside the exclusion mask"


@pytest.mark.parametrize("method", ["scale", "fit"])
def test_zero_predicted_background(method):
    _, res = normalize_background(_dataset(counts=1.0, background=0.0), method=method)
    assert res.status == "skipped"
    assert res.reason == (
        "predicted background outside the exclusion is 0 (must be > min_npred_background = 0)"
    )


def test_guards_are_strict_thresholds():
    ds = _dataset(counts=1.0, background=0.5)  # 300 counts, 150 background
    _, res = normalize_background(ds, min_counts=300)
    assert (
        res.status == "skipped" and "300 counts" in res.reason and "min_counts = 300" in res.reason
    )
    _, res = normalize_background(ds, min_counts=299.5)
    assert res.status == "ok"
    _, res = normalize_background(ds, min_npred_background=150)
    assert res.status == "skipped" and "min_npred_background = 150" in res.reason
    _, res = normalize_background(ds, min_npred_background=149)
    assert res.status == "ok"


def test_fit_iteration_limit():
    ds = _model_dataset(1.3, 0.2)
    out, res = normalize_background(ds, method="fit", max_iterations=1, on_failure="keep_unscaled")
    assert res.status == "failed" and res.action == "kept_unscaled"
    assert res.reason.startswith("fit did not converge after 1 iterations (remaining step")
    assert math.isnan(res.norm) and math.isnan(res.tilt)
    np.testing.assert_array_equal(out.background, ds.background)


@pytest.mark.parametrize(("bin_", "edge"), [(0, "lowest"), (2, "highest")])
def test_fit_without_finite_maximum(bin_, edge):
    counts = np.zeros((3, NY, NX))
    counts[bin_] = 2.0
    ds = _dataset(counts=counts, background=0.5)
    out, res = normalize_background(ds, method="fit", on_failure="drop")
    assert out is None and res.status == "failed" and res.action == "dropped"
    assert res.reason == (
        f"likelihood has no maximum at finite tilt: all counts are in the {edge} "
        "energy bin with predicted background"
    )
    # with the tilt frozen the same data are fine
    _, res = normalize_background(ds, method="fit", fit_tilt=False)
    assert res.status == "ok" and res.norm == pytest.approx(200 / 150)


def test_fit_tilt_unconstrained_with_one_energy_bin():
    _, res = normalize_background(_dataset(geom=_geom(n_energy=1)), method="fit")
    assert res.status == "failed"
    assert res.reason == "tilt is not constrained: predicted background in a single energy bin"


def test_caller_continues_over_failures(tmp_path):
    datasets = [
        _dataset(counts=1.0, background=0.5, obs_id=1),
        _dataset(counts=1.0, background=0.0, obs_id=2),
        replace(_counts_only_in_excluded_half(), meta={"OBS_ID": 3, "LIVETIME": 50.0}),
        _dataset(counts=2.0, background=0.5, obs_id=4),
    ]
    kept, results = [], []
    for ds in datasets:
        out, res = normalize_background(ds, _half_excluded(), on_failure="drop")
        results.append(res)
        if out is not None:
            kept.append(out)
    assert [r.status for r in results] == ["ok", "skipped", "skipped", "ok"]
    assert [r.action for r in results] == ["scaled", "dropped", "dropped", "scaled"]
    stacked = stack_datasets(kept, geom=datasets[0].geom)
    assert stacked.meta["OBS_IDS"] == [1, 4]
    np.testing.assert_allclose(stacked.background, 0.5 * 2 + 0.5 * 4)
    table = results_table(results)
    write_table(table, tmp_path / "norms.ecsv")
    back = Table.read(tmp_path / "norms.ecsv")
    assert list(back["status"]) == ["ok", "skipped", "skipped", "ok"]
    assert back["reason"][1].startswith("predicted background outside the exclusion is 0")


def test_result_meta_written_to_fits(tmp_path):
    ds = _counts_only_in_excluded_half()
    out, res = normalize_background(ds, _half_excluded(), on_failure="keep_unscaled")
    out.write(tmp_path / "ds.fits")
    back = read_dataset(tmp_path / "ds.fits")
    assert back.meta["BKGSTAT"] == "skipped"
    assert back.meta["BKGREASN"] == res.reason
    ok, _ = normalize_background(ds)
    assert replace(ok, meta={**ok.meta, "BKGSTAT": "x"}).meta["BKGSTAT"] == "x"
    again, _ = normalize_background(replace(ok, meta={**ok.meta, "BKGSTAT": "x"}))
    assert again.meta["BKGSTAT"] == "ok"  # stale keys replaced


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "ring"}, r"method must be one of \('scale', 'fit'\), got 'ring'"),
        ({"on_failure": "ignore"}, "on_failure must be one of"),
        ({"min_counts": -1}, "min_counts must be a non-negative number"),
        ({"min_npred_background": math.nan}, "min_npred_background must be a non-negative"),
        ({"max_iterations": 0}, "max_iterations must be a positive integer"),
        ({"max_iterations": 2.5}, "max_iterations must be a positive integer"),
        ({"reference_energy": "1 m"}, "reference_energy: expected an energy"),
        ({"reference_energy": -1.0}, "reference_energy must be positive"),
    ],
)
def test_invalid_options(kwargs, match):
    with pytest.raises(BackgroundError, match=match):
        normalize_background(_dataset(), **kwargs)


def test_invalid_dataset():
    with pytest.raises(BackgroundError, match="dataset must be a MapDataset, got dict"):
        normalize_background({})
    with pytest.raises(BackgroundError, match="dataset must be a MapDataset"):
        ring_background({}, r_in=0.1, width=0.1)


def test_obs_id_fallbacks():
    ds = _dataset()
    _, res = normalize_background(replace(ds, meta={"OBS_IDS": [5]}))
    assert res.obs_id == 5 and math.isnan(res.livetime)
    _, res = normalize_background(replace(ds, meta={"OBS_IDS": [5, 6]}))
    assert res.obs_id == -1


# ------------------------------------------------------------------------------- table


def test_results_table_columns_and_units():
    _, res = normalize_background(_dataset())
    table = results_table([res])
    assert tuple(table.colnames) == RESULT_COLUMNS
    assert table["livetime"].unit == u.s and table["reference_energy"].unit == u.TeV
    assert table["obs_id"].dtype == np.int64 and table["norm"][0] == 2.0
    empty = results_table([])
    assert tuple(empty.colnames) == RESULT_COLUMNS and len(empty) == 0
    with pytest.raises(BackgroundError, match="expected BackgroundNormResult, got dict"):
        results_table([{}])
    assert isinstance(res, BackgroundNormResult) and res.ok


# -------------------------------------------------------------------------------- ring


def test_ring_kernel_pixels():
    kernel = ring_kernel(r_in=1 * u.deg, width=1 * u.deg, binsz=1 * u.deg)
    assert kernel.shape == (5, 5)
    y, x = np.indices(kernel.shape) - 2
    r = np.hypot(x, y)
    np.testing.assert_array_equal(kernel, ((r >= 1) & (r <= 2)).astype(float))
    # floats are degrees; the scale is relative to the pixel size
    np.testing.assert_array_equal(ring_kernel(r_in=0.1, width=0.1, binsz=0.1), kernel)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"r_in": -0.1}, "ring r_in must be >= 0 deg"),
        ({"width": 0.0}, "ring width must be > 0 deg"),
        ({"binsz": 0.0}, "pixel size must be > 0 deg"),
        ({"width": "1 TeV"}, "ring width: expected an angle"),
        ({"r_in": 0.02, "width": 0.01}, "contains no pixel centre"),
    ],
)
def test_ring_kernel_errors(kwargs, match):
    args = {"r_in": 0.3, "width": 0.2, "binsz": 0.1} | kwargs
    with pytest.raises(BackgroundError, match=match):
        ring_kernel(**args)


def _random_dataset(geom=None):
    geom = geom or _geom()
    rng = np.random.default_rng(3)
    shape = (geom.energy.nbin, *geom.sky.shape)
    mask = np.ones(shape, dtype=bool)
    mask[0, :2] = False  # part of the first energy bin unsafe
    return MapDataset(
        geom=geom,
        counts=rng.poisson(3.0, size=shape).astype(float),
        exposure=np.ones((geom.energy_true.nbin, *geom.sky.shape)),
        background=rng.uniform(1, 2, size=shape),
        mask_safe=mask,
        name="stacked",
        meta={"OBS_IDS": [1, 2], "LIVETIME": 200.0},
    )


def test_ring_matches_direct_convolution():
    ds = _random_dataset()
    excl = _half_excluded()
    onoff = ring_background(ds, excl, r_in=0.2 * u.deg, width=0.15 * u.deg)
    kernel = ring_kernel(r_in=0.2, width=0.15, binsz=0.1)
    counts = np.sum(ds.counts * ds.mask_safe, axis=0)
    bkg = np.sum(ds.background * ds.mask_safe, axis=0)
    expected_off = convolve(counts * excl, kernel, mode="same", method="direct")
    expected_acc_off = convolve(bkg * excl, kernel, mode="same", method="direct")
    assert onoff.counts.shape == (1, NY, NX)
    np.testing.assert_array_equal(onoff.counts[0], counts)
    np.testing.assert_array_equal(onoff.counts_off[0], expected_off)  # exact integers
    np.testing.assert_allclose(onoff.acceptance_off[0], expected_acc_off, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(onoff.acceptance[0], bkg)
    has_off = expected_acc_off > 0
    assert not has_off.all() and has_off.any()  # the excluded corner has no ring
    with np.errstate(divide="ignore"):
        expected_alpha = bkg / expected_acc_off
    np.testing.assert_allclose(onoff.alpha[0][has_off], expected_alpha[has_off])
    assert not onoff.alpha[0][~has_off].any() and not onoff.mask_safe[0][~has_off].any()
    np.testing.assert_allclose(onoff.background, onoff.alpha * onoff.counts_off)
    np.testing.assert_allclose(onoff.excess, onoff.counts - onoff.background)
    assert onoff.geom.energy.edges.tolist() == pytest.approx([1.0, 10.0])
    assert onoff.meta["RING_RIN"] == pytest.approx(0.2) and onoff.meta["OBS_IDS"] == [1, 2]
    np.testing.assert_array_equal(onoff.exposure, ds.exposure)


def test_ring_energy_bands():
    ds = _random_dataset()
    edges = ds.geom.energy.edges
    onoff = ring_background(ds, r_in=0.2, width=0.15, energy_edges=edges[[0, 1, 3]] * u.TeV)
    assert onoff.counts.shape == (2, NY, NX)
    np.testing.assert_allclose(onoff.geom.energy.edges, edges[[0, 1, 3]])
    np.testing.assert_array_equal(onoff.counts[0], ds.counts[0] * ds.mask_safe[0])
    np.testing.assert_array_equal(onoff.counts[1], ds.counts[1:].sum(axis=0))
    full = ring_background(ds, r_in=0.2, width=0.15)
    np.testing.assert_allclose(onoff.counts_off.sum(axis=0), full.counts_off[0])


@pytest.mark.parametrize(
    ("energy_edges", "match"),
    [
        ([1.0, 3.0], r"energy edge 3 TeV is not an edge"),
        ([1.0], "at least two increasing energies"),
        ([10.0, 1.0], "at least two increasing energies"),
    ],
)
def test_ring_energy_band_errors(energy_edges, match):
    with pytest.raises(BackgroundError, match=match):
        ring_background(_random_dataset(), r_in=0.2, width=0.1, energy_edges=energy_edges)


def test_ring_safe_mask_cleared_without_off_acceptance():
    ds = _random_dataset()
    onoff = ring_background(ds, np.zeros((NY, NX), dtype=bool), r_in=0.2, width=0.1)
    assert not onoff.mask_safe.any()
    assert not onoff.acceptance_off.any() and not onoff.counts_off.any()
    assert not onoff.alpha.any()  # 0, not inf, where acceptance_off is 0


def test_ring_uniform_interior():
    ds = _dataset(counts=1.0, background=1.0, geom=_geom(width=3.0))  # 30 x 30
    onoff = ring_background(ds, r_in=0.2, width=0.2)
    n_ring = ring_kernel(r_in=0.2, width=0.2, binsz=0.1).sum()
    centre = onoff.counts_off[0, 15, 15], onoff.acceptance_off[0, 15, 15], onoff.alpha[0, 15, 15]
    assert centre == (3 * n_ring, 3 * n_ring, pytest.approx(1 / n_ring))


# ------------------------------------------------------------------------- on-off file


def test_onoff_write_read_roundtrip(tmp_path):
    ds = _random_dataset()
    ds = replace(
        ds, gti=Table({"START": [0.0], "STOP": [10.0]}, meta={"MJDREFI": 51910, "MJDREFF": 0.0})
    )
    onoff = ring_background(ds, _half_excluded(), r_in=0.2, width=0.1)
    path = tmp_path / "ring.fits"
    onoff.write(path)
    with pytest.raises(FileExistsError, match="exists; pass overwrite=True"):
        onoff.write(path)
    onoff.write(path, overwrite=True)
    back = read_dataset_onoff(path)
    for name in ("counts", "counts_off", "acceptance", "acceptance_off", "exposure"):
        # stored as float32, as gammapy stores maps
        stored = getattr(onoff, name).astype(np.float32)
        np.testing.assert_array_equal(getattr(back, name), stored)
    np.testing.assert_array_equal(back.mask_safe, onoff.mask_safe)
    np.testing.assert_allclose(back.geom.energy.edges, onoff.geom.energy.edges)
    assert back.meta["OBS_IDS"] == [1, 2] and back.meta["LIVETIME"] == 200.0
    assert list(back.gti["STOP"]) == [10.0]
    assert back.name == "stacked"


def test_onoff_errors(tmp_path):
    geom = _geom()
    arr = np.zeros((3, NY, NX))
    with pytest.raises(DatasetError, match=r"counts_off has shape \(3, 2, 2\)"):
        MapDatasetOnOff(
            geom=geom,
            counts=arr,
            counts_off=np.zeros((3, 2, 2)),
            acceptance=arr,
            acceptance_off=arr,
            exposure=np.zeros((2, NY, NX)),
            mask_safe=arr,
        )
    with pytest.raises(DatasetError, match="geom must be a DatasetGeom"):
        MapDatasetOnOff(
            geom=None,
            counts=arr,
            counts_off=arr,
            acceptance=arr,
            acceptance_off=arr,
            exposure=arr,
            mask_safe=arr,
        )
    with pytest.raises(DatasetError, match="no such file"):
        read_dataset_onoff(tmp_path / "missing.fits")
    _random_dataset().write(tmp_path / "plain.fits")  # a MapDataset, not on-off
    with pytest.raises(DatasetError, match="plain.fits: no COUNTS_OFF HDU"):
        read_dataset_onoff(tmp_path / "plain.fits")
    (tmp_path / "junk.fits").write_text("not fits")
    with pytest.raises(DatasetError, match="junk.fits: cannot read on-off dataset"):
        read_dataset_onoff(tmp_path / "junk.fits")


# ---------------------------------------------------------------------------- plotting


def _mixed_results(method="fit"):
    results = []
    for obs_id, counts in ((1, 1.0), (2, 1.2), (3, 0.9)):
        ds = _model_dataset(counts, 0.1)
        _, res = normalize_background(replace(ds, meta={"OBS_ID": obs_id}), method=method)
        results.append(res)
    _, failed = normalize_background(_counts_only_in_excluded_half(), _half_excluded())
    return [*results, failed]


def test_plot_background_norms(tmp_path):
    from dl3flow.io.atomic import write_figure
    from dl3flow.plotting.background import plot_background_norms

    results = _mixed_results()
    fig = plot_background_norms(results)
    norm_ax, tilt_ax = fig.axes
    assert fig.get_suptitle() == "FoV background normalisation (method: fit, scale)"
    assert norm_ax.get_ylabel() == "Background norm"
    assert tilt_ax.get_xlabel() == "Observation ID"
    assert tilt_ax.get_ylabel() == "Spectral tilt (E_ref = 1 TeV)"
    assert [t.get_text() for t in tilt_ax.get_xticklabels()] == ["1", "2", "3", "7"]
    labels = norm_ax.get_legend_handles_labels()[1]
    assert "normalised (3)" in labels and "skipped / failed, not scaled (1)" in labels
    assert any(np.allclose(line.get_ydata(), 1.0) for line in norm_ax.get_lines())
    write_figure(fig, tmp_path / "norms.png")
    assert (tmp_path / "norms.png").stat().st_size > 1000
    # from the table as written; scale only: one panel
    table = results_table(_mixed_results("scale"))
    write_table(table, tmp_path / "norms.ecsv")
    fig = plot_background_norms(Table.read(tmp_path / "norms.ecsv"), title="Crab")
    assert len(fig.axes) == 1 and fig.get_suptitle() == "Crab"


def test_plot_background_norms_missing_column():
    from dl3flow.plotting.background import plot_background_norms

    with pytest.raises(ValueError, match=r"lacks column\(s\) \['norm_err', 'status'\]"):
        plot_background_norms(Table({"obs_id": [1], "norm": [1.0]}))
