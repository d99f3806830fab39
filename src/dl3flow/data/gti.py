"""Good time intervals as a small table, without astropy.table.

:class:`GTITable` holds the START and STOP times (s since a reference time) of an
observation's good time intervals and the header keywords that give the reference
(``meta``). It reads like the `~astropy.table.Table` dl3flow used before
(``gti["START"]``, ``len(gti)``, ``gti.meta``, ``gti.colnames``), and
:meth:`GTITable.to_table` gives that Table: a per-observation workflow job then
needs no astropy.table (about 0.3 s of imports).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import astropy.units as u
import numpy as np

__all__ = ["GTITable"]


class _GTIColumn(np.ndarray):
    """START or STOP of a :class:`GTITable`: float64 seconds with ``unit``, and ``data``
    and ``value`` (plain ndarray views), as an astropy.table Column."""

    unit = u.s

    @property
    def data(self) -> np.ndarray:
        return self.view(np.ndarray)

    @property
    def value(self) -> np.ndarray:
        return self.view(np.ndarray)


@dataclass(frozen=True, eq=False)
class GTITable:
    """Good time intervals: START and STOP in s since the reference time in ``meta``.

    Parameters
    ----------
    start, stop : array_like
        Interval bounds (s); stored as float64 copies of equal length.
    meta : Mapping, optional
        Header keywords, e.g. ``MJDREFI``, ``MJDREFF``, ``TIMESYS``; stored as a dict.

    Notes
    -----
    ``gti["START"]`` and ``gti["STOP"]`` are views of the table's float64 arrays
    with ``unit`` s and ``value``, as Table columns (:meth:`copy` for an independent
    table). Other attributes of `~astropy.table.Table` (``write``, row access,
    ...) are taken from :meth:`to_table`, a new Table each time.

    Raises
    ------
    ValueError
        If START and STOP differ in length.
    """

    start: np.ndarray
    stop: np.ndarray
    meta: Mapping = field(default_factory=dict)

    def __post_init__(self):
        for name in ("start", "stop"):
            array = np.array(getattr(self, name), dtype=np.float64).reshape(-1)
            object.__setattr__(self, name, array)
        if self.start.shape != self.stop.shape:
            raise ValueError(
                f"GTI START and STOP differ in length ({self.start.size} vs {self.stop.size})"
            )
        object.__setattr__(self, "meta", dict(self.meta))

    @property
    def colnames(self) -> list[str]:
        return ["START", "STOP"]

    def __len__(self) -> int:
        return int(self.start.size)

    def __getitem__(self, key):
        if key == "START":
            return self.start.view(_GTIColumn)
        if key == "STOP":
            return self.stop.view(_GTIColumn)
        if isinstance(key, str):
            raise KeyError(key)
        return self.to_table()[key]

    def copy(self) -> GTITable:
        """A new table with the same intervals and meta."""
        return GTITable(start=self.start, stop=self.stop, meta=self.meta)

    def to_table(self):
        """The intervals as a new `~astropy.table.Table` (columns in s, ``meta``)."""
        from astropy.table import Table

        table = Table(meta=dict(self.meta))
        table["START"] = self.start * u.s
        table["STOP"] = self.stop * u.s
        return table

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.to_table(), name)
