"""Tests of dl3flow.makers.exclusion: regions, significance hysteresis, combination, FITS I/O,
plot."""

import logging

import numpy as np
import pytest
from astropy.table import Table

from dl3flow.io.atomic import write_figure
from dl3flow.makers.catalogs import CatalogSpec
from dl3flow.makers.exclusion import (
    MASK_HDU,
    ExclusionError,
    ExclusionMask,
    catalog_exclusion,
    catalogs_mask,
    combine,
    combine_exclusions,
    disk_structure,
    parse_regions,
    read_mask,
    read_mask_sources,
    read_region_file,
    region_exclusion,
    regions_mask,
    significance_exclusion,
    significance_mask,
    write_mask,
)
from dl3flow.maps.geom import SkyGeom


@pytest.fixture
def geom():
    # 11 x 11 pixels of 0.1 deg around (10, 0) ICRS: pixel (iy, ix) centre is near
    # ra = 10.5 - 0.1 ix, dec = -0.5 + 0.1 iy
    return SkyGeom.create(center=(10.0, 0.0), width=1.1, binsz=0.1, frame="icrs")


@pytest.fixture
def small():
    """A 7 x 9 geometry for synthetic significance images."""
    return SkyGeom.create(center=(10.0, 0.0), width=(0.9, 0.7), binsz=0.1, frame="icrs")


# --------------------------------------------------------------------------- regions


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("icrs;circle(83.633,22.0145,0.3)", "CircleSkyRegion"),
        ("galactic;box(185,-4,1.0,0.5,45)", "RectangleSkyRegion"),
        ("fk5;ellipse(83,22,0.3,0.1,30)", "EllipseSkyRegion"),
        ("galactic;polygon(1,1,2,1,2,2)", "PolygonSkyRegion"),
        ("icrs;annulus(83,22,0.1,0.3)", "CircleAnnulusSkyRegion"),
        ("icrs;ellipse(83,22,0.1,0.05,0.3,0.15,30)", "EllipseAnnulusSkyRegion"),
        ("icrs;box(83,22,0.2,0.1,0.6,0.3,20)", "RectangleAnnulusSkyRegion"),
    ],
)
def test_parse_every_shape(text, kind):
    (region,) = parse_regions(text, key="k")
    assert type(region).__name__ == kind


def test_parse_list_and_multi_region_string():
    regions = parse_regions(
        ["icrs;circle(1,2,0.3);box(1,2,1,1,0)", "galactic;circle(0,0,1)"], key="k"
    )
    assert len(regions) == 3


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("icrs;circel(1,2,3)", r"analyses\.x\.exclusion\.regions\[2\]: cannot parse"),
        ("garbage", r"analyses\.x\.exclusion\.regions\[2\]: cannot parse"),
        ("icrs;circle(1,2)", r"regions\[2\]: cannot parse 'icrs;circle\(1,2\)'"),
        ("circle(1,2,3)", r"regions\[2\]: cannot parse .*coordinate frame"),
        ("", r"regions\[2\]: '' contains no region"),
        ("image;circle(1,2,3)", r"regions\[2\]: .* pixel region"),
        ("icrs;point(1,2)", r"regions\[2\]: .* PointSkyRegion, which has no area"),
        ("icrs;-circle(1,2,3)", r"regions\[2\]: .* exclude \('-'\) region"),
    ],
)
def test_parse_errors_name_key(text, match):
    with pytest.raises(ExclusionError, match=match):
        parse_regions(text, key="analyses.x.exclusion.regions[2]")


def test_parse_list_error_names_element():
    with pytest.raises(ExclusionError, match=r"^ana\.regions\[1\]: cannot parse"):
        parse_regions(["icrs;circle(1,2,3)", "nonsense"], key="ana.regions")
    with pytest.raises(ExclusionError, match=r"ana\.regions\[0\]: expected a ds9 region string"):
        parse_regions([3], key="ana.regions")


def test_read_region_file(tmp_path):
    path = tmp_path / "x.reg"
    path.write_text("# Region file format: DS9\nfk5\ncircle(83.633,22.014,0.3)\n")
    (region,) = read_region_file(path, key="k")
    assert region.radius.to_value("deg") == pytest.approx(0.3)


def test_read_region_file_missing(tmp_path):
    path = tmp_path / "nope.reg"
    with pytest.raises(ExclusionError, match=r"ana\.region_files\[0\]: region file .*nope\.reg"):
        read_region_file(path, key="ana.region_files[0]")


def test_read_region_file_unparsable(tmp_path):
    path = tmp_path / "bad.reg"
    path.write_text("fk5\nblob(1,2,3)\n")
    with pytest.raises(ExclusionError, match=r"k: cannot parse region file .*bad\.reg"):
        read_region_file(path, key="k")


def test_region_exclusion_circle_exact(geom):
    # radius 0.12 deg around the centre pixel: the centre and its 4 edge neighbours (0.1 deg)
    mask = region_exclusion(geom, parse_regions("icrs;circle(10,0,0.12)", key="k"))
    expected = np.ones(geom.shape, dtype=bool)
    expected[5, 4:7] = False
    expected[4:7, 5] = False
    np.testing.assert_array_equal(mask, expected)


def test_region_exclusion_box_exact(geom):
    # 0.3 x 0.5 deg box centred on pixel (5, 5): 3 columns x 5 rows
    mask = region_exclusion(geom, parse_regions("icrs;box(10,0,0.3,0.5,0)", key="k"))
    expected = np.ones(geom.shape, dtype=bool)
    expected[3:8, 4:7] = False
    np.testing.assert_array_equal(mask, expected)


def test_region_exclusion_annulus_keeps_centre(geom):
    mask = region_exclusion(geom, parse_regions("icrs;annulus(10,0,0.05,0.12)", key="k"))
    assert mask[5, 5]
    assert not mask[5, 4] and not mask[6, 5]
    assert (~mask).sum() == 4


def test_region_exclusion_union_and_empty(geom):
    a = parse_regions("icrs;circle(10,0,0.12)", key="k")
    b = parse_regions("icrs;circle(10.3,0.3,0.05)", key="k")
    both = region_exclusion(geom, a + b)
    np.testing.assert_array_equal(both, region_exclusion(geom, a) & region_exclusion(geom, b))
    assert region_exclusion(geom, []).all()


def test_region_exclusion_galactic_region_on_icrs_geom():
    geom = SkyGeom.create(center=(83.633, 22.0145), width=2, binsz=0.02, frame="icrs")
    # the Crab in galactic coordinates
    mask = region_exclusion(geom, parse_regions("galactic;circle(184.5575,-5.7843,0.2)", key="k"))
    iy, ix = geom.world_to_index(83.633, 22.0145)
    assert not mask[iy, ix]
    assert (~mask).sum() == pytest.approx(np.pi * 10**2, rel=0.05)


@pytest.mark.parametrize("proj", ["CAR", "TAN"])
def test_region_far_away_is_ignored(proj):
    geom = SkyGeom.create(center=(320.33, -1.19), width=6, binsz=0.05, frame="galactic", proj=proj)
    regions = parse_regions(
        "galactic;box(140.33,1.19,1,1,0);polygon(140,1,141,1,141,2);circle(140,1,1)", key="k"
    )
    assert region_exclusion(geom, regions).all()


def test_regions_mask_recipe(tmp_path, geom):
    path = tmp_path / "r.reg"
    path.write_text("icrs\ncircle(10.3,0.3,0.05)\n")
    result = regions_mask(geom, strings=["icrs;circle(10,0,0.12)"], files=[path], key="ana")
    assert result.n_excluded == 6
    assert result.recipe["kind"] == "regions"
    assert result.recipe["regions"] == ["icrs;circle(10,0,0.12)"]
    assert result.recipe["region_files"][0]["path"] == str(path)
    assert "circle(10.3" in result.recipe["region_files"][0]["regions"][0]
    assert result.recipe["n_excluded_pixels"] == 6


def test_regions_mask_error_keys(tmp_path, geom):
    with pytest.raises(ExclusionError, match=r"ana\.regions\[0\]: cannot parse"):
        regions_mask(geom, strings=["bad"], key="ana")
    with pytest.raises(ExclusionError, match=r"ana\.region_files\[0\]: region file .*missing"):
        regions_mask(geom, files=[tmp_path / "missing.reg"], key="ana")


# --------------------------------------------------------------------------- catalogs


def _sources(rows):
    return Table(
        rows=rows, names=["NAME", "RA", "DEC", "EXTENSION"], dtype=[str, float, float, float]
    )


def test_catalog_exclusion_radius_rule(geom):
    sources = _sources([("point", 10.0, 0.0, 0.0), ("ext", 10.3, 0.3, 0.1)])
    mask, excluded = catalog_exclusion(geom, sources, min_radius=0.15, scale=1.0, margin=0.0)
    np.testing.assert_allclose(excluded["RADIUS"], [0.15, 0.15])
    mask2, excluded2 = catalog_exclusion(geom, sources, min_radius=0.05, scale=2.0, margin=0.1)
    np.testing.assert_allclose(excluded2["RADIUS"], [0.1, 0.3])
    assert list(excluded2["NAME"]) == ["point", "ext"]
    assert excluded2["INSIDE"].all()
    # point: centre + 4 neighbours within 0.1 deg (+ rounding): exactly the plus shape
    point_only, _ = catalog_exclusion(geom, sources[:1], min_radius=0.12, scale=0, margin=0)
    expected = np.ones(geom.shape, dtype=bool)
    expected[5, 4:7] = False
    expected[4:7, 5] = False
    np.testing.assert_array_equal(point_only, expected)


def test_catalog_exclusion_tiny_radius_excludes_source_pixel(geom):
    mask, excluded = catalog_exclusion(
        geom, _sources([("s", 10.02, 0.01, 0.0)]), min_radius=0.001, scale=0, margin=0
    )
    assert (~mask).sum() == 1 and not mask[5, 5]
    assert excluded["NPIX"][0] == 1


def test_catalog_exclusion_outside_source_reaching_in(geom):
    # 0.3 deg beyond the image edge (dec = 0.55), radius 0.5: reaches in
    sources = _sources([("near", 10.0, 0.85, 0.0), ("far", 10.0, 3.0, 0.0)])
    mask, excluded = catalog_exclusion(geom, sources, min_radius=0.5, scale=1, margin=0)
    assert list(excluded["NAME"]) == ["near"]
    assert not excluded["INSIDE"][0]
    assert not mask[-1, 5] and mask[0, 5]


def test_catalog_exclusion_empty_warns(geom, caplog):
    sources = _sources([("far", 50.0, 40.0, 0.0)])
    with caplog.at_level(logging.WARNING, logger="dl3flow.makers.exclusion"):
        mask, excluded = catalog_exclusion(geom, sources)
    assert mask.all() and mask.shape == geom.shape
    assert len(excluded) == 0
    assert "no catalog source reaches the geometry" in caplog.text


def test_catalog_exclusion_missing_column(geom):
    with pytest.raises(ExclusionError, match="source table has no column 'EXTENSION'"):
        catalog_exclusion(geom, Table({"NAME": ["a"], "RA": [1.0], "DEC": [2.0]}))


def test_catalogs_mask_from_table(tmp_path, geom):
    path = tmp_path / "cat.ecsv"
    Table(
        {"n": ["A", "B", "C"], "l": [10.0, 10.3, 10.0], "b": [0.0, 0.3, -0.4], "ts": [30.0, 9, 50]}
    ).write(path)
    spec = CatalogSpec(
        "table",
        path,
        columns={"name": "n", "lon": "l", "lat": "b"},
        min_radius=0.1,
        scale=0,
        margin=0,
        cuts={"ts": 25},
    )
    result = catalogs_mask(geom, [spec], key="ana.catalogs")
    assert list(result.sources["NAME"]) == ["A", "C"]
    assert list(result.sources["CATALOG"]) == ["table", "table"]
    assert result.recipe["catalogs"][0]["excluded"] == ["A", "C"]
    assert result.recipe["catalogs"][0]["cuts"] == {"ts": [25.0, None]}
    assert result.recipe["catalogs"][0]["n_sources_after_cuts"] == 2


def test_catalogs_mask_error_key(tmp_path, geom):
    path = tmp_path / "cat.ecsv"
    Table({"n": ["A"], "l": [10.0], "b": [0.0]}).write(path)
    spec = CatalogSpec("table", path, columns={"name": "n", "lon": "ra", "lat": "b"})
    with pytest.raises(
        ExclusionError, match=r"ana\.catalogs\[0\]: .*no column 'ra' \(configured as lon\)"
    ):
        catalogs_mask(geom, [spec], key="ana.catalogs")


# --------------------------------------------------------------------------- significance


def test_disk_structure():
    np.testing.assert_array_equal(disk_structure(0.05, (0.1, 0.1)), [[True]])
    expected = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)
    np.testing.assert_array_equal(disk_structure(0.1, (0.1, 0.1)), expected)
    np.testing.assert_array_equal(disk_structure("0.1 deg", (0.1, 0.1)), expected)
    assert disk_structure(0.2, (0.1, 0.1)).sum() == 13
    np.testing.assert_array_equal(disk_structure(0.15, (0.1, 0.1)), np.ones((3, 3), bool))
    # rectangular pixels: 0.2 deg is 2 pixels in lon, 1 in lat
    assert disk_structure(0.2, (0.1, 0.2)).shape == (3, 5)


SIG = np.array(
    [
        [0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0, 6, 3, 0, 0, 0, 0, 4, 0],
        [0, 3, 0, 0, 0, 0, 0, 4, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 0],
        [3, 0, 0, 0, 3, 3, 0, 0, 0],
        [0, 0, 0, 3, 0, 3, 0, 0, 9],
        [0, 0, 0, 0, 0, 5.5, 3, 0, np.nan],
    ],
    dtype=float,
)


def test_hysteresis_components(small):
    """Components above low=2: A (seed 6), B (no seed: 4 < 5), C (seed 5.5),
    D (single 3, no seed), E (seed 9); the diagonal pixel (5, 3) joins C only with
    8-connectivity."""
    mask = significance_exclusion(SIG, small, high=5, low=2)
    excluded = np.zeros(SIG.shape, dtype=bool)
    excluded[1, 1:3] = excluded[2, 1] = True  # A
    excluded[4, 4:6] = excluded[5, 5] = excluded[6, 5:7] = True  # C, 4-connected
    excluded[5, 8] = True  # E; the NaN below it is not excluded
    np.testing.assert_array_equal(mask, ~excluded)

    mask8 = significance_exclusion(SIG, small, high=5, low=2, connectivity=2)
    excluded[5, 3] = True
    np.testing.assert_array_equal(mask8, ~excluded)


def test_plain_threshold_when_low_is_none(small):
    mask = significance_exclusion(SIG, small, high=5)
    np.testing.assert_array_equal(np.argwhere(~mask), [[1, 1], [5, 8], [6, 5]])


def test_threshold_is_strict(small):
    assert significance_exclusion(SIG, small, high=9).all()


def test_dilation(small):
    sig = np.zeros(SIG.shape)
    sig[3, 4] = 10
    mask = significance_exclusion(sig, small, high=5, dilate="0.1 deg")
    expected = np.ones(sig.shape, dtype=bool)
    expected[3, 3:6] = expected[2:5, 4] = False
    np.testing.assert_array_equal(mask, expected)
    mask2 = significance_exclusion(sig, small, high=5, dilate=0.2)
    assert (~mask2).sum() == 13


def test_significance_mask_recipe(small):
    result = significance_mask(SIG, small, high=5, low=2, dilate=0.0, source="maps.fits")
    assert result.recipe == {
        "kind": "significance",
        "significance_map": "maps.fits",
        "high": 5.0,
        "low": 2.0,
        "dilate_deg": 0.0,
        "connectivity": 1,
        "n_excluded_pixels": 9,
    }


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"high": 3, "low": 4}, r"sig\.x: need finite thresholds with low <= high"),
        ({"high": np.nan}, "need finite thresholds"),
        ({"high": 3, "connectivity": 3}, "connectivity must be 1 or 2"),
        ({"high": 3, "dilate": "1 TeV"}, r"sig\.x\.dilate: expected an angle"),
        ({"high": 3, "dilate": -0.1}, r"sig\.x\.dilate: must be a finite angle >= 0"),
    ],
)
def test_significance_errors(small, kwargs, match):
    with pytest.raises(ExclusionError, match=match):
        significance_exclusion(SIG, small, key="sig.x", **kwargs)


def test_significance_shape_error(small):
    with pytest.raises(ExclusionError, match=r"sig: significance image has shape \(2, 2\)"):
        significance_exclusion(np.zeros((2, 2)), small, high=5, key="sig")


# --------------------------------------------------------------------------- combination


def test_combine():
    a = np.array([[True, True], [False, True]])
    b = np.array([[True, False], [True, True]])
    np.testing.assert_array_equal(combine(a, b), [[True, False], [False, True]])
    np.testing.assert_array_equal(combine(a), a)
    with pytest.raises(ExclusionError, match="at least one mask"):
        combine()
    with pytest.raises(ExclusionError, match="different shapes"):
        combine(a, np.ones((3, 2), bool))


def test_combine_exclusions(geom, small):
    r = regions_mask(geom, strings="icrs;circle(10,0,0.12)")
    s = ExclusionMask(mask=np.ones(geom.shape, bool), geom=geom, recipe={"kind": "x"})
    c = combine_exclusions(r, s)
    np.testing.assert_array_equal(c.mask, r.mask)
    assert c.recipe["kind"] == "combined"
    assert [m["kind"] for m in c.recipe["masks"]] == ["regions", "x"]
    assert c.sources is None
    with pytest.raises(ExclusionError, match="different geometries"):
        combine_exclusions(r, ExclusionMask(mask=np.ones(small.shape, bool), geom=small))
    with pytest.raises(ExclusionError, match="at least one mask"):
        combine_exclusions()


def test_exclusion_mask_shape_check(geom):
    with pytest.raises(ExclusionError, match=r"mask shape \(2, 2\) != geometry shape"):
        ExclusionMask(mask=np.ones((2, 2)), geom=geom)


# --------------------------------------------------------------------------- FITS I/O


def test_write_read_roundtrip(tmp_path, geom):
    sources = _sources([("Src A", 10.0, 0.0, 0.1)])
    r = regions_mask(geom, strings=["icrs;circle(10,0,0.12)"])
    path = write_mask(
        r.mask,
        geom,
        tmp_path / "masks" / "m.fits",
        recipe=r.recipe,
        sources=sources,
        provenance={"CONFHASH": "abc"},
    )
    mask, geom2, recipe = read_mask(path)
    np.testing.assert_array_equal(mask, r.mask)
    assert mask.dtype == bool
    assert geom2.to_header() == geom.to_header() and geom2.shape == geom.shape
    assert recipe == r.recipe
    assert list(read_mask_sources(path)["NAME"]) == ["Src A"]

    from astropy.io import fits

    with fits.open(path) as hdul:
        assert hdul[MASK_HDU].data.dtype == np.uint8
        header = hdul[0].header
        assert header["CONFHASH"] == "abc"
        assert header["CREATOR"].startswith("dl3flow")
        assert header["MASKKIND"] == "regions"
        assert any("icrs;circle(10,0,0.12)" in h for h in header["HISTORY"])
    with pytest.raises(FileExistsError):
        write_mask(r.mask, geom, path, recipe={})
    write_mask(~r.mask, geom, path, recipe={}, overwrite=True)
    assert read_mask(path)[0].sum() == (~r.mask).sum()
    assert read_mask_sources(path) is None


def test_exclusion_mask_write(tmp_path, geom):
    r = regions_mask(geom, strings=["icrs;circle(10,0,0.12)"])
    r.write(tmp_path / "m.fits")
    assert read_mask(tmp_path / "m.fits")[2]["kind"] == "regions"


def test_write_errors(tmp_path, geom):
    with pytest.raises(ExclusionError, match="not JSON-serialisable"):
        write_mask(np.ones(geom.shape), geom, tmp_path / "m.fits", recipe={"a": object()})
    with pytest.raises(ExclusionError, match="mask shape"):
        write_mask(np.ones((2, 2)), geom, tmp_path / "m.fits", recipe={})
    assert not (tmp_path / "m.fits").exists()


def test_read_errors(tmp_path, geom):
    from astropy.io import fits

    with pytest.raises(ExclusionError, match="does not exist"):
        read_mask(tmp_path / "none.fits")
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((2, 2)), name="OTHER")]).writeto(
        tmp_path / "a.fits"
    )
    with pytest.raises(ExclusionError, match="has no EXCLUSION_MASK HDU"):
        read_mask(tmp_path / "a.fits")
    hdu = fits.ImageHDU(np.full(geom.shape, 3, np.uint8), header=geom.to_header(), name=MASK_HDU)
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp_path / "b.fits")
    with pytest.raises(ExclusionError, match="not a 2D image of 0 and 1"):
        read_mask(tmp_path / "b.fits")
    primary = fits.PrimaryHDU()
    primary.header["RECIPE"] = "{not json"
    hdu = fits.ImageHDU(np.ones(geom.shape, np.uint8), header=geom.to_header(), name=MASK_HDU)
    fits.HDUList([primary, hdu]).writeto(tmp_path / "c.fits")
    with pytest.raises(ExclusionError, match="RECIPE is not valid JSON"):
        read_mask(tmp_path / "c.fits")


# --------------------------------------------------------------------------- plot


@pytest.mark.parametrize("with_counts", [True, False])
def test_plot_exclusion_writes_png(tmp_path, geom, with_counts):
    from dl3flow.plotting.masks import plot_exclusion

    sources = _sources([("HESS J0000-000", 10.0, 0.0, 0.1), ("Outside", 20.0, 0.0, 0.0)])
    mask, _ = catalog_exclusion(geom, sources[:1], min_radius=0.2)
    counts = np.arange(geom.shape[0] * geom.shape[1], dtype=float).reshape(geom.shape)
    fig = plot_exclusion(
        mask,
        geom,
        counts=counts if with_counts else None,
        sources=sources,
        kind="catalogs",
        caption="test",
    )
    ax = fig.axes[0]
    assert ax.get_title().startswith("Exclusion mask from catalogs")
    assert "pixels excluded" in ax.get_title()
    assert [t.get_text() for t in ax.texts] == ["HESS J0000-000"]
    assert ax.coords[0].get_axislabel() == "Right ascension (ICRS)"
    path = write_figure(fig, tmp_path / "mask.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_exclusion_shape_errors(geom):
    from dl3flow.plotting.masks import plot_exclusion

    with pytest.raises(ValueError, match="mask shape"):
        plot_exclusion(np.ones((2, 2)), geom)
    with pytest.raises(ValueError, match="counts shape"):
        plot_exclusion(np.ones(geom.shape), geom, counts=np.ones((2, 2)))
