"""Resource requests (dl3flow.config.resources): exact values on tiny literal sizes."""

import astropy.units as u
import pytest

from dl3flow.config import resources
from dl3flow.config.analysis import analysis_config
from dl3flow.config.resources import JOB_KINDS, RULE_KINDS, job_size, mem_mb, n_pixels, runtime


@pytest.mark.parametrize(
    ("width", "binsz", "expected"),
    [
        (4.0, 0.02, 200 * 200),
        ((5.0, 3.0), 0.02, 250 * 150),
        (4.0, (0.02, 0.04), 200 * 100),
        (0.05, 0.02, 3 * 3),  # partial pixels round up
    ],
)
def test_n_pixels(width, binsz, expected):
    assert n_pixels(width, binsz) == expected


@pytest.mark.parametrize(("width", "binsz"), [(0.0, 0.02), (4.0, -0.02), ((1.0, 2.0, 3.0), 0.02)])
def test_n_pixels_errors(width, binsz):
    with pytest.raises(ValueError, match="width and binsz"):
        n_pixels(width, binsz)


@pytest.mark.parametrize(
    ("kind", "n_pix", "n_energy", "attempt", "expected"),
    [
        ("reduce", 0, 0, 1, 300),
        ("reduce", 200 * 200, 23, 1, 400),  # 300 + 44.2 MB -> 400
        ("reduce", 200 * 200, 23, 2, 800),
        ("reduce", 1000 * 1000, 50, 1, 2700),  # 300 + 2400 MB
        ("reduce_observations", 200 * 200, 23, 3, 1200),  # a rule name
        ("table", 10**8, 100, 1, 500),  # no size dependence
    ],
)
def test_mem_mb(kind, n_pix, n_energy, attempt, expected):
    assert mem_mb(kind, n_pixels=n_pix, n_energy=n_energy, attempt=attempt) == expected


@pytest.mark.parametrize(
    ("kind", "n_pix", "n_energy", "attempt", "n_obs", "expected"),
    [
        ("reduce", 200 * 200, 23, 1, 1, 6),
        ("reduce", 200 * 200, 23, 1, 16, 7),  # a batch of 16: 5 + 0.1 * 16 * 0.92
        ("reduce", 200 * 200, 23, 2, 1, 12),
        ("stack", 250 * 250, 31, 1, 100, 15),  # 5 + 0.05 * 100 * 1.9375
        ("stack", 250 * 250, 31, 1, 1000, 102),
        ("table", 0, 0, 1, 1, 5),
    ],
)
def test_runtime(kind, n_pix, n_energy, attempt, n_obs, expected):
    got = runtime(kind, n_pixels=n_pix, n_energy=n_energy, attempt=attempt, n_obs=n_obs)
    assert got == expected


def test_requests_grow_with_size_and_attempt():
    sizes = [(100, 10), (10_000, 10), (10_000, 100), (1_000_000, 100)]
    for kind in JOB_KINDS:
        mems = [mem_mb(kind, n_pixels=p, n_energy=e) for p, e in sizes]
        times = [runtime(kind, n_pixels=p, n_energy=e) for p, e in sizes]
        assert mems == sorted(mems) and times == sorted(times), kind
        assert mem_mb(kind, n_pixels=10, n_energy=1, attempt=2) > mem_mb(
            kind, n_pixels=10, n_energy=1
        )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: mem_mb("nope", n_pixels=1, n_energy=1), "unknown job kind 'nope'; known: "),
        (lambda: mem_mb("reduce", n_pixels=1, n_energy=1, attempt=0), "attempt must be"),
        (lambda: mem_mb("reduce", n_pixels=-1, n_energy=1), "n_pixels must be"),
        (lambda: runtime("stack", n_pixels=1, n_energy=1.5), "n_energy must be"),
        (lambda: runtime("stack", n_pixels=1, n_energy=1, n_obs=-2), "n_obs must be"),
    ],
)
def test_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_rule_kinds_are_known():
    assert set(RULE_KINDS.values()) <= set(JOB_KINDS)


DEMO_LIKE = {
    "analyses": {
        "a": {
            "data_store": "store",
            "geom": {
                "center": {"lon": "60 deg", "lat": "-25 deg"},
                "width": ["5 deg", "3 deg"],
                "binsz": "0.02 deg",
                "energy": {"min": "0.5 TeV", "max": "20 TeV", "nbin": 8},
                "energy_true": {"min": "0.3 TeV", "max": "30 TeV", "nbin": 15},
            },
            "offset_max": "2 deg",
        }
    }
}


def test_job_size_from_analysis():
    analysis = analysis_config(DEMO_LIKE, "a")
    assert analysis.offset_max == 2 * u.deg
    # per observation: the 4 deg cutout, clipped to the 3 deg height of the geometry
    assert job_size(analysis, "reduce_observations") == {"n_pixels": 200 * 150, "n_energy": 23}
    assert job_size(analysis, "stack") == {"n_pixels": 250 * 150, "n_energy": 23}
    assert resources.mem_mb("stack", **job_size(analysis, "stack_datasets")) == 500
