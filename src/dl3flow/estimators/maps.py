"""The result of an excess-map estimation and its FITS file (gammapy's ``Maps`` layout).

An :class:`ExcessMaps` holds images per energy band (counts, background, excess,
significance, flux, ...). :func:`write_maps` writes any such images to one FITS
file, an image HDU per quantity plus a shared BANDS table, which gammapy's
``Maps.read`` opens; :func:`read_maps` reads it back. :class:`EstimateError` is the
error of every estimator module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits

from dl3flow.maps.geom import SkyGeom

__all__ = [
    "EstimateError",
    "ExcessMaps",
    "MAP_UNITS",
    "write_maps",
    "read_maps",
]

#: Units of the output maps (FITS BUNIT).
MAP_UNITS = {
    "counts": "",
    "background": "",
    "excess": "",
    "sqrt_ts": "",
    "ts": "",
    "exposure": "cm2 s",
    "flux": "cm-2 s-1",
    "flux_err": "cm-2 s-1",
    "flux_errn": "cm-2 s-1",
    "flux_errp": "cm-2 s-1",
    "flux_ul": "cm-2 s-1",
    "mask": "",
}


class EstimateError(ValueError):
    """Invalid input to the excess-map estimation or an unreadable maps file."""


@dataclass(frozen=True, eq=False)
class ExcessMaps:
    """Result of an excess-map estimation: images per energy band.

    Parameters
    ----------
    sky : `~dl3flow.maps.geom.SkyGeom`
        Image geometry.
    energy_edges : `numpy.ndarray`
        Band edges in TeV (``n_band + 1``).
    maps : dict of str to `numpy.ndarray`
        ``(n_band, ny, nx)`` arrays (NaN outside the safe mask): ``counts``
        (correlated), ``background`` (correlated), ``excess``, ``sqrt_ts``
        (significance), ``ts``, ``exposure`` (cm2 s, power-law weighted, averaged
        over the correlation disc), ``flux``, ``flux_err``, ``flux_ul`` (cm-2 s-1,
        integral in the band), optionally ``flux_errn``, ``flux_errp``, and ``mask``
        (the band's safe mask, bool).
    meta : dict
        Estimation parameters (statistic, correlation radius, ...), written to the
        primary header.
    """

    sky: SkyGeom
    energy_edges: np.ndarray
    maps: dict
    meta: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.maps[name]
        except KeyError:
            raise KeyError(f"no map {name!r}; available: {list(self.maps)}") from None

    @property
    def names(self) -> list[str]:
        return list(self.maps)

    def image(self, name: str, band: int = 0) -> np.ndarray:
        """The 2D image of ``name`` in energy band ``band``."""
        return self[name][band]

    def write(self, path, *, overwrite: bool = False, meta: Mapping | None = None, provenance=None):
        """Write with :func:`write_maps` (``meta`` adds to the stored metadata)."""
        return write_maps(
            self.maps,
            self.sky,
            path,
            energy_edges=self.energy_edges,
            meta={**self.meta, **(meta or {})},
            overwrite=overwrite,
            provenance=provenance,
        )


def write_maps(
    maps: Mapping,
    geom: SkyGeom,
    path,
    *,
    energy_edges,
    units: Mapping | None = None,
    meta: Mapping | None = None,
    overwrite: bool = False,
    provenance=None,
):
    """Write images to one FITS file: an image HDU per quantity plus a BANDS table.

    Each HDU is named after its quantity in upper case (``SQRT_TS``, ``FLUX``, ...),
    has the celestial WCS, ``BUNIT`` and ``BANDSHDU = 'BANDS'``; the shared BANDS
    table gives the energy bands (E_MIN, E_MAX in TeV). This is gammapy's
    ``Maps.write`` layout: ``gammapy.maps.Map.read(path, hdu="sqrt_ts")`` and
    ``Maps.read(path)`` open it. The file is written atomically.

    Parameters
    ----------
    maps : mapping of str to array_like
        ``(n_band, ny, nx)`` arrays (a 2D image is taken as one band); bool arrays
        are stored as integers.
    geom : `~dl3flow.maps.geom.SkyGeom`
    path : str or `~pathlib.Path`
    energy_edges : array_like
        Band edges in TeV, ``n_band + 1``.
    units : mapping, optional
        Units per quantity; default :data:`MAP_UNITS` (else dimensionless).
    meta : mapping, optional
        Scalars for the primary header (FITS keywords, at most 8 characters).
    overwrite : bool
    provenance : `~dl3flow.io.provenance.Provenance` or dict, optional
        Recorded in the primary header (a dict is taken as extra header
        keywords); see `dl3flow.io.provenance.add_to_header`.

    Returns
    -------
    path : `pathlib.Path`

    Raises
    ------
    EstimateError
        If there are no maps, a shape does not match, or a name is not usable as an
        HDU name.
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    """
    from dl3flow import __version__
    from dl3flow.datasets.io import _image_hdus, write_hdulist
    from dl3flow.io import fits as fitsio

    edges = np.asarray(energy_edges, dtype=float)
    units = {**MAP_UNITS, **(units or {})}
    if not maps:
        raise EstimateError("write_maps needs at least one map")
    shape = (edges.size - 1, *geom.shape)
    header = fits.Header()  # the primary header after SIMPLE ... EXTEND
    header["CREATOR"] = f"dl3flow {__version__}"
    for key, value in (meta or {}).items():
        if isinstance(value, np.generic):
            value = value.item()
        try:
            header[key] = value
        except (ValueError, TypeError) as exc:
            raise EstimateError(f"meta {key!r} = {value!r} is not FITS-legal: {exc}") from exc
    hdus = [fitsio.primary_hdu(header)]
    bands = None
    for name, data in maps.items():
        data = np.asarray(data)
        if data.ndim == 2:
            data = data[np.newaxis]
        if data.shape != shape:
            raise EstimateError(f"map {name!r} has shape {data.shape}, expected {shape}")
        hdu_name = str(name).upper()
        if not hdu_name or hdu_name == "BANDS" or not hdu_name.replace("_", "").isalnum():
            raise EstimateError(f"map name {name!r} cannot be an HDU name")
        image, table = _image_hdus(
            hdu_name, data, geom, [("energy", edges)], units.get(name, ""), bands="BANDS"
        )
        bands = bands or table
        hdus.append(image)
    hdus.append(bands)
    write_hdulist(hdus, path, overwrite=overwrite, provenance=provenance)
    return Path(path)


def read_maps(path) -> ExcessMaps:
    """Read a file written by :func:`write_maps` (all image HDUs, lower-case names).

    Raises
    ------
    EstimateError
        If the file cannot be read or has no BANDS table or no image HDU.
    """
    from dl3flow.datasets.io import open_fits

    try:
        with open_fits(path) as hdulist:
            if "BANDS" not in hdulist:
                raise EstimateError(f"{path}: no BANDS table; not a maps file")
            bands = hdulist["BANDS"].data
            edges = np.append(np.asarray(bands["E_MIN"], float), float(bands["E_MAX"][-1]))
            maps, sky = {}, None
            for hdu in list(hdulist)[1:]:
                if str(hdu.header.get("XTENSION", "")).strip() != "IMAGE" or hdu.data is None:
                    continue
                sky = sky or SkyGeom.from_header(hdu.header)
                data = np.asarray(hdu.data)
                if data.dtype.byteorder not in ("=", "|"):
                    data = data.astype(data.dtype.newbyteorder("="))
                name = hdu.name.lower()
                maps[name] = data.astype(bool) if name == "mask" else data
            meta = {
                k: v
                for k, v in hdulist[0].header.items()
                if k not in ("SIMPLE", "BITPIX", "NAXIS", "EXTEND", "COMMENT", "HISTORY", "")
            }
    except EstimateError:
        raise
    except Exception as exc:
        raise EstimateError(f"{path}: cannot read maps: {exc}") from exc
    if not maps:
        raise EstimateError(f"{path}: no image HDUs")
    return ExcessMaps(sky=sky, energy_edges=edges, maps=maps, meta=meta)
