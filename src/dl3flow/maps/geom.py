"""Sky geometries and energy axes.

A dataset lives on a :class:`DatasetGeom`: a WCS image (:class:`SkyGeom`) with a
reconstructed-energy axis (counts, background), a true-energy axis (exposure) and
a coarser IRF image for the energy-dispersion and PSF maps. The constructions
follow gammapy's ``WcsGeom.create``, ``WcsGeom.cutout`` and ``MapDataset.create``
exactly, so that pixel grids agree to the bit and gammapy can read the products.

All angles are plain floats in degrees and energies in TeV inside this module;
astropy quantities are accepted at the boundaries (``create`` functions).

Import cost: a per-observation workflow job builds, cuts and writes geometries, and
spends more time importing than computing. ``import astropy.wcs`` also imports
astropy.coordinates, astropy.table and astropy.time (about 0.5 s). The pixel
computations only need astropy's wcslib wrapper, the extension module
``astropy.wcs._wcs`` (its ``Wcsprm``), which imports nothing but numpy: a
:class:`SkyGeom` holds a ``Wcsprm`` (:attr:`SkyGeom.wcsprm`) and does every pixel
computation with it, exactly as `astropy.wcs.WCS` does (``wcs_pix2world`` *is*
``Wcsprm.p2s``), so results are bit-identical. The full `~astropy.wcs.WCS`
(:attr:`SkyGeom.wcs`, for plots, regions and gammapy) is built on first use.
`~astropy.coordinates.SkyCoord` is only imported where one is passed in or asked
for (``center_skydir``, galactic pixel centres in ICRS).
"""

from __future__ import annotations

import copy
import importlib.machinery
import importlib.util
import sys
import warnings
from dataclasses import dataclass, field
from functools import cached_property

import astropy.units as u
import numpy as np
from astropy.io import fits

from dl3flow.maps.coords import fov_coordinates, unit_vectors, wrap_longitude

__all__ = [
    "EnergyAxis",
    "SkyGeom",
    "DatasetGeom",
    "GeomError",
    "FRAMES",
    "PROJECTIONS",
    "RAD_EDGES_DEFAULT",
    "BINSZ_IRF_DEFAULT",
]

FRAMES = ("icrs", "galactic")
PROJECTIONS = ("CAR", "TAN")
#: gammapy's default PSF rad axis: 0-0.66 deg in 66 bins.
RAD_EDGES_DEFAULT = np.linspace(0.0, 0.66, 67)
#: gammapy's default pixel size of the IRF (edisp/psf) maps, in deg.
BINSZ_IRF_DEFAULT = 0.2


class GeomError(ValueError):
    """Invalid geometry or axis definition."""


def _to_value(value, unit: str, what: str) -> float:
    """Convert a quantity (or a plain number, taken in ``unit``) to a float."""
    try:
        return float(u.Quantity(value, unit).value)
    except u.UnitConversionError as exc:
        raise GeomError(f"{what}: expected a quantity in {unit}, got {value!r}") from exc


def _wcslib():
    """astropy's wcslib wrapper, the extension module ``astropy.wcs._wcs``.

    Loaded on its own when `astropy.wcs` is not imported yet: the package's
    ``__init__`` imports astropy.coordinates (and with it astropy.table and
    astropy.time), the extension only numpy. It is registered under its own name,
    so a later ``import astropy.wcs`` uses this very module (one ``Wcsprm`` type).
    If it cannot be found this way, the package is imported (slower, same result).
    """
    name = "astropy.wcs._wcs"
    module = sys.modules.get(name)
    if module is not None:
        return module
    try:
        package = importlib.util.find_spec("astropy.wcs")  # finds, does not import
        finder = importlib.machinery.FileFinder(
            package.submodule_search_locations[0],
            (importlib.machinery.ExtensionFileLoader, importlib.machinery.EXTENSION_SUFFIXES),
        )
        spec = finder.find_spec(name)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if not module._sanity_check():  # as astropy.wcs does on import
            raise ImportError("astropy.wcs._wcs failed its sanity check")
    except Exception:
        from astropy.wcs import _wcs as module

        return module
    sys.modules[name] = module
    return module


def _is_skycoord(value) -> bool:
    """Whether ``value`` is a SkyCoord, without importing astropy.coordinates."""
    coordinates = sys.modules.get("astropy.coordinates")
    return coordinates is not None and isinstance(value, coordinates.SkyCoord)


def _transform(prm, method: str, key: str, a, b) -> list[np.ndarray]:
    """``Wcsprm.p2s`` / ``s2p`` of two coordinate arrays, origin 0.

    The same calls as `astropy.wcs.WCS.wcs_pix2world` / ``wcs_world2pix`` with two
    arrays (``WCS._array_converter``): broadcast, stacked as ``(N, 2)``, reshaped back.
    """
    axes = [np.asarray(a), np.asarray(b)]
    if any(x.size == 0 for x in axes):
        return axes
    axes = np.broadcast_arrays(*axes)
    xy = np.hstack([x.reshape((x.size, 1)) for x in axes])
    out = getattr(prm, method)(xy, 0)[key]
    return [out[:, i].reshape(axes[0].shape) for i in range(out.shape[1])]


#: Header keywords of distortions (SIP, distortion-paper tables) and of the TPV
#: convention: headers with these are read through `astropy.wcs.WCS` itself.
_DISTORTION_KEYWORDS = ("A_ORDER", "B_ORDER", "AP_ORDER", "BP_ORDER", "D2IMDIS1", "D2IMDIS2")
_DISTORTION_PREFIXES = ("CPDIS", "CQDIS", "D2IM", "DP1", "DP2", "DQ1", "DQ2", "PV1_", "PV2_")


def _plain_header(header: fits.Header) -> bool:
    """Whether a header's WCS has no distortions (the light reader handles it)."""
    for key in header:
        if key in _DISTORTION_KEYWORDS or key.startswith(_DISTORTION_PREFIXES):
            return False
    return "-SIP" not in str(header.get("CTYPE1", "")) + str(header.get("CTYPE2", ""))


def _fix_changes(fixes: dict, prm) -> list[str]:
    """The changes ``Wcsprm.fix`` reports that `astropy.wcs.WCS.fix` would warn about."""
    changes = []
    for key, value in fixes.items():
        if value == "No change":
            continue
        if key == "datfix" and "1858-11-17" in value and not np.count_nonzero(prm.mjdref):
            continue
        changes.append(f"'{key}' made the change '{value}'.")
    return changes


@dataclass(frozen=True, eq=False)
class EnergyAxis:
    """An energy axis defined by its bin edges (TeV).

    Parameters
    ----------
    edges : `numpy.ndarray`
        Strictly increasing, positive bin edges in TeV.
    name : {"energy", "energy_true"}
        Reconstructed or true energy.
    """

    edges: np.ndarray
    name: str = "energy"

    def __post_init__(self):
        edges = np.asarray(self.edges, dtype=float)
        if edges.ndim != 1 or edges.size < 2:
            raise GeomError(f"{self.name} axis needs at least two edges, got {edges!r}")
        if not np.all(np.isfinite(edges)) or np.any(edges <= 0) or np.any(np.diff(edges) <= 0):
            raise GeomError(f"{self.name} axis edges must be positive and increasing: {edges!r}")
        if self.name not in ("energy", "energy_true"):
            raise GeomError(f"energy axis name must be 'energy' or 'energy_true': {self.name!r}")
        object.__setattr__(self, "edges", edges)

    @classmethod
    def from_bounds(cls, energy_min, energy_max, nbin: int, *, name: str = "energy") -> EnergyAxis:
        """Log-spaced axis, bit-identical to gammapy's ``MapAxis.from_energy_bounds``.

        gammapy builds nodes with ``np.geomspace`` and returns edges through its
        log-interpolating pixel transform, i.e. ``exp(log(nodes))``; doing the same
        keeps the edges (and so the counts binning) identical to the last bit.
        """
        emin = _to_value(energy_min, "TeV", f"{name} minimum")
        emax = _to_value(energy_max, "TeV", f"{name} maximum")
        if not emin < emax:
            raise GeomError(f"{name} range is empty: min {emin} TeV >= max {emax} TeV")
        if int(nbin) != nbin or nbin < 1:
            raise GeomError(f"{name} axis needs a positive integer number of bins, got {nbin!r}")
        return cls(np.exp(np.log(np.geomspace(emin, emax, int(nbin) + 1))), name=name)

    @property
    def nbin(self) -> int:
        return self.edges.size - 1

    @property
    def centers(self) -> np.ndarray:
        """Log centres of the bins (gammapy ``MapAxis.center`` for a log axis)."""
        log_edges = np.log(self.edges)
        return np.exp(log_edges[:-1] + 0.5 * np.diff(log_edges))

    @property
    def lo(self) -> np.ndarray:
        return self.edges[:-1]

    @property
    def hi(self) -> np.ndarray:
        return self.edges[1:]


@dataclass(frozen=True, eq=False, init=False)
class SkyGeom:
    """A 2D celestial WCS image geometry.

    Build it with :meth:`create` (or :meth:`from_header`); ``shape`` is numpy
    order ``(ny, nx)``. ``SkyGeom(wcs, shape)`` wraps an `~astropy.wcs.WCS` (its
    celestial part).

    Attributes
    ----------
    wcsprm : `astropy.wcs.Wcsprm`
        The wcslib parameters every pixel computation uses.
    wcs : `~astropy.wcs.WCS`
        The same WCS as an astropy object (built on first use; see the module
        docstring): for plots, regions and gammapy.
    shape : tuple of int
    """

    shape: tuple[int, int]

    def __init__(self, wcs, shape):
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "_prm", wcs.wcs)
        self.__dict__["wcs"] = wcs

    @classmethod
    def _from_wcsprm(cls, prm, shape) -> SkyGeom:
        """A geometry on a ``Wcsprm`` alone; its `~astropy.wcs.WCS` is made when asked for."""
        geom = cls.__new__(cls)
        object.__setattr__(geom, "shape", shape)
        object.__setattr__(geom, "_prm", prm)
        return geom

    def __reduce__(self):
        return (SkyGeom, (self.wcs, self.shape))

    @cached_property
    def wcs(self):
        """`~astropy.wcs.WCS` of the geometry, sharing :attr:`wcsprm` (imports astropy.wcs).

        As the ``WCS`` that ``astropy.wcs`` builds for the same header: a 2-axis
        ``WCS()`` whose wcslib parameters are :attr:`wcsprm`, its ``array_shape``
        the geometry's shape.
        """
        from astropy.wcs import WCS

        wcs = WCS(naxis=2)
        wcs.wcs = self._prm
        wcs.array_shape = self.shape
        return wcs

    @property
    def wcsprm(self):
        """The wcslib parameters (`astropy.wcs.Wcsprm`) of the geometry; treat as read-only."""
        return self._prm

    @classmethod
    def create(
        cls,
        *,
        center,
        width,
        binsz,
        frame: str = "icrs",
        proj: str = "CAR",
    ) -> SkyGeom:
        """Geometry centred on ``center``, as gammapy's ``WcsGeom.create``.

        Parameters
        ----------
        center : `~astropy.coordinates.SkyCoord` or tuple
            Centre; a tuple is (lon, lat) in deg in ``frame``.
        width : float, Quantity, or pair of them
            Image width (lon, lat) in deg.
        binsz : float or Quantity
            Pixel size in deg.
        frame : {"icrs", "galactic"}
        proj : {"CAR", "TAN"}
        """
        if frame not in FRAMES:
            raise GeomError(f"frame must be one of {FRAMES}, got {frame!r}")
        if proj not in PROJECTIONS:
            raise GeomError(f"projection must be one of {PROJECTIONS}, got {proj!r}")
        binsz = _to_value(binsz, "deg", "binsz")
        widths = np.atleast_1d(u.Quantity(width, "deg").value).astype(float)
        if widths.size == 1:
            widths = np.repeat(widths, 2)
        if binsz <= 0 or np.any(widths <= 0):
            raise GeomError(f"width {widths} and binsz {binsz} must be positive")
        if _is_skycoord(center):
            c = center.transform_to(frame)
            crval = (float(c.spherical.lon.deg), float(c.spherical.lat.deg))
        else:
            crval = tuple(float(_to_value(v, "deg", "center")) for v in center)
        nx, ny = (int(np.rint(w / binsz)) for w in widths)
        if nx < 1 or ny < 1:
            raise GeomError(f"width {widths} deg is smaller than one pixel of {binsz} deg")
        # What WCS(naxis=2) and astropy.wcs.utils.celestial_frame_to_wcs do to the
        # wcslib parameters (a default 2-axis WCS, fixed and set; RADESYS, CTYPE) ...
        prm = _wcslib().Wcsprm(header=None, key=" ", relax=True, naxis=2)
        prm.fix("", None)
        prm.set()
        if frame == "icrs":
            prm.radesys = "ICRS"
            prm.ctype = [f"RA---{proj}", f"DEC--{proj}"]
        else:
            prm.ctype = [f"GLON-{proj}", f"GLAT-{proj}"]
        # ... then the geometry itself
        prm.crpix = ((nx + 1) / 2.0, (ny + 1) / 2.0)
        prm.crval = crval
        prm.cdelt = (-binsz, binsz)
        prm.datfix()
        prm.set()  # wcslib's comparisons (cutout placement) need a set() wcs
        return cls._from_wcsprm(prm, (ny, nx))

    @classmethod
    def from_header(cls, header) -> SkyGeom:
        """Geometry of a FITS image header (its celestial part).

        The same as ``astropy.wcs.WCS(header, naxis=2).celestial``. A header with
        distortions (SIP, lookup tables, PV keywords), without both CTYPEs, or that
        wcslib's ``fix`` would change (astropy warns about that) is read by
        `astropy.wcs.WCS` itself.
        """
        ny, nx = int(header["NAXIS2"]), int(header["NAXIS1"])
        prm = None
        if isinstance(header, fits.Header) and _plain_header(header):
            prm = _plain_wcsprm(header)
        if prm is None:
            from astropy.wcs import WCS

            wcs = WCS(header, naxis=2).celestial
            wcs.array_shape = (ny, nx)
            wcs.wcs.set()
            return cls(wcs, (ny, nx))
        prm.set()
        return cls._from_wcsprm(prm, (ny, nx))

    def to_header(self) -> fits.Header:
        """The WCS keywords (without NAXIS*) for an image HDU (`astropy.wcs.WCS.to_header`)."""
        wcslib = _wcslib()
        precision = wcslib.WCSHDO_P14
        header = _wcs_header(self._prm, precision | wcslib.WCSHDO_safe)
        full = _wcs_header(self._prm, precision | wcslib.WCSHDO_all)
        if any(key not in header for key in full):
            return self.wcs.to_header()  # which warns about the keywords it leaves out
        return header

    @property
    def frame(self) -> str:
        ctype = self._prm.ctype[0]
        return "galactic" if ctype.startswith("GLON") else "icrs"

    @property
    def projection(self) -> str:
        return self._prm.ctype[0][-3:]

    @property
    def binsz(self) -> tuple[float, float]:
        """Absolute pixel sizes (lon, lat) in deg."""
        return tuple(float(abs(v)) for v in self._prm.cdelt)

    @property
    def width(self) -> tuple[float, float]:
        return (self.binsz[0] * self.shape[1], self.binsz[1] * self.shape[0])

    def pix2world(self, x, y) -> list[np.ndarray]:
        """World (lon, lat) in deg of 0-based pixel coordinates: ``WCS.wcs_pix2world(x, y, 0)``."""
        return _transform(self._prm, "p2s", "world", x, y)

    def world2pix(self, lon, lat) -> list[np.ndarray]:
        """0-based pixel coordinates of (lon, lat) in deg: ``WCS.wcs_world2pix(lon, lat, 0)``."""
        return _transform(self._prm, "s2p", "pixcrd", lon, lat)

    @property
    def center_lonlat(self) -> tuple[float, float]:
        """(lon, lat) in deg, in the geometry frame, of the image centre.

        The values of :attr:`center_skydir` (longitude wrapped into [0, 360)).
        """
        ny, nx = self.shape
        lon, lat = self.pix2world((nx - 1) / 2.0, (ny - 1) / 2.0)
        return wrap_longitude(lon), float(lat)

    @property
    def center_skydir(self):
        """Sky position (`~astropy.coordinates.SkyCoord`) of the image centre (gammapy
        ``center_skydir``)."""
        from astropy.coordinates import SkyCoord

        ny, nx = self.shape
        return SkyCoord.from_pixel((nx - 1) / 2.0, (ny - 1) / 2.0, self.wcs)

    def pixel_centers(self) -> tuple[np.ndarray, np.ndarray]:
        """Longitude and latitude (deg, in the geometry frame) of the pixel centres."""
        return self._pixel_centers

    @cached_property
    def _pixel_centers(self) -> tuple[np.ndarray, np.ndarray]:
        ny, nx = self.shape
        y, x = np.indices((ny, nx), dtype=float)
        lon, lat = self.pix2world(x, y)
        lon.setflags(write=False)
        lat.setflags(write=False)
        return lon, lat

    def pixel_centers_icrs(self) -> tuple[np.ndarray, np.ndarray]:
        """RA and Dec (deg, ICRS) of the pixel centres."""
        return self._pixel_centers_icrs

    @cached_property
    def _pixel_centers_icrs(self) -> tuple[np.ndarray, np.ndarray]:
        lon, lat = self.pixel_centers()
        if self.frame == "icrs":
            return lon, lat
        from astropy.coordinates import SkyCoord

        c = SkyCoord(lon, lat, unit="deg", frame=self.frame).icrs
        ra, dec = c.ra.deg, c.dec.deg
        ra.setflags(write=False)
        dec.setflags(write=False)
        return ra, dec

    def world_to_index(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """Integer pixel indices (iy, ix) of positions in the geometry frame; -1 outside."""
        px, py = self.world2pix(np.asarray(lon, float), np.asarray(lat, float))
        ny, nx = self.shape
        with np.errstate(invalid="ignore"):
            ix = np.floor(px + 0.5)
            iy = np.floor(py + 0.5)
            bad = ~((ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny))
        ix = np.where(bad, -1, ix).astype(np.int64)
        iy = np.where(bad, -1, iy).astype(np.int64)
        return iy, ix

    def solid_angle(self) -> np.ndarray:
        """Pixel solid angles (sr), shape ``(ny, nx)``.

        Half the norm of the cross product of the pixel's two diagonals (3D unit
        vectors between opposite corners): the area of the planar quadrilateral
        through the four corners. Agrees with gammapy's two-triangle approximation
        to ~1e-8 for sub-degree pixels, and costs a few ms for 250x250 pixels.
        """
        return self._solid_angle

    @cached_property
    def _solid_angle(self) -> np.ndarray:
        ny, nx = self.shape
        # CAR maps pixel columns to native longitude and rows to native latitude, and
        # the native sphere is a rotation of the celestial one: every pixel of a row
        # has the same solid angle, so one column of corners suffices.
        n_cols = 1 if self.projection == "CAR" else nx
        y, x = np.indices((ny + 1, n_cols + 1), dtype=float) - 0.5
        lon, lat = self.pix2world(x, y)
        vx, vy, vz = unit_vectors(lon, lat)
        # half the cross product of the diagonals: area of the corner quadrilateral
        ax, ay, az = (v[1:, 1:] - v[:-1, :-1] for v in (vx, vy, vz))
        bx, by, bz = (v[1:, :-1] - v[:-1, 1:] for v in (vx, vy, vz))
        cx, cy, cz = ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx
        area = 0.5 * np.sqrt(cx * cx + cy * cy + cz * cz)
        area = np.ascontiguousarray(np.broadcast_to(area, (ny, nx)))
        area.setflags(write=False)
        return area

    def separation(self, lon: float, lat: float) -> np.ndarray:
        """Angular distance (deg) of every pixel centre from (lon, lat) in ICRS deg."""
        return self.field_of_view(lon, lat)[2]

    def field_of_view(self, lon: float, lat: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pixel centres relative to a pointing (ICRS deg): RADEC fov_lon, fov_lat, offset.

        See `dl3flow.maps.coords.fov_coordinates`. Cached per pointing: exposure,
        background and IRF maps of one observation share the computation.
        """
        cache = self.__dict__.setdefault("_fov_cache", {})
        key = (float(lon), float(lat))
        if key not in cache:
            ra, dec = self.pixel_centers_icrs()
            result = fov_coordinates(ra, dec, *key)
            for array in result:
                array.setflags(write=False)
            cache.clear()  # one pointing at a time is all a reduction needs
            cache[key] = result
        return cache[key]

    def _position_pixel(self, position) -> tuple[float, float]:
        """Pixel (x, y) of a SkyCoord or of (lon, lat) deg in the geometry frame.

        A SkyCoord goes through `astropy.wcs.utils.skycoord_to_pixel` (as
        ``Cutout2D``); a tuple through its steps for a position already in the
        geometry frame: longitude wrapped (`~astropy.coordinates.Longitude`), then
        ``wcs_world2pix``.
        """
        if _is_skycoord(position):
            from astropy.wcs.utils import skycoord_to_pixel

            px, py = skycoord_to_pixel(position, self.wcs, mode="all")
        else:
            lon, lat = position
            px, py = self.world2pix(wrap_longitude(float(lon)), float(lat))
        return float(px), float(py)

    def cutout(self, position, width, *, min_npix: int = 1) -> tuple[SkyGeom, tuple[slice, slice]]:
        """Pixel-aligned cutout around ``position``, trimmed to this geometry.

        Same as gammapy's ``WcsGeom.cutout(position, width, mode="trim", min_npix=...)``
        (gammapy cuts IRF maps with ``min_npix=3``), which is astropy's
        ``Cutout2D(mode="trim")`` (its arithmetic, step by step, without astropy.nddata).

        Parameters
        ----------
        position : `~astropy.coordinates.SkyCoord` or tuple
            Centre of the cutout; a tuple is (lon, lat) in deg in the geometry frame.
        width : float, Quantity, or pair of them
            Cutout width (lon, lat) in deg.
        min_npix : int
            Smallest number of pixels along each axis.

        Returns
        -------
        geom : `SkyGeom`
            The cutout geometry.
        slices : tuple of slice
            ``(slice_y, slice_x)`` of the cutout inside this geometry.

        Raises
        ------
        GeomError
            If the cutout does not overlap the geometry.
        """
        widths = np.atleast_1d(u.Quantity(width, "deg").value).astype(float)
        if widths.size == 1:
            widths = np.repeat(widths, 2)
        npix = np.clip(widths / np.array(self.binsz), min_npix, None)
        try:
            px, py = self._position_pixel(position)
            slices = _overlap_slices_trim(self.shape, npix[::-1], (py, px))
        except Exception as exc:  # outside the projection, or no overlap
            where = (
                position.to_string("decimal")
                if _is_skycoord(position)
                else f"{wrap_longitude(float(position[0])):g} {float(position[1]):g}"
            )
            raise GeomError(
                f"cutout at {where} with width {widths} deg does not overlap the geometry"
            ) from exc
        ny, nx = (s.stop - s.start for s in slices)
        prm = copy.deepcopy(self._prm)
        prm.crpix -= (slices[1].start, slices[0].start)
        prm.set()
        return SkyGeom._from_wcsprm(prm, (ny, nx)), slices

    def to_binsz(self, binsz: float) -> SkyGeom:
        """Same centre and width, other pixel size (gammapy ``WcsGeom.to_binsz``)."""
        return SkyGeom.create(
            center=self.center_lonlat,
            width=self.width,
            binsz=binsz,
            frame=self.frame,
            proj=self.projection,
        )

    def contains(self, lon, lat) -> np.ndarray:
        iy, _ = self.world_to_index(lon, lat)
        return iy >= 0


def _wcs_header(prm, relax: int) -> fits.Header:
    """``Wcsprm.to_header(relax)`` as `astropy.wcs.WCS.to_header` cleans it up."""
    header = fits.Header.fromstring(prm.to_header(relax))
    for key in ("", " ", "COMMENT"):
        if key in header:
            del header[key]
    return header


def _plain_wcsprm(header: fits.Header):
    """``WCS(header, naxis=2).celestial``'s wcslib parameters, or None if they need astropy.wcs.

    The steps of `astropy.wcs.WCS` for a header without distortions: parse the
    header (its cards without END), keep 2 axes, ``fix`` (None if that changes
    anything: astropy warns), ``set``, keep the celestial axes.
    """
    if "CTYPE1" not in header or "CTYPE2" not in header or int(header.get("NAXIS", 2)) < 2:
        return None
    wcslib = _wcslib()
    text = fits.Header.fromstring(header.tostring().rstrip()).tostring()
    text = text.replace("END" + " " * 77, "")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # anything unusual: let astropy.wcs handle it
        try:
            prm = wcslib.Wcsprm(header=text.encode("ascii"), key=" ", relax=True, keysel=-1)
            prm = prm.sub(2)
            if prm.get_pv() or _fix_changes(prm.fix("", None), prm):
                return None
            prm.set()
            return prm.sub([wcslib.WCSSUB_CELESTIAL])
        except Exception:
            return None


def _overlap_slices_trim(large_shape, small_shape, position) -> tuple[slice, slice]:
    """``astropy.nddata.utils.overlap_slices(..., mode="trim")`` for a ``Cutout2D``.

    ``small_shape`` is rounded to whole pixels as ``Cutout2D`` does; ``position``
    is ``(y, x)``. Raises ValueError where astropy raises (no overlap, NaN).
    """
    shape = [int(np.round(side)) for side in small_shape]
    if not np.all(np.isfinite(position)):
        raise ValueError("Input position contains invalid values (NaNs or infs).")
    indices_min = [int(np.ceil(pos - (n / 2.0))) for pos, n in zip(position, shape, strict=True)]
    indices_max = [int(i + n) for i, n in zip(indices_min, shape, strict=True)]
    for e_max in indices_max:
        if e_max < 0 or (e_max == 0 and tuple(shape) != (0, 0)):
            raise ValueError("Arrays do not overlap.")
    for e_min, n_large in zip(indices_min, large_shape, strict=True):
        if e_min >= n_large:
            raise ValueError("Arrays do not overlap.")
    return tuple(
        slice(max(0, i_min), min(n_large, i_max))
        for i_min, i_max, n_large in zip(indices_min, indices_max, large_shape, strict=True)
    )


@dataclass(frozen=True, eq=False)
class DatasetGeom:
    """All geometries of a map dataset.

    Parameters
    ----------
    sky : `SkyGeom`
        Image of counts, background, exposure and safe mask.
    energy : `EnergyAxis`
        Reconstructed energy (counts, background, mask).
    energy_true : `EnergyAxis`
        True energy (exposure, edisp, psf).
    irf_sky : `SkyGeom`
        Coarse image of the edisp and psf maps.
    rad_edges : `numpy.ndarray`
        PSF radius bin edges in deg.
    """

    sky: SkyGeom
    energy: EnergyAxis
    energy_true: EnergyAxis
    irf_sky: SkyGeom
    rad_edges: np.ndarray = field(default_factory=RAD_EDGES_DEFAULT.copy)

    @classmethod
    def create(
        cls,
        *,
        sky: SkyGeom,
        energy: EnergyAxis,
        energy_true: EnergyAxis,
        binsz_irf: float = BINSZ_IRF_DEFAULT,
        rad_edges=RAD_EDGES_DEFAULT,
    ) -> DatasetGeom:
        """As gammapy's ``MapDataset.create``: the IRF image is ``sky.to_binsz(binsz_irf)``."""
        if energy.name != "energy" or energy_true.name != "energy_true":
            raise GeomError("DatasetGeom needs an 'energy' and an 'energy_true' axis")
        return cls(
            sky=sky,
            energy=energy,
            energy_true=energy_true,
            irf_sky=sky.to_binsz(_to_value(binsz_irf, "deg", "binsz_irf")),
            rad_edges=np.asarray(rad_edges, dtype=float),
        )

    @property
    def rad_centers(self) -> np.ndarray:
        return 0.5 * (self.rad_edges[:-1] + self.rad_edges[1:])

    def cutout(self, position, width) -> tuple[DatasetGeom, dict]:
        """Cutout of both images; returns the geometry and the parent slices.

        ``position`` is a `~astropy.coordinates.SkyCoord` or (lon, lat) in deg in the
        geometry frame (`SkyGeom.cutout`). The slices dict has keys ``"sky"`` and
        ``"irf"`` with ``(slice_y, slice_x)``.
        """
        sky, sky_slices = self.sky.cutout(position, width)
        irf, irf_slices = self.irf_sky.cutout(position, width, min_npix=3)
        geom = DatasetGeom(
            sky=sky,
            energy=self.energy,
            energy_true=self.energy_true,
            irf_sky=irf,
            rad_edges=self.rad_edges,
        )
        return geom, {"sky": sky_slices, "irf": irf_slices}
