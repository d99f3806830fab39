"""Sky geometries, energy axes, field-of-view coordinates and sky circles (ON/OFF regions).

The names below are imported from their module on first use (`dl3flow._lazy`):
importing this package imports none of its modules.
"""

from dl3flow._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "coords": [
            "sky_to_fov",
            "fov_coordinates",
            "fov_to_sky",
            "angular_offset",
            "unit_vectors",
            "wrap_longitude",
            "icrs_deg",
        ],
        "geom": [
            "EnergyAxis",
            "SkyGeom",
            "DatasetGeom",
            "GeomError",
            "FRAMES",
            "PROJECTIONS",
            "RAD_EDGES_DEFAULT",
            "BINSZ_IRF_DEFAULT",
        ],
        "regions": [
            "CircleRegion",
            "OffRegions",
            "OffRegionsError",
            "angular_separation",
            "pixel_to_sky",
            "sky_to_pixel",
        ],
    },
)
