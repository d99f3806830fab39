"""Tests of the `spectrum` section and `maps_enabled` of an analysis (dl3flow.config.spectrum)."""

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from dl3flow.config.analysis import analysis_config
from dl3flow.config.options import FINDER_DEFAULTS, SPECTRUM_DEFAULTS
from dl3flow.config.values import ConfigError
from dl3flow.makers.reflected import ReflectedRegionsFinder, WobbleRegionsFinder

REPO = Path(__file__).resolve().parents[1]
CIRCLE = "icrs;circle(83.633,22.014,0.11)"


def config_with(spectrum, **analysis):
    return {
        "data_store": "store",
        "analyses": {
            "a": {
                "geom": {
                    "center": {"lon": "83.633 deg", "lat": "22.014 deg"},
                    "width": "2 deg",
                    "binsz": "0.1 deg",
                },
                "spectrum": spectrum,
                **analysis,
            }
        },
    }


def spectrum_of(spectrum, **analysis):
    return analysis_config(config_with(spectrum, **analysis), "a").spectrum


def test_no_spectrum_by_default():
    cfg = analysis_config(config_with(None), "a")
    assert cfg.spectrum is None and cfg.maps_enabled is True


def test_defaults():
    spec = spectrum_of({"on_region": CIRCLE})
    assert spec.on_region == (83.633, 22.014, 0.11)
    # gammapy's MapAxis.from_energy_bounds(0.5, 40, 10, per_decade=True): 20 bins
    assert spec.energy.nbin == 20 and spec.energy_true.nbin == 67
    np.testing.assert_allclose(spec.energy.edges[[0, -1]], [0.5, 40])
    assert spec.containment_correction is False
    assert spec.exclusion == "analysis" and spec.ogip is False
    assert spec.safe_mask_methods == ("aeff-default",)
    finder = spec.finder.make()
    assert finder == ReflectedRegionsFinder()  # gammapy's defaults
    assert spec.as_params()["finder"]["min_distance_input"] == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        (CIRCLE, (83.633, 22.014, 0.11)),
        ("fk5; circle(83.633, 22.014, 0.11d)", (83.633, 22.014, 0.11)),
        ('circle(83.633,22.014,396")', (83.633, 22.014, 0.11)),
        ("icrs;circle(-276.367,22.014,6.6')", (83.633, 22.014, 0.11)),
        ("icrs;point(83.633,22.014)", (83.633, 22.014, None)),
        ({"ra": "83.633 deg", "dec": "22.014 deg", "radius": "0.11 deg"}, (83.633, 22.014, 0.11)),
        ({"ra": "83.633 deg", "dec": "22.014 deg"}, (83.633, 22.014, None)),
        ({"ra": "83.633 deg", "dec": "22.014 deg", "radius": None}, (83.633, 22.014, None)),
    ],
)
def test_on_region(region, expected):
    got = spectrum_of({"on_region": region}).on_region
    assert got[:2] == pytest.approx(expected[:2])
    if expected[2] is None:
        assert got[2] is None
    else:
        assert got[2] == pytest.approx(expected[2])


def test_axes_in_total_bins_and_per_decade():
    spec = spectrum_of(
        {
            "on_region": CIRCLE,
            "energy": {"min": "50 GeV", "max": "100 TeV", "nbin": 5, "per_decade": True},
            "energy_true": {"min": "10 GeV", "max": "100 TeV", "nbin": 7, "per_decade": False},
        }
    )
    assert spec.energy.nbin == 17 and spec.energy_true.nbin == 7
    np.testing.assert_allclose(spec.energy_true.edges, np.geomspace(0.01, 100, 8))


def test_wobble_finder_and_options():
    spec = spectrum_of(
        {
            "on_region": "icrs;point(83.633,22.014)",
            "finder": {"method": "wobble", "n_off_regions": 3},
            "exclusion": "none",
            "safe_mask": {"methods": ["edisp-bias", "aeff-max"], "bias_percent": 5},
            "ogip": True,
        }
    )
    assert spec.finder.make() == WobbleRegionsFinder(3)
    assert spec.safe_mask_methods == ("aeff-max", "edisp-bias")  # canonical order
    assert (spec.aeff_percent, spec.bias_percent) == (10.0, 5.0)
    assert spec.exclusion == "none" and spec.ogip is True


def test_schema_filled_finder_defaults_are_accepted():
    """Snakemake's validation fills both finders' defaults into the section."""
    finder = {**FINDER_DEFAULTS["reflected"], **FINDER_DEFAULTS["wobble"], "method": "wobble"}
    finder["n_off_regions"] = 4
    assert spectrum_of({"on_region": CIRCLE, "finder": finder}).finder.n_off_regions == 4


def test_reflected_finder_options():
    finder = {
        "min_distance": "0.2 rad",
        "min_distance_input": "10 deg",
        "angle_increment": "0.05 rad",
        "max_region_number": 5,
        "binsz": "0.02 deg",
    }
    made = spectrum_of({"on_region": CIRCLE, "finder": finder}).finder.make()
    assert made == ReflectedRegionsFinder(
        min_distance=0.2,
        min_distance_input=np.deg2rad(10),
        angle_increment=0.05,
        max_region_number=5,
        binsz=0.02,
    )


def test_params_change_with_every_option():
    base = spectrum_of({"on_region": CIRCLE}).as_params()
    for change in (
        {"on_region": "icrs;circle(83.633,22.014,0.12)"},
        {"containment_correction": True},
        {"finder": {"angle_increment": "0.2 rad"}},
        {"exclusion": "none"},
        {"safe_mask": {"methods": ["aeff-max"]}},
        {"safe_mask": {"aeff_percent": 5}},
        {"energy": {"min": "1 TeV"}},
        {"energy_true": {"nbin": 10}},
    ):
        assert spectrum_of({"on_region": CIRCLE, **change}).as_params() != base, change


P = "analyses.a.spectrum"


@pytest.mark.parametrize(
    ("spectrum", "match"),
    [
        ("circle", f"{P}: expected a mapping"),
        ({}, f"{P}.on_region: missing"),
        ({"on_region": CIRCLE, "colour": 1}, rf"{P}: unknown key\(s\) 'colour'"),
        ({"on_region": "galactic;circle(0,0,0.1)"}, f"{P}.on_region: expected a ds9 circle"),
        ({"on_region": "icrs;box(1,2,3,4)"}, f"{P}.on_region: expected a ds9 circle"),
        ({"on_region": "icrs;circle(1,2)"}, f"{P}.on_region: a ds9 circle takes 3 values"),
        ({"on_region": "icrs;point(1,2,3)"}, f"{P}.on_region: a ds9 point takes 2 values"),
        ({"on_region": "icrs;circle(a,2,3)"}, f"{P}.on_region: cannot read the numbers"),
        ({"on_region": "icrs;circle(1,95,0.1)"}, rf"{P}.on_region: dec must be within"),
        ({"on_region": "icrs;circle(1,2,0)"}, f"{P}.on_region: the radius must be positive"),
        ({"on_region": "icrs;circle(1,2,-0.1)"}, f"{P}.on_region: the radius must be positive"),
        ({"on_region": {"ra": "1 deg"}}, f"{P}.on_region: missing key 'dec'"),
        ({"on_region": {"ra": "1 deg", "dec": "2 TeV"}}, f"{P}.on_region.dec: expected an angle"),
        (
            {"on_region": {"ra": "1 deg", "dec": "2 deg", "radius": "0 deg"}},
            f"{P}.on_region.radius: must be positive",
        ),
        (
            {"on_region": {"ra": "1 deg", "dec": "2 deg", "size": "1 deg"}},
            rf"{P}.on_region: unknown key\(s\) 'size'",
        ),
        ({"on_region": CIRCLE, "energy": {"min": "1 deg"}}, f"{P}.energy.min: expected an energy"),
        (
            {"on_region": CIRCLE, "energy": {"min": "50 TeV"}},
            f"{P}.energy: 'min' '50 TeV' must be below 'max'",
        ),
        (
            {"on_region": CIRCLE, "energy_true": {"nbin": 0}},
            f"{P}.energy_true.nbin: expected an integer >= 1",
        ),
        (
            {"on_region": CIRCLE, "energy": {"per_decade": "yes"}},
            f"{P}.energy.per_decade: expected true or false",
        ),
        (
            {"on_region": CIRCLE, "containment_correction": 1},
            f"{P}.containment_correction: expected true or false",
        ),
        (
            {"on_region": "icrs;point(1,2)", "containment_correction": True},
            f"{P}.containment_correction: needs a circular on_region",
        ),
        ({"on_region": CIRCLE, "finder": "wobble"}, f"{P}.finder: expected a mapping"),
        (
            {"on_region": CIRCLE, "finder": {"method": "ring"}},
            f"{P}.finder.method: expected one of reflected, wobble",
        ),
        (
            {"on_region": CIRCLE, "finder": {"n_off": 3}},
            rf"{P}.finder: unknown key\(s\) 'n_off'",
        ),
        (
            {"on_region": CIRCLE, "finder": {"n_off_regions": 5}},
            f"{P}.finder.n_off_regions: an option of the wobble finder, but method is 'reflected'",
        ),
        (
            {"on_region": CIRCLE, "finder": {"method": "wobble", "max_region_number": 2}},
            f"{P}.finder.max_region_number: an option of the reflected finder",
        ),
        (
            {"on_region": CIRCLE, "finder": {"method": "wobble", "n_off_regions": 0}},
            f"{P}.finder.n_off_regions: expected an integer >= 1",
        ),
        (
            {"on_region": CIRCLE, "finder": {"max_region_number": 0}},
            f"{P}.finder.max_region_number: expected an integer >= 1",
        ),
        (
            {"on_region": CIRCLE, "finder": {"min_distance": "-1 deg"}},
            f"{P}.finder.min_distance: must not be negative",
        ),
        (
            {"on_region": CIRCLE, "finder": {"angle_increment": "0 rad"}},
            f"{P}.finder.angle_increment: must be positive",
        ),
        (
            {"on_region": CIRCLE, "finder": {"binsz": "0 deg"}},
            f"{P}.finder.binsz: must be positive",
        ),
        (
            {"on_region": CIRCLE, "finder": {"binsz": "1 TeV"}},
            f"{P}.finder.binsz: expected an angle",
        ),
        (
            {"on_region": CIRCLE, "exclusion": "final"},
            f"{P}.exclusion: expected one of analysis, none",
        ),
        ({"on_region": CIRCLE, "safe_mask": "x"}, f"{P}.safe_mask: expected a mapping"),
        (
            {"on_region": CIRCLE, "safe_mask": {"offset_max": "2 deg"}},
            rf"{P}.safe_mask: unknown key\(s\) 'offset_max'",
        ),
        (
            {"on_region": CIRCLE, "safe_mask": {"methods": "aeff-max"}},
            f"{P}.safe_mask.methods: expected a list",
        ),
        (
            {"on_region": CIRCLE, "safe_mask": {"methods": ["aeff-max", "offset-max"]}},
            rf"{P}.safe_mask.methods\[1\]: unknown method 'offset-max'",
        ),
        (
            {"on_region": CIRCLE, "safe_mask": {"aeff_percent": 120}},
            f"{P}.safe_mask.aeff_percent: expected a percentage",
        ),
        (
            {"on_region": CIRCLE, "safe_mask": {"bias_percent": "5"}},
            f"{P}.safe_mask.bias_percent: expected a percentage",
        ),
        ({"on_region": CIRCLE, "ogip": "yes"}, f"{P}.ogip: expected true or false"),
    ],
)
def test_spectrum_errors(spectrum, match):
    with pytest.raises(ConfigError, match=match):
        spectrum_of(spectrum)


def test_maps_enabled():
    cfg = analysis_config(config_with({"on_region": CIRCLE}, maps_enabled=False), "a")
    assert cfg.maps_enabled is False and cfg.spectrum is not None
    with pytest.raises(ConfigError, match="analyses.a.maps_enabled: expected true or false"):
        analysis_config(config_with(None, maps_enabled="no"), "a")
    with pytest.raises(ConfigError, match="analyses.a.maps_enabled: false, and there is no"):
        analysis_config(config_with(None, maps_enabled=False), "a")


def test_input_not_modified():
    config = config_with({"on_region": {"ra": "1 deg", "dec": "2 deg"}, "finder": {}})
    before = copy.deepcopy(config)
    spectrum_of(config["analyses"]["a"]["spectrum"])
    analysis_config(config, "a")
    assert config == before


# ------------------------------------------------------------------------ schema, examples


def _spectrum_schema():
    schema = yaml.safe_load((REPO / "src/dl3flow/config/schema.yaml").read_text())
    analysis = schema["$defs"]["analysis"]["properties"]
    (section,) = [s for s in analysis["spectrum"]["oneOf"] if s.get("type") == "object"]
    return schema, analysis, section


def test_schema_spectrum_keys_have_descriptions_and_defaults():
    schema, analysis, section = _spectrum_schema()
    assert analysis["spectrum"]["default"] is None
    assert analysis["maps_enabled"]["default"] is True and "description" in analysis["maps_enabled"]
    axis = schema["$defs"]["spectrum_axis"]["properties"]
    for key, sub in [
        *section["properties"].items(),
        *section["properties"]["finder"]["properties"].items(),
        *section["properties"]["safe_mask"]["properties"].items(),
        *axis.items(),
    ]:
        assert "description" in sub, key
        assert "default" in sub or key in section["required"], key


def test_schema_spectrum_defaults_match_config_module():
    schema, _, section = _spectrum_schema()
    props = section["properties"]
    for key in ("energy", "energy_true", "containment_correction", "exclusion", "ogip"):
        default = props[key]["default"]
        if isinstance(default, dict):  # quantities: the schema writes "0.5 TeV" as is
            default = {k: str(v) if isinstance(v, str) else v for k, v in default.items()}
        assert default == SPECTRUM_DEFAULTS[key], key
    for key, value in SPECTRUM_DEFAULTS["safe_mask"].items():
        assert props["safe_mask"]["properties"][key]["default"] == value, key
    finder = props["finder"]["properties"]
    for defaults in FINDER_DEFAULTS.values():
        for key, value in defaults.items():
            if key != "method":
                assert finder[key]["default"] == value, key
    assert finder["method"]["default"] == "reflected"


def test_examples_as_issue_17_describes():
    crab = yaml.safe_load((REPO / "config/examples/hess-dr1-crab-spectrum.yaml").read_text())
    spec = analysis_config(crab, "crab-spectrum").spectrum
    assert spec.on_region == (83.633, 22.014, 0.11)
    assert spec.containment_correction and spec.finder.method == "reflected"
    assert spec.safe_mask_methods == ("aeff-max",) and spec.aeff_percent == 10
    assert (spec.energy.nbin, spec.energy_true.nbin) == (20, 67)
    assert crab["analyses"]["crab-spectrum"]["exclusion"]["regions"] == [
        "icrs;circle(83.633,22.014,0.5)"
    ]
    magic = yaml.safe_load((REPO / "config/examples/magic-crab-rad-max.yaml").read_text())
    cfg = analysis_config(magic, "magic-crab")
    assert cfg.maps_enabled is False
    assert cfg.spectrum.on_region == (83.633, 22.014, None)
    assert cfg.spectrum.finder.make() == WobbleRegionsFinder(3)
    assert cfg.spectrum.safe_mask_methods == ("aeff-default",)
    assert (cfg.spectrum.energy.nbin, cfg.spectrum.energy_true.nbin) == (17, 40)
