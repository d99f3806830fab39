"""The GADF data store: obs index + HDU index + data files (gammapy's ``DataStore``).

See https://gamma-astro-data-formats.readthedocs.io/en/latest/data_storage/ and
`dl3flow.data.index` for the index tables and how they locate each HDU (``BASE_DIR /
FILE_DIR / FILE_NAME``); `dl3flow.data.observation` reads the HDUs of one observation.

Everything is read lazily: a :class:`DataStore` only reads the two index tables, and an
:class:`~dl3flow.data.observation.Observation` reads a data file the first time one of
its HDUs is needed. Each distinct file is read and decompressed once per observation,
fully into memory (no memory mapping), and the input files are never modified.

A per-observation workflow job imports this module, so it imports only numpy,
astropy.units and astropy.io.fits: the index tables are read as FITS record arrays
(:attr:`DataStore.obs_table` and :attr:`DataStore.hdu_table`, astropy Tables, are
built when first asked for), and astropy.coordinates / astropy.time are imported by
the properties of an observation that return their objects
(:attr:`~dl3flow.data.observation.Observation.pointing`, ``tstart``, ``location``,
...); the reduction uses ``Observation.pointing_radec`` (floats).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from dl3flow.data.errors import (
    AmbiguousHDUError,
    MissingHDUError,
    MissingIndexError,
    UnknownObservationError,
)
from dl3flow.data.index import (
    HDU_INDEX_NAMES,
    HDU_INDEX_REQUIRED_COLUMNS,
    OBS_INDEX_NAMES,
    OBS_INDEX_REQUIRED_COLUMNS,
    HDULocation,
    _as_obs_id,
    _base_dir,
    _check_columns,
    _hdu_column,
    _hdu_file,
    _hdu_row_numbers,
    _IndexTable,
    _normalise_hdu_table,
    _obs_row_numbers,
    _python_scalar,
    _read_index,
)
from dl3flow.data.observation import Observation

__all__ = ["DataStore"]


@dataclass(frozen=True, eq=False, init=False)
class DataStore:
    """A GADF data store: observation index, HDU index and the files they reference.

    Use :meth:`from_dir` or :meth:`from_files` rather than the constructor
    ``DataStore(base_dir, obs_table, hdu_table, obs_index_path, hdu_index_path)``
    (tables as `~astropy.table.Table`). The tables are the store's own copies; treat
    them as read-only.

    Attributes
    ----------
    base_dir : pathlib.Path
        Directory that ``FILE_DIR`` entries of the HDU index are relative to.
    obs_table : astropy.table.Table
        Observation index (one row per observation); made on first access for a
        store read from files (the store itself reads the FITS columns).
    hdu_table : astropy.table.Table
        HDU index, string columns stripped of surrounding blanks (likewise).
    obs_index_path, hdu_index_path : pathlib.Path
        Index files the tables were read from (named in error messages).
    """

    base_dir: Path
    obs_index_path: Path
    hdu_index_path: Path
    _obs_index: _IndexTable = field(repr=False)
    _hdu_index: _IndexTable = field(repr=False)
    _obs_rows: dict = field(repr=False)
    _hdu_rows: dict = field(repr=False)
    _hdu_columns: dict = field(repr=False)

    def __init__(self, base_dir, obs_table, hdu_table, obs_index_path, hdu_index_path) -> None:
        for name, table in (("_obs_index", obs_table), ("_hdu_index", hdu_table)):
            if not isinstance(table, _IndexTable):
                table = _IndexTable.from_table(table)
            object.__setattr__(self, name, table)
        object.__setattr__(self, "base_dir", base_dir)
        object.__setattr__(self, "obs_index_path", obs_index_path)
        object.__setattr__(self, "hdu_index_path", hdu_index_path)
        self.__post_init__()

    @cached_property
    def obs_table(self):
        """Observation index, an `~astropy.table.Table` (imports astropy.table)."""
        return self._obs_index.table()

    @cached_property
    def hdu_table(self):
        """HDU index, an `~astropy.table.Table` (imports astropy.table)."""
        return self._hdu_index.table()

    def __post_init__(self) -> None:
        for table, path, kind, required in (
            (self._obs_index, self.obs_index_path, "obs index", OBS_INDEX_REQUIRED_COLUMNS),
            (self._hdu_index, self.hdu_index_path, "HDU index", HDU_INDEX_REQUIRED_COLUMNS),
        ):
            _check_columns(table, path=path, kind=kind, required=required)
        obs_rows = _obs_row_numbers(self._obs_index, path=self.obs_index_path)
        hdu_rows = _hdu_row_numbers(self._hdu_index, path=self.hdu_index_path)
        object.__setattr__(self, "_obs_rows", obs_rows)
        hdu_columns = {
            name: _hdu_column(self._hdu_index, name) for name in HDU_INDEX_REQUIRED_COLUMNS[1:]
        }
        object.__setattr__(self, "_hdu_columns", hdu_columns)
        object.__setattr__(self, "_hdu_rows", hdu_rows)
        object.__setattr__(self, "base_dir", Path(self.base_dir))
        object.__setattr__(self, "obs_index_path", Path(self.obs_index_path))
        object.__setattr__(self, "hdu_index_path", Path(self.hdu_index_path))

    @classmethod
    def from_dir(cls, path: str | Path) -> DataStore:
        """Open the data store in a directory.

        Parameters
        ----------
        path : str or pathlib.Path
            Directory holding ``obs-index.fits[.gz]`` and ``hdu-index.fits[.gz]``
            (the ``.fits.gz`` name is preferred when both exist).

        Returns
        -------
        DataStore

        Raises
        ------
        MissingIndexError
            If the directory or one of the index files does not exist.
        CorruptFileError, IndexFormatError
            If an index file cannot be read or lacks a required column.
        """
        directory = Path(path)
        if not directory.is_dir():
            raise MissingIndexError(f"data store directory {directory} does not exist")
        found = {}
        for kind, names in (("obs index", OBS_INDEX_NAMES), ("HDU index", HDU_INDEX_NAMES)):
            candidates = [directory / name for name in names if (directory / name).is_file()]
            if not candidates:
                raise MissingIndexError(
                    f"no {kind} file in {directory} (looked for {' or '.join(names)})"
                )
            found[kind] = candidates[0]
        return cls.from_files(obs_index=found["obs index"], hdu_index=found["HDU index"])

    @classmethod
    def from_files(cls, *, obs_index: str | Path, hdu_index: str | Path) -> DataStore:
        """Open a data store from explicit index files.

        Parameters
        ----------
        obs_index : str or pathlib.Path
            Observation index file (HDU ``OBS_INDEX`` or the first table HDU).
        hdu_index : str or pathlib.Path
            HDU index file (HDU ``HDU_INDEX`` or the first table HDU). ``FILE_DIR`` is
            relative to its ``BASE_DIR`` header keyword, itself relative to the directory
            of this file; without the keyword, relative to the directory of this file.

        Returns
        -------
        DataStore

        Raises
        ------
        MissingIndexError
            If an index file does not exist.
        CorruptFileError, IndexFormatError
            If an index file cannot be read or lacks a required column.
        """
        tables = {}
        paths = {"obs index": Path(obs_index), "HDU index": Path(hdu_index)}
        for kind, index_path in paths.items():
            if not index_path.is_file():
                raise MissingIndexError(f"{kind} file {index_path} does not exist")
        tables["obs index"] = _read_index(
            paths["obs index"],
            kind="obs index",
            extname="OBS_INDEX",
            required=OBS_INDEX_REQUIRED_COLUMNS,
        )
        hdu_table = _read_index(
            paths["HDU index"],
            kind="HDU index",
            extname="HDU_INDEX",
            required=HDU_INDEX_REQUIRED_COLUMNS,
            normalise=_normalise_hdu_table,
        )
        return cls(
            base_dir=_base_dir(paths["HDU index"], hdu_table.meta),
            obs_table=tables["obs index"],
            hdu_table=hdu_table,
            obs_index_path=paths["obs index"],
            hdu_index_path=paths["HDU index"],
        )

    @property
    def obs_ids(self) -> np.ndarray:
        """Sorted IDs of the observations that are in both the obs and the HDU index."""
        ids = sorted(set(self._obs_rows).intersection(self._hdu_rows))
        return np.array(ids, dtype=np.int64)

    def _check_obs_id(self, obs_id: Any) -> int:
        obs_id = _as_obs_id(obs_id)
        if obs_id not in self._obs_rows:
            raise UnknownObservationError(
                f"obs_id {obs_id} is not in the obs index {self.obs_index_path}"
            )
        if obs_id not in self._hdu_rows:
            raise UnknownObservationError(
                f"obs_id {obs_id} has no rows in the HDU index {self.hdu_index_path}"
            )
        return obs_id

    def _locations(self, obs_id: int, hdu_type: str, hdu_class: str | None) -> list[HDULocation]:
        columns = self._hdu_columns
        hdu_type = hdu_type.strip().lower()  # the index columns are lower-cased
        hdu_class = None if hdu_class is None else hdu_class.strip().lower()
        out = []
        for row in self._hdu_rows.get(obs_id, ()):
            if columns["HDU_TYPE"][row] != hdu_type:
                continue
            if hdu_class is not None and columns["HDU_CLASS"][row] != hdu_class:
                continue
            out.append(
                HDULocation(
                    obs_id=obs_id,
                    hdu_type=hdu_type,
                    hdu_class=str(columns["HDU_CLASS"][row]),
                    file=_hdu_file(self.base_dir, columns, row),
                    hdu_name=str(columns["HDU_NAME"][row]),
                )
            )
        return out

    def _find_location(
        self, obs_id: int, hdu_type: str, *, hdu_class: str | None = None
    ) -> HDULocation | None:
        locations = self._locations(obs_id, hdu_type, hdu_class)
        if len(locations) > 1:
            listed = ", ".join(
                f"{loc.hdu_class} in {loc.file}[{loc.hdu_name}]" for loc in locations
            )
            raise AmbiguousHDUError(
                f"obs_id {obs_id} has {len(locations)} HDU index rows of type {hdu_type!r} "
                f"in {self.hdu_index_path} ({listed}); pass hdu_class to choose one"
            )
        return locations[0] if locations else None

    def hdu_types(self, obs_id: int) -> list[str]:
        """Sorted HDU types listed in the HDU index for ``obs_id``."""
        obs_id = self._check_obs_id(obs_id)
        return sorted({str(self._hdu_columns["HDU_TYPE"][row]) for row in self._hdu_rows[obs_id]})

    def hdu_location(
        self, obs_id: int, hdu_type: str, *, hdu_class: str | None = None
    ) -> HDULocation:
        """Locate one HDU of one observation.

        Parameters
        ----------
        obs_id : int
            Observation ID.
        hdu_type : str
            GADF HDU type, e.g. ``"events"``, ``"gti"``, ``"aeff"``, ``"bkg"``
            (case-insensitive, as the index columns).
        hdu_class : str, optional
            Also require this HDU class (to choose among several rows of one type;
            case-insensitive).

        Returns
        -------
        HDULocation

        Raises
        ------
        UnknownObservationError
            If ``obs_id`` is not in the obs index or has no HDU index rows.
        MissingHDUError
            If no row of that type (and class) exists for ``obs_id``.
        AmbiguousHDUError
            If several rows match (gammapy warns and takes the first one).
        """
        obs_id = self._check_obs_id(obs_id)
        location = self._find_location(obs_id, hdu_type, hdu_class=hdu_class)
        if location is None:
            wanted = f"type {hdu_type!r}" + (f" and class {hdu_class!r}" if hdu_class else "")
            raise MissingHDUError(
                f"obs_id {obs_id} has no HDU of {wanted} in the HDU index "
                f"{self.hdu_index_path} (available types: {', '.join(self.hdu_types(obs_id))})"
            )
        return location

    def observation_files(self, obs_id: int) -> list[Path]:
        """The distinct files the HDU index names for ``obs_id`` (resolved, sorted).

        Paths are ``BASE_DIR / FILE_DIR / FILE_NAME``, as every reader here resolves
        them; whether they exist is not checked. Empty for an obs_id without rows.
        """
        columns = self._hdu_columns
        files = {
            _hdu_file(self.base_dir, columns, row)
            for row in self._hdu_rows.get(_as_obs_id(obs_id), ())
        }
        return sorted(files)

    def observation(self, obs_id: int) -> Observation:
        """Lazy accessor to one observation (nothing is read until a property is used).

        Raises
        ------
        UnknownObservationError
            If ``obs_id`` is not in the obs index or has no HDU index rows.
        """
        return Observation(self._check_obs_id(obs_id), store=self)

    def obs_row(self, obs_id: int) -> dict[str, Any]:
        """Obs-index row of ``obs_id`` as a new dict (masked values become ``None``)."""
        obs_id = _as_obs_id(obs_id)
        if obs_id not in self._obs_rows:
            raise UnknownObservationError(
                f"obs_id {obs_id} is not in the obs index {self.obs_index_path}"
            )
        row = self._obs_index.row(self._obs_rows[obs_id])
        return {name: _python_scalar(value) for name, value in row.items()}
