"""End-to-end runs of the 1D spectrum examples (issue 17), one Snakemake run each.

* config/examples/hess-dr1-crab-spectrum.yaml on the 4 H.E.S.S. DL3 DR1 Crab runs:
  the spectrum products only (per-observation spectra, stack, OGIP, table); the map
  part of that analysis is the one of test_workflow.py's Crab run.
* config/examples/magic-crab-rad-max.yaml on the 2 MAGIC runs with point-like IRFs and
  an energy-dependent RAD_MAX: a whole run (maps_enabled: false: no map product).

This work made use of data from the H.E.S.S. DL3 public test data release 1
(HESS DL3 DR1, H.E.S.S. collaboration, 2018). The MAGIC data are Gammapy data
(CC BY-NC-SA 4.0) released by the MAGIC collaboration for the energy-dependent 1D
extraction; see the README.md beside them.
"""

import numpy as np
import pytest
from _workflow_util import copy_workflow, output_of, product_files, run_snakemake
from astropy.io import fits
from astropy.table import Table

from dl3flow.datasets.spectrum import read_spectrum_dataset
from dl3flow.io.provenance import read_provenance
from dl3flow.makers.spectrum import spectrum_summary

pytestmark = pytest.mark.workflow

CRAB_EXAMPLE = "config/examples/hess-dr1-crab-spectrum.yaml"
MAGIC_EXAMPLE = "config/examples/magic-crab-rad-max.yaml"
CRAB_OBS_IDS = [23523, 23526, 23559, 23592]
MAGIC_OBS_IDS = [5029747, 5029748]


@pytest.fixture(scope="module")
def magic_store(shared_data):
    path = shared_data / "magic-rad-max" / "data"
    if not (path / "obs-index.fits.gz").is_file():
        pytest.skip(f"MAGIC RAD_MAX data not found at {path}")
    return path


def _run(tmp_path_factory, example, store, *targets):
    workdir = copy_workflow(tmp_path_factory.mktemp("spectrum") / "workflow")
    args = ["--cores", 2, "--configfile", example, "--config", f"data_store={store}"]
    result = run_snakemake(workdir, *targets, *args)
    assert result.returncode == 0, output_of(result)
    return workdir


@pytest.fixture(scope="module")
def crab_run(tmp_path_factory, hess_dr1):
    results = "results/crab-spectrum"
    return _run(
        tmp_path_factory,
        CRAB_EXAMPLE,
        hess_dr1,
        f"{results}/tables/spectrum_runs.ecsv",
        f"{results}/spectrum/ogip/stacked.fits",
        f"{results}/plots/theta2.png",
    )


@pytest.fixture(scope="module")
def magic_run(tmp_path_factory, magic_store):
    return _run(tmp_path_factory, MAGIC_EXAMPLE, magic_store)


def _check_spectra(workdir, analysis, obs_ids):
    """Per-observation spectra, stack and table agree; returns (datasets, stacked, table)."""
    results = workdir / "results" / analysis
    datasets = [read_spectrum_dataset(results / f"obs/{i}/spectrum.fits") for i in obs_ids]
    stacked = read_spectrum_dataset(results / "spectrum/stacked.fits")
    table = Table.read(results / "tables/spectrum_runs.ecsv", format="ascii.ecsv")
    assert list(table["name"]) == [*map(str, obs_ids), "stacked"]
    assert set(table["status"]) == {"ok"}
    for ds, row in zip([*datasets, stacked], table, strict=True):
        expected = spectrum_summary(ds)
        for key in ("n_on", "n_off", "alpha", "excess", "significance", "livetime"):
            assert row[key] == pytest.approx(expected[key], rel=1e-12), (row["name"], key)
    for ds, obs_id in zip(datasets, obs_ids, strict=True):
        assert ds.meta["OBS_ID"] == obs_id and ds.n_off_regions >= 1
        np.testing.assert_array_equal(ds.acceptance_off, ds.n_off_regions)
        prov = read_provenance(results / f"obs/{obs_id}/spectrum.fits")
        assert prov.rule == "extract_spectra" and list(prov.obs_ids) == [obs_id]
        assert prov.parameters["spectrum"]["on_region"][:2] == [83.633, 22.014]
    # the stack: n_on and n_off of the table are the sums of the observations' rows
    assert (
        table["n_on"][-1] == sum(table["n_on"][:-1]) == int(stacked.counts[stacked.mask_safe].sum())
    )
    assert table["n_off"][-1] == sum(table["n_off"][:-1])
    assert table["n_off_regions"][-1] == sum(table["n_off_regions"][:-1])
    assert table["livetime"][-1] == pytest.approx(sum(table["livetime"][:-1]))
    assert table["significance"][-1] > max(table["significance"][:-1])  # the Crab adds up
    prov = read_provenance(results / "spectrum/stacked.fits")
    assert prov.rule == "stack_spectra" and sorted(prov.obs_ids) == sorted(obs_ids)
    assert read_provenance(results / "tables/spectrum_runs.ecsv").rule == "spectrum_table"
    return datasets, stacked, table


def test_crab_spectrum_products(crab_run):
    datasets, stacked, table = _check_spectra(crab_run, "crab-spectrum", CRAB_OBS_IDS)
    assert stacked.energy.nbin == 20 and stacked.energy_true.nbin == 67
    for ds in datasets:
        assert ds.on_region.radius == pytest.approx(0.11)
        assert ds.excess[ds.mask_safe].sum() > 50  # the Crab, in every run
    # the two wobble pairs: the same OFF-region count within a pair, more at the
    # larger offset... none reflected onto the excluded Crab (0.5 deg)
    n_off = list(table["n_off_regions"][:-1])
    assert n_off[0] == n_off[1] and n_off[2] == n_off[3] and n_off[2] > n_off[0]
    for ds in datasets:
        centres = np.array([(r.ra, r.dec) for r in ds.off_regions.regions])
        distance = np.hypot(
            (centres[:, 0] - 83.633) * np.cos(np.radians(22.014)), centres[:, 1] - 22.014
        )
        assert distance.min() > 0.5 + 0.11 - 0.02  # outside the exclusion (pixel size)


def test_crab_ogip_files(crab_run):
    ogip = crab_run / "results/crab-spectrum/spectrum/ogip"
    with fits.open(ogip / "stacked.fits") as pha:
        header = pha["SPECTRUM"].header
        counts = pha["SPECTRUM"].data["COUNTS"]
    assert (header["ANCRFILE"], header["RESPFILE"], header["BACKFILE"]) == (
        "stacked_arf.fits",
        "stacked_rmf.fits",
        "stacked_bkg.fits",
    )
    stacked = read_spectrum_dataset(crab_run / "results/crab-spectrum/spectrum/stacked.fits")
    np.testing.assert_array_equal(counts, stacked.counts)
    for name in ("stacked_arf", "stacked_rmf", "stacked_bkg"):
        assert (ogip / f"{name}.fits").is_file()
        assert read_provenance(ogip / f"{name}.fits").rule == "ogip_spectrum"


@pytest.mark.parametrize(
    ("run", "analysis"), [("crab_run", "crab-spectrum"), ("magic_run", "magic-crab")]
)
def test_spectrum_plots(request, run, analysis):
    workdir = request.getfixturevalue(run)
    for name in ("theta2", "spectrum_excess", "cumulative_significance", "spectrum_regions"):
        path = workdir / f"results/{analysis}/plots/{name}.png"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
        assert read_provenance(path).rule == "plot_spectrum"


def test_crab_spectrum_only_targets(crab_run):
    """Asked for the spectrum products, the run did not make the maps."""
    files = product_files(crab_run)
    assert "results/crab-spectrum/masks/exclusion.fits" in files  # the OFF regions need it
    assert not [f for f in files if f.endswith(("dataset.fits", "maps.fits"))]


def test_magic_rad_max_spectrum(magic_run):
    datasets, stacked, _ = _check_spectra(magic_run, "magic-crab", MAGIC_OBS_IDS)
    assert stacked.energy.nbin == 17 and stacked.energy_true.nbin == 40
    for ds in datasets:
        assert ds.on_region.is_point  # the radius is RAD_MAX per energy bin
        assert ds.n_off_regions == 3  # wobble
        np.testing.assert_allclose(ds.alpha, 1 / 3)


def test_magic_run_makes_no_map_product(magic_run):
    files = product_files(magic_run)
    assert "results/magic-crab/observations.ecsv" in files
    assert not [f for f in files if "/obs/" in f and not f.endswith("spectrum.fits")]
    assert not [f for f in files if "/stacked/" in f or "/masks/" in f]
    assert "results/magic-crab/report/spectrum_runs.html" in files
    assert "5029747" in (magic_run / "results/magic-crab/report/spectrum_runs.html").read_text()
    plots = {f.rsplit("/", 1)[1] for f in files if "/plots/" in f and f.endswith(".png")}
    assert plots == {
        "theta2.png",
        "spectrum_excess.png",
        "cumulative_significance.png",
        "spectrum_regions.png",
    }
