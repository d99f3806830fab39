"""Shared test fixtures: where the real (H.E.S.S. DL3 DR1) data lives.

The data is never copied into the repository. Tests find it at ``../shared/data``
beside the checkout, or wherever ``DL3FLOW_SHARED_DATA`` points, and skip with a
clear reason when it is absent.

This work made use of data from the H.E.S.S. DL3 public test data release 1
(HESS DL3 DR1, H.E.S.S. collaboration, 2018).
"""

import os
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: The session fixtures below that each make one expensive Snakemake run, and the
#: xdist scheduling unit of the tests using them: a unit runs on one worker, so each
#: run is made once per session.
SHARED_RUNS = {"demo_run": "demo_run", "demo_module_run": "demo_run", "crab_example_run": "crab"}

#: Where those tests are: a test file, or one test of a file (``file::test``), and its
#: unit. Every other test file is a unit of its own. The scheduler sees node ids only
#: (the controller does not collect), hence a table; ``_check_scopes`` fails the
#: collection when a test using a shared run is not in that run's unit.
SCOPES = {
    "tests/test_module_use.py": "demo_run",
    "tests/test_reproducibility.py": "demo_run",
    "tests/test_workflow_maps.py": "demo_run",
    "tests/test_workflow.py::test_run_demo": "demo_run",
    "tests/test_workflow.py::test_run_crab": "crab",
    "tests/validation/test_significance_distribution.py": "crab",
}


def xdist_scope(nodeid: str) -> str:
    """The scheduling unit of a test: its shared run's (``SCOPES``), else its file."""
    for prefix, unit in SCOPES.items():
        if nodeid == prefix or nodeid.startswith((f"{prefix}::", f"{prefix}[")):
            return unit
    return nodeid.split("::", 1)[0]


def _shared_run(item) -> str | None:
    names = getattr(item, "fixturenames", ())
    units = {unit for name, unit in SHARED_RUNS.items() if name in names}
    if len(units) > 1:
        raise pytest.UsageError(f"{item.nodeid}: uses the shared runs of several units {units}")
    return units.pop() if units else None


def _check_scopes(items) -> None:
    """Every test that uses a shared run is scheduled in that run's unit."""
    for item in items:
        unit = _shared_run(item)
        if unit is not None and xdist_scope(item.nodeid) != unit:
            raise pytest.UsageError(
                f"{item.nodeid} uses the shared run {unit!r} but is scheduled in the unit "
                f"{xdist_scope(item.nodeid)!r}: add it to SCOPES in tests/conftest.py"
            )


def _rank(item) -> int:
    """Longest first (the workers then finish together): the demo runs, the other
    workflow runs, the gammapy comparisons, the Snakemake dry runs, the rest."""
    if xdist_scope(item.nodeid) == "demo_run":
        return 0
    for rank, marker in enumerate(("workflow", "validation", "dryrun"), start=1):
        if item.get_closest_marker(marker):
            return rank
    return 4


def pytest_collection_modifyitems(config, items):
    _check_scopes(items)
    items.sort(key=_rank)  # stable: the file order within a rank


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: absent without it
def pytest_xdist_make_scheduler(config, log):
    """Schedule by ``xdist_scope``: xdist's ``loadgroup`` does not group on pytest 9.2
    (it tags the group onto ``item._nodeid``, which pytest 9.2 no longer reads)."""
    from xdist.scheduler import LoadScopeScheduling

    class SharedRunScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_scope(nodeid)

    return SharedRunScheduling(config, log)


def shared_data_dir() -> Path:
    return Path(os.environ.get("DL3FLOW_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path} (set DL3FLOW_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def hess_dr1(shared_data) -> Path:
    path = shared_data / "hess-dl3-dr1"
    if not (path / "obs-index.fits.gz").is_file():
        pytest.skip(f"H.E.S.S. DL3 DR1 not found at {path}")
    return path


#: The H.E.S.S. DL3 DR1 observation (Crab) that ``hess_obs_copy`` copies.
HESS_OBS_ID = 23523


@pytest.fixture(scope="session")
def _hess_obs_source(hess_dr1):
    """Bytes of one real DL3 file and the index rows of its observation (read once)."""
    import gzip

    from astropy.table import Table

    name = f"hess_dl3_dr1_obs_id_{HESS_OBS_ID:06d}.fits.gz"
    raw = (hess_dr1 / "data" / name).read_bytes()
    obs_index = Table.read(hess_dr1 / "obs-index.fits.gz", hdu="OBS_INDEX")
    hdu_index = Table.read(hess_dr1 / "hdu-index.fits.gz", hdu="HDU_INDEX")
    return {
        "name": name,
        "raw": raw,
        "fits": gzip.decompress(raw),
        "obs_index": obs_index[obs_index["OBS_ID"] == HESS_OBS_ID],
        "hdu_index": hdu_index[hdu_index["OBS_ID"] == HESS_OBS_ID],
    }


@pytest.fixture
def hess_obs_copy(_hess_obs_source, tmp_path):
    """Factory: a one-observation data store in ``tmp_path`` copied from H.E.S.S. DL3 DR1.

    ``make(name="store", *, hdus=None, raw=None, obs_index=None, hdu_index=None)``
    writes ``tmp_path/name/{obs-index,hdu-index}.fits.gz`` (the rows of obs
    ``HESS_OBS_ID``) and ``data/<file>.fits.gz`` (a copy of the real file) and
    returns the directory. Each optional callable corrupts the copy: ``hdus`` gets
    the opened `~astropy.io.fits.HDUList`, ``raw`` the gzip bytes (returns new
    bytes), ``obs_index`` / ``hdu_index`` the tables (change in place or return a
    new one). The shared data is only read.
    """
    import gzip
    import io

    from astropy.io import fits

    source = _hess_obs_source

    def make(name="store", *, hdus=None, raw=None, obs_index=None, hdu_index=None) -> Path:
        root = tmp_path / name
        (root / "data").mkdir(parents=True)
        data = source["raw"]
        if hdus is not None:
            with fits.open(io.BytesIO(source["fits"])) as hdulist:
                hdulist = fits.HDUList([hdu.copy() for hdu in hdulist])
            hdulist = hdus(hdulist) or hdulist
            buffer = io.BytesIO()
            hdulist.writeto(buffer)
            data = gzip.compress(buffer.getvalue(), mtime=0)
        if raw is not None:
            data = raw(data)
        (root / "data" / source["name"]).write_bytes(data)
        for kind, mutate in (("obs", obs_index), ("hdu", hdu_index)):
            table = source[f"{kind}_index"].copy()
            if mutate is not None:
                result = mutate(table)
                table = table if result is None else result
            hdu = fits.table_to_hdu(table)
            hdu.name = f"{kind.upper()}_INDEX"
            buffer = io.BytesIO()
            fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(buffer)
            (root / f"{kind}-index.fits.gz").write_bytes(gzip.compress(buffer.getvalue(), mtime=0))
        return root

    return make


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """The demo workflow, run once per test session with its report: its directory.

    A copy of the workflow files, run with ``snakemake --cores 2`` and then
    ``snakemake --report report.html``. Shared by every test that only reads the
    demo's products: READ ONLY. A test that changes the run works on a copy
    (``shutil.copytree(demo_run, ..., symlinks=True)`` keeps Snakemake's metadata).
    """
    from _workflow_util import copy_workflow, output_of, run_snakemake

    workdir = copy_workflow(tmp_path_factory.mktemp("demo-run") / "workflow")
    start = time.perf_counter()
    result = run_snakemake(workdir, "--cores", 2)
    assert result.returncode == 0, output_of(result)
    seconds = time.perf_counter() - start
    report = run_snakemake(workdir, "--report", "report.html")
    assert report.returncode == 0, output_of(report)
    print(f"demo run in {workdir}: {seconds:.1f} s (and the report)")
    return workdir


@pytest.fixture(scope="session")
def demo_module_run(tmp_path_factory):
    """The demo run again, through dl3flow used as a Snakemake module: (directory, result).

    Its own simulation, its own directory, every output in it: the second, independent
    run of the demo that the reproducibility tests compare with ``demo_run``, and the
    module test's run (test_module_use.py). READ ONLY.
    """
    from _workflow_util import OUTER_SNAKEFILE, run_snakemake

    outer = tmp_path_factory.mktemp("demo-module-run")
    (outer / "Snakefile").write_text(OUTER_SNAKEFILE.format(repo=REPO))
    start = time.perf_counter()
    result = run_snakemake(outer, "--cores", 2)
    print(f"demo run as a module in {outer}: {time.perf_counter() - start:.1f} s")
    return outer, result


@pytest.fixture(scope="session")
def crab_example_run(tmp_path_factory, hess_dr1) -> Path:
    """config/examples/hess-dr1-crab.yaml on H.E.S.S. DL3 DR1, a whole run: its directory.

    ``../shared/data`` beside the copy of the workflow links to the shared data (the
    example's region files and catalogs). Shared by test_workflow.py's Crab run and
    the off-source significance of tests/validation: READ ONLY.
    """
    from _workflow_util import copy_workflow, output_of, run_snakemake

    root = tmp_path_factory.mktemp("crab-run")
    workdir = copy_workflow(root / "workflow")
    (root / "shared").mkdir()
    (root / "shared" / "data").symlink_to(shared_data_dir().resolve())
    if not (root / "shared" / "data" / "catalogs").is_dir():
        pytest.skip(f"shared data not found at {shared_data_dir()} (set DL3FLOW_SHARED_DATA)")
    start = time.perf_counter()
    result = run_snakemake(
        workdir,
        "--cores",
        2,
        "--configfile",
        "config/examples/hess-dr1-crab.yaml",
        "--config",
        f"data_store={hess_dr1}",
    )
    assert result.returncode == 0, output_of(result)
    print(f"crab workflow in {workdir}: {time.perf_counter() - start:.1f} s")
    return workdir
