"""dl3flow.irf against gammapy 1.3 on real H.E.S.S. DL3 DR1 IRFs and synthetic tables.

Tolerance: rtol 1e-6 everywhere (observed differences are ~1e-13 relative: same
operations, different summation order), plus exactly the same zero pattern.
The energy-dispersion kernels additionally get atol 1e-11: gammapy evaluates
them through a WCS pixel round trip (pixel coordinates off from integers by up to
~5e-13), which mixes neighbouring spatial pixels with that weight and so leaves
absolute differences of up to ~1.2e-12 in probabilities, e.g. 1.1e-12 where
dl3flow gives exactly 0.
"""

import warnings

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table

from dl3flow.irf.edisp import edisp_kernel
from dl3flow.irf.io import read_irf
from dl3flow.irf.psf import psf_profile

gammapy = pytest.importorskip("gammapy")

from gammapy.irf import (  # noqa: E402
    PSF3D,
    Background2D,
    Background3D,
    EffectiveAreaTable2D,
    EnergyDependentMultiGaussPSF,
    EnergyDispersion2D,
    PSFKing,
)
from gammapy.makers.utils import make_edisp_kernel_map, make_psf_map  # noqa: E402
from gammapy.maps import MapAxis, WcsGeom  # noqa: E402

pytestmark = pytest.mark.validation

RTOL = 1e-6
OBS_IDS = [23523, 47802]


def assert_matches(ours, theirs, *, rtol=RTOL, atol=0.0):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)
    if atol == 0.0:
        np.testing.assert_array_equal(ours == 0, theirs == 0)


@pytest.fixture(scope="module", params=OBS_IDS, ids=lambda obs: f"obs{obs}")
def obs(request, hess_dr1):
    path = hess_dr1 / "data" / f"hess_dl3_dr1_obs_id_{request.param:06d}.fits.gz"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with fits.open(path) as hdulist:
        header = hdulist["EVENTS"].header
        pointing = SkyCoord(header["RA_PNT"], header["DEC_PNT"], unit="deg", frame="icrs")
        ours = {
            name: read_irf(hdulist[name], source=f"{path.name}[{name}]")
            for name in ("AEFF", "EDISP", "PSF", "BKG")
        }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = {
            "AEFF": EffectiveAreaTable2D.read(path, hdu="AEFF"),
            "EDISP": EnergyDispersion2D.read(path, hdu="EDISP"),
            "PSF": PSF3D.read(path, hdu="PSF"),
            "BKG": Background3D.read(path, hdu="BKG"),
        }
    return {"ours": ours, "theirs": theirs, "pointing": pointing}


# Coordinates spanning inside, on and beyond the IRF axes (H.E.S.S.: 0.01-100 TeV,
# offset nodes 0-2.5 deg -> edges -0.25-2.75 deg).
ENERGY = np.concatenate([np.geomspace(0.005, 200, 53), [0.01, 0.1, 1.0, 10.0, 100.0]])
OFFSET = np.concatenate([np.linspace(-0.3, 3.0, 34), [0.0, 0.25, 2.5, 2.75]])


def test_axes_identical(obs):
    for name, irf in obs["ours"].items():
        their_axes = obs["theirs"][name].axes
        for axis in irf.axes:
            np.testing.assert_array_equal(axis.edges, their_axes[axis.name].edges.value)
            np.testing.assert_array_equal(axis.nodes, their_axes[axis.name].center.value)


def test_aeff(obs):
    ours = obs["ours"]["AEFF"].evaluate(energy_true=ENERGY[:, None], offset=OFFSET[None, :])
    theirs = obs["theirs"]["AEFF"].evaluate(
        energy_true=ENERGY[:, None] * u.TeV, offset=OFFSET[None, :] * u.deg
    )
    assert_matches(ours, theirs.to_value("m2"))


def test_edisp(obs):
    migra = np.linspace(0.1, 5.5, 41)[None, :, None]
    ours = obs["ours"]["EDISP"].evaluate(
        energy_true=ENERGY[:, None, None], migra=migra, offset=OFFSET[None, None, :]
    )
    theirs = obs["theirs"]["EDISP"].evaluate(
        energy_true=ENERGY[:, None, None] * u.TeV, migra=migra, offset=OFFSET[None, None, :] * u.deg
    )
    assert_matches(ours, theirs.to_value(""))


def test_psf_table(obs):
    rad = np.linspace(0.0, 0.7, 36)[None, :, None]
    ours = obs["ours"]["PSF"].evaluate(
        energy_true=ENERGY[:, None, None], rad=rad, offset=OFFSET[None, None, :]
    )
    theirs = obs["theirs"]["PSF"].evaluate(
        energy_true=ENERGY[:, None, None] * u.TeV,
        rad=rad * u.deg,
        offset=OFFSET[None, None, :] * u.deg,
    )
    assert_matches(ours, theirs.to_value("sr-1"))


FOV = np.linspace(-2.7, 2.7, 61)


def test_bkg_3d_evaluate(obs):
    ours = obs["ours"]["BKG"]
    assert (ours.fov_alignment, ours.fov_alignment_assumed) == ("RADEC", False)
    values = ours.evaluate(
        energy=ENERGY[:, None, None], fov_lon=FOV[None, :, None], fov_lat=FOV[None, None, :]
    )
    theirs = obs["theirs"]["BKG"].evaluate(
        energy=ENERGY[:, None, None] * u.TeV,
        fov_lon=FOV[None, :, None] * u.deg,
        fov_lat=FOV[None, None, :] * u.deg,
    )
    assert_matches(values, theirs.to_value("MeV-1 s-1 sr-1"))


@pytest.mark.parametrize(
    "edges",
    [np.geomspace(0.5, 50, 13), np.geomspace(0.05, 150, 21), np.array([0.1, 1.0, 10.0, 100.0])],
    ids=["analysis", "beyond-range", "irf-edges"],
)
def test_bkg_3d_integrate_energy(obs, edges):
    bkg = Background3D(
        axes=obs["theirs"]["BKG"].axes,
        data=obs["theirs"]["BKG"].data.copy(),
        unit=obs["theirs"]["BKG"].unit,
    )
    bkg.interp_missing_data(axis_name="energy")
    ours = obs["ours"]["BKG"]
    # MapDatasetMaker preprocessing reproduced bit for bit
    np.testing.assert_array_equal(ours.prepared().data, bkg.data)
    lon, lat = np.meshgrid(FOV, FOV, indexing="ij")
    values = ours.integrate_energy(energy_edges=edges, fov_lon=lon, fov_lat=lat)
    theirs = bkg.integrate_log_log(
        axis_name="energy",
        energy=edges[:, None, None] * u.TeV,
        fov_lon=lon * u.deg,
        fov_lat=lat * u.deg,
    )
    assert_matches(values, theirs.to_value("s-1 sr-1"))


def geom_offsets(geom, pointing):
    """Pixel offsets exactly as gammapy's makers compute them."""
    return geom.to_image().get_coord().skycoord.separation(pointing).deg.ravel()


@pytest.mark.parametrize(
    ("e_true", "width"),
    [((0.3, 100.0, 20), 5.0), ((0.005, 300.0, 24), 6.0)],
    ids=["in-range", "extrapolating"],
)
def test_edisp_kernel_map(obs, e_true, width):
    pointing = obs["pointing"]
    e_true_axis = MapAxis.from_energy_bounds(*e_true, unit="TeV", name="energy_true")
    e_reco_axis = MapAxis.from_energy_bounds(0.5, 50, 12, unit="TeV", name="energy")
    geom = WcsGeom.create(
        skydir=pointing, width=width, binsz=0.2, frame="icrs", axes=[e_reco_axis, e_true_axis]
    )
    theirs = make_edisp_kernel_map(obs["theirs"]["EDISP"], pointing, geom).edisp_map.data
    theirs = np.moveaxis(theirs.reshape(theirs.shape[:2] + (-1,)), 2, 0)
    ours = edisp_kernel(
        obs["ours"]["EDISP"],
        offset=geom_offsets(geom, pointing),
        energy_true_edges=e_true_axis.edges.to_value("TeV"),
        energy_edges=e_reco_axis.edges.to_value("TeV"),
    )
    assert_matches(ours, theirs, atol=1e-11)


def psf_geom(pointing, width=5.0):
    rad = MapAxis.from_bounds(0, 0.66, 66, unit="deg", name="rad")
    e_true = MapAxis.from_energy_bounds(0.005, 300, 20, unit="TeV", name="energy_true")
    return WcsGeom.create(skydir=pointing, width=width, binsz=0.2, frame="icrs", axes=[rad, e_true])


def compare_psf_map(ours_psf, theirs_psf, pointing):
    geom = psf_geom(pointing)
    theirs = make_psf_map(theirs_psf, pointing, geom).psf_map.quantity.to_value("sr-1")
    theirs = theirs.reshape(theirs.shape[:2] + (-1,))
    ours = psf_profile(
        ours_psf,
        offset=geom_offsets(geom, pointing),
        energy_true=geom.axes["energy_true"].center.to_value("TeV"),
        rad=geom.axes["rad"].center.to_value("deg"),
    )
    assert_matches(ours, theirs)
    ours_edges = psf_profile(
        ours_psf,
        offset=geom_offsets(geom, pointing),
        energy_true=geom.axes["energy_true"].center.to_value("TeV"),
        rad=geom.axes["rad"].center.to_value("deg"),
        rad_edges=geom.axes["rad"].edges.to_value("deg"),
    )
    assert_matches(ours_edges, theirs)


def test_psf_map(obs):
    compare_psf_map(obs["ours"]["PSF"], obs["theirs"]["PSF"], obs["pointing"])


# --------------------------------------------------------------------------------------
# Synthetic tables for IRF types not in H.E.S.S. DR1
# --------------------------------------------------------------------------------------

POINTING = SkyCoord(83.6, 22.0, unit="deg")


def column(name, value, unit=None, fmt="E"):
    value = np.asarray(value, dtype=float)
    dim = "(" + ",".join(str(n) for n in value.shape[::-1]) + ")" if value.ndim > 1 else None
    return fits.Column(
        name=name, format=f"{value.size}{fmt}", unit=unit, dim=dim, array=value[np.newaxis]
    )


def lo_hi(prefix, edges, unit):
    edges = np.asarray(edges, dtype=float)
    return [column(f"{prefix}_LO", edges[:-1], unit), column(f"{prefix}_HI", edges[1:], unit)]


def nodes(prefix, values, unit):
    return [column(f"{prefix}_LO", values, unit), column(f"{prefix}_HI", values, unit)]


def hdu(columns, **header):
    table_hdu = fits.BinTableHDU.from_columns(columns)
    table_hdu.header.update(header)
    return table_hdu


def read_both(table_hdu, gammapy_cls):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = gammapy_cls.from_table(Table.read(table_hdu))
    return read_irf(table_hdu), theirs


ENERGY_EDGES = np.geomspace(0.03, 150, 25)
OFFSET_NODES = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
RNG = np.random.default_rng(42)


def smooth(shape, low, high):
    return RNG.uniform(low, high, shape)


def test_bkg_2d_synthetic():
    n_e, n_off = ENERGY_EDGES.size - 1, 7
    rate = 1e-7 * np.sqrt(ENERGY_EDGES[:-1] * ENERGY_EDGES[1:])[:, None] ** -2.7
    rate = rate * smooth((n_e, n_off), 0.5, 1.5)
    rate[[5, 6, 11], 2] = 0.0  # gaps in energy: filled by interp_missing_data
    rate[:3, 4] = 0.0  # leading gap: stays
    rate[14, 3] = np.nan
    table_hdu = hdu(
        [
            *lo_hi("ENERG", ENERGY_EDGES, "TeV"),
            *lo_hi("THETA", np.linspace(0.0, 3.5, n_off + 1), "deg"),
            column("BKG", rate.T, "s-1 MeV-1 sr-1"),
        ],
        HDUCLAS2="BKG",
        HDUCLAS4="BKG_2D",
    )
    ours, theirs = read_both(table_hdu, Background2D)
    offset = np.linspace(0.0, 4.2, 50)
    values = ours.evaluate(energy=ENERGY[:, None], offset=offset)
    expected = theirs.evaluate(energy=ENERGY[:, None] * u.TeV, offset=offset * u.deg).to_value(
        "s-1 MeV-1 sr-1"
    )
    # the NaN of the table stays NaN around it (validated, not repaired; gammapy gives 0)
    near_nan = np.isnan(values)
    assert near_nan.any() and np.all(expected[near_nan] == 0.0)
    assert_matches(values[~near_nan], expected[~near_nan])
    theirs.interp_missing_data(axis_name="energy")
    theirs = theirs.pad(1, mode="edge", axis_name="offset")
    prepared = ours.prepared()
    np.testing.assert_array_equal(prepared.data, theirs.data)
    np.testing.assert_array_equal(prepared.axis("offset").edges, theirs.axes["offset"].edges.value)
    edges = np.geomspace(0.05, 120, 16)
    values = ours.integrate_energy(energy_edges=edges, offset=offset)
    expected = theirs.integrate_log_log(
        axis_name="energy", energy=edges[:, None] * u.TeV, offset=offset * u.deg
    )
    assert_matches(values, expected.to_value("s-1 sr-1"))


def test_bkg_3d_without_fovalign_and_other_units():
    rate = 1e-7 * smooth((ENERGY_EDGES.size - 1, 8, 6), 0.1, 2.0)
    table_hdu = hdu(
        [
            *lo_hi("ENERG", ENERGY_EDGES * 1e3, "GeV"),
            *lo_hi("DETX", np.linspace(-3, 3, 9), "deg"),
            *lo_hi("DETY", np.linspace(-3, 3, 7), "deg"),
            column("BKG", rate.T * 1e6, "TeV-1 s-1 sr-1"),
        ],
        HDUCLAS2="BKG",
        HDUCLAS4="BKG_3D",
    )
    ours, theirs = read_both(table_hdu, Background3D)
    assert (ours.fov_alignment, ours.fov_alignment_assumed) == ("ALTAZ", True)
    assert theirs.fov_alignment.value == "RADEC"  # gammapy's default differs (documented)
    lon, lat = np.meshgrid(np.linspace(-3.2, 3.2, 30), np.linspace(-3.2, 3.2, 25), indexing="ij")
    theirs.interp_missing_data(axis_name="energy")
    edges = np.geomspace(0.05, 120, 10)
    values = ours.integrate_energy(energy_edges=edges, fov_lon=lon, fov_lat=lat)
    expected = theirs.integrate_log_log(
        axis_name="energy",
        energy=edges[:, None, None] * u.TeV,
        fov_lon=lon * u.deg,
        fov_lat=lat * u.deg,
    )
    assert_matches(values, expected.to_value("s-1 sr-1"))


def test_aeff_in_cm2_and_gev():
    area = 1e9 * smooth((ENERGY_EDGES.size - 1, OFFSET_NODES.size), 0.0, 1.0)
    table_hdu = hdu(
        [
            *lo_hi("ENERG", ENERGY_EDGES * 1e3, "GeV"),
            *nodes("THETA", OFFSET_NODES, "deg"),
            column("EFFAREA", area.T, "cm2"),
        ],
        HDUCLAS4="AEFF_2D",
    )
    ours, theirs = read_both(table_hdu, EffectiveAreaTable2D)
    assert_matches(
        ours.evaluate(energy_true=ENERGY[:, None], offset=OFFSET[None, :]),
        theirs.evaluate(
            energy_true=ENERGY[:, None] * u.TeV, offset=OFFSET[None, :] * u.deg
        ).to_value("m2"),
    )


def parametric_hdu(kind):
    shape = (ENERGY_EDGES.size - 1, OFFSET_NODES.size)
    axes = [*lo_hi("ENERG", ENERGY_EDGES, "TeV"), *nodes("THETA", OFFSET_NODES, "deg")]
    if kind == "3gauss":
        sigma_1 = smooth(shape, 0.03, 0.1)
        params = [
            column("SIGMA_1", sigma_1.T, "deg"),
            column("SIGMA_2", (sigma_1 * smooth(shape, 1.5, 3.0)).T, "deg"),
            column("SIGMA_3", np.where(RNG.uniform(size=shape) < 0.2, 0.0, 0.4).T, "deg"),
            column("SCALE", smooth(shape, 10.0, 100.0).T, "sr-1"),
            column("AMPL_2", smooth(shape, 0.0, 0.5).T),
            column("AMPL_3", smooth(shape, 0.0, 0.1).T),
        ]
        return hdu(axes + params, HDUCLAS4="PSF_3GAUSS"), EnergyDependentMultiGaussPSF
    params = [
        column("GAMMA", smooth(shape, 1.5, 4.0).T),
        column("SIGMA", smooth(shape, 0.02, 0.1).T, "deg"),
    ]
    return hdu(axes + params, HDUCLAS4="PSF_KING"), PSFKing


@pytest.mark.parametrize("kind", ["3gauss", "king"])
def test_parametric_psf(kind):
    table_hdu, gammapy_cls = parametric_hdu(kind)
    ours, theirs = read_both(table_hdu, gammapy_cls)
    rad = np.linspace(0.0, 0.7, 29)[None, :, None]
    values = ours.evaluate(energy_true=ENERGY[:, None, None], offset=OFFSET[None, None, :], rad=rad)
    expected = theirs.evaluate(
        energy_true=ENERGY[:, None, None] * u.TeV,
        offset=OFFSET[None, None, :] * u.deg,
        rad=rad * u.deg,
    )
    assert_matches(values, expected.to_value("sr-1"))
    compare_psf_map(ours, theirs, POINTING)
