"""IRF axes and the interpolation shared by all IRFs of `dl3flow.irf`.

`IrfAxis` (gammapy ``MapAxis`` nodes and edges), `IrfError`, and the private
helpers the IRF modules evaluate with: scalings, separable multilinear
interpolation, the edge masking, and the checks of the IRF dataclasses.

Conventions
-----------
All arrays are plain ``float64`` numpy arrays in fixed internal units:

========================  ==================
quantity                  unit
========================  ==================
energies                  TeV
angles (offset, rad, fov) deg
effective area            m2
PSF                       sr^-1
background rate           1 / (MeV s sr)
integrated background     1 / (s sr)
========================  ==================

How gammapy evaluates an IRF (and so how `dl3flow.irf` does)
-------------------------------------------------------------
Every axis has *nodes* (gammapy ``MapAxis.center``; log-centres for log axes)
and *edges* (``MapAxis.edges``). For axes stored as ``*_LO == *_HI`` (e.g. the
H.E.S.S. ``THETA`` axes) the stored values are the nodes and the edges are
derived half-way between them, extrapolated at both ends.

``IRF.evaluate`` uses ``ScaledRegularGridInterpolator``: multilinear
interpolation on the nodes, with log-scaled coordinates for log axes
(``energy``, ``energy_true``), log-scaled *values* for backgrounds
(``log(clip(v, tiny32))``; the inverse sets results ``<= 2 tiny32`` to zero) and
linear values otherwise. Length-1 axes are ignored. Coordinates beyond the
outer nodes are linearly extrapolated, then the result is clipped at zero.
Finally coordinates outside the axis *edges* (or non-finite) give 0. Unlike
gammapy, a non-finite result inside the edges (a NaN or inf in the table) stays
non-finite: DL3 content is validated, not repaired (``dl3flow.data.checks``
rejects NaN and clearly negative values where a geometry uses them, before any
evaluation; the reduction refuses non-finite maps). The energy dispersion only
masks coordinates outside the edges in *both* ``energy_true`` and ``migra``, or
outside ``offset`` (gammapy's ``EnergyDispersion2D._mask_out_bounds``).
Parametric PSFs interpolate their parameters with extrapolation and without any
edge masking.

Multilinear interpolation is a tensor product, so it can be evaluated axis by
axis. The evaluators first contract the axes whose coordinates are few
(e.g. the requested energies) on the native grid and only then gather per
pixel, which gives gammapy's numbers ~20x faster than a
`scipy.interpolate.RegularGridInterpolator` over all points.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import ClassVar

import numpy as np

from dl3flow.io.header import HeaderMapping

__all__ = ["IrfAxis", "IrfError"]

#: ``np.finfo(np.float32).tiny``: gammapy's ``LogScale`` clipping value.
TINY = np.finfo(np.float32).tiny


class IrfError(ValueError):
    """An IRF table cannot be read or used (message names the source)."""


# --------------------------------------------------------------------------------------
# Scalings and 1D helpers (gammapy.utils.interpolation / scipy.interpolate.interp1d)
# --------------------------------------------------------------------------------------


def _log_scale(values: np.ndarray) -> np.ndarray:
    """gammapy ``LogScale``: ``log(clip(values, tiny32, inf))`` (keeps the dtype)."""
    return np.log(np.clip(values, TINY, np.inf))


def _log_inverse(values: np.ndarray) -> np.ndarray:
    """gammapy ``LogScale.inverse``: ``exp``, with results ``<= 2 tiny32`` set to 0."""
    with np.errstate(over="ignore"):  # inf is zeroed later as non-finite, like gammapy
        out = np.asarray(np.exp(values))
    with np.errstate(invalid="ignore"):
        np.copyto(out, 0.0, where=(out - TINY) <= TINY)  # exp >= 0, so == |out| - tiny
    return out


def _scale(values, interp: str) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return _log_scale(values) if interp == "log" else values


def _inverse(values, interp: str) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return _log_inverse(values) if interp == "log" else values


def _interp1d_linear(x: np.ndarray, y: np.ndarray, x_new) -> np.ndarray:
    """gammapy's pixel <-> coordinate transform, with identical rounding.

    gammapy's ``AxisCoordInterpolator`` calls ``scipy.interpolate.interp1d(x, y,
    kind=1, fill_value="extrapolate")``; an integer ``kind`` makes scipy evaluate a
    degree-1 B-spline (de Boor), which this reproduces operation by operation.
    """
    x_new = np.asarray(x_new, dtype=float)
    j = np.clip(np.searchsorted(x, x_new, side="right") - 1, 0, len(x) - 2)
    xa, xb = x[j], x[j + 1]
    w = 1.0 / (xb - xa)
    return y[j] * (w * (xb - x_new)) + y[j + 1] * (w * (x_new - xa))


def _index_weights(grid: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower node index and normalised distance, as scipy's ``RegularGridInterpolator``.

    Beyond the outer nodes the outermost interval is used (linear extrapolation);
    NaN coordinates give NaN weights.
    """
    idx = np.searchsorted(grid, x, side="right") - 1
    np.clip(idx, 0, grid.size - 2, out=idx)
    lo = grid[idx]
    with np.errstate(invalid="ignore"):
        t = (x - lo) / (grid[idx + 1] - lo)
    return idx, t


# --------------------------------------------------------------------------------------
# Separable multilinear interpolation
# --------------------------------------------------------------------------------------


def _contract(cube: np.ndarray, ndim: int, idx: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Interpolate along the first node axis of ``cube`` (shape ``batch + (n,) + rest``)."""
    batch, n, rest = cube.shape[:ndim], cube.shape[ndim], cube.shape[ndim + 1 :]
    n_rest = math.prod(rest)
    flat = cube.reshape(-1, n_rest)
    new_batch = np.broadcast_shapes(batch, idx.shape)
    rows = (np.arange(math.prod(batch)).reshape(batch) * n + idx).reshape(-1)
    weight = np.broadcast_to(t, new_batch).reshape(-1, 1)
    out = flat[rows] * (1.0 - weight) + flat[rows + 1] * weight
    return out.reshape(new_batch + rest)


def _leading_split(batch: tuple[int, ...], pixel: tuple[int, ...]) -> bool:
    """True if all non-trivial ``batch`` dims come before all non-trivial ``pixel`` dims."""
    last_batch = max((d for d, n in enumerate(batch) if n > 1), default=-1)
    first_pixel = min((d for d, n in enumerate(pixel) if n > 1), default=len(pixel))
    return last_batch < first_pixel


def _corner_sum(cube: np.ndarray, ndim: int, index_weights) -> np.ndarray:
    """Multilinear interpolation over all node axes of ``cube`` jointly (gather per corner).

    ``cube`` has shape ``batch + node_dims``; each (index, weight) pair has a shape
    broadcastable against ``batch``.
    """
    batch, dims = cube.shape[:ndim], cube.shape[ndim:]
    strides = [math.prod(dims[j + 1 :]) for j in range(len(dims))]
    pixel = np.broadcast_shapes(*(idx.shape for idx, _ in index_weights))
    key = None
    for (idx, _), stride in zip(index_weights, strides, strict=True):
        key = idx * stride if key is None else key + idx * stride
    offsets = [
        sum(c * s for c, s in zip(corner, strides, strict=True)) for corner in _corners(len(dims))
    ]
    weights = _corner_weights(index_weights)
    out_shape = np.broadcast_shapes(batch, pixel)
    if _leading_split(batch, pixel):
        # Gather all batch rows at once per pixel index: (n_batch, n_pixel) blocks.
        table = cube.reshape(math.prod(batch), -1)
        key = np.broadcast_to(key, pixel).reshape(-1)
        out = None
        for offset, weight in zip(offsets, weights, strict=True):
            term = np.take(table, key + offset, axis=1)
            term *= np.broadcast_to(weight, pixel).reshape(1, -1)
            out = term if out is None else np.add(out, term, out=out)
        return out.reshape(out_shape)
    flat = cube.reshape(-1)
    base = np.arange(math.prod(batch)).reshape(batch) * math.prod(dims) + key
    out = None
    for offset, weight in zip(offsets, weights, strict=True):
        term = flat[base + offset] * weight
        out = term if out is None else out + term
    return out


def _corners(n: int):
    return list(itertools.product((0, 1), repeat=n))


def _corner_weights(index_weights) -> list[np.ndarray]:
    weights = []
    for corner in _corners(len(index_weights)):
        weight = None
        for c, (_, t) in zip(corner, index_weights, strict=True):
            w = t if c else 1.0 - t
            weight = w if weight is None else weight * w
        weights.append(weight)
    return weights


def _multilinear(values: np.ndarray, grids, coords) -> np.ndarray:
    """Multilinear interpolation of ``values`` on ``grids`` at broadcast ``coords``.

    Same numbers as gammapy's ``ScaledRegularGridInterpolator`` (after scaling):
    length-1 axes are ignored, linear extrapolation beyond the nodes, NaN in -> NaN out.
    Multilinear interpolation is a tensor product, so axes can be contracted one
    at a time in any order: axes whose contraction keeps the intermediate array
    small (e.g. a few requested energies on the native grid) go first, the rest
    are gathered jointly per output point.
    """
    coords = [np.asarray(c, dtype=float) for c in coords]
    shape = np.broadcast_shapes(*(c.shape for c in coords))
    if not shape:  # scalars: work on 1-element arrays
        return _multilinear(values, grids, [c.reshape(1) for c in coords]).reshape(())
    ndim = len(shape)
    coords = [c.reshape((1,) * (ndim - c.ndim) + c.shape) for c in coords]
    keep = [g.size > 1 for g in grids]
    cube = values[tuple(slice(None) if k else 0 for k in keep)]
    if not any(keep):
        return np.full(shape, float(cube))
    grids = [g for g, k in zip(grids, keep, strict=True) if k]
    coords = [c for c, k in zip(coords, keep, strict=True) if k]
    index_weights = [_index_weights(g, c) for g, c in zip(grids, coords, strict=True)]

    size_limit = max(math.prod(shape), 65536)
    batch = (1,) * ndim
    cube = cube.reshape(batch + cube.shape)
    remaining = list(range(len(grids)))
    while len(remaining) > 1:
        node_dims = cube.shape[ndim:]
        costs = []
        for pos, k in enumerate(remaining):
            new_batch = np.broadcast_shapes(batch, coords[k].shape)
            rest = math.prod(node_dims) // node_dims[pos]
            costs.append((math.prod(new_batch) * rest, pos))
        cost, pos = min(costs)
        if cost > size_limit:
            break
        k = remaining.pop(pos)
        cube = _contract(np.moveaxis(cube, ndim + pos, ndim), ndim, *index_weights[k])
        batch = cube.shape[:ndim]
    out = _corner_sum(cube, ndim, [index_weights[k] for k in remaining])
    if not isinstance(out, np.ndarray) or out.shape != shape:
        out = np.array(np.broadcast_to(out, shape), dtype=float)
    return out


def _finalize(values: np.ndarray, invalid, *, clip: bool = True) -> np.ndarray:
    """gammapy ``IRF.evaluate`` tail: clip at 0 (extrapolation); outside edges -> 0.

    Non-finite values inside the edges are kept (gammapy sets them to 0): they come
    from a NaN or inf in the table, which must be seen, not hidden.
    """
    if clip:
        np.clip(values, 0.0, np.inf, out=values)
    if invalid is not None and invalid.any():
        np.copyto(values, 0.0, where=invalid)
    return values


# --------------------------------------------------------------------------------------
# Axes
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class IrfAxis:
    """One IRF axis, with gammapy ``MapAxis`` nodes and edges.

    Parameters
    ----------
    name : str
        ``"energy_true"``, ``"energy"``, ``"offset"``, ``"migra"``, ``"rad"``,
        ``"fov_lon"`` or ``"fov_lat"``.
    nodes : numpy.ndarray
        Interpolation nodes, gammapy ``MapAxis.center`` (log-centres for log axes).
    edges : numpy.ndarray
        Bin edges, gammapy ``MapAxis.edges``. Coordinates outside
        ``[edges[0], edges[-1]]`` are invalid.
    unit : str
        ``"TeV"``, ``"deg"`` or ``""``.
    interp : str
        ``"log"`` or ``"lin"``: scale of the coordinates for interpolation.
    node_type : str
        ``"edges"`` if the table gave bin edges (``*_LO != *_HI``), ``"center"`` if
        it gave nodes (``*_LO == *_HI``); only matters for `pad`.

    Notes
    -----
    Use `from_edges` / `from_nodes`: they derive nodes and edges with gammapy's
    exact arithmetic (interp1d in the scaled pixel space), so that coordinates
    on an edge are masked exactly as in gammapy.
    """

    name: str
    nodes: np.ndarray
    edges: np.ndarray
    unit: str
    interp: str
    node_type: str = "edges"

    def __post_init__(self):
        if self.interp not in ("lin", "log"):
            raise IrfError(f"axis {self.name!r}: interp must be 'lin' or 'log', got {self.interp}")
        if self.node_type not in ("edges", "center"):
            raise IrfError(f"axis {self.name!r}: invalid node_type {self.node_type!r}")
        for attr in ("nodes", "edges"):
            arr = np.array(getattr(self, attr), dtype=float)
            arr.setflags(write=False)
            object.__setattr__(self, attr, arr)
        if self.edges.size != self.nodes.size + 1:
            raise IrfError(
                f"axis {self.name!r}: {self.nodes.size} nodes need {self.nodes.size + 1} edges, "
                f"got {self.edges.size}"
            )

    @classmethod
    def from_edges(cls, edges, *, name: str, unit: str, interp: str) -> IrfAxis:
        """Axis from bin edges, as gammapy ``MapAxis.from_edges``.

        Parameters
        ----------
        edges : array_like
            Increasing bin edges (at least two), in ``unit``.
        name, unit, interp : str
            See `IrfAxis`.

        Returns
        -------
        IrfAxis
        """
        edges = _check_nodes(edges, name=name, interp=interp, minimum=2)
        scaled = _scale(edges, interp)
        pix = np.arange(edges.size, dtype=float)
        return cls(
            name=name,
            nodes=_inverse(_interp1d_linear(pix, scaled, pix[:-1] + 0.5), interp),
            edges=_inverse(_interp1d_linear(pix, scaled, pix), interp),
            unit=unit,
            interp=interp,
            node_type="edges",
        )

    @classmethod
    def from_nodes(cls, nodes, *, name: str, unit: str, interp: str) -> IrfAxis:
        """Axis from nodes (bin centres), as gammapy ``MapAxis.from_nodes``.

        Edges lie half-way between the (scaled) nodes and are extrapolated by half a
        bin at both ends; a single node has both edges on the node.

        Parameters
        ----------
        nodes : array_like
            Increasing nodes (at least one), in ``unit``.
        name, unit, interp : str
            See `IrfAxis`.

        Returns
        -------
        IrfAxis
        """
        nodes = _check_nodes(nodes, name=name, interp=interp, minimum=1)
        scaled = _scale(nodes, interp)
        if nodes.size == 1:
            centre = _inverse(scaled, interp)
            edges = np.repeat(centre, 2)
        else:
            pix = np.arange(nodes.size, dtype=float)
            centre = _inverse(_interp1d_linear(pix, scaled, pix), interp)
            edges_pix = np.arange(nodes.size + 1, dtype=float) - 0.5
            edges = _inverse(_interp1d_linear(pix, scaled, edges_pix), interp)
        return cls(
            name=name, nodes=centre, edges=edges, unit=unit, interp=interp, node_type="center"
        )

    @property
    def nbin(self) -> int:
        """Number of bins (= number of nodes)."""
        return self.nodes.size

    @cached_property
    def scaled_nodes(self) -> np.ndarray:
        """Nodes in interpolation scale (``log`` for log axes)."""
        return _scale(self.nodes, self.interp)

    def scale(self, coord) -> np.ndarray:
        """Coordinates in interpolation scale (log axes: ``log(clip(x, tiny32))``)."""
        return _scale(coord, self.interp)

    def outside(self, coord) -> np.ndarray:
        """True where gammapy's ``coord_to_idx(clip=False)`` gives -1.

        That is for non-finite coordinates and outside ``[edges[0], edges[-1]]``.
        """
        coord = np.asarray(coord, dtype=float)
        with np.errstate(invalid="ignore"):
            return ~np.isfinite(coord) | (coord < self.edges[0]) | (coord > self.edges[-1])

    def pad(self, width: int = 1) -> IrfAxis:
        """Axis with ``width`` extra bins at both ends, as gammapy ``MapAxis.pad``.

        Parameters
        ----------
        width : int
            Number of bins added on each side.

        Returns
        -------
        IrfAxis
        """
        if self.node_type == "edges":
            defining = self.edges
            new_pix = np.arange(-width, self.nbin + width + 1, dtype=float)
            factory = IrfAxis.from_edges
        else:
            defining = self.nodes
            new_pix = np.arange(-width, self.nbin + width, dtype=float)
            factory = IrfAxis.from_nodes
        if defining.size < 2:
            raise IrfError(f"axis {self.name!r}: cannot pad an axis with a single node")
        scaled = _scale(defining, self.interp)
        pix = np.arange(defining.size, dtype=float)
        values = _inverse(_interp1d_linear(pix, scaled, new_pix), self.interp)
        return factory(values, name=self.name, unit=self.unit, interp=self.interp)


def _check_nodes(values, *, name: str, interp: str, minimum: int) -> np.ndarray:
    values = np.array(values, dtype=float).reshape(-1)
    if values.size < minimum:
        raise IrfError(f"axis {name!r}: needs at least {minimum} values, got {values.size}")
    if not np.all(np.isfinite(values)):
        raise IrfError(f"axis {name!r}: values must be finite")
    if np.any(np.diff(values) <= 0):
        raise IrfError(f"axis {name!r}: values must be strictly increasing")
    if interp == "log" and values[0] <= 0:
        raise IrfError(f"axis {name!r}: log axis needs positive values")
    return values


def _frozen_array(values) -> np.ndarray:
    arr = np.array(values, dtype=float)
    arr.setflags(write=False)
    return arr


def _check_axes(obj, names: tuple[str, ...]) -> None:
    axes = tuple(obj.axes)
    got = tuple(a.name for a in axes)
    if got != names:
        raise IrfError(f"{type(obj).__name__}: axes must be {names}, got {got}")
    object.__setattr__(obj, "axes", axes)
    if not isinstance(obj.meta, HeaderMapping):  # HeaderMapping is read-only already
        object.__setattr__(obj, "meta", dict(obj.meta))


def _check_data(obj, data, shape: tuple[int, ...], what: str = "data") -> np.ndarray:
    arr = _frozen_array(data)
    if arr.shape != shape:
        raise IrfError(f"{type(obj).__name__}: {what} shape {arr.shape} != axes shape {shape}")
    return arr


def _axis(obj, name: str) -> IrfAxis:
    for axis in obj.axes:
        if axis.name == name:
            return axis
    raise KeyError(name)


def _meta_float(meta: dict, key: str) -> float | None:
    value = meta.get(key)
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------------------
# Shared base of the tabulated IRFs
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _TabulatedIRF:
    """Shared shape checks of the IRFs tabulated in one ``data`` array."""

    axes: tuple[IrfAxis, ...]
    data: np.ndarray
    meta: dict = field(default_factory=dict)
    axis_names: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self):
        _check_axes(self, self.axis_names)
        shape = tuple(a.nbin for a in self.axes)
        object.__setattr__(self, "data", _check_data(self, self.data, shape))

    def axis(self, name: str) -> IrfAxis:
        """The axis called ``name``."""
        return _axis(self, name)
