"""The safe mask's file and the per-observation safe-energy table.

:func:`write_safe_mask` stores a `~dl3flow.makers.safe.SafeMask` as
``results/{analysis}/obs/{obs_id}/mask_safe.fits`` (a primary header with every
method's result, then the mask in gammapy's map layout), :func:`read_safe_mask` reads
it back, and :func:`safe_energy_table` lists the safe energy range of each observation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import astropy.units as u
import numpy as np
from astropy.io import fits

from dl3flow.datasets.io import (
    _image_hdus,
    _read_axis,
    _read_image,
    _utc_now,
    open_fits,
    write_hdulist,
)
from dl3flow.datasets.rejection import rejection_of
from dl3flow.io import fits as fitsio
from dl3flow.io.provenance import add_to_header
from dl3flow.makers.safe import SafeMask, _read_float
from dl3flow.makers.safe_methods import MethodResult, SafeMaskError
from dl3flow.maps.geom import EnergyAxis, SkyGeom

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = ["safe_energy_table", "write_safe_mask", "read_safe_mask"]


def safe_energy_table(masks: Iterable[SafeMask], observations: Table | None = None) -> Table:
    """One row per observation: its safe energy range and zenith angle.

    Parameters
    ----------
    masks : iterable of SafeMask
    observations : `~astropy.table.Table`, optional
        Obs-index rows (``OBS_ID``, ``ZEN_PNT`` in deg) for the zenith angles.

    Returns
    -------
    `~astropy.table.Table`
        Columns ``obs_id``, ``methods`` (comma-separated), ``energy_min`` and
        ``energy_max`` (TeV, combined thresholds; NaN: no cut, ``energy_min`` inf: no
        safe energy), ``energy_min_binned`` / ``energy_max_binned`` (TeV, edges of the
        safe reco-energy bins; NaN if none), ``offset_max`` (deg; NaN without the
        ``offset-max`` method) and ``zenith`` (deg; NaN if unknown).
    """
    zenith = {}
    if observations is not None and "ZEN_PNT" in observations.colnames:
        column = observations["ZEN_PNT"]
        values = u.Quantity(column, column.unit or "deg").to_value("deg")
        zenith = {int(i): float(z) for i, z in zip(observations["OBS_ID"], values, strict=True)}
    rows = []
    for safe in masks:
        if safe.rejection is not None:  # listed in the rejected-observations table
            continue
        binned = safe.binned_range or (np.nan, np.nan)
        rows.append(
            (
                -1 if safe.obs_id is None else safe.obs_id,
                ",".join(safe.methods),
                np.nan if safe.energy_min is None else safe.energy_min,
                np.nan if safe.energy_max is None else safe.energy_max,
                binned[0],
                binned[1],
                safe.parameters.get("offset_max", np.nan)
                if "offset-max" in safe.methods
                else np.nan,
                zenith.get(safe.obs_id, np.nan),
            )
        )
    names = (
        "obs_id",
        "methods",
        "energy_min",
        "energy_max",
        "energy_min_binned",
        "energy_max_binned",
        "offset_max",
        "zenith",
    )
    dtype = (int, str, float, float, float, float, float, float)
    from astropy.table import Table

    table = Table(rows=rows or None, names=names, dtype=dtype)
    for name in names[2:6]:
        table[name].unit = "TeV"
    table["offset_max"].unit = "deg"
    table["zenith"].unit = "deg"
    table.meta["description"] = (
        "Safe energy range per observation (dl3flow.safe_mask); thresholds NaN = no cut"
    )
    return table


# --------------------------------------------------------------------------------- I/O


def _header_float(value: float | None):
    """FITS-safe value: None and non-finite numbers become strings."""
    if value is None:
        return "none"
    if not np.isfinite(value):
        return "inf" if value > 0 else "nan"
    return float(value)


def write_safe_mask(
    safe: SafeMask, path, *, overwrite: bool = False, provenance: Mapping | None = None
) -> Path:
    """Write a :class:`SafeMask` to FITS atomically.

    The file has a primary HDU whose header records the obs id, methods,
    parameters, the combined energy range (``E_MIN``/``E_MAX``, TeV; the string
    ``none`` where no method cuts) and each method's result (``M<i>NAME``,
    ``M<i>EMIN``, ``M<i>EMAX``, ``M<i>NOTE``), then a ``MASK_SAFE`` image with its
    ``MASK_SAFE_BANDS`` table in gammapy's map layout
    (``gammapy.maps.Map.read(path, hdu="MASK_SAFE")`` reads it).

    Parameters
    ----------
    safe : SafeMask
    path : str or `~pathlib.Path`
    overwrite : bool
    provenance : `~dl3flow.io.provenance.Provenance` or dict, optional
        The product's provenance record, or extra primary-header keywords (e.g.
        input file names), FITS-legal.

    Raises
    ------
    FileExistsError
        When ``path`` exists and ``overwrite`` is False.
    """
    from dl3flow import __version__

    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    h = fits.Header()  # the primary header after SIMPLE ... EXTEND
    h["CREATOR"] = f"dl3flow {__version__}"
    h["DATE"] = (_utc_now()[1], "file creation date (UTC)")
    h["CONTENT"] = "safe data range mask (True = safe)"
    if safe.obs_id is not None:
        h["OBS_ID"] = safe.obs_id
    h["METHODS"] = ",".join(safe.methods)  # combined with AND
    h["E_MIN"] = (_header_float(safe.energy_min), "[TeV] combined lower threshold")
    h["E_MAX"] = (_header_float(safe.energy_max), "[TeV] combined upper threshold")
    binned = safe.binned_range
    h["EBIN_MIN"] = (_header_float(binned and binned[0]), "[TeV] lowest safe reco-bin edge")
    h["EBIN_MAX"] = (_header_float(binned and binned[1]), "[TeV] highest safe reco-bin edge")
    p = safe.parameters
    h["AEFF_PCT"] = (p.get("aeff_percent", 10.0), "aeff-max: percent of max aeff")
    h["BIAS_PCT"] = (p.get("bias_percent", 10.0), "edisp-bias: percent bias")
    h["OFFSETMX"] = (p.get("offset_max", 3.0), "[deg] offset-max cut")
    if p.get("position") is not None:
        lon, lat, frame = p["position"]
        h["POS_LON"] = (lon, "[deg] aeff-max/edisp-bias position")
        h["POS_LAT"] = (lat, "[deg] aeff-max/edisp-bias position")
        h["POSFRAME"] = frame
    if p.get("fixed_offset") is not None:
        h["FIXOFFST"] = (p["fixed_offset"], "[deg] aeff-max/edisp-bias offset")
    for i, (method, result) in enumerate(safe.details.items(), start=1):
        h[f"M{i}NAME"] = method
        h[f"M{i}EMIN"] = (_header_float(result.energy_min), "[TeV]")
        h[f"M{i}EMAX"] = (_header_float(result.energy_max), "[TeV]")
        h[f"M{i}NOTE"] = result.note
    if safe.rejection is not None:
        h.update(safe.rejection.to_meta())
    add_to_header(h, provenance)
    hdus = [
        fitsio.primary_hdu(h),
        *_image_hdus("MASK_SAFE", safe.mask, safe.sky, [("energy", safe.energy.edges)], ""),
    ]
    # existence was checked above; provenance is already in the primary header
    write_hdulist(hdus, path, overwrite=True)
    return path


def read_safe_mask(path) -> SafeMask:
    """Read a file written by :func:`write_safe_mask`.

    Raises
    ------
    SafeMaskError
        If the file lacks the ``MASK_SAFE`` image or its header.
    """
    from dl3flow.datasets.io import DatasetError

    path = Path(path)
    with open_fits(path) as hdulist:
        if "MASK_SAFE" not in hdulist or "METHODS" not in hdulist[0].header:
            raise SafeMaskError(f"{path}: not a dl3flow safe-mask file (no MASK_SAFE / METHODS)")
        try:
            edges = _read_axis(hdulist, "MASK_SAFE", "energy", path)
            data = _read_image(hdulist, "MASK_SAFE", path).astype(bool)
        except DatasetError as exc:
            raise SafeMaskError(str(exc)) from exc
        sky = SkyGeom.from_header(hdulist["MASK_SAFE"].header)
        h = hdulist[0].header
        methods = tuple(m for m in str(h["METHODS"]).split(",") if m)
        details = {}
        i = 1
        while f"M{i}NAME" in h:
            details[h[f"M{i}NAME"]] = MethodResult(
                h[f"M{i}NAME"],
                energy_min=_read_float(h[f"M{i}EMIN"]),
                energy_max=_read_float(h[f"M{i}EMAX"]),
                note=str(h.get(f"M{i}NOTE", "")),
            )
            i += 1
        position = None
        if "POS_LON" in h:
            position = (float(h["POS_LON"]), float(h["POS_LAT"]), str(h["POSFRAME"]))
        parameters = {
            "aeff_percent": float(h["AEFF_PCT"]),
            "bias_percent": float(h["BIAS_PCT"]),
            "offset_max": float(h["OFFSETMX"]),
            "position": position,
            "fixed_offset": float(h["FIXOFFST"]) if "FIXOFFST" in h else None,
        }
        return SafeMask(
            mask=data,
            sky=sky,
            energy=EnergyAxis(edges, name="energy"),
            methods=methods,
            energy_min=_read_float(h["E_MIN"]),
            energy_max=_read_float(h["E_MAX"]),
            details=details,
            parameters=parameters,
            obs_id=int(h["OBS_ID"]) if "OBS_ID" in h else None,
            rejection=rejection_of(h),
        )
