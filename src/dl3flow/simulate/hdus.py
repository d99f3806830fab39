"""FITS HDUs of the simulated data store: events, GTI, IRF tables and the two indexes.

Header keywords mimic the H.E.S.S. DL3 DR1 release (GADF ``HDUCLASS`` keywords); the
IRF tables of the caldb style are those of CTA's caldb ``irf_file.fits`` (OGIP-style
``HDUCLAS4``, CTA's HDU names). The IRF tables are serialised directly as big-endian
float32 rows (:class:`_VectorTable`), and files are compressed with a fixed level and
``mtime=0``, so that the same configuration gives byte-identical files.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.time import Time

from dl3flow.simulate.config import SimulationConfig
from dl3flow.simulate.events import SimulatedObservation
from dl3flow.simulate.geometry import MJDREFF, MJDREFI
from dl3flow.simulate.instrument import _CALDB_ZENITH_DEG, _irf_columns, _psf_3gauss_columns
from dl3flow.simulate.plan import ObservationPlan

__all__: list[str] = []

_HDUDOC = "https://github.com/open-gamma-ray-astro/gamma-astro-data-formats"
_GADF = {"HDUCLASS": "GADF", "HDUDOC": _HDUDOC, "HDUVERS": "0.2"}

# irf_style "caldb": one IRF file for all observations, as CTA's caldb (1DC, prod3b/5).
_CALDB_IRF_NAME = "sim_z20"
_CALDB_HDU = {
    "HDUCLASS": "OGIP",
    "HDUDOC": "CAL/GEN/92-019",
    "HDUVERS": "1.0.0",
    "HDUCLAS1": "RESPONSE",
}


def _array_column(name: str, array: np.ndarray, unit: str | None = None) -> fits.Column:
    """One-row column holding ``array`` (numpy order; FITS TDIM is reversed)."""
    array = np.asarray(array, dtype=">f4")
    dim = "(" + ",".join(str(n) for n in array.shape[::-1]) + ")"
    return fits.Column(
        name=name,
        format=f"{array.size}E",
        unit=unit,
        dim=dim if array.ndim > 1 else None,
        array=array[np.newaxis],
    )


@dataclass(frozen=True)
class _VectorTable:
    """A one-row binary table of float32 arrays with its serialised FITS bytes.

    astropy byte-swaps multi-element fields element by element in Python, which takes
    tens of ms per IRF table; the big-endian data block is written directly instead.
    """

    hdu: fits.BinTableHDU
    data: bytes

    @classmethod
    def build(cls, name: str, columns: list[tuple[str, np.ndarray, str | None]]):
        hdu = fits.BinTableHDU.from_columns(
            [_array_column(n, a, u) for n, a, u in columns], name=name
        )
        data = b"".join(np.ascontiguousarray(a, dtype=">f4").tobytes() for _, a, _ in columns)
        if len(data) != hdu.header["NAXIS1"]:  # pragma: no cover - layout guard
            raise RuntimeError(f"{name}: row size mismatch")
        return cls(hdu, data + bytes(-len(data) % 2880))

    def tobytes(self) -> bytes:
        return self.hdu.header.tostring().encode("ascii") + self.data

    def filebytes(self) -> int:
        return len(self.hdu.header.tostring()) + len(self.data)


def _time_strings(mjd: float) -> tuple[str, str]:
    iso = Time(mjd, format="mjd", scale="tt", precision=3).isot
    return iso[:10], iso[11:]


def _common_header(config: SimulationConfig, plan: ObservationPlan) -> dict[str, Any]:
    return {
        "TELESCOP": config.telescope,
        "INSTRUME": "dl3flow simulation",
        "OBS_ID": plan.obs_id,
    }


def _events_hdu(config, sim: SimulatedObservation, target_glonlat) -> fits.BinTableHDU:
    plan, ev = sim.plan, sim.events
    cols = [
        fits.Column("EVENT_ID", "K", array=ev["EVENT_ID"].astype(">i8")),
        fits.Column("TIME", "D", unit="s", array=ev["TIME"].astype(">f8")),
        fits.Column("RA", "E", unit="deg", array=ev["RA"].astype(">f4")),
        fits.Column("DEC", "E", unit="deg", array=ev["DEC"].astype(">f4")),
        fits.Column("ENERGY", "E", unit="TeV", array=ev["ENERGY"].astype(">f4")),
        fits.Column("MC_ID", "J", array=ev["MC_ID"].astype(">i4")),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="EVENTS")
    date_obs, time_obs = _time_strings(plan.mjd_start)
    date_end, time_end = _time_strings(plan.mjd_start + config.ontime / 86400.0)
    glon, glat = target_glonlat
    h = hdu.header
    cards = {
        **_GADF,
        "HDUCLAS1": "EVENTS",
        "CREATOR": "dl3flow.simulate",
        **_common_header(config, plan),
        "TSTART": plan.tstart,
        "TSTOP": plan.tstop,
        "MJDREFI": MJDREFI,
        "MJDREFF": MJDREFF,
        "TIMEUNIT": "s",
        "TIMESYS": "TT",
        "TIMEREF": "LOCAL",
        "ONTIME": config.ontime,
        "LIVETIME": config.livetime,
        "DEADC": config.deadc,
        "OBJECT": config.target_name,
        "RA_OBJ": config.target_ra,
        "DEC_OBJ": config.target_dec,
        "RA_PNT": plan.ra_pnt,
        "DEC_PNT": plan.dec_pnt,
        "GLON_PNT": glon,
        "GLAT_PNT": glat,
        "ALT_PNT": plan.alt,
        "AZ_PNT": plan.az,
        "RADESYS": "ICRS",
        "EQUINOX": 2000.0,
        "OBS_MODE": "WOBBLE",
        "N_TELS": 4,
        "TELLIST": "1,2,3,4",
        "GEOLON": config.geolon,
        "GEOLAT": config.geolat,
        "ALTITUDE": config.altitude,
        "EUNIT": "TeV",
        "DATE-OBS": date_obs,
        "TIME-OBS": time_obs,
        "DATE-END": date_end,
        "TIME-END": time_end,
        "SIMSEED": config.seed,
    }
    for key, value in cards.items():
        h[key] = value
    h.add_comment("MC_ID: 0 = background, k = k-th simulated source (see sources catalog)")
    return hdu


def _gti_hdu(config, plan) -> fits.BinTableHDU:
    cols = [
        fits.Column("START", "D", unit="s", array=np.array([plan.tstart])),
        fits.Column("STOP", "D", unit="s", array=np.array([plan.tstop])),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="GTI")
    cards = {
        **_GADF,
        "HDUCLAS1": "GTI",
        "OBS_ID": plan.obs_id,
        "TSTART": plan.tstart,
        "TSTOP": plan.tstop,
        "MJDREFI": MJDREFI,
        "MJDREFF": MJDREFF,
        "TIMEUNIT": "s",
        "TIMESYS": "TT",
        "TIMEREF": "LOCAL",
    }
    for key, value in cards.items():
        hdu.header[key] = value
    return hdu


def _irf_header(hdu, config, plan, clas2, clas4, extra=None):
    cards = {
        **_GADF,
        "HDUCLAS1": "RESPONSE",
        "HDUCLAS2": clas2,
        "HDUCLAS3": "FULL-ENCLOSURE",
        "HDUCLAS4": clas4,
        **_common_header(config, plan),
        "ZENITH": plan.zenith,
        "AZIMUTH": plan.az,
        **(extra or {}),
    }
    for key, value in cards.items():
        hdu.header[key] = value
    return hdu


def _irf_tables(config, plan, instrument) -> list[_VectorTable]:
    """AEFF, EDISP, PSF and BKG tables in the layout gammapy's ``to_table`` writes."""
    columns = _irf_columns(instrument)
    aeff_table = _VectorTable.build("AEFF", columns["aeff"])
    thresholds = {"LO_THRES": instrument.lo_thres, "HI_THRES": float(config.energy_range[1])}
    _irf_header(aeff_table.hdu, config, plan, "EFF_AREA", "AEFF_2D", thresholds)
    edisp_table = _VectorTable.build("EDISP", columns["edisp"])
    _irf_header(edisp_table.hdu, config, plan, "EDISP", "EDISP_2D")
    psf_table = _VectorTable.build("PSF", columns["psf"])
    _irf_header(psf_table.hdu, config, plan, "RPSF", "PSF_TABLE")
    bkg_table = _VectorTable.build("BKG", columns["bkg"])
    fovalign = {"FOVALIGN": config.fov_alignment}
    _irf_header(bkg_table.hdu, config, plan, "BKG", "BKG_3D", fovalign)
    return [aeff_table, edisp_table, psf_table, bkg_table]


def _caldb_irf_tables(config, instrument) -> list[_VectorTable]:
    """The shared IRF HDUs of the caldb style, as CTA's caldb ``irf_file.fits``.

    OGIP-style HDUCLAS4 (``2D``, ``3GAUSS``, ``3D``), CTA's HDU names, an edisp with
    ``ETRUE`` columns, a ``psf_3gauss``, no ``LO_THRES`` / ``HI_THRES``, no
    ``FOVALIGN`` and the background unit ``1/s/MeV/sr`` (which astropy only parses
    as OGIP).
    """
    columns = _irf_columns(instrument)
    edisp = [(name.replace("ENERG_", "ETRUE_"), a, unit) for name, a, unit in columns["edisp"]]
    bkg = [(n, a, "1/s/MeV/sr" if n == "BKG" else unit) for n, a, unit in columns["bkg"]]
    specs = (
        ("EFFECTIVE AREA", columns["aeff"], "EFF_AREA", "2D"),
        ("ENERGY DISPERSION", edisp, "EDISP", "2D"),
        ("POINT SPREAD FUNCTION", _psf_3gauss_columns(instrument), "RPSF", "3GAUSS"),
        ("BACKGROUND", bkg, "BKG", "3D"),
    )
    tables = []
    for extname, cols, clas2, clas4 in specs:
        table = _VectorTable.build(extname, cols)
        cards = {
            **_CALDB_HDU,
            "HDUCLAS2": clas2,
            "HDUCLAS3": "FULL-ENCLOSURE",
            "HDUCLAS4": clas4,
            "TELESCOP": config.telescope,
            "INSTRUME": "dl3flow simulation",
            "CAL_NAME": _CALDB_IRF_NAME,
            "ZENITH": _CALDB_ZENITH_DEG,
        }
        for key, value in cards.items():
            table.hdu.header[key] = value
        tables.append(table)
    return tables


def _fits_bytes(hdul: fits.HDUList) -> bytes:
    buffer = io.BytesIO()
    hdul.writeto(buffer)
    return buffer.getvalue()


def _gzip_bytes(data: bytes) -> bytes:
    # mtime=0 and a fixed level keep the files byte-identical across runs
    return gzip.compress(data, compresslevel=6, mtime=0)


_OBS_INDEX_COLUMNS = (
    # name, fits format, unit
    ("OBS_ID", "K", None),
    ("RA_PNT", "E", "deg"),
    ("DEC_PNT", "E", "deg"),
    ("GLON_PNT", "E", "deg"),
    ("GLAT_PNT", "E", "deg"),
    ("ZEN_PNT", "E", "deg"),
    ("ALT_PNT", "E", "deg"),
    ("AZ_PNT", "E", "deg"),
    ("OBJECT", "A", None),
    ("RA_OBJ", "E", "deg"),
    ("DEC_OBJ", "E", "deg"),
    ("OFFSET_OBJ", "E", "deg"),
    ("ONTIME", "E", "s"),
    ("LIVETIME", "E", "s"),
    ("DEADC", "E", None),
    ("TSTART", "D", "s"),
    ("TSTOP", "D", "s"),
    ("DATE-OBS", "A", None),
    ("TIME-OBS", "A", None),
    ("DATE-END", "A", None),
    ("TIME-END", "A", None),
    ("N_TELS", "K", None),
    ("TELLIST", "A", None),
    ("QUALITY", "K", None),
    ("MUONEFF", "E", None),
    ("EVENT_COUNT", "K", None),
    ("TARGET_NAME", "A", None),
    ("TARGET_TAG", "A", None),
    ("TARGET_OFFSET", "E", "deg"),
    ("SAFE_ENERGY_LO", "E", "TeV"),
    ("SAFE_ENERGY_HI", "E", "TeV"),
)


def _table_hdu(rows: list[dict[str, Any]], spec, name: str) -> fits.BinTableHDU:
    cols = []
    for key, fmt, unit in spec:
        values = [row[key] for row in rows]
        if fmt == "A":
            width = max(1, max(len(v) for v in values))
            cols.append(fits.Column(key, f"{width}A", array=np.array(values, dtype=f"S{width}")))
        else:
            cols.append(fits.Column(key, fmt, unit=unit, array=np.array(values)))
    return fits.BinTableHDU.from_columns(cols, name=name)


def _obs_index_hdu(config, rows) -> fits.BinTableHDU:
    hdu = _table_hdu(rows, _OBS_INDEX_COLUMNS, "OBS_INDEX")
    cards = {
        "MJDREFI": MJDREFI,
        "MJDREFF": MJDREFF,
        "TIMEUNIT": "s",
        "TIMESYS": "TT",
        "TIMEREF": "LOCAL",
        **_GADF,
        "HDUCLAS1": "INDEX",
        "HDUCLAS2": "OBS",
        "TELESCOP": config.telescope,
        "GEOLON": config.geolon,
        "GEOLAT": config.geolat,
        "ALTITUDE": config.altitude,
    }
    for key, value in cards.items():
        hdu.header[key] = value
    return hdu


_HDU_INDEX_COLUMNS = (
    ("OBS_ID", "K", None),
    ("HDU_TYPE", "A", None),
    ("HDU_CLASS", "A", None),
    ("FILE_DIR", "A", None),
    ("FILE_NAME", "A", None),
    ("HDU_NAME", "A", None),
    ("SIZE", "K", None),
)


def _hdu_index_hdu(rows) -> fits.BinTableHDU:
    hdu = _table_hdu(rows, _HDU_INDEX_COLUMNS, "HDU_INDEX")
    for key, value in {**_GADF, "HDUCLAS1": "INDEX", "HDUCLAS2": "HDU"}.items():
        hdu.header[key] = value
    return hdu
