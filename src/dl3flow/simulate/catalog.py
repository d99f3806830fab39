"""The injected sources of the simulated data store as a catalog table and a region file.

The workflow's demo analysis builds its exclusion masks from these files
(``resources/demo-sources.fits`` and ``resources/demo-sources.reg``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table

from dl3flow.simulate.config import SourceSpec

__all__ = ["write_region_file", "write_source_catalog"]


def _check_target(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; refusing to overwrite it (pass overwrite=True)")
    path.parent.mkdir(parents=True, exist_ok=True)


def write_source_catalog(
    sources: Sequence[SourceSpec], path: str | os.PathLike, *, overwrite: bool = False
) -> Path:
    """Write the simulated sources as a catalog table.

    Columns: ``Source_Name``, ``Spatial_Model``, ``RA``, ``DEC``, ``GLON``, ``GLAT``
    (deg), ``Extension`` (deg, Gaussian sigma, 0 for point sources), ``Index``,
    ``Reference`` (TeV), ``Flux_Ref`` (cm-2 s-1 TeV-1 at ``Reference``) and
    ``Flux_Above_1TeV`` (cm-2 s-1).

    Parameters
    ----------
    sources : sequence of SourceSpec
    path : path-like
        ``*.ecsv`` writes ECSV, anything else FITS.
    overwrite : bool, optional
        Replace an existing file.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is false.
    ValueError
        If ``sources`` is empty.
    """
    path = Path(path)
    sources = tuple(sources)
    if not sources:
        raise ValueError("no sources to write")
    _check_target(path, overwrite)
    coords = SkyCoord([s.ra for s in sources], [s.dec for s in sources], unit="deg")
    table = Table()
    table["Source_Name"] = [s.name for s in sources]
    table["Spatial_Model"] = [s.kind for s in sources]
    table["RA"] = np.array([s.ra for s in sources]) * coords.ra.unit
    table["DEC"] = np.array([s.dec for s in sources]) * coords.dec.unit
    table["GLON"] = coords.galactic.l.wrap_at("360d").deg * coords.ra.unit
    table["GLAT"] = coords.galactic.b.deg * coords.ra.unit
    table["Extension"] = np.array([s.sigma for s in sources]) * coords.ra.unit
    table["Index"] = [s.index for s in sources]
    table["Reference"] = [s.reference for s in sources]
    table["Reference"].unit = "TeV"
    table["Flux_Ref"] = [s.amplitude for s in sources]
    table["Flux_Ref"].unit = "cm-2 s-1 TeV-1"
    table["Flux_Above_1TeV"] = [s.integral_flux(1.0) for s in sources]
    table["Flux_Above_1TeV"].unit = "cm-2 s-1"
    table.meta["EXTNAME"] = "SOURCES"
    table.meta["COMMENT"] = ["Sources injected by dl3flow.simulate"]
    fmt = "ascii.ecsv" if path.suffix.lower() == ".ecsv" else "fits"
    table.write(path, format=fmt, overwrite=overwrite)
    return path


def write_region_file(
    sources: Sequence[SourceSpec],
    path: str | os.PathLike,
    *,
    radius_margin: float = 0.3,
    overwrite: bool = False,
) -> Path:
    """Write a ds9 region file with one ICRS circle per source.

    The radius is ``radius_margin + 2 * sigma`` (deg), e.g. for exclusion masks.

    Parameters
    ----------
    sources : sequence of SourceSpec
    path : path-like
    radius_margin : float, optional
        Radius around point sources and added to twice the Gaussian sigma (deg, > 0).
    overwrite : bool, optional
        Replace an existing file.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        If ``radius_margin`` is not positive.
    FileExistsError
        If ``path`` exists and ``overwrite`` is false.
    """
    path = Path(path)
    if not (math.isfinite(radius_margin) and radius_margin > 0):
        raise ValueError(f"radius_margin must be > 0 deg, got {radius_margin}")
    _check_target(path, overwrite)
    lines = ["# Region file format: DS9 version 4.1", "icrs"]
    for s in sources:
        radius = radius_margin + 2 * s.sigma
        lines.append(f"circle({s.ra:.6f},{s.dec:.6f},{radius:.6f}) # text={{{s.name}}}")
    path.write_text("\n".join(lines) + "\n")
    return path
