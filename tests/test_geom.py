import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from dl3flow.maps.geom import DatasetGeom, EnergyAxis, GeomError, SkyGeom


def test_energy_axis_from_bounds_is_log_spaced():
    axis = EnergyAxis.from_bounds(1 * u.TeV, 100 * u.TeV, 2)
    np.testing.assert_allclose(axis.edges, [1, 10, 100])
    np.testing.assert_allclose(axis.centers, [10**0.5, 10**1.5])
    assert axis.nbin == 2


def test_energy_axis_converts_units():
    axis = EnergyAxis.from_bounds(500 * u.GeV, 2 * u.TeV, 2, name="energy_true")
    np.testing.assert_allclose(axis.edges, [0.5, 1.0, 2.0])
    assert axis.name == "energy_true"


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((10 * u.TeV, 1 * u.TeV, 3), "range is empty"),
        ((1 * u.TeV, 10 * u.TeV, 0), "positive integer"),
        ((1 * u.deg, 10 * u.TeV, 3), "expected a quantity in TeV"),
    ],
)
def test_energy_axis_rejects_bad_bounds(args, match):
    with pytest.raises(GeomError, match=match):
        EnergyAxis.from_bounds(*args)


@pytest.mark.parametrize(
    ("edges", "match"),
    [([1.0], "at least two edges"), ([1.0, 1.0], "increasing"), ([-1.0, 1.0], "positive")],
)
def test_energy_axis_rejects_bad_edges(edges, match):
    with pytest.raises(GeomError, match=match):
        EnergyAxis(np.array(edges))


def test_energy_axis_rejects_unknown_name():
    with pytest.raises(GeomError, match="'energy' or 'energy_true'"):
        EnergyAxis(np.array([1.0, 2.0]), name="migra")


def test_sky_geom_create_centre_and_shape():
    geom = SkyGeom.create(center=(83.633, 22.014), width=1.0, binsz=0.1)
    assert geom.shape == (10, 10)
    assert geom.frame == "icrs" and geom.projection == "CAR"
    np.testing.assert_allclose(geom.wcs.wcs.crpix, [5.5, 5.5])
    np.testing.assert_allclose(geom.wcs.wcs.cdelt, [-0.1, 0.1])
    c = geom.center_skydir
    assert c.separation(SkyCoord(83.633, 22.014, unit="deg")).deg < 1e-10
    lon, lat = geom.pixel_centers()
    assert lon.shape == (10, 10)
    # longitude decreases with x (cdelt1 < 0)
    assert lon[0, 0] > lon[0, -1]


def test_sky_geom_galactic_from_skycoord():
    center = SkyCoord(83.633, 22.014, unit="deg")
    geom = SkyGeom.create(center=center, width=(2.0, 1.0), binsz=0.5, frame="galactic", proj="TAN")
    assert geom.shape == (2, 4)
    assert geom.wcs.wcs.ctype[0] == "GLON-TAN"
    ra, dec = geom.pixel_centers_icrs()
    assert np.all(np.abs(ra - 83.6) < 2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"frame": "fk4"}, "frame must be one of"),
        ({"proj": "AIT"}, "projection must be one of"),
        ({"binsz": -0.1}, "must be positive"),
        ({"binsz": 1 * u.TeV}, "binsz: expected a quantity in deg"),
        ({"width": 0.01}, "smaller than one pixel"),
    ],
)
def test_sky_geom_rejects_bad_parameters(kwargs, match):
    params = {"center": (0.0, 0.0), "width": 1.0, "binsz": 0.1} | kwargs
    with pytest.raises(GeomError, match=match):
        SkyGeom.create(**params)


def test_solid_angle_of_small_pixels_is_their_area():
    geom = SkyGeom.create(center=(0.0, 0.0), width=0.1, binsz=0.01)
    expected = np.deg2rad(0.01) ** 2
    np.testing.assert_allclose(geom.solid_angle(), expected, rtol=1e-6)


def test_world_to_index_drops_outside():
    geom = SkyGeom.create(center=(10.0, 0.0), width=1.0, binsz=0.5)
    iy, ix = geom.world_to_index([10.25, 9.75, 12.0], [0.25, -0.25, 0.0])
    np.testing.assert_array_equal(iy, [1, 0, -1])
    np.testing.assert_array_equal(ix, [0, 1, -1])


def test_cutout_is_pixel_aligned_and_trimmed():
    geom = SkyGeom.create(center=(10.0, 0.0), width=2.0, binsz=0.1)
    cut, (sy, sx) = geom.cutout(SkyCoord(10.5, 0.5, unit="deg"), 1.0)
    assert cut.shape == (sy.stop - sy.start, sx.stop - sx.start)
    lon, lat = geom.pixel_centers()
    clon, clat = cut.pixel_centers()
    np.testing.assert_allclose(clon, lon[sy, sx], atol=1e-12)
    np.testing.assert_allclose(clat, lat[sy, sx], atol=1e-12)
    # trimmed at the upper edges of the parent
    assert sy.stop == 20 and sx.start == 0


def test_cutout_outside_raises():
    geom = SkyGeom.create(center=(10.0, 0.0), width=1.0, binsz=0.1)
    with pytest.raises(GeomError, match="does not overlap"):
        geom.cutout(SkyCoord(50.0, 0.0, unit="deg"), 1.0)


def test_dataset_geom_irf_image_and_cutout():
    sky = SkyGeom.create(center=(83.6, 22.0), width=5.0, binsz=0.02)
    geom = DatasetGeom.create(
        sky=sky,
        energy=EnergyAxis.from_bounds(1, 10, 3),
        energy_true=EnergyAxis.from_bounds(0.5, 20, 4, name="energy_true"),
    )
    assert geom.irf_sky.shape == (25, 25)
    assert geom.rad_centers.size == 66
    cut, slices = geom.cutout(SkyCoord(83.6, 21.5, unit="deg"), 5.0)
    assert set(slices) == {"sky", "irf"}
    assert cut.sky.shape[0] < 250 and cut.irf_sky.shape[0] <= 25


def test_dataset_geom_requires_named_axes():
    sky = SkyGeom.create(center=(0, 0), width=1.0, binsz=0.1)
    axis = EnergyAxis.from_bounds(1, 10, 3)
    with pytest.raises(GeomError, match="'energy' and an 'energy_true'"):
        DatasetGeom.create(sky=sky, energy=axis, energy_true=axis)


# ------------------------------------------------- the light geometry = astropy.wcs


def _astropy_geom(center, width, binsz, frame, proj):
    """The WCS dl3flow built before it used wcslib directly: astropy.wcs throughout."""
    from astropy.wcs.utils import celestial_frame_to_wcs

    nx, ny = (int(np.rint(w / binsz)) for w in np.broadcast_to(width, 2))
    frame_obj = SkyCoord(np.nan, np.nan, frame=frame, unit="deg").frame
    wcs = celestial_frame_to_wcs(frame_obj, projection=proj)
    wcs.wcs.crpix = ((nx + 1) / 2.0, (ny + 1) / 2.0)
    wcs.wcs.crval = center
    wcs.wcs.cdelt = (-binsz, binsz)
    wcs.array_shape = (ny, nx)
    wcs.wcs.datfix()
    wcs.wcs.set()
    return wcs


def _same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.tobytes() == b.tobytes()


GEOMETRIES = [
    ((83.633, 22.014), 4.0, 0.02, "icrs", "CAR"),
    ((359.99, -89.5), (5.0, 2.5), 0.05, "icrs", "TAN"),
    ((0.0, 0.0), 3.0, 0.1, "galactic", "CAR"),
    ((266.4, -28.9), 2.0, 0.3, "galactic", "TAN"),
]


@pytest.mark.parametrize(("center", "width", "binsz", "frame", "proj"), GEOMETRIES)
def test_light_geometry_is_astropy_wcs_to_the_bit(center, width, binsz, frame, proj):
    """wcslib through astropy.wcs._wcs alone: the same WCS and the same numbers."""
    from astropy.coordinates import SkyCoord as SC
    from astropy.nddata import Cutout2D
    from astropy.wcs import WCS

    sky = SkyGeom.create(center=center, width=width, binsz=binsz, frame=frame, proj=proj)
    ref = _astropy_geom(center, width, binsz, frame, proj)
    assert sky.wcsprm.compare(ref.wcs)  # every parameter equal
    assert sky.to_header() == ref.to_header()
    assert sky.wcs.to_header() == ref.to_header() and sky.wcs.array_shape == ref.array_shape
    ny, nx = sky.shape
    y, x = np.indices((ny, nx), dtype=float)
    assert all(map(_same_bits, sky.pixel_centers(), ref.wcs_pix2world(x, y, 0)))
    lon, lat = ref.wcs_pix2world(x + 0.3, y - 0.7, 0)
    assert all(map(_same_bits, sky.world2pix(lon, lat), ref.wcs_world2pix(lon, lat, 0)))
    c = SC.from_pixel((nx - 1) / 2.0, (ny - 1) / 2.0, ref)
    assert sky.center_lonlat == (c.spherical.lon.deg, c.spherical.lat.deg)
    # a cutout as astropy's Cutout2D makes it, at a SkyCoord and at (lon, lat)
    for dx, dy in ((0.3, -0.2), (-1.9, 1.4)):
        position = SC(center[0] + dx, min(center[1] + dy, 89.9), unit="deg", frame=frame)
        c2d = Cutout2D(np.empty((ny, nx), bool), position, (30.4, 40.6), wcs=ref, mode="trim")
        c2d.wcs.wcs.set()
        lonlat = (position.spherical.lon.deg, position.spherical.lat.deg)
        for pos in (position, lonlat):
            cut, slices = sky.cutout(pos, np.array([40.6, 30.4]) * np.array(sky.binsz))
            assert slices == tuple(c2d.slices_original)
            assert cut.wcsprm.compare(c2d.wcs.wcs) and cut.shape == c2d.shape
    # reading back a header written with the image
    header = sky.to_header()
    header.update(NAXIS=3, NAXIS1=nx, NAXIS2=ny, NAXIS3=4)
    back, ref_back = SkyGeom.from_header(header), WCS(header, naxis=2).celestial
    assert back.wcsprm.compare(ref_back.wcs) and back.to_header() == ref_back.to_header()
    assert all(map(_same_bits, back.pixel_centers(), ref_back.wcs_pix2world(x, y, 0)))


def test_a_geometry_wraps_an_astropy_wcs_and_pickles():
    import pickle

    from astropy.wcs import WCS

    sky = SkyGeom.create(center=(83.633, 22.014), width=1.0, binsz=0.1)
    wcs = WCS(sky.to_header())
    wrapped = SkyGeom(wcs, sky.shape)
    assert wrapped.wcs is wcs and wrapped.wcsprm is wcs.wcs
    assert all(map(_same_bits, wrapped.pixel_centers(), sky.pixel_centers()))
    clone = pickle.loads(pickle.dumps(sky))
    assert clone.shape == sky.shape and clone.to_header() == sky.to_header()


def test_a_header_with_distortions_is_read_by_astropy_wcs():
    from astropy.io import fits
    from astropy.wcs import WCS

    header = SkyGeom.create(center=(10.0, 0.0), width=1.0, binsz=0.1, proj="TAN").to_header()
    header.update(NAXIS=2, NAXIS1=10, NAXIS2=10, A_ORDER=2, B_ORDER=2, A_2_0=1e-5, B_0_2=1e-5)
    header["CTYPE1"], header["CTYPE2"] = "RA---TAN-SIP", "DEC--TAN-SIP"
    sky = SkyGeom.from_header(fits.Header(header))
    assert sky.wcs.sip is not None  # the astropy WCS itself, with its distortion
    ref = WCS(header, naxis=2).celestial
    y, x = np.indices(sky.shape, dtype=float)
    assert all(map(_same_bits, sky.pixel_centers(), ref.wcs_pix2world(x, y, 0)))


def test_cutout_at_a_position_tuple_outside_raises():
    sky = SkyGeom.create(center=(83.633, 22.014), width=1.0, binsz=0.1)
    with pytest.raises(GeomError, match=r"cutout at 203\.6 22 with width \[1\. 1\.\] deg does not"):
        sky.cutout((-156.4, 22.0), 1.0)
