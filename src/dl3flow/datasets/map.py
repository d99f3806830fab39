"""The map dataset: container and its file in gammapy's ``MapDataset`` layout.

A :class:`MapDataset` holds the reduced data of one observation (a cutout of the
analysis geometry) or of many stacked ones: counts, background and safe mask in
reconstructed energy, exposure in true energy, and optionally an energy-dispersion
kernel map (:class:`EDispKernelMap`) and a PSF map (:class:`PSFMap`) on the coarse
IRF image.

The FITS file written by :meth:`MapDataset.write` has exactly the HDU layout of
gammapy 1.3's ``MapDataset.write``, so gammapy reads it with ``MapDataset.read``;
:func:`read_dataset` reads both dl3flow's and gammapy's files (the shared FITS
pieces are in `dl3flow.datasets.io`). Stacking is in `dl3flow.datasets.stacking`.

Array layouts are numpy order, the sky axes last: ``(n_energy, ny, nx)`` and so on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from astropy.io import fits

from dl3flow.data.gti import GTITable
from dl3flow.datasets.io import (
    DatasetError,
    _gti_fits_hdu,
    _hdu,
    _image_hdus,
    _normalize_gti,
    _primary_and_meta_table,
    _read_axis,
    _read_gti,
    _read_image,
    _read_meta,
    read_fits_product,
    write_hdulist,
)
from dl3flow.io import fits as fitsio
from dl3flow.maps.geom import DatasetGeom, EnergyAxis, SkyGeom

__all__ = [
    "EDispKernelMap",
    "PSFMap",
    "MapDataset",
    "read_dataset",
    "empty_dataset",
]

#: gammapy's ``MapDataset.create`` GTI reference: ``Time("2000-01-01")`` (UTC).
GTI_REFERENCE_DEFAULT = (51544, 0.0, "utc")


def _shape_check(name: str, array: np.ndarray, expected: tuple) -> None:
    if array.shape != tuple(int(n) for n in expected):
        raise DatasetError(
            f"{name} has shape {array.shape}, but the geometry needs {tuple(expected)}"
        )


@dataclass(frozen=True, eq=False)
class EDispKernelMap:
    """Energy-dispersion kernels on the IRF image (gammapy ``EDispKernelMap``).

    Parameters
    ----------
    kernel : `numpy.ndarray`
        ``(n_energy_true, n_energy, ny_irf, nx_irf)``: probability of reconstructed
        bin ``j`` given true bin ``i`` in each IRF pixel.
    exposure : `numpy.ndarray`
        ``(n_energy_true, 1, ny_irf, nx_irf)`` in m2 s, the stacking weight
        (gammapy's edisp exposure map, its geometry squashed over "energy").
    """

    kernel: np.ndarray
    exposure: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "kernel", np.asarray(self.kernel, dtype=np.float64))
        object.__setattr__(self, "exposure", np.asarray(self.exposure, dtype=np.float64))

    def _check(self, geom: DatasetGeom) -> None:
        ny, nx = geom.irf_sky.shape
        n_true, n_reco = geom.energy_true.nbin, geom.energy.nbin
        _shape_check("edisp kernel", self.kernel, (n_true, n_reco, ny, nx))
        _shape_check("edisp exposure", self.exposure, (n_true, 1, ny, nx))


@dataclass(frozen=True, eq=False)
class PSFMap:
    """PSF radial profiles on the IRF image (gammapy ``PSFMap``).

    Parameters
    ----------
    psf : `numpy.ndarray`
        ``(n_energy_true, n_rad, ny_irf, nx_irf)`` in sr^-1.
    exposure : `numpy.ndarray`
        ``(n_energy_true, 1, ny_irf, nx_irf)`` in m2 s, the stacking weight.
    """

    psf: np.ndarray
    exposure: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "psf", np.asarray(self.psf, dtype=np.float64))
        object.__setattr__(self, "exposure", np.asarray(self.exposure, dtype=np.float64))

    def _check(self, geom: DatasetGeom) -> None:
        ny, nx = geom.irf_sky.shape
        n_true, n_rad = geom.energy_true.nbin, geom.rad_edges.size - 1
        _shape_check("psf", self.psf, (n_true, n_rad, ny, nx))
        _shape_check("psf exposure", self.exposure, (n_true, 1, ny, nx))


@dataclass(frozen=True, eq=False)
class MapDataset:
    """Reduced data of one observation or of a stack of observations.

    Parameters
    ----------
    geom : `~dl3flow.maps.geom.DatasetGeom`
        Geometry of all maps.
    counts : `numpy.ndarray`
        ``(n_energy, ny, nx)`` float64, integer-valued counts.
    exposure : `numpy.ndarray`
        ``(n_energy_true, ny, nx)`` in m2 s.
    background : `numpy.ndarray`
        ``(n_energy, ny, nx)`` predicted background counts.
    mask_safe : `numpy.ndarray`
        ``(n_energy, ny, nx)`` bool, True where the data are usable.
    edisp : `EDispKernelMap`, optional
    psf : `PSFMap`, optional
    name : str
        Dataset name (the NAME keyword of the file).
    meta : dict
        Observation metadata, e.g. ``OBS_IDS`` (list), ``LIVETIME`` and ``ONTIME`` (s),
        ``RA_PNT``, ``DEC_PNT``, ``TELESCOP``. Keys are FITS keywords (at most 8
        characters of ``A-Z0-9_-``); values are scalars (str, int, float, bool),
        written to the primary header, or 1-D lists, written to the META_TABLE HDU.
    gti : `~dl3flow.data.gti.GTITable` or `~astropy.table.Table`, optional
        Good time intervals: START and STOP in s since the reference time given by
        ``MJDREFI``/``MJDREFF`` (or ``MJDREF``) and ``TIMESYS`` (default "tt") in its
        meta. Stored as a normalised `~dl3flow.data.gti.GTITable` (which reads like a
        Table; ``gti.to_table()`` gives one).

    Raises
    ------
    DatasetError
        When an array's shape does not match the geometry (the message names the
        array and both shapes) or the GTI table is malformed.
    """

    geom: DatasetGeom
    counts: np.ndarray
    exposure: np.ndarray
    background: np.ndarray
    mask_safe: np.ndarray
    edisp: EDispKernelMap | None = None
    psf: PSFMap | None = None
    name: str = ""
    meta: dict = field(default_factory=dict)
    gti: GTITable | None = None

    def __post_init__(self):
        if not isinstance(self.geom, DatasetGeom):
            raise DatasetError(f"geom must be a DatasetGeom, got {type(self.geom).__name__}")
        set_ = object.__setattr__
        set_(self, "counts", np.asarray(self.counts, dtype=np.float64))
        set_(self, "exposure", np.asarray(self.exposure, dtype=np.float64))
        set_(self, "background", np.asarray(self.background, dtype=np.float64))
        mask = np.asarray(self.mask_safe)
        if mask.dtype != bool:
            mask = mask.astype(bool)
        set_(self, "mask_safe", mask)
        ny, nx = self.geom.sky.shape
        n_reco, n_true = self.geom.energy.nbin, self.geom.energy_true.nbin
        _shape_check("counts", self.counts, (n_reco, ny, nx))
        _shape_check("exposure", self.exposure, (n_true, ny, nx))
        _shape_check("background", self.background, (n_reco, ny, nx))
        _shape_check("mask_safe", self.mask_safe, (n_reco, ny, nx))
        if self.edisp is not None:
            if not isinstance(self.edisp, EDispKernelMap):
                raise DatasetError("edisp must be an EDispKernelMap")
            self.edisp._check(self.geom)
        if self.psf is not None:
            if not isinstance(self.psf, PSFMap):
                raise DatasetError("psf must be a PSFMap")
            self.psf._check(self.geom)
        set_(self, "meta", dict(self.meta))
        set_(self, "gti", _normalize_gti(self.gti))

    @property
    def mask_safe_image(self) -> np.ndarray:
        """``(ny, nx)`` safe mask reduced over energy with logical OR."""
        return np.logical_or.reduce(self.mask_safe, axis=0)

    def to_hdulist(self) -> fits.HDUList:
        """The dataset as HDUs in gammapy 1.3's ``MapDataset`` layout."""
        return fitsio.to_hdulist(_to_hdus(self))

    def write(self, path, *, overwrite: bool = False, provenance=None) -> None:
        """Write the dataset to a FITS file, atomically.

        The HDUs are written to a temporary file in the target directory which is
        then renamed onto ``path``: readers never see a partial file, and a failure
        leaves any existing file untouched.

        Parameters
        ----------
        path : str or `~pathlib.Path`
        overwrite : bool
            Replace an existing file.
        provenance : `~dl3flow.io.provenance.Provenance` or dict, optional
            Recorded in the primary header (a dict is taken as extra header
            keywords); see `dl3flow.io.provenance.add_to_header`.

        Raises
        ------
        FileExistsError
            When ``path`` exists and ``overwrite`` is False.
        DatasetError
            When ``meta`` cannot be written to FITS.
        """
        write_hdulist(_to_hdus(self), path, overwrite=overwrite, provenance=provenance)


def _to_hdus(ds: MapDataset) -> list[fitsio.FitsHDU]:
    geom = ds.geom
    e, et = geom.energy.edges, geom.energy_true.edges
    e_squashed = e[[0, -1]]
    rad = geom.rad_edges
    primary, *meta_table = _primary_and_meta_table(ds)
    exposure_meta = {}
    if "LIVETIME" in ds.meta:
        exposure_meta["livetime"] = f"{float(ds.meta['LIVETIME'])!r} s"
    hdus = [primary]
    hdus += _image_hdus("COUNTS", ds.counts, geom.sky, [("energy", e)], "")
    hdus += _image_hdus(
        "EXPOSURE", ds.exposure, geom.sky, [("energy_true", et)], "m2 s", exposure_meta
    )
    hdus += _image_hdus("BACKGROUND", ds.background, geom.sky, [("energy", e)], "")
    if ds.edisp is not None:
        axes = [("energy", e), ("energy_true", et)]
        hdus += _image_hdus("EDISP", ds.edisp.kernel, geom.irf_sky, axes, "")
        axes = [("energy", e_squashed), ("energy_true", et)]
        hdus += _image_hdus("EDISP_EXPOSURE", ds.edisp.exposure, geom.irf_sky, axes, "m2 s")
    if ds.psf is not None:
        axes = [("rad", rad), ("energy_true", et)]
        hdus += _image_hdus("PSF", ds.psf.psf, geom.irf_sky, axes, "sr-1")
        axes = [("rad", rad[[0, -1]]), ("energy_true", et)]
        hdus += _image_hdus("PSF_EXPOSURE", ds.psf.exposure, geom.irf_sky, axes, "m2 s")
    hdus += _image_hdus("MASK_SAFE", ds.mask_safe, geom.sky, [("energy", e)], "")
    if ds.gti is not None:
        hdus.append(_gti_fits_hdu(ds.gti))
    hdus += meta_table
    return hdus


def read_dataset(path) -> MapDataset:
    """Read a dataset written by :meth:`MapDataset.write` or gammapy's ``MapDataset.write``.

    Parameters
    ----------
    path : str or `~pathlib.Path`

    Returns
    -------
    dataset : `MapDataset`
        ``meta`` comes from the primary header (scalars) and the META_TABLE HDU
        (lists; in gammapy files the ``OBS_ID`` column becomes ``OBS_IDS``); for a
        gammapy file without a LIVETIME keyword it is taken from the exposure map's
        ``livetime`` meta.

    Raises
    ------
    DatasetError
        When the file cannot be read as FITS, an HDU is missing, or the content is
        not a dataset dl3flow supports (e.g. an edisp map with a migra axis). The
        message names the file.
    """
    return read_fits_product(path, _from_hdulist, what="dataset", fast=True)


def _from_hdulist(hdulist, path) -> MapDataset:
    for required in ("COUNTS", "EXPOSURE", "BACKGROUND", "MASK_SAFE"):
        _hdu(hdulist, required, path)
    sky = SkyGeom.from_header(hdulist["COUNTS"].header)
    energy = EnergyAxis(_read_axis(hdulist, "COUNTS", "energy", path), name="energy")
    energy_true = EnergyAxis(
        _read_axis(hdulist, "EXPOSURE", "energy_true", path), name="energy_true"
    )
    irf_sky, rad_edges = None, None
    edisp = psf = None
    if "EDISP" in hdulist:
        header = hdulist["EDISP"].header
        if "MIGRA" in str(header.get("AXCOLS1", "")).upper():
            raise DatasetError(f"{path}: EDISP has a migra axis; only kernel maps are supported")
        irf_sky = SkyGeom.from_header(header)
        edisp = EDispKernelMap(
            kernel=_read_image(hdulist, "EDISP", path),
            exposure=_read_image(hdulist, "EDISP_EXPOSURE", path, "m2 s"),
        )
    if "PSF" in hdulist:
        header = hdulist["PSF"].header
        if (
            "RAD" not in str(header.get("AXCOLS1", "")).upper()
            or "ENERGY_TRUE" not in str(header.get("AXCOLS2", "")).upper()
        ):
            raise DatasetError(f"{path}: PSF is not a (rad, energy_true) PSF map")
        psf_sky = SkyGeom.from_header(header)
        if irf_sky is None:
            irf_sky = psf_sky
        elif psf_sky.shape != irf_sky.shape or not irf_sky.wcsprm.compare(psf_sky.wcsprm):
            raise DatasetError(f"{path}: EDISP and PSF maps have different geometries")
        rad_edges = _read_axis(hdulist, "PSF", "rad", path)
        psf = PSFMap(
            psf=_read_image(hdulist, "PSF", path, "sr-1"),
            exposure=_read_image(hdulist, "PSF_EXPOSURE", path, "m2 s"),
        )
    if irf_sky is None:
        irf_sky = sky.to_binsz(0.2)
    kwargs = {} if rad_edges is None else {"rad_edges": rad_edges}
    geom = DatasetGeom(sky=sky, energy=energy, energy_true=energy_true, irf_sky=irf_sky, **kwargs)
    gti = None
    if "GTI" in hdulist:
        gti = _read_gti(hdulist["GTI"])
    name, meta = _read_meta(hdulist, path)
    try:
        return MapDataset(
            geom=geom,
            counts=_read_image(hdulist, "COUNTS", path),
            exposure=_read_image(hdulist, "EXPOSURE", path, "m2 s"),
            background=_read_image(hdulist, "BACKGROUND", path),
            mask_safe=_read_image(hdulist, "MASK_SAFE", path).astype(bool),
            edisp=edisp,
            psf=psf,
            name=name,
            meta=meta,
            gti=gti,
        )
    except DatasetError as exc:
        raise DatasetError(f"{path}: {exc}") from exc


# ------------------------------------------------------------------------------ creation


def _empty_gti(reference=GTI_REFERENCE_DEFAULT) -> GTITable:
    mjdrefi, mjdreff, timesys = reference
    return _normalize_gti(
        GTITable(
            start=np.zeros(0),
            stop=np.zeros(0),
            meta={"MJDREFI": mjdrefi, "MJDREFF": mjdreff, "TIMESYS": timesys},
        )
    )


def empty_dataset(geom: DatasetGeom, *, name: str = "stacked") -> MapDataset:
    """Zero-filled dataset with an all-False safe mask, as gammapy's ``MapDataset.create``.

    It has an edisp kernel map and a PSF map (zeros), an empty GTI table referenced
    to 2000-01-01 UTC and empty ``meta``.
    """
    ny, nx = geom.sky.shape
    nyi, nxi = geom.irf_sky.shape
    n_reco, n_true, n_rad = geom.energy.nbin, geom.energy_true.nbin, geom.rad_edges.size - 1
    return MapDataset(
        geom=geom,
        counts=np.zeros((n_reco, ny, nx)),
        exposure=np.zeros((n_true, ny, nx)),
        background=np.zeros((n_reco, ny, nx)),
        mask_safe=np.zeros((n_reco, ny, nx), dtype=bool),
        edisp=EDispKernelMap(
            kernel=np.zeros((n_true, n_reco, nyi, nxi)), exposure=np.zeros((n_true, 1, nyi, nxi))
        ),
        psf=PSFMap(
            psf=np.zeros((n_true, n_rad, nyi, nxi)), exposure=np.zeros((n_true, 1, nyi, nxi))
        ),
        name=name,
        meta={},
        gti=_empty_gti(),
    )
