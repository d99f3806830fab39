"""Config files and schema violations: one line per problem, naming the key."""

import copy
from pathlib import Path

import pytest
import yaml

from dl3flow.config.analysis import analysis_config, check_data_store
from dl3flow.config.check import (
    MAX_ERRORS,
    check_config,
    find_schema,
    merge_config,
    read_config_files,
    schema_errors,
)
from dl3flow.config.values import ConfigError, did_you_mean

REPO = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((REPO / "src/dl3flow/config/schema.yaml").read_text())


def demo():
    return yaml.safe_load((REPO / "config/config.yaml").read_text())


def changed(path, value):
    """The demo config with one key set (path: keys from the top)."""
    config = demo()
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return config


def test_demo_config_is_valid():
    assert schema_errors(demo(), SCHEMA) == []
    check_config(demo(), REPO / "src/dl3flow/config/schema.yaml")  # no error


@pytest.mark.parametrize(
    ("path", "value", "line"),
    [
        (
            ("analyses", "demo", "offset_maxx"),
            "2 deg",
            "analyses.demo.offset_maxx: unknown key (did you mean 'offset_max'?)",
        ),
        (("data_stor",), "x", "data_stor: unknown key (did you mean 'data_store'?)"),
        (("zzz",), 1, "zzz: unknown key"),
        (
            ("analyses", "demo", "geom", "frame"),
            "galactik",
            "analyses.demo.geom.frame: expected one of icrs, galactic, got 'galactik' "
            "(did you mean 'galactic'?)",
        ),
        (
            ("analyses", "demo", "geom", "binsz"),
            0.02,
            "analyses.demo.geom.binsz: expected a string, got 0.02",
        ),
        (
            ("analyses", "demo", "selection", "obs_ids"),
            ["a"],
            "analyses.demo.selection.obs_ids[0]: expected an integer, got 'a'",
        ),
        (
            ("analyses", "demo", "edisp"),
            "yes",
            "analyses.demo.edisp: expected true or false, got 'yes'",
        ),
        (
            ("analyses", "demo", "selection", "cone"),
            {"radius": "1 deg"},
            "analyses.demo.selection.cone: missing key 'center'",
        ),
        (
            ("analyses", "demo", "safe_mask", "aeff_percent"),
            120,
            "analyses.demo.safe_mask.aeff_percent: 120 is greater than the maximum of 100",
        ),
        (
            ("analyses", "demo", "geom", "width"),
            ["4 deg"],
            "analyses.demo.geom.width: ['4 deg'] is too short",
        ),
    ],
)
def test_schema_errors_one_line(path, value, line):
    assert schema_errors(changed(path, value), SCHEMA) == [line]
    with pytest.raises(ConfigError, match=f"^{_escape(line)}$"):
        check_config(changed(path, value), SCHEMA)


def _escape(text):
    import re

    return re.escape(text)


def test_schema_errors_several_unknown_keys_and_bad_names():
    config = demo()
    config["analyses"]["demo"]["aa"] = 1
    config["analyses"]["demo"]["bb"] = 2
    config["analyses"]["bad name"] = config["analyses"]["demo"]
    lines = schema_errors(config, SCHEMA)
    assert lines[0] == "analyses: 'bad name' does not match '^[A-Za-z0-9][A-Za-z0-9_.-]*$'"
    # one line per unknown key (the same dict is both analyses here)
    assert lines[1:] == [
        "analyses.bad name.aa: unknown key",
        "analyses.bad name.bb: unknown key",
        "analyses.demo.aa: unknown key",
        "analyses.demo.bb: unknown key",
    ]


def test_check_config_lists_at_most_three_problems():
    config = demo()
    for key in ("a1", "a2", "a3", "a4", "a5"):
        config[key] = 1
    with pytest.raises(ConfigError) as info:
        check_config(config, SCHEMA)
    lines = str(info.value).splitlines()
    assert MAX_ERRORS == 3
    assert lines == [
        "a1: unknown key",
        "a2: unknown key",
        "a3: unknown key",
        "... and 2 more (dl3flow check-config lists them)",
    ]


def test_check_config_does_not_fill_defaults():
    config = demo()
    before = copy.deepcopy(config)
    check_config(config, SCHEMA)
    assert config == before


def test_check_config_schema_file_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.yaml: no such file"):
        check_config(demo(), tmp_path / "nope.yaml")


def test_did_you_mean():
    assert did_you_mean("offset_maxx", ["offset_max", "psf"]) == " (did you mean 'offset_max'?)"
    assert did_you_mean("xyz", ["offset_max", "psf"]) == ""
    assert did_you_mean(3, ["offset_max"]) == ""


def test_read_config_files_merges_and_names_the_line(tmp_path):
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("run: null\nanalyses:\n  x: {offset_max: 1 deg, psf: true}\n")
    second.write_text("analyses:\n  x: {psf: false}\n")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    config = read_config_files([first, second, empty])
    assert config == {"run": None, "analyses": {"x": {"offset_max": "1 deg", "psf": False}}}

    bad = tmp_path / "bad.yaml"
    bad.write_text("analyses:\n  x:\n    psf: [true\n  y: 1\n")
    with pytest.raises(ConfigError, match=r"^.*bad\.yaml:4: invalid YAML: while parsing a flow"):
        read_config_files([bad])
    tabs = tmp_path / "tabs.yaml"
    tabs.write_text("a: 1\n\tb: 2\n")
    with pytest.raises(ConfigError, match=r"tabs\.yaml:2: invalid YAML: "):
        read_config_files([tabs])
    with pytest.raises(ConfigError, match=r"missing\.yaml: no such file"):
        read_config_files([tmp_path / "missing.yaml"])
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(
        ConfigError, match=r"list\.yaml: expected a mapping of config keys, got list"
    ):
        read_config_files([listing])


def test_merge_config_returns_new_objects():
    base = {"a": {"b": 1, "c": 2}, "d": [1]}
    out = merge_config(base, {"a": {"b": 3}, "d": [2]})
    assert out == {"a": {"b": 3, "c": 2}, "d": [2]}
    assert base == {"a": {"b": 1, "c": 2}, "d": [1]}


def test_find_schema(tmp_path, monkeypatch):
    # the package's schema, wherever dl3flow runs (also in a workflow copy)
    monkeypatch.chdir(tmp_path)
    assert find_schema() == REPO / "src" / "dl3flow" / "config" / "schema.yaml"


def test_check_data_store(tmp_path):
    config = {
        "analyses": {
            "a": {
                "data_store": str(tmp_path / "store"),
                "geom": {
                    "center": {"lon": "0 deg", "lat": "0 deg"},
                    "width": "1 deg",
                    "binsz": "0.1 deg",
                },
            }
        }
    }
    cfg = analysis_config(config, "a")
    with pytest.raises(
        ConfigError, match=r"^analyses\.a\.data_store: data store directory .*store does not exist"
    ):
        check_data_store(cfg)
    check_data_store(cfg, produced=[tmp_path / "store"])  # written by the workflow
    (tmp_path / "store").mkdir()
    with pytest.raises(
        ConfigError,
        match=r"analyses\.a\.data_store: no obs index file in .*store \(looked for "
        r"obs-index\.fits\.gz or obs-index\.fits\)",
    ):
        check_data_store(cfg)
    (tmp_path / "store" / "obs-index.fits").write_bytes(b"")
    with pytest.raises(ConfigError, match=r"no HDU index file in"):
        check_data_store(cfg)
    (tmp_path / "store" / "hdu-index.fits.gz").write_bytes(b"")
    check_data_store(cfg)
