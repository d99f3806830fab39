"""The test scheduler of tests/conftest.py: which tests run together on one worker."""

from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import REPO, SCOPES, _check_scopes, xdist_scope


@pytest.mark.parametrize(
    ("nodeid", "unit"),
    [
        ("tests/test_workflow.py::test_run_demo", "demo_run"),
        ("tests/test_workflow.py::test_run_crab", "crab"),
        ("tests/test_workflow.py::test_run_demo_again", "tests/test_workflow.py"),
        ("tests/test_workflow.py::test_other", "tests/test_workflow.py"),
        ("tests/test_reproducibility.py::test_same_bytes[maps]", "demo_run"),
        ("tests/validation/test_significance_distribution.py::test_x", "crab"),
        ("tests/test_stats.py::test_cash[0-1]", "tests/test_stats.py"),
        ("tests/test_stats.py::TestWStat::test_zero", "tests/test_stats.py"),
    ],
)
def test_xdist_scope(nodeid, unit):
    assert xdist_scope(nodeid) == unit


def _item(nodeid, *fixtures):
    return SimpleNamespace(nodeid=nodeid, fixturenames=fixtures)


def test_check_scopes_accepts_the_table():
    _check_scopes(
        [
            _item("tests/test_workflow.py::test_run_demo", "demo_run", "tmp_path"),
            _item("tests/test_module_use.py::test_module_run", "demo_module_run", "demo_run"),
            _item("tests/test_workflow.py::test_run_crab", "crab_example_run"),
            _item("tests/test_stats.py::test_cash", "tmp_path"),
        ]
    )


def test_check_scopes_names_a_test_outside_its_run_unit():
    with pytest.raises(pytest.UsageError, match=r"test_new\.py::test_a uses the shared run 'crab'"):
        _check_scopes([_item("tests/test_new.py::test_a", "crab_example_run")])


def test_check_scopes_refuses_two_runs_in_one_test():
    with pytest.raises(pytest.UsageError, match="several units"):
        _check_scopes(
            [_item("tests/test_workflow.py::test_run_demo", "demo_run", "crab_example_run")]
        )


@pytest.mark.parametrize("prefix", sorted(SCOPES))
def test_scopes_name_existing_tests(prefix):
    """A stale entry would silently schedule nothing: each names a file (and test) that exists."""
    path, _, test = prefix.partition("::")
    assert (REPO / path).is_file(), prefix
    if test:
        assert f"def {test}(" in Path(REPO / path).read_text(), prefix
