"""Workflow test of the final products (issue 7): maps, peaks, plots and the HTML report.

One demo run with its ``snakemake --report report.html`` (the session fixture
``demo_run`` of conftest.py, on a copy of the workflow files in a temporary
directory) serves every test here.
"""

import json
import re

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from dl3flow.estimators.maps import read_maps
from dl3flow.makers.exclusion import read_mask
from dl3flow.workflow.products import significance_distribution

pytestmark = pytest.mark.workflow

MAP_HDUS = ("COUNTS", "BACKGROUND", "EXCESS", "SQRT_TS", "FLUX", "FLUX_ERR", "FLUX_UL")
# every plot of the demo analysis, all report items
REPORT_PLOTS = (
    "significance",
    "excess",
    "flux",
    "flux_exposure",
    "exposure",
    "significance_distribution",
    "observation_qa",
    "background_norms",
    "safe_energy_threshold",
    "counts",
    "background",
    "significance_ring",
    "significance_distribution_ring",
    "significance_band0",
    "significance_band1",
    *(f"exclusion_{m}" for m in ("regions", "catalog", "initial", "significance", "final")),
)
REPORT_TABLES = ("summary", "observations", "background_norms", "peaks", "safe_energy")


@pytest.fixture(scope="module")
def demo(demo_run):
    return demo_run


def test_maps_files(demo):
    results = demo / "results" / "demo"
    with fits.open(results / "stacked" / "maps.fits") as hdul:
        assert set(MAP_HDUS) <= {hdu.name for hdu in hdul}
        header = hdul[0].header
        assert header["STAT"] == "cash" and header["CORR_RAD"] == 0.1
        assert header["N_SIG_UL"] == 2.0 and header["SPEC_IDX"] == 2.0
        assert header["PROVRULE"] == "excess_maps" and header["CONFHASH"]
    maps = read_maps(results / "stacked" / "maps.fits")
    assert maps.energy_edges.size == 2
    bands = read_maps(results / "stacked" / "maps_bands.fits")
    np.testing.assert_allclose(bands.energy_edges, [0.5, 10**0.5, 20])
    ring = read_maps(results / "stacked" / "maps_ring.fits")
    assert ring.meta["STAT"] == "wstat" and ring.meta["CORR_OFF"] is False
    assert {"flux", "flux_ul"} <= set(ring.names)
    # the bright simulated source at (60, -25) is the top peak, in both
    peaks = Table.read(results / "tables" / "peaks.ecsv")
    assert peaks.meta["threshold"] == 5.0 and peaks.meta["analysis"] == "demo"
    top = peaks[0]
    assert top["value"] > 20
    assert abs(top["ra"] - 60) < 0.05 and abs(top["dec"] + 25) < 0.05
    assert np.nanmax(ring.image("sqrt_ts")) > 20


def test_demo_significance_distribution(demo):
    results = demo / "results" / "demo"
    exclusion, _, _ = read_mask(results / "masks" / "exclusion.fits")
    for name in ("maps", "maps_ring"):
        fit = significance_distribution(read_maps(results / "stacked" / f"{name}.fits"), exclusion)
        print(f"demo {name}: mean {fit['mean']:.3f}, width {fit['width']:.3f}, n {fit['n']}")
        assert abs(fit["mean"]) < 0.1 and 0.9 < fit["width"] < 1.1, fit


def test_plots_and_report(demo):
    plots = demo / "results" / "demo" / "plots"
    for name in REPORT_PLOTS:
        assert (plots / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name
    html = (demo / "report.html").read_text()
    # report items are keyed by their path, with the rendered caption
    items = set(re.findall(r'"results/demo/(?:plots|report)/([\w.]+)": \{"name"', html))
    missing = {f"{n}.png" for n in REPORT_PLOTS} | {f"{t}.html" for t in REPORT_TABLES}
    assert not missing - items, sorted(missing - items)
    for category in ("Sky maps", "Significance distribution", "Observations"):
        assert json.dumps(category)[1:-1] in html
    assert "Significance map of analysis <strong>demo</strong>" in html
    # items are listed by their titles, captions explain the overlays in the legend's words
    assert '"title": "Significance map"' in html
    assert '"title": "Summary: significance map and key numbers"' in html
    assert (
        json.dumps("black line: 5 \N{GREEK SMALL LETTER SIGMA} significance contour")[1:-1] in html
    )


def test_report_tables(demo):
    page = (demo / "results" / "demo" / "report" / "observations.html").read_text()
    assert "<h3>Selected observations (6)</h3>" in page and "<th>OBS_ID</th>" in page
    assert "<h3>Rejected during the analysis (left out of every product) (0)</h3>" in page
    page = (demo / "results" / "demo" / "report" / "background_norms.html").read_text()
    assert "<th>norm</th>" in page and page.count("<td>ok</td>") == 6
    page = (demo / "results" / "demo" / "report" / "peaks.html").read_text()
    assert "<h3>Peaks of the significance map (highest first) (1)</h3>" in page
    page = (demo / "results" / "demo" / "report" / "safe_energy.html").read_text()
    assert "<h3>Safe energy range per observation (6)</h3>" in page
    page = (demo / "results" / "demo" / "report" / "summary.html").read_text()
    assert "<h2>demo: summary</h2>" in page and "data:image/png;base64," in page
    assert "<tr><th>Observations</th><td>6 used, none rejected</td></tr>" in page
    assert "<tr><th>Livetime</th><td>3.00 h</td></tr>" in page
