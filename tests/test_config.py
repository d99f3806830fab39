"""Tests of dl3flow.config: every quantity parsed once, every error names its key."""

import copy
import functools
import inspect
import re
from dataclasses import fields, is_dataclass, replace
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
import yaml

from dl3flow.config.analysis import analysis_config, analysis_names, check_exclusion_inputs
from dl3flow.config.model import (
    AnalysisConfig,
    BackgroundConfig,
    ExclusionConfig,
    MapsConfig,
    PlotConfig,
    SafeMaskConfig,
    SelectionConfig,
    SignificanceMaskConfig,
)
from dl3flow.config.options import DEFAULTS, TOP_DEFAULTS
from dl3flow.config.schema import derive, derived, load_schema
from dl3flow.config.spectrum import FinderConfig, SpectrumConfig
from dl3flow.config.values import ConfigError, parse_quantity
from dl3flow.data.quality import DEFAULT_POLICIES, POLICIES, QualityPolicy
from dl3flow.data.selection import StringCut

REPO = Path(__file__).resolve().parents[1]


def minimal():
    return {
        "data_store": "store",
        "analyses": {
            "a": {
                "geom": {
                    "center": {"lon": "83.633 deg", "lat": "22.014 deg"},
                    "width": "2 deg",
                    "binsz": "0.1 deg",
                }
            }
        },
    }


def with_analysis(**changes):
    config = minimal()
    config["analyses"]["a"].update(changes)
    return config


def with_geom(**changes):
    config = minimal()
    config["analyses"]["a"]["geom"].update(changes)
    return config


def test_minimal_defaults():
    cfg = analysis_config(minimal(), "a")
    assert isinstance(cfg, AnalysisConfig)
    assert cfg.name == "a"
    assert cfg.data_store == Path("store")
    assert cfg.geom.sky.shape == (20, 20)
    assert cfg.geom.sky.frame == "icrs"
    assert cfg.geom.sky.projection == "CAR"
    assert cfg.geom.irf_sky.binsz == (0.2, 0.2)
    np.testing.assert_allclose(cfg.geom.energy.edges[[0, -1]], [1, 10])
    assert cfg.geom.energy.nbin == 10
    np.testing.assert_allclose(cfg.geom.energy_true.edges[[0, -1]], [0.5, 20])
    assert cfg.offset_max == 2.5 * u.deg
    assert cfg.edisp and cfg.psf
    assert cfg.fov_rotation_step == 1 * u.deg
    assert cfg.selection.as_kwargs() == {"obs_ids": None, "cone": None, "cuts": None}
    assert cfg.plots.exposure_energy_true == 1 * u.TeV
    assert cfg.plots.caption is None


def test_frozen():
    cfg = analysis_config(minimal(), "a")
    with pytest.raises(AttributeError, match="cannot assign"):
        cfg.name = "b"


def test_input_not_modified():
    config = minimal()
    before = copy.deepcopy(config)
    analysis_config(config, "a")
    assert config == before


def test_full_analysis():
    config = with_analysis(
        data_store="other",
        selection={
            "obs_ids": [3, 1, 2],
            "cone": {
                "center": {"lon": "184.557 deg", "lat": "-5.784 deg", "frame": "galactic"},
                "radius": "3 deg",
            },
            "cuts": {
                "ZEN_PNT": {"max": "40 deg"},
                "LIVETIME": {"min": "10 min"},
                "N_TELS": {"min": 3},
                "MYCOL": {"min": "1 km", "max": "2 km"},
            },
        },
        offset_max="150 arcmin",
        edisp=False,
        psf=False,
        plots={"exposure_energy_true": None, "caption": "text"},
    )
    config["analyses"]["a"]["geom"].update(
        frame="galactic",
        proj="TAN",
        width=["3 deg", "2 deg"],
        binsz="6 arcmin",
        binsz_irf="0.5 deg",
        energy={"min": "300 GeV", "max": "30 TeV", "nbin": 5},
    )
    cfg = analysis_config(config, "a")
    assert cfg.data_store == Path("other")
    assert cfg.geom.sky.shape == (20, 30)
    assert cfg.geom.sky.frame == "galactic"
    assert cfg.geom.sky.projection == "TAN"
    np.testing.assert_allclose(cfg.geom.energy.edges[[0, -1]], [0.3, 30])
    assert cfg.offset_max.unit == u.deg and cfg.offset_max.value == pytest.approx(2.5)
    assert not cfg.edisp and not cfg.psf
    kwargs = cfg.selection.as_kwargs()
    assert kwargs["obs_ids"] == [3, 1, 2]
    assert kwargs["cone"]["radius"] == 3 * u.deg
    assert kwargs["cone"]["center"].frame.name == "galactic"
    assert kwargs["cuts"]["ZEN_PNT"] == (None, 40 * u.deg)
    assert kwargs["cuts"]["LIVETIME"][0] == 600 * u.s
    assert kwargs["cuts"]["N_TELS"] == (3 * u.dimensionless_unscaled, None)
    assert kwargs["cuts"]["MYCOL"][1] == 2 * u.km
    assert cfg.plots.exposure_energy_true is None and cfg.plots.caption == "text"


@pytest.mark.parametrize(
    ("column", "cut", "expected"),
    [
        (
            "OBJECT",
            {"in": ["MSH 15-52", "MSH 15-5-02"]},
            StringCut(values=("MSH 15-52", "MSH 15-5-02")),
        ),
        ("TARGET_NAME", {"match": "msh ?15-5"}, StringCut(pattern="msh ?15-5")),
        ("OBJECT", {"in": ["Crab"], "match": "^c"}, StringCut(values=("Crab",), pattern="^c")),
        # as Snakemake's validation fills the schema defaults in
        (
            "OBJECT",
            {"min": None, "max": None, "in": ["Crab"], "match": None},
            StringCut(values=("Crab",)),
        ),
        ("ZEN_PNT", {"min": None, "max": "40 deg", "in": None, "match": None}, (None, 40 * u.deg)),
    ],
)
def test_selection_string_cuts(column, cut, expected):
    cfg = analysis_config(with_analysis(selection={"cuts": {column: cut}}), "a")
    assert cfg.selection.cuts == {column: expected}
    assert cfg.selection.as_kwargs()["cuts"] == {column: expected}


def test_geom_center_frame_defaults_to_map_frame():
    config = with_geom(frame="galactic", center={"lon": "10 deg", "lat": "0 deg"})
    cfg = analysis_config(config, "a")
    center = cfg.geom.sky.center_skydir.galactic
    assert center.l.deg == pytest.approx(10)
    assert center.b.deg == pytest.approx(0, abs=1e-9)


def test_top_level_data_store_is_default_and_analysis_overrides():
    config = minimal()
    assert analysis_config(config, "a").data_store == Path("store")
    config["analyses"]["a"]["data_store"] = "mine"
    assert analysis_config(config, "a").data_store == Path("mine")


def test_on_bad_observation_default_top_level_and_override():
    config = minimal()
    assert analysis_config(config, "a").on_bad_observation == "skip"
    config["on_bad_observation"] = "fail"
    assert analysis_config(config, "a").on_bad_observation == "fail"
    config["analyses"]["a"]["on_bad_observation"] = "skip"
    assert analysis_config(config, "a").on_bad_observation == "skip"


@pytest.mark.parametrize(
    ("top", "analysis", "match"),
    [
        ("ignore", None, r"^on_bad_observation: expected one of fail, skip, got 'ignore'"),
        ("skip", "Fail", r"^analyses\.a\.on_bad_observation: expected one of fail, skip"),
    ],
)
def test_on_bad_observation_errors(top, analysis, match):
    config = minimal()
    config["on_bad_observation"] = top
    config["analyses"]["a"]["on_bad_observation"] = analysis
    with pytest.raises(ConfigError, match=match):
        analysis_config(config, "a")


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ("0.3 deg", "angle", 0.3 * u.deg),
        ("18 arcmin", "angle", 0.3 * u.deg),
        ("300 GeV", "energy", 0.3 * u.TeV),
        ("1TeV", "energy", 1 * u.TeV),
        ("10 min", "time", 600 * u.s),
        (3, "dimensionless", 3 * u.dimensionless_unscaled),
        ("0.5", "dimensionless", 0.5 * u.dimensionless_unscaled),
    ],
)
def test_parse_quantity(value, kind, expected):
    result = parse_quantity(value, kind=kind, path="k")
    assert result.unit == expected.unit
    assert result.value == pytest.approx(expected.value)


@pytest.mark.parametrize(
    ("value", "kind", "match"),
    [
        ("0.02 TeV", "angle", r"^k: expected an angle, got '0.02 TeV'$"),
        ("1 deg", "energy", r"^k: expected an energy, got '1 deg'$"),
        ("1 TeV", "time", r"^k: expected a time, got '1 TeV'$"),
        ("1 s", "dimensionless", r"^k: expected a dimensionless number, got '1 s'$"),
        (0.3, "angle", r"^k: expected an angle with a unit, e.g. '0.3 deg', got 0.3$"),
        ("0.3", "angle", r"^k: expected an angle with a unit"),
        ("0.3 dgr", "angle", r"^k: cannot read '0.3 dgr' as an angle"),
        ("nan deg", "angle", r"^k: expected a finite value"),
        (True, "angle", r"^k: expected an angle such as"),
        ([1, 2], "angle", r"^k: expected an angle such as"),
        (None, "energy", r"^k: expected an energy such as"),
    ],
)
def test_parse_quantity_errors(value, kind, match):
    with pytest.raises(ConfigError, match=match):
        parse_quantity(value, kind=kind, path="k")


def test_binsz_wrong_dimension_message():
    with pytest.raises(
        ConfigError, match=r"^analyses.a.geom.binsz: expected an angle, got '0.02 TeV'$"
    ):
        analysis_config(with_geom(binsz="0.02 TeV"), "a")


# Every error path of analysis_config, by key path.
@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"analyses": {"a": {"geom": {}}}}, r"analyses.b: no such analysis \(defined: a\)"),
        ({}, r"analyses.b: no such analysis \(defined: none\)"),
    ],
)
def test_unknown_analysis(config, match):
    with pytest.raises(ConfigError, match=match):
        analysis_config(config, "b")


def test_bad_analysis_name():
    config = minimal()
    config["analyses"]["a/b"] = config["analyses"].pop("a")
    with pytest.raises(ConfigError, match=r"analyses.a/b: name must match"):
        analysis_config(config, "a/b")


def _without_data_store():
    config = minimal()
    del config["data_store"]
    return config


def _unknown_key():
    return with_analysis(offset_mx="2 deg")


def _no_geom():
    config = minimal()
    del config["analyses"]["a"]["geom"]
    return config


def _geom_missing(key):
    config = minimal()
    del config["analyses"]["a"]["geom"][key]
    return config


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"analyses": {"a": "x"}}, r"^analyses.a: expected a mapping, got 'x'"),
        (
            _unknown_key(),
            r"^analyses.a: unknown key\(s\) 'offset_mx' \(did you mean 'offset_max'\?\); "
            "allowed: ",
        ),
        (_no_geom(), r"^analyses.a: missing key 'geom'"),
        (_without_data_store(), r"^analyses.a.data_store: no data store given"),
        (with_analysis(data_store=3), r"^analyses.a.data_store: expected a path, got 3"),
        (_geom_missing("center"), r"^analyses.a.geom: missing key 'center'"),
        (_geom_missing("width"), r"^analyses.a.geom: missing key 'width'"),
        (_geom_missing("binsz"), r"^analyses.a.geom: missing key 'binsz'"),
        (with_geom(bnsz="1 deg"), r"^analyses.a.geom: unknown key\(s\) 'bnsz'"),
        (with_geom(frame="fk5"), r"^analyses.a.geom.frame: expected one of icrs, galactic"),
        (with_geom(proj="AIT"), r"^analyses.a.geom.proj: expected one of CAR, TAN, got 'AIT'"),
        (with_geom(center=[1, 2]), r"^analyses.a.geom.center: expected a mapping"),
        (with_geom(center={"lon": "1 deg"}), r"^analyses.a.geom.center: missing key 'lat'"),
        (with_geom(center={"lat": "1 deg"}), r"^analyses.a.geom.center: missing key 'lon'"),
        (
            with_geom(center={"lon": "1 deg", "lat": "1 deg", "ra": 1}),
            r"^analyses.a.geom.center: unknown key\(s\) 'ra'",
        ),
        (
            with_geom(center={"lon": "1 TeV", "lat": "1 deg"}),
            r"^analyses.a.geom.center.lon: expected an angle, got '1 TeV'",
        ),
        (
            with_geom(center={"lon": "1 deg", "lat": "91 deg"}),
            r"^analyses.a.geom.center.lat: must be within \[-90, 90\] deg",
        ),
        (
            with_geom(center={"lon": "1 deg", "lat": "1 deg", "frame": "altaz"}),
            r"^analyses.a.geom.center.frame: expected one of icrs, galactic, got 'altaz'",
        ),
        (with_geom(width="5 TeV"), r"^analyses.a.geom.width: expected an angle, got '5 TeV'"),
        (with_geom(width="-5 deg"), r"^analyses.a.geom.width: must be positive"),
        (
            with_geom(width=["1 deg"]),
            r"^analyses.a.geom.width: expected one angle or two \(lon, lat\)",
        ),
        (
            with_geom(width=["1 deg", "2 s"]),
            r"^analyses.a.geom.width\[1\]: expected an angle, got '2 s'",
        ),
        (with_geom(width="0.01 deg"), r"^analyses.a.geom.width: '0.01 deg' is narrower than"),
        (with_geom(binsz="0 deg"), r"^analyses.a.geom.binsz: must be positive, got '0 deg'"),
        (with_geom(binsz_irf="1 TeV"), r"^analyses.a.geom.binsz_irf: expected an angle"),
        (with_geom(energy=[1, 10]), r"^analyses.a.geom.energy: expected a mapping"),
        (
            with_geom(energy={"min": "1 TeV", "max": "10 TeV", "nbin": 3, "n": 1}),
            r"^analyses.a.geom.energy: unknown key\(s\) 'n'",
        ),
        (
            with_geom(energy={"min": "1 deg", "max": "10 TeV", "nbin": 3}),
            r"^analyses.a.geom.energy.min: expected an energy, got '1 deg'",
        ),
        (
            with_geom(energy={"min": "1 TeV", "max": "-1 TeV", "nbin": 3}),
            r"^analyses.a.geom.energy.max: must be positive",
        ),
        (
            with_geom(energy={"min": "1 TeV", "max": "10 TeV", "nbin": 0}),
            r"^analyses.a.geom.energy.nbin: expected an integer >= 1, got 0",
        ),
        (
            with_geom(energy={"min": "1 TeV", "max": "10 TeV", "nbin": 2.5}),
            r"^analyses.a.geom.energy.nbin: expected an integer >= 1, got 2.5",
        ),
        (
            with_geom(energy={"min": "10 TeV", "max": "1 TeV", "nbin": 3}),
            r"^analyses.a.geom.energy: 'min' '10 TeV' must be below 'max' '1 TeV'",
        ),
        (
            with_geom(energy_true={"min": "1 TeV", "max": "1 TeV", "nbin": 3}),
            r"^analyses.a.geom.energy_true: 'min' '1 TeV' must be below 'max'",
        ),
        (with_analysis(offset_max="2 TeV"), r"^analyses.a.offset_max: expected an angle"),
        (with_analysis(offset_max="0 deg"), r"^analyses.a.offset_max: must be positive"),
        (
            with_analysis(fov_rotation_step="1 s"),
            r"^analyses.a.fov_rotation_step: expected an angle, got '1 s'",
        ),
        (with_analysis(edisp="yes"), r"^analyses.a.edisp: expected true or false, got 'yes'"),
        (with_analysis(psf=1), r"^analyses.a.psf: expected true or false, got 1"),
        (with_analysis(selection=[1]), r"^analyses.a.selection: expected a mapping"),
        (
            with_analysis(selection={"obsids": [1]}),
            r"^analyses.a.selection: unknown key\(s\) 'obsids'",
        ),
        (
            with_analysis(selection={"obs_ids": 23523}),
            r"^analyses.a.selection.obs_ids: expected a list of integers, got 23523",
        ),
        (
            with_analysis(selection={"obs_ids": []}),
            r"^analyses.a.selection.obs_ids: empty list \(use null to select all\)",
        ),
        (
            with_analysis(selection={"obs_ids": [1, "2"]}),
            r"^analyses.a.selection.obs_ids\[1\]: expected an integer >= 0, got '2'",
        ),
        (
            with_analysis(selection={"obs_ids": [1, -2]}),
            r"^analyses.a.selection.obs_ids\[1\]: expected an integer >= 0, got -2",
        ),
        (
            with_analysis(selection={"obs_ids": [1, 1]}),
            r"^analyses.a.selection.obs_ids: duplicate observation ids in \[1, 1\]",
        ),
        (
            with_analysis(selection={"cone": "x"}),
            r"^analyses.a.selection.cone: expected a mapping, got 'x'",
        ),
        (
            with_analysis(selection={"cone": {"radius": "1 deg"}}),
            r"^analyses.a.selection.cone: missing key 'center'",
        ),
        (
            with_analysis(selection={"cone": {"center": {"lon": "1 deg", "lat": "1 deg"}}}),
            r"^analyses.a.selection.cone: missing key 'radius'",
        ),
        (
            with_analysis(selection={"cone": {"radius": "1 deg", "r": 1}}),
            r"^analyses.a.selection.cone: unknown key\(s\) 'r'",
        ),
        (
            with_analysis(
                selection={"cone": {"center": {"lon": "1 deg", "lat": "1"}, "radius": "1 deg"}}
            ),
            r"^analyses.a.selection.cone.center.lat: expected an angle with a unit",
        ),
        (
            with_analysis(
                selection={"cone": {"center": {"lon": "1 deg", "lat": "1 deg"}, "radius": "1 m"}}
            ),
            r"^analyses.a.selection.cone.radius: expected an angle, got '1 m'",
        ),
        (
            with_analysis(selection={"cuts": [1]}),
            r"^analyses.a.selection.cuts: expected a mapping",
        ),
        (
            with_analysis(selection={"cuts": {"ZEN_PNT": "40 deg"}}),
            r"^analyses.a.selection.cuts.ZEN_PNT: expected a mapping, got '40 deg'",
        ),
        (
            with_analysis(selection={"cuts": {"ZEN_PNT": {"maximum": "40 deg"}}}),
            r"^analyses.a.selection.cuts.ZEN_PNT: unknown key\(s\) 'maximum'",
        ),
        (
            with_analysis(selection={"cuts": {"ZEN_PNT": {}}}),
            r"^analyses.a.selection.cuts.ZEN_PNT: give 'min', 'max' or both",
        ),
        (
            with_analysis(selection={"cuts": {"ZEN_PNT": {"max": "40 TeV"}}}),
            r"^analyses.a.selection.cuts.ZEN_PNT.max: expected an angle, got '40 TeV'",
        ),
        (
            with_analysis(selection={"cuts": {"LIVETIME": {"min": 600}}}),
            r"^analyses.a.selection.cuts.LIVETIME.min: expected a time with a unit",
        ),
        (
            with_analysis(selection={"cuts": {"N_TELS": {"min": "3 deg"}}}),
            r"^analyses.a.selection.cuts.N_TELS.min: expected a dimensionless number",
        ),
        (
            with_analysis(selection={"cuts": {"ZEN_PNT": {"min": "40 deg", "max": "10 deg"}}}),
            r"^analyses.a.selection.cuts.ZEN_PNT: 'min' '40 deg' >= 'max' '10 deg'",
        ),
        (
            with_analysis(selection={"cuts": {"MYCOL": {"min": "1 km", "max": "2 s"}}}),
            r"^analyses.a.selection.cuts.MYCOL: 'min' and 'max' have different dimensions",
        ),
        (
            with_analysis(selection={"cuts": {"MYCOL": {"min": "1 foo"}}}),
            r"^analyses.a.selection.cuts.MYCOL.min: cannot read '1 foo' as a quantity",
        ),
        (
            with_analysis(selection={"cuts": {"MYCOL": {"min": [1]}}}),
            r"^analyses.a.selection.cuts.MYCOL.min: expected a number or a quantity string",
        ),
        (
            with_analysis(selection={"cuts": {"OBJECT": {"in": ["a"], "max": 3}}}),
            r"^analyses.a.selection.cuts.OBJECT: 'in'/'match' \(string column\) cannot be "
            r"combined with 'min'/'max' \(numeric range\); got 'max', 'in'",
        ),
        (
            with_analysis(selection={"cuts": {"OBJECT": {"match": "a", "min": "1 deg"}}}),
            r"^analyses.a.selection.cuts.OBJECT: 'in'/'match' .* got 'min', 'match'",
        ),
        (
            with_analysis(selection={"cuts": {"ZEN_PNT": {"in": ["40 deg"]}}}),
            r"^analyses.a.selection.cuts.ZEN_PNT: 'in'/'match' need a string column, but "
            r"ZEN_PNT is numeric \(an angle\)",
        ),
        (
            with_analysis(selection={"cuts": {"OBJECT": {"in": "Crab"}}}),
            r"^analyses.a.selection.cuts.OBJECT.in: expected a non-empty list of strings, "
            r"got 'Crab'",
        ),
        (
            with_analysis(selection={"cuts": {"OBJECT": {"in": []}}}),
            r"^analyses.a.selection.cuts.OBJECT.in: expected a non-empty list of strings, got \[\]",
        ),
        (
            with_analysis(selection={"cuts": {"OBJECT": {"in": ["Crab", 23523]}}}),
            r"^analyses.a.selection.cuts.OBJECT.in\[1\]: expected a non-empty string without "
            r"surrounding blanks \(table values are compared stripped\), got 23523",
        ),
        (
            with_analysis(selection={"cuts": {"OBJECT": {"in": [""]}}}),
            r"^analyses.a.selection.cuts.OBJECT.in\[0\]: expected a non-empty string .* got ''",
        ),
        (
            with_analysis(selection={"cuts": {"OBJECT": {"in": ["Crab "]}}}),
            r"^analyses.a.selection.cuts.OBJECT.in\[0\]: .* got 'Crab '",
        ),
        (
            with_analysis(selection={"cuts": {"OBJECT": {"match": ["crab"]}}}),
            r"^analyses.a.selection.cuts.OBJECT.match: expected a non-empty string, "
            r"got \['crab'\]",
        ),
        (
            with_analysis(selection={"cuts": {"OBJECT": {"match": ""}}}),
            r"^analyses.a.selection.cuts.OBJECT.match: expected a non-empty string, got ''",
        ),
        (
            with_analysis(selection={"cuts": {"OBJECT": {"match": "msh[15"}}}),
            r"^analyses.a.selection.cuts.OBJECT.match: 'msh\[15' is not a valid regular "
            r"expression \(unterminated character set",
        ),
        (
            with_analysis(selection={"cuts": {"OBJECT": {"regex": "msh"}}}),
            r"^analyses.a.selection.cuts.OBJECT: unknown key\(s\) 'regex'; "
            r"allowed: in, match, max, min",
        ),
        (
            with_analysis(selection={"cuts": {"OBJECT": {"in": None, "match": None}}}),
            r"^analyses.a.selection.cuts.OBJECT: give 'min', 'max' or both "
            r"\(or 'in', 'match' for a string column\)",
        ),
        (with_analysis(plots=[1]), r"^analyses.a.plots: expected a mapping"),
        (with_analysis(plots={"cap": 1}), r"^analyses.a.plots: unknown key\(s\) 'cap'"),
        (
            with_analysis(plots={"exposure_energy_true": "1 deg"}),
            r"^analyses.a.plots.exposure_energy_true: expected an energy, got '1 deg'",
        ),
        (
            with_analysis(plots={"exposure_energy_true": "100 TeV"}),
            r"^analyses.a.plots.exposure_energy_true: '100 TeV' is outside the true-energy axis",
        ),
        (with_analysis(plots={"caption": 1}), r"^analyses.a.plots.caption: expected a string"),
    ],
)
def test_analysis_config_errors(config, match):
    with pytest.raises(ConfigError, match=match):
        analysis_config(config, "a")


def test_geom_error_is_wrapped(monkeypatch):
    from dl3flow.config import geometry as config_module
    from dl3flow.maps.geom import GeomError

    def fail(**kwargs):
        raise GeomError("boom")

    monkeypatch.setattr(config_module.SkyGeom, "create", fail)
    with pytest.raises(ConfigError, match=r"^analyses.a.geom: boom$"):
        analysis_config(minimal(), "a")


# --------------------------------------------------------------------------- analysis_names


def test_analysis_names_all_and_run():
    config = minimal()
    config["analyses"]["b"] = config["analyses"]["a"]
    assert analysis_names(config) == ["a", "b"]
    assert analysis_names({**config, "run": "b"}) == ["b"]
    assert analysis_names({**config, "run": ["b", "a", "b"]}) == ["b", "a"]


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({}, r"^analyses: no analysis defined"),
        ({"analyses": {}}, r"^analyses: no analysis defined"),
        ({"analyses": {"a b": {}}}, r"^analyses: name 'a b' must match"),
        ({"analyses": {"-a": {}}}, r"^analyses: name '-a' must match"),
        ({"analyses": {"a": {}}, "run": []}, r"^run: expected an analysis name or a list"),
        ({"analyses": {"a": {}}, "run": 3}, r"^run: expected an analysis name or a list"),
        ({"analyses": {"a": {}}, "run": ["a", "c"]}, r"^run: unknown analysis 'c'; defined: a"),
    ],
)
def test_analysis_names_errors(config, match):
    with pytest.raises(ConfigError, match=match):
        analysis_names(config)


# --------------------------------------------------------------------------- shipped configs


SHIPPED = [
    "config/config.yaml",
    "config/examples/hess-dr1-crab.yaml",
    "config/examples/hess-dr1-pks2155.yaml",
    "config/examples/hess-dr1-msh1552.yaml",
    "config/examples/hess-dr1-crab-spectrum.yaml",
    "config/examples/magic-crab-rad-max.yaml",
]


@pytest.mark.parametrize("path", SHIPPED)
def test_shipped_configs_parse(path):
    config = yaml.safe_load((REPO / path).read_text())
    for name in analysis_names(config):
        analysis_config(config, name)


def test_crab_example():
    config = yaml.safe_load((REPO / "config/examples/hess-dr1-crab.yaml").read_text())
    assert analysis_names(config) == ["crab"]
    cfg = analysis_config(config, "crab")
    assert cfg.data_store == Path("../shared/data/hess-dl3-dr1")
    assert cfg.selection.obs_ids == (23523, 23526, 23559, 23592)
    sky = cfg.geom.sky
    assert sky.shape == (250, 250)
    assert sky.frame == "icrs" and sky.projection == "CAR"
    assert sky.center_skydir.ra.deg == pytest.approx(83.633)
    assert sky.center_skydir.dec.deg == pytest.approx(22.014)
    np.testing.assert_allclose(cfg.geom.energy.edges, np.geomspace(1, 10, 12))
    np.testing.assert_allclose(cfg.geom.energy_true.edges, np.geomspace(0.5, 20, 21))
    assert cfg.offset_max == 2.5 * u.deg


@functools.cache
def _load_schema():
    return load_schema()


def _schema():
    """src/dl3flow/config/schema.yaml, parsed once per session: a copy, for the tests to change."""
    return copy.deepcopy(_load_schema())


def _walk(schema, path="config", defs=None):
    """Yield (path, property schema, required names) of every property in the schema.

    The properties of an object that may also be a string (``geom.center``: a sky
    position or ``auto``) count as required: a default there would be set on the
    string by Snakemake's default-filling validator. ``defs``: the schema's ``$defs``
    (default: those of ``schema``, the whole schema).
    """
    defs = schema["$defs"] if defs is None else defs
    for name, sub in (schema.get("properties") or {}).items():
        required = schema.get("required", [])
        if "string" in (schema.get("type") or []) and isinstance(schema.get("type"), list):
            required = list(schema.get("properties"))
        yield f"{path}.{name}", sub, required
        target = sub
        if "$ref" in sub:
            target = defs[sub["$ref"].split("/")[-1]]
        yield from _walk(target, f"{path}.{name}", defs)
    for sub in (schema.get("additionalProperties"),):
        if isinstance(sub, dict) and "$ref" in sub:
            yield from _walk(defs[sub["$ref"].split("/")[-1]], f"{path}.*", defs)


def test_schema_every_key_has_description_and_default():
    missing = []
    for path, sub, required in _walk(_schema()):
        name = path.rsplit(".", 1)[-1]
        if "description" not in sub:
            missing.append(f"{path}: description")
        if "default" not in sub and name not in required:
            missing.append(f"{path}: default")
    assert not missing, missing


def test_schema_defaults_json_is_the_schemas():
    """dl3flow.config.options reads the schema's defaults and choices from this generated file."""
    assert derived() == derive(_schema()), (
        "schema.yaml changed: run python -m dl3flow.config.schema"
    )


def test_defaults_are_the_schemas():
    analysis = _schema()["$defs"]["analysis"]["properties"]
    assert DEFAULTS["offset_max"] == analysis["offset_max"]["default"] == "2.5 deg"
    assert (
        DEFAULTS["safe_mask"]["methods"]
        == analysis["safe_mask"]["properties"]["methods"]["default"]
    )
    assert DEFAULTS["background"]["on_failure"] == "drop"
    assert DEFAULTS["quality"]["checks"] == dict(DEFAULT_POLICIES)
    assert DEFAULTS["geom"]["center"] is None  # required: no default
    assert (
        TOP_DEFAULTS["on_bad_observation"]
        == _schema()["properties"]["on_bad_observation"]["default"]
    )


def _filled(config):
    """``config`` with the schema's defaults filled in, as the workflow's validate does."""
    from snakemake.utils import validate

    config = copy.deepcopy(config)
    validate(config, str(REPO / "src/dl3flow/config/schema.yaml"))
    return config


def _same_config(ours, theirs, path="cfg"):
    """Dataclasses field by field, geometries by their header, arrays element-wise."""
    if hasattr(ours, "to_header"):
        assert ours.to_header() == theirs.to_header(), path
    elif is_dataclass(ours) and not isinstance(ours, type):
        assert type(ours) is type(theirs), path
        for f in fields(ours):
            _same_config(getattr(ours, f.name), getattr(theirs, f.name), f"{path}.{f.name}")
    elif isinstance(ours, np.ndarray):
        np.testing.assert_array_equal(ours, theirs, err_msg=path)
    else:
        assert ours == theirs, path


SPECTRUM = {"on_region": "icrs;circle(83.633,22.014,0.11)"}
SIGNIFICANCE = {"significance": {"high": 5}}


@pytest.mark.parametrize(
    "changes",
    [{}, {"spectrum": SPECTRUM}, {"exclusion": SIGNIFICANCE}, {"ring": {}}],
    ids=["minimal", "spectrum", "significance", "ring"],
)
def test_parsed_defaults_are_the_schemas(changes):
    """A config without optional keys parses as the same config with the schema's
    defaults filled in by Snakemake's validate (what every workflow job reads)."""
    config = with_analysis(**copy.deepcopy(changes))
    filled = _filled(config)
    assert filled != config  # defaults were filled in
    _same_config(analysis_config(config, "a"), analysis_config(filled, "a"))


def test_dataclass_defaults_are_the_parsed_defaults():
    cfg = analysis_config(
        with_analysis(spectrum=dict(SPECTRUM), exclusion=copy.deepcopy(SIGNIFICANCE)), "a"
    )
    assert SelectionConfig() == cfg.selection
    assert PlotConfig() == cfg.plots
    assert SafeMaskConfig() == cfg.safe_mask  # offset_max: the analysis default's
    assert BackgroundConfig() == cfg.background
    assert MapsConfig() == cfg.maps
    assert QualityPolicy() == cfg.quality
    assert replace(ExclusionConfig(), significance=None, key="analyses.a.exclusion") == replace(
        cfg.exclusion, significance=None
    )
    sig = SignificanceMaskConfig(high=5.0, low=5.0)
    assert sig == cfg.exclusion.significance
    spectrum = cfg.spectrum
    assert FinderConfig() == spectrum.finder
    default = SpectrumConfig(spectrum.on_region, spectrum.energy, spectrum.energy_true)
    for f in fields(SpectrumConfig):
        if f.name not in ("on_region", "energy", "energy_true"):
            assert getattr(default, f.name) == getattr(spectrum, f.name), f.name
    default = AnalysisConfig(
        name="a", data_store=cfg.data_store, selection=cfg.selection, layout=cfg.layout,
        offset_max=cfg.offset_max,
    )  # fmt: skip
    for name in ("edisp", "psf", "fov_rotation_step", "on_bad_observation", "maps_enabled"):
        assert getattr(default, name) == getattr(cfg, name), name
    assert analysis_config(minimal(), "a").ring is default.ring is None


def _same(default, value) -> bool:
    if isinstance(value, u.Quantity):
        return bool(u.Quantity(default, value.unit) == value)
    if isinstance(value, list | tuple):
        return tuple(default) == tuple(value)
    return default == value


def _check_defaults(func, kwargs: dict, *, equivalent=()):
    """Each option the workflow passes to ``func`` (``kwargs``, from the parsed defaults)
    has no default in ``func`` or the analysis default (keys in ``equivalent``: a
    default that means the same, e.g. significance low=None is low=high)."""
    params = inspect.signature(func).parameters
    for key, value in kwargs.items():
        param = params[key]
        assert param.kind is param.KEYWORD_ONLY, f"{func.__name__}({key}): keyword-only"
        if param.default is param.empty or key in equivalent:
            continue
        assert _same(param.default, value), f"{func.__name__}({key}={param.default!r}): {value!r}"


def test_science_function_defaults_are_the_analysis_defaults():
    from dl3flow.estimators.excess import estimate_excess_maps
    from dl3flow.estimators.peaks import find_peaks
    from dl3flow.makers.background import normalize_background
    from dl3flow.makers.catalogs import CatalogSpec
    from dl3flow.makers.exclusion import catalog_exclusion, significance_mask
    from dl3flow.makers.map import reduce_observation
    from dl3flow.makers.reflected import ReflectedRegionsFinder, WobbleRegionsFinder
    from dl3flow.makers.ring import ring_background
    from dl3flow.makers.safe import make_safe_mask
    from dl3flow.makers.spectrum import extract_spectrum

    config = with_analysis(spectrum=dict(SPECTRUM), exclusion=copy.deepcopy(SIGNIFICANCE), ring={})
    cfg = analysis_config(config, "a")
    _check_defaults(make_safe_mask, cfg.safe_mask.as_kwargs())
    _check_defaults(normalize_background, cfg.background.as_kwargs())
    _check_defaults(ring_background, cfg.ring.as_kwargs())
    _check_defaults(estimate_excess_maps, cfg.maps.as_kwargs())
    significance = cfg.exclusion.significance.as_kwargs()
    _check_defaults(significance_mask, significance, equivalent=("low",))
    peaks = cfg.maps.peaks
    _check_defaults(find_peaks, {"threshold": peaks.threshold, "min_distance": peaks.min_distance})
    reduce = {
        "offset_max": cfg.offset_max.to_value("deg"),
        "edisp": cfg.edisp,
        "psf": cfg.psf,
        "fov_rotation_step": cfg.fov_rotation_step.to_value("deg"),
        "fov_alignment": cfg.background.fov_alignment,
    }
    _check_defaults(reduce_observation, reduce)
    _check_defaults(extract_spectrum, cfg.spectrum.extract_kwargs())
    assert cfg.spectrum.finder.make() == ReflectedRegionsFinder()
    wobble = analysis_config(
        with_analysis(spectrum={**SPECTRUM, "finder": {"method": "wobble"}}), "a"
    )
    assert wobble.spectrum.finder.make() == WobbleRegionsFinder(3)
    catalog = {"kind": "hgps", "path": "hgps.fits"}
    (spec,) = analysis_config(
        with_analysis(exclusion={"catalogs": [catalog]}), "a"
    ).exclusion.catalogs
    assert spec == CatalogSpec(**catalog)
    params = inspect.signature(catalog_exclusion).parameters
    assert {k: params[k].default for k in ("min_radius", "scale", "margin")} == {
        "min_radius": spec.min_radius, "scale": spec.scale, "margin": spec.margin
    }  # fmt: skip


@pytest.mark.parametrize(
    ("path", "module", "name"),
    [
        ("analysis.safe_mask.methods", "dl3flow.makers.safe", "SAFE_MASK_METHODS"),
        ("analysis.spectrum.safe_mask.methods", "dl3flow.makers.spectrum", "SPECTRUM_SAFE_METHODS"),
        ("analysis.background.method", "dl3flow.makers.background", "BACKGROUND_METHODS"),
        ("analysis.background.on_failure", "dl3flow.makers.background", "ON_FAILURE"),
        ("analysis.background.fov_alignment", "dl3flow.makers.map", "FOV_ALIGNMENT_CHOICES"),
        ("on_bad_observation", "dl3flow.datasets.rejection", "ON_BAD_OBSERVATION"),
        ("analysis.on_bad_observation", "dl3flow.datasets.rejection", "ON_BAD_OBSERVATION"),
        ("analysis.spectrum.finder.method", "dl3flow.config.options", "FINDER_DEFAULTS"),
        ("analysis.geom.frame", "dl3flow.maps.geom", "FRAMES"),
        ("analysis.geom.proj", "dl3flow.maps.geom", "PROJECTIONS"),
        ("analysis.exclusion.catalogs[].kind", "dl3flow.makers.catalogs", "CATALOG_KINDS"),
        ("simulation.fov_alignment", "dl3flow.simulate.config", "_FOV_ALIGNMENTS"),
        ("simulation.irf_style", "dl3flow.simulate.config", "_IRF_STYLES"),
    ],
)
def test_schema_choices_are_the_implementations(path, module, name):
    """The schema's enums (Snakemake's and check-config's check; dl3flow.config.options'
    choices) list the options the science code implements, in its order."""
    import importlib

    implemented = tuple(getattr(importlib.import_module(module), name))
    assert tuple(derive(_schema())["choices"][path]) == implemented


def test_config_choices_are_the_implementations():
    from dl3flow.config import options as config
    from dl3flow.datasets import rejection
    from dl3flow.makers import background, spectrum
    from dl3flow.makers import map as reduce
    from dl3flow.makers import safe as safe_mask

    assert (
        config.SAFE_MASK_METHODS
        == safe_mask.SAFE_MASK_METHODS
        == tuple(safe_mask._METHOD_FUNCTIONS)
    )
    assert config.SPECTRUM_SAFE_METHODS == spectrum.SPECTRUM_SAFE_METHODS
    assert config.BACKGROUND_METHODS == background.BACKGROUND_METHODS
    assert config.ON_FAILURE == background.ON_FAILURE
    assert config.FOV_ALIGNMENTS == reduce.FOV_ALIGNMENT_CHOICES
    assert config.ON_BAD_OBSERVATION == rejection.ON_BAD_OBSERVATION


def test_schema_quality_check_defaults_are_the_module_defaults():
    checks = _schema()["$defs"]["analysis"]["properties"]["quality"]["properties"]["checks"]
    schema_defaults = {name: sub["default"] for name, sub in checks["properties"].items()}
    assert schema_defaults == dict(DEFAULT_POLICIES)
    assert all(sub["enum"] == list(POLICIES) for sub in checks["properties"].values())


def test_schema_validates_shipped_configs_and_fills_defaults():
    jsonschema = pytest.importorskip("jsonschema")
    schema = _schema()
    for path in SHIPPED:
        jsonschema.Draft202012Validator(schema).validate(yaml.safe_load((REPO / path).read_text()))
    bad = minimal()
    bad["analyses"]["a"]["geom"]["bnsz"] = "1 deg"
    with pytest.raises(jsonschema.ValidationError, match="bnsz"):
        jsonschema.Draft202012Validator(schema).validate(bad)


@pytest.mark.parametrize(
    ("cut", "error"),
    [
        ({"in": ["MSH 15-52", "MSH 15-5-02"]}, None),
        ({"match": "msh ?15-5"}, None),
        ({"in": ["Crab"], "match": "^c", "min": None, "max": None}, None),
        ({"in": []}, "should be non-empty"),
        ({"in": [1]}, "1 is not of type 'string'"),
        ({"in": [""]}, "should be non-empty"),
        ({"in": "Crab"}, "'Crab' is not of type 'array', 'null'"),
        ({"match": 3}, "3 is not of type 'string', 'null'"),
        ({"regex": "x"}, "'regex' was unexpected"),
    ],
)
def test_schema_string_cuts(cut, error):
    jsonschema = pytest.importorskip("jsonschema")
    config = with_analysis(selection={"cuts": {"OBJECT": cut}})
    validator = jsonschema.Draft202012Validator(_schema())
    if error is None:
        validator.validate(config)
    else:
        with pytest.raises(jsonschema.ValidationError, match=error):
            validator.validate(config)


# --------------------------------------------------------------------------- dl3flow command


def test_cli_version(capsys):
    from dl3flow import __version__
    from dl3flow.cli import main

    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == __version__


def test_cli_check_config_syntax_only(tmp_path, capsys):
    from dl3flow.cli import main

    crab = REPO / "config/examples/hess-dr1-crab.yaml"
    args = ["check-config", "--syntax-only", str(REPO / "config/config.yaml"), str(crab)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("crab: data store ../shared/data/hess-dl3-dr1; map 250x250 px")
    assert "selected" not in out
    assert main(["check-config", "--syntax-only", str(crab), "--data-store", "/data"]) == 0
    assert "crab: data store /data;" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("analyses:\n  crab:\n    offset_max: 2 TeV\n")
    assert main(["check-config", "--syntax-only", str(crab), str(bad)]) == 1
    assert "error: analyses.crab.offset_max: expected an angle, got '2 TeV'" in (
        capsys.readouterr().err
    )


def test_cli_check_config_flags_unknown_top_level_keys_and_oversized_maps(tmp_path, capsys):
    from dl3flow.cli import main

    crab = REPO / "config/examples/hess-dr1-crab.yaml"
    typo = tmp_path / "typo.yaml"
    typo.write_text("on_bad_observations: skip\n")
    assert main(["check-config", "--syntax-only", str(crab), str(typo)]) == 1
    assert capsys.readouterr().err == (
        "error: on_bad_observations: unknown key (did you mean 'on_bad_observation'?)\n"
    )
    huge = tmp_path / "huge.yaml"
    huge.write_text("analyses:\n  crab:\n    geom:\n      binsz: 0.00001 deg\n")
    assert main(["check-config", "--syntax-only", str(crab), str(huge)]) == 1
    assert re.match(
        r"error: analyses\.crab\.geom\.width / analyses\.crab\.geom\.binsz: '5 deg' at "
        r"'0\.00001 deg' is 250,000,000,000 pixels x \d+ energy planes, estimated [\d,]+ MB",
        capsys.readouterr().err,
    )


def test_cli_check_config_opens_the_data_store(hess_dr1, tmp_path, monkeypatch, capsys):
    """Without --syntax-only: the data store is opened and the selection made."""
    from dl3flow.cli import main

    monkeypatch.chdir(tmp_path)  # the examples' relative paths are not used here
    default, msh = REPO / "config/config.yaml", REPO / "config/examples/hess-dr1-msh1552.yaml"
    store = ["--data-store", str(hess_dr1)]
    shared = hess_dr1.parent
    regions = tmp_path / "regions.yaml"
    regions.write_text(
        "analyses:\n  msh1552:\n    exclusion:\n      region_files: []\n"
        "      catalogs:\n"
        f"        - {{path: {shared}/catalogs/hgps_catalog_v1.fits.gz, kind: hgps}}\n"
    )
    assert main(["check-config", str(default), str(msh), str(regions), *store]) == 0
    assert "msh1552: 20 of 105 observations selected\n" in capsys.readouterr().out

    assert main(["check-config", str(default), str(msh), str(regions), "--data-store", "nope"]) == 1
    assert "error: analyses.msh1552.data_store: data store directory nope does not exist" in (
        capsys.readouterr().err
    )
    missing = tmp_path / "missing.yaml"
    missing.write_text("analyses:\n  msh1552:\n    exclusion:\n      region_files: [x.reg]\n")
    assert main(["check-config", str(default), str(msh), str(regions), str(missing), *store]) == 1
    assert "analyses.msh1552.exclusion.region_files[0]" in capsys.readouterr().err


def test_cli_check_config_prints_an_auto_centre(hess_dr1, tmp_path, monkeypatch, capsys):
    """A survey of the RX J1713 and MSH 15-52 runs: the larger field wins the mean."""
    from dl3flow.cli import main

    monkeypatch.chdir(tmp_path)
    survey = tmp_path / "survey.yaml"
    survey.write_text(
        "run: [survey]\n"
        "analyses:\n  survey:\n"
        "    selection: {cuts: {OBJECT: {match: '^(msh|rxj)'}}}\n"
        "    geom: {center: auto, frame: galactic, width: 4 deg, binsz: 0.04 deg}\n"
    )
    args = ["check-config", str(REPO / "config/config.yaml"), str(survey)]
    assert main([*args, "--data-store", str(hess_dr1)]) == 0
    out = capsys.readouterr().out
    assert "survey: data store " in out and "(galactic, CAR, centre auto)" in out
    assert (
        "survey: 31 of 105 observations selected; geom.center auto: centre (l, b) = "
        "(320.321, -1.290) deg (galactic) from 19 pointing(s); 12 pointing(s) more than "
        "4.5 deg from the mean left out of it: "
    ) in out
    assert main([*args, "--syntax-only", "--data-store", "x"]) == 0
    assert "(galactic, CAR, centre auto)" in capsys.readouterr().out


def test_cli_check_config_demo_store_not_written_yet(tmp_path, monkeypatch, capsys):
    from dl3flow.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["check-config", str(REPO / "config/config.yaml")]) == 0
    assert "demo: the demo data store (written by the workflow's simulation)" in (
        capsys.readouterr().out
    )


# ------------------------------------------------------------------------ safe_mask


def test_safe_mask_defaults():
    cfg = analysis_config(with_analysis(offset_max="2 deg"), "a")
    assert cfg.safe_mask.methods == ("aeff-default", "offset-max")
    assert cfg.safe_mask.offset_max == 2 * u.deg  # the analysis' offset_max
    assert cfg.safe_mask.aeff_percent == 10 and cfg.safe_mask.bias_percent == 10
    assert cfg.safe_mask.position is None and cfg.safe_mask.fixed_offset is None
    assert cfg.safe_mask.as_kwargs()["offset_max"] == 2 * u.deg


def test_safe_mask_full():
    cfg = analysis_config(
        with_analysis(
            safe_mask={
                "methods": ["bkg-peak", "aeff-max", "edisp-bias"],
                "aeff_percent": 15,
                "bias_percent": 5.5,
                "position": {"lon": "83 deg", "lat": "22 deg"},
                "offset_max": "1.5 deg",
            }
        ),
        "a",
    )
    sm = cfg.safe_mask
    assert sm.methods == ("aeff-max", "edisp-bias", "bkg-peak")
    assert (sm.aeff_percent, sm.bias_percent) == (15.0, 5.5)
    assert sm.position.frame.name == "icrs" and sm.position.ra.deg == pytest.approx(83)
    assert sm.offset_max == 1.5 * u.deg
    fixed = analysis_config(with_analysis(safe_mask={"fixed_offset": "0.5 deg"}), "a")
    assert fixed.safe_mask.fixed_offset == 0.5 * u.deg


@pytest.mark.parametrize(
    ("safe_mask", "match"),
    [
        (
            {"methods": ["aeff-default", "aeff-min"]},
            r"analyses\.a\.safe_mask\.methods\[1\]: unknown method 'aeff-min'",
        ),
        ({"methods": "aeff-max"}, r"analyses\.a\.safe_mask\.methods: expected a list"),
        ({"methods": ["aeff-max", "aeff-max"]}, r"safe_mask\.methods: a method is listed twice"),
        (
            {"aeff_percent": 120},
            r"analyses\.a\.safe_mask\.aeff_percent: expected a percentage within \[0, 100\]",
        ),
        ({"bias_percent": -5}, r"analyses\.a\.safe_mask\.bias_percent: expected a percentage"),
        ({"bias_percent": "10"}, r"analyses\.a\.safe_mask\.bias_percent: expected a percentage"),
        (
            {"position": {"lon": "1 deg", "lat": "2 deg"}, "fixed_offset": "0.5 deg"},
            r"analyses\.a\.safe_mask: position and fixed_offset are mutually exclusive",
        ),
        ({"offset_max": "0 deg"}, r"analyses\.a\.safe_mask\.offset_max: must be positive"),
        ({"offset_max": "-1 deg"}, r"analyses\.a\.safe_mask\.offset_max: must be positive"),
        ({"offset_max": "1 TeV"}, r"analyses\.a\.safe_mask\.offset_max: expected an angle"),
        ({"fixed_offset": "-1 deg"}, r"safe_mask\.fixed_offset: must not be negative"),
        ({"position": {"lon": "1 deg"}}, r"safe_mask\.position: missing key 'lat'"),
        ({"percent": 10}, r"analyses\.a\.safe_mask: unknown key\(s\) 'percent'"),
    ],
)
def test_safe_mask_errors(safe_mask, match):
    with pytest.raises(ConfigError, match=match):
        analysis_config(with_analysis(safe_mask=safe_mask), "a")


@pytest.mark.parametrize(
    ("safe_mask", "match"),
    [
        ({"methods": ["aeff-min"]}, "aeff-min"),
        ({"aeff_percent": 101}, "101"),
        ({"bias_percent": -1}, "-1"),
    ],
)
def test_schema_rejects_bad_safe_mask(safe_mask, match):
    jsonschema = pytest.importorskip("jsonschema")
    config = with_analysis(safe_mask=safe_mask)
    with pytest.raises(jsonschema.ValidationError, match=match):
        jsonschema.Draft202012Validator(_schema()).validate(config)


# --------------------------------------------------------------------------- exclusion


def test_exclusion_background_ring_defaults():
    cfg = analysis_config(minimal(), "a")
    excl = cfg.exclusion
    assert (excl.regions, excl.region_files, excl.catalogs, excl.significance) == ((), (), (), None)
    assert excl.key == "analyses.a.exclusion"
    assert cfg.background.as_kwargs() == {
        "method": "scale",
        "min_counts": 0.0,
        "min_npred_background": 0.0,
        "reference_energy": 1 * u.TeV,
        "fit_tilt": True,
        "on_failure": "drop",
    }
    assert cfg.background.fov_alignment == "auto"
    assert cfg.ring is None


@pytest.mark.parametrize("choice", ["auto", "radec", "altaz"])
def test_background_fov_alignment(choice):
    cfg = analysis_config(with_analysis(background={"fov_alignment": choice}), "a")
    assert cfg.background.fov_alignment == choice
    assert "fov_alignment" not in cfg.background.as_kwargs()  # the reduction's, not the norm's


def test_fov_alignment_choices_are_the_reductions():
    from dl3flow.config.options import FOV_ALIGNMENTS
    from dl3flow.makers.map import FOV_ALIGNMENT_CHOICES

    assert FOV_ALIGNMENTS == FOV_ALIGNMENT_CHOICES
    schema = _schema()
    background = schema["$defs"]["analysis"]["properties"]["background"]["properties"]
    assert tuple(background["fov_alignment"]["enum"]) == FOV_ALIGNMENTS


def test_exclusion_full():
    cfg = analysis_config(
        with_analysis(
            exclusion={
                "regions": ["icrs;circle(83.633,22.0145,0.3)"],
                "region_files": ["a.reg"],
                "catalogs": [
                    {"kind": "HGPS", "path": "hgps.fits.gz", "cuts": {"Sqrt_TS": 5}},
                    {
                        "kind": "table",
                        "path": "t.ecsv",
                        "columns": {"name": "N", "lon": "L", "lat": "B", "frame": "galactic"},
                        "min_radius": "12 arcmin",
                        "scale": 1,
                        "margin": "0 deg",
                    },
                ],
                "significance": {"high": 5, "low": 3, "dilate": "6 arcmin"},
            },
            background={"method": "fit", "min_counts": 10, "reference_energy": "2 TeV"},
            ring={"r_in": "0.6 deg", "energy_edges": ["1 TeV", "10 TeV"]},
        ),
        "a",
    )
    excl = cfg.exclusion
    assert excl.regions == ("icrs;circle(83.633,22.0145,0.3)",)
    assert excl.region_files == (Path("a.reg"),)
    hgps, table = excl.catalogs
    assert (hgps.kind, hgps.min_radius, hgps.scale, hgps.margin) == ("hgps", 0.3, 2.0, 0.2)
    assert hgps.cuts == {"Sqrt_TS": 5}
    assert table.min_radius == pytest.approx(0.2) and table.margin == 0
    assert table.resolved_columns().frame == "galactic"
    sig = excl.significance
    assert (sig.high, sig.low, sig.connectivity) == (5.0, 3.0, 1)
    assert sig.as_kwargs()["dilate"] == pytest.approx(0.1)
    assert sig.correlation_radius == 0.1 * u.deg
    assert cfg.background.method == "fit" and cfg.background.min_counts == 10
    assert cfg.background.reference_energy == 2 * u.TeV
    assert cfg.ring.r_in == 0.6 * u.deg and cfg.ring.width == 0.3 * u.deg
    np.testing.assert_allclose(cfg.ring.energy_edges.to_value("TeV"), [1, 10])
    assert analysis_config(with_analysis(exclusion={"significance": {"high": 4}}), "a")


def _catalog(**changes):
    return {"catalogs": [{"kind": "gamma-cat", "path": "g.fits", **changes}]}


@pytest.mark.parametrize(
    ("section", "value", "match"),
    [
        ("exclusion", {"regionz": []}, r"^analyses\.a\.exclusion: unknown key\(s\) 'regionz'"),
        ("exclusion", {"regions": "icrs;circle(1,2,3)"}, r"exclusion\.regions: expected a list"),
        ("exclusion", {"regions": [""]}, r"exclusion\.regions\[0\]: expected a ds9 region"),
        ("exclusion", {"region_files": [3]}, r"exclusion\.region_files\[0\]: expected a file"),
        ("exclusion", {"catalogs": [{"kind": "hgps"}]}, r"catalogs\[0\]: missing key 'path'"),
        ("exclusion", _catalog(kind="2fhl"), r"catalogs\[0\]\.kind: expected one of hgps"),
        ("exclusion", _catalog(min_radius="1 TeV"), r"catalogs\[0\]\.min_radius: expected an"),
        ("exclusion", _catalog(margin="-1 deg"), r"catalogs\[0\]\.margin: must not be negative"),
        ("exclusion", _catalog(scale=-1), r"catalogs\[0\]\.scale: must be >= 0"),
        ("exclusion", _catalog(scale="2"), r"catalogs\[0\]\.scale: expected a number"),
        ("exclusion", _catalog(radius=1), r"catalogs\[0\]: unknown key\(s\) 'radius'"),
        (
            "exclusion",
            _catalog(kind="table"),
            r"^analyses\.a\.exclusion\.catalogs\[0\]\.columns: a 'table' catalog needs",
        ),
        (
            "exclusion",
            _catalog(columns={"nam": "x"}),
            r"catalogs\[0\]\.columns: unknown column role",
        ),
        (
            "exclusion",
            _catalog(cuts={"Sqrt_TS": "five"}),
            r"^analyses\.a\.exclusion\.catalogs\[0\]\.cuts\.Sqrt_TS: cut bounds must be",
        ),
        ("exclusion", {"significance": {"low": 3}}, r"exclusion\.significance: missing key 'high'"),
        (
            "exclusion",
            {"significance": {"high": 3, "low": 5}},
            r"exclusion\.significance\.low: must not exceed high",
        ),
        (
            "exclusion",
            {"significance": {"high": 5, "dilate": "1 TeV"}},
            r"exclusion\.significance\.dilate: expected an angle",
        ),
        (
            "exclusion",
            {"significance": {"high": 5, "correlation_radius": "0 deg"}},
            r"exclusion\.significance\.correlation_radius: must be positive",
        ),
        (
            "exclusion",
            {"significance": {"high": 5, "connectivity": 3}},
            r"exclusion\.significance\.connectivity: expected 1 or 2",
        ),
        ("background", {"method": "fitt"}, r"^analyses\.a\.background\.method: expected one of"),
        ("background", {"on_failure": "skip"}, r"background\.on_failure: expected one of drop"),
        ("background", {"min_counts": -1}, r"background\.min_counts: must be >= 0"),
        ("background", {"min_npred_background": "x"}, r"min_npred_background: expected a number"),
        ("background", {"reference_energy": "1 deg"}, r"reference_energy: expected an energy"),
        ("background", {"fit_tilt": "no"}, r"background\.fit_tilt: expected true or false"),
        (
            "background",
            {"fov_alignment": "RADEC"},
            r"^analyses\.a\.background\.fov_alignment: expected one of auto, radec, altaz, "
            r"got 'RADEC'",
        ),
        ("ring", {"r_in": "-1 deg"}, r"^analyses\.a\.ring\.r_in: must not be negative"),
        ("ring", {"width": "0 deg"}, r"^analyses\.a\.ring\.width: must be positive"),
        ("ring", {"r_in": "0 deg", "width": "0.01 deg"}, r"^analyses\.a\.ring: the ring"),
        ("ring", {"rin": "1 deg"}, r"^analyses\.a\.ring: unknown key\(s\) 'rin'"),
        ("ring", {"energy_edges": ["1 TeV"]}, r"ring\.energy_edges: expected at least two"),
        ("ring", {"energy_edges": ["10 TeV", "1 TeV"]}, r"ring\.energy_edges: must increase"),
        (
            "ring",
            {"energy_edges": ["1 TeV", "3 TeV"]},
            r"^analyses\.a\.ring\.energy_edges\[1\]: '3 TeV' is not an edge",
        ),
    ],
)
def test_exclusion_background_ring_errors(section, value, match):
    with pytest.raises(ConfigError, match=match):
        analysis_config(with_analysis(**{section: value}), "a")


def _checked(**exclusion):
    return analysis_config(with_analysis(exclusion=exclusion), "a")


def test_check_exclusion_inputs_ok(tmp_path):
    regions = tmp_path / "x.reg"
    regions.write_text("icrs\ncircle(83.6,22.0,0.3)\n")
    catalog = tmp_path / "cat.ecsv"
    from astropy.table import Table

    Table({"N": ["a"], "RA": [83.6], "DEC": [22.0]}).write(catalog)
    cfg = _checked(
        regions=["galactic;box(185,-4,1.0,0.5,45)"],
        region_files=[str(regions), "later.reg"],
        catalogs=[
            {
                "kind": "table",
                "path": str(catalog),
                "columns": {"name": "N", "lon": "RA", "lat": "DEC"},
            }
        ],
    )
    assert check_exclusion_inputs(cfg, produced=["later.reg"]) is None


@pytest.mark.parametrize(
    ("exclusion", "match"),
    [
        (
            {"regions": ["icrs;circle(83.6,22.0,0.3)", "icrs;circel(1,2,3)"]},
            r"^analyses\.a\.exclusion\.regions\[1\]: cannot parse",
        ),
        (
            {"region_files": ["nope.reg"]},
            r"^analyses\.a\.exclusion\.region_files\[0\]: region file 'nope.reg' does not exist",
        ),
        (
            {"catalogs": [{"kind": "hgps", "path": "nope.fits"}]},
            r"^analyses\.a\.exclusion\.catalogs\[0\]: catalog file 'nope.fits' does not exist",
        ),
    ],
)
def test_check_exclusion_inputs_errors(tmp_path, exclusion, match):
    cfg = _checked(**exclusion)
    with pytest.raises(ConfigError, match=match):
        check_exclusion_inputs(cfg)


def test_check_exclusion_inputs_missing_column(tmp_path):
    from astropy.table import Table

    catalog = tmp_path / "cat.ecsv"
    Table({"N": ["a"], "RA": [83.6], "DEC": [22.0]}).write(catalog)
    entry = {
        "kind": "table",
        "path": str(catalog),
        "columns": {"name": "N", "lon": "RA", "lat": "DE"},
    }
    cfg = _checked(catalogs=[entry])
    with pytest.raises(
        ConfigError, match=r"^analyses\.a\.exclusion\.catalogs\[0\]: catalog .* has no column 'DE'"
    ):
        check_exclusion_inputs(cfg)


@pytest.mark.parametrize("path", SHIPPED[1:])
def test_examples_exclusion_inputs(path, monkeypatch):
    """The examples' region files and catalogs ('../shared/data/...' relative to the
    workflow directory) exist and have the configured columns."""
    if not (REPO.parent / "shared" / "data" / "catalogs").is_dir():
        pytest.skip(f"shared data not found at {REPO.parent / 'shared' / 'data'}")
    monkeypatch.chdir(REPO)
    config = yaml.safe_load((REPO / path).read_text())
    for name in analysis_names(config):
        cfg = analysis_config(config, name)
        if cfg.spectrum is None:  # the map examples exclude catalog sources and use a ring
            assert cfg.exclusion.catalogs and cfg.ring is not None
        check_exclusion_inputs(cfg)


# --------------------------------------------------------------------------- maps


def test_maps_defaults():
    maps = analysis_config(minimal(), "a").maps
    assert maps.correlation_radius == 0.1 * u.deg and maps.spectral_index == 2.0
    assert (maps.n_sigma, maps.n_sigma_ul, maps.energy_bands) == (1.0, 2.0, None)
    assert maps.peaks.threshold == 5.0 and maps.peaks.min_distance == 0.2 * u.deg
    assert maps.as_kwargs() == {
        "correlation_radius": pytest.approx(0.1),
        "spectral_index": 2.0,
        "n_sigma": 1.0,
        "n_sigma_ul": 2.0,
    }
    assert analysis_config(with_analysis(maps=None), "a").maps == maps


def test_maps_full():
    config = with_analysis(
        maps={
            "correlation_radius": "6 arcmin",
            "spectral_index": 2.5,
            "n_sigma_ul": 3,
            "energy_bands": ["1 TeV", "10 TeV"],
            "peaks": {"threshold": 4},
        }
    )
    maps = analysis_config(config, "a").maps
    assert maps.correlation_radius.to_value("deg") == pytest.approx(0.1)
    assert maps.spectral_index == 2.5 and maps.n_sigma_ul == 3.0
    assert list(maps.energy_bands.to_value("TeV")) == [1.0, 10.0]
    assert maps.peaks.threshold == 4.0 and maps.peaks.min_distance == 0.2 * u.deg


@pytest.mark.parametrize(
    ("maps", "match"),
    [
        ({"correlation_radius": "1 TeV"}, r"maps\.correlation_radius: expected an angle"),
        ({"correlation_radius": "0 deg"}, r"maps\.correlation_radius: must be positive"),
        ({"n_sigma_ul": 0}, r"maps\.n_sigma_ul: must be positive"),
        ({"n_sigma": "1"}, r"maps\.n_sigma: expected a number"),
        ({"spectral_index": None}, r"maps\.spectral_index: expected a number"),
        ({"energy_bands": ["1 TeV"]}, r"maps\.energy_bands: expected at least two"),
        ({"energy_bands": ["10 TeV", "1 TeV"]}, r"maps\.energy_bands: must increase"),
        ({"energy_bands": ["1 TeV", "3 TeV"]}, r"maps\.energy_bands\[1\]: '3 TeV' is not an edge"),
        ({"energy_bands": ["1 deg", "3 TeV"]}, r"maps\.energy_bands\[0\]: expected an energy"),
        ({"peaks": {"threshold": "5"}}, r"maps\.peaks\.threshold: expected a number"),
        ({"peaks": {"min_distance": "-1 deg"}}, r"maps\.peaks\.min_distance: must not be negative"),
        ({"peaks": {"distance": "1 deg"}}, r"maps\.peaks: unknown key\(s\) 'distance'"),
        ({"radius": "1 deg"}, r"maps: unknown key\(s\) 'radius'"),
        ("0.1 deg", r"maps: expected a mapping"),
    ],
)
def test_maps_errors(maps, match):
    with pytest.raises(ConfigError, match=r"^analyses\.a\." + match):
        analysis_config(with_analysis(maps=maps), "a")


# ------------------------------------------------------------------- geom.center: auto


def test_auto_center_defers_the_placement():
    from astropy.coordinates import SkyCoord

    cfg = analysis_config(with_geom(center="auto", width="3 deg"), "a")
    # default limit: half the map width plus offset_max (2.5 deg)
    assert cfg.auto_center.max_separation == 4.0 * u.deg
    assert cfg.auto_center.center is None
    assert cfg.layout.sky.shape == (30, 30)
    with pytest.raises(ConfigError, match=r"^analyses\.a\.geom\.center: auto, and the centre"):
        cfg.geom  # noqa: B018
    placed = cfg.with_center(SkyCoord(83.6, 22.0, unit="deg"))
    assert placed.geom.sky.shape == (30, 30)
    assert placed.geom.irf_sky.shape == cfg.layout.irf_sky.shape
    np.testing.assert_allclose(placed.geom.sky.wcs.wcs.crval, [83.6, 22.0])
    assert placed.auto_center.center.ra.deg == 83.6
    assert cfg.auto_center.center is None  # a new object: the original is unchanged


def test_auto_center_limit_and_errors():
    cfg = analysis_config(with_geom(center="auto", center_max_separation="2 deg"), "a")
    assert cfg.auto_center.max_separation == 2 * u.deg
    assert analysis_config(minimal(), "a").auto_center is None
    with pytest.raises(ConfigError, match=r"geom\.center_max_separation: only used with center"):
        analysis_config(with_geom(center_max_separation="2 deg"), "a")
    with pytest.raises(ConfigError, match=r"geom\.center_max_separation: expected an angle"):
        analysis_config(with_geom(center="auto", center_max_separation="2 TeV"), "a")
    with pytest.raises(ConfigError, match=r"^analyses\.a\.geom\.center is not auto"):
        analysis_config(minimal(), "a").with_center(None)


@pytest.mark.parametrize("center", ["auto", {"lon": "1 deg", "lat": "2 deg"}])
def test_schema_accepts_an_auto_center(center):
    from snakemake.utils import validate

    config = with_geom(center=center)
    validate(config, str(REPO / "src/dl3flow/config/schema.yaml"))
    assert config["analyses"]["a"]["geom"]["center"] == center


@pytest.mark.parametrize(
    "center", ["Auto", {"lon": "1 deg"}, {"lon": "1 deg", "lat": "2 deg", "x": 1}]
)
def test_schema_rejects_a_bad_center(center):
    from snakemake.utils import validate

    with pytest.raises(Exception, match="Error validating config"):
        validate(with_geom(center=center), str(REPO / "src/dl3flow/config/schema.yaml"))


def test_simulation_defaults_are_simulates():
    """The schema's ``simulation`` defaults are dl3flow.simulate.config's (null: its own)."""
    from dl3flow.simulate.config import SimulationConfig

    default = SimulationConfig()
    for key, value in TOP_DEFAULTS["simulation"].items():
        if key == "target":
            got = {"name": default.target_name, "ra": default.target_ra, "dec": default.target_dec}
        elif value is None:  # sources, site: dl3flow.simulate.config's default
            continue
        else:
            got = getattr(default, key)
        assert (list(got) if isinstance(got, tuple) else got) == value, key
