"""Per-observation reduction on tiny synthetic IRFs with exact expected values."""

import re
from dataclasses import replace
from types import SimpleNamespace

import astropy.units as u
import numpy as np
import pytest
from _factories import make_geom
from astropy.coordinates import EarthLocation, SkyCoord
from astropy.table import Table
from astropy.time import Time

from dl3flow.data.quality import ObservationWarning, collect_notes
from dl3flow.irf.aeff import EffectiveArea2D
from dl3flow.irf.axes import IrfAxis
from dl3flow.irf.background import Background2D, Background3D
from dl3flow.makers.map import (
    ReductionError,
    make_background,
    make_counts,
    make_exposure,
    pointing_altitudes,
    reduce_observation,
    resolve_fov_alignment,
)
from dl3flow.maps.geom import SkyGeom

MEV_PER_TEV = 1e6


def aeff_linear_in_offset():
    """A(E, theta) = 100 m2 * (1 - theta / 4 deg): offset nodes 0..3 deg, flat in energy."""
    energy = IrfAxis.from_edges(
        [0.1, 1.0, 10.0, 100.0], name="energy_true", unit="TeV", interp="log"
    )
    offset = IrfAxis.from_nodes([0.0, 1.0, 2.0, 3.0], name="offset", unit="deg", interp="lin")
    data = np.tile(100.0 * (1 - offset.nodes / 4.0), (3, 1))
    return EffectiveArea2D(axes=(energy, offset), data=data)


def flat_bkg_3d(rate=2.0, *, slope=0.0, alignment="RADEC"):
    """bkg_3d: ``rate * (1 + slope * fov_lon)`` in 1/(MeV s sr), flat in energy, |fov| <= 3."""
    energy = IrfAxis.from_edges([0.1, 1.0, 10.0, 100.0], name="energy", unit="TeV", interp="log")
    edges = np.linspace(-3, 3, 13)
    lon = IrfAxis.from_edges(edges, name="fov_lon", unit="deg", interp="lin")
    lat = IrfAxis.from_edges(edges, name="fov_lat", unit="deg", interp="lin")
    data = rate * (1 + slope * lon.nodes)[None, :, None] * np.ones((3, 12, 12))
    return Background3D(axes=(energy, lon, lat), data=data, fov_alignment=alignment)


def geom(center=(10.0, 0.0), width=4.0, binsz=0.5):
    return make_geom(center=center, width=width, binsz=binsz, energy_true=(1.0, 10.0, 2))


def fake_observation(**overrides):
    events = SimpleNamespace(
        ra=np.array([10.0, 10.0, 10.2, 9.0, 30.0]),
        dec=np.array([0.0, 0.0, 0.1, 1.0, 0.0]),
        energy=np.array([1.5, 5.0, 2.0, 2.0, 2.0]),
        header={"TELESCOP": "TEST"},
    )
    obs = dict(
        obs_id=42,
        pointing=SkyCoord(10.0, 0.0, unit="deg"),
        livetime=1000.0,
        ontime=1100.0,
        aeff=aeff_linear_in_offset(),
        bkg=flat_bkg_3d(),
        edisp=None,
        psf=None,
        events=events,
        gti=Table(
            {"START": [0.0] * u.s, "STOP": [1100.0] * u.s},
            meta={"MJDREFI": 51910, "MJDREFF": 0.0, "TIMESYS": "TT"},
        ),
        bkg_fov_alignment="RADEC",
        location=None,
        tstart=Time("2020-01-01T00:00:00"),
        tstop=Time("2020-01-01T00:18:20"),
    )
    obs.update(overrides)
    return SimpleNamespace(**obs)


def test_counts_bin_events_by_pixel_and_energy():
    sky = SkyGeom.create(center=(10.0, 0.0), width=1.0, binsz=0.5)  # pixel centres 9.75, 10.25
    counts = make_counts(
        ra=[10.25, 10.25, 9.75, 9.75, 12.0, 10.25],
        dec=[0.25, 0.25, -0.25, -0.25, 0.0, 0.25],
        energy=[1.5, 1.5, 5.0, 20.0, 1.5, 0.5],
        sky=sky,
        energy_edges=np.array([1.0, 3.0, 10.0]),
    )
    expected = np.zeros((2, 2, 2))
    expected[0, 1, 0] = 2  # ra 10.25 is the left column (lon decreases with x)
    expected[1, 0, 1] = 1  # the 20 TeV event, the 12 deg event and the 0.5 TeV one are out
    np.testing.assert_array_equal(counts, expected)


def test_counts_in_a_galactic_geometry():
    c = SkyCoord(l=184.5 * u.deg, b=-5.8 * u.deg, frame="galactic").icrs
    sky = SkyGeom.create(center=(184.5, -5.8), width=1.0, binsz=1.0, frame="galactic")
    counts = make_counts(
        ra=[c.ra.deg], dec=[c.dec.deg], energy=[2.0], sky=sky, energy_edges=np.array([1.0, 3.0])
    )
    np.testing.assert_array_equal(counts, [[[1.0]]])


def test_exposure_is_aeff_at_offset_times_livetime():
    aeff = aeff_linear_in_offset()
    offset = np.array([[0.0, 0.5], [2.0, 3.0]])
    exposure = make_exposure(aeff, offset=offset, energy_true=np.array([2.0, 20.0]), livetime=10)
    expected = 100.0 * (1 - offset / 4.0) * 10
    np.testing.assert_allclose(exposure, np.stack([expected, expected]), rtol=1e-12)


def test_background_is_rate_times_energy_width_solid_angle_ontime():
    g = geom()
    edges = g.energy.edges
    bkg = make_background(
        flat_bkg_3d(2.0),
        sky=g.sky,
        pointing=SkyCoord(10.0, 0.0, unit="deg"),
        energy_edges=edges,
        ontime=100.0,
    )
    width_mev = np.diff(edges) * MEV_PER_TEV
    expected = 2.0 * width_mev[:, None, None] * g.sky.solid_angle() * 100.0
    # all pixel centres are within 2 deg of the pointing, inside the 3 deg model
    np.testing.assert_allclose(bkg, expected, rtol=1e-6)


def test_reverse_lon_radec_mirrors_the_model():
    g = geom()
    kwargs = dict(
        sky=g.sky, pointing=SkyCoord(10.0, 0.0, unit="deg"), energy_edges=g.energy.edges, ontime=1.0
    )
    tilted = flat_bkg_3d(2.0, slope=0.2)
    plain = make_background(tilted, fov_alignment="RADEC", **kwargs)
    reverse = make_background(tilted, fov_alignment="REVERSE_LON_RADEC", **kwargs)
    # the image is symmetric about the pointing's meridian: x -> nx - 1 - x
    np.testing.assert_allclose(reverse, plain[:, :, ::-1], rtol=1e-9)
    assert not np.allclose(reverse, plain)


def test_bkg_2d_uses_the_offset():
    energy = IrfAxis.from_edges([0.1, 100.0], name="energy", unit="TeV", interp="log")
    offset = IrfAxis.from_nodes([0.0, 1.0, 2.0, 3.0], name="offset", unit="deg", interp="lin")
    bkg = Background2D(axes=(energy, offset), data=np.full((1, 4), 3.0))
    g = geom()
    out = make_background(
        bkg,
        sky=g.sky,
        pointing=SkyCoord(10.0, 0.0, unit="deg"),
        energy_edges=g.energy.edges,
        ontime=2.0,
    )
    expected = 3.0 * np.diff(g.energy.edges)[:, None, None] * MEV_PER_TEV
    np.testing.assert_allclose(out, expected * g.sky.solid_angle() * 2.0, rtol=1e-6)


def test_reduce_observation_builds_a_dataset_on_the_cutout():
    g = geom(width=6.0)
    ds = reduce_observation(fake_observation(), geom=g, offset_max=1.0, edisp=False, psf=False)
    assert ds.geom.sky.shape == (4, 4)  # 2 x offset_max / 0.5 deg pixels
    assert ds.counts.sum() == 3  # 2 at the pointing + 1 at (10.2, 0.1); 2 are outside
    assert ds.mask_safe.all()
    assert ds.meta["OBS_ID"] == 42 and ds.meta["LIVETIME"] == 1000.0
    assert ds.meta["FOVALIGN"] == "RADEC" and ds.meta["TELESCOP"] == "TEST"
    assert ds.edisp is None and ds.psf is None
    assert ds.exposure.shape == (2, 4, 4)


@pytest.mark.parametrize(
    ("overrides", "kwargs", "match"),
    [
        ({"pointing": SkyCoord(100.0, 40.0, unit="deg")}, {}, "obs 42: pointing .* outside"),
        ({"livetime": 0.0}, {}, "obs 42: LIVETIME must be positive"),
        ({"ontime": float("nan")}, {}, "obs 42: ONTIME must be positive"),
        ({"bkg": None, "bkg_fov_alignment": None}, {}, "obs 42: no bkg IRF"),
        ({"aeff": None}, {}, "obs 42: no aeff IRF"),
        ({}, {"edisp": True}, "obs 42: edisp requested but no edisp IRF"),
        ({}, {"psf": True}, "obs 42: psf requested but no psf IRF"),
        ({}, {"offset_max": -1.0}, "obs 42: offset_max must be positive"),
        (
            {"bkg": flat_bkg_3d(alignment="ALTAZ"), "bkg_fov_alignment": "ALTAZ"},
            {},
            "obs 42: ALTAZ-aligned background needs the observatory location",
        ),
    ],
)
def test_reduce_observation_errors_name_the_observation(overrides, kwargs, match):
    params = {"geom": geom(), "offset_max": 1.0, "edisp": False, "psf": False} | kwargs
    with pytest.raises(ReductionError, match=match):
        reduce_observation(fake_observation(**overrides), **params)


def test_reduce_observation_rejects_an_empty_event_list():
    events = SimpleNamespace(ra=np.array([]), dec=np.array([]), energy=np.array([]), header={})
    with pytest.raises(ReductionError, match=r"^obs 42: the event list is empty \(0 events\)$"):
        reduce_observation(
            fake_observation(events=events), geom=geom(), offset_max=1.0, edisp=False, psf=False
        )


class _NanAeff:
    """An aeff whose values are NaN above 3 TeV (a broken IRF that slipped through)."""

    def evaluate(self, *, energy_true, offset):
        values = aeff_linear_in_offset().evaluate(energy_true=energy_true, offset=offset)
        return np.where(np.asarray(energy_true) > 3.0, np.nan, values)


def test_reduce_observation_rejects_non_finite_maps():
    obs = fake_observation(aeff=_NanAeff())
    with pytest.raises(
        ReductionError,
        match=r"^obs 42: exposure map has 16 non-finite values of 32 \(NaN or inf in the aeff IRF",
    ):
        reduce_observation(obs, geom=geom(), offset_max=1.0, edisp=False, psf=False)


def test_altaz_background_averages_over_the_rotation():
    """A tilted ALTAZ model rotates during the run: the average is smoother than one instant."""
    hess = EarthLocation(lon=16.5 * u.deg, lat=-23.27 * u.deg, height=1835 * u.m)
    obs = fake_observation(
        pointing=SkyCoord(83.6, -20.0, unit="deg"),
        bkg=flat_bkg_3d(2.0, slope=0.2, alignment="ALTAZ"),
        bkg_fov_alignment="ALTAZ",
        location=hess,
        tstart=Time("2020-01-01T22:30:00"),
        tstop=Time("2020-01-02T00:30:00"),  # 2 h around transit: large field rotation
    )
    g = geom(center=(83.6, -20.0))
    single = reduce_observation(
        obs, geom=g, offset_max=1.0, edisp=False, psf=False, fov_rotation_step=360.0
    )
    stepped = reduce_observation(
        obs, geom=g, offset_max=1.0, edisp=False, psf=False, fov_rotation_step=1.0
    )
    np.testing.assert_allclose(stepped.background.sum(), single.background.sum(), rtol=0.01)
    assert stepped.background.std() < single.background.std()


# --------------------------------------------------------------------- FOVALIGN


def _altaz_observation(**overrides):
    hess = EarthLocation(lon=16.5 * u.deg, lat=-23.27 * u.deg, height=1835 * u.m)
    params = dict(
        pointing=SkyCoord(83.6, -20.0, unit="deg"),
        bkg=flat_bkg_3d(alignment="ALTAZ"),
        bkg_fov_alignment="ALTAZ",
        location=hess,
        tstart=Time("2020-01-01T21:30:00"),  # around transit: altitude 85 to 86.7 deg
        tstop=Time("2020-01-01T22:00:00"),
    )
    return fake_observation(**(params | overrides))


def _assumed_altaz_bkg():
    return replace(flat_bkg_3d(alignment="ALTAZ"), fov_alignment_assumed=True)


@pytest.mark.parametrize(
    ("bkg", "auto", "choice", "expected", "checks"),
    [
        (flat_bkg_3d(alignment="RADEC"), "RADEC", "auto", "RADEC", []),
        (flat_bkg_3d(alignment="ALTAZ"), "ALTAZ", "auto", "ALTAZ", []),
        (_assumed_altaz_bkg(), "ALTAZ", "auto", "ALTAZ", ["fov_alignment_assumed"]),
        (_assumed_altaz_bkg(), "ALTAZ", "radec", "RADEC", []),
        (_assumed_altaz_bkg(), "ALTAZ", "altaz", "ALTAZ", []),
        (flat_bkg_3d(alignment="ALTAZ"), "ALTAZ", "radec", "RADEC", ["fov_alignment_override"]),
        (flat_bkg_3d(alignment="RADEC"), "RADEC", "altaz", "ALTAZ", ["fov_alignment_override"]),
        (flat_bkg_3d(alignment="RADEC"), "REVERSE_LON_RADEC", "radec", "REVERSE_LON_RADEC", []),
        (flat_bkg_3d(alignment="RADEC"), "REVERSE_LON_RADEC", "auto", "REVERSE_LON_RADEC", []),
        (None, None, "altaz", None, []),
    ],
)
def test_resolve_fov_alignment(bkg, auto, choice, expected, checks):
    obs = fake_observation(bkg=bkg, bkg_fov_alignment=auto)
    with collect_notes() as notes:
        assert resolve_fov_alignment(obs, choice) == expected
    assert [note.check for note in notes] == checks
    assert all(note.obs_id == 42 and "obs 42: " in note.message for note in notes)


def test_resolve_fov_alignment_rejects_an_unknown_choice():
    with pytest.raises(
        ValueError, match=r"fov_alignment must be one of auto, radec, altaz, got 'ALTAZ'"
    ):
        resolve_fov_alignment(fake_observation(), "ALTAZ")


def test_an_assumed_fovalign_is_said_once_per_reduction():
    obs = _altaz_observation(bkg=_assumed_altaz_bkg())
    g = geom(center=(83.6, -20.0))
    with pytest.warns(
        ObservationWarning, match=r"obs 42: the bkg_3d HDU has no FOVALIGN keyword; assumed ALTAZ"
    ):
        reduce_observation(obs, geom=g, offset_max=1.0, edisp=False, psf=False)
    with collect_notes() as notes:
        reduce_observation(obs, geom=g, offset_max=1.0, edisp=False, psf=False)
    assert [note.check for note in notes] == ["fov_alignment_assumed"]
    # chosen explicitly: nothing is assumed, nothing said
    with collect_notes() as notes:
        reduce_observation(
            obs, geom=g, offset_max=1.0, edisp=False, psf=False, fov_alignment="altaz"
        )
    assert notes == []


@pytest.mark.parametrize(
    ("overrides", "checks", "match"),
    [
        ({}, [], None),
        ({"alt_pnt": 85.0}, [], None),
        # ALT_PNT 60 deg; the pointing is near transit, at 85 to 86.7 deg
        ({"alt_pnt": 60.0}, ["pointing_altitude_mismatch"], r"obs 42: ALT_PNT = 60\.0 deg, but"),
        # Dec +70 never rises above the horizon at latitude -23.3 deg
        (
            {"pointing": SkyCoord(83.6, 70.0, unit="deg"), "alt_pnt": 90.0},
            ["pointing_below_horizon", "pointing_altitude_mismatch"],
            r"obs 42: seen from the site \(lon 16\.5000 deg, lat -23\.2700 deg, height 1835 m\) "
            r"at the observation times, the pointing is below the horizon \(altitude -3\.3 deg\)",
        ),
    ],
)
def test_altaz_background_checks_the_pointing_altitude(overrides, checks, match):
    obs = _altaz_observation(**overrides)
    pointing = obs.pointing
    g = geom(center=(pointing.ra.deg, pointing.dec.deg))
    with collect_notes() as notes:
        reduce_observation(obs, geom=g, offset_max=1.0, edisp=False, psf=False)
    assert [note.check for note in notes] == checks
    if match:
        assert re.match(match, notes[0].message), notes[0].message


def test_pointing_altitudes_at_transit():
    hess = EarthLocation(lon=16.5 * u.deg, lat=-23.27 * u.deg, height=1835 * u.m)
    times = Time(["2020-01-01T21:30:00", "2020-01-01T21:45:00", "2020-01-01T22:15:00"])
    alt = pointing_altitudes(pointing=SkyCoord(83.6, -20.0, unit="deg"), location=hess, times=times)
    # transit altitude 90 - |lat - dec| = 86.73 deg, near 21:45 UTC
    np.testing.assert_allclose(alt, [85.17, 86.72, 82.33], atol=0.01)
