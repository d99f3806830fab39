"""Tests of dl3flow.data.selection.select_observations on small synthetic obs-index tables."""

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import MaskedColumn, Table

from dl3flow.data.selection import SelectionError, StringCut, auto_center, select_observations

CENTER = SkyCoord(83.0, 22.0, unit="deg", frame="icrs")


@pytest.fixture
def obs_table():
    """Five observations, deliberately not ordered by OBS_ID."""
    table = Table(
        {
            "OBS_ID": np.array([30, 10, 20, 50, 40], dtype=np.int64),
            # pointing offsets along Dec from CENTER: 0.5, 1.0, 2.5, 3.0, 10 deg
            "RA_PNT": np.array([83.0, 83.0, 83.0, 83.0, 83.0]) * u.deg,
            "DEC_PNT": np.array([22.5, 23.0, 24.5, 25.0, 32.0]) * u.deg,
            "ZEN_PNT": np.array([20.0, 55.5, 50.0, 30.0, 10.0]) * u.deg,
            "LIVETIME": np.array([1500.0, 1600.0, 599.0, 600.0, 1700.0]) * u.s,
            "N_TELS": np.array([4, 3, 4, 4, 2]),
            "OBJECT": np.array(["a", "b", "c", "d", "e"]),
        }
    )
    table.meta["MJDREFI"] = 51910
    return table


def reasons(rejected):
    return dict(zip(rejected["OBS_ID"].tolist(), rejected["REASON"].tolist(), strict=True))


def test_no_criteria_keeps_everything_sorted(obs_table):
    selected, rejected = select_observations(obs_table)
    assert selected["OBS_ID"].tolist() == [10, 20, 30, 40, 50]
    assert selected.colnames == obs_table.colnames
    assert selected["OBJECT"].tolist() == ["b", "c", "a", "e", "d"]
    assert selected["ZEN_PNT"].unit == u.deg
    assert selected.meta["MJDREFI"] == 51910
    assert len(rejected) == 0
    assert rejected.colnames == ["OBS_ID", "REASON"]
    assert rejected["OBS_ID"].dtype == np.int64


def test_input_table_is_not_modified(obs_table):
    before = obs_table.copy()
    selected, _ = select_observations(obs_table, cuts={"ZEN_PNT": (None, 50 * u.deg)})
    selected["ZEN_PNT"][0] = -1
    assert np.all(obs_table == before)
    assert obs_table["OBS_ID"].tolist() == [30, 10, 20, 50, 40]


def test_obs_ids_subset_and_unknown_ids(obs_table):
    selected, rejected = select_observations(obs_table, obs_ids=[40, np.int64(10), 99, 10, 5])
    assert selected["OBS_ID"].tolist() == [10, 40]
    assert reasons(rejected) == {5: "not in obs index", 99: "not in obs index"}


def test_cone_selection_with_reasons(obs_table):
    selected, rejected = select_observations(
        obs_table, cone=dict(center=CENTER, radius=2.75 * u.deg)
    )
    assert selected["OBS_ID"].tolist() == [10, 20, 30]
    assert reasons(rejected) == {
        40: "pointing 10 deg from cone centre > 2.75 deg",
        50: "pointing 3 deg from cone centre > 2.75 deg",
    }


def test_cone_center_in_another_frame_and_radius_unit(obs_table):
    center = CENTER.galactic
    selected, _ = select_observations(obs_table, cone=dict(center=center, radius=70 * u.arcmin))
    assert selected["OBS_ID"].tolist() == [10, 30]


def test_cone_and_obs_ids_intersect(obs_table):
    selected, rejected = select_observations(
        obs_table, obs_ids=[10, 40, 7], cone=dict(center=CENTER, radius=2.5 * u.deg)
    )
    assert selected["OBS_ID"].tolist() == [10]
    assert reasons(rejected) == {
        7: "not in obs index",
        40: "pointing 10 deg from cone centre > 2.5 deg",
    }


def test_cuts_with_quantities_and_open_ends(obs_table):
    selected, rejected = select_observations(
        obs_table, cuts={"ZEN_PNT": (None, 50 * u.deg), "LIVETIME": (10 * u.min, None)}
    )
    # max inclusive (ZEN_PNT 50 kept by that cut), min inclusive (LIVETIME 600 s kept)
    assert selected["OBS_ID"].tolist() == [30, 40, 50]
    assert reasons(rejected) == {
        10: "ZEN_PNT = 55.5 deg > 50 deg max",
        20: "LIVETIME = 599 s < 600 s min",
    }


def test_cut_plain_numbers_in_column_unit_and_exact_value(obs_table):
    selected, rejected = select_observations(
        obs_table, cuts={"N_TELS": (4, 4), "ZEN_PNT": (15.0, 60.0)}
    )
    assert selected["OBS_ID"].tolist() == [20, 30, 50]
    assert reasons(rejected) == {
        10: "N_TELS = 3 < 4 min",
        40: "N_TELS = 2 < 4 min; ZEN_PNT = 10 deg < 15 deg min",
    }


def test_all_failed_criteria_are_reported(obs_table):
    _, rejected = select_observations(
        obs_table,
        cone=dict(center=CENTER, radius=2.5 * u.deg),
        cuts={"LIVETIME": (1000 * u.s, None)},
    )
    assert reasons(rejected)[50] == (
        "pointing 3 deg from cone centre > 2.5 deg; LIVETIME = 600 s < 1000 s min"
    )
    assert reasons(rejected)[20] == "LIVETIME = 599 s < 1000 s min"


def test_missing_values_are_rejected(obs_table):
    table = obs_table.copy()
    table["ZEN_PNT"] = MaskedColumn(table["ZEN_PNT"], mask=[True, False, False, False, False])
    table["DEC_PNT"][1] = np.nan
    selected, rejected = select_observations(
        table, cone=dict(center=CENTER, radius=20 * u.deg), cuts={"ZEN_PNT": (None, 90.0)}
    )
    assert selected["OBS_ID"].tolist() == [20, 40, 50]
    assert reasons(rejected) == {
        10: "pointing RA_PNT/DEC_PNT is missing",
        30: "ZEN_PNT is missing",
    }


def test_rejected_is_ordered_by_obs_id(obs_table):
    _, rejected = select_observations(
        obs_table, obs_ids=[99, 1, 30, 50, 40], cuts={"N_TELS": (3, 9)}
    )
    assert rejected["OBS_ID"].tolist() == [1, 40, 99]


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


def test_unknown_cut_column_lists_available(obs_table):
    with pytest.raises(
        SelectionError,
        match="cut on unknown column 'ZENITH'; available columns: OBS_ID, RA_PNT, DEC_PNT, "
        "ZEN_PNT, LIVETIME, N_TELS, OBJECT",
    ):
        select_observations(obs_table, cuts={"ZENITH": (None, 50)})


def test_cut_with_wrong_unit(obs_table):
    with pytest.raises(
        SelectionError,
        match="max of the cut on ZEN_PNT is 50.0 s, whose unit s is not convertible to the "
        "unit of column ZEN_PNT: deg",
    ):
        select_observations(obs_table, cuts={"ZEN_PNT": (None, 50 * u.s)})


def test_cut_with_unit_on_unitless_column(obs_table):
    with pytest.raises(SelectionError, match="min of the cut on N_TELS .* no unit"):
        select_observations(obs_table, cuts={"N_TELS": (3 * u.deg, None)})


def test_cut_min_greater_than_max(obs_table):
    with pytest.raises(SelectionError, match="cut on LIVETIME has min 1200 > max 600 s"):
        select_observations(obs_table, cuts={"LIVETIME": (20 * u.min, 600 * u.s)})


@pytest.mark.parametrize(
    ("bounds", "match"),
    [
        ((1, 2, 3), "cut on ZEN_PNT must be a \\(min, max\\) pair"),
        (5, "cut on ZEN_PNT must be a \\(min, max\\) pair"),
        (("a", None), "min of the cut on ZEN_PNT must be a number"),
    ],
)
def test_malformed_cut(obs_table, bounds, match):
    with pytest.raises(SelectionError, match=match):
        select_observations(obs_table, cuts={"ZEN_PNT": bounds})


def test_cut_on_string_column(obs_table):
    with pytest.raises(SelectionError, match="cut on column 'OBJECT', which is not numeric"):
        select_observations(obs_table, cuts={"OBJECT": (None, 1)})


@pytest.mark.parametrize(
    ("cone", "match"),
    [
        (dict(center=CENTER), "exactly the keys 'center' and 'radius'"),
        (dict(center=(83, 22), radius=1 * u.deg), "cone centre must be a scalar SkyCoord"),
        (dict(center=CENTER, radius=1.0), "cone radius must be a scalar angle Quantity"),
        (dict(center=CENTER, radius=1 * u.m), "cone radius 1.0 m is not an angle"),
        (dict(center=CENTER, radius=-1 * u.deg), "cone radius must be >= 0 deg"),
    ],
)
def test_malformed_cone(obs_table, cone, match):
    with pytest.raises(SelectionError, match=match):
        select_observations(obs_table, cone=cone)


def test_cone_needs_pointing_columns(obs_table):
    table = obs_table.copy()
    table.remove_column("RA_PNT")
    with pytest.raises(SelectionError, match="cone selection needs column\\(s\\) RA_PNT"):
        select_observations(table, cone=dict(center=CENTER, radius=1 * u.deg))


@pytest.mark.parametrize("obs_ids", [10, "10", [10, 1.5], [True]])
def test_malformed_obs_ids(obs_table, obs_ids):
    with pytest.raises(SelectionError, match="obs_ids must"):
        select_observations(obs_table, obs_ids=obs_ids)


def test_table_without_obs_id(obs_table):
    table = obs_table.copy()
    table.remove_column("OBS_ID")
    with pytest.raises(SelectionError, match="obs table has no OBS_ID column"):
        select_observations(table)


def test_empty_selection_lists_criteria_and_counts(obs_table):
    with pytest.raises(
        SelectionError,
        match="empty selection: none of the 3 candidate observations passes the criteria "
        "\\(obs_ids \\(not in obs index\\): 1 rejected; cone of radius 1.2 deg around "
        "\\(RA 83, Dec 22\\) deg: 1 rejected; ZEN_PNT in \\[-inf, 5\\] deg: 2 rejected\\)",
    ):
        select_observations(
            obs_table,
            obs_ids=[10, 40, 1],
            cone=dict(center=CENTER, radius=1.2 * u.deg),
            cuts={"ZEN_PNT": (None, 5 * u.deg)},
        )


def test_empty_obs_table(obs_table):
    with pytest.raises(SelectionError, match="none of the 0 candidate observations"):
        select_observations(obs_table[:0])


# --------------------------------------------------------------------------------------
# String cuts (StringCut: exact values and/or a case-insensitive pattern)
# --------------------------------------------------------------------------------------


@pytest.fixture
def named_table():
    """Names as read from FITS: bytes, blank-padded, one masked and one blank."""
    return Table(
        {
            "OBS_ID": np.array([1, 2, 3, 4, 5, 6], dtype=np.int64),
            "OBJECT": MaskedColumn(
                np.array(
                    [b"MSH 15-52  ", b" MSH 15-5-02", b"Crab Nebula", b"msh15-52", b"", b"x"],
                    dtype="S12",
                ),
                mask=[False, False, False, False, False, True],
            ),
            "N_TELS": np.array([4, 4, 3, 4, 4, 4]),
        }
    )


@pytest.mark.parametrize(
    ("cut", "kept", "rejected"),
    [
        (
            StringCut(values=["MSH 15-52", "MSH 15-5-02"]),
            [1, 2],
            {
                3: "OBJECT = 'Crab Nebula' not in ['MSH 15-52', 'MSH 15-5-02']",
                4: "OBJECT = 'msh15-52' not in ['MSH 15-52', 'MSH 15-5-02']",
                5: "OBJECT is missing",
                6: "OBJECT is missing",
            },
        ),
        (
            StringCut(pattern="msh ?15-5"),
            [1, 2, 4],
            {
                3: "OBJECT = 'Crab Nebula' does not match 'msh ?15-5'",
                5: "OBJECT is missing",
                6: "OBJECT is missing",
            },
        ),
        (
            StringCut(pattern="^msh 15-52$"),
            [1],
            {
                2: "OBJECT = 'MSH 15-5-02' does not match '^msh 15-52$'",
                3: "OBJECT = 'Crab Nebula' does not match '^msh 15-52$'",
                4: "OBJECT = 'msh15-52' does not match '^msh 15-52$'",
                5: "OBJECT is missing",
                6: "OBJECT is missing",
            },
        ),
        (
            StringCut(values=("MSH 15-52", "msh15-52", "Crab Nebula"), pattern="MSH"),
            [1, 4],
            {
                2: "OBJECT = 'MSH 15-5-02' not in ['MSH 15-52', 'msh15-52', 'Crab Nebula']",
                3: "OBJECT = 'Crab Nebula' does not match 'MSH'",
                5: "OBJECT is missing",
                6: "OBJECT is missing",
            },
        ),
    ],
)
def test_string_cuts(named_table, cut, kept, rejected):
    selected, rejected_table = select_observations(named_table, cuts={"OBJECT": cut})
    assert selected["OBS_ID"].tolist() == kept
    assert reasons(rejected_table) == rejected


def test_string_cut_on_str_column_and_with_a_numeric_cut(obs_table):
    selected, rejected = select_observations(
        obs_table, cuts={"OBJECT": StringCut(values=["a", "b", "e"]), "N_TELS": (3, None)}
    )
    assert selected["OBS_ID"].tolist() == [10, 30]
    assert reasons(rejected) == {
        20: "OBJECT = 'c' not in ['a', 'b', 'e']",
        40: "N_TELS = 2 < 3 min",
        50: "OBJECT = 'd' not in ['a', 'b', 'e']",
    }


def test_string_cut_counts_in_empty_selection_error(named_table):
    with pytest.raises(
        SelectionError,
        match=r"none of the 6 candidate observations passes the criteria \(OBJECT in "
        r"\['Vela'\] and matches 'vela' \(case-insensitive\): 6 rejected\)",
    ):
        select_observations(
            named_table, cuts={"OBJECT": StringCut(values=["Vela"], pattern="vela")}
        )


def test_string_cut_on_numeric_column(named_table):
    with pytest.raises(
        SelectionError,
        match=r"string cut \(in/match\) on column 'N_TELS', which is not a string column "
        r"\(dtype int64\)",
    ):
        select_observations(named_table, cuts={"N_TELS": StringCut(values=["4"])})


def test_range_cut_on_bytes_column_names_dtype(named_table):
    with pytest.raises(
        SelectionError, match=r"cut on column 'OBJECT', which is not numeric \(dtype \|S12\)"
    ):
        select_observations(named_table, cuts={"OBJECT": (0, 1)})


def test_string_cut_on_unknown_column_lists_available(named_table):
    with pytest.raises(
        SelectionError,
        match="cut on unknown column 'TARGET_NAME'; available columns: OBS_ID, OBJECT, N_TELS",
    ):
        select_observations(named_table, cuts={"TARGET_NAME": StringCut(pattern="msh")})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "StringCut needs values, a pattern or both"),
        ({"values": "MSH 15-52"}, "StringCut values must be a sequence of strings"),
        ({"values": 3}, "StringCut values must be a sequence of strings"),
        ({"values": []}, "StringCut values must not be empty"),
        ({"values": ["a", 1]}, "StringCut values must be non-empty strings .* got 1"),
        ({"values": [""]}, "StringCut values must be non-empty strings .* got ''"),
        ({"values": [" a"]}, "without surrounding blanks .* got ' a'"),
        ({"pattern": ""}, "StringCut pattern must be a non-empty string, got ''"),
        ({"pattern": 3}, "StringCut pattern must be a non-empty string, got 3"),
        (
            {"pattern": "msh(15"},
            r"StringCut pattern 'msh\(15' is not a valid regular expression: missing \)",
        ),
    ],
)
def test_malformed_string_cut(kwargs, match):
    with pytest.raises(SelectionError, match=match):
        StringCut(**kwargs)


def test_string_cut_is_frozen_and_hashable():
    cut = StringCut(values=["a", "b"], pattern="a")
    assert cut.values == ("a", "b")
    assert cut == StringCut(values=("a", "b"), pattern="a")
    assert hash(cut) == hash(StringCut(values=("a", "b"), pattern="a"))
    with pytest.raises(AttributeError):
        cut.pattern = "b"


@pytest.mark.parametrize(
    ("cut", "obs_ids"),
    [
        (StringCut(values=["PKS 2155-304"]), 21),
        (StringCut(values=["MSH 15-5-02", "MSH15-52"]), 19),
        (StringCut(pattern="^msh ?15-5"), 19),
    ],
)
def test_hess_dr1_select_by_object(hess_dr1, cut, obs_ids):
    table = Table.read(hess_dr1 / "obs-index.fits.gz", hdu="OBS_INDEX")
    selected, rejected = select_observations(table, cuts={"OBJECT": cut})
    assert len(selected) == obs_ids
    assert len(selected) + len(rejected) == 105


def test_hess_dr1_msh1552_object_misses_run_20151(hess_dr1):
    """Run 20151 (OBJECT 'custom') is in MSH 15-52's cone and has its TARGET_NAME."""
    table = Table.read(hess_dr1 / "obs-index.fits.gz", hdu="OBS_INDEX")
    by_object, _ = select_observations(table, cuts={"OBJECT": StringCut(pattern="^msh ?15-5")})
    by_target, rejected = select_observations(
        table, cuts={"TARGET_NAME": StringCut(values=["MSH 15-52"])}
    )
    by_cone, _ = select_observations(
        table,
        cone=dict(center=SkyCoord(320.33, -1.19, unit="deg", frame="galactic"), radius=3 * u.deg),
    )
    assert by_target["OBS_ID"].tolist() == by_cone["OBS_ID"].tolist()
    assert len(by_target) == 20
    assert sorted(set(by_target["OBS_ID"].tolist()) - set(by_object["OBS_ID"].tolist())) == [20151]
    assert reasons(rejected)[23523] == "TARGET_NAME = 'Crab' not in ['MSH 15-52']"


# ------------------------------------------------------------------- automatic centre


def _pointings(ra, dec):
    return Table({"OBS_ID": np.arange(1, len(ra) + 1), "RA_PNT": ra, "DEC_PNT": dec})


@pytest.mark.parametrize(
    ("ra", "dec", "limit", "expected", "dropped"),
    [
        # symmetric pairs: the mean is the middle, exactly
        ([10.0, 12.0], [0.0, 0.0], 5.0, (11.0, 0.0), ()),
        ([359.0, 1.0], [-1.0, 1.0], 5.0, (0.0, 0.0), ()),  # across RA 0
        # obs 3 is 20 deg away: left out; then the mean of 1 and 2
        ([10.0, 12.0, 31.0], [0.0, 0.0, 0.0], 5.0, (11.0, 0.0), (3,)),
        # two outliers, the farther first
        ([10.0, 12.0, 40.0, 25.0], [0.0, 0.0, 0.0, 0.0], 5.0, (11.0, 0.0), (3, 4)),
        # generous limit: everyone counts
        ([10.0, 12.0, 31.0], [0.0, 0.0, 0.0], 20.0, (17.637, 0.0), ()),  # not 17.667
        ([83.6], [22.0], 0.0, (83.6, 22.0), ()),
    ],
)
def test_auto_center(ra, dec, limit, expected, dropped):
    result = auto_center(_pointings(ra, dec), frame="icrs", max_separation=limit)
    assert result.center.ra.deg % 360 == pytest.approx(expected[0] % 360, abs=1e-3)
    assert result.center.dec.deg == pytest.approx(expected[1], abs=1e-9)
    assert result.dropped == dropped
    assert sorted(result.used + result.dropped) == list(range(1, len(ra) + 1))


def test_auto_center_in_galactic_and_described():
    # three pointings on the galactic plane around l = 0 (the Galactic Centre)
    gal = SkyCoord([359.0, 0.0, 1.0] * u.deg, [0.0, 0.0, 0.0] * u.deg, frame="galactic").icrs
    table = _pointings(gal.ra.deg, gal.dec.deg)
    result = auto_center(table, frame="galactic", max_separation=3.0)
    assert result.center.frame.name == "galactic"
    assert result.center.l.wrap_at(180 * u.deg).deg == pytest.approx(0.0, abs=1e-9)
    assert result.center.b.deg == pytest.approx(0.0, abs=1e-9)
    assert result.describe() == "centre (l, b) = (0.000, 0.000) deg (galactic) from 3 pointing(s)"
    far = auto_center(_pointings([10.0, 12.0, 31.0], [0.0] * 3), frame="icrs", max_separation=5)
    assert far.describe() == (
        "centre (RA, Dec) = (11.000, 0.000) deg (icrs) from 2 pointing(s); 1 pointing(s) "
        "more than 5 deg from the mean left out of it: 3"
    )


@pytest.mark.parametrize(
    ("table", "limit", "match"),
    [
        (_pointings([], []), 1.0, "needs at least one observation"),
        (Table({"OBS_ID": [1], "RA_PNT": [1.0]}), 1.0, r"needs column\(s\) DEC_PNT"),
        (_pointings([1.0], [np.nan]), 1.0, "needs every pointing: missing for 1"),
        (_pointings([1.0], [1.0]), -1.0, "max_separation must be >= 0 deg"),
        (_pointings([0.0, 180.0], [0.0, 0.0]), 200.0, "no mean direction"),
    ],
)
def test_auto_center_errors(table, limit, match):
    with pytest.raises(SelectionError, match=match):
        auto_center(table, max_separation=limit)


def test_auto_center_on_the_hess_msh1552_runs(hess_dr1):
    """The MSH 15-52 runs (TARGET_NAME) centre within 0.2 deg of the pulsar wind nebula."""
    obs_table = Table.read(hess_dr1 / "obs-index.fits.gz", hdu="OBS_INDEX")
    selected, _ = select_observations(
        obs_table, cuts={"TARGET_NAME": StringCut(values=("MSH 15-52",))}
    )
    result = auto_center(selected, frame="galactic", max_separation=4.5)
    msh = SkyCoord(320.33 * u.deg, -1.19 * u.deg, frame="galactic")
    assert result.dropped == ()
    assert result.center.separation(msh).deg < 0.2
