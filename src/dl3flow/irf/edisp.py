"""Energy dispersion ``edisp_2d`` and its per-position kernels.

`EnergyDispersion2D` (gammapy ``EnergyDispersion2D``) and `edisp_kernel`, the
kernels of gammapy's ``make_edisp_kernel_map``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dl3flow.irf.axes import (
    IrfAxis,
    _check_nodes,
    _finalize,
    _index_weights,
    _interp1d_linear,
    _multilinear,
    _TabulatedIRF,
)

__all__ = ["EnergyDispersion2D", "edisp_kernel"]


@dataclass(frozen=True, eq=False)
class EnergyDispersion2D(_TabulatedIRF):
    """Energy dispersion ``edisp_2d`` (gammapy ``EnergyDispersion2D``).

    Parameters
    ----------
    axes : tuple of IrfAxis
        ``(energy_true, migra, offset)``; ``migra = energy / energy_true``.
    data : numpy.ndarray
        Probability density in migra, shape ``(n_energy_true, n_migra, n_offset)``.
    meta : dict
        Header keywords.
    """

    axis_names = ("energy_true", "migra", "offset")

    def evaluate(self, *, energy_true, migra, offset) -> np.ndarray:
        """Migration probability density, as gammapy ``EnergyDispersion2D.evaluate``.

        Parameters
        ----------
        energy_true : array_like
            True energy in TeV.
        migra : array_like
            Energy migration ``energy / energy_true``.
        offset : array_like
            Offset in deg. All three are broadcast together.

        Returns
        -------
        numpy.ndarray
            Values (dimensionless density), broadcast shape. Zero where the point is
            outside the edges in both ``energy_true`` and ``migra``, or in ``offset``
            (gammapy's masking; an energy outside the table with a valid migra is
            extrapolated).
        """
        ax_e, ax_m, ax_o = self.axes
        energy_true = np.asarray(energy_true, dtype=float)
        migra = np.asarray(migra, dtype=float)
        offset = np.asarray(offset, dtype=float)
        values = _multilinear(
            self.data,
            [a.scaled_nodes for a in self.axes],
            [ax_e.scale(energy_true), ax_m.scale(migra), ax_o.scale(offset)],
        )
        invalid = (ax_e.outside(energy_true) & ax_m.outside(migra)) | ax_o.outside(offset)
        return _finalize(values, invalid)


# --------------------------------------------------------------------------------------
# Per-observation kernels (gammapy make_edisp_kernel_map)
# --------------------------------------------------------------------------------------


def edisp_kernel(
    edisp: EnergyDispersion2D, *, offset, energy_true_edges, energy_edges
) -> np.ndarray:
    """Energy dispersion kernels at given offsets, as gammapy ``make_edisp_kernel_map``.

    gammapy evaluates the IRF at the *centres* of the true-energy bins and the
    IRF's own migra nodes (``make_edisp_map``; the true-energy edges set in
    ``make_edisp_kernel_map`` are overwritten), normalises over migra
    (``Map.normalize``), and converts to kernels with
    ``EDispMap.to_edisp_kernel_map``: the migra cumulative sum, padded by one
    edge-valued node, is linearly interpolated (in pixel space, extrapolating)
    at ``energy_edges / energy_true_centre`` and differenced, clipped at 0.

    Parameters
    ----------
    edisp : EnergyDispersion2D
        Energy dispersion IRF.
    offset : array_like
        Offsets in deg, shape ``(n_pos,)``.
    energy_true_edges : array_like
        True-energy bin edges in TeV, ``(n_energy_true + 1,)``.
    energy_edges : array_like
        Reconstructed-energy bin edges in TeV, ``(n_energy + 1,)``.

    Returns
    -------
    numpy.ndarray
        Probabilities, shape ``(n_pos, n_energy_true, n_energy)``.

    Notes
    -----
    At a position between offset nodes ``j`` and ``j + 1`` (weight ``t``) the IRF
    values are ``(1 - t) A_j + t A_{j+1}``, with ``A_j`` the IRF interpolated in
    energy at offset node ``j``. Where that is non-negative for all migra (no
    clipping: ``0 <= t <= 1`` and ``A_j, A_{j+1} >= 0``), normalisation, cumulative
    sum and migra interpolation are linear, so they are done once per offset node
    and blended per position. Other (energy, position) pairs are computed directly
    with gammapy's sequence of operations.
    """
    offset = np.asarray(offset, dtype=float).reshape(-1)
    etrue = IrfAxis.from_edges(energy_true_edges, name="energy_true", unit="TeV", interp="log")
    ereco = _check_nodes(energy_edges, name="energy", interp="log", minimum=2)
    ax_m, ax_o = edisp.axes[1], edisp.axes[2]
    nodes = _edisp_at_offset_nodes(edisp, etrue)  # (n_et, n_m, n_o)
    idx, t = _offset_weights(ax_o, offset)
    valid_pos = ~ax_o.outside(offset)
    width = np.diff(ax_m.edges)
    pixels = _migra_pixels(ax_m, etrue, ereco)  # (n_et, n_e + 1) each

    kernel = np.zeros((etrue.nbin, ereco.size - 1, offset.size))
    linear, fast = _linear_kernel(nodes, idx, t, valid_pos, width, pixels)
    np.copyto(kernel, fast, where=linear[:, None, :])
    # Direct path (extrapolation / clipping / NaN): gammapy's operations per pair.
    et_rows, pos_cols = np.nonzero(~linear & valid_pos[None, :])
    if et_rows.size:
        pairs = _direct_kernel(nodes, idx[pos_cols], t[pos_cols], et_rows, width, pixels)
        kernel[et_rows, :, pos_cols] = pairs
    return np.ascontiguousarray(np.moveaxis(kernel, 2, 0))


def _edisp_at_offset_nodes(edisp: EnergyDispersion2D, etrue: IrfAxis) -> np.ndarray:
    """IRF at (true-energy centres, migra nodes) per offset node, ``(n_et, n_m, n_o)``.

    A length-1 offset axis is ignored as gammapy does: its values are repeated on a
    second node, so that every offset gets them (`_offset_weights`).
    """
    ax_e, ax_m, ax_o = edisp.axes
    grids = [ax_e.scaled_nodes, ax_m.scaled_nodes]
    coords = [ax_e.scale(etrue.nodes)[:, None], ax_m.scaled_nodes[None, :]]
    nodes = np.stack(
        [_multilinear(edisp.data[:, :, j], grids, coords) for j in range(ax_o.nbin)], axis=-1
    )
    if ax_o.nbin == 1:
        nodes = np.concatenate([nodes, nodes], axis=-1)
    return nodes


def _offset_weights(ax_o: IrfAxis, offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower offset node and weight per position (node 0, weight 0 for a length-1 axis)."""
    if ax_o.nbin > 1:
        return _index_weights(ax_o.scaled_nodes, ax_o.scale(offset))
    return np.zeros(offset.size, dtype=int), np.zeros(offset.size)


def _migra_pixels(
    ax_m: IrfAxis, etrue: IrfAxis, ereco: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Index and weight of ``energy_edges / energy_true_centre`` on the cumulative-sum axis.

    That axis has its nodes at the migra edges, padded by one node each side; the
    points are placed in its pixel space, as gammapy's ``to_edisp_kernel_map``.
    """
    cum_axis = IrfAxis.from_nodes(ax_m.edges, name="migra", unit="", interp="lin").pad(1)
    pixel_grid = np.arange(cum_axis.nbin, dtype=float)
    pix = _interp1d_linear(cum_axis.nodes, pixel_grid, ereco[None, :] / etrue.nodes[:, None])
    return _index_weights(pixel_grid, pix)


def _integral_at_pixels(cumsum: np.ndarray, pix_idx: np.ndarray, pix_t: np.ndarray) -> np.ndarray:
    """Interpolate padded cumulative sums (..., n_m + 3, k) at the migra points."""
    lo = np.take_along_axis(cumsum, pix_idx[..., None], axis=1)
    hi = np.take_along_axis(cumsum, pix_idx[..., None] + 1, axis=1)
    return lo * (1.0 - pix_t[..., None]) + hi * pix_t[..., None]


def _padded_cumsum(values: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Cumulative sum over migra (axis 1) with a leading 0, edge-padded by one."""
    cumsum = np.cumsum(values * width[None, :, None], axis=1)
    zero = np.zeros_like(cumsum[:, :1])
    return np.concatenate([zero, zero, cumsum, cumsum[:, -1:]], axis=1)


def _linear_kernel(nodes, idx, t, valid_pos, width, pixels) -> tuple[np.ndarray, np.ndarray]:
    """Kernels computed per offset node and blended per position, and where they hold.

    Returns the mask ``(n_et, n_pos)`` of the pairs without clipping (see
    `edisp_kernel`) and the kernels ``(n_et, n_e, n_pos)`` of all pairs.
    """
    good_node = np.all(np.isfinite(nodes) & (nodes >= 0), axis=1)  # (n_et, n_o)
    inside = (t >= 0) & (t <= 1) & valid_pos
    linear = inside[None, :] & good_node[:, idx] & good_node[:, idx + 1]  # (n_et, n_pos)
    norm_nodes = np.sum(nodes * width[None, :, None], axis=1)  # (n_et, n_o)
    integral_nodes = _integral_at_pixels(_padded_cumsum(nodes, width), *pixels)
    norm = norm_nodes[:, idx] * (1.0 - t) + norm_nodes[:, idx + 1] * t  # (n_et, n_pos)
    blended = integral_nodes[:, :, idx] * (1.0 - t) + integral_nodes[:, :, idx + 1] * t
    with np.errstate(invalid="ignore", divide="ignore"):
        fast = np.diff(blended, axis=1) / norm[:, None, :]
    fast = np.nan_to_num(fast, nan=0.0, posinf=0.0, neginf=0.0)
    np.clip(fast, 0.0, np.inf, out=fast)
    return linear, fast


def _direct_kernel(nodes, i, w, et_rows, width, pixels) -> np.ndarray:
    """Kernels ``(n_pairs, n_e)`` of (true energy, position) pairs, as gammapy computes them.

    ``i``, ``w`` are the pairs' lower offset nodes and weights, ``et_rows`` their
    true-energy rows.
    """
    values = nodes[et_rows, :, i] * (1.0 - w[:, None]) + nodes[et_rows, :, i + 1] * w[:, None]
    values = _finalize(values, None)  # (n_pairs, n_m)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.cumsum(values * width, axis=1).max(axis=1, keepdims=True)
        # a zero column stays zero (gammapy's nan_to_num of 0 / 0); NaN stays NaN
        normed = np.where(total == 0, 0.0, values / total)
    cumsum = _padded_cumsum(normed[:, :, None], width)  # (n_pairs, n_m + 3, 1)
    pix_idx, pix_t = pixels
    pairs = _integral_at_pixels(cumsum, pix_idx[et_rows], pix_t[et_rows])[:, :, 0]
    return np.clip(np.diff(pairs, axis=1), 0.0, np.inf)
