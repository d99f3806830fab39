"""On-off map dataset: container and FITS I/O in gammapy's ``MapDatasetOnOff`` layout.

A :class:`MapDatasetOnOff` is what the ring background
(:func:`dl3flow.makers.ring.ring_background`) produces: on counts, off counts (counts
summed over a ring), the background acceptance in the on pixel and in its ring, the
exposure and the safe mask.
``alpha = acceptance / acceptance_off`` scales the off counts to the on pixel.

The file written by :meth:`MapDatasetOnOff.write` has the HDUs of gammapy 1.3's
``MapDatasetOnOff.write`` (COUNTS, EXPOSURE, MASK_SAFE, GTI, META_TABLE, then
COUNTS_OFF, ACCEPTANCE, ACCEPTANCE_OFF, each image with its ``*_BANDS`` table), so
``gammapy.datasets.MapDatasetOnOff.read`` opens it. The energy-dispersion and PSF
maps are not carried: the ring background is an image-analysis product.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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
    _read_image,
    write_hdulist,
)
from dl3flow.datasets.map import _from_hdulist, _shape_check
from dl3flow.io import fits as fitsio
from dl3flow.maps.geom import DatasetGeom

__all__ = ["MapDatasetOnOff", "onoff_alpha", "read_dataset_onoff"]

#: The image HDUs of an on-off dataset file, in the order gammapy writes them.
ONOFF_HDUS = ("COUNTS", "EXPOSURE", "MASK_SAFE", "COUNTS_OFF", "ACCEPTANCE", "ACCEPTANCE_OFF")


def onoff_alpha(acceptance, acceptance_off) -> np.ndarray:
    """``acceptance / acceptance_off`` of an on-off dataset; 0 where ``acceptance_off <= 0``."""
    acceptance, acceptance_off = np.asarray(acceptance), np.asarray(acceptance_off)
    out = np.zeros(acceptance.shape)
    ok = acceptance_off > 0
    out[ok] = acceptance[ok] / acceptance_off[ok]
    return out


@dataclass(frozen=True, eq=False)
class MapDatasetOnOff:
    """On and off counts with their acceptances (gammapy ``MapDatasetOnOff``).

    Parameters
    ----------
    geom : `~dl3flow.maps.geom.DatasetGeom`
        Geometry; for an energy-integrated dataset the reconstructed-energy axis
        has a single bin.
    counts, counts_off : `numpy.ndarray`
        ``(n_energy, ny, nx)`` on counts and off (ring) counts.
    acceptance, acceptance_off : `numpy.ndarray`
        ``(n_energy, ny, nx)`` background acceptance of the on pixel and of the
        off region (ring) around it.
    exposure : `numpy.ndarray`
        ``(n_energy_true, ny, nx)`` in m2 s.
    mask_safe : `numpy.ndarray`
        ``(n_energy, ny, nx)`` bool, True where usable.
    name : str
    meta : dict
        As `dl3flow.datasets.map.MapDataset.meta`.
    gti : `~dl3flow.data.gti.GTITable` or `~astropy.table.Table`, optional

    Raises
    ------
    DatasetError
        When an array's shape does not match the geometry.
    """

    geom: DatasetGeom
    counts: np.ndarray
    counts_off: np.ndarray
    acceptance: np.ndarray
    acceptance_off: np.ndarray
    exposure: np.ndarray
    mask_safe: np.ndarray
    name: str = ""
    meta: dict = field(default_factory=dict)
    gti: GTITable | None = None

    def __post_init__(self):
        if not isinstance(self.geom, DatasetGeom):
            raise DatasetError(f"geom must be a DatasetGeom, got {type(self.geom).__name__}")
        set_ = object.__setattr__
        ny, nx = self.geom.sky.shape
        n_reco, n_true = self.geom.energy.nbin, self.geom.energy_true.nbin
        for name in ("counts", "counts_off", "acceptance", "acceptance_off"):
            set_(self, name, np.asarray(getattr(self, name), dtype=np.float64))
            _shape_check(name, getattr(self, name), (n_reco, ny, nx))
        set_(self, "exposure", np.asarray(self.exposure, dtype=np.float64))
        _shape_check("exposure", self.exposure, (n_true, ny, nx))
        set_(self, "mask_safe", np.asarray(self.mask_safe).astype(bool))
        _shape_check("mask_safe", self.mask_safe, (n_reco, ny, nx))
        set_(self, "meta", dict(self.meta))
        set_(self, "gti", _normalize_gti(self.gti))

    @property
    def alpha(self) -> np.ndarray:
        """``acceptance / acceptance_off``; 0 where ``acceptance_off <= 0``.

        (gammapy returns ``nan_to_num`` of the ratio there, i.e. 0 for 0/0 and
        1.8e308 for x/0; such pixels are outside the safe mask in both.)
        """
        return onoff_alpha(self.acceptance, self.acceptance_off)

    @property
    def background(self) -> np.ndarray:
        """Background estimate in the on pixel, ``alpha * counts_off``."""
        return self.alpha * self.counts_off

    @property
    def excess(self) -> np.ndarray:
        """``counts - alpha * counts_off``."""
        return self.counts - self.background

    def to_hdulist(self) -> fits.HDUList:
        """The dataset as HDUs in gammapy 1.3's ``MapDatasetOnOff`` layout."""
        return fitsio.to_hdulist(self._to_hdus())

    def _to_hdus(self) -> list:
        geom = self.geom
        e, et = geom.energy.edges, geom.energy_true.edges
        primary, *meta_table = _primary_and_meta_table(self)
        exposure_meta = {}
        if "LIVETIME" in self.meta:
            exposure_meta["livetime"] = f"{float(self.meta['LIVETIME'])!r} s"
        hdus = [primary]
        hdus += _image_hdus("COUNTS", self.counts, geom.sky, [("energy", e)], "")
        hdus += _image_hdus(
            "EXPOSURE", self.exposure, geom.sky, [("energy_true", et)], "m2 s", exposure_meta
        )
        hdus += _image_hdus("MASK_SAFE", self.mask_safe, geom.sky, [("energy", e)], "")
        if self.gti is not None:
            hdus.append(_gti_fits_hdu(self.gti))
        hdus += meta_table
        for name in ("COUNTS_OFF", "ACCEPTANCE", "ACCEPTANCE_OFF"):
            hdus += _image_hdus(name, getattr(self, name.lower()), geom.sky, [("energy", e)], "")
        return hdus

    def write(self, path, *, overwrite: bool = False, provenance=None) -> None:
        """Write the dataset to a FITS file, atomically (see `MapDataset.write`).

        ``provenance`` (a `~dl3flow.io.provenance.Provenance` or a dict of header
        keywords) is recorded in the primary header.

        Raises
        ------
        FileExistsError
            When ``path`` exists and ``overwrite`` is False.
        DatasetError
            When ``meta`` cannot be written to FITS.
        """
        write_hdulist(self._to_hdus(), path, overwrite=overwrite, provenance=provenance)


def read_dataset_onoff(path) -> MapDatasetOnOff:
    """Read an on-off dataset written by dl3flow or gammapy's ``MapDatasetOnOff.write``.

    Raises
    ------
    DatasetError
        When the file is missing, unreadable or lacks one of the HDUs in
        ``ONOFF_HDUS``; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    try:
        with fits.open(path, memmap=False) as hdulist:
            for name in ONOFF_HDUS:
                _hdu(hdulist, name, path)
            # reuse the MapDataset reader for geometry, meta and GTI: give it a
            # BACKGROUND to read (the acceptance) so that its checks pass
            hdus = fits.HDUList([h for h in hdulist])
            if "BACKGROUND" not in hdus:
                bkg = hdulist["ACCEPTANCE"].copy()
                bkg.header["EXTNAME"] = "BACKGROUND"
                hdus.append(bkg)
            base = _from_hdulist(hdus, path)
            maps = {
                name.lower(): _read_image(hdulist, name, path)
                for name in ("COUNTS_OFF", "ACCEPTANCE", "ACCEPTANCE_OFF")
            }
    except DatasetError:
        raise
    except Exception as exc:
        raise DatasetError(f"{path}: cannot read on-off dataset: {exc}") from exc
    try:
        return MapDatasetOnOff(
            geom=base.geom,
            counts=base.counts,
            exposure=base.exposure,
            mask_safe=base.mask_safe,
            name=base.name,
            meta=base.meta,
            gti=base.gti,
            **maps,
        )
    except DatasetError as exc:
        raise DatasetError(f"{path}: {exc}") from exc
