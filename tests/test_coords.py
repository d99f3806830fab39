import numpy as np
import pytest
from astropy.coordinates import SkyCoord, SkyOffsetFrame

from dl3flow.maps.coords import fov_to_sky, icrs_deg, sky_to_fov, wrap_longitude


def test_pointing_is_fov_origin():
    lon, lat = sky_to_fov(83.6, 21.5, 83.6, 21.5)
    assert lon == pytest.approx(0.0, abs=1e-12)
    assert lat == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("lon", "lat", "expected"),
    [
        # due north of the pointing: +fov_lat; due east (larger RA): negative fov_lon
        (10.0, 1.0, (0.0, 1.0)),
        (10.0, -2.0, (0.0, -2.0)),
        (11.0, 0.0, (-1.0, 0.0)),
        (9.0, 0.0, (1.0, 0.0)),
    ],
)
def test_fov_axes_on_the_equator(lon, lat, expected):
    fov = sky_to_fov(lon, lat, 10.0, 0.0)
    np.testing.assert_allclose(fov, expected, atol=1e-12)


def test_matches_astropy_sky_offset_frame():
    rng = np.random.default_rng(0)
    lon = rng.uniform(0, 360, 500)
    lat = rng.uniform(-89, 89, 500)
    origin = SkyCoord(300.0, -60.0, unit="deg")
    ref = SkyCoord(lon, lat, unit="deg").transform_to(SkyOffsetFrame(origin=origin))
    fov_lon, fov_lat = sky_to_fov(lon, lat, 300.0, -60.0)
    dlon = (-ref.lon.deg - fov_lon + 180) % 360 - 180
    np.testing.assert_allclose(dlon, 0, atol=1e-10)
    np.testing.assert_allclose(fov_lat, ref.lat.deg, atol=1e-10)


@pytest.mark.parametrize("pointing", [(83.6, 21.5), (0.5, -89.0), (359.9, 45.0)])
def test_fov_to_sky_inverts_sky_to_fov(pointing):
    rng = np.random.default_rng(1)
    fov_lon = rng.uniform(-3, 3, 200)
    fov_lat = rng.uniform(-3, 3, 200)
    lon, lat = fov_to_sky(fov_lon, fov_lat, *pointing)
    back = sky_to_fov(lon, lat, *pointing)
    np.testing.assert_allclose(back, (fov_lon, fov_lat), atol=1e-10)


def test_wrap_longitude_is_astropy_longitude_to_the_bit():
    from astropy.coordinates import Longitude

    rng = np.random.default_rng(5)
    values = np.concatenate([rng.uniform(-1000, 1000, 5000), [0.0, -0.0, 360.0, -360.0, 720.0]])
    values = np.concatenate([values, np.nextafter(360.0, 0.0, dtype=float)[None], [-1e-300]])
    expected = Longitude(values, unit="deg").deg
    assert wrap_longitude(values).tobytes() == expected.tobytes()
    assert wrap_longitude(-10.0) == 350.0 and isinstance(wrap_longitude(5.0), float)
    values.setflags(write=False)
    wrap_longitude(values)  # a new array: the input is not touched


def test_icrs_deg_of_a_skycoord_or_floats():
    c = SkyCoord(10.0, 20.0, unit="deg", frame="galactic")
    assert icrs_deg(c) == (c.icrs.ra.deg, c.icrs.dec.deg)
    assert icrs_deg((370.0, -5.0)) == (10.0, -5.0)
