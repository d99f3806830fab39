"""Errors raised while reading a GADF data store.

Every error derives from :class:`DataStoreError`, so that a caller (the workflow's
rejection protocol, the ``dl3flow`` command) can catch any problem of the input data
with one ``except`` clause; the subclasses tell which part of the store is at fault.
"""

from __future__ import annotations

__all__ = [
    "AmbiguousHDUError",
    "CorruptFileError",
    "DataStoreError",
    "IndexFormatError",
    "InvalidHDUError",
    "MissingFileError",
    "MissingHDUError",
    "MissingIndexError",
    "UnknownObservationError",
    "UnsupportedHDUClassError",
]


class DataStoreError(Exception):
    """Base class of all errors raised while reading a GADF data store."""


class MissingIndexError(DataStoreError):
    """An observation or HDU index file does not exist."""


class IndexFormatError(DataStoreError):
    """An index table lacks a required column or has inconsistent content."""


class CorruptFileError(DataStoreError):
    """A file exists but cannot be read as (gzipped) FITS, e.g. because it is truncated."""


class UnknownObservationError(DataStoreError):
    """An obs_id is not in the obs index or has no rows in the HDU index."""


class MissingHDUError(DataStoreError):
    """An HDU type is not listed for an observation, or an HDU is not in its file."""


class AmbiguousHDUError(DataStoreError):
    """Several HDU index rows match one (obs_id, HDU type) request."""


class MissingFileError(DataStoreError):
    """A file referenced by the HDU index does not exist."""


class UnsupportedHDUClassError(DataStoreError):
    """An IRF HDU has an HDU_CLASS that dl3flow cannot read."""


class InvalidHDUError(DataStoreError):
    """An HDU lacks a required column or header keyword, or has unusable units."""
