"""Shared test fixtures: where the real (H.E.S.S. DL3 DR1) data lives.

The data is never copied into the repository. Tests find it at ``../shared/data``
beside the checkout, or wherever ``DL3FLOW_SHARED_DATA`` points, and skip with a
clear reason when it is absent.

This work made use of data from the H.E.S.S. DL3 public test data release 1
(HESS DL3 DR1, H.E.S.S. collaboration, 2018).
"""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


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
