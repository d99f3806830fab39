"""Tests of dl3flow.makers.catalogs and catalog-based exclusion on the H.E.S.S. MSH 15-52 field.

Catalogs used (read in place, never copied): HGPS (H.E.S.S. Collaboration, A&A 612, A1,
2018; CC BY 4.0), gamma-cat (Gammapy data, CC BY-NC-SA 4.0), Fermi-LAT 3FGL/3FHL (CC0)
and 3HWC (Albert et al. 2020; CC BY-NC-SA 4.0); see ../shared/data/catalogs/README.rst.
"""

import logging

import numpy as np
import pytest
from astropy.table import Table

from dl3flow.makers.catalogs import CatalogColumns, CatalogError, CatalogSpec, read_catalog
from dl3flow.makers.exclusion import ExclusionError, catalog_exclusion, catalogs_mask
from dl3flow.maps.geom import SkyGeom

#: HGPS sources whose position lies inside the 6 deg MSH 15-52 field (l 317.3-323.3,
#: b -4.2-1.8).
HGPS_IN_FIELD = [
    "HESS J1457-593",
    "HESS J1458-608",
    "HESS J1503-582",
    "HESS J1507-622",
    "HESS J1514-591",
]
#: The same sources in gamma-cat (MSH 15-52 itself is "MSH 15-5-02" there).
GAMMACAT_IN_FIELD = [
    "HESS J1457-593",
    "HESS J1458-608",
    "HESS J1503-582",
    "HESS J1507-622",
    "MSH 15-5-02",
]


@pytest.fixture(scope="module")
def catalogs(shared_data):
    path = shared_data / "catalogs"
    if not (path / "hgps_catalog_v1.fits.gz").is_file():
        pytest.skip(f"catalogs not found at {path}")
    return path


@pytest.fixture(scope="module")
def msh_geom():
    return SkyGeom.create(center=(320.33, -1.19), width=6, binsz=0.02, frame="galactic")


def _source_pixel_excluded(mask, geom, sources, name):
    row = sources[list(sources["NAME"]).index(name)]
    from astropy.coordinates import SkyCoord

    c = SkyCoord(row["RA"], row["DEC"], unit="deg").galactic
    iy, ix = geom.world_to_index(c.l.deg, c.b.deg)
    return iy >= 0 and not mask[iy, ix]


def test_hgps_msh1552(catalogs, msh_geom):
    spec = CatalogSpec("hgps", catalogs / "hgps_catalog_v1.fits.gz")
    result = catalogs_mask(msh_geom, [spec], key="analyses.msh.exclusion.catalogs")
    names = list(result.sources["NAME"])
    inside = [n for n, i in zip(names, result.sources["INSIDE"], strict=True) if i]
    assert inside == HGPS_IN_FIELD
    for name in HGPS_IN_FIELD:
        assert _source_pixel_excluded(result.mask, msh_geom, result.sources, name)
    # the shell HESS J1534-571 (l = 323.7, radius 0.4 deg) lies 0.37 deg beyond the
    # edge; its exclusion disk (2 x 0.4 + 0.2 = 1 deg) reaches into the field
    assert names == [*HGPS_IN_FIELD, "HESS J1534-571"]
    assert "HESS J1616-508" not in names
    assert result.recipe["catalogs"][0]["excluded"] == names
    # HESS J1514-591 = MSH 15-52: Size 0.145 deg -> radius 2 x 0.145 + 0.2
    row = result.sources[names.index("HESS J1514-591")]
    assert row["EXTENSION"] == pytest.approx(0.1447, abs=1e-3)
    assert row["RADIUS"] == pytest.approx(2 * row["EXTENSION"] + 0.2)
    assert 0.1 < (~result.mask).mean() < 0.5


def test_gammacat_msh1552(catalogs, msh_geom):
    spec = CatalogSpec("gamma-cat", catalogs / "gammacat" / "gammacat.fits.gz")
    result = catalogs_mask(msh_geom, [spec])
    names = list(result.sources["NAME"])
    assert names == GAMMACAT_IN_FIELD
    for name in GAMMACAT_IN_FIELD:
        assert _source_pixel_excluded(result.mask, msh_geom, result.sources, name)
    ext = dict(zip(names, result.sources["EXTENSION"], strict=True))
    # elliptical Gaussian: the larger of morph_sigma (0.107) and morph_sigma2 (0.038)
    assert ext["MSH 15-5-02"] == pytest.approx(0.10667, abs=1e-4)
    assert ext["HESS J1457-593"] == 0.0  # no morphology in gamma-cat: point-like


def test_hgps_cut_drops_sources_without_value(catalogs, msh_geom):
    spec = CatalogSpec("hgps", catalogs / "hgps_catalog_v1.fits.gz", cuts={"Sqrt_TS": [12, None]})
    table = read_catalog(spec)
    assert (table["Sqrt_TS"] >= 12).all()
    result = catalogs_mask(msh_geom, [spec])
    # J1457 (12.5), J1507 (17.0), J1514 (42.0) pass; J1534-571 has no Sqrt_TS
    assert list(result.sources["NAME"]) == ["HESS J1457-593", "HESS J1507-622", "HESS J1514-591"]


def test_fermi_extension_from_extended_sources(catalogs, msh_geom, caplog):
    spec = CatalogSpec("3fhl", catalogs / "fermi" / "gll_psch_v13.fit.gz", min_radius=0.1)
    table = read_catalog(spec)
    assert len(table) == 1556
    row = table[list(table["NAME"]).index("3FHL J1514.2-5909e")]
    assert row["EXTENSION"] == pytest.approx(0.2429, abs=1e-4)  # Model_SemiMajor
    assert (table["EXTENSION"] > 0).sum() == sum(n.endswith("e") for n in table["NAME"])
    with caplog.at_level(logging.WARNING, logger="dl3flow.makers.catalogs"):
        fgl = read_catalog(CatalogSpec("4fgl", catalogs / "fermi" / "gll_psc_v16.fit.gz"))
    # the gll_psc_v16 file is 3FGL: read (same format) with a warning
    assert "configured as 4FGL, but its sources are named 3FGL" in caplog.text
    assert fgl[list(fgl["NAME"]).index("3FGL J1514.0-5915e")]["EXTENSION"] == pytest.approx(0.25)


def test_fermi_significance_cut(catalogs):
    path = catalogs / "fermi" / "gll_psc_v16.fit.gz"
    all_ = read_catalog(CatalogSpec("3fgl", path))
    cut = read_catalog(CatalogSpec("3fgl", path, cuts={"Signif_Avg": 10}))
    assert 0 < len(cut) < len(all_)
    assert (cut["Signif_Avg"] >= 10).all()


def test_3hwc_point_like(catalogs):
    table = read_catalog(CatalogSpec("3hwc", catalogs / "3HWC.ecsv"))
    assert len(table) == 65
    assert (table["EXTENSION"] == 0).all()
    crab = table[0]
    assert crab["NAME"] == "3HWC J0534+220"
    assert crab["RA"] == pytest.approx(83.6279)


def test_3hwc_empty_selection_warns(catalogs, msh_geom, caplog):
    with caplog.at_level(logging.WARNING, logger="dl3flow.makers.exclusion"):
        result = catalogs_mask(msh_geom, [CatalogSpec("3hwc", catalogs / "3HWC.ecsv")])
    assert result.mask.all()
    assert len(result.sources) == 0
    assert result.recipe["catalogs"][0]["excluded"] == []
    assert "no catalog source reaches the geometry" in caplog.text


def test_columns_override(catalogs):
    spec = CatalogSpec("hgps", catalogs / "hgps_catalog_v1.fits.gz", columns={"extension": "R70"})
    table = read_catalog(spec)
    assert table.meta["EXTCOLS"] == "R70"


# --------------------------------------------------------------------------- generic tables


@pytest.fixture
def table_path(tmp_path):
    path = tmp_path / "cat.ecsv"
    t = Table(
        {
            "name": ["a", "b", "c"],
            "glon": [0.0, 1.0, 2.0],
            "glat": [0.0, 0.5, -0.5],
            "sigma": [0.1, np.nan, 0.2],
            "sigma2": [0.3, np.nan, 0.1],
            "flux": [1.0, 2.0, np.nan],
        }
    )
    t["sigma"].unit = "arcmin"
    t.write(path)
    return path


def test_generic_table(table_path):
    spec = CatalogSpec(
        "table",
        table_path,
        columns={
            "name": "name",
            "lon": "glon",
            "lat": "glat",
            "frame": "galactic",
            "extension": ["sigma", "sigma2"],
        },
    )
    table = read_catalog(spec)
    assert list(table["NAME"]) == ["a", "b", "c"]
    # sigma in arcmin -> deg; the larger per row; all-NaN -> point-like
    np.testing.assert_allclose(table["EXTENSION"], [0.3, 0.0, 0.1])
    gc = table[0]
    assert gc["RA"] == pytest.approx(266.40498829)  # galactic centre in ICRS
    assert table.meta["CATALOG"] == "table"


def test_generic_table_fits(tmp_path):
    path = tmp_path / "cat.fits"
    Table({"N": ["x"], "RA": [1.0], "DE": [2.0]}).write(path)
    table = read_catalog(CatalogSpec("table", path, columns=CatalogColumns("N", "RA", "DE")))
    assert table["DEC"][0] == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("cuts", "names"),
    [({"flux": 1.5}, ["b"]), ({"flux": [None, 1.5]}, ["a"]), ({"flux": [1.0, 2.0]}, ["a", "b"])],
)
def test_generic_cuts(table_path, cuts, names):
    columns = {"name": "name", "lon": "glon", "lat": "glat", "frame": "galactic"}
    table = read_catalog(CatalogSpec("table", table_path, columns=columns, cuts=cuts))
    assert list(table["NAME"]) == names
    assert "flux" in table.colnames


KEY = "analyses.gc.exclusion.catalogs[1]"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"columns": {"name": "name", "lon": "RA", "lat": "glat"}},
            r"analyses\.gc\.exclusion\.catalogs\[1\]: catalog .* has no column 'RA' "
            r"\(configured as lon\)",
        ),
        (
            {"columns": {"name": "name", "lon": "glon", "lat": "glat", "extension": "size"}},
            r"catalogs\[1\]: .* no column 'size' \(configured as extension\[0\]\)",
        ),
        (
            {"columns": {"name": "name", "lon": "glon", "lat": "glat"}, "cuts": {"ts": 5}},
            r"catalogs\[1\]: .* no column 'ts' \(configured as cuts\.ts\)",
        ),
        (
            {"columns": {"name": "name", "lon": "glon", "lat": "glat"}, "cuts": {"name": 5}},
            r"catalogs\[1\]\.cuts: column 'name' is not numeric",
        ),
        (
            {"columns": {"name": "name", "lon": "glon", "lat": "glat"}, "cuts": {"flux": [1]}},
            r"catalogs\[1\]\.cuts\.flux: expected a minimum or \[min, max\]",
        ),
        (
            {"columns": {"name": "name", "lat": "glat"}},
            r"catalogs\[1\]\.columns: a 'table' catalog needs the column role\(s\) \['lon'\]",
        ),
        (
            {"columns": {"name": "name", "lon": "glon", "lat": "glat", "size": "x"}},
            r"catalogs\[1\]\.columns: unknown column role\(s\) \['size'\]",
        ),
        (
            {"columns": {"name": "name", "lon": "glon", "lat": "glat", "frame": "nope"}},
            r"catalogs\[1\]\.columns\.frame: invalid frame 'nope'",
        ),
        (
            {"columns": {"name": "name", "lon": "glon", "lat": "glat", "extension": "flux"}},
            None,
        ),
    ],
)
def test_table_errors(table_path, kwargs, match):
    spec = CatalogSpec("table", table_path, **kwargs)
    if match is None:  # a dimensionless extension column is taken in deg
        assert len(read_catalog(spec, key=KEY)) == 3
        return
    with pytest.raises(CatalogError, match=match):
        read_catalog(spec, key=KEY)


def test_angle_unit_check(tmp_path):
    path = tmp_path / "cat.ecsv"
    t = Table({"n": ["a"], "l": [1.0], "b": [1.0], "e": [1.0]})
    t["e"].unit = "TeV"
    t.write(path)
    spec = CatalogSpec(
        "table", path, columns={"name": "n", "lon": "l", "lat": "b", "extension": "e"}
    )
    with pytest.raises(CatalogError, match=r"k: column 'e' has unit TeV, expected an angle"):
        read_catalog(spec, key="k")


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(CatalogError, match=r"k: catalog file .*none\.fits' does not exist"):
        read_catalog(CatalogSpec("hgps", tmp_path / "none.fits"), key="k")
    bad = tmp_path / "bad.fits"
    bad.write_text("not fits")
    with pytest.raises(CatalogError, match=r"k: cannot read catalog .*bad\.fits"):
        read_catalog(CatalogSpec("hgps", bad), key="k")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "tevcat"}, "catalog kind must be one of"),
        ({"min_radius": "1 TeV"}, "min_radius: expected an angle"),
        ({"margin": -1}, "margin: must be a finite angle >= 0"),
        ({"scale": "x"}, "scale: expected a number"),
        ({"scale": -1}, "scale: must be a finite number >= 0"),
    ],
)
def test_spec_errors(kwargs, match):
    args = {"kind": "hgps", "path": "x"} | kwargs
    with pytest.raises(ExclusionError, match=match):
        CatalogSpec(**args)


def test_spec_quantities():
    spec = CatalogSpec("hgps", "x", min_radius="6 arcmin", margin=0.05, scale="1.5")
    assert spec.min_radius == pytest.approx(0.1)
    assert spec.scale == 1.5
    recipe = spec.to_recipe()
    assert recipe["columns"]["extension"] == ["Size", "Size_UL"]
    assert recipe["min_radius_deg"] == pytest.approx(0.1)


def test_catalog_exclusion_quantity_columns():
    geom = SkyGeom.create(center=(0, 0), width=1, binsz=0.1, frame="galactic")
    t = Table({"NAME": ["gc"], "RA": [266.40498829], "DEC": [-28.93617776], "EXTENSION": [6.0]})
    t["EXTENSION"].unit = "arcmin"
    _, excluded = catalog_exclusion(geom, t, min_radius=0, scale=1, margin=0)
    assert excluded["RADIUS"][0] == pytest.approx(0.1)
