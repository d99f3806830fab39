"""The end-of-run summary and `dl3flow summary`: what an analysis found, in a few lines."""

from pathlib import Path

import astropy.units as u
from astropy.table import Table

from dl3flow.data.quality import QualityNote
from dl3flow.datasets.rejection import Rejection
from dl3flow.io.atomic import write_observations
from dl3flow.io.provenance import Provenance
from dl3flow.workflow.rejection import write_notes, write_rejections
from dl3flow.workflow.summary import (
    AnalysisSummary,
    Peak,
    analysis_dirs,
    format_summary,
    read_summary,
    summary_html,
)
from dl3flow.workflow.support import run_summary

SIGMA, DEG = "\N{GREEK SMALL LETTER SIGMA}", "\N{DEGREE SIGN}"


def write_results(directory: Path, *, rejected=(), failed=(), peaks=((7.25, 83.6331, 22.0145),)):
    selected = Table({"OBS_ID": [1, 2, 3], "LIVETIME": [1800.0, 1800.0, 900.0] * u.s})
    rejected_table = Table(
        {"OBS_ID": [r[0] for r in rejected], "REASON": [r[1] for r in rejected]},
        dtype=[int, str],
    )
    write_observations(selected, rejected_table, directory / "observations.ecsv")
    write_rejections(list(failed), directory / "tables" / "rejected_observations.ecsv")
    write_notes([], directory / "tables" / "observation_warnings.ecsv")
    table = Table(
        {
            "name": [f"peak_{i + 1}" for i in range(len(peaks))],
            "value": [p[0] for p in peaks],
            "ra": [p[1] for p in peaks],
            "dec": [p[2] for p in peaks],
        },
        meta={"threshold": 5.0},
    )
    table.write(directory / "tables" / "peaks.ecsv", format="ascii.ecsv")
    (directory / "plots").mkdir(parents=True)
    prov = Provenance.create(
        rule="plot_maps", parameters={"mean": 0.0123, "width": 1.0456, "n": 3000}
    )
    prov.to_sidecar(directory / "plots" / "significance.png")


def test_summary_nothing_rejected(tmp_path):
    write_results(tmp_path / "results" / "crab")
    summary = read_summary(tmp_path / "results" / "crab")
    assert summary.n_selected == 3 and summary.n_used == 3
    assert summary.livetime == 4500.0
    assert summary.peaks == (Peak("peak_1", 7.25, 83.6331, 22.0145),)
    assert summary.off_source == (0.0123, 1.0456, 3000)
    assert format_summary([summary]).splitlines() == [
        f"crab: results in {tmp_path}/results/crab/",
        "  observations: all 3 selected were used, none rejected, livetime 1.25 h",
        f"  peaks above 5 {SIGMA}: peak_1 7.2 {SIGMA} at RA 83.633{DEG}, Dec 22.015{DEG}",
        "  off-source significance: mean 0.01, width 1.05 (3000 pixels outside the exclusion "
        "mask; expected 0 and 1)",
        "HTML report: snakemake --report report.html (with this run's --configfile/--config "
        "options)",
    ]


def test_summary_with_rejections_and_several_peaks(tmp_path):
    failed = [Rejection(obs_id=3, stage="irf", reason="obs 3: no AEFF HDU in f.fits", error="E")]
    write_results(
        tmp_path,
        rejected=[(9, "outside the cone")],
        failed=failed,
        peaks=[(12.0, 10.0, -20.0), (6.0, 11.0, -21.0), (5.5, 12.0, -22.0), (5.1, 1.0, 1.0)],
    )
    summary = read_summary(tmp_path, name="pks")
    assert summary.n_used == 2 and summary.livetime == 3600.0  # obs 3 left out
    assert summary.n_peaks == 4 and len(summary.peaks) == 3
    text = format_summary([summary], report_command=None).splitlines()
    assert text == [
        f"pks: results in {tmp_path}/",
        "  observations: 2 used, livetime 1.00 h; 2 rejected:",
        "    by the selection (1):",
        "      obs 9: outside the cone",
        f"    during the analysis (1; {tmp_path}/tables/rejected_observations.ecsv):",
        "      obs 3 (irf): E: obs 3: no AEFF HDU in f.fits",
        f"  peaks above 5 {SIGMA}: 4, the highest:",
        f"    peak_1 12.0 {SIGMA} at RA 10.000{DEG}, Dec -20.000{DEG}",
        f"    peak_2 6.0 {SIGMA} at RA 11.000{DEG}, Dec -21.000{DEG}",
        f"    peak_3 5.5 {SIGMA} at RA 12.000{DEG}, Dec -22.000{DEG}",
        "  off-source significance: mean 0.01, width 1.05 (3000 pixels outside the exclusion "
        "mask; expected 0 and 1)",
    ]


def test_summary_no_peaks_missing_and_broken_products(tmp_path):
    write_results(tmp_path, peaks=())
    (tmp_path / "plots" / "significance.png.prov.json").write_text("{not json")
    (tmp_path / "tables" / "observation_warnings.ecsv").unlink()
    summary = read_summary(tmp_path, name="x")
    assert summary.peaks == () and summary.off_source is None
    assert len(summary.problems) == 1 and summary.problems[0].startswith("off-source distribution")
    lines = format_summary([summary], report_command=None).splitlines()
    assert f"  peaks: none above 5 {SIGMA}" in lines
    assert lines[-1].startswith("  could not read off-source distribution: ")
    # an analysis that has not selected its observations yet
    empty = read_summary(tmp_path / "nothing")
    assert empty == AnalysisSummary(name="nothing", directory=tmp_path / "nothing")
    assert format_summary([empty], report_command=None).splitlines() == [
        f"nothing: results in {tmp_path}/nothing/",
        "  observations: not selected yet (no observations.ecsv)",
    ]
    assert format_summary([]) == ""


def test_summary_lists_warnings(tmp_path):
    write_results(tmp_path)
    notes = [
        QualityNote(obs_id=2, check="pointing_below_horizon", message="obs 2: below the horizon")
    ]
    write_notes(notes, tmp_path / "tables" / "observation_warnings.ecsv", overwrite=True)
    lines = format_summary([read_summary(tmp_path)], report_command=None).splitlines()
    assert lines[-2:] == [
        "  warnings about the data:",
        "    pointing_below_horizon: 1 observation(s) (2)",
    ]


def test_analysis_dirs(tmp_path):
    for name in ("b", "a"):
        write_results(tmp_path / name)
    (tmp_path / "logs").mkdir()
    assert analysis_dirs(tmp_path) == [tmp_path / "a", tmp_path / "b"]
    assert analysis_dirs(tmp_path / "a") == [tmp_path / "a"]
    assert analysis_dirs(tmp_path / "nope") == []


def test_run_summary_reads_the_workflow_results(tmp_path, monkeypatch):
    write_results(tmp_path / "results" / "demo")
    text = run_summary(["demo", "not-run"], workdir=tmp_path)
    assert text.splitlines()[0] == f"demo: results in {tmp_path}/results/demo/"
    assert "not-run" not in text
    assert run_summary(["not-run"], workdir=tmp_path) == ""
    monkeypatch.chdir(tmp_path)  # the workflow directory: paths as the user types them
    assert run_summary(["demo"]).splitlines()[0] == "demo: results in results/demo/"


def test_summary_html_front_page(tmp_path):
    failed = [Rejection(obs_id=3, stage="irf", reason="obs 3: no AEFF", error="E")]
    write_results(tmp_path, rejected=[(9, "outside the cone")], failed=failed)
    png = tmp_path / "map.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n")
    page = summary_html(read_summary(tmp_path, name="crab <1>"), image=png)
    assert "<h2>crab &lt;1&gt;: summary</h2>" in page
    assert (
        "<tr><th>Observations</th><td>2 used; rejected: 1 by the selection, 1 during the "
        "analysis (see the observations table)</td></tr>"
    ) in page
    assert "<tr><th>Livetime</th><td>1.00 h</td></tr>" in page
    assert (
        f"<tr><th>Peaks above 5 {SIGMA}</th><td>peak_1: 7.2 {SIGMA} at RA 83.633{DEG}, "
        f"Dec 22.015{DEG}</td></tr>"
    ) in page
    assert "<td>mean 0.012, width 1.046 (3000 pixels outside the exclusion mask;" in page
    assert "src='data:image/png;base64,iVBORw0KGgo='" in page
    assert "<img" not in summary_html(read_summary(tmp_path))


def test_report_tables_compact_and_scrolling():
    from dl3flow.workflow.products import compact_observations, tables_html

    selected = Table({"OBS_ID": [1], "TSTART": [0.0], "OBJECT": ["Crab"], "LIVETIME": [1500.0]})
    compact = compact_observations(selected)
    assert compact.colnames == ["OBS_ID", "OBJECT", "LIVETIME"]
    assert selected.colnames == ["OBS_ID", "TSTART", "OBJECT", "LIVETIME"]  # not modified
    page = tables_html({"Selected": compact, "Empty": Table({"x": []})}, title="t")
    assert "<h3>Selected (1)</h3>\n<div style='overflow-x:auto'><table>" in page
    assert "<h3>Empty (0)</h3>\n<div style='overflow-x:auto'><p>none</p></div>" in page
