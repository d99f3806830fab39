"""The dl3flow command: --version, observations, summary, errors in one line, closed pipes."""

import subprocess
import sys
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import Table

from dl3flow import __version__
from dl3flow.cli import main
from dl3flow.data.selection import OVERVIEW_COLUMNS, SelectionError, observations_overview

REPO = Path(__file__).resolve().parents[1]


def obs_index():
    return Table(
        {
            "OBS_ID": [3, 1, 2],
            "OBJECT": ["Crab", "Crab ", "Off"],
            "LIVETIME": [1800.0, 1500.0, 600.0] * u.s,
            "ZEN_PNT": [30.0, 45.0, 20.0] * u.deg,
            "RA_PNT": [83.633, 84.133, 10.0] * u.deg,
            "DEC_PNT": [22.014, 22.014, 0.0] * u.deg,
        }
    )


def test_overview_without_selection():
    table = observations_overview(obs_index())
    assert table.colnames == list(OVERVIEW_COLUMNS)
    assert table["OBS_ID"].tolist() == [1, 2, 3]
    assert set(table["STATUS"]) == {"in store"}
    assert table["LIVETIME"].tolist() == [25.0, 10.0, 30.0]  # minutes
    assert table["ZENITH"].tolist() == [45.0, 20.0, 30.0]
    assert np.isnan(table["OFFSET"]).all()  # no OFFSET_OBJ, no centre
    assert table["OBJECT"].tolist() == ["Crab", "Off", "Crab"]  # stripped


def test_overview_with_selection_selected_first():
    rejected = Table(
        {"OBS_ID": [2, 7], "REASON": ["ZEN_PNT = 20 deg < 25 deg min", "not in obs index"]}
    )
    center = SkyCoord(83.633, 22.014, unit="deg")
    table = observations_overview(obs_index(), selected=[3], rejected=rejected, center=center)
    assert table["OBS_ID"].tolist() == [3, 1, 2, 7]
    assert table["STATUS"].tolist() == ["selected", "rejected", "rejected", "rejected"]
    assert table["REASON"].tolist() == [
        "",
        "not among the requested obs_ids",
        "ZEN_PNT = 20 deg < 25 deg min",
        "not in obs index",
    ]
    assert table["OFFSET"][0] == pytest.approx(0.0, abs=1e-9)
    assert table["OFFSET"][1] == pytest.approx(0.5 * np.cos(np.radians(22.014)), rel=1e-3)
    assert np.isnan(table["LIVETIME"][3])


def test_overview_errors():
    with pytest.raises(SelectionError, match="obs table has no OBS_ID column"):
        observations_overview(Table({"X": [1]}))


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"dl3flow {__version__}\n"


def test_observations_of_a_store(hess_dr1, capsys):
    assert main(["observations", str(hess_dr1)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0]
        == f"{hess_dr1}: 105 observations; no selection (give --config and --analysis to apply one)"
    )
    assert lines[1].split() == ["OBS_ID", "OBJECT", "LIVETIME", "ZENITH", "OFFSET_OBJ"]
    assert len(lines) == 1 + 3 + 105


def test_observations_with_an_analysis(hess_dr1, capsys):
    crab = REPO / "config/examples/hess-dr1-crab.yaml"
    args = ["observations", str(hess_dr1), "--config", str(REPO / "config/config.yaml"), str(crab)]
    assert main([*args, "--analysis", "crab"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        f"{hess_dr1}: 4 of 105 observations selected; selection of analysis crab; "
        "offset from the map centre"
    )
    assert lines[1].split() == [
        "OBS_ID",
        "STATUS",
        "OBJECT",
        "LIVETIME",
        "ZENITH",
        "OFFSET",
        "REASON",
    ]
    rows = [line.split()[:2] for line in lines[4:]]
    assert rows[:4] == [
        ["23523", "selected"],
        ["23526", "selected"],
        ["23559", "selected"],
        ["23592", "selected"],
    ]
    assert {status for _, status in rows[4:]} == {"rejected"}
    assert lines[4].split()[-1] == "0.50"  # offset from the Crab, deg
    # `run: [crab]` of the example picks the analysis
    assert main(args) == 0
    assert "selection of analysis crab" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        (
            ["--analysis", "x"],
            "error: --analysis needs --config (the files that define the analysis)",
        ),
        (
            ["--config", "CONFIG", "--analysis", "nope"],
            "error: analyses.nope: no such analysis (defined: demo)",
        ),
    ],
)
def test_observations_errors(tmp_path, capsys, extra, error):
    store = tmp_path / "store"
    store.mkdir()
    for name in ("obs-index.fits", "hdu-index.fits"):
        Table({"OBS_ID": [1]}).write(store / name)
    extra = [str(REPO / "config/config.yaml") if e == "CONFIG" else e for e in extra]
    assert main(["observations", str(store), *extra]) == 1
    assert capsys.readouterr().err.strip().startswith(error)


def test_observations_missing_store_and_ambiguous_analysis(tmp_path, capsys):
    assert main(["observations", str(tmp_path / "nope")]) == 1
    assert (
        capsys.readouterr().err
        == f"error: data store directory {tmp_path / 'nope'} does not exist\n"
    )
    two = tmp_path / "two.yaml"
    two.write_text(
        "analyses:\n  a: {geom: {center: {lon: 0 deg, lat: 0 deg}, width: 1 deg, binsz: 0.1 deg}}\n"
    )
    store = tmp_path / "store"
    store.mkdir()
    for name in ("obs-index.fits", "hdu-index.fits"):
        Table({"OBS_ID": [1]}).write(store / name)
    args = ["observations", str(store), "--config", str(REPO / "config/config.yaml"), str(two)]
    assert main(args) == 1
    assert capsys.readouterr().err == (
        "error: the config defines 2 analyses (demo, a); choose one with --analysis\n"
    )


def test_check_config_errors_in_one_line(tmp_path, capsys):
    typo = tmp_path / "typo.yaml"
    typo.write_text("data_stor: x\nanalyses:\n  demo:\n    offset_maxx: 2 deg\n")
    assert main(["check-config", "--syntax-only", str(REPO / "config/config.yaml"), str(typo)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "error: data_stor: unknown key (did you mean 'data_store'?)",
        "analyses.demo.offset_maxx: unknown key (did you mean 'offset_max'?)",
    ]
    broken = tmp_path / "broken.yaml"
    broken.write_text("analyses:\n  demo: {offset_max: [1\n")
    assert main(["check-config", str(broken)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {broken}:3: invalid YAML: ") and len(err.splitlines()) == 1
    assert main(["check-config", str(tmp_path / "missing.yaml")]) == 1
    assert capsys.readouterr().err == f"error: {tmp_path / 'missing.yaml'}: no such file\n"


def test_summary_command(tmp_path, capsys):
    assert main(["summary", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (
        f"error: {tmp_path}: no analysis results (no observations.ecsv in it or in its "
        "subdirectories)\n"
    )
    from dl3flow.io.atomic import write_observations

    write_observations(
        Table({"OBS_ID": [1], "LIVETIME": [3600.0]}),
        Table({"OBS_ID": [], "REASON": []}, dtype=[int, str]),
        tmp_path / "crab" / "observations.ecsv",
    )
    assert main(["summary", str(tmp_path), "--no-report-hint"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"crab: results in {tmp_path}/crab/",
        "  observations: all 1 selected were used, none rejected, livetime 1.00 h",
    ]


def test_closed_pipe_is_quiet(tmp_path):
    """`dl3flow provenance ... | head -1`: no BrokenPipeError traceback."""
    from dl3flow.io.provenance import Provenance

    Provenance.create(rule="r", parameters={f"p{i}": "x" * 80 for i in range(3000)}).to_sidecar(
        tmp_path / "t.ecsv"
    )
    code = "import sys; from dl3flow.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run(
        f"{sys.executable} -c '{code}' provenance {tmp_path / 't.ecsv'} | head -1",
        shell=True,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.stdout.count("\n") == 1
    assert proc.stderr == ""
