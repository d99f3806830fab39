"""Per-observation reduction: counts, exposure, background, edisp and PSF maps.

``reduce_observation`` is dl3flow's ``MapDatasetMaker.run(dataset, observation)``:
it cuts the analysis geometry around the pointing (width ``2 * offset_max``), bins
the events and evaluates the IRFs on that cutout, and returns a new
:class:`~dl3flow.datasets.map.MapDataset`. The numbers follow gammapy 1.3's
``MapDatasetMaker`` (validated in ``tests/validation``):

- counts: events binned on the pixel grid and the reconstructed-energy edges;
- exposure: effective area at each pixel's offset and each true-energy bin
  centre, times LIVETIME;
- background: the IRF rate integrated over each reconstructed-energy bin (log-log
  trapezoid), times the pixel solid angle, times ONTIME (GADF: background rates
  are per unit of wall-clock time, not livetime);
- edisp: an energy-dispersion kernel (true -> reconstructed energy) and a PSF map
  on the coarse IRF image, each with its exposure so that stacking can weight them.

Field-of-view coordinates for ``bkg_3d`` honour the FOVALIGN header, or the
analysis' choice (``fov_alignment``, :func:`resolve_fov_alignment`). A missing
FOVALIGN is taken as ALTAZ, the GADF default (gammapy assumes RADEC), and said in an
``ObservationWarning`` (:mod:`dl3flow.data.quality`). For ALTAZ the field of view rotates
on the sky during an observation; dl3flow integrates over time steps of at most
``fov_rotation_step`` degrees of rotation, where gammapy 1.3 evaluates a single
orientation at the observation mid-time, and checks that the pointing computed from
the site and times is above the horizon and agrees with ALT_PNT.

The safe mask of a reduced dataset is all True (as MapDatasetMaker's); safe
data ranges are their own step (``dl3flow.makers.safe``).

Imports: the reduction of an observation with an ICRS geometry and a RADEC-aligned
(or radially symmetric) background needs neither astropy.coordinates nor
astropy.time (a workflow job would spend longer importing them than reducing): it
works on the pointing as floats (``Observation.pointing_radec``). A galactic
geometry and the ALTAZ alignment import them where they need them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from dl3flow.data import quality
from dl3flow.datasets.map import EDispKernelMap, MapDataset, PSFMap
from dl3flow.maps.coords import icrs_deg, sky_to_fov
from dl3flow.maps.geom import DatasetGeom, GeomError, SkyGeom

__all__ = [
    "ReductionError",
    "reduce_observation",
    "make_counts",
    "make_exposure",
    "make_background",
    "make_edisp_kernel_map",
    "make_psf_map",
    "altaz_fov_rotation",
    "pointing_altitudes",
    "resolve_fov_alignment",
    "FOV_ALIGNMENT_CHOICES",
]

log = logging.getLogger(__name__)

MEV_PER_TEV = 1e6

#: Values of ``fov_alignment`` (config ``background.fov_alignment``): ``auto`` takes
#: the bkg_3d's FOVALIGN keyword, else the GADF default ALTAZ.
FOV_ALIGNMENT_CHOICES = ("auto", "radec", "altaz")


class ReductionError(RuntimeError):
    """An observation that cannot be reduced; the message names the observation."""


def _skycoord(pointing):
    """The pointing as an ICRS `~astropy.coordinates.SkyCoord` (imports astropy.coordinates)."""
    if hasattr(pointing, "icrs"):
        return pointing
    from astropy.coordinates import SkyCoord

    ra, dec = pointing
    return SkyCoord(float(ra), float(dec), unit="deg", frame="icrs")


def _observation_radec(observation) -> tuple[float, float]:
    """The observation's pointing (deg): ``pointing_radec`` if it has one, else ``pointing``."""
    radec = getattr(observation, "pointing_radec", None)
    return icrs_deg(observation.pointing if radec is None else radec)


def make_counts(*, ra, dec, energy, sky: SkyGeom, energy_edges: np.ndarray) -> np.ndarray:
    """Bin events into a (n_energy, ny, nx) counts cube.

    Pixel and energy indices follow gammapy's ``Map.fill_events``: pixel index
    ``floor(pix + 0.5)`` of the WCS pixel coordinate, energy index from
    ``np.digitize`` on the bin edges; events outside the cube are dropped.
    """
    ra = np.asarray(ra, dtype=float)
    dec = np.asarray(dec, dtype=float)
    if sky.frame == "icrs":
        lon, lat = ra, dec
    else:
        from astropy.coordinates import SkyCoord

        c = SkyCoord(ra, dec, unit="deg", frame="icrs").transform_to(sky.frame)
        lon, lat = c.spherical.lon.deg, c.spherical.lat.deg
    iy, ix = sky.world_to_index(lon, lat)
    energy = np.asarray(energy, dtype=float)
    ie = np.digitize(energy, energy_edges) - 1
    n_e = energy_edges.size - 1
    ny, nx = sky.shape
    ok = (iy >= 0) & (ie >= 0) & (ie < n_e) & (energy <= energy_edges[-1])
    flat = (ie[ok] * ny + iy[ok]) * nx + ix[ok]
    return np.bincount(flat, minlength=n_e * ny * nx).reshape(n_e, ny, nx).astype(float)


def make_exposure(
    aeff, *, offset: np.ndarray, energy_true: np.ndarray, livetime: float
) -> np.ndarray:
    """Exposure (m2 s) at true energies ``energy_true`` (TeV) and offsets (deg).

    Returns an array of shape ``(len(energy_true),) + offset.shape``.
    """
    e = np.asarray(energy_true, dtype=float).reshape((-1,) + (1,) * np.ndim(offset))
    return aeff.evaluate(energy_true=e, offset=np.asarray(offset)[np.newaxis]) * livetime


def altaz_fov_rotation(*, pointing, location, times) -> np.ndarray:
    """2x2 matrices mapping RADEC field-of-view offsets to ALTAZ ones.

    The RADEC and ALTAZ field-of-view frames share their centre (the pointing);
    on the plane tangent to it they differ by an orthogonal map (the parallactic
    rotation, and a reflection since azimuth runs clockwise on the sky). It is
    measured per time with astropy from two probe points 0.1 deg from the
    pointing, so that only three coordinates per time step go through astropy's
    AltAz transform, not every pixel.

    ``pointing`` is a `~astropy.coordinates.SkyCoord` or (ra, dec) in deg (ICRS).

    Returns
    -------
    matrices : `numpy.ndarray`
        Shape ``(n_times, 2, 2)``: ``[lon_altaz, lat_altaz] = M @ [lon_radec, lat_radec]``
        for small offsets (exact for the tangent-plane direction; offsets along it
        are preserved by both frames).
    """
    from astropy.coordinates import AltAz, SkyCoord
    from astropy.utils import iers

    from dl3flow.maps.coords import fov_to_sky

    delta = 0.1
    ra0, dec0 = icrs_deg(pointing)
    probe_ra, probe_dec = fov_to_sky(
        np.array([0.0, delta, 0.0]), np.array([0.0, 0.0, delta]), ra0, dec0
    )
    matrices = []
    with (
        iers.conf.set_temp("auto_download", False),
        iers.conf.set_temp("iers_degraded_accuracy", "warn"),
    ):
        for t in np.atleast_1d(times):
            frame = AltAz(obstime=t, location=location)
            aa = SkyCoord(probe_ra, probe_dec, unit="deg", frame="icrs").transform_to(frame)
            az, alt = aa.az.deg, aa.alt.deg
            lon, lat = sky_to_fov(az[1:], alt[1:], az[0], alt[0])
            m = np.array([[lon[0], lon[1]], [lat[0], lat[1]]]) / delta
            # orthonormalise (polar decomposition) to remove the probes' tiny distortions
            uu, _, vt = np.linalg.svd(m)
            matrices.append(uu @ vt)
    return np.array(matrices)


def pointing_altitudes(*, pointing, location, times) -> np.ndarray:
    """Altitude (deg) of ``pointing`` seen from ``location`` at each of ``times``.

    ``pointing`` is a `~astropy.coordinates.SkyCoord` or (ra, dec) in deg (ICRS).
    """
    from astropy.coordinates import AltAz
    from astropy.utils import iers

    pointing = _skycoord(pointing)

    with (
        iers.conf.set_temp("auto_download", False),
        iers.conf.set_temp("iers_degraded_accuracy", "warn"),
    ):
        times = np.atleast_1d(times)
        frame = AltAz(obstime=times[0] if len(times) == 1 else times, location=location)
        return np.atleast_1d(pointing.icrs.transform_to(frame).alt.deg)


def resolve_fov_alignment(observation, choice: str = "auto") -> str | None:
    """Orientation of the observation's bkg_3d field-of-view axes for the reduction.

    Parameters
    ----------
    observation : `dl3flow.data.observation.Observation`
        Uses ``bkg`` (its ``fov_alignment`` and ``fov_alignment_assumed``) and
        ``bkg_fov_alignment`` (the file's alignment with known producer fixes, such
        as H.E.S.S. DR1's reversed longitude, ``"REVERSE_LON_RADEC"``).
    choice : {"auto", "radec", "altaz"}
        ``auto``: the FOVALIGN keyword, else the GADF default ALTAZ (with an
        ``ObservationWarning``, check ``fov_alignment_assumed``). ``radec`` or
        ``altaz``: that alignment (a file whose FOVALIGN says otherwise gets an
        ``ObservationWarning``, check ``fov_alignment_override``).

    Returns
    -------
    str or None
        ``"RADEC"``, ``"REVERSE_LON_RADEC"`` or ``"ALTAZ"``; None for a bkg_2d (or no
        bkg), whose model is radially symmetric.

    Raises
    ------
    ValueError
        If ``choice`` is not one of :data:`FOV_ALIGNMENT_CHOICES`.
    """
    if choice not in FOV_ALIGNMENT_CHOICES:
        raise ValueError(
            f"fov_alignment must be one of {', '.join(FOV_ALIGNMENT_CHOICES)}, got {choice!r}"
        )
    auto = observation.bkg_fov_alignment
    if auto is None:
        return None
    obs_id = observation.obs_id
    assumed = bool(getattr(observation.bkg, "fov_alignment_assumed", False))
    if choice == "auto":
        if assumed and auto == "ALTAZ":  # not for a known producer's rule (H.E.S.S. DR1)
            quality.warn(
                obs_id,
                "fov_alignment_assumed",
                f"obs {obs_id}: the bkg_3d HDU has no FOVALIGN keyword; assumed ALTAZ (the "
                "GADF default; gammapy assumes RADEC); set background.fov_alignment to "
                "radec or altaz to choose",
            )
        return auto
    file_value = None if assumed else observation.bkg.fov_alignment
    if file_value is not None and file_value.lower() != choice:
        quality.warn(
            obs_id,
            "fov_alignment_override",
            f"obs {obs_id}: the bkg_3d HDU says FOVALIGN = {file_value}, but "
            f"background.fov_alignment is {choice}: used {choice.upper()}",
        )
    if choice == "radec":
        return "REVERSE_LON_RADEC" if auto == "REVERSE_LON_RADEC" else "RADEC"
    return "ALTAZ"


def _check_altaz_pointing(observation, *, pointing, location, times) -> None:
    """Warn when the ALTAZ rotation rests on a pointing that cannot be right."""
    obs_id = observation.obs_id
    altitudes = pointing_altitudes(
        pointing=pointing,
        location=location,
        times=[observation.tstart, *np.atleast_1d(times), observation.tstop],
    )
    low, high = float(altitudes.min()), float(altitudes.max())
    span = f"{low:.1f} to {high:.1f} deg" if high - low >= 0.05 else f"{low:.1f} deg"
    site = (
        f"lon {location.lon.deg:.4f} deg, lat {location.lat.deg:.4f} deg, "
        f"height {location.height.to_value('m'):.0f} m"
    )
    if low < 0:
        quality.warn(
            obs_id,
            "pointing_below_horizon",
            f"obs {obs_id}: seen from the site ({site}) at the observation times, the "
            f"pointing is below the horizon (altitude {span}): the ALTAZ background "
            "rotation is meaningless; check the site keywords (GEOLON/GEOLAT/ALTITUDE, "
            "TELESCOP), the times, or set background.fov_alignment: radec",
        )
    alt_pnt = getattr(observation, "alt_pnt", None)
    tolerance = quality.ALTITUDE_TOLERANCE_DEG
    if alt_pnt is not None and not (low - tolerance <= alt_pnt <= high + tolerance):
        quality.warn(
            obs_id,
            "pointing_altitude_mismatch",
            f"obs {obs_id}: ALT_PNT = {alt_pnt:.1f} deg, but the pointing seen from the "
            f"site ({site}) at the observation times is at altitude {span} (tolerance "
            f"{tolerance:g} deg)",
        )


def make_background(
    bkg,
    *,
    sky: SkyGeom,
    pointing,
    energy_edges: np.ndarray,
    ontime: float,
    fov_alignment: str | None = None,
    location=None,
    times=None,
) -> np.ndarray:
    """Predicted background counts (n_energy, ny, nx) from a bkg_2d or bkg_3d IRF.

    ``pointing`` is a `~astropy.coordinates.SkyCoord` or (ra, dec) in deg (ICRS).
    ``fov_alignment`` is the orientation of a bkg_3d's field-of-view axes:
    "RADEC", "ALTAZ" or "REVERSE_LON_RADEC" (RADEC with the longitude reversed,
    gammapy's fix for old H.E.S.S. files such as DL3 DR1); it defaults to the
    IRF's own. ``times`` (astropy Time, one or more) are used for ALTAZ only:
    the rate is averaged over those orientations of the field of view.
    """
    ra0, dec0 = icrs_deg(pointing)
    solid_angle = sky.solid_angle()
    if getattr(bkg, "fov_alignment", None) is None:  # bkg_2d: radially symmetric
        offset = sky.separation(ra0, dec0)
        rate = bkg.integrate_energy(energy_edges=energy_edges, offset=offset)
    else:
        alignment = fov_alignment or bkg.fov_alignment
        fov_lon, fov_lat, _ = sky.field_of_view(ra0, dec0)
        if alignment in ("RADEC", "REVERSE_LON_RADEC"):
            if alignment == "REVERSE_LON_RADEC":
                fov_lon = -fov_lon
            rate = bkg.integrate_energy(energy_edges=energy_edges, fov_lon=fov_lon, fov_lat=fov_lat)
        elif alignment == "ALTAZ":
            if location is None or times is None:
                raise ReductionError(
                    "ALTAZ-aligned background needs the observatory location and times"
                )
            matrices = altaz_fov_rotation(pointing=pointing, location=location, times=times)
            rate = 0.0
            for m in matrices:
                lon_aa = m[0, 0] * fov_lon + m[0, 1] * fov_lat
                lat_aa = m[1, 0] * fov_lon + m[1, 1] * fov_lat
                rate = rate + bkg.integrate_energy(
                    energy_edges=energy_edges, fov_lon=lon_aa, fov_lat=lat_aa
                )
            rate = rate / len(matrices)
        else:
            raise ReductionError(f"unsupported field-of-view alignment {alignment!r}")
    return np.asarray(rate) * solid_angle * ontime


def make_edisp_kernel_map(
    edisp,
    aeff,
    *,
    sky: SkyGeom,
    pointing,
    energy_true_edges: np.ndarray,
    energy_edges: np.ndarray,
    livetime: float,
) -> EDispKernelMap:
    """Energy-dispersion kernel per pixel of the (coarse) IRF image, with its exposure.

    ``pointing`` is a `~astropy.coordinates.SkyCoord` or (ra, dec) in deg (ICRS).
    """
    from dl3flow.irf.edisp import edisp_kernel

    offset = sky.separation(*icrs_deg(pointing))
    kernel = edisp_kernel(
        edisp,
        offset=offset.ravel(),
        energy_true_edges=energy_true_edges,
        energy_edges=energy_edges,
    )  # (n_pos, n_true, n_reco)
    ny, nx = sky.shape
    kernel = np.moveaxis(kernel, 0, -1).reshape(kernel.shape[1], kernel.shape[2], ny, nx)
    centers = np.exp(0.5 * (np.log(energy_true_edges[:-1]) + np.log(energy_true_edges[1:])))
    exposure = make_exposure(aeff, offset=offset, energy_true=centers, livetime=livetime)
    return EDispKernelMap(kernel=kernel, exposure=exposure[:, np.newaxis])


def make_psf_map(
    psf,
    aeff,
    *,
    sky: SkyGeom,
    pointing,
    energy_true: np.ndarray,
    rad: np.ndarray,
    livetime: float,
) -> PSFMap:
    """PSF profiles (sr^-1, normalised over rad) per pixel of the IRF image, with exposure.

    ``pointing`` is a `~astropy.coordinates.SkyCoord` or (ra, dec) in deg (ICRS).
    """
    from dl3flow.irf.psf import psf_profile

    offset = sky.separation(*icrs_deg(pointing))
    ny, nx = sky.shape
    values = psf_profile(psf, offset=offset.ravel(), energy_true=energy_true, rad=rad)
    values = values.reshape(values.shape[0], values.shape[1], ny, nx)
    exposure = make_exposure(aeff, offset=offset, energy_true=energy_true, livetime=livetime)
    return PSFMap(psf=values, exposure=exposure[:, np.newaxis])


def _observation_times(observation, n_steps: int):
    """``n_steps`` time-step centres spread evenly over the observation."""
    start, stop = observation.tstart, observation.tstop
    fractions = (np.arange(n_steps) + 0.5) / n_steps
    return start + (stop - start) * fractions


def reduce_observation(
    observation,
    *,
    geom: DatasetGeom,
    offset_max: float,
    edisp: bool = True,
    psf: bool = True,
    fov_rotation_step: float = 1.0,
    fov_alignment: str = "auto",
) -> MapDataset:
    """Reduce one observation to a map dataset on a cutout of ``geom``.

    Parameters
    ----------
    observation : `dl3flow.data.observation.Observation`
        The observation (events, GTI, IRFs are read lazily from it); in a workflow
        a `dl3flow.data.checks.ValidatedObservation`, whose ``quality_meta``
        (events dropped, IRF values clipped) goes into the dataset's meta.
    geom : `~dl3flow.maps.geom.DatasetGeom`
        The analysis geometry; the dataset lives on its cutout of width
        ``2 * offset_max`` around the pointing.
    offset_max : float
        Maximum field-of-view offset in deg (sets the cutout width).
    edisp, psf : bool
        Whether to compute the energy-dispersion kernel and PSF maps.
    fov_rotation_step : float
        For ALTAZ-aligned bkg_3d: largest field-of-view rotation (deg) per
        time step of the background integration.
    fov_alignment : {"auto", "radec", "altaz"}
        Orientation of a bkg_3d's field of view (:func:`resolve_fov_alignment`).

    Returns
    -------
    dataset : `~dl3flow.datasets.map.MapDataset`

    Raises
    ------
    ReductionError
        If the observation lies outside the geometry, lacks a needed IRF, has no
        positive livetime, has an empty event list, or an IRF gives NaN or infinite
        values on the geometry; the message names the observation.

    Warns
    -----
    `~dl3flow.data.quality.ObservationWarning`
        A FOVALIGN assumed or overridden; for ALTAZ, a pointing below the horizon or
        far from ALT_PNT (:mod:`dl3flow.data.quality`).
    """
    ctx = _context(observation, geom, offset_max)
    aeff, bkg = _required_irfs(observation)
    events, counts = _reduce_counts(ctx)
    exposure = make_exposure(
        aeff,
        offset=ctx.cut.sky.separation(ctx.ra0, ctx.dec0),
        energy_true=geom.energy_true.centers,
        livetime=ctx.livetime,
    )
    alignment, background = _reduce_background(
        ctx, bkg, fov_alignment=fov_alignment, fov_rotation_step=fov_rotation_step
    )
    edisp_map = _reduce_edisp(ctx, aeff) if edisp else None
    psf_map = _reduce_psf(ctx, aeff) if psf else None
    _check_finite(
        ctx.obs_id,
        [
            ("exposure", "aeff", exposure),
            ("background", "bkg", background),
            ("edisp kernel", "edisp", None if edisp_map is None else edisp_map.kernel),
            ("edisp exposure", "aeff", None if edisp_map is None else edisp_map.exposure),
            ("psf", "psf", None if psf_map is None else psf_map.psf),
            ("psf exposure", "aeff", None if psf_map is None else psf_map.exposure),
        ],
    )
    return MapDataset(
        geom=ctx.cut,
        counts=counts,
        exposure=exposure,
        background=background,
        mask_safe=np.ones(counts.shape, dtype=bool),
        edisp=edisp_map,
        psf=psf_map,
        name=f"obs-{ctx.obs_id}",
        meta=_dataset_meta(ctx, events, aeff, offset_max=offset_max, alignment=alignment),
        gti=observation.gti,
    )


@dataclass(frozen=True)
class _Reduction:
    """What the products of one reduction share: the observation, its cutout and times."""

    observation: Any
    obs_id: Any
    geom: DatasetGeom
    cut: DatasetGeom
    ra0: float
    dec0: float
    livetime: float
    ontime: float


def _context(observation, geom: DatasetGeom, offset_max: float) -> _Reduction:
    """The observation's cutout of ``geom`` and its checked livetime and ontime."""
    obs_id = observation.obs_id
    if offset_max <= 0:
        raise ReductionError(f"obs {obs_id}: offset_max must be positive, got {offset_max}")
    ra0, dec0 = _observation_radec(observation)
    # the cutout of a galactic geometry transforms a SkyCoord; an ICRS one takes floats
    position = (ra0, dec0) if geom.sky.frame == "icrs" else observation.pointing
    try:
        cut, _ = geom.cutout(position, 2.0 * offset_max)
    except GeomError as exc:
        raise ReductionError(
            f"obs {obs_id}: pointing {ra0:g} {dec0:g} is outside the analysis geometry ({exc})"
        ) from exc

    livetime, ontime = float(observation.livetime), float(observation.ontime)
    if not (np.isfinite(livetime) and livetime > 0):
        raise ReductionError(f"obs {obs_id}: LIVETIME must be positive, got {livetime}")
    if not (np.isfinite(ontime) and ontime > 0):
        raise ReductionError(f"obs {obs_id}: ONTIME must be positive, got {ontime}")
    return _Reduction(observation, obs_id, geom, cut, ra0, dec0, livetime, ontime)


def _required_irfs(observation):
    """The observation's aeff and bkg IRFs (ReductionError if one is missing)."""
    aeff, bkg = observation.aeff, observation.bkg
    for name, irf in (("aeff", aeff), ("bkg", bkg)):
        if irf is None:
            raise ReductionError(f"obs {observation.obs_id}: no {name} IRF in the data store")
    return aeff, bkg


def _reduce_counts(ctx: _Reduction):
    """The event list and its counts cube on the cutout (ReductionError if it is empty)."""
    events = ctx.observation.events
    if np.size(events.energy) == 0:
        raise ReductionError(f"obs {ctx.obs_id}: the event list is empty (0 events)")
    counts = make_counts(
        ra=events.ra,
        dec=events.dec,
        energy=events.energy,
        sky=ctx.cut.sky,
        energy_edges=ctx.geom.energy.edges,
    )
    return events, counts


def _reduce_background(ctx: _Reduction, bkg, *, fov_alignment: str, fov_rotation_step: float):
    """The field-of-view alignment used (None if irrelevant) and the background cube."""
    observation, obs_id = ctx.observation, ctx.obs_id
    times = location = None
    alignment = resolve_fov_alignment(observation, fov_alignment)
    if alignment == "ALTAZ":
        location = observation.location
        if location is None:
            raise ReductionError(
                f"obs {obs_id}: ALTAZ-aligned background needs the observatory location "
                "(GEOLON/GEOLAT/ALTITUDE header or a known TELESCOP)"
            )
        pointing = observation.pointing
        n_steps = _rotation_steps(observation, pointing, location, fov_rotation_step)
        times = _observation_times(observation, n_steps)
        _check_altaz_pointing(observation, pointing=pointing, location=location, times=times)
    background = make_background(
        bkg,
        sky=ctx.cut.sky,
        pointing=observation.pointing if alignment == "ALTAZ" else (ctx.ra0, ctx.dec0),
        energy_edges=ctx.geom.energy.edges,
        ontime=ctx.ontime,
        fov_alignment=alignment,
        location=location,
        times=times,
    )
    return alignment, background


def _reduce_edisp(ctx: _Reduction, aeff) -> EDispKernelMap:
    """The edisp kernel map on the IRF image (ReductionError without an edisp IRF)."""
    observation = ctx.observation
    if observation.edisp is None:
        raise ReductionError(f"obs {ctx.obs_id}: edisp requested but no edisp IRF present")
    return make_edisp_kernel_map(
        observation.edisp,
        aeff,
        sky=ctx.cut.irf_sky,
        pointing=(ctx.ra0, ctx.dec0),
        energy_true_edges=ctx.geom.energy_true.edges,
        energy_edges=ctx.geom.energy.edges,
        livetime=ctx.livetime,
    )


def _reduce_psf(ctx: _Reduction, aeff) -> PSFMap:
    """The PSF map on the IRF image (ReductionError without a psf IRF)."""
    observation = ctx.observation
    if observation.psf is None:
        raise ReductionError(f"obs {ctx.obs_id}: psf requested but no psf IRF present")
    return make_psf_map(
        observation.psf,
        aeff,
        sky=ctx.cut.irf_sky,
        pointing=(ctx.ra0, ctx.dec0),
        energy_true=ctx.geom.energy_true.centers,
        rad=ctx.geom.rad_centers,
        livetime=ctx.livetime,
    )


def _dataset_meta(ctx: _Reduction, events, aeff, *, offset_max: float, alignment) -> dict:
    """The reduced dataset's meta: pointing, times, the aeff's safe range, quality notes."""
    observation = ctx.observation
    meta = {
        "OBS_ID": int(ctx.obs_id),
        "RA_PNT": float(ctx.ra0),
        "DEC_PNT": float(ctx.dec0),
        "LIVETIME": ctx.livetime,
        "ONTIME": ctx.ontime,
        "N_EVENTS": int(len(events.energy)),
        "OFFSETMX": float(offset_max),
        # the aeff's default safe range, for the safe-mask step (which then needs no
        # DL3 file): TeV, or "none" where the aeff header has no (or a zero) threshold
        "AEFF_LO": _threshold(aeff.lo_threshold),
        "AEFF_HI": _threshold(aeff.hi_threshold),
    }
    for key in ("TELESCOP", "INSTRUME", "OBJECT", "DEADC"):
        value = events.header.get(key)
        if value is not None:
            meta[key] = value
    # a validated observation (dl3flow.data.checks) records what it dropped or clipped
    meta.update(getattr(observation, "quality_meta", {}))
    if alignment is not None:
        meta["FOVALIGN"] = alignment
    return meta


def _threshold(value) -> float | str:
    """An aeff threshold for the meta: TeV, or ``none`` where it is missing or zero."""
    return float(value) if value else "none"


def _check_finite(obs_id, maps) -> None:
    """Raise if a reduced map has NaN or infinite values (an IRF with NaN where used)."""
    for name, irf, values in maps:
        if values is None:
            continue
        bad = ~np.isfinite(values)
        if bad.any():
            raise ReductionError(
                f"obs {obs_id}: {name} map has {int(bad.sum())} non-finite values of "
                f"{bad.size} (NaN or inf in the {irf} IRF where the geometry uses it)"
            )


def _rotation_steps(observation, pointing, location, step_deg: float) -> int:
    """Number of time steps so that the field rotates by at most ``step_deg`` per step."""
    start, stop = observation.tstart, observation.tstop
    m0, m1 = altaz_fov_rotation(pointing=pointing, location=location, times=[start, stop])
    cos_angle = np.clip(0.5 * np.trace(m0.T @ m1), -1.0, 1.0)
    rotation = np.rad2deg(np.arccos(cos_angle))
    return max(1, int(np.ceil(rotation / step_deg)))
