"""Background models ``bkg_2d`` and ``bkg_3d`` (gammapy ``Background2D`` / ``3D``).

Rates are interpolated in log scale, gaps along energy filled and the offset axis
padded as gammapy's ``MapDatasetMaker.make_background`` does (`prepared`), and
integrated in energy bins with gammapy's ``trapz_loglog``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from dl3flow.irf.axes import (
    TINY,
    IrfAxis,
    IrfError,
    _axis,
    _check_axes,
    _check_data,
    _check_nodes,
    _finalize,
    _log_inverse,
    _log_scale,
    _multilinear,
)

__all__ = ["Background2D", "Background3D"]

#: MeV per TeV: background rates are per MeV, energies in TeV.
_MEV_PER_TEV = 1e6

_FOV_ALIGNMENTS = ("RADEC", "ALTAZ")


def _trapz_loglog(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """gammapy ``trapz_loglog`` along axis 0 (``x`` > 0, broadcastable to ``y``).

    Each interval is integrated as the power law through its end points
    (``PowerLawSpectralModel.evaluate_integral`` with ``reference = x_lo``; its
    ``lower`` term ``(x_lo / x_lo) ** val`` is exactly 1). Intervals with a zero
    (or non-finite ratio of) end-point value(s) give 0.
    """
    x_lo, x_hi = x[:-1], x[1:]
    y_lo, y_hi = y[:-1], y[1:]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        index = y_lo / y_hi
        np.clip(index, TINY, np.inf, out=index)
        np.log(index, out=index)
        np.negative(index, out=index)
        index /= _log_scale(x_lo / x_hi)
        index[np.isnan(index)] = np.inf
        val = np.subtract(1.0, index, out=index)  # == -1 * index + 1
        # (x_hi / x_lo) ** val as exp(val * log(x_hi / x_lo)): 4x faster than np.power
        # and the same to ~1 ulp of ``upper`` (so ~1e-16 relative after ``- 1``).
        upper = val * np.log(x_hi / x_lo)
        np.exp(upper, out=upper)
        upper -= 1.0
        integral = y_lo * x_lo
        integral /= val
        integral *= upper
        mask = np.abs(val) <= 1e-8  # np.isclose(val, 0)
        if mask.any():
            exact = np.broadcast_to(y_lo * x_lo * np.log(x_hi / x_lo), integral.shape)
            integral[mask] = exact[mask]
    return integral


def _interp_missing_energy(data: np.ndarray, *, float32: bool) -> np.ndarray:
    """gammapy ``IRF.interp_missing_data(axis_name="energy")`` for log-scaled values.

    Zero or non-finite entries lying *between* valid entries along axis 0 are
    replaced by log-linear interpolation in the bin index; leading / trailing gaps
    stay. Done in the table precision (float32 for 'E' columns), like gammapy.
    """
    work = data.astype(np.float32 if float32 else np.float64)
    mask = ~np.isfinite(work) | (work == 0.0)
    if not mask.any():
        return data.copy()
    n = work.shape[0]
    flat = work.reshape(n, -1)
    bad = mask.reshape(n, -1)
    logv = _log_scale(flat).astype(np.float64)
    idx = np.arange(n)[:, None]
    prev = np.maximum.accumulate(np.where(bad, -1, idx), axis=0)
    nxt = np.minimum.accumulate(np.where(bad, n, idx)[::-1], axis=0)[::-1]
    fill = bad & (prev >= 0) & (nxt < n)
    if fill.any():
        rows, cols = np.nonzero(fill)
        j, k = prev[rows, cols], nxt[rows, cols]
        fp_j, fp_k = logv[j, cols], logv[k, cols]
        slope = (fp_k - fp_j) / (k.astype(float) - j.astype(float))
        value = slope * (rows.astype(float) - j) + fp_j
        flat = flat.copy()
        flat[rows, cols] = _log_inverse(value)
    return flat.reshape(data.shape).astype(np.float64)


@dataclass(frozen=True, eq=False)
class _BackgroundBase:
    axes: tuple[IrfAxis, ...]
    data: np.ndarray
    meta: dict = field(default_factory=dict)
    float32_source: bool = False
    preprocessed: bool = False

    def axis(self, name: str) -> IrfAxis:
        """The axis called ``name``."""
        return _axis(self, name)

    @cached_property
    def _log_data(self) -> np.ndarray:
        # gammapy keeps the table dtype and takes the log in it: float32 for 'E'
        # columns. Reproducing that keeps us within ~1e-8 instead of ~1e-6.
        values = self.data.astype(np.float32) if self.float32_source else self.data
        return _log_scale(values).astype(np.float64)

    def _evaluate(self, coords) -> np.ndarray:
        coords = [np.asarray(c, dtype=float) for c in coords]
        log_values = _multilinear(
            self._log_data,
            [a.scaled_nodes for a in self.axes],
            [a.scale(c) for a, c in zip(self.axes, coords, strict=True)],
        )
        values = _log_inverse(log_values)
        invalid = None
        for a, c in zip(self.axes, coords, strict=True):
            out = a.outside(c)
            invalid = out if invalid is None else invalid | out
        # exp(...) >= 0 (or NaN), so gammapy's clip at 0 is a no-op here.
        return _finalize(values, invalid, clip=False)

    def with_missing_data_interpolated(self):
        """New background with gaps along energy filled (gammapy ``interp_missing_data``).

        Returns
        -------
        same type as self
        """
        data = _interp_missing_energy(self.data, float32=self.float32_source)
        return replace(self, data=data)

    def _integrate(self, energy_edges, spatial) -> np.ndarray:
        energy_edges = np.asarray(energy_edges, dtype=float)
        if energy_edges.ndim != 1:
            raise IrfError(f"energy_edges must be 1D, got shape {energy_edges.shape}")
        energy_edges = _check_nodes(energy_edges, name="energy", interp="log", minimum=2)
        spatial = [np.asarray(c, dtype=float) for c in spatial]
        shape = np.broadcast_shapes(*(c.shape for c in spatial))
        energy = energy_edges.reshape((-1,) + (1,) * len(shape))
        bkg = self.prepared()
        rate = bkg._evaluate([energy, *[c.reshape((1,) + c.shape) for c in spatial]])
        rate = np.broadcast_to(rate, energy.shape[:1] + shape)
        return _trapz_loglog(rate, energy) * _MEV_PER_TEV


@dataclass(frozen=True, eq=False)
class Background2D(_BackgroundBase):
    """Radially symmetric background ``bkg_2d`` (gammapy ``Background2D``).

    Parameters
    ----------
    axes : tuple of IrfAxis
        ``(energy, offset)``; ``energy`` is reconstructed energy.
    data : numpy.ndarray
        Rate in 1/(MeV s sr), shape ``(n_energy, n_offset)``.
    meta : dict
        Header keywords.
    float32_source : bool
        The rate column was single precision and needed no unit rescaling:
        log-values are then taken in float32, exactly like gammapy.
    preprocessed : bool
        True for the object returned by `prepared`.
    """

    def __post_init__(self):
        _check_axes(self, ("energy", "offset"))
        shape = tuple(a.nbin for a in self.axes)
        object.__setattr__(self, "data", _check_data(self, self.data, shape))

    def padded_offset(self) -> Background2D:
        """New background padded by one offset bin each side with edge values.

        gammapy ``Background2D.pad(1, mode="edge", axis_name="offset")``.
        """
        ax_e, ax_o = self.axes
        data = np.pad(self.data, [(0, 0), (1, 1)], mode="edge")
        return replace(self, axes=(ax_e, ax_o.pad(1)), data=data)

    def prepared(self) -> Background2D:
        """Background as gammapy ``MapDatasetMaker.make_background`` uses it.

        ``interp_missing_data(axis_name="energy")`` then
        ``pad(1, mode="edge", axis_name="offset")`` (``background_pad_offset=True``).
        Returns ``self`` if already prepared; the result is cached.
        """
        if self.preprocessed:
            return self
        return self._prepared

    @cached_property
    def _prepared(self) -> Background2D:
        bkg = self.with_missing_data_interpolated().padded_offset()
        return replace(bkg, preprocessed=True)

    def evaluate(self, *, energy, offset) -> np.ndarray:
        """Background rate in 1/(MeV s sr), as gammapy ``Background2D.evaluate``.

        Evaluates this object's data as is (call `prepared` first for the maker's
        preprocessing).

        Parameters
        ----------
        energy : array_like
            Reconstructed energy in TeV.
        offset : array_like
            Offset in deg, broadcast against ``energy``.

        Returns
        -------
        numpy.ndarray
            Rate, broadcast shape; 0 outside the axis edges.
        """
        return self._evaluate([energy, offset])

    def integrate_energy(self, *, energy_edges, offset) -> np.ndarray:
        """Background rate integrated in energy bins, in 1/(s sr).

        gammapy's ``integrate_log_log(axis_name="energy", energy=edges, offset=...)``
        on the `prepared` background, i.e. exactly what ``make_map_background_irf``
        integrates (before multiplying by solid angle and ontime).

        Parameters
        ----------
        energy_edges : array_like
            1D energy bin edges in TeV, ``(n_bins + 1,)``.
        offset : array_like
            Offsets in deg, any shape ``P``.

        Returns
        -------
        numpy.ndarray
            Shape ``(n_bins, *P)``.
        """
        return self._integrate(energy_edges, [offset])


@dataclass(frozen=True, eq=False)
class Background3D(_BackgroundBase):
    """Background in field-of-view coordinates ``bkg_3d`` (gammapy ``Background3D``).

    Parameters
    ----------
    axes : tuple of IrfAxis
        ``(energy, fov_lon, fov_lat)`` from the ``ENERG``, ``DETX``, ``DETY`` columns.
    data : numpy.ndarray
        Rate in 1/(MeV s sr), shape ``(n_energy, n_lon, n_lat)``.
    meta : dict
        Header keywords.
    fov_alignment : str
        ``"RADEC"`` or ``"ALTAZ"``: orientation of the FoV frame (``FOVALIGN``).
    fov_alignment_assumed : bool
        True when the header had no ``FOVALIGN`` and `read_irf` assumed ``"ALTAZ"``.
    float32_source : bool
        The rate column was single precision and needed no unit rescaling.
    preprocessed : bool
        True for the object returned by `prepared`.

    Notes
    -----
    Array layout: `read_irf` replicates ``Background3D.from_table``: the array of
    the first table row (numpy order, i.e. the reverse of ``TDIM``) is transposed
    and, if that does not match ``(n_energy, n_lon, n_lat)``, transposed back.
    For H.E.S.S. DR1 (``TDIM = (50, 50, 20)``) this keeps the stored order, so
    array axis 1 is treated as ``fov_lon`` (sized by ``DETX``) and axis 2 as
    ``fov_lat`` - whatever the producer meant, the numbers match gammapy's.

    ``FOVALIGN``: the GADF spec defaults to ``ALTAZ`` when the keyword is absent,
    and so does dl3flow (recorded in ``fov_alignment_assumed``); gammapy 1.3
    defaults to ``RADEC`` instead.
    """

    fov_alignment: str = "ALTAZ"
    fov_alignment_assumed: bool = False

    def __post_init__(self):
        _check_axes(self, ("energy", "fov_lon", "fov_lat"))
        shape = tuple(a.nbin for a in self.axes)
        object.__setattr__(self, "data", _check_data(self, self.data, shape))
        if self.fov_alignment not in _FOV_ALIGNMENTS:
            raise IrfError(
                f"Background3D: fov_alignment must be one of {_FOV_ALIGNMENTS}, "
                f"got {self.fov_alignment!r}"
            )

    def prepared(self) -> Background3D:
        """Background as gammapy ``MapDatasetMaker.make_background`` uses it.

        ``interp_missing_data(axis_name="energy")``. Returns ``self`` if already
        prepared; the result is cached.
        """
        if self.preprocessed:
            return self
        return self._prepared

    @cached_property
    def _prepared(self) -> Background3D:
        return replace(self.with_missing_data_interpolated(), preprocessed=True)

    def evaluate(self, *, energy, fov_lon, fov_lat) -> np.ndarray:
        """Background rate in 1/(MeV s sr), as gammapy ``Background3D.evaluate``.

        Evaluates this object's data as is (call `prepared` first for the maker's
        preprocessing).

        Parameters
        ----------
        energy : array_like
            Reconstructed energy in TeV.
        fov_lon, fov_lat : array_like
            Field-of-view coordinates in deg (frame given by `fov_alignment`).

        Returns
        -------
        numpy.ndarray
            Rate, broadcast shape; 0 outside the axis edges.
        """
        return self._evaluate([energy, fov_lon, fov_lat])

    def integrate_energy(self, *, energy_edges, fov_lon, fov_lat) -> np.ndarray:
        """Background rate integrated in energy bins, in 1/(s sr).

        gammapy's ``integrate_log_log(axis_name="energy", energy=edges, ...)`` on the
        `prepared` background, i.e. exactly what ``make_map_background_irf``
        integrates (before multiplying by solid angle and ontime).

        Parameters
        ----------
        energy_edges : array_like
            1D energy bin edges in TeV, ``(n_bins + 1,)``.
        fov_lon, fov_lat : array_like
            FoV coordinates in deg, broadcast to a shape ``P``.

        Returns
        -------
        numpy.ndarray
            Shape ``(n_bins, *P)``.
        """
        return self._integrate(energy_edges, [fov_lon, fov_lat])
