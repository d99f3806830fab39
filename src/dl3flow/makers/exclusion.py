"""Exclusion masks: where the background estimate may look (True) and may not (False).

A mask is a 2D boolean image on a `~dl3flow.maps.geom.SkyGeom` (``True`` = usable for the
background, ``False`` = excluded; gammapy's convention). Masks come from three
sources and combine with logical AND:

Regions
    :func:`parse_regions` (ds9 strings, e.g. ``"icrs;circle(83.633,22.0145,0.3)"``) and
    :func:`read_region_file` (ds9 files) give ``regions`` sky regions: circle, ellipse,
    rectangle (ds9 ``box``), polygon and the circle / ellipse / rectangle annuli, in
    any frame ds9 knows (icrs, fk5, fk4, galactic, ecliptic). :func:`region_exclusion`
    excludes the pixels whose centre lies in any region -- exactly as gammapy's
    ``WcsGeom.region_mask(regions, inside=False)``: each region is projected with
    ``to_pixel(wcs)`` and ``contains`` is evaluated at the integer pixel positions.
Catalogs
    :func:`dl3flow.makers.catalogs.read_catalog` (HGPS, gamma-cat, 3FGL/4FGL, 3FHL, 3HWC or
    any table) and :func:`catalog_exclusion`: a disk of radius
    ``max(min_radius, scale * extension + margin)`` around every source whose disk
    reaches the geometry (i.e. the sources inside the geometry widened by their
    exclusion radius); the pixel holding a source is always excluded, even when the
    disk is smaller than a pixel.
Significance
    :func:`significance_exclusion`: hysteresis thresholding of a significance image
    (pixels above ``high``, grown through connected pixels above ``low``) followed by
    an optional dilation with a disk of ``dilate`` deg (scipy.ndimage).

Each recipe returns a frozen :class:`ExclusionMask` (``mask``, ``recipe``,
``sources``) through :func:`regions_mask`, :func:`catalogs_mask`,
:func:`significance_mask` and :func:`combine_exclusions`, which is what a workflow
script writes with :meth:`ExclusionMask.write` (:func:`write_mask`) and reads back with
:func:`read_mask`.

File layout (:func:`write_mask`): an empty primary HDU whose header carries the
provenance (``CREATOR``, ``DATE``) and the recipe (``RECIPE``, JSON, continued over
several cards, plus a human-readable ``HISTORY`` summary); the image HDU
``EXCLUSION_MASK`` (uint8, 1 = usable) with the WCS; and, when sources were
excluded, a ``SOURCES`` table (name, position, extension, exclusion radius, catalog).
gammapy's ``Map.read(path)`` opens the file as a boolean mask: it takes the first HDU
with data and turns images whose name contains "mask" into booleans.

Errors are `ExclusionError` (a `ValueError`); their messages name the config key
the caller passes (``key="analyses.crab.exclusion.regions"``).

This module never imports gammapy. ``regions`` (which imports matplotlib) is imported
only by the region functions, so catalog and significance masks stay light; plots
are in `dl3flow.plotting.masks`.
"""

from __future__ import annotations

import json
import logging
import textwrap
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import astropy.units as u
import numpy as np
from astropy.io import fits

from dl3flow.io.atomic import atomic_write
from dl3flow.io.provenance import add_to_header
from dl3flow.makers.catalogs import CatalogSpec, ExclusionError, _angle, read_catalog
from dl3flow.maps.coords import angular_offset
from dl3flow.maps.geom import SkyGeom

if TYPE_CHECKING:
    from astropy.coordinates import SkyCoord
    from astropy.table import Table
    from regions import SkyRegion

__all__ = [
    "ExclusionError",
    "ExclusionMask",
    "MASK_HDU",
    "SOURCES_HDU",
    "parse_regions",
    "read_region_file",
    "region_exclusion",
    "catalog_exclusion",
    "significance_exclusion",
    "disk_structure",
    "combine",
    "regions_mask",
    "catalogs_mask",
    "significance_mask",
    "combine_exclusions",
    "write_mask",
    "read_mask",
    "read_mask_sources",
]

log = logging.getLogger(__name__)

#: Name of the mask image HDU ("mask" in it makes gammapy read the image as booleans).
MASK_HDU = "EXCLUSION_MASK"
#: Name of the table HDU of excluded catalog sources.
SOURCES_HDU = "SOURCES"
#: Region classes without an area (rejected).
_NO_AREA = ("PointSkyRegion", "LineSkyRegion", "TextSkyRegion")


# --------------------------------------------------------------------------- regions


def _check_regions(regions, *, key: str, origin: str) -> list[SkyRegion]:
    """Only sky regions with an area, meant to be included (no ds9 '-' exclusions)."""
    from regions import SkyRegion

    out = []
    for region in regions:
        name = type(region).__name__
        if not isinstance(region, SkyRegion):
            raise ExclusionError(
                f"{key}: {origin} gives a pixel region ({name}); exclusion regions must "
                f"be in a sky frame (icrs, fk5, galactic ...)"
            )
        if name in _NO_AREA:
            raise ExclusionError(f"{key}: {origin} gives a {name}, which has no area")
        vertices = getattr(region, "vertices", None)
        if vertices is not None and len(vertices) < 3:
            raise ExclusionError(
                f"{key}: {origin} gives a {name} with {len(vertices)} vertices, which has "
                "no area (a polygon needs at least 3)"
            )
        if not region.meta.get("include", True):
            raise ExclusionError(
                f"{key}: {origin} has a ds9 exclude ('-') region; list only the regions "
                f"to exclude from the background"
            )
        out.append(region)
    if not out:
        raise ExclusionError(f"{key}: {origin} contains no region")
    return out


def _parse_ds9(text: str, *, key: str, origin: str, echo: bool = True) -> list[SkyRegion]:
    """Parse ds9 text; ``echo=False`` keeps the parser's message (which quotes the
    text) out of the error, for a file that may not be a region file at all."""
    from regions import Regions

    hidden = "its content is not repeated here"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            regions = Regions.parse(text, format="ds9")
        except Exception as exc:
            detail = str(exc) if echo else f"{type(exc).__name__}; {hidden}"
            raise ExclusionError(f"{key}: cannot parse {origin} as ds9 regions: {detail}") from None
    problems = [str(w.message) for w in caught]
    if problems:
        detail = problems[0] if echo else f"{len(problems)} parser warning(s); {hidden}"
        raise ExclusionError(f"{key}: cannot parse {origin} as ds9 regions: {detail}")
    return _check_regions(regions, key=key, origin=origin)


#: A ds9 region file larger than this (bytes) is refused before it is read.
MAX_REGION_FILE_BYTES = 10_000_000


def parse_regions(strings: str | Iterable[str], *, key: str) -> list[SkyRegion]:
    """Sky regions from ds9 region strings.

    Parameters
    ----------
    strings : str or iterable of str
        One ds9 string (which may hold several regions separated by ``;`` or new
        lines, e.g. ``"galactic;box(185,-4,1.0,0.5,45)"``) or a list of them. A
        region needs a sky frame (``icrs;``, ``fk5;``, ``galactic;`` ...); numbers
        without units are degrees.
    key : str
        Config key of the string (or of the list: the elements are reported as
        ``key[i]``), used in error messages.

    Returns
    -------
    regions : list of `~regions.SkyRegion`

    Raises
    ------
    ExclusionError
        For a string that does not parse (the parser's warnings count as errors), a
        pixel region, a region without area (point, line, text), or a ds9 exclude
        region (``-circle(...)``).
    """
    if isinstance(strings, str):
        return _parse_ds9(strings, key=key, origin=f"{strings!r}")
    out = []
    for i, text in enumerate(strings):
        if not isinstance(text, str):
            raise ExclusionError(f"{key}[{i}]: expected a ds9 region string, got {text!r}")
        out += _parse_ds9(text, key=f"{key}[{i}]", origin=f"{text!r}")
    return out


def read_region_file(path, *, key: str) -> list[SkyRegion]:
    """Sky regions from a ds9 region file (same rules as :func:`parse_regions`).

    Raises
    ------
    ExclusionError
        If the file does not exist, is larger than :data:`MAX_REGION_FILE_BYTES`, is
        not text (binary, e.g. a FITS file), or holds no valid sky region; names
        ``key`` and the path, never the file's content (a path to the wrong file
        must not put that file into logs).
    """
    path = Path(path)
    if not path.is_file():
        raise ExclusionError(f"{key}: region file {str(path)!r} does not exist")
    origin = f"region file {str(path)!r}"
    try:
        size = path.stat().st_size
        if size > MAX_REGION_FILE_BYTES:
            raise ExclusionError(
                f"{key}: {origin} has {size:,} bytes, more than a ds9 region file "
                f"({MAX_REGION_FILE_BYTES:,} at most): is it the right file?"
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise ExclusionError(f"{key}: cannot read {origin}: {exc}") from exc
    if raw.startswith(b"SIMPLE  =") or b"\0" in raw:
        raise ExclusionError(f"{key}: cannot read {origin}: binary data, not a ds9 region file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ExclusionError(
            f"{key}: cannot read {origin}: not UTF-8 text ({exc.reason})"
        ) from None
    return _parse_ds9(text, key=key, origin=origin, echo=False)


def region_exclusion(geom: SkyGeom, regions: Iterable[SkyRegion]) -> np.ndarray:
    """Mask excluding the pixels whose centre lies inside any of the regions.

    Identical to gammapy's ``geom.region_mask(regions, inside=False).data``: the
    regions are projected on the geometry's WCS (``to_pixel``) and tested at the
    pixel centres.

    Parameters
    ----------
    geom : `~dl3flow.maps.geom.SkyGeom`
    regions : iterable of `~regions.SkyRegion`
        No regions gives an all-True mask.

    Returns
    -------
    mask : `numpy.ndarray`
        Boolean ``geom.shape``, False inside the regions.
    """
    from regions import PixCoord

    ny, nx = geom.shape
    y, x = np.indices((ny, nx))
    pix = PixCoord(x, y)
    inside = np.zeros((ny, nx), dtype=bool)
    center = geom.center_skydir
    reach = None
    for region in regions:
        bound = _angular_bound(region)
        if bound is not None:
            if reach is None:
                lon, lat = geom.pixel_centers()
                c_lon, c_lat = center.spherical.lon.deg, center.spherical.lat.deg
                reach = float(angular_offset(lon, lat, c_lon, c_lat).max())
            anchor, size = bound
            distance = float(anchor.separation(center).deg)
            if distance - size > reach + _FAR_MARGIN:
                # Far from the image (possibly behind the projection, where the
                # regions package's pixel conversion fails): it cannot touch a pixel.
                log.debug("region %s is %.1f deg from the geometry: skipped", region, distance)
                continue
        inside |= np.asarray(region.to_pixel(geom.wcs).contains(pix), dtype=bool)
    return ~inside


#: Extra distance (deg) before a region counts as far from the geometry.
_FAR_MARGIN = 5.0


def _angular_bound(region) -> tuple[SkyCoord, float] | None:
    """A point of the region and a radius (deg) around it that contains the region.

    None for region types without a simple bound (always projected).
    """
    if hasattr(region, "vertices"):  # PolygonSkyRegion
        vertices = region.vertices
        return vertices[0], float(vertices[0].separation(vertices).deg.max())
    center = getattr(region, "center", None)
    if center is None:
        return None

    def largest(names):
        values = [u.Quantity(getattr(region, n)).to_value(u.deg) for n in names]
        return max(values, default=0.0)

    radii = [n for n in ("radius", "outer_radius") if hasattr(region, n)]
    widths = [n for n in ("width", "height", "outer_width", "outer_height") if hasattr(region, n)]
    if not radii and not widths:
        return None
    # a (outer) radius, or the half-diagonal of the (outer) box or ellipse: <= 0.75 x side
    return center, float(max(largest(radii), 0.75 * largest(widths)))


def _region_strings(regions: Sequence[SkyRegion]) -> list[str]:
    """The regions as ds9 strings (one per region, with its frame)."""
    from regions import Regions

    out = []
    for region in regions:
        text = Regions([region]).serialize(format="ds9")
        lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
        out.append(";".join(lines))
    return out


# --------------------------------------------------------------------------- catalogs


def catalog_exclusion(
    geom: SkyGeom,
    sources: Table,
    *,
    min_radius=0.3,
    scale: float = 2.0,
    margin=0.2,
) -> tuple[np.ndarray, Table]:
    """Mask excluding a disk around each catalog source that reaches the geometry.

    Parameters
    ----------
    geom : `~dl3flow.maps.geom.SkyGeom`
    sources : `~astropy.table.Table`
        Columns ``NAME``, ``RA``, ``DEC`` (ICRS deg) and ``EXTENSION`` (deg), as from
        `dl3flow.makers.catalogs.read_catalog`.
    min_radius, scale, margin :
        Exclusion radius ``max(min_radius, scale * EXTENSION + margin)``; angles in deg
        (floats, Quantities or strings like ``"0.3 deg"``).

    Returns
    -------
    mask : `numpy.ndarray`
        Boolean ``geom.shape``, False within the exclusion disks.
    excluded : `~astropy.table.Table`
        The sources whose disk reaches the geometry: ``NAME``, ``RA``, ``DEC``,
        ``EXTENSION``, ``RADIUS`` (deg), ``INSIDE`` (position within the image),
        ``NPIX`` (pixels excluded by this source), and any other input columns.
        No source gives an all-True mask and a logged warning.
    """
    min_radius = _angle(min_radius, "min_radius")
    margin = _angle(margin, "margin")
    scale = float(scale)
    for column in ("NAME", "RA", "DEC", "EXTENSION"):
        if column not in sources.colnames:
            raise ExclusionError(f"source table has no column {column!r}")

    def deg(column):
        col = sources[column]
        return np.asarray(u.Quantity(col, u.deg) if col.unit is not None else col, dtype=float)

    ra, dec, extension = deg("RA"), deg("DEC"), np.nan_to_num(deg("EXTENSION"), nan=0.0)
    radius = np.maximum(min_radius, scale * extension + margin)

    mask = np.ones(geom.shape, dtype=bool)
    pix_ra, pix_dec = geom.pixel_centers_icrs()
    center = geom.center_skydir.icrs
    c_ra, c_dec = float(center.ra.deg), float(center.dec.deg)
    reach = float(angular_offset(pix_ra, pix_dec, c_ra, c_dec).max()) + max(geom.binsz)
    candidates = np.flatnonzero(angular_offset(ra, dec, c_ra, c_dec) <= reach + radius)

    rows, npix, inside = [], [], []
    if candidates.size:
        from astropy.coordinates import SkyCoord

        coord = SkyCoord(ra[candidates], dec[candidates], unit="deg").transform_to(geom.frame)
        iy, ix = geom.world_to_index(coord.spherical.lon.deg, coord.spherical.lat.deg)
        for k, i in enumerate(candidates):
            disk = angular_offset(pix_ra, pix_dec, ra[i], dec[i]) <= radius[i]
            if iy[k] >= 0:
                disk[iy[k], ix[k]] = True
            if disk.any():
                rows.append(i)
                npix.append(int(disk.sum()))
                inside.append(bool(iy[k] >= 0))
                mask &= ~disk
    excluded = sources[np.array(rows, dtype=int)]
    excluded["RADIUS"] = radius[rows] * u.deg
    excluded["INSIDE"] = np.array(inside, dtype=bool)
    excluded["NPIX"] = np.array(npix, dtype=np.int64)
    if not rows:
        log.warning(
            "no catalog source reaches the geometry (%d sources checked, centre %.3f %.3f "
            "ICRS): the catalog mask excludes nothing",
            len(sources),
            c_ra,
            c_dec,
        )
    return mask, excluded


# --------------------------------------------------------------------------- significance


def disk_structure(radius, binsz: tuple[float, float]) -> np.ndarray:
    """Boolean disk structuring element of ``radius`` deg on pixels of ``binsz`` (lon, lat) deg.

    A pixel offset ``(dy, dx)`` belongs to the disk when
    ``(dx * binsz_lon)**2 + (dy * binsz_lat)**2 <= radius**2`` (flat-sky distances at
    the reference pixel size). A radius below one pixel gives the single centre pixel.
    """
    radius = _angle(radius, "dilate")
    bx, by = (float(b) for b in binsz)
    nx, ny = int(np.floor(radius / bx + 1e-9)), int(np.floor(radius / by + 1e-9))
    dy, dx = np.mgrid[-ny : ny + 1, -nx : nx + 1]
    return (dx * bx) ** 2 + (dy * by) ** 2 <= radius**2 * (1 + 1e-12)


def significance_exclusion(
    significance,
    geom: SkyGeom,
    *,
    high: float,
    low: float | None = None,
    dilate=0.0,
    connectivity: int = 1,
    key: str = "significance",
) -> np.ndarray:
    """Mask excluding significant regions: hysteresis thresholding, then dilation.

    Parameters
    ----------
    significance : array_like
        Significance image of shape ``geom.shape``; NaN (no data) counts as below
        every threshold.
    geom : `~dl3flow.maps.geom.SkyGeom`
    high : float
        Seed threshold: pixels with significance ``> high`` are excluded...
    low : float, optional
        ...together with every pixel ``> low`` connected to them (defaults to
        ``high``: plain thresholding). Must not exceed ``high``.
    dilate : float, Quantity or str
        Radius (deg) of the disk the excluded region is then grown by (0: none).
    connectivity : {1, 2}
        Pixel neighbourhood of the growth: 1 = edges (4 neighbours, as
        scikit-image's ``apply_hysteresis_threshold``), 2 = edges and corners (8).
    key : str
        Config key for error messages.

    Returns
    -------
    mask : `numpy.ndarray`
        Boolean ``geom.shape``, False where excluded.
    """
    data = np.asarray(getattr(significance, "value", significance), dtype=float)
    if data.shape != tuple(geom.shape):
        raise ExclusionError(
            f"{key}: significance image has shape {data.shape}, the geometry {geom.shape}"
        )
    high = float(high)
    low = high if low is None else float(low)
    if not (np.isfinite(high) and np.isfinite(low)) or low > high:
        raise ExclusionError(f"{key}: need finite thresholds with low <= high, got {low}, {high}")
    if connectivity not in (1, 2):
        raise ExclusionError(f"{key}: connectivity must be 1 or 2, got {connectivity!r}")
    dilate = _angle(dilate, f"{key}.dilate")
    with np.errstate(invalid="ignore"):
        above_low = data > low
        seeds = data > high
    from scipy import ndimage

    structure = ndimage.generate_binary_structure(2, connectivity)
    labels, _ = ndimage.label(above_low, structure=structure)
    keep = np.unique(labels[seeds])
    excluded = np.isin(labels, keep[keep > 0])
    if dilate > 0 and excluded.any():
        excluded = ndimage.binary_dilation(excluded, structure=disk_structure(dilate, geom.binsz))
    return ~excluded


# --------------------------------------------------------------------------- combination


def combine(*masks) -> np.ndarray:
    """Logical AND of masks of one shape (a pixel is usable only if usable in all)."""
    if not masks:
        raise ExclusionError("combine needs at least one mask")
    arrays = [np.asarray(m, dtype=bool) for m in masks]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ExclusionError(f"cannot combine masks of different shapes {sorted(shapes)}")
    return np.logical_and.reduce(arrays)


@dataclass(frozen=True, eq=False)
class ExclusionMask:
    """A mask with its recipe and (for catalog masks) the excluded sources.

    Parameters
    ----------
    mask : `numpy.ndarray`
        Boolean image, True = usable for the background.
    geom : `~dl3flow.maps.geom.SkyGeom`
    recipe : dict
        JSON-serialisable description of how the mask was made.
    sources : `~astropy.table.Table`, optional
        Excluded catalog sources (``NAME``, ``RA``, ``DEC``, ``EXTENSION``, ``RADIUS``,
        ``CATALOG``).
    """

    mask: np.ndarray
    geom: SkyGeom
    recipe: dict = field(default_factory=dict)
    sources: Table | None = None

    def __post_init__(self):
        mask = np.array(self.mask, dtype=bool)
        if mask.shape != tuple(self.geom.shape):
            raise ExclusionError(f"mask shape {mask.shape} != geometry shape {self.geom.shape}")
        mask.setflags(write=False)
        object.__setattr__(self, "mask", mask)

    @property
    def n_excluded(self) -> int:
        return int((~self.mask).sum())

    def write(self, path, *, overwrite: bool = False, provenance=None) -> Path:
        """Write with :func:`write_mask`."""
        return write_mask(
            self.mask,
            self.geom,
            path,
            recipe=self.recipe,
            sources=self.sources,
            provenance=provenance,
            overwrite=overwrite,
        )


def regions_mask(
    geom: SkyGeom,
    *,
    strings: Iterable[str] = (),
    files: Iterable = (),
    key: str = "exclusion",
) -> ExclusionMask:
    """Mask from ds9 region strings and files.

    Errors name the config keys ``{key}.regions[i]`` and ``{key}.region_files[i]``.
    """
    strings = [strings] if isinstance(strings, str) else list(strings)
    regions = parse_regions(strings, key=f"{key}.regions") if strings else []
    file_entries = []
    for i, path in enumerate([files] if isinstance(files, str | Path) else list(files)):
        from_file = read_region_file(path, key=f"{key}.region_files[{i}]")
        file_entries.append({"path": str(path), "regions": _region_strings(from_file)})
        regions += from_file
    mask = region_exclusion(geom, regions)
    recipe = {
        "kind": "regions",
        "regions": strings,
        "region_files": file_entries,
        "n_excluded_pixels": int((~mask).sum()),
    }
    return ExclusionMask(mask=mask, geom=geom, recipe=recipe)


def catalogs_mask(
    geom: SkyGeom, specs: Iterable[CatalogSpec], *, key: str = "exclusion.catalogs"
) -> ExclusionMask:
    """Mask from catalogs (config keys ``key[i]``); the excluded sources are kept."""
    mask = np.ones(geom.shape, dtype=bool)
    entries, tables = [], []
    for i, spec in enumerate(specs):
        table = read_catalog(spec, key=f"{key}[{i}]")
        part, excluded = catalog_exclusion(
            geom, table, min_radius=spec.min_radius, scale=spec.scale, margin=spec.margin
        )
        mask &= part
        entry = spec.to_recipe() | {
            "n_sources_after_cuts": len(table),
            "excluded": [str(n) for n in excluded["NAME"]],
        }
        entries.append(entry)
        keep = ["NAME", "RA", "DEC", "EXTENSION", "RADIUS", "INSIDE", "NPIX"]
        excluded = excluded[keep]
        excluded["CATALOG"] = np.array([spec.kind] * len(excluded), dtype=str)
        tables.append(excluded)
    sources = _vstack(tables)
    if sources is not None:
        sources.meta.clear()
    recipe = {"kind": "catalogs", "catalogs": entries, "n_excluded_pixels": int((~mask).sum())}
    return ExclusionMask(mask=mask, geom=geom, recipe=recipe, sources=sources)


def significance_mask(
    significance,
    geom: SkyGeom,
    *,
    high: float,
    low: float | None = None,
    dilate=0.0,
    connectivity: int = 1,
    key: str = "exclusion.significance",
    source: str | None = None,
) -> ExclusionMask:
    """Mask from :func:`significance_exclusion` with its recipe (``source``: input file)."""
    mask = significance_exclusion(
        significance,
        geom,
        high=high,
        low=low,
        dilate=dilate,
        connectivity=connectivity,
        key=key,
    )
    recipe = {
        "kind": "significance",
        "significance_map": source,
        "high": float(high),
        "low": float(high if low is None else low),
        "dilate_deg": _angle(dilate, f"{key}.dilate"),
        "connectivity": connectivity,
        "n_excluded_pixels": int((~mask).sum()),
    }
    return ExclusionMask(mask=mask, geom=geom, recipe=recipe)


def _vstack(tables: list) -> Table | None:
    """The tables stacked (``astropy.table.vstack``, meta conflicts silent), or None."""
    if not tables:
        return None
    from astropy.table import vstack

    return vstack(tables, metadata_conflicts="silent")


def combine_exclusions(*masks: ExclusionMask) -> ExclusionMask:
    """Logical AND of masks on one geometry; recipes listed, source tables stacked."""
    if not masks:
        raise ExclusionError("combine_exclusions needs at least one mask")
    geom = masks[0].geom
    for m in masks[1:]:
        if m.geom.shape != geom.shape or m.geom.to_header() != geom.to_header():
            raise ExclusionError("cannot combine masks on different geometries")
    mask = combine(*(m.mask for m in masks))
    tables = [m.sources for m in masks if m.sources is not None and len(m.sources)]
    sources = _vstack(tables)
    recipe = {
        "kind": "combined",
        "masks": [m.recipe for m in masks],
        "n_excluded_pixels": int((~mask).sum()),
    }
    return ExclusionMask(mask=mask, geom=geom, recipe=recipe, sources=sources)


# --------------------------------------------------------------------------- FITS I/O


def _history(recipe: dict) -> list[str]:
    """A readable, wrapped summary of the recipe for HISTORY cards."""
    lines = []

    def walk(item: dict, prefix: str) -> None:
        for k, v in item.items():
            if k == "masks" and isinstance(v, list):
                for i, sub in enumerate(v):
                    walk(sub, f"{prefix}masks[{i}].")
            else:
                text = f"{prefix}{k} = {json.dumps(v, ensure_ascii=True)}"
                lines.extend(textwrap.wrap(text, 70, subsequent_indent="    "))

    walk(recipe, "")
    return lines


def write_mask(
    mask,
    geom: SkyGeom,
    path,
    *,
    recipe: dict,
    sources: Table | None = None,
    provenance=None,
    overwrite: bool = False,
) -> Path:
    """Write a mask to FITS atomically (see the module docstring for the layout).

    Parameters
    ----------
    mask : array_like of bool
        ``geom.shape``, True = usable.
    geom : `~dl3flow.maps.geom.SkyGeom`
    path : str or `pathlib.Path`
    recipe : dict
        JSON-serialisable; stored as ``RECIPE`` (JSON) and summarised in ``HISTORY``.
    sources : `~astropy.table.Table`, optional
        Excluded sources, written as the ``SOURCES`` table HDU.
    provenance : `~dl3flow.io.provenance.Provenance` or dict, optional
        The product's provenance record, or extra primary-header keywords
        (e.g. ``{"CONFHASH": ...}``).
    overwrite : bool

    Returns
    -------
    path : `pathlib.Path`
    """
    from dl3flow import __version__

    mask = np.asarray(mask, dtype=bool)
    if mask.shape != tuple(geom.shape):
        raise ExclusionError(f"mask shape {mask.shape} != geometry shape {geom.shape}")
    try:
        recipe_json = json.dumps(recipe, ensure_ascii=True, sort_keys=False)
    except TypeError as exc:
        raise ExclusionError(f"recipe is not JSON-serialisable: {exc}") from exc

    primary = fits.PrimaryHDU()
    header = primary.header
    header["CREATOR"] = f"dl3flow {__version__}"
    header["DATE"] = (datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"), "UTC")
    header["MASKKIND"] = (str(recipe.get("kind", "")), "how the exclusion mask was made")
    header["NEXCL"] = (int((~mask).sum()), "number of excluded pixels")
    add_to_header(header, provenance)
    header["RECIPE"] = (recipe_json, "exclusion recipe (JSON)")
    for line in _history(recipe):
        header.add_history(line)

    image_header = geom.to_header()
    image_header["EXTNAME"] = MASK_HDU
    image_header["COMMENT"] = "1 = usable for background estimation, 0 = excluded"
    hdus = [primary, fits.ImageHDU(mask.astype(np.uint8), header=image_header, name=MASK_HDU)]
    if sources is not None:
        from astropy.table import Table

        table_hdu = fits.table_to_hdu(Table(sources, copy=True))
        table_hdu.name = SOURCES_HDU
        hdus.append(table_hdu)
    hdulist = fits.HDUList(hdus)
    return atomic_write(
        path, lambda tmp: hdulist.writeto(tmp, overwrite=True, checksum=True), overwrite=overwrite
    )


def read_mask(path) -> tuple[np.ndarray, SkyGeom, dict]:
    """Read a mask written by :func:`write_mask`.

    Returns
    -------
    mask : `numpy.ndarray`
        Boolean image, True = usable.
    geom : `~dl3flow.maps.geom.SkyGeom`
    recipe : dict
    """
    path = Path(path)
    if not path.is_file():
        raise ExclusionError(f"mask file {str(path)!r} does not exist")
    with fits.open(path) as hdul:
        if MASK_HDU not in hdul:
            raise ExclusionError(f"{str(path)!r} has no {MASK_HDU} HDU")
        hdu = hdul[MASK_HDU]
        data = np.asarray(hdu.data)
        if data.ndim != 2 or not np.isin(data, (0, 1)).all():
            raise ExclusionError(f"{str(path)!r}: {MASK_HDU} is not a 2D image of 0 and 1")
        geom = SkyGeom.from_header(hdu.header)
        text = hdul[0].header.get("RECIPE", "{}")
    try:
        recipe = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExclusionError(f"{str(path)!r}: RECIPE is not valid JSON: {exc}") from exc
    return data.astype(bool), geom, recipe


def read_mask_sources(path) -> Table | None:
    """The ``SOURCES`` table of a mask file, or None if it has none."""
    with fits.open(path) as hdul:
        if SOURCES_HDU not in hdul:
            return None
        from astropy.table import Table

        return Table.read(hdul[SOURCES_HDU])
