"""Region exclusion masks pixel for pixel against gammapy's ``region_mask(..., inside=False)``,
and mask files opened by gammapy's ``Map.read``."""

import numpy as np
import pytest

gammapy = pytest.importorskip("gammapy")

from gammapy.maps import Map, WcsGeom  # noqa: E402

from dl3flow.makers.exclusion import (  # noqa: E402
    catalogs_mask,
    parse_regions,
    read_mask,
    read_region_file,
    region_exclusion,
    regions_mask,
    write_mask,
)
from dl3flow.maps.geom import SkyGeom  # noqa: E402

pytestmark = pytest.mark.validation

#: ds9 shapes, placed near the geometry centre (lon2/lat2 offset by 0.5/0.4 deg)
SHAPES = {
    "circle": "circle({lon},{lat},0.3)",
    "ellipse": "ellipse({lon},{lat},0.5,0.2,30)",
    "box": "box({lon},{lat},1.0,0.5,45)",
    "polygon": "polygon({lon},{lat},{lon2},{lat},{lon2},{lat2})",
    "annulus": "annulus({lon},{lat},0.2,0.6)",
    "ellipse_annulus": "ellipse({lon},{lat},0.2,0.1,0.6,0.3,20)",
    "box_annulus": "box({lon},{lat},0.4,0.2,1.2,0.6,15)",
}
#: geometry frame -> centre (the Crab, in that frame)
GEOMS = {"galactic": (184.557, -5.784), "icrs": (83.633, 22.0145)}
#: region frame -> a position 0.3 deg from the Crab, in that frame
POSITIONS = {"icrs": (83.9, 21.8), "fk5": (83.9, 21.8), "galactic": (184.3, -5.5)}


def _geoms(frame, proj):
    center = GEOMS[frame]
    ours = SkyGeom.create(center=center, width=3, binsz=0.02, frame=frame, proj=proj)
    gp = WcsGeom.create(skydir=center, width=3, binsz=0.02, frame=frame, proj=proj)
    return ours, gp


@pytest.mark.parametrize("proj", ["CAR", "TAN"])
@pytest.mark.parametrize("geom_frame", list(GEOMS))
@pytest.mark.parametrize("region_frame", list(POSITIONS))
@pytest.mark.parametrize("shape", list(SHAPES))
def test_region_mask_matches_gammapy(shape, region_frame, geom_frame, proj):
    ours, gp = _geoms(geom_frame, proj)
    lon, lat = POSITIONS[region_frame]
    text = f"{region_frame};" + SHAPES[shape].format(
        lon=lon, lat=lat, lon2=lon + 0.5, lat2=lat + 0.4
    )
    regions = parse_regions(text, key="k")
    mask = region_exclusion(ours, regions)
    expected = gp.region_mask(regions, inside=False).data
    assert mask.shape == expected.shape
    assert 100 < (~mask).sum() < mask.size  # the region covers pixels, and not all
    np.testing.assert_array_equal(mask, expected)


@pytest.mark.parametrize("geom_frame", list(GEOMS))
def test_all_shapes_together_match_gammapy(geom_frame):
    ours, gp = _geoms(geom_frame, "CAR")
    regions = []
    for i, (frame, (lon, lat)) in enumerate(POSITIONS.items()):
        for tpl in SHAPES.values():
            regions += parse_regions(
                f"{frame};"
                + tpl.format(lon=lon + i * 0.3, lat=lat, lon2=lon + 0.5, lat2=lat + 0.4),
                key="k",
            )
    np.testing.assert_array_equal(
        region_exclusion(ours, regions), gp.region_mask(regions, inside=False).data
    )


def test_region_file_matches_gammapy(shared_data):
    path = shared_data / "regions" / "crab_exclusion.reg"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    for frame in GEOMS:
        ours, gp = _geoms(frame, "CAR")
        regions = read_region_file(path, key="k")
        np.testing.assert_array_equal(
            region_exclusion(ours, regions), gp.region_mask(regions, inside=False).data
        )


def test_gammapy_reads_mask_file(tmp_path):
    ours, gp = _geoms("galactic", "CAR")
    result = regions_mask(ours, strings=["icrs;circle(83.633,22.0145,0.3)"])
    path = result.write(tmp_path / "exclusion.fits")
    m = Map.read(path)
    assert m.data.dtype == bool
    assert m.geom == gp
    np.testing.assert_array_equal(m.data, result.mask)
    # and the other way round: a mask written by gammapy reads back here
    gp_path = tmp_path / "gp.fits"
    gp.region_mask("icrs;circle(83.633,22.0145,0.3)", inside=False).write(gp_path)
    from astropy.io import fits

    gp_data = np.asarray(fits.getdata(gp_path)).astype(bool)  # first HDU with data
    write_mask(gp_data, ours, tmp_path / "again.fits", recipe={"kind": "gammapy"})
    np.testing.assert_array_equal(read_mask(tmp_path / "again.fits")[0], result.mask)


def test_catalog_mask_file_opens_in_gammapy(tmp_path, shared_data):
    from dl3flow.makers.catalogs import CatalogSpec

    path = shared_data / "catalogs" / "hgps_catalog_v1.fits.gz"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    geom = SkyGeom.create(center=(320.33, -1.19), width=6, binsz=0.02, frame="galactic")
    result = catalogs_mask(geom, [CatalogSpec("hgps", path)])
    out = result.write(tmp_path / "exclusion_catalog.fits")
    m = Map.read(out)
    np.testing.assert_array_equal(m.data, result.mask)
