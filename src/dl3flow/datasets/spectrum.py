"""1D ON/OFF spectrum dataset: container and FITS I/O in gammapy's layouts.

A :class:`SpectrumDatasetOnOff` holds what gammapy 1.3's ``SpectrumDatasetOnOff``
holds for one observation (or a stack): ON counts, OFF counts from the union of
the OFF regions, the acceptances (1 in the ON region, the number of OFF regions
off), the exposure on the true-energy axis, the energy-dispersion matrix
(true x reco) with its exposure weights, the safe mask, the GTI and the regions.

Files
-----
:meth:`SpectrumDatasetOnOff.write`
    gammapy's ``gadf`` serialisation (``SpectrumDatasetOnOff.write(format="gadf")``):
    region-map tables COUNTS, EXPOSURE, EDISP, EDISP_EXPOSURE, MASK_SAFE, COUNTS_OFF,
    ACCEPTANCE, ACCEPTANCE_OFF, each with its ``*_BANDS`` and ``*_REGION`` table,
    GTI and META_TABLE. ``gammapy.datasets.SpectrumDatasetOnOff.read(path,
    format="gadf")`` opens it.
:meth:`SpectrumDatasetOnOff.write_ogip`
    OGIP PHA, ``_arf``, ``_rmf`` and ``_bkg`` files as gammapy's ``OGIPDatasetWriter``
    (what XSPEC, Sherpa and 3ML read); ``SpectrumDatasetOnOff.read(pha_path)`` opens it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits

from dl3flow.data.gti import GTITable
from dl3flow.datasets.io import (
    DatasetError,
    _gti_hdu,
    _hdu,
    _normalize_gti,
    _primary_and_meta_table,
    _read_gti,
    _read_meta,
    _table_hdu,
    read_fits_product,
    write_hdulist,
)
from dl3flow.datasets.onoff import onoff_alpha
from dl3flow.io import fits as fitsio
from dl3flow.maps.geom import EnergyAxis, SkyGeom
from dl3flow.maps.regions import CircleRegion, OffRegions, pixel_to_sky, sky_to_pixel

__all__ = ["SpectrumDatasetOnOff", "read_spectrum_dataset", "SPECTRUM_HDUS"]

#: The region-map HDUs of a spectrum file, in the order gammapy writes them.
SPECTRUM_HDUS = (
    "COUNTS",
    "EXPOSURE",
    "EDISP",
    "EDISP_EXPOSURE",
    "MASK_SAFE",
    "COUNTS_OFF",
    "ACCEPTANCE",
    "ACCEPTANCE_OFF",
)

#: Pixel size (deg) of the WCS gammapy's ``RegionGeom`` gives an ON region.
ON_BINSZ = 0.1


def _vector(name: str, value, n: int, dtype=np.float64) -> np.ndarray:
    arr = np.array(value, dtype=dtype)
    if arr.ndim == 0:
        arr = np.full(n, arr, dtype=dtype)
    if arr.shape != (n,):
        raise DatasetError(f"{name} has shape {arr.shape}, the energy axis needs ({n},)")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class SpectrumDatasetOnOff:
    """ON/OFF spectrum of one observation or a stack (gammapy ``SpectrumDatasetOnOff``).

    Parameters
    ----------
    energy, energy_true : `~dl3flow.maps.geom.EnergyAxis`
        Reconstructed (``n_e`` bins) and true (``n_t`` bins) energy axes.
    counts, counts_off : array_like
        ``(n_e,)`` ON counts and OFF counts (union of the OFF regions).
    acceptance, acceptance_off : array_like
        ``(n_e,)`` background acceptance of the ON region (1) and of the OFF regions
        (their number); ``alpha = acceptance / acceptance_off``.
    exposure : array_like
        ``(n_t,)`` in m2 s (containment-corrected when requested).
    edisp : array_like
        ``(n_t, n_e)`` migration probabilities.
    mask_safe : array_like
        ``(n_e,)`` bool, True where usable.
    livetime : float
        Seconds.
    on_region : `~dl3flow.maps.regions.CircleRegion`
    off_regions : `~dl3flow.maps.regions.OffRegions`, optional
        None for a stack (regions differ per observation).
    edisp_exposure : array_like, optional
        ``(n_t,)`` exposure weighting ``edisp`` in stacking (gammapy's edisp exposure
        map: aeff x livetime, no containment); default ``exposure``.
    name : str
    meta : dict
        Scalar FITS-legal keywords (``OBS_ID``, ``LIVETIME``...) or 1-D lists.
    gti : `~dl3flow.data.gti.GTITable`, optional

    Raises
    ------
    DatasetError
        When an array's shape does not match the axes.
    """

    energy: EnergyAxis
    energy_true: EnergyAxis
    counts: np.ndarray
    counts_off: np.ndarray
    acceptance: np.ndarray
    acceptance_off: np.ndarray
    exposure: np.ndarray
    edisp: np.ndarray
    mask_safe: np.ndarray
    livetime: float
    on_region: CircleRegion
    off_regions: OffRegions | None = None
    edisp_exposure: np.ndarray | None = None
    name: str = ""
    meta: dict = field(default_factory=dict)
    gti: GTITable | None = None

    def __post_init__(self):
        set_ = object.__setattr__
        n_e, n_t = self.energy.nbin, self.energy_true.nbin
        for name in ("counts", "counts_off", "acceptance", "acceptance_off"):
            set_(self, name, _vector(name, getattr(self, name), n_e))
        set_(self, "mask_safe", _vector("mask_safe", self.mask_safe, n_e, dtype=bool))
        set_(self, "exposure", _vector("exposure", self.exposure, n_t))
        weights = self.exposure if self.edisp_exposure is None else self.edisp_exposure
        set_(self, "edisp_exposure", _vector("edisp_exposure", weights, n_t))
        edisp = np.array(self.edisp, dtype=np.float64)
        if edisp.shape != (n_t, n_e):
            raise DatasetError(f"edisp has shape {edisp.shape}, the axes need {(n_t, n_e)}")
        edisp.setflags(write=False)
        set_(self, "edisp", edisp)
        set_(self, "livetime", float(self.livetime))
        set_(self, "meta", dict(self.meta))
        set_(self, "gti", _normalize_gti(self.gti))

    @property
    def alpha(self) -> np.ndarray:
        """``acceptance / acceptance_off``; 0 where ``acceptance_off <= 0``."""
        return onoff_alpha(self.acceptance, self.acceptance_off)

    @property
    def background(self) -> np.ndarray:
        """``alpha * counts_off`` per bin."""
        return self.alpha * self.counts_off

    @property
    def excess(self) -> np.ndarray:
        """``counts - alpha * counts_off`` per bin."""
        return self.counts - self.background

    @property
    def n_off_regions(self) -> int:
        """Number of OFF regions (0 for a stack without region list)."""
        return 0 if self.off_regions is None else len(self.off_regions)

    @property
    def safe_energy_range(self) -> tuple[float, float] | None:
        """(lower, upper) edge in TeV of the safe reco bins; None if none is safe."""
        safe = np.flatnonzero(self.mask_safe)
        if safe.size == 0:
            return None
        return float(self.energy.lo[safe[0]]), float(self.energy.hi[safe[-1]])

    def to_hdulist(self) -> fits.HDUList:
        """The dataset as HDUs in gammapy 1.3's gadf ``SpectrumDatasetOnOff`` layout."""
        return _to_hdulist(self)

    def write(self, path, *, overwrite: bool = False, provenance=None) -> None:
        """Write the gadf layout atomically (see `dl3flow.datasets.io.write_hdulist`).

        Raises
        ------
        FileExistsError
            When ``path`` exists and ``overwrite`` is False.
        """
        write_hdulist(self.to_hdulist(), path, overwrite=overwrite, provenance=provenance)

    def write_ogip(self, path, *, overwrite: bool = False) -> dict[str, Path]:
        """Write OGIP PHA, ARF, RMF and BKG files as gammapy's ``OGIPDatasetWriter``.

        ``path`` is the PHA file; the others are named ``<stem>_arf``, ``_rmf`` and
        ``_bkg`` beside it and referenced from the PHA header.

        Returns
        -------
        dict
            ``{"pha": ..., "arf": ..., "rmf": ..., "bkg": ...}`` paths.
        """
        from dl3flow.datasets.ogip import write_ogip

        return write_ogip(self, path, overwrite=overwrite)


# ---------------------------------------------------------------------- gadf writing


def _axis_specs(axes) -> list[tuple[str, str, np.ndarray, np.ndarray, np.ndarray]]:
    specs = []
    for axis in axes:
        if axis.name == "energy":
            names = ("ENERGY", "E_MIN", "E_MAX")
        else:
            names = ("ENERGY_TRUE", "ENERGY_TRUE_MIN", "ENERGY_TRUE_MAX")
        specs.append((*names, axis.centers, axis.lo, axis.hi))
    return specs


def _axes_header(header: fits.Header, axes) -> None:
    for idx, (_, lo_name, hi_name, *_) in enumerate(_axis_specs(axes), start=1):
        header[f"AXCOLS{idx}"] = f"{lo_name},{hi_name}"
        header[f"INTERP{idx}"] = "log"


def _bands_hdu(name: str, axes) -> fits.BinTableHDU:
    """``MapAxes.to_table_hdu(format="gadf")``: one row per bin combination (first axis fastest)."""
    specs = _axis_specs(axes)
    grids = [np.meshgrid(*[s[k] for s in specs]) for k in (3, 4, 5)]
    n = int(np.prod([len(s[3]) for s in specs]))
    columns = [fits.Column(name="CHANNEL", format="K", array=np.arange(n))]
    for idx, spec in enumerate(specs):
        for col, grid in zip(spec[:3], grids, strict=True):
            columns.append(fits.Column(name=col, format="D", unit="TeV", array=grid[idx].ravel()))
    hdu = _table_hdu(columns, name=f"{name}_BANDS")
    _axes_header(hdu.header, axes)
    return hdu


def _region_hdu(name: str, geom: SkyGeom, pixels: np.ndarray, points: bool) -> fits.BinTableHDU:
    """The ``*_REGION`` table: pixel circles (or points) in ``geom``'s WCS."""
    n = len(pixels)
    text = "point" if points else "circle"
    columns = [
        fits.Column(name="SHAPE", format=f"{len(text)}A", array=np.array([text] * n)),
        fits.Column(name="X", format="D", unit="pix", array=pixels[:, 0]),
        fits.Column(name="Y", format="D", unit="pix", array=pixels[:, 1]),
        fits.Column(name="R", format="D", unit="pix", array=pixels[:, 2]),
        fits.Column(name="ROTANG", format="D", unit="deg", array=np.zeros(n)),
    ]
    extname = f"{name}_REGION" if name else "REGION"
    hdu = _table_hdu(columns, name=extname)
    for card in geom.to_header().cards:
        hdu.header[card.keyword] = (card.value, card.comment)
    ny, nx = geom.shape
    hdu.header["WCSSHAPE"] = f"({nx},{ny})"
    hdu.name = extname
    return hdu


def _region_map_hdus(name, data, axes, unit, fmt, region) -> list:
    """A gammapy ``RegionNDMap.to_hdulist(format="gadf")``: map, bands, region tables.

    ``data`` has the numpy shape of the map without its two spatial axes, the last
    axis (the table rows) first, e.g. ``(n_true, n_reco)`` for the edisp. ``region``
    makes the region table for an HDU name (rebuilt each time: copying an HDU
    imports astropy.table).
    """
    data = np.asarray(data)
    rows = data.shape[0]
    cell = data.shape[1:][::-1]  # FITS order
    per_row = int(np.prod(data.shape[1:], dtype=int))
    dim = "(1,1" + "".join(f",{n}" for n in cell) + ")"
    array = data.reshape(rows, *data.shape[1:], 1, 1)
    columns = [
        fits.Column(name="CHANNEL", format="I", array=np.arange(rows, dtype=np.int16)),
        fits.Column(
            name="DATA",
            format=f"{per_row}{fmt}" if per_row > 1 else fmt,
            unit=unit,
            dim=dim,
            array=array,
        ),
    ]
    hdu = _table_hdu(columns, name=name)
    hdu.header["TUNIT2"] = unit
    _axes_header(hdu.header, axes)
    hdu.name = name
    return [hdu, _bands_hdu(name, axes), region(name)]


def _on_geom(region: CircleRegion) -> SkyGeom:
    """gammapy ``RegionGeom``'s WCS for a single region: TAN, 0.1 deg, centred on it."""
    radius_pix = 0.0 if region.is_point else region.radius / ON_BINSZ
    # bounding box of the pixel circle centred on a pixel corner (gammapy's first WCS)
    n = max(1, int(np.floor(0.5 + radius_pix + 0.5) + 1 - np.floor(0.5 - radius_pix + 0.5)))
    return SkyGeom.create(
        center=(region.ra, region.dec), width=n * ON_BINSZ, binsz=ON_BINSZ, proj="TAN"
    )


def _on_region_hdu(region: CircleRegion, name: str = "ON") -> fits.BinTableHDU:
    """The ``{name}_REGION`` table of the ON region in its ``RegionGeom`` WCS."""
    geom = _on_geom(region)
    pixels = np.array([sky_to_pixel(geom, region)])
    return _region_hdu(name, geom, pixels, region.is_point)


def _off_region_hdu(ds: SpectrumDatasetOnOff, name: str = "OFF") -> fits.BinTableHDU:
    """OFF regions in their reference WCS; an empty table (ON WCS) without any."""
    off = ds.off_regions
    if off is None or len(off) == 0:
        return _region_hdu(name, _on_geom(ds.on_region), np.zeros((0, 3)), False)
    points = any(r.is_point for r in off.regions)
    return _region_hdu(name, off.geom, np.asarray(off.pixels), points)


def _to_hdulist(ds: SpectrumDatasetOnOff) -> fits.HDUList:
    meta = dict(ds.meta)
    meta.setdefault("LIVETIME", ds.livetime)
    primary, *meta_table = fitsio.to_hdulist(_primary_and_meta_table(_MetaView(ds.name, meta)))

    def on(name):
        return _on_region_hdu(ds.on_region, name)

    def off(name):
        return _off_region_hdu(ds, name)

    e, et = (ds.energy,), (ds.energy_true,)
    hdus = [primary]
    hdus += _region_map_hdus("COUNTS", ds.counts.astype(np.float32), e, "", "E", on)
    hdus += _region_map_hdus("EXPOSURE", ds.exposure, et, "m2 s", "D", on)
    hdus.append(on("BACKGROUND"))  # gammapy writes the (absent) background's region too
    hdus += _region_map_hdus("EDISP", ds.edisp, (ds.energy, ds.energy_true), "", "D", on)
    squashed = EnergyAxis(ds.energy.edges[[0, -1]], name="energy")
    hdus += _region_map_hdus(
        "EDISP_EXPOSURE", ds.edisp_exposure[:, None], (squashed, ds.energy_true), "m2 s", "D", on
    )
    hdus += _region_map_hdus("MASK_SAFE", ds.mask_safe, e, "", "L", on)
    if ds.gti is not None:
        hdus.append(_gti_hdu(ds.gti))
    hdus += meta_table
    hdus += _region_map_hdus("COUNTS_OFF", ds.counts_off.astype(np.float32), e, "", "E", off)
    hdus += _region_map_hdus("ACCEPTANCE", ds.acceptance, e, "", "D", on)
    hdus += _region_map_hdus("ACCEPTANCE_OFF", ds.acceptance_off, e, "", "D", off)
    return fits.HDUList(hdus)


@dataclass(frozen=True)
class _MetaView:
    """What `dl3flow.datasets.io._primary_and_meta_table` reads of a dataset."""

    name: str
    meta: dict


# ---------------------------------------------------------------------- gadf reading


def _read_region_map(hdulist, name: str, path, *, matrix: bool = False) -> np.ndarray:
    """The DATA column: ``(rows,)``, or ``(rows, n)`` for the edisp matrix."""
    hdu = _hdu(hdulist, name, path)
    data = np.asarray(hdu.data["DATA"])
    return data.reshape(data.shape[0], -1) if matrix else data.reshape(-1)


def _read_axis(hdulist, name: str, lo: str, hi: str, path) -> np.ndarray:
    hdu = _hdu(hdulist, f"{name}_BANDS", path)
    lo_v, hi_v = np.asarray(hdu.data[lo], dtype=float), np.asarray(hdu.data[hi], dtype=float)
    edges = np.unique(np.concatenate([lo_v, hi_v]))
    return edges


def _read_regions(hdulist, name: str, path) -> tuple[list[CircleRegion], SkyGeom | None]:
    key = f"{name}_REGION"
    if key not in hdulist:
        return [], None
    hdu = hdulist[key]
    header = hdu.header.copy()
    shape = header.get("WCSSHAPE", "(1,1)").strip("()").split(",")
    geom = SkyGeom.from_header(header)
    geom = SkyGeom(geom.wcs, (int(shape[1]), int(shape[0])))

    regions = []
    names = hdu.columns.names
    for row in hdu.data:
        point = str(row["SHAPE"]).strip().lower() == "point"
        r = 0.0 if point or "R" not in names else float(row["R"])
        regions.append(pixel_to_sky(geom, float(row["X"]), float(row["Y"]), r, point=point))
    return regions, geom


def read_spectrum_dataset(path) -> SpectrumDatasetOnOff:
    """Read a spectrum file written by dl3flow or gammapy's ``write(format="gadf")``.

    Raises
    ------
    DatasetError
        When the file is missing, unreadable or lacks one of :data:`SPECTRUM_HDUS`;
        the message names the file.
    """
    return read_fits_product(path, _from_hdulist, what="spectrum dataset")


def _from_hdulist(hdulist, path) -> SpectrumDatasetOnOff:
    for name in SPECTRUM_HDUS:
        _hdu(hdulist, name, path)
    energy = EnergyAxis(_read_axis(hdulist, "COUNTS", "E_MIN", "E_MAX", path), name="energy")
    energy_true = EnergyAxis(
        _read_axis(hdulist, "EXPOSURE", "ENERGY_TRUE_MIN", "ENERGY_TRUE_MAX", path),
        name="energy_true",
    )
    name, meta = _read_meta(hdulist, path)
    on, _ = _read_regions(hdulist, "COUNTS", path)
    off, off_geom = _read_regions(hdulist, "COUNTS_OFF", path)
    off_regions = OffRegions(tuple(off), off_geom) if off_geom is not None else None
    livetime = float(meta.get("LIVETIME", 0.0))
    gti = _read_gti(hdulist["GTI"]) if "GTI" in hdulist else None
    return SpectrumDatasetOnOff(
        energy=energy,
        energy_true=energy_true,
        counts=_read_region_map(hdulist, "COUNTS", path),
        counts_off=_read_region_map(hdulist, "COUNTS_OFF", path),
        acceptance=_read_region_map(hdulist, "ACCEPTANCE", path),
        acceptance_off=_read_region_map(hdulist, "ACCEPTANCE_OFF", path),
        exposure=_read_region_map(hdulist, "EXPOSURE", path),
        edisp=_read_region_map(hdulist, "EDISP", path, matrix=True),
        edisp_exposure=_read_region_map(hdulist, "EDISP_EXPOSURE", path),
        mask_safe=_read_region_map(hdulist, "MASK_SAFE", path).astype(bool),
        livetime=livetime,
        on_region=on[0] if on else CircleRegion(0.0, 0.0),
        off_regions=off_regions,
        name=name,
        meta=meta,
        gti=gti,
    )
