"""Pixel grids, solid angles, cutouts and energy axes against gammapy's."""

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord

gammapy = pytest.importorskip("gammapy")

from gammapy.maps import MapAxis, WcsGeom  # noqa: E402

from dl3flow.maps.geom import EnergyAxis, SkyGeom  # noqa: E402

pytestmark = pytest.mark.validation

CASES = [
    ("icrs", "CAR", (83.633, 22.014), (83.9, 21.3)),
    ("galactic", "TAN", (320.33, -1.19), (321.1, -0.5)),
    ("galactic", "CAR", (184.55, -5.78), (185.0, -6.5)),
]


@pytest.mark.parametrize(("frame", "proj", "center", "position"), CASES)
def test_geometry_matches_gammapy(frame, proj, center, position):
    gp = WcsGeom.create(skydir=center, width=5, binsz=0.02, frame=frame, proj=proj)
    ours = SkyGeom.create(center=center, width=5, binsz=0.02, frame=frame, proj=proj)
    assert ours.wcs.to_header() == gp.wcs.to_header()
    assert ours.shape == tuple(gp.data_shape)
    lon, lat = ours.pixel_centers()
    coord = gp.get_coord()
    np.testing.assert_array_equal(lon, coord.lon.to_value("deg"))
    np.testing.assert_array_equal(lat, coord.lat.to_value("deg"))
    np.testing.assert_allclose(ours.solid_angle(), gp.solid_angle().to_value("sr"), rtol=1e-7)

    pos = SkyCoord(*position, unit="deg", frame=frame)
    gp_cut = gp.cutout(pos, 5 * u.deg)
    cut, _ = ours.cutout(pos, 5 * u.deg)
    assert cut.wcs.to_header() == gp_cut.wcs.to_header()
    assert cut.shape == tuple(gp_cut.data_shape)

    gp_irf, irf = gp.to_binsz(0.2), ours.to_binsz(0.2)
    assert irf.wcs.to_header() == gp_irf.wcs.to_header()


def test_energy_axis_matches_gammapy():
    gp = MapAxis.from_energy_bounds(0.5, 20, 20, unit="TeV", name="energy_true")
    ours = EnergyAxis.from_bounds(0.5 * u.TeV, 20 * u.TeV, 20, name="energy_true")
    np.testing.assert_array_equal(ours.edges, gp.edges.to_value("TeV"))
    np.testing.assert_allclose(ours.centers, gp.center.to_value("TeV"), rtol=1e-14)
