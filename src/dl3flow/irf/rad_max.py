"""Point-like IRFs: the directional cut ``rad_max_2d`` (gammapy ``RadMax2D``).

`RadMax2D`, the fixed cut of a point-like IRF's ``RAD_MAX`` keyword
(`rad_max_from_irf`) and `is_point_like`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dl3flow.irf.axes import IrfAxis, IrfError, _finalize, _index_weights, _TabulatedIRF

__all__ = ["RadMax2D", "is_point_like", "rad_max_from_irf"]


def is_point_like(irf) -> bool:
    """True if the IRF header says ``HDUCLAS3 = POINT-LIKE`` (gammapy ``is_pointlike``)."""
    value = getattr(irf, "meta", {}).get("HDUCLAS3")
    return value is not None and str(value).strip().upper() == "POINT-LIKE"


def _nearest_index(grid: np.ndarray, x: np.ndarray) -> np.ndarray:
    """scipy ``RegularGridInterpolator(method="nearest")``: ties go to the lower node."""
    x = np.asarray(x, dtype=float)
    idx, t = _index_weights(grid, np.atleast_1d(x))
    with np.errstate(invalid="ignore"):
        return np.where(t <= 0.5, idx, idx + 1).reshape(x.shape)


@dataclass(frozen=True, eq=False)
class RadMax2D(_TabulatedIRF):
    """Directional cut of point-like IRFs ``rad_max_2d`` (gammapy ``RadMax2D``).

    Parameters
    ----------
    axes : tuple of IrfAxis
        ``(energy, offset)``: *reconstructed* energy (``ENERG`` columns) and offset.
    data : numpy.ndarray
        Cut radius in deg, shape ``(n_energy, n_offset)``.
    meta : dict
        Header keywords.
    fixed : bool
        True for the single-valued cut of a point-like IRF's ``RAD_MAX`` header
        keyword (`rad_max_from_irf`): no edge masking, the value holds everywhere.
    """

    fixed: bool = False
    axis_names = ("energy", "offset")

    @property
    def is_fixed(self) -> bool:
        """True if the cut does not depend on energy or offset (gammapy ``is_fixed_rad_max``)."""
        return all(a.nbin == 1 for a in self.axes)

    def evaluate(self, *, energy, offset) -> np.ndarray:
        """Cut radius (deg), as gammapy ``RadMax2D.evaluate(method="nearest")``.

        Nearest node in log energy and linear offset (ties to the lower node,
        beyond the outer nodes the outer value); length-1 axes are ignored. For a
        table (not `fixed`), coordinates outside the axis edges give 0.

        Parameters
        ----------
        energy : array_like
            Reconstructed energy in TeV.
        offset : array_like
            Offset from the pointing in deg; broadcast against ``energy``.

        Returns
        -------
        numpy.ndarray
            Radius in deg, broadcast shape.
        """
        energy = np.asarray(energy, dtype=float)
        offset = np.asarray(offset, dtype=float)
        shape = np.broadcast_shapes(energy.shape, offset.shape)
        index = []
        for axis, coord in zip(self.axes, (energy, offset), strict=True):
            if axis.nbin == 1:
                index.append(np.zeros(shape, dtype=int))
            else:
                idx = _nearest_index(axis.scaled_nodes, axis.scale(coord))
                index.append(np.broadcast_to(idx, shape))
        values = np.array(self.data[index[0], index[1]], dtype=float)
        if not self.fixed:
            invalid = self.axes[0].outside(energy) | self.axes[1].outside(offset)
            values = _finalize(values, np.broadcast_to(invalid, shape))
        return values


def rad_max_from_irf(irf, *, source: str = "") -> RadMax2D:
    """The fixed cut of a point-like IRF's ``RAD_MAX`` keyword (gammapy ``RadMax2D.from_irf``).

    Parameters
    ----------
    irf : EffectiveArea2D or EnergyDispersion2D
        A point-like IRF (``HDUCLAS3 = POINT-LIKE``) with a ``RAD_MAX`` header keyword (deg).
    source : str, optional
        Description for error messages (file, HDU, observation).

    Returns
    -------
    RadMax2D
        One bin spanning the IRF's true-energy and offset ranges; `RadMax2D.fixed` is True.

    Raises
    ------
    IrfError
        If the IRF is not point-like, or ``RAD_MAX`` is missing or not a positive number.
    """
    where = source or type(irf).__name__
    if not is_point_like(irf):
        raise IrfError(f"{where}: a RAD_MAX cut needs a point-like IRF (HDUCLAS3 = POINT-LIKE)")
    raw = irf.meta.get("RAD_MAX")
    if raw is None:
        raise IrfError(f"{where}: point-like IRF without a RAD_MAX keyword nor RAD_MAX_2D HDU")
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not float(raw) > 0:
        raise IrfError(f"{where}: RAD_MAX must be a positive number (deg), got {raw!r}")
    e_true, offset = irf.axis("energy_true"), irf.axis("offset")
    axes = (
        IrfAxis.from_edges(e_true.edges[[0, -1]], name="energy", unit="TeV", interp="log"),
        IrfAxis.from_edges(offset.edges[[0, -1]], name="offset", unit="deg", interp="lin"),
    )
    return RadMax2D(axes=axes, data=[[float(raw)]], meta=dict(irf.meta), fixed=True)
