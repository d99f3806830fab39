"""Tests of the synthetic GADF data store (dl3flow.simulate)."""

import hashlib
import os

import numpy as np
import pytest
from astropy.coordinates import SkyCoord, SkyOffsetFrame
from astropy.io import fits
from astropy.table import Table

from dl3flow.maps.coords import fov_to_sky
from dl3flow.simulate import store as simulate_store
from dl3flow.simulate.catalog import write_region_file, write_source_catalog
from dl3flow.simulate.config import (
    SimulationConfig,
    SimulationConfigError,
    SourceSpec,
    default_demo_sky,
    simulation_config_from_dict,
)
from dl3flow.simulate.events import simulate_observation
from dl3flow.simulate.instrument import _Instrument
from dl3flow.simulate.plan import plan_observations
from dl3flow.simulate.store import write_data_store

DR1_OBS_INDEX_COLUMNS = [
    "OBS_ID", "RA_PNT", "DEC_PNT", "GLON_PNT", "GLAT_PNT", "ZEN_PNT", "ALT_PNT", "AZ_PNT",
    "OBJECT", "RA_OBJ", "DEC_OBJ", "OFFSET_OBJ", "ONTIME", "LIVETIME", "DEADC", "TSTART",
    "TSTOP", "DATE-OBS", "TIME-OBS", "DATE-END", "TIME-END", "N_TELS", "TELLIST", "QUALITY",
    "MUONEFF", "EVENT_COUNT", "TARGET_NAME", "TARGET_TAG", "TARGET_OFFSET", "SAFE_ENERGY_LO",
    "SAFE_ENERGY_HI",
]  # fmt: skip
DR1_HDU_INDEX_COLUMNS = [
    "OBS_ID", "HDU_TYPE", "HDU_CLASS", "FILE_DIR", "FILE_NAME", "HDU_NAME", "SIZE",
]  # fmt: skip


def small_config(**kwargs):
    base = dict(seed=7, n_obs=2, livetime=600.0)
    base.update(kwargs)
    return SimulationConfig(**base)


def events_digest(sim):
    h = hashlib.sha256()
    for key in sorted(sim.events):
        h.update(key.encode())
        h.update(np.ascontiguousarray(sim.events[key]).tobytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    config = SimulationConfig(seed=11, n_obs=6)
    path = tmp_path_factory.mktemp("sim") / "store"
    write_data_store(config, path)
    return config, path


# -- determinism ------------------------------------------------------------------------


def test_same_seed_identical_events():
    config = small_config()
    for index in range(config.n_obs):
        a = simulate_observation(config, index)
        b = simulate_observation(small_config(), index)
        assert events_digest(a) == events_digest(b)


def test_different_seed_different_events():
    a = simulate_observation(small_config(seed=1), 0)
    b = simulate_observation(small_config(seed=2), 0)
    assert events_digest(a) != events_digest(b)


def test_observation_independent_of_n_obs():
    a = simulate_observation(small_config(n_obs=2), 1)
    b = simulate_observation(small_config(n_obs=5), 1)
    assert events_digest(a) == events_digest(b)


def test_written_files_byte_identical(tmp_path):
    config = small_config()
    write_data_store(config, tmp_path / "a")
    write_data_store(config, tmp_path / "b")
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.gz"))
    assert len(files) == 2 + config.n_obs
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


def test_simulate_observation_index_out_of_range():
    with pytest.raises(IndexError, match="out of range"):
        simulate_observation(small_config(), 2)


# -- physics sanity -----------------------------------------------------------------------


def test_background_counts_within_poisson():
    config = SimulationConfig(seed=3, n_obs=6, sources=())
    n = mu = 0.0
    for index in range(config.n_obs):
        sim = simulate_observation(config, index)
        assert np.all(sim.events["MC_ID"] == 0)
        n += sim.events["TIME"].size
        mu += sim.expected_background
    assert 3e4 < mu < 1e5
    assert abs(n - mu) < 4 * np.sqrt(mu)


def test_source_counts_within_poisson():
    config = SimulationConfig(seed=4, n_obs=6, background_norm=0.0)
    for k in range(len(config.sources)):
        n = sum(
            np.count_nonzero(simulate_observation(config, i).events["MC_ID"] == k + 1)
            for i in range(config.n_obs)
        )
        mu = sum(simulate_observation(config, i).expected_sources[k] for i in range(6))
        assert abs(n - mu) < 4 * np.sqrt(mu), (k, n, mu)


def test_demo_source_is_bright():
    config = SimulationConfig(seed=0, n_obs=6)
    expected = [simulate_observation(config, i).expected_sources for i in range(6)]
    bright, extended, faint = np.sum(expected, axis=0)
    assert bright > 1500
    assert bright > extended > faint > 20


def test_events_sorted_within_gti_and_range():
    config = small_config(energy_range=(0.2, 50.0))
    sim = simulate_observation(config, 0)
    ev = sim.events
    assert np.all(np.diff(ev["TIME"]) >= 0)
    assert ev["TIME"].min() >= sim.plan.tstart and ev["TIME"].max() <= sim.plan.tstop
    assert ev["ENERGY"].min() >= 0.2 and ev["ENERGY"].max() < 50.0
    assert np.array_equal(ev["EVENT_ID"], np.arange(1, ev["TIME"].size + 1))
    assert sim.plan.tstop - sim.plan.tstart == pytest.approx(config.livetime / config.deadc)


def test_wobble_pattern_and_zenith():
    config = SimulationConfig(seed=1, n_obs=8, zenith_range=(20.0, 30.0))
    plans = plan_observations(config)
    target = SkyCoord(config.target_ra, config.target_dec, unit="deg")
    pnt = SkyCoord([p.ra_pnt for p in plans], [p.dec_pnt for p in plans], unit="deg")
    np.testing.assert_allclose(target.separation(pnt).deg, 0.5, atol=1e-9)
    pa = (target.position_angle(pnt).deg + 45) % 360 - 45
    np.testing.assert_allclose(pa[:4], [0, 90, 180, 270], atol=1e-6)
    np.testing.assert_allclose(pa[4:], pa[:4])
    assert all(20 <= p.zenith <= 30 and p.alt == pytest.approx(90 - p.zenith) for p in plans)
    starts = [p.tstart for p in plans]
    assert all(b - a > config.ontime for a, b in zip(starts, starts[1:], strict=False))


def test_fov_to_sky_matches_astropy_offset_frame():
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(-3, 3, (2, 50))
    ra, dec = fov_to_sky(lon, lat, 200.0, -60.0)
    frame = SkyOffsetFrame(origin=SkyCoord(200.0, -60.0, unit="deg"))
    ref = SkyCoord(-lon, lat, unit="deg", frame=frame).icrs
    np.testing.assert_allclose(ra, ref.ra.deg, atol=1e-9)
    np.testing.assert_allclose(dec, ref.dec.deg, atol=1e-9)


def test_irf_tables(store):
    _, path = store
    with fits.open(sorted((path / "data").iterdir())[0]) as hdul:
        assert [h.name for h in hdul[1:]] == ["EVENTS", "GTI", "AEFF", "EDISP", "PSF", "BKG"]
        aeff = hdul["AEFF"]
        assert aeff.header["HDUCLAS4"] == "AEFF_2D"
        assert 0.3 < aeff.header["LO_THRES"] < 0.8 and aeff.header["HI_THRES"] == 100
        assert aeff.data["EFFAREA"].shape == (1, 12, 80)
        assert 5e4 < aeff.data["EFFAREA"].max() < 2e5
        edisp = hdul["EDISP"].data
        dmigra = edisp["MIGRA_HI"][0] - edisp["MIGRA_LO"][0]
        norm = np.sum(edisp["MATRIX"][0] * dmigra[None, :, None], axis=1)
        np.testing.assert_allclose(norm, 1.0, rtol=1e-5)
        psf = hdul["PSF"].data
        rlo, rhi = np.radians(psf["RAD_LO"][0]), np.radians(psf["RAD_HI"][0])
        ring = np.pi * (rhi**2 - rlo**2)
        ebin = np.searchsorted(psf["ENERG_HI"][0], 1.0)  # bin containing 1 TeV
        containment = np.cumsum(psf["RPSF"][0][:, 0, ebin] * ring)
        assert containment[-1] == pytest.approx(1.0, abs=0.01)
        r68 = psf["RAD_HI"][0][np.searchsorted(containment, 0.68)]
        assert 0.08 < r68 < 0.12
        bkg = hdul["BKG"]
        assert bkg.header["FOVALIGN"] == "RADEC" and bkg.header["HDUCLAS4"] == "BKG_3D"
        assert bkg.header["TDIM7"] == "(34,60,60)"
        assert bkg.data["DETX_LO"][0][0] == -3 and bkg.data["DETX_HI"][0][-1] == 3
        events = hdul["EVENTS"].header
        for key in ("OBS_ID", "RA_PNT", "DEC_PNT", "ALT_PNT", "AZ_PNT", "ONTIME", "LIVETIME"):
            assert key in events
        assert events["TELESCOP"] == "DL3FLOW-SIM"
        assert events["LIVETIME"] == pytest.approx(events["ONTIME"] * events["DEADC"])


def test_altaz_alignment_written(tmp_path):
    config = small_config(n_obs=1, fov_alignment="ALTAZ")
    write_data_store(config, tmp_path / "s")
    with fits.open(next((tmp_path / "s" / "data").iterdir())) as hdul:
        assert hdul["BKG"].header["FOVALIGN"] == "ALTAZ"
    radec = simulate_observation(small_config(n_obs=1), 0)
    altaz = simulate_observation(config, 0)
    assert radec.events["TIME"].size == altaz.events["TIME"].size


# -- index files ----------------------------------------------------------------------------


def test_index_files_like_dr1(store):
    config, path = store
    obs = Table.read(path / "obs-index.fits.gz")
    hdu = Table.read(path / "hdu-index.fits.gz")
    assert obs.colnames == DR1_OBS_INDEX_COLUMNS
    assert hdu.colnames == DR1_HDU_INDEX_COLUMNS
    assert list(obs["OBS_ID"]) == [1, 2, 3, 4, 5, 6]
    assert len(hdu) == 6 * 6
    assert set(hdu["HDU_CLASS"]) == {"events", "gti", "aeff_2d", "edisp_2d", "psf_table", "bkg_3d"}
    assert obs.meta["MJDREFI"] == 51910 and obs.meta["TIMESYS"] == "TT"
    assert obs.meta["HDUCLAS2"] == "OBS" and hdu.meta["HDUCLAS2"] == "HDU"
    for row in hdu:
        file = path / row["FILE_DIR"] / row["FILE_NAME"]
        with fits.open(file) as hdul:
            assert hdul[row["HDU_NAME"]].filebytes() == row["SIZE"]
            if row["HDU_TYPE"] == "events":
                n = len(hdul["EVENTS"].data)
                assert obs["EVENT_COUNT"][obs["OBS_ID"] == row["OBS_ID"]][0] == n
    np.testing.assert_allclose(obs["LIVETIME"], config.livetime)
    np.testing.assert_allclose(obs["OFFSET_OBJ"], 0.5, atol=1e-5)
    hess_compatible = set(DR1_OBS_INDEX_COLUMNS)
    assert hess_compatible <= set(obs.colnames)


def test_index_columns_match_real_dr1(store, hess_dr1):
    _, path = store
    for name in ("obs-index.fits.gz", "hdu-index.fits.gz"):
        assert Table.read(path / name).colnames == Table.read(hess_dr1 / name).colnames


# -- writing safety ----------------------------------------------------------------------------


def test_write_is_idempotent_for_same_config(tmp_path):
    config = small_config()
    path = write_data_store(config, tmp_path / "s")
    before = os.stat(path / "obs-index.fits.gz").st_mtime_ns
    write_data_store(config, path)
    assert os.stat(path / "obs-index.fits.gz").st_mtime_ns == before


def test_write_refuses_to_clobber_different_store(tmp_path):
    path = write_data_store(small_config(), tmp_path / "s")
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        write_data_store(small_config(seed=8), path)
    write_data_store(small_config(seed=8), path, overwrite=True)
    assert '"seed": 8' in (path / "simulation.json").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_write_refuses_foreign_directory(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        write_data_store(small_config(), tmp_path / "s")
    assert (tmp_path / "s" / "notes.txt").read_text() == "mine"


def test_write_into_empty_directory(tmp_path):
    (tmp_path / "s").mkdir()
    write_data_store(small_config(), tmp_path / "s")
    assert (tmp_path / "s" / "obs-index.fits.gz").is_file()


def test_write_refuses_file_path(tmp_path):
    (tmp_path / "s").write_text("x")
    with pytest.raises(NotADirectoryError, match="not a directory"):
        write_data_store(small_config(), tmp_path / "s")


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(simulate_store, "_write_observation", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        write_data_store(small_config(), tmp_path / "s")
    assert list(tmp_path.iterdir()) == []


# -- caldb style (CTA 1DC-like: one shared IRF file) -----------------------------------------

CALDB_IRF = "caldb/data/dl3flow/sim/bcf/sim_z20/irf_file.fits"
CALDB_FILES = [
    CALDB_IRF,
    "data/dl3flow_sim_obs_id_000001.fits.gz",
    "data/dl3flow_sim_obs_id_000002.fits.gz",
    "hdu-index.fits.gz",
    "obs-index.fits.gz",
    "simulation.json",
]


@pytest.fixture(scope="module")
def caldb_store(tmp_path_factory):
    config = small_config(irf_style="caldb")
    return config, write_data_store(config, tmp_path_factory.mktemp("caldb") / "store")


def test_caldb_written_files_byte_identical(caldb_store, tmp_path):
    config, path = caldb_store
    again = write_data_store(small_config(irf_style="caldb"), tmp_path / "again")
    files = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())
    assert files == CALDB_FILES
    for rel in files:
        assert (path / rel).read_bytes() == (again / rel).read_bytes(), rel


def test_caldb_hdu_index_shares_one_irf_file(caldb_store):
    _, path = caldb_store
    hdu = Table.read(path / "hdu-index.fits.gz")
    assert hdu.colnames == DR1_HDU_INDEX_COLUMNS
    rows = [tuple(row[c] for c in DR1_HDU_INDEX_COLUMNS[:-1]) for row in hdu]
    irf_dir, irf_name = CALDB_IRF.rsplit("/", 1)
    for obs_id in (1, 2):
        data = f"dl3flow_sim_obs_id_{obs_id:06d}.fits.gz"
        assert rows[6 * (obs_id - 1) : 6 * obs_id] == [
            (obs_id, "events", "events", "data", data, "EVENTS"),
            (obs_id, "gti", "gti", "data", data, "GTI"),
            (obs_id, "aeff", "aeff_2d", irf_dir, irf_name, "EFFECTIVE AREA"),
            (obs_id, "edisp", "edisp_2d", irf_dir, irf_name, "ENERGY DISPERSION"),
            (obs_id, "psf", "psf_3gauss", irf_dir, irf_name, "POINT SPREAD FUNCTION"),
            (obs_id, "bkg", "bkg_3d", irf_dir, irf_name, "BACKGROUND"),
        ]
    for row in hdu:
        with fits.open(path / row["FILE_DIR"] / row["FILE_NAME"]) as hdul:
            assert hdul[row["HDU_NAME"]].filebytes() == row["SIZE"]
    with fits.open(path / "data" / "dl3flow_sim_obs_id_000001.fits.gz") as hdul:
        assert [h.name for h in hdul[1:]] == ["EVENTS", "GTI"]
    obs = Table.read(path / "obs-index.fits.gz")
    assert obs.colnames == DR1_OBS_INDEX_COLUMNS  # with ALT_PNT, AZ_PNT, ZEN_PNT...


# extension, HDUCLAS2, HDUCLAS4, columns
CALDB_HDUS = [
    (
        "EFFECTIVE AREA", "EFF_AREA", "2D",
        ["ENERG_LO", "ENERG_HI", "THETA_LO", "THETA_HI", "EFFAREA"],
    ),
    (
        "ENERGY DISPERSION", "EDISP", "2D",
        ["ETRUE_LO", "ETRUE_HI", "MIGRA_LO", "MIGRA_HI", "THETA_LO", "THETA_HI", "MATRIX"],
    ),
    (
        "POINT SPREAD FUNCTION", "RPSF", "3GAUSS",
        ["ENERG_LO", "ENERG_HI", "THETA_LO", "THETA_HI",
         "SCALE", "SIGMA_1", "AMPL_2", "SIGMA_2", "AMPL_3", "SIGMA_3"],
    ),
    (
        "BACKGROUND", "BKG", "3D",
        ["ENERG_LO", "ENERG_HI", "DETX_LO", "DETX_HI", "DETY_LO", "DETY_HI", "BKG"],
    ),
]  # fmt: skip


@pytest.mark.parametrize(("extname", "clas2", "clas4", "columns"), CALDB_HDUS)
def test_caldb_irf_headers(caldb_store, extname, clas2, clas4, columns):
    _, path = caldb_store
    with fits.open(path / CALDB_IRF) as hdul:
        assert [h.name for h in hdul[1:]] == [spec[0] for spec in CALDB_HDUS]
        hdu = hdul[extname]
        header = {k: hdu.header.get(k) for k in ("HDUCLASS", "HDUCLAS1", "HDUCLAS2", "HDUCLAS4")}
        assert header == {
            "HDUCLASS": "OGIP",
            "HDUCLAS1": "RESPONSE",
            "HDUCLAS2": clas2,
            "HDUCLAS4": clas4,
        }
        assert hdu.columns.names == columns
        for key in ("FOVALIGN", "LO_THRES", "HI_THRES", "OBS_ID"):
            assert key not in hdu.header
        if extname == "BACKGROUND":
            assert hdu.columns["BKG"].unit == "1/s/MeV/sr"


def test_caldb_events_come_from_the_shared_instrument():
    # every observation sees the one 20-deg IRF, whatever its pointing zenith angle
    caldb = [simulate_observation(small_config(irf_style="caldb"), i) for i in range(2)]
    gadf = [simulate_observation(small_config(), i) for i in range(2)]
    assert caldb[0].plan.zenith != caldb[1].plan.zenith
    assert caldb[0].plan == gadf[0].plan
    assert caldb[0].expected_background == caldb[1].expected_background
    assert caldb[0].lo_thres == caldb[1].lo_thres == _Instrument(20.0, (0.1, 100)).lo_thres
    assert gadf[0].lo_thres != gadf[1].lo_thres


def test_caldb_store_reads_with_dl3flow(caldb_store):
    from dl3flow.data.store import DataStore
    from dl3flow.irf.aeff import EffectiveArea2D
    from dl3flow.irf.background import Background3D
    from dl3flow.irf.edisp import EnergyDispersion2D
    from dl3flow.irf.psf import PSF3Gauss

    config, path = caldb_store
    store = DataStore.from_dir(path)
    obs = store.observation(2)
    assert store.hdu_location(1, "psf").file == store.hdu_location(2, "psf").file
    assert isinstance(obs.aeff, EffectiveArea2D) and isinstance(obs.edisp, EnergyDispersion2D)
    assert obs.aeff.lo_threshold is None and obs.aeff.hi_threshold is None
    assert isinstance(obs.bkg, Background3D) and obs.bkg.fov_alignment_assumed
    assert isinstance(obs.psf, PSF3Gauss)
    # the psf_3gauss parameters are the simulated two-Gaussian PSF (at the table nodes)
    energy, offset = obs.psf.axes[0].nodes[[3, 10]], obs.psf.axes[1].nodes[[0, 3]]
    rad = np.array([0.0, 0.05, 0.1, 0.3])
    e, th, r = energy[:, None, None], offset[None, :, None], rad[None, None, :]
    expected = _Instrument(20.0, config.energy_range).psf_density(e, th, r)
    ours = obs.psf.evaluate(energy_true=e, offset=th, rad=r)
    np.testing.assert_allclose(ours, expected, rtol=1e-5)


# -- configuration ---------------------------------------------------------------------------


def demo_dict(**kwargs):
    cfg = {
        "seed": 1,
        "n_obs": 6,
        "target": {"name": "Demo", "ra": 83.63, "dec": -5.0},
        "livetime": 1800,
        "energy_range": [0.1, 100],
        "sources": [
            {"name": "A", "kind": "point", "ra": 83.63, "dec": -5.0, "amplitude": 1e-11,
             "index": 2.5},
            {"name": "B", "kind": "gaussian", "ra": 84.0, "dec": -5.0, "sigma": 0.2,
             "amplitude": 1e-12, "index": 2.2},
            {"name": "C", "kind": "point", "ra": 85.0, "dec": -5.5, "amplitude": 1e-12,
             "index": 2.2},
        ],
    }  # fmt: skip
    cfg.update(kwargs)
    return cfg


def test_config_from_dict_and_round_trip():
    config = simulation_config_from_dict(demo_dict(tstart="2024-03-01T00:00:00"))
    assert config.n_obs == 6 and config.target_name == "Demo"
    assert config.sources[1].kind == "gaussian"
    assert config.tstart == pytest.approx(60370.0)
    assert config.ontime == pytest.approx(1800 / 0.95)
    assert simulation_config_from_dict(config.to_dict()) == config
    assert "irf_style" not in config.to_dict()  # the default: gadf manifests are unchanged
    caldb = simulation_config_from_dict(demo_dict(irf_style="caldb"))
    assert caldb.to_dict()["irf_style"] == "caldb"
    assert simulation_config_from_dict(caldb.to_dict()) == caldb


def test_config_default_sky_follows_target():
    cfg = demo_dict()
    del cfg["sources"]
    config = simulation_config_from_dict(cfg)
    assert config.sources == default_demo_sky(ra=83.63, dec=-5.0)
    assert config.sources[0].ra == 83.63
    kinds = [s.kind for s in config.sources]
    assert kinds == ["point", "gaussian", "point"]
    target = SkyCoord(83.63, -5.0, unit="deg")
    seps = target.separation(SkyCoord([s.ra for s in config.sources], [-5.0, 0, 0], unit="deg"))
    assert seps[0].deg == 0


def set_source(i, key, value):
    cfg = demo_dict()
    cfg["sources"][i][key] = value
    return cfg


@pytest.mark.parametrize(
    ("cfg", "match"),
    [
        (demo_dict(livetime=-5), r"^simulation\.livetime: must be > 0"),
        (demo_dict(livetime=0), r"^simulation\.livetime: must be > 0"),
        (demo_dict(livetime=50000), r"^simulation\.livetime: ONTIME"),
        (demo_dict(energy_range=[10, 1]), r"^simulation\.energy_range: .*non-empty"),
        (demo_dict(energy_range=[1, 1]), r"^simulation\.energy_range:"),
        (demo_dict(energy_range=[1]), r"^simulation\.energy_range: expected a pair"),
        (demo_dict(energy_range=[0.1, "x"]), r"^simulation\.energy_range\[1\]: expected a number"),
        (demo_dict(n_obs=0), r"^simulation\.n_obs: must be >= 1"),
        (demo_dict(n_obs=2.5), r"^simulation\.n_obs: expected an integer"),
        (demo_dict(n_obs=True), r"^simulation\.n_obs: expected an integer"),
        (demo_dict(seed=-1), r"^simulation\.seed: must be >= 0"),
        (demo_dict(deadc=0), r"^simulation\.deadc: must be within \(0, 1\]"),
        (demo_dict(deadc=1.2), r"^simulation\.deadc:"),
        (demo_dict(fov_alignment="GALACTIC"), r"^simulation\.fov_alignment: unknown alignment"),
        (demo_dict(irf_style="CALDB"), r"^simulation\.irf_style: unknown IRF style 'CALDB'"),
        (demo_dict(wobble_offset=-0.5), r"^simulation\.wobble_offset:"),
        (demo_dict(zenith_range=[40, 20]), r"^simulation\.zenith_range: need"),
        (demo_dict(zenith_range=[0, 1]), r"^simulation\.zenith_range: the pointings"),
        (demo_dict(background_norm=-1), r"^simulation\.background_norm: must be >= 0"),
        (demo_dict(tstart="yesterday"), r"^simulation\.tstart: cannot parse"),
        (demo_dict(tstart=10.0), r"^simulation\.tstart: MJD"),
        (demo_dict(obs_id_start=999_999), r"^simulation\.obs_id_start:"),
        (demo_dict(telescope=""), r"^simulation\.telescope: expected a non-empty string"),
        (demo_dict(target={"ra": 10, "dec": 95}), r"^simulation\.target\.dec: must be within"),
        (demo_dict(site={"geolat": -95}), r"^simulation\.site\.geolat: must be within"),
        (demo_dict(target={"ra": 10, "decl": 5}), r"^simulation\.target\.decl: unknown key"),
        (demo_dict(site={"lat": 5}), r"^simulation\.site\.lat: unknown key"),
        (demo_dict(livetim=5), r"^simulation\.livetim: unknown key"),
        (demo_dict(sources={"name": "A"}), r"^simulation\.sources: expected a list"),
        (set_source(2, "kind", "disk"), r"^simulation\.sources\[2\]\.kind: unknown source kind"),
        (set_source(1, "sigma", -0.1), r"^simulation\.sources\[1\]\.sigma: must be >= 0"),
        (set_source(1, "sigma", 0.0), r"^simulation\.sources\[1\]\.sigma: must be within"),
        (set_source(0, "sigma", 0.1), r"^simulation\.sources\[0\]\.sigma: must be 0"),
        (set_source(0, "amplitude", -1), r"^simulation\.sources\[0\]\.amplitude: must be >= 0"),
        (set_source(0, "index", 9), r"^simulation\.sources\[0\]\.index: must be within"),
        (set_source(0, "dec", 91), r"^simulation\.sources\[0\]\.dec: must be within"),
        (set_source(0, "ra", "x"), r"^simulation\.sources\[0\]\.ra: expected a number"),
        (set_source(0, "name", ""), r"^simulation\.sources\[0\]\.name: expected a non-empty"),
        (set_source(0, "reference", 0), r"^simulation\.sources\[0\]\.reference: must be > 0"),
        (set_source(0, "colour", 1), r"^simulation\.sources\[0\]\.colour: unknown key"),
        (set_source(1, "name", "A"), r"^simulation\.sources: source names must be unique"),
    ],
)
def test_config_errors_name_the_key(cfg, match):
    with pytest.raises(SimulationConfigError, match=match):
        simulation_config_from_dict(cfg)


def test_config_missing_keys():
    cfg = demo_dict()
    del cfg["seed"]
    with pytest.raises(SimulationConfigError, match=r"^simulation\.seed: missing required key"):
        simulation_config_from_dict(cfg)
    cfg = demo_dict()
    del cfg["sources"][1]["index"]
    with pytest.raises(SimulationConfigError, match=r"^simulation\.sources\[1\]\.index: missing"):
        simulation_config_from_dict(cfg)
    with pytest.raises(SimulationConfigError, match=r"^simulation: expected a mapping"):
        simulation_config_from_dict([1, 2])


def test_config_error_is_value_error():
    with pytest.raises(ValueError, match=r"simulation\.n_obs"):
        SimulationConfig(n_obs=0)
    with pytest.raises(SimulationConfigError, match=r"simulation\.sources\[0\]: expected a"):
        SimulationConfig(sources=("not a source",))


# -- catalog and regions --------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".fits", ".ecsv"])
def test_source_catalog(tmp_path, suffix):
    sources = default_demo_sky()
    path = write_source_catalog(sources, tmp_path / f"cat{suffix}")
    table = Table.read(path)
    assert list(table["Source_Name"]) == [s.name for s in sources]
    for col in ("RA", "DEC", "GLON", "GLAT", "Extension", "Index", "Flux_Ref", "Flux_Above_1TeV"):
        assert col in table.colnames
    np.testing.assert_allclose(table["Extension"], [0.0, 0.2, 0.0])
    assert table["Flux_Above_1TeV"][0] == pytest.approx(3.5e-11 / 1.5)
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        write_source_catalog(sources, path)
    write_source_catalog(sources, path, overwrite=True)
    with pytest.raises(ValueError, match="no sources"):
        write_source_catalog((), tmp_path / "empty.fits")


def test_region_file(tmp_path):
    regions = pytest.importorskip("regions")
    sources = default_demo_sky()
    path = write_region_file(sources, tmp_path / "sources.reg", radius_margin=0.25)
    parsed = regions.Regions.read(path, format="ds9")
    assert len(parsed) == 3
    radii = [r.radius.to_value("deg") for r in parsed]
    np.testing.assert_allclose(radii, [0.25, 0.65, 0.25])
    assert parsed[0].center.ra.deg == pytest.approx(sources[0].ra)
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        write_region_file(sources, path)
    with pytest.raises(ValueError, match="radius_margin must be > 0"):
        write_region_file(sources, tmp_path / "x.reg", radius_margin=0)


def test_source_spec_direct_errors():
    with pytest.raises(SimulationConfigError, match=r"^kind: unknown source kind"):
        SourceSpec("x", "disk", 0, 0, amplitude=1e-12, index=2)
    spec = SourceSpec("x", "point", 370.0, 0, amplitude=1e-12, index=2)
    assert spec.ra == pytest.approx(10.0)
    assert spec.integral_flux(1.0, 10.0) == pytest.approx(1e-12 * 0.9)
