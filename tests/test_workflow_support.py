"""Unit tests of dl3flow.workflow.support (no Snakemake run: a stand-in ``snakemake``)."""

import logging
from types import SimpleNamespace

import pytest

from dl3flow.datasets.rejection import Rejection
from dl3flow.io.atomic import atomic_path
from dl3flow.io.provenance import config_hash, file_checksum, read_provenance
from dl3flow.workflow.rejection import write_rejections
from dl3flow.workflow.support import (
    auto_center_of,
    auto_center_params,
    choose_center,
    job_geom,
    job_obs_ids,
    remove_stale_temporaries,
    run_summary,
    script_job,
    script_provenance,
)


class Params(list):
    """Like Snakemake's Namedlist: items() gives the named entries."""

    def __init__(self, **named):
        super().__init__(named.values())
        self._named = named

    def items(self):
        return self._named.items()


def fake_job(tmp_path, *, inputs, output, wildcards, params=None):
    # (no `config`: a job is given the config it uses as its params)
    return SimpleNamespace(
        rule="reduce_observation",
        input=inputs,
        output=output,
        params=params if params is not None else Params(),
        wildcards=wildcards,
        log=[str(tmp_path / "logs" / "job.log")],
    )


@pytest.fixture
def files(tmp_path):
    paths = []
    for name in ("obs-index.fits.gz", "data/obs_1.fits.gz"):
        path = tmp_path / "store" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(name.encode() * 10)
        paths.append(str(path))
    return paths


def test_script_provenance_from_job(tmp_path, files):
    job = fake_job(
        tmp_path,
        inputs=[files[0], [files[1]], files[0]],  # nested (input functions), repeated
        output=[str(tmp_path / "out.fits")],
        wildcards={"analysis": "demo", "obs_id": "7"},
        params=Params(offset_max="2 deg", irfs=[True, False], obs_ids=[7]),
    )
    cache = tmp_path / "cache"
    prov = script_provenance(job, parameters={"extra": 1}, checksum_cache=cache)
    assert prov.rule == "reduce_observation" and prov.analysis == "demo"
    assert prov.obs_ids == (7,)
    # the config the job is given: its params but the observations
    assert prov.config_hash == config_hash({"offset_max": "2 deg", "irfs": [True, False]})
    assert [item.path for item in prov.inputs] == files
    assert [item.sha256 for item in prov.inputs] == [file_checksum(p) for p in files]
    assert prov.parameters == {
        "offset_max": "2 deg",
        "irfs": [True, False],
        "obs_ids": [7],
        "extra": 1,
    }
    assert len(list(cache.iterdir())) == 2  # one cache entry per input file


def test_script_provenance_without_analysis(tmp_path, files):
    job = fake_job(tmp_path, inputs=[], output=["x"], wildcards={}, params=None)
    prov = script_provenance(job, config_section={"seed": 0}, checksum_cache=None)
    assert prov.analysis is None and prov.obs_ids == () and prov.inputs == ()
    assert prov.config_hash == config_hash({"seed": 0})


@pytest.mark.parametrize(
    ("wildcards", "params", "expected"),
    [
        ({"obs_id": "12"}, {"obs_ids": [3]}, [12]),
        ({"analysis": "a"}, {"obs_ids": [10, 3]}, [3, 10]),
        # not parsed from the input paths
        ({"analysis": "a"}, {}, []),
    ],
    ids=["wildcard", "from-params", "none"],
)
def test_job_obs_ids(wildcards, params, expected):
    job = SimpleNamespace(
        input=["results/a/obs/3/x.fits"], params=params, wildcards=SimpleNamespace(**wildcards)
    )
    assert job_obs_ids(job) == expected


def test_remove_stale_temporaries_only_of_the_targets(tmp_path):
    target = tmp_path / "dataset.fits"
    with pytest.raises(KeyboardInterrupt), atomic_path(target):
        raise KeyboardInterrupt  # atomic_path cleans up after exceptions ...
    assert list(tmp_path.iterdir()) == []
    # ... but not after SIGKILL: simulate its leftovers, and others' files
    stale = tmp_path / ".dataset.fits.ab12cd.tmp.fits"
    other = tmp_path / ".dataset_bkg.fits.ab12cd.tmp.fits"
    for path in (stale, other, target):
        path.write_bytes(b"x")
    assert remove_stale_temporaries([target]) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, target.name]


def test_script_job_cleans_outputs_and_sidecars_then_logs(tmp_path):
    out = tmp_path / "table.ecsv"
    extra = tmp_path / "dataset.fits"
    leftovers = [
        tmp_path / ".table.ecsv.x1.tmp.ecsv",
        tmp_path / ".table.ecsv.prov.json.x2.tmp.json",
        tmp_path / ".dataset.fits.x3.tmp.fits",
    ]
    for path in leftovers:
        path.write_text("partial")
    job = fake_job(tmp_path, inputs=[], output=[str(out)], wildcards={})
    with script_job(job, extra_outputs=[extra]) as log:
        assert isinstance(log, logging.Logger)
        log.info("hello")
    assert not any(path.exists() for path in leftovers)
    text = (tmp_path / "logs" / "job.log").read_text()
    assert "hello" in text and text.count("left by an interrupted earlier attempt") == 3


def test_provenance_sidecar_round_trip(tmp_path, files):
    job = fake_job(tmp_path, inputs=files, output=["t.ecsv"], wildcards={"analysis": "demo"})
    prov = script_provenance(job, obs_ids=[1, 2], checksum_cache=None)
    prov.to_sidecar(tmp_path / "t.ecsv")
    assert read_provenance(tmp_path / "t.ecsv") == prov


def test_run_summary(tmp_path):
    from astropy.table import Table

    from dl3flow.io.atomic import write_observations

    tables = tmp_path / "results" / "demo" / "tables"
    rejection = Rejection(obs_id=3, stage="irf", reason="obs 3: no AEFF HDU in f.fits", error="E")
    write_rejections([rejection], tables / "rejected_observations.ecsv")
    write_rejections([], tmp_path / "results" / "ok" / "tables" / "rejected_observations.ecsv")
    selected = Table({"OBS_ID": [1, 2, 3, 4]})
    rejected = Table({"OBS_ID": [9], "REASON": ["outside the cone"]}, dtype=[int, str])
    write_observations(selected, rejected, tmp_path / "results" / "demo" / "observations.ecsv")

    summary = run_summary(["demo", "ok", "not-run"], workdir=tmp_path)
    # "ok" has no observations.ecsv (its selection has not run): left out
    assert summary.splitlines() == [
        f"demo: results in {tmp_path}/results/demo/",
        "  observations: 3 used; 2 rejected:",
        "    by the selection (1):",
        "      obs 9: outside the cone",
        f"    during the analysis (1; {tmp_path}/results/demo/tables/rejected_observations.ecsv):",
        "      obs 3 (irf): E: obs 3: no AEFF HDU in f.fits",
        "HTML report: snakemake --report report.html (with this run's --configfile/--config "
        "options)",
    ]


def _auto_config(data_store="store"):
    geom = {"center": "auto", "frame": "galactic", "width": "4 deg", "binsz": "0.1 deg"}
    return {"data_store": data_store, "analyses": {"gc": {"geom": geom}}}


def test_job_geom_places_an_auto_centre_from_the_selection(tmp_path):
    from astropy.table import Table

    from dl3flow.config.analysis import analysis_config
    from dl3flow.io.atomic import read_geom_center, write_observations

    config = _auto_config()
    selected = Table({"OBS_ID": [1, 2, 3], "RA_PNT": [266.0, 267.0, 300.0], "DEC_PNT": [-29.0] * 3})
    rejected = Table({"OBS_ID": [4], "REASON": ["x"]})
    params = auto_center_params(analysis_config(config, "gc"))
    assert params == {"frame": "galactic", "max_separation": 4.5}  # 2 + 2.5 deg
    center = auto_center_of(selected, params)
    assert (center.used, center.dropped) == ((1, 2), (3,))
    assert choose_center(analysis_config(config, "gc"), selected) == center
    path = tmp_path / "observations.ecsv"
    write_observations(selected, rejected, path, auto_center=center)
    assert read_geom_center(path).separation(center.center).deg < 1e-9

    job = SimpleNamespace(
        rule="exclusion_regions",
        input=SimpleNamespace(observations=str(path)),
        wildcards=SimpleNamespace(analysis="gc"),
    )
    from dl3flow.config.analysis import analysis_sections

    section = analysis_sections(config, "gc")["geom"]  # the rule's param
    geom = job_geom(job, section)
    assert geom.sky.center_skydir.separation(center.center).deg < 1e-6
    assert geom.sky.frame == "galactic"
    # the same geometry as the whole config's, placed
    placed = analysis_config(config, "gc").with_center(read_geom_center(path)).geom
    assert geom.sky.center_skydir.separation(placed.sky.center_skydir).deg == 0
    assert geom.sky.shape == placed.sky.shape
    assert list(geom.energy.edges) == list(placed.energy.edges)

    job.input = SimpleNamespace()
    with pytest.raises(ValueError, match=r"rule exclusion_regions has no 'observations' input"):
        job_geom(job, section)
    write_observations(selected, rejected, path, overwrite=True)
    job.input = SimpleNamespace(observations=str(path))
    with pytest.raises(ValueError, match=r"observations\.ecsv records no map centre"):
        job_geom(job, section)
    with pytest.raises(ValueError, match=r"^analyses\.gc\.geom\.binsz: expected an angle"):
        job_geom(job, {**section, "binsz": "1 TeV"})


def test_choose_center_is_none_for_a_fixed_centre():
    from dl3flow.config.analysis import analysis_config

    config = _auto_config()
    config["analyses"]["gc"]["geom"]["center"] = {"lon": "0 deg", "lat": "0 deg"}
    assert choose_center(analysis_config(config, "gc"), None) is None
    assert auto_center_params(analysis_config(config, "gc")) is None
    assert auto_center_of(None, None) is None
