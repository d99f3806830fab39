"""Unit tests of the DL3 validation checks (dl3flow.data.checks), on tiny literal data."""

from __future__ import annotations

import re
import types

import numpy as np
import pytest
from _factories import make_geom

from dl3flow.data.checks import (
    Finding,
    _Usage,
    events_direction_invalid,
    events_energy_invalid,
    events_time_invalid,
    find_deadc,
    find_gti_overlap,
    find_gti_valid,
    find_irf_values,
    find_livetime_ontime,
    find_normalisation,
    find_pointing_index,
    validate_observation,
)
from dl3flow.data.gti import GTITable
from dl3flow.data.observation import EventList
from dl3flow.data.quality import (
    DEFAULT_POLICIES,
    VALIDATION_CHECKS,
    ObservationWarning,
    QualityError,
    QualityNote,
    QualityPolicy,
    collect_notes,
)
from dl3flow.irf.aeff import EffectiveArea2D
from dl3flow.irf.axes import IrfAxis
from dl3flow.irf.background import Background2D
from dl3flow.irf.edisp import EnergyDispersion2D
from dl3flow.irf.psf import PSF3Gauss, PSFKing

# ----------------------------------------------------------------------------- policy


def test_every_validation_check_has_a_default_policy_and_can_make_a_note():
    assert set(DEFAULT_POLICIES) == set(VALIDATION_CHECKS)
    for check in VALIDATION_CHECKS:
        assert QualityNote(obs_id=1, check=check, message="m").check == check


def test_policy_merges_defaults_and_refuses_unknown_names():
    policy = QualityPolicy(policies={"events_energy": "warn"})
    assert policy.policy("events_energy") == "warn"
    assert policy.policy("irf_finite") == "reject"
    assert policy.policy("irf_repaired") == "warn"
    with pytest.raises(ValueError, match=r"unknown quality check\(s\) 'events_energi'"):
        QualityPolicy(policies={"events_energi": "warn"})
    with pytest.raises(ValueError, match="quality check deadc: policy must be one of reject, warn"):
        QualityPolicy(policies={"deadc": "drop"})
    with pytest.raises(ValueError, match="quality time_tolerance must be >= 0, got -1.0"):
        QualityPolicy(time_tolerance=-1)


# ----------------------------------------------------------------------------- GTI, times


@pytest.mark.parametrize(
    ("start", "stop", "match", "n_bad"),
    [
        ([], [], "the GTI table has no interval", 1),
        ([0.0, np.nan], [10.0, 20.0], r"1 of 2 \(50 %\) GTI intervals are non-finite", 1),
        ([10.0], [5.0], r"1 of 1 \(100 %\) GTI intervals are non-finite or end before", 1),
        ([5.0], [5.0], "every GTI interval has zero length", 1),
        ([0.0, 50.0], [40.0, 200.0], r"1 of 2 \(50 %\) GTI intervals reach outside TSTART", 1),
    ],
)
def test_gti_valid_findings(start, stop, match, n_bad):
    finding = find_gti_valid(start, stop, tstart=0.0, tstop=100.0, tolerance=1.0)
    assert finding.check == "gti_valid" and finding.n_bad == n_bad
    assert re.search(match, finding.message)


def test_gti_valid_accepts_a_gti_within_the_tolerance():
    assert find_gti_valid([-0.5], [100.9], tstart=0.0, tstop=100.0, tolerance=1.0) is None
    assert find_gti_valid([-1.5], [100.0], tstart=0.0, tstop=100.0, tolerance=1.0) is not None


def test_gti_overlap():
    start, stop = np.array([0.0, 50.0]), np.array([10.0, 60.0])
    assert find_gti_overlap([55.0, 200.0], start, stop) is None
    assert find_gti_overlap([], start, stop) is None  # the reduction says "empty"
    finding = find_gti_overlap([100.0, 200.0, np.nan], start, stop, tolerance=1.0)
    assert finding.check == "gti_overlap" and (finding.n_bad, finding.n_total) == (3, 3)
    assert finding.message == (
        "none of the 3 events lies inside the GTI (0..60 s; events 100..200 s; tolerance 1 s)"
    )


def test_livetime_ontime():
    assert find_livetime_ontime(livetime=900.0, ontime=1000.0, span=1000.0) is None
    assert find_livetime_ontime(livetime=1000.5, ontime=1000.0, span=1000.0) is None  # 5e-4
    finding = find_livetime_ontime(livetime=1e7, ontime=1687.0, span=1687.0)
    assert finding.message == (
        "LIVETIME = 1e+07 s exceeds ONTIME = 1687 s (ratio 5928, tolerance 0.001)"
    )
    finding = find_livetime_ontime(livetime=900.0, ontime=5000.0, span=1000.0)
    assert finding.message == (
        "ONTIME = 5000 s exceeds TSTOP - TSTART = 1000 s (ratio 5, tolerance 0.001)"
    )


def test_deadc():
    assert find_deadc(deadc=None, livetime=900.0, ontime=1000.0) is None
    assert find_deadc(deadc=0.905, livetime=900.0, ontime=1000.0) is None
    assert find_deadc(deadc=0.9, livetime=0.0, ontime=1000.0) is None  # the reduction refuses
    finding = find_deadc(deadc=0.5, livetime=900.0, ontime=1000.0)
    assert finding.check == "deadc"
    assert finding.message.startswith("DEADC = 0.5, but LIVETIME / ONTIME = 900 / 1000 = 0.9")
    assert find_deadc(deadc=1.5, livetime=1000.0, ontime=1000.0, tolerance=1.0) is not None


def test_pointing_index():
    assert find_pointing_index((83.6, 22.0), (83.6, 22.0)) is None
    assert find_pointing_index((83.6, 22.0), None) is None
    assert find_pointing_index((0.0, 22.0), (359.995, 22.0), tolerance=0.01) is None  # wraps
    finding = find_pointing_index((83.6, 22.0), (83.6, 22.5))
    assert finding.message.endswith("0.5 deg apart (tolerance 0.01 deg)")
    assert "undefined" in find_pointing_index((np.nan, 22.0), (83.6, 22.0)).message


# ----------------------------------------------------------------------------- events


def test_event_masks():
    np.testing.assert_array_equal(
        events_energy_invalid([1.0, 0.0, -1.0, np.nan, np.inf, 1e-9]),
        [False, True, True, True, True, False],
    )
    np.testing.assert_array_equal(
        events_direction_invalid([10.0, np.nan, 10.0, 10.0, 370.0], [0.0, 0.0, 90.5, np.inf, -90]),
        [False, True, True, True, False],
    )
    start, stop = np.array([0.0, 20.0]), np.array([10.0, 30.0])
    np.testing.assert_array_equal(
        events_time_invalid(
            [5.0, 15.0, 10.5, 25.0, 31.5, np.nan, -0.9],
            start,
            stop,
            tstart=0.0,
            tstop=30.0,
            tolerance=1.0,
        ),
        [False, True, False, False, True, True, False],
    )


def test_event_time_with_overlapping_gti_intervals():
    bad = events_time_invalid(
        [8.0, 12.0], [0.0, 5.0], [20.0, 6.0], tstart=0.0, tstop=20.0, tolerance=0.0
    )
    np.testing.assert_array_equal(bad, [False, False])


# ----------------------------------------------------------------------------- IRF values


def test_irf_value_findings():
    values = {"data": np.array([[1.0, np.nan], [-0.5, 2.0]])}
    findings = find_irf_values("aeff", values, negative_tolerance=0.05)
    assert [f.check for f in findings] == ["irf_finite", "irf_negative"]
    assert findings[0].message == (
        "aeff: 1 of 4 (25 %) of the values the geometry uses are NaN or infinite"
    )
    assert findings[1].message == (
        "aeff: 1 of 4 (25 %) of the values the geometry uses are negative (down to -0.5; "
        "largest value 2, tolerance 0.05 of it)"
    )
    # smoothing noise: within the tolerance
    assert find_irf_values("edisp", {"data": np.array([10.0, -0.2, 0.0])}) == []
    zero = find_irf_values("bkg", {"data": np.zeros((2, 3))})
    assert [(f.check, f.message) for f in zero] == [
        ("irf_all_zero", "bkg: all 6 values the geometry uses are zero")
    ]
    assert find_irf_values("psf", {"gamma": np.zeros(2)}) == []  # only data / scale


def _axis(values, name, interp="lin", unit="deg"):
    return IrfAxis.from_nodes(values, name=name, unit=unit, interp=interp)


def _geom():
    return make_geom(
        center=(83.6, 22.0),
        width=1.0,
        binsz=0.5,
        energy=[1.0, 10.0],
        energy_true=[1.0, 10.0],
        rad_edges=np.array([0.0, 0.1, 0.2]),
    )


def test_used_region_takes_the_interpolation_nodes_of_the_geometry_ranges():
    usage = _Usage.of(_geom(), offset_max=0.5)  # offsets up to 0.707 deg
    energy = _axis([0.1, 0.5, 2.0, 5.0, 20.0, 50.0], "energy_true", "log", "TeV")
    offset = _axis([0.0, 0.5, 1.0, 1.5], "offset")
    assert usage.slices((energy, offset)) == (slice(1, 5), slice(0, 3))


def test_edisp_normalisation():
    usage = _Usage.of(_geom(), offset_max=0.5)
    axes = (
        _axis([1.0, 10.0], "energy_true", "log", "TeV"),
        IrfAxis.from_edges([0.0, 1.0, 2.0], name="migra", unit="", interp="lin"),
        _axis([0.0, 1.0], "offset"),
    )
    good = EnergyDispersion2D(axes=axes, data=np.full((2, 2, 2), 0.5))
    assert find_normalisation("edisp", good, usage) is None
    bad = EnergyDispersion2D(axes=axes, data=np.full((2, 2, 2), 2.0))
    finding = find_normalisation("edisp", bad, usage)
    assert (finding.check, finding.n_bad, finding.n_total) == ("irf_normalisation", 4, 4)
    assert "integrates over migra to more than 1 (up to 4;" in finding.message


def test_king_psf_normalisation_needs_gamma_above_one():
    usage = _Usage.of(_geom(), offset_max=0.5)
    axes = (_axis([1.0, 10.0], "energy_true", "log", "TeV"), _axis([0.0, 1.0], "offset"))
    good = PSFKing(axes=axes, gamma=np.full((2, 2), 2.0), sigma=np.full((2, 2), 0.1))
    assert find_normalisation("psf", good, usage) is None
    bad = PSFKing(axes=axes, gamma=np.array([[2.0, 1.0], [2.0, 2.0]]), sigma=np.full((2, 2), 0.1))
    finding = find_normalisation("psf", bad, usage)
    assert finding.n_bad == 1 and "(King: GAMMA <= 1)" in finding.message


def test_finding_fraction():
    assert Finding("events_energy", "m", 1, 1000).fraction == 0.001
    assert Finding("events_energy", "m", 0, 0).fraction == 0.0


# ----------------------------------------------------------------------------- whole observation


def _observation(*, energy=None, time=None, aeff=None, livetime=900.0, header=None, bkg=None):
    """A stand-in for a DataStore Observation: literal events, GTI and IRFs."""
    n = 10
    energy = np.full(n, 2.0) if energy is None else np.asarray(energy, float)
    time = np.linspace(1.0, 99.0, energy.size) if time is None else np.asarray(time, float)
    size = energy.size
    events = EventList(
        ra=np.full(size, 83.6),
        dec=np.full(size, 22.0),
        energy=energy,
        time=time,
        header={"TSTART": 0.0, "TSTOP": 100.0, "RA_PNT": 83.6, "DEC_PNT": 22.0, **(header or {})},
    )
    e_axis = _axis([1.0, 10.0], "energy_true", "log", "TeV")
    o_axis = _axis([0.0, 1.0], "offset")
    aeff = EffectiveArea2D(
        axes=(e_axis, o_axis), data=np.full((2, 2), 1e5) if aeff is None else aeff
    )
    bkg_axes = (_axis([1.0, 10.0], "energy", "log", "TeV"), o_axis)
    bkg = Background2D(axes=bkg_axes, data=np.full((2, 2), 1e-6) if bkg is None else bkg)
    return types.SimpleNamespace(
        obs_id=7,
        events=events,
        gti=GTITable(start=[0.0], stop=[100.0]),
        livetime=livetime,
        ontime=100.0 if livetime < 100 else 1000.0,
        aeff=aeff,
        bkg=bkg,
        edisp=None,
        psf=None,
        index_quantity=lambda name, unit: {"RA_PNT": 83.6, "DEC_PNT": 22.0}.get(name),
    )


def _validate(obs, **policy):
    return validate_observation(
        obs, geom=_geom(), offset_max=0.5, edisp=False, psf=False, policy=QualityPolicy(**policy)
    )


def test_clean_observation_passes_unchanged():
    obs = _observation(livetime=90.0)
    with collect_notes() as notes:
        view = _validate(obs)
    assert notes == []
    assert view.events is obs.events  # nothing dropped: the very same event list
    assert view.aeff is obs.aeff
    assert view.quality_meta == {"NEVDROP": 0, "IRFNFIX": 0, "IRFNNEG": 0}
    assert view.obs_id == 7  # the rest is delegated


def test_a_few_bad_energies_are_dropped_with_a_warning():
    energy = np.full(2000, 2.0)
    energy[3] = np.nan
    obs = _observation(energy=energy, livetime=90.0)
    with collect_notes() as notes:
        view = _validate(obs)
    assert [(n.check, n.message) for n in notes] == [
        (
            "events_energy",
            "obs 7: 1 of 2000 (0.05 %) events have a non-finite or non-positive ENERGY: "
            "dropped (at most 0.1 % may be)",
        )
    ]
    assert len(view.events) == 1999 and np.isfinite(view.events.energy).all()
    assert view.quality_meta["NEVDROP"] == 1


def test_many_bad_energies_reject_with_the_check_and_the_numbers():
    energy = np.full(10, 2.0)
    energy[:1] = -1.0
    with pytest.raises(
        QualityError,
        match=r"obs 7: 1 of 10 \(10 %\) events have a non-finite "
        r"or non-positive ENERGY, more than the 0.1 % allowed \[check events_energy\]",
    ) as info:
        _validate(_observation(energy=energy, livetime=90.0))
    assert info.value.check == "events_energy" and info.value.obs_id == 7


def test_event_check_policies_warn_and_ignore():
    energy = np.full(10, 2.0)
    energy[:5] = np.nan
    with pytest.warns(ObservationWarning, match=r"5 of 10 \(50 %\) events .*: dropped$"):
        view = _validate(
            _observation(energy=energy, livetime=90.0), policies={"events_energy": "warn"}
        )
    assert len(view.events) == 5
    with collect_notes() as notes:
        view = _validate(
            _observation(energy=energy, livetime=90.0), policies={"events_energy": "ignore"}
        )
    assert notes == [] and len(view.events) == 10  # not applied: nothing dropped


def test_livetime_above_ontime_rejects():
    with pytest.raises(QualityError, match=r"LIVETIME = 1e\+07 s exceeds ONTIME = 1000 s"):
        _validate(_observation(livetime=1e7))


def test_nan_aeff_rejects_and_with_warn_is_set_to_zero_and_reported():
    data = np.array([[1e5, np.nan], [1e5, 1e5]])
    with pytest.raises(
        QualityError, match=r"aeff: 1 of 4 \(25 %\) .* NaN or infinite \[check irf_finite\]"
    ):
        _validate(_observation(aeff=data, livetime=90.0))
    with pytest.warns(ObservationWarning, match="are NaN or infinite: set to 0"):
        view = _validate(_observation(aeff=data, livetime=90.0), policies={"irf_finite": "warn"})
    assert view.aeff.data[0, 1] == 0.0 and view.quality_meta["IRFNFIX"] == 1
    assert np.isnan(view.observation.aeff.data[0, 1])  # the input is not modified


def test_all_zero_background_rejects():
    with pytest.raises(QualityError, match=r"bkg: all 4 values .* are zero \[check irf_all_zero\]"):
        _validate(_observation(bkg=np.zeros((2, 2)), livetime=90.0))


def test_a_repair_on_read_is_reported():
    axes = (_axis([1.0, 10.0], "energy_true", "log", "TeV"), _axis([0.0, 1.0], "offset"))
    ones = np.ones((2, 2))
    psf = PSF3Gauss(
        axes=axes,
        sigma_1=ones * 0.1,
        sigma_2=ones,
        sigma_3=ones * 0.3,
        scale=ones,
        ampl_2=ones * 0.0,
        ampl_3=ones * 0.0,
        repairs=("psf.fits[PSF]: 4 of 4 SIGMA_2 values are 0 and were set to 1 deg",),
    )
    obs = _observation(livetime=90.0)
    obs.psf = psf
    with collect_notes() as notes:
        validate_observation(obs, geom=_geom(), offset_max=0.5, edisp=False, psf=True)
    assert [(n.check, n.message) for n in notes] == [
        (
            "irf_repaired",
            "obs 7: psf: psf.fits[PSF]: 4 of 4 SIGMA_2 values are 0 and were set to 1 deg",
        )
    ]
