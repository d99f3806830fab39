"""Unit tests for dl3flow.irf on tiny literal synthetic GADF IRF tables."""

import numpy as np
import pytest
from astropy.io import fits
from scipy.interpolate import RegularGridInterpolator

from dl3flow.irf.aeff import EffectiveArea2D
from dl3flow.irf.axes import IrfAxis, IrfError
from dl3flow.irf.background import Background2D, Background3D
from dl3flow.irf.edisp import EnergyDispersion2D, edisp_kernel
from dl3flow.irf.io import read_irf
from dl3flow.irf.psf import PSF3Gauss, PSFKing, PSFTable, psf_profile

PER_DEG2_TO_PER_SR = (180 / np.pi) ** 2


# --------------------------------------------------------------------------------------
# Building synthetic GADF tables
# --------------------------------------------------------------------------------------


def column(name, value, unit=None, fmt="D"):
    """One-row FITS column holding ``value`` (numpy order; TDIM is the reverse)."""
    value = np.asarray(value, dtype=float)
    dim = None
    if value.ndim > 1:
        dim = "(" + ",".join(str(n) for n in value.shape[::-1]) + ")"
    return fits.Column(
        name=name, format=f"{value.size}{fmt}", unit=unit, dim=dim, array=value[np.newaxis]
    )


def table_hdu(columns, **header):
    hdu = fits.BinTableHDU.from_columns(columns)
    for key, value in header.items():
        hdu.header[key] = value
    return hdu


def axis_columns(prefix, lo, hi, unit):
    return [column(f"{prefix}_LO", lo, unit), column(f"{prefix}_HI", hi, unit)]


# aeff: energy edges [1, 4, 16] TeV -> log nodes [2, 8]; offset nodes [0, 1, 2] deg
# (THETA_LO == THETA_HI) -> edges [-0.5, 0.5, 1.5, 2.5].
E_EDGES = np.array([1.0, 4.0, 16.0])
E_NODES = np.array([2.0, 8.0])
OFF_NODES = np.array([0.0, 1.0, 2.0])


def plane(energy, offset):
    """Linear in (log2 E, offset): reproduced exactly by log-lin interpolation."""
    return 10.0 + 3.0 * np.log2(energy) + 2.0 * offset


def aeff_hdu(data=None, *, energy_unit="TeV", area_unit="m2", factor=1.0, **header):
    if data is None:
        data = plane(E_NODES[:, None], OFF_NODES[None, :])
    header.setdefault("HDUCLAS4", "AEFF_2D")
    e = E_EDGES * (1e3 if energy_unit == "GeV" else 1.0)
    return table_hdu(
        [
            *axis_columns("ENERG", e[:-1], e[1:], energy_unit),
            *axis_columns("THETA", OFF_NODES, OFF_NODES, "deg"),
            column("EFFAREA", np.asarray(data).T * factor, area_unit),
        ],
        **header,
    )


MIGRA_EDGES = np.array([0.5, 1.0, 1.5])


def edisp_hdu(data=None, *, offsets=(0.0, 1.0)):
    offsets = np.asarray(offsets, dtype=float)
    if data is None:
        data = np.ones((1, 2, offsets.size))
    return table_hdu(
        [
            *axis_columns("ENERG", [0.1], [100.0], "TeV"),
            *axis_columns("MIGRA", MIGRA_EDGES[:-1], MIGRA_EDGES[1:], None),
            *axis_columns("THETA", offsets, offsets, "deg"),
            column("MATRIX", np.asarray(data).T),
        ],
        HDUCLAS4="EDISP_2D",
    )


RAD_EDGES = np.array([0.0, 0.1, 0.2, 0.3])


def psf_table_hdu(data=None, unit="sr-1"):
    if data is None:
        data = np.ones((2, 3, 3))
    return table_hdu(
        [
            *axis_columns("ENERG", E_EDGES[:-1], E_EDGES[1:], "TeV"),
            *axis_columns("THETA", OFF_NODES, OFF_NODES, "deg"),
            *axis_columns("RAD", RAD_EDGES[:-1], RAD_EDGES[1:], "deg"),
            column("RPSF", np.asarray(data).T, unit),
        ],
        HDUCLAS4="PSF_TABLE",
    )


def psf_3gauss_hdu(**params):
    shape = (2, 3)
    values = {
        "SIGMA_1": 0.1,
        "SIGMA_2": 0.2,
        "SIGMA_3": 0.3,
        "SCALE": 5.0,
        "AMPL_2": 0.0,
        "AMPL_3": 0.0,
    }
    values.update(params)
    units = {"SIGMA_1": "deg", "SIGMA_2": "deg", "SIGMA_3": "deg", "SCALE": "sr-1"}
    cols = [
        column(name, np.broadcast_to(value, shape).T, units.get(name))
        for name, value in values.items()
    ]
    return table_hdu(
        [
            *axis_columns("ENERG", E_EDGES[:-1], E_EDGES[1:], "TeV"),
            *axis_columns("THETA", OFF_NODES, OFF_NODES, "deg"),
            *cols,
        ],
        HDUCLAS4="PSF_3GAUSS",
    )


def psf_king_hdu(gamma=2.0, sigma=0.1, sigma_unit="deg"):
    shape = (2, 3)
    return table_hdu(
        [
            *axis_columns("ENERG", E_EDGES[:-1], E_EDGES[1:], "TeV"),
            *axis_columns("THETA", OFF_NODES, OFF_NODES, "deg"),
            column("GAMMA", np.broadcast_to(gamma, shape).T),
            column("SIGMA", np.broadcast_to(sigma, shape).T, sigma_unit),
        ],
        HDUCLAS4="PSF_KING",
    )


# bkg: energy edges [0.1, 1, 10, 100] TeV -> log nodes 10**[-0.5, 0.5, 1.5];
# DETX / DETY edges [-2, 0, 2] with 2 bins -> nodes [-1, 1] (lin).
BKG_E_EDGES = np.array([0.1, 1.0, 10.0, 100.0])
BKG_E_NODES = 10 ** np.array([-0.5, 0.5, 1.5])
FOV_EDGES = np.array([-2.0, 0.0, 2.0])
FOV_NODES = np.array([-1.0, 1.0])


def bkg_rate(energy, lon=0.0, lat=0.0):
    """Power law E^-2 times exp(linear): log-multilinear, so interpolated exactly."""
    return 1e-6 * energy**-2.0 * np.exp(0.3 * lon - 0.2 * lat)


def bkg_3d_hdu(data=None, *, unit="MeV-1 s-1 sr-1", layout="gammapy", fmt="D", **header):
    """bkg_3d table; ``data`` in (energy, lon, lat) order.

    layout "gammapy": stored so that gammapy's first transpose already matches;
    layout "hess": stored in numpy order (energy, lon, lat) (transposed back on read).
    """
    if data is None:
        data = bkg_rate(
            BKG_E_NODES[:, None, None], FOV_NODES[None, :, None], FOV_NODES[None, None, :]
        )
    data = np.asarray(data)
    stored = data.T if layout == "gammapy" else data
    header.setdefault("HDUCLAS4", "BKG_3D")
    header.setdefault("HDUCLAS2", "BKG")
    return table_hdu(
        [
            *axis_columns("ENERG", BKG_E_EDGES[:-1], BKG_E_EDGES[1:], "TeV"),
            *axis_columns("DETX", FOV_EDGES[:-1], FOV_EDGES[1:], "deg"),
            *axis_columns("DETY", FOV_EDGES[:-1], FOV_EDGES[1:], "deg"),
            column("BKG", stored, unit, fmt=fmt),
        ],
        **header,
    )


BKG2D_OFF_EDGES = np.array([0.0, 1.0, 2.0])


def bkg_2d_hdu(data=None, *, fmt="D"):
    if data is None:
        data = bkg_rate(BKG_E_NODES[:, None]) * np.array([[1.0, 0.5]])
    return table_hdu(
        [
            *axis_columns("ENERG", BKG_E_EDGES[:-1], BKG_E_EDGES[1:], "TeV"),
            *axis_columns("THETA", BKG2D_OFF_EDGES[:-1], BKG2D_OFF_EDGES[1:], "deg"),
            column("BKG", np.asarray(data).T, "MeV-1 s-1 sr-1", fmt=fmt),
        ],
        HDUCLAS4="BKG_2D",
        HDUCLAS2="BKG",
    )


# --------------------------------------------------------------------------------------
# Axes
# --------------------------------------------------------------------------------------


def test_axis_from_edges_log_has_log_centres():
    axis = IrfAxis.from_edges([1.0, 4.0, 16.0], name="energy_true", unit="TeV", interp="log")
    np.testing.assert_allclose(axis.nodes, [2.0, 8.0], rtol=1e-15)
    np.testing.assert_allclose(axis.edges, [1.0, 4.0, 16.0], rtol=1e-15)
    assert axis.node_type == "edges" and axis.nbin == 2


def test_axis_from_edges_lin_has_midpoints():
    axis = IrfAxis.from_edges([0.0, 0.1, 0.3], name="rad", unit="deg", interp="lin")
    np.testing.assert_allclose(axis.nodes, [0.05, 0.2], rtol=1e-15)


def test_axis_from_nodes_derives_halfway_edges():
    axis = IrfAxis.from_nodes([0.0, 1.0, 2.0], name="offset", unit="deg", interp="lin")
    np.testing.assert_array_equal(axis.nodes, [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(axis.edges, [-0.5, 0.5, 1.5, 2.5])
    assert axis.node_type == "center"


def test_axis_single_node_has_both_edges_on_it():
    axis = IrfAxis.from_nodes([1.5], name="offset", unit="deg", interp="lin")
    np.testing.assert_array_equal(axis.edges, [1.5, 1.5])
    assert axis.outside([1.4, 1.5, 1.6]).tolist() == [True, False, True]


@pytest.mark.parametrize(
    ("factory", "values", "expected_edges"),
    [
        (IrfAxis.from_edges, [0.0, 1.0, 2.0], [-1.0, 0.0, 1.0, 2.0, 3.0]),
        (IrfAxis.from_nodes, [0.0, 1.0, 2.0], [-1.5, -0.5, 0.5, 1.5, 2.5, 3.5]),
    ],
)
def test_axis_pad(factory, values, expected_edges):
    padded = factory(values, name="offset", unit="deg", interp="lin").pad(1)
    np.testing.assert_allclose(padded.edges, expected_edges, atol=1e-15)


def test_axis_outside_includes_last_edge_and_flags_nan():
    axis = IrfAxis.from_edges([1.0, 2.0], name="offset", unit="deg", interp="lin")
    result = axis.outside([0.999, 1.0, 2.0, 2.001, np.nan, np.inf])
    assert result.tolist() == [True, False, False, True, True, True]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(edges=[1.0, 1.0, 2.0], interp="lin"), "strictly increasing"),
        (dict(edges=[0.0, 1.0], interp="log"), "positive"),
        (dict(edges=[1.0], interp="lin"), "at least 2"),
        (dict(edges=[1.0, np.nan], interp="lin"), "finite"),
    ],
)
def test_axis_from_edges_errors(kwargs, match):
    with pytest.raises(IrfError, match=match):
        IrfAxis.from_edges(kwargs["edges"], name="x", unit="deg", interp=kwargs["interp"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(interp="cubic"), "interp must be"),
        (dict(node_type="corner"), "invalid node_type"),
        (dict(edges=[0.0, 1.0]), "need 3 edges"),
    ],
)
def test_axis_constructor_errors(kwargs, match):
    args = dict(name="x", nodes=[0.5, 1.5], edges=[0.0, 1.0, 2.0], unit="deg", interp="lin")
    args.update(kwargs)
    with pytest.raises(IrfError, match=match):
        IrfAxis(**args)


def test_axis_pad_single_node_raises():
    axis = IrfAxis.from_nodes([1.0], name="offset", unit="deg", interp="lin")
    with pytest.raises(IrfError, match="single node"):
        axis.pad(1)


# --------------------------------------------------------------------------------------
# Effective area
# --------------------------------------------------------------------------------------


def test_aeff_reads_axes_and_data():
    aeff = read_irf(aeff_hdu(LO_THRES=0.5, HI_THRES=50.0))
    assert isinstance(aeff, EffectiveArea2D)
    assert [a.name for a in aeff.axes] == ["energy_true", "offset"]
    np.testing.assert_array_equal(aeff.axis("offset").edges, [-0.5, 0.5, 1.5, 2.5])
    np.testing.assert_allclose(aeff.data, plane(E_NODES[:, None], OFF_NODES[None, :]))
    assert (aeff.lo_threshold, aeff.hi_threshold) == (0.5, 50.0)


def test_aeff_thresholds_absent_are_none():
    aeff = read_irf(aeff_hdu())
    assert aeff.lo_threshold is None and aeff.hi_threshold is None


@pytest.mark.parametrize("energy", [1.0, 1.5, 2.0, 3.0, 8.0, 12.0, 15.99])
@pytest.mark.parametrize("offset", [-0.5, 0.0, 0.25, 1.0, 1.7, 2.5])
def test_aeff_is_exact_for_log_linear_table(energy, offset):
    aeff = read_irf(aeff_hdu())
    value = aeff.evaluate(energy_true=energy, offset=offset)
    assert value == pytest.approx(plane(energy, offset), rel=1e-13)


def test_axis_edges_round_like_gammapy():
    # gammapy's log edges are exp(log(edge)) via a B-spline in pixel space: the
    # top edge 16 becomes 15.999999999999998, so 16.0 itself is outside (as in gammapy).
    axis = IrfAxis.from_edges([1.0, 4.0, 16.0], name="energy_true", unit="TeV", interp="log")
    assert axis.edges[-1] == 15.999999999999998
    assert read_irf(aeff_hdu()).evaluate(energy_true=16.0, offset=1.0) == 0.0


@pytest.mark.parametrize(("energy", "offset"), [(0.99, 1.0), (16.1, 1.0), (2.0, 2.51), (2.0, -0.6)])
def test_aeff_outside_edges_is_zero(energy, offset):
    aeff = read_irf(aeff_hdu())
    assert aeff.evaluate(energy_true=energy, offset=offset) == 0.0


def test_aeff_extrapolation_is_clipped_at_zero():
    data = np.array([[2.0, 1.0, 0.0], [2.0, 1.0, 0.0]])
    aeff = read_irf(aeff_hdu(data))
    values = aeff.evaluate(energy_true=4.0, offset=np.array([0.5, 2.0, 2.4]))
    np.testing.assert_allclose(values, [1.5, 0.0, 0.0])


def test_aeff_broadcasts_and_handles_nan():
    aeff = read_irf(aeff_hdu())
    energy = np.array([2.0, 8.0, np.nan])[:, None]
    offset = np.array([0.0, 1.0])[None, :]
    values = aeff.evaluate(energy_true=energy, offset=offset)
    assert values.shape == (3, 2)
    np.testing.assert_allclose(values[:2], plane(energy[:2], offset), rtol=1e-13)
    np.testing.assert_array_equal(values[2], 0.0)


@pytest.mark.parametrize(
    ("energy_unit", "area_unit", "factor"), [("GeV", "m2", 1.0), ("TeV", "cm2", 1e4)]
)
def test_aeff_converts_units(energy_unit, area_unit, factor):
    aeff = read_irf(aeff_hdu(energy_unit=energy_unit, area_unit=area_unit, factor=factor))
    np.testing.assert_allclose(aeff.axis("energy_true").edges, E_EDGES, rtol=1e-14)
    assert aeff.evaluate(energy_true=4.0, offset=1.0) == pytest.approx(plane(4.0, 1.0), rel=1e-13)


def test_aeff_nan_in_table_stays_nan_near_it():
    # validated, not repaired: gammapy turns it into 0, dl3flow keeps it visible
    data = plane(E_NODES[:, None], OFF_NODES[None, :])
    data[1, 2] = np.nan
    aeff = read_irf(aeff_hdu(data))
    assert np.isnan(aeff.evaluate(energy_true=8.0, offset=1.5))
    assert aeff.evaluate(energy_true=8.0, offset=0.5) == pytest.approx(plane(8.0, 0.5))
    assert aeff.evaluate(energy_true=100.0, offset=1.5) == 0.0  # outside the edges: 0


def test_irf_data_is_read_only_and_construction_copies():
    data = plane(E_NODES[:, None], OFF_NODES[None, :])
    axes = read_irf(aeff_hdu()).axes
    aeff = EffectiveArea2D(axes=axes, data=data)
    assert data.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        aeff.data[0, 0] = 1.0


def test_multilinear_matches_scipy_reference_on_random_table():
    """Evaluation equals a direct RegularGridInterpolator with gammapy's scalings."""
    rng = np.random.default_rng(3)
    data = rng.uniform(0.0, 1.0, (2, 3, 3))
    psf = read_irf(psf_table_hdu(data))
    axes = psf.axes
    points = [np.log(axes[0].nodes), axes[1].nodes, axes[2].nodes]
    reference = RegularGridInterpolator(points, data, bounds_error=False, fill_value=None)
    energy = rng.uniform(0.9, 17.0, (5, 1, 1))
    offset = rng.uniform(-0.6, 2.6, (1, 7, 1))
    rad = rng.uniform(-0.05, 0.35, (1, 1, 11))
    e, o, r = np.broadcast_arrays(energy, offset, rad)
    expected = np.clip(reference(np.stack([np.log(e), o, r], axis=-1)), 0, None)
    outside = (e < 1) | (e > 16) | (o < -0.5) | (o > 2.5) | (r < 0) | (r > 0.3)
    expected[outside] = 0.0
    values = psf.evaluate(energy_true=energy, offset=offset, rad=rad)
    np.testing.assert_allclose(values, expected, rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------------------
# Energy dispersion
# --------------------------------------------------------------------------------------


def test_edisp_masking_follows_gammapy():
    edisp = read_irf(edisp_hdu())
    assert isinstance(edisp, EnergyDispersion2D)
    # energy outside its edges but migra inside: extrapolated, not masked
    assert edisp.evaluate(energy_true=500.0, migra=1.0, offset=0.5) == 1.0
    # both energy and migra outside: masked
    assert edisp.evaluate(energy_true=500.0, migra=2.0, offset=0.5) == 0.0
    # migra outside only: extrapolated
    assert edisp.evaluate(energy_true=1.0, migra=1.6, offset=0.5) == 1.0
    # offset outside: masked
    assert edisp.evaluate(energy_true=1.0, migra=1.0, offset=1.6) == 0.0


def reference_kernel(edisp, offset, energy_true_edges, energy_edges):
    """Straightforward gammapy-style kernel: evaluate, normalise, cumsum, interp, diff."""
    etrue = IrfAxis.from_edges(energy_true_edges, name="energy_true", unit="TeV", interp="log")
    migra = edisp.axis("migra")
    values = edisp.evaluate(
        energy_true=etrue.nodes[:, None, None],
        migra=migra.nodes[None, :, None],
        offset=np.asarray(offset)[None, None, :],
    )
    width = np.diff(migra.edges)[None, :, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.sum(values * width, axis=1, keepdims=True)
        normed = np.where(total == 0, 0.0, values / total)  # NaN (from the table) stays
    cumsum = np.concatenate([np.zeros_like(normed[:, :1]), np.cumsum(normed * width, axis=1)], 1)
    out = np.empty((len(offset), etrue.nbin, len(energy_edges) - 1))
    for j, e_true in enumerate(etrue.nodes):
        for p in range(len(offset)):
            f = np.interp(np.asarray(energy_edges) / e_true, migra.edges, cumsum[j, :, p])
            out[p, j] = np.clip(np.diff(f), 0, None)
    return out


def test_edisp_kernel_uniform_migra_is_exact():
    edisp = read_irf(edisp_hdu())
    # offsets: inside nodes (fast path), beyond the last node (direct path), outside
    kernel = edisp_kernel(
        edisp,
        offset=[0.3, 1.2, 1.7],
        energy_true_edges=[0.5, 2.0],
        energy_edges=[0.25, 0.75, 1.0, 2.0],
    )
    assert kernel.shape == (3, 1, 3)
    np.testing.assert_allclose(kernel[0, 0], [0.25, 0.25, 0.5], rtol=1e-14)
    np.testing.assert_allclose(kernel[1, 0], [0.25, 0.25, 0.5], rtol=1e-14)
    np.testing.assert_array_equal(kernel[2], 0.0)


@pytest.mark.parametrize("with_nan", [False, True])
def test_edisp_kernel_matches_reference_on_random_table(with_nan):
    rng = np.random.default_rng(5)
    data = rng.uniform(0.0, 2.0, (1, 2, 3))
    if with_nan:
        data[0, 1, 1] = np.nan
    edisp = read_irf(edisp_hdu(data, offsets=(0.0, 1.0, 2.0)))
    offset = np.array([0.0, 0.4, 1.0, 1.3, 2.0, 2.4, 2.6])
    e_true = [0.3, 1.0, 3.0]
    e_reco = [0.2, 0.4, 0.8, 1.1, 2.0, 5.0]
    kernel = edisp_kernel(edisp, offset=offset, energy_true_edges=e_true, energy_edges=e_reco)
    expected = reference_kernel(edisp, offset, e_true, e_reco)
    np.testing.assert_allclose(kernel, expected, rtol=1e-12, atol=1e-14)
    # a NaN in the table is not turned into zero probabilities
    assert np.isnan(kernel).any() == with_nan


def test_edisp_kernel_single_offset_node():
    edisp = read_irf(edisp_hdu(offsets=(0.5,)))
    kernel = edisp_kernel(
        edisp, offset=[0.5, 0.7], energy_true_edges=[0.5, 2.0], energy_edges=[0.5, 1.0, 1.5]
    )
    np.testing.assert_allclose(kernel[0, 0], [0.5, 0.5], rtol=1e-14)
    np.testing.assert_array_equal(kernel[1], 0.0)  # single node: edges on the node


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(energy_edges=[1.0, 0.5]), "strictly increasing"),
        (dict(energy_true_edges=[2.0]), "at least 2"),
    ],
)
def test_edisp_kernel_errors(kwargs, match):
    args = dict(offset=[0.3], energy_true_edges=[0.5, 2.0], energy_edges=[0.5, 1.0])
    args.update(kwargs)
    with pytest.raises(IrfError, match=match):
        edisp_kernel(read_irf(edisp_hdu()), **args)


# --------------------------------------------------------------------------------------
# PSF
# --------------------------------------------------------------------------------------


def test_psf_table_reads_and_evaluates():
    data = np.arange(18.0).reshape(2, 3, 3)
    psf = read_irf(psf_table_hdu(data))
    assert isinstance(psf, PSFTable)
    np.testing.assert_allclose(psf.axis("rad").nodes, [0.05, 0.15, 0.25], rtol=1e-15)
    assert psf.evaluate(energy_true=8.0, offset=1.0, rad=0.15) == pytest.approx(13.0)
    assert psf.evaluate(energy_true=8.0, offset=1.0, rad=0.31) == 0.0


def test_psf_table_accepts_per_deg2():
    psf = read_irf(psf_table_hdu(unit="deg-2"))
    np.testing.assert_allclose(psf.data, PER_DEG2_TO_PER_SR, rtol=1e-14)


def test_psf_profile_normalises_with_solid_angle_weights():
    psf = read_irf(psf_table_hdu(np.full((2, 3, 3), 7.0)))
    rad = np.array([0.05, 0.15, 0.25])
    profile = psf_profile(psf, offset=[0.0, 1.0, 3.0], energy_true=[2.0, 4.0], rad=rad)
    assert profile.shape == (2, 3, 3)
    expected = PER_DEG2_TO_PER_SR / np.sum(2 * np.pi * rad * 0.1)
    np.testing.assert_allclose(profile[:, :, :2], expected, rtol=1e-14)
    np.testing.assert_array_equal(profile[:, :, 2], 0.0)  # offset outside: 0, not NaN
    containment = np.sum(2 * np.pi * rad[:, None] * 0.1 * profile[0] / PER_DEG2_TO_PER_SR, 0)
    np.testing.assert_allclose(containment[:2], 1.0, rtol=1e-14)


def test_psf_profile_uses_given_rad_edges():
    psf = read_irf(psf_table_hdu(np.full((2, 3, 3), 7.0)))
    rad = np.array([0.05, 0.15, 0.25])
    edges = np.array([0.0, 0.1, 0.2, 0.4])
    profile = psf_profile(psf, offset=[0.0], energy_true=[2.0], rad=rad, rad_edges=edges)
    expected = PER_DEG2_TO_PER_SR / np.sum(2 * np.pi * rad * np.diff(edges))
    np.testing.assert_allclose(profile, expected, rtol=1e-14)


def test_psf_profile_rad_edges_size_error():
    psf = read_irf(psf_table_hdu())
    with pytest.raises(IrfError, match="rad_edges needs 3 values"):
        psf_profile(psf, offset=[0.0], energy_true=[2.0], rad=[0.05, 0.15], rad_edges=[0, 0.1])


def gauss(rad, sigma):
    return np.exp(-0.5 * rad**2 / sigma**2) / (2 * np.pi * sigma**2)


@pytest.mark.parametrize("rad", [0.0, 0.05, 0.2, 1.0])
def test_psf_3gauss_single_gaussian(rad):
    psf = read_irf(psf_3gauss_hdu())
    assert isinstance(psf, PSF3Gauss)
    value = psf.evaluate(energy_true=3.0, offset=0.7, rad=rad)
    assert value == pytest.approx(gauss(rad, 0.1) * PER_DEG2_TO_PER_SR, rel=1e-13)


def test_psf_3gauss_mixture_norms():
    psf = read_irf(psf_3gauss_hdu(SCALE=1.0, AMPL_2=0.5))
    rad = np.array([0.0, 0.1, 0.3])
    expected = (gauss(rad, 0.1) / 3 + 2 * gauss(rad, 0.2) / 3) * PER_DEG2_TO_PER_SR
    np.testing.assert_allclose(psf.evaluate(energy_true=3.0, offset=0.7, rad=rad), expected)


def test_psf_3gauss_zero_sigma_replaced_by_one_and_recorded():
    psf = read_irf(psf_3gauss_hdu(SIGMA_2=0.0), source="f.fits[PSF] (obs 1, psf)")
    np.testing.assert_array_equal(psf.sigma_2, 1.0)
    # a repair is recorded (the DL3 validation reports it as check irf_repaired)
    assert psf.repairs == (
        "f.fits[PSF] (obs 1, psf): 6 of 6 SIGMA_2 values are 0 and were set to 1 deg "
        "(gammapy's fix)",
    )
    assert read_irf(psf_3gauss_hdu()).repairs == ()


def test_psf_parameters_extrapolate_without_masking():
    psf = read_irf(psf_3gauss_hdu())
    pars = psf.evaluate_parameters(energy_true=1000.0, offset=10.0)
    assert pars["sigma_1"] == pytest.approx(0.1)
    value = psf.evaluate(energy_true=1000.0, offset=10.0, rad=0.0)
    assert value == pytest.approx(gauss(0.0, 0.1) * PER_DEG2_TO_PER_SR)


@pytest.mark.parametrize("rad", [0.0, 0.1, 0.5])
def test_psf_king_formula(rad):
    psf = read_irf(psf_king_hdu(gamma=2.0, sigma=0.1))
    assert isinstance(psf, PSFKing)
    expected = (1 / (2 * np.pi * 0.01)) * 0.5 * (1 + rad**2 / (4 * 0.01)) ** -2.0
    value = psf.evaluate(energy_true=3.0, offset=0.7, rad=rad)
    assert value == pytest.approx(expected * PER_DEG2_TO_PER_SR, rel=1e-13)


def test_psf_profile_of_negative_psf_follows_gammapy():
    # gamma < 1 makes the King PSF negative: gammapy's norm is then max(0, ...) = 0,
    # and nan_to_num(-x / 0) -> -max float, -inf in sr^-1.
    psf = read_irf(psf_king_hdu(gamma=0.5))
    profile = psf_profile(psf, offset=[0.5], energy_true=[3.0], rad=[0.05, 0.15])
    assert np.all(np.isneginf(profile))


def test_psf_king_sigma_in_arcmin_converted():
    psf = read_irf(psf_king_hdu(sigma=6.0, sigma_unit="arcmin"))
    np.testing.assert_allclose(psf.sigma, 0.1, rtol=1e-14)


# --------------------------------------------------------------------------------------
# Background
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["gammapy", "hess"])
def test_bkg_3d_layouts(layout):
    data = np.arange(1.0, 13.0).reshape(3, 2, 2) * 1e-6
    bkg = read_irf(bkg_3d_hdu(data, layout=layout, FOVALIGN="RADEC"))
    assert isinstance(bkg, Background3D)
    np.testing.assert_array_equal(bkg.data, data)


def test_bkg_3d_nonsquare_layout_transposed_back():
    # energy 3, lon 2, lat 2 is ambiguous; use a 3 x 2 x 4 grid via a custom table.
    data = np.arange(1.0, 25.0).reshape(3, 2, 4)
    hdu = table_hdu(
        [
            *axis_columns("ENERG", BKG_E_EDGES[:-1], BKG_E_EDGES[1:], "TeV"),
            *axis_columns("DETX", [-2.0, 0.0], [0.0, 2.0], "deg"),
            *axis_columns("DETY", [-2.0, -1.0, 0.0, 1.0], [-1.0, 0.0, 1.0, 2.0], "deg"),
            column("BKG", data, "s-1 MeV-1 sr-1"),  # numpy order (E, lon, lat)
        ],
        HDUCLAS4="BKG_3D",
    )
    bkg = read_irf(hdu)
    np.testing.assert_array_equal(bkg.data, data)


@pytest.mark.parametrize(
    ("header", "alignment", "assumed"),
    [
        ({"FOVALIGN": "RADEC"}, "RADEC", False),
        ({"FOVALIGN": "altaz"}, "ALTAZ", False),
        ({}, "ALTAZ", True),
    ],
)
def test_bkg_3d_fov_alignment(header, alignment, assumed):
    bkg = read_irf(bkg_3d_hdu(**header))
    assert (bkg.fov_alignment, bkg.fov_alignment_assumed) == (alignment, assumed)


@pytest.mark.parametrize("energy", [0.11, 0.2, 1.0, 7.0, 100.0])
@pytest.mark.parametrize(("lon", "lat"), [(0.0, 0.0), (-1.5, 0.7), (2.0, -2.0)])
def test_bkg_3d_log_interpolation_is_exact_for_power_law(energy, lon, lat):
    bkg = read_irf(bkg_3d_hdu())
    value = bkg.evaluate(energy=energy, fov_lon=lon, fov_lat=lat)
    assert value == pytest.approx(bkg_rate(energy, lon, lat), rel=1e-12)


def test_bkg_3d_outside_is_zero():
    bkg = read_irf(bkg_3d_hdu())
    assert bkg.evaluate(energy=1.0, fov_lon=2.1, fov_lat=0.0) == 0.0
    assert bkg.evaluate(energy=0.09, fov_lon=0.0, fov_lat=0.0) == 0.0


def test_bkg_3d_integral_of_power_law_is_analytic():
    bkg = read_irf(bkg_3d_hdu())
    edges = np.array([0.11, 0.3, 1.0, 5.0, 100.0])
    lon = np.array([[0.0, 1.0], [-1.0, 0.5]])
    lat = np.array([[0.0, 0.0], [1.5, -0.5]])
    result = bkg.integrate_energy(energy_edges=edges, fov_lon=lon, fov_lat=lat)
    assert result.shape == (4, 2, 2)
    # int E^-2 dE = 1/E1 - 1/E2 (TeV^-1); rate per MeV -> x 1e6 MeV/TeV
    analytic = (1 / edges[:-1] - 1 / edges[1:])[:, None, None] * 1e6 * bkg_rate(1.0, lon, lat)
    np.testing.assert_allclose(result, analytic, rtol=1e-12)


def test_bkg_integral_zero_where_an_edge_is_outside():
    bkg = read_irf(bkg_3d_hdu())
    result = bkg.integrate_energy(energy_edges=[0.05, 0.2, 1.0, 200.0], fov_lon=0.0, fov_lat=0.0)
    assert result[0] == 0.0 and result[2] == 0.0 and result[1] > 0


def test_bkg_integral_of_flat_spectrum_uses_log_limit():
    data = np.full((3, 2, 2), 2e-6)
    bkg = read_irf(bkg_3d_hdu(data))
    result = bkg.integrate_energy(energy_edges=[1.0, 2.0], fov_lon=0.0, fov_lat=0.0)
    assert result[0] == pytest.approx(2e-6 * 1e6, rel=1e-12)  # index 0: y * dE


@pytest.mark.parametrize(
    ("unit", "factor"),
    [
        ("MeV-1 s-1 sr-1", 1.0),
        ("TeV-1 s-1 sr-1", 1e-6),
        (None, 1.0),
        ("1/s/MeV/sr", 1.0),  # CTA caldb: astropy parses it only as OGIP
    ],
)
def test_bkg_units(unit, factor):
    bkg = read_irf(bkg_3d_hdu(np.full((3, 2, 2), 5.0), unit=unit))
    np.testing.assert_allclose(bkg.data, 5.0 * factor, rtol=1e-15)


@pytest.mark.parametrize("fmt", ["D", "E"])
def test_bkg_missing_data_interpolated_along_energy(fmt):
    data = np.ones((3, 2, 2))
    data[:, 0, 0] = [1.0, 0.0, 4.0]  # gap between valid values: filled with 2
    data[:, 0, 1] = [0.0, 1.0, 4.0]  # leading gap: stays 0
    data[:, 1, 0] = [1.0, np.nan, 9.0]  # NaN gap: filled with 3
    bkg = read_irf(bkg_3d_hdu(data, fmt=fmt))
    assert bkg.float32_source is (fmt == "E")
    filled = bkg.with_missing_data_interpolated().data
    np.testing.assert_allclose(filled[:, 0, 0], [1.0, 2.0, 4.0], rtol=1e-7)
    np.testing.assert_array_equal(filled[:, 0, 1], [0.0, 1.0, 4.0])
    np.testing.assert_allclose(filled[:, 1, 0], [1.0, 3.0, 9.0], rtol=1e-7)
    assert bkg.data[1, 0, 0] == 0.0  # original untouched


def test_bkg_prepared_is_new_cached_and_idempotent():
    bkg = read_irf(bkg_3d_hdu())
    prepared = bkg.prepared()
    assert prepared is not bkg and prepared.preprocessed and not bkg.preprocessed
    assert bkg.prepared() is prepared and prepared.prepared() is prepared


def test_bkg_2d_prepared_pads_offset_with_edge_values():
    bkg = read_irf(bkg_2d_hdu())
    assert isinstance(bkg, Background2D)
    prepared = bkg.prepared()
    np.testing.assert_allclose(prepared.axis("offset").edges, [-1.0, 0.0, 1.0, 2.0, 3.0])
    assert prepared.data.shape == (3, 4)
    # raw: offset 2.7 is outside; prepared: padded bin continues the last value
    assert bkg.evaluate(energy=1.0, offset=2.7) == 0.0
    expected = bkg_rate(1.0) * 0.5
    assert prepared.evaluate(energy=1.0, offset=2.7) == pytest.approx(expected, rel=1e-12)
    integral = bkg.integrate_energy(energy_edges=[1.0, 10.0], offset=np.array([0.5, 2.7]))
    analytic = (1 / 1.0 - 1 / 10.0) * 1e6 * bkg_rate(1.0) * np.array([1.0, 0.5])
    np.testing.assert_allclose(integral[0], analytic, rtol=1e-12)


@pytest.mark.parametrize(
    ("edges", "match"), [([1.0], "at least 2"), ([2.0, 1.0], "increasing"), ([[1, 2]], "1D")]
)
def test_bkg_integrate_energy_errors(edges, match):
    with pytest.raises(IrfError, match=match):
        read_irf(bkg_3d_hdu()).integrate_energy(energy_edges=edges, fov_lon=0.0, fov_lat=0.0)


# --------------------------------------------------------------------------------------
# Reader errors
# --------------------------------------------------------------------------------------


def drop_column(hdu, name):
    cols = [c for c in hdu.columns if c.name != name]
    return table_hdu(cols, **{k: hdu.header[k] for k in ("HDUCLAS4",) if k in hdu.header})


def replace_column(hdu, new):
    cols = [new if c.name == new.name else c for c in hdu.columns]
    header = {k: v for k, v in hdu.header.items() if k.startswith("HDUCLAS") or k == "FOVALIGN"}
    return table_hdu(cols, **header)


def no_rows(hdu):
    return fits.BinTableHDU(data=hdu.data[:0], header=hdu.header)


SRC = "test.fits[X] of obs 1"

ERROR_CASES = {
    "not a table": (fits.PrimaryHDU(), "not a FITS binary table"),
    "no HDUCLAS4": (table_hdu([column("A", [1.0])]), "missing HDUCLAS4"),
    "unknown HDUCLAS4": (
        table_hdu([column("A", [1.0])], HDUCLAS4="PSF_GTPSF"),
        "unknown HDUCLAS4",
    ),
    "missing data column": (drop_column(aeff_hdu(), "EFFAREA"), "missing column 'EFFAREA'"),
    "missing axis column": (drop_column(aeff_hdu(), "THETA_HI"), "missing column 'THETA_HI'"),
    "missing energy axis": (drop_column(aeff_hdu(), "ENERG_LO"), "missing column 'ENERG_LO'"),
    "wrong shape": (
        replace_column(aeff_hdu(), column("EFFAREA", np.ones((2, 3)), "m2")),
        r"shape \(3, 2\).*expected \(2, 3\)",
    ),
    "NaN-only": (
        replace_column(aeff_hdu(), column("EFFAREA", np.full((3, 2), np.nan), "m2")),
        "NaN-only",
    ),
    "invalid unit": (aeff_hdu(area_unit="furlong2x"), "invalid unit 'furlong2x'"),
    "wrong dimension unit": (aeff_hdu(area_unit="s"), "not convertible to m2"),
    "missing data unit": (
        replace_column(aeff_hdu(), column("EFFAREA", np.ones((3, 2)))),
        "has no unit",
    ),
    "missing axis unit": (
        replace_column(aeff_hdu(), column("ENERG_LO", E_EDGES[:-1])),
        "'ENERG_LO' has no unit",
    ),
    "energy in deg": (
        replace_column(aeff_hdu(), column("ENERG_LO", E_EDGES[:-1], "deg")),
        "not convertible to TeV",
    ),
    "migra with unit": (
        replace_column(edisp_hdu(), column("MIGRA_LO", MIGRA_EDGES[:-1], "deg")),
        "not convertible to dimensionless",
    ),
    "lo/hi mismatch": (
        replace_column(aeff_hdu(), column("THETA_LO", [0.0, 1.0], "deg")),
        "THETA_LO and THETA_HI must be 1D of equal length",
    ),
    "decreasing axis": (
        replace_column(
            replace_column(aeff_hdu(), column("THETA_LO", OFF_NODES[::-1], "deg")),
            column("THETA_HI", OFF_NODES[::-1], "deg"),
        ),
        "THETA columns.*strictly increasing",
    ),
    "empty table": (no_rows(aeff_hdu()), "no rows"),
    "bad FOVALIGN": (bkg_3d_hdu(FOVALIGN="GALACTIC"), "unsupported FOVALIGN"),
    "bkg column missing": (drop_column(bkg_3d_hdu(), "BKG"), "missing column 'BKG'"),
    "bkg shape": (
        replace_column(bkg_3d_hdu(), column("BKG", np.ones((3, 3, 3)), "MeV-1 s-1 sr-1")),
        "expected \\(3, 2, 2\\)",
    ),
    "bkg NaN-only": (
        replace_column(bkg_3d_hdu(), column("BKG", np.full((3, 2, 2), np.nan), "MeV-1 s-1 sr-1")),
        "NaN-only",
    ),
    "psf param shape": (
        replace_column(psf_king_hdu(), column("GAMMA", np.ones((2, 2)))),
        "'GAMMA' has shape",
    ),
    "psf param NaN": (
        replace_column(psf_king_hdu(), column("GAMMA", np.full((3, 2), np.nan))),
        "'GAMMA' has no finite values",
    ),
    "psf sigma unit": (psf_king_hdu(sigma_unit="m"), "not convertible to deg"),
    "text column": (
        replace_column(aeff_hdu(), fits.Column(name="EFFAREA", format="3A", array=["abc"])),
        "not numeric",
    ),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_read_irf_errors_name_the_source(case):
    hdu, match = ERROR_CASES[case]
    with pytest.raises(IrfError, match=match) as info:
        read_irf(hdu, source=SRC)
    assert SRC in str(info.value)


def test_hduclas4_is_case_insensitive():
    hdu = aeff_hdu()
    hdu.header["HDUCLAS4"] = "aeff_2d "
    assert isinstance(read_irf(hdu), EffectiveArea2D)


def test_etrue_prefix_accepted():
    hdu = aeff_hdu()
    cols = [
        fits.Column(
            name=c.name.replace("ENERG", "ETRUE"),
            format=c.format,
            unit=c.unit,
            dim=c.dim,
            array=c.array,
        )
        for c in hdu.columns
    ]
    aeff = read_irf(table_hdu(cols, HDUCLAS4="AEFF_2D"))
    np.testing.assert_allclose(aeff.axis("energy_true").edges, E_EDGES)


@pytest.mark.parametrize(
    ("cls", "kwargs", "match"),
    [
        (EffectiveArea2D, dict(data=np.ones((2, 2))), r"data shape \(2, 2\) != axes shape"),
        (PSFTable, dict(data=np.ones((2, 3))), "axes must be"),
        (PSFKing, dict(gamma=np.ones((2, 3)), sigma=np.ones((3, 3))), "sigma shape"),
    ],
)
def test_constructor_errors(cls, kwargs, match):
    axes = read_irf(aeff_hdu()).axes
    with pytest.raises(IrfError, match=match):
        cls(axes=axes, **kwargs)


def test_background_constructor_rejects_alignment():
    bkg = read_irf(bkg_3d_hdu())
    with pytest.raises(IrfError, match="fov_alignment must be one of"):
        Background3D(axes=bkg.axes, data=bkg.data, fov_alignment="GAL")


# --------------------------------------------------------------------------------------
# Dispatch: HDU-index class first, header tokens as a cross-check
# --------------------------------------------------------------------------------------


def with_tokens(hdu, clas1=None, clas2=None, clas4=None):
    """``hdu`` with exactly these HDUCLAS1/2/4 keywords (None: absent)."""
    for key in ("HDUCLAS1", "HDUCLAS2", "HDUCLAS3", "HDUCLAS4"):
        hdu.header.remove(key, ignore_missing=True)
    for key, value in (("HDUCLAS1", clas1), ("HDUCLAS2", clas2), ("HDUCLAS4", clas4)):
        if value is not None:
            hdu.header[key] = value
    return hdu


def event_list_hdu(**tokens):
    return with_tokens(table_hdu([column("ENERGY", [1.0, 2.0], "TeV")]), **tokens)


BUILDERS = {
    "aeff": aeff_hdu,
    "edisp": edisp_hdu,
    "psf_table": psf_table_hdu,
    "psf_3gauss": psf_3gauss_hdu,
    "psf_king": psf_king_hdu,
    "bkg_2d": bkg_2d_hdu,
    "bkg_3d": bkg_3d_hdu,
    "events": event_list_hdu,
}

# HDU index class, HDU built as, HDUCLAS1, HDUCLAS2, HDUCLAS4 -> IRF type read
DISPATCH_ACCEPTED = [
    # CTA caldb (1DC, prod3b/prod5): OGIP-style HDUCLAS4
    ("aeff_2d", "aeff", "RESPONSE", "EFF_AREA", "2D", EffectiveArea2D),
    ("edisp_2d", "edisp", "RESPONSE", "EDISP", "2D", EnergyDispersion2D),
    ("psf_3gauss", "psf_3gauss", "RESPONSE", "RPSF", "3GAUSS", PSF3Gauss),
    ("psf_king", "psf_king", "RESPONSE", "RPSF", "KING", PSFKing),
    ("psf_table", "psf_table", "RESPONSE", "RPSF", "TABLE", PSFTable),
    ("bkg_3d", "bkg_3d", "RESPONSE", "BKG", "3D", Background3D),
    ("bkg_2d", "bkg_2d", "RESPONSE", "BKG", "2D", Background2D),
    # GADF / H.E.S.S. DR1 tokens
    ("aeff_2d", "aeff", "RESPONSE", "EFF_AREA", "AEFF_2D", EffectiveArea2D),
    ("bkg_3d", "bkg_3d", "RESPONSE", "BKG", "BKG_3D", Background3D),
    ("psf_table", "psf_table", "RESPONSE", "PSF", "PSF_TABLE", PSFTable),
    # the index class in upper case; header tokens in any case, with blanks
    ("AEFF_2D", "aeff", "RESPONSE", "EFF_AREA", "2D", EffectiveArea2D),
    (" Psf_King ", "psf_king", "response", "rpsf ", "king", PSFKing),
    # missing HDUCLAS tokens are accepted
    ("aeff_2d", "aeff", None, None, None, EffectiveArea2D),
    ("edisp_2d", "edisp", None, "EDISP", None, EnergyDispersion2D),
    ("bkg_3d", "bkg_3d", "RESPONSE", None, "3D", Background3D),
]


@pytest.mark.parametrize(
    ("hdu_class", "kind", "clas1", "clas2", "clas4", "expected"), DISPATCH_ACCEPTED
)
def test_read_irf_dispatches_on_hdu_index_class(hdu_class, kind, clas1, clas2, clas4, expected):
    hdu = with_tokens(BUILDERS[kind](), clas1, clas2, clas4)
    assert type(read_irf(hdu, hdu_class=hdu_class, source=SRC)) is expected


# HDU index class, HDU built as, HDUCLAS1, HDUCLAS2, HDUCLAS4 -> error message
DISPATCH_MISMATCH = [
    # the index points to an event list or GTI
    ("aeff_2d", "events", "EVENTS", None, None, "HDUCLAS1 is 'EVENTS' \\(expected 'RESPONSE'\\)"),
    ("aeff_2d", "events", None, "EVENTS", None, "HDUCLAS2 is 'EVENTS' \\(expected 'EFF_AREA'\\)"),
    ("bkg_3d", "events", None, "GTI", None, "HDUCLAS2 is 'GTI' \\(expected 'BKG'\\)"),
    # the index points to another IRF
    ("aeff_2d", "edisp", "RESPONSE", "EDISP", "2D", "HDUCLAS2 is 'EDISP'"),
    ("edisp_2d", "aeff", None, None, "AEFF_2D", "HDUCLAS4 is 'AEFF_2D'.*'EDISP_2D' or '2D'"),
    ("psf_3gauss", "psf_king", "RESPONSE", "RPSF", "PSF_KING", "HDUCLAS4 is 'PSF_KING'"),
    ("psf_3gauss", "psf_king", "RESPONSE", "RPSF", "KING", "HDUCLAS4 is 'KING'"),
    ("bkg_3d", "bkg_2d", "RESPONSE", "BKG", "2D", "HDUCLAS4 is '2D'.*'BKG_3D' or '3D'"),
    ("rad_max_2d", "aeff", "RESPONSE", "EFF_AREA", None, "HDUCLAS2 is 'EFF_AREA'.*'RAD_MAX'"),
    # not an IRF class dl3flow reads
    ("psf_gtpsf", "aeff", None, None, None, "unsupported HDU class 'psf_gtpsf'"),
    ("events", "events", "EVENTS", None, None, "unsupported HDU class 'events'"),
]


@pytest.mark.parametrize(
    ("hdu_class", "kind", "clas1", "clas2", "clas4", "match"), DISPATCH_MISMATCH
)
def test_read_irf_mismatch_with_hdu_index_class(hdu_class, kind, clas1, clas2, clas4, match):
    hdu = with_tokens(BUILDERS[kind](), clas1, clas2, clas4)
    with pytest.raises(IrfError, match=match) as info:
        read_irf(hdu, hdu_class=hdu_class, source=SRC)
    assert str(info.value).startswith(SRC + ": ")
    if not match.startswith("unsupported"):
        assert f"the HDU index says HDU class {hdu_class.lower()!r}" in str(info.value)


# Without the index class: HDUCLAS4 (GADF token) or HDUCLAS2 + OGIP-style HDUCLAS4
HEADER_ACCEPTED = [
    ("aeff", None, "AEFF_2D", EffectiveArea2D),
    ("aeff", "EFF_AREA", "2D", EffectiveArea2D),
    ("edisp", "EDISP", "2D", EnergyDispersion2D),
    ("psf_table", "RPSF", "TABLE", PSFTable),
    ("psf_3gauss", "RPSF", "3GAUSS", PSF3Gauss),
    ("psf_king", "rpsf", "King", PSFKing),
    ("bkg_2d", "BKG", "2D", Background2D),
    ("bkg_3d", "BKG", "3D", Background3D),
]


@pytest.mark.parametrize(("kind", "clas2", "clas4", "expected"), HEADER_ACCEPTED)
def test_read_irf_without_index_class_reads_the_header(kind, clas2, clas4, expected):
    hdu = with_tokens(BUILDERS[kind](), "RESPONSE", clas2, clas4)
    assert type(read_irf(hdu)) is expected


HEADER_ERRORS = [
    ("aeff", None, None, "missing HDUCLAS4"),
    ("aeff", None, "2D", "unknown HDUCLAS4 '2D' with HDUCLAS2 None"),
    ("bkg_3d", "BKG", "KING", "unknown HDUCLAS4 'KING' with HDUCLAS2 'BKG'.*BKG\\+3D"),
    ("aeff", "EDISP", "AEFF_2D", "the header says HDU class 'aeff_2d', but HDUCLAS2 is 'EDISP'"),
]


@pytest.mark.parametrize(("kind", "clas2", "clas4", "match"), HEADER_ERRORS)
def test_read_irf_without_index_class_errors(kind, clas2, clas4, match):
    hdu = with_tokens(BUILDERS[kind](), None, clas2, clas4)
    with pytest.raises(IrfError, match=match) as info:
        read_irf(hdu, source=SRC)
    assert SRC in str(info.value)


def test_caldb_style_aeff_has_no_thresholds():
    # CTA 1DC effective areas have no LO_THRES / HI_THRES
    hdu = with_tokens(aeff_hdu(), "RESPONSE", "EFF_AREA", "2D")
    aeff = read_irf(hdu, hdu_class="aeff_2d")
    assert aeff.lo_threshold is None and aeff.hi_threshold is None
