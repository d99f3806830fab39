"""OGIP PHA / ARF / RMF / BKG files of a 1D spectrum (gammapy's ``OGIPDatasetWriter``).

The four files XSPEC, Sherpa, 3ML and gammapy (``SpectrumDatasetOnOff.read(pha)``)
read, laid out as gammapy 1.3 writes them in its ``"ogip"`` format (TeV, m2):

``<name>.fits`` (PHA)
    SPECTRUM (CHANNEL, COUNTS, QUALITY = not safe, BACKSCAL = ON acceptance) with
    ``EXPOSURE`` = livetime and ``ANCRFILE`` / ``BACKFILE`` / ``RESPFILE``; EBOUNDS;
    REGION (the ON region); GTI.
``<name>_bkg.fits``
    The same for the OFF counts (BACKSCAL = OFF acceptance) and the OFF regions.
``<name>_arf.fits``
    SPECRESP: effective area = exposure / livetime on the true-energy axis.
``<name>_rmf.fits``
    MATRIX (grouped non-zero channels per true-energy row, float32) and EBOUNDS.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits

from dl3flow.datasets.io import _gti_hdu, _table_hdu
from dl3flow.io.atomic import atomic_write

__all__ = ["ogip_filenames", "write_ogip"]


def ogip_filenames(path) -> dict[str, Path]:
    """PHA, ARF, RMF and BKG paths for PHA file ``path`` (gammapy's naming)."""
    path = Path(path)
    suffix = "".join(path.suffixes)
    stem = path.name[: -len(suffix)] if suffix else path.name
    return {
        "pha": path,
        "arf": path.with_name(f"{stem}_arf{suffix}"),
        "rmf": path.with_name(f"{stem}_rmf{suffix}"),
        "bkg": path.with_name(f"{stem}_bkg{suffix}"),
    }


def _ebounds_hdu(energy) -> fits.BinTableHDU:
    columns = [
        fits.Column(name="CHANNEL", format="I", array=np.arange(energy.nbin, dtype=np.int16)),
        fits.Column(name="E_MIN", format="D", unit="TeV", array=energy.lo),
        fits.Column(name="E_MAX", format="D", unit="TeV", array=energy.hi),
    ]
    hdu = _table_hdu(columns, name="EBOUNDS")
    cards = [
        ("TELESCOP", "DUMMY", "Mission/satellite name"),
        ("INSTRUME", "DUMMY", "Instrument/detector"),
        ("FILTER", "None", "Filter information"),
        ("CHANTYPE", "PHA", "Type of channels (PHA, PI etc)"),
        ("DETCHANS", energy.nbin, "Total number of detector PHA channels"),
        ("HDUCLASS", "OGIP", "Organisation devising file format"),
        ("HDUCLAS1", "RESPONSE", "File relates to response of instrument"),
        ("HDUCLAS2", "EBOUNDS", "This is an EBOUNDS extension"),
        ("HDUVERS", "1.2.0", "Version of file format"),
    ]
    for key, value, comment in cards:
        hdu.header[key] = (value, comment)
    return hdu


def _spectrum_hdu(ds, names: dict[str, Path], *, background: bool) -> fits.BinTableHDU:
    counts = ds.counts_off if background else ds.counts
    acceptance = ds.acceptance_off if background else ds.acceptance
    columns = [
        fits.Column(name="CHANNEL", format="I", array=np.arange(ds.energy.nbin, dtype=np.int16)),
        fits.Column(name="COUNTS", format="J", array=np.nan_to_num(counts).astype(np.int32)),
        fits.Column(name="QUALITY", format="L", array=~ds.mask_safe),
        fits.Column(name="BACKSCAL", format="D", array=acceptance),
    ]
    hdu = _table_hdu(columns, name="SPECTRUM")
    header = {
        "TELESCOP": "unknown",
        "INSTRUME": "unknown",
        "FILTER": "None",
        "EXPOSURE": ds.livetime,
        "CORRFILE": "",
        "CORRSCAL": "",
        "ANCRFILE": names["arf"].name,
        "HDUCLASS": "OGIP",
        "HDUCLAS1": "SPECTRUM",
        "HDUVERS": "1.2.1",
        "POISSERR": True,
        "CHANTYPE": "PHA",
        "DETCHANS": ds.energy.nbin,
        "GROUPING": 0,
        "AREASCAL": 1,
        "HDUCLAS2": "BKG" if background else "TOTAL",
        "HDUCLAS3": "COUNT",
        "HDUCLAS4": "TYPE:1",
        "OBS_ID": str(ds.name),
        "BACKFILE": names["bkg"].name,
        "RESPFILE": names["rmf"].name,
    }
    for key, value in header.items():
        hdu.header[key] = value
    return hdu


def _pha_hdulist(ds, names, *, background: bool) -> fits.HDUList:
    from dl3flow.datasets.spectrum import _off_region_hdu, _on_region_hdu

    region = _off_region_hdu(ds, "") if background else _on_region_hdu(ds.on_region, "")
    hdus = [fits.PrimaryHDU(), _spectrum_hdu(ds, names, background=background)]
    hdus += [_ebounds_hdu(ds.energy), region]
    if not background and ds.gti is not None:
        hdus.append(_gti_hdu(ds.gti))
    return fits.HDUList(hdus)


def _arf_hdulist(ds) -> fits.HDUList:
    aeff = ds.exposure / ds.livetime if ds.livetime > 0 else np.zeros_like(ds.exposure)
    columns = [
        fits.Column(name="ENERG_LO", format="D", unit="TeV", array=ds.energy_true.lo),
        fits.Column(name="ENERG_HI", format="D", unit="TeV", array=ds.energy_true.hi),
        fits.Column(name="SPECRESP", format="D", unit="m2", array=aeff),
    ]
    hdu = _table_hdu(columns, name="SPECRESP")
    for key, value in {
        "TELESCOP": "unknown",
        "INSTRUME": "unknown",
        "FILTER": "None",
        "HDUCLASS": "OGIP",
        "HDUCLAS1": "RESPONSE",
        "HDUCLAS2": "SPECRESP",
        "HDUVERS": "1.1.0",
    }.items():
        hdu.header[key] = value
    return fits.HDUList([fits.PrimaryHDU(), hdu])


def _rmf_groups(matrix: np.ndarray):
    """Per row: the runs of non-zero channels (gammapy ``EDispKernel.to_table``)."""
    n_grp, f_chan, n_chan, values = [], [], [], []
    for row in matrix:
        pos = np.nonzero(row)[0]
        groups = np.split(pos, np.where(np.diff(pos) != 1)[0] + 1)
        n_grp.append(len(groups) if len(groups) > 0 else 1)
        n_chan.append(np.array([g.size for g in groups], dtype=np.int16))
        starts = [g[0] for g in groups if g.size]
        f_chan.append(np.array(starts if starts else [0], dtype=np.int16))
        values.append(row[pos].astype(np.float32))
    return np.asarray(n_grp, dtype=np.int16), f_chan, n_chan, values


def _rmf_hdulist(ds) -> fits.HDUList:
    n_grp, f_chan, n_chan, values = _rmf_groups(ds.edisp)
    columns = [
        fits.Column(name="ENERG_LO", format="E", unit="TeV", array=ds.energy_true.lo),
        fits.Column(name="ENERG_HI", format="E", unit="TeV", array=ds.energy_true.hi),
        fits.Column(name="N_GRP", format="I", array=n_grp),
        fits.Column(name="F_CHAN", format="PI()", array=np.array(f_chan, dtype=object)),
        fits.Column(name="N_CHAN", format="PI()", array=np.array(n_chan, dtype=object)),
        fits.Column(name="MATRIX", format="PE()", array=np.array(values, dtype=object)),
    ]
    hdu = _table_hdu(columns, name="MATRIX")
    for key, value in {
        "CHANTYPE": "PHA",
        "HDUCLASS": "OGIP",
        "HDUCLAS1": "RESPONSE",
        "HDUCLAS2": "RSP_MATRIX",
        "DETCHANS": ds.energy.nbin,
        "NUMGRP": int(n_grp.sum()),
        "NUMELT": int(sum(int(c.sum()) for c in n_chan)),
        "TLMIN4": 0,
    }.items():
        hdu.header[key] = value
    return fits.HDUList([fits.PrimaryHDU(), hdu, _ebounds_hdu(ds.energy)])


def write_ogip(ds, path, *, overwrite: bool = False) -> dict[str, Path]:
    """Write ``ds`` (a `~dl3flow.datasets.spectrum.SpectrumDatasetOnOff`) as OGIP files.

    Parameters
    ----------
    ds : SpectrumDatasetOnOff
    path : str or Path
        The PHA file; ``_arf``, ``_rmf`` and ``_bkg`` files are written beside it.
    overwrite : bool
        Replace existing files.

    Returns
    -------
    dict
        ``{"pha", "arf", "rmf", "bkg"}`` -> path.

    Raises
    ------
    FileExistsError
        When one of the files exists and ``overwrite`` is False (nothing is written).
    """
    names = ogip_filenames(path)
    existing = [str(p) for p in names.values() if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{', '.join(existing)} exist; pass overwrite=True to replace")
    names["pha"].parent.mkdir(parents=True, exist_ok=True)
    products = {
        "pha": _pha_hdulist(ds, names, background=False),
        "bkg": _pha_hdulist(ds, names, background=True),
        "arf": _arf_hdulist(ds),
        "rmf": _rmf_hdulist(ds),
    }
    for key, hdulist in products.items():

        def writer(tmp, hdulist=hdulist):
            with open(tmp, "wb") as fh:
                hdulist.writeto(fh)

        atomic_write(names[key], writer, overwrite=True)
    return names
