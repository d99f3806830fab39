"""Tests of dl3flow.workflow.steps: the glue the workflow scripts use (normalise, stack, read
masks)."""

import logging

import numpy as np
import pytest
from _factories import make_dataset, make_geom

from dl3flow.datasets.map import read_dataset
from dl3flow.makers.exclusion import ExclusionMask
from dl3flow.workflow.steps import (
    StackError,
    describe_norm,
    is_dropped,
    normalise_observation,
    read_exclusion,
    stack_background_corrected,
)


def _geom():
    # 10 x 10 pixels of 0.1 deg at (0, 0), 2 reco (1-10 TeV) and 2 true (0.5-20 TeV) bins
    return make_geom()


def _dataset(counts, obs_id):
    return make_dataset(_geom(), counts=float(counts), background=0.5, obs_id=obs_id)


def _exclusion():
    geom = _geom().sky
    mask = np.ones(geom.shape, dtype=bool)
    mask[:, :5] = False
    return ExclusionMask(mask=mask, geom=geom, recipe={"kind": "regions"})


def test_normalise_ok_keep_and_drop():
    excl = _exclusion()
    out, res = normalise_observation(_dataset(1, 1), excl, method="scale")
    assert res.ok and res.norm == 2.0 and res.counts == 100  # half the 200 pixels
    assert out.meta["BKGACT"] == "scaled" and not is_dropped(out)
    assert "norm 2.0000 +- 0.2000" in describe_norm(res)

    options = {"method": "scale", "min_counts": 1000}
    kept, res = normalise_observation(_dataset(1, 2), excl, on_failure="keep_unscaled", **options)
    assert (res.status, res.action) == ("skipped", "kept_unscaled")
    assert kept.mask_safe.all() and np.all(kept.background == 0.5) and not is_dropped(kept)
    assert "must be > min_counts = 1000" in describe_norm(res)

    dropped, res = normalise_observation(_dataset(1, 3), excl, on_failure="drop", **options)
    assert (res.status, res.action) == ("skipped", "dropped")
    # always a dataset: the IRF background, no safe pixel, the result in the meta
    assert not dropped.mask_safe.any() and np.all(dropped.background == 0.5)
    assert is_dropped(dropped) and dropped.meta["BKGSTAT"] == "skipped"
    assert "min_counts" in dropped.meta["BKGREASN"]


def test_stack_leaves_out_dropped_and_logs(tmp_path, caplog):
    excl = _exclusion()
    paths = []
    for obs_id, counts in ((1, 1), (2, 0), (3, 2)):
        ds, _ = normalise_observation(_dataset(counts, obs_id), excl, on_failure="drop")
        paths.append(tmp_path / f"{obs_id}.fits")
        ds.write(paths[-1])
    with caplog.at_level(logging.WARNING):
        stacked = stack_background_corrected(paths, geom=_geom(), name="x")
    assert "obs 2 left out of the stack: background normalisation skipped" in caplog.text
    assert stacked.meta["NDROPPED"] == 1 and stacked.meta["DROPPED"] == [2]
    assert sorted(stacked.meta["OBS_IDS"]) == [1, 3]
    assert stacked.counts.sum() == 200 + 2 * 200
    stacked.write(tmp_path / "stacked.fits")
    assert read_dataset(tmp_path / "stacked.fits").meta["NDROPPED"] == 1


def test_stack_all_dropped_is_an_error():
    excl = _exclusion()
    ds, _ = normalise_observation(_dataset(0, 1), excl, on_failure="drop")
    with pytest.raises(StackError, match=r"^x: nothing to stack: all 1 observation\(s\) were"):
        stack_background_corrected([ds], geom=_geom(), name="x")
    with pytest.raises(StackError, match="all 0 observation"):
        stack_background_corrected([], geom=_geom(), name="x")


def test_read_exclusion_roundtrip(tmp_path):
    excl = _exclusion()
    excl.write(tmp_path / "m.fits")
    back = read_exclusion(tmp_path / "m.fits")
    np.testing.assert_array_equal(back.mask, excl.mask)
    assert back.recipe["kind"] == "regions" and back.sources is None
    assert back.geom.to_header() == excl.geom.to_header()


def test_read_exclusion_can_leave_the_sources_out(tmp_path):
    from astropy.table import Table

    from dl3flow.makers.exclusion import ExclusionMask

    excl = _exclusion()
    sources = Table({"NAME": ["a"], "RA": [83.6], "DEC": [22.0]})
    ExclusionMask(excl.mask, excl.geom, excl.recipe, sources).write(tmp_path / "m.fits")
    assert list(read_exclusion(tmp_path / "m.fits").sources["NAME"]) == ["a"]
    light = read_exclusion(tmp_path / "m.fits", sources=False)
    assert light.sources is None
    np.testing.assert_array_equal(light.mask, excl.mask)


def test_a_rejected_observation_is_dropped_whatever_on_failure_says(tmp_path):
    from dl3flow.datasets.rejection import Rejection, rejected_dataset

    rejection = Rejection(obs_id=7, stage="irf", reason="obs 7: aeff is NaN", error="IrfError")
    flagged = rejected_dataset(rejection, geom=_geom(), offset_max=0.25)
    assert flagged.geom.sky.shape == (5, 5) and not flagged.mask_safe.any()
    out, res = normalise_observation(flagged, _exclusion(), on_failure="keep_unscaled")
    assert (res.obs_id, res.status, res.action) == (7, "skipped", "dropped")
    assert res.reason == "observation rejected (irf): IrfError: obs 7: aeff is NaN"
    assert is_dropped(out) and out.meta["STATUS"] == "REJECTED"
    good, _ = normalise_observation(_dataset(1, 1), _exclusion(), method="scale")
    stacked = stack_background_corrected([good, out], geom=_geom(), name="x")
    assert stacked.meta["DROPPED"] == [7] and stacked.counts.sum() == 200
