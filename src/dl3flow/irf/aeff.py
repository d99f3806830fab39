"""Effective area ``aeff_2d`` (gammapy ``EffectiveAreaTable2D``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dl3flow.irf.axes import _finalize, _meta_float, _multilinear, _TabulatedIRF

__all__ = ["EffectiveArea2D"]


@dataclass(frozen=True, eq=False)
class EffectiveArea2D(_TabulatedIRF):
    """Effective area ``aeff_2d`` (gammapy ``EffectiveAreaTable2D``).

    Parameters
    ----------
    axes : tuple of IrfAxis
        ``(energy_true, offset)``.
    data : numpy.ndarray
        Effective area in m2, shape ``(n_energy_true, n_offset)``.
    meta : dict
        Header keywords.
    """

    axis_names = ("energy_true", "offset")

    @property
    def lo_threshold(self) -> float | None:
        """``LO_THRES`` header keyword in TeV, or None."""
        return _meta_float(self.meta, "LO_THRES")

    @property
    def hi_threshold(self) -> float | None:
        """``HI_THRES`` header keyword in TeV, or None."""
        return _meta_float(self.meta, "HI_THRES")

    def evaluate(self, *, energy_true, offset) -> np.ndarray:
        """Effective area in m2, as gammapy ``EffectiveAreaTable2D.evaluate``.

        Parameters
        ----------
        energy_true : array_like
            True energy in TeV.
        offset : array_like
            Offset from the pointing in deg; broadcast against ``energy_true``.

        Returns
        -------
        numpy.ndarray
            Effective area (m2), broadcast shape; 0 outside the axis edges.
        """
        ax_e, ax_o = self.axes
        energy_true = np.asarray(energy_true, dtype=float)
        offset = np.asarray(offset, dtype=float)
        values = _multilinear(
            self.data,
            [ax_e.scaled_nodes, ax_o.scaled_nodes],
            [ax_e.scale(energy_true), ax_o.scale(offset)],
        )
        invalid = ax_e.outside(energy_true) | ax_o.outside(offset)
        return _finalize(values, invalid)
