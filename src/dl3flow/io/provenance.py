"""Provenance records for every product, and checksums of data (not of headers).

A :class:`Provenance` says how a product was made: the dl3flow, Python and key
package versions, a hash of the analysis config section used, the rule name, the
observations and input files (with SHA-256 checksums) and the creation parameters.
One line in a workflow script makes it::

    prov = Provenance.create(
        rule="reduce_observation", config_section=config["analyses"]["crab"],
        inputs=[dl3_file], obs_ids=[23523], parameters={"offset_max": "2.5 deg"},
        checksum_cache="resources/checksums",
    )
    dataset.write(path, provenance=prov)        # FITS: in the primary header
    prov.to_sidecar(table_path)                 # tables, plots: <product>.prov.json

:func:`read_provenance` reads it back from either place; ``dl3flow provenance PATH``
prints it.

FITS layout
    The primary header carries ``PROVRULE`` (rule name), ``CONFHASH`` (SHA-256 of the
    config section) and ``PROVENAN``: the whole record as compact JSON, continued over
    ``CONTINUE`` cards (FITS long-string convention). The JSON is ASCII with ``'`` and
    ``&`` written as ``\\u0027`` and ``\\u0026``, characters that astropy's long-string
    splitting does not always round-trip; :func:`json.loads` turns them back.

Input checksums
    The SHA-256 of the bytes of each input file. DL3 files are large and read by many
    jobs, so :func:`file_checksum` can cache checksums in a directory chosen by the
    caller (e.g. ``resources/checksums/``): one small JSON file per input, keyed by
    the absolute path and valid while the file's size and ``mtime_ns`` are unchanged.
    Nothing is ever written next to the inputs (data stores stay read-only). One file
    per input means parallel jobs never rewrite each other's entries; a cache file is
    replaced atomically, so a reader sees a complete entry or none.

Data checksums
    :func:`data_checksum` hashes the data of every HDU of a FITS file (or the columns
    of an ECSV table), not the headers, which hold creation dates: two runs of the
    same analysis give the same data checksum when they give the same numbers.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
import platform
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ConfigHashError",
    "FORMAT_VERSION",
    "InputFile",
    "KEY_PACKAGES",
    "PROVENANCE_KEYWORDS",
    "Provenance",
    "ProvenanceError",
    "config_hash",
    "data_checksum",
    "file_checksum",
    "format_provenance",
    "hdu_checksums",
    "observation_files",
    "package_versions",
    "read_provenance",
    "sidecar_path",
]

#: Version of the provenance record layout (the ``format`` field).
FORMAT_VERSION = 1

#: Packages whose versions are recorded when installed (never imported to find out).
KEY_PACKAGES = ("numpy", "scipy", "astropy", "regions", "pyyaml", "matplotlib", "snakemake")

#: Primary-header keywords written by :meth:`Provenance.to_header`.
PROVENANCE_KEYWORDS = frozenset({"PROVENAN", "PROVRULE", "CONFHASH"})

SIDECAR_SUFFIX = ".prov.json"
_FITS_SUFFIXES = (".fits", ".fits.gz", ".fit", ".fts", ".fits.fz")
_CHUNK = 1 << 20
#: ECSV meta keys that change from run to run and are left out of data checksums.
_VOLATILE_META = re.compile(r"^(DATE([-_].*)?|CREATED|CREATOR|PROVENAN(CE)?)$", re.IGNORECASE)


class ProvenanceError(ValueError):
    """A provenance record cannot be made, written or read; the message names the file."""


class ConfigHashError(ProvenanceError):
    """A config section holds a value without a canonical JSON form; names the key."""


# ----------------------------------------------------------------------------- helpers


def package_versions(names: Iterable[str] = KEY_PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (missing packages are left out).

    Uses :func:`importlib.metadata.version`, which reads the installed metadata and
    does not import the package (no matplotlib or snakemake import in a job).
    """
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def _canonical(value: Any, path: str) -> Any:
    """JSON-ready copy of ``value``; ``path`` names the key in error messages."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return repr(value)  # 'nan', 'inf': JSON has no literal for them
        return value
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str | int | float | bool):
                raise ConfigHashError(f"{path}: key {key!r} is not a string or number")
            out[str(key)] = _canonical(item, f"{path}.{key}" if path else str(key))
        return out
    # astropy Quantity, Angle, Time, Unit: their string form ("0.3 deg") is canonical
    if type(value).__module__.startswith("astropy."):
        return str(value)
    if isinstance(value, list | tuple):
        return [_canonical(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, np.ndarray):
        return [_canonical(item, f"{path}[{i}]") for i, item in enumerate(value.tolist())]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    raise ConfigHashError(
        f"{path or 'value'}: {type(value).__name__} {value!r} has no canonical JSON form"
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def config_hash(section: Mapping | None) -> str | None:
    """SHA-256 (hex) of the canonical JSON of a config section, None for None.

    Canonical: keys sorted, no whitespace, ASCII; tuples become lists, paths and
    astropy quantities their strings. Equal sections give equal hashes whatever
    their key order.

    Raises
    ------
    ConfigHashError
        If a value has no JSON form (e.g. a set or an arbitrary object); the
        message names its key.
    """
    if section is None:
        return None
    if not isinstance(section, Mapping):
        raise ConfigHashError(
            f"config_section must be a mapping, got {type(section).__name__} {section!r}"
        )
    return hashlib.sha256(_dumps(_canonical(section, "")).encode()).hexdigest()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_json_atomic(path: Path, content: dict) -> None:
    """Write JSON to ``path`` atomically (temporary file + :func:`os.replace`)."""
    from dl3flow.io.atomic import atomic_write

    text = json.dumps(content, indent=1, sort_keys=True) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text), overwrite=True)


def file_checksum(path, *, cache_dir=None) -> str:
    """SHA-256 (hex) of a file's bytes, cached in ``cache_dir`` if given.

    Parameters
    ----------
    path : str or `~pathlib.Path`
        File to hash; only read.
    cache_dir : str or `~pathlib.Path`, optional
        Directory of the checksum cache (created if missing). An entry is used only
        while the file's absolute path, size and ``mtime_ns`` are those recorded;
        otherwise the file is hashed again and the entry replaced. A corrupt entry
        is ignored and rewritten.

    Raises
    ------
    ProvenanceError
        If ``path`` does not exist or is not a regular file.
    """
    path = Path(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ProvenanceError(f"input file {path} does not exist") from None
    if not path.is_file():
        raise ProvenanceError(f"input {path} is not a regular file")
    if cache_dir is None:
        return _sha256_file(path)
    absolute = str(path.resolve())
    key = {"path": absolute, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    entry_path = Path(cache_dir) / f"{hashlib.sha256(absolute.encode()).hexdigest()[:32]}.json"
    try:
        entry = json.loads(entry_path.read_text())
        if all(entry.get(k) == v for k, v in key.items()) and re.fullmatch(
            r"[0-9a-f]{64}", str(entry.get("sha256", ""))
        ):
            return entry["sha256"]
    except (OSError, ValueError, AttributeError):
        pass
    checksum = _sha256_file(path)
    _write_json_atomic(entry_path, key | {"sha256": checksum})
    return checksum


def observation_files(store, obs_id: int) -> list[Path]:
    """The index files and the data files of one observation of a data store.

    The inputs to hash for a per-observation product: a workflow rule declares the
    index files, while the DL3 files are found through the HDU index.

    Parameters
    ----------
    store : `~dl3flow.data.store.DataStore`
    obs_id : int

    Returns
    -------
    list of `~pathlib.Path`
        The obs and HDU index files, then each distinct data file (sorted).
    """
    files = {store.hdu_location(obs_id, kind).file for kind in store.hdu_types(obs_id)}
    return [Path(store.obs_index_path), Path(store.hdu_index_path), *sorted(files)]


def sidecar_path(product) -> Path:
    """The JSON sidecar of a product: ``<product>.prov.json`` beside it."""
    product = Path(product)
    return product.with_name(product.name + SIDECAR_SUFFIX)


def _is_fits(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(_FITS_SUFFIXES)


# ----------------------------------------------------------------------------- record


@dataclass(frozen=True)
class InputFile:
    """One input file of a product.

    Attributes
    ----------
    path : str
        The path as the rule gave it (usually relative to the workflow directory).
    sha256 : str
        SHA-256 of the file's bytes (hex).
    size : int
        Size in bytes.
    """

    path: str
    sha256: str
    size: int

    def as_dict(self) -> dict:
        return {"path": self.path, "sha256": self.sha256, "size": self.size}


@dataclass(frozen=True)
class Provenance:
    """How a product was made. Build it with :meth:`create`.

    Attributes
    ----------
    rule : str
        Workflow rule (or function) that made the product.
    created : str
        UTC creation time, ISO 8601.
    dl3flow_version, python_version, platform : str
    packages : dict
        Versions of :data:`KEY_PACKAGES` that are installed.
    config_hash : str or None
        SHA-256 of the canonical JSON of the config section used (:func:`config_hash`).
    analysis : str or None
        Analysis name.
    obs_ids : tuple of int
        Observations the product is made from.
    inputs : tuple of `InputFile`
        Input files with their checksums.
    parameters : dict
        Creation parameters (JSON-ready: quantities as strings).
    """

    rule: str
    created: str
    dl3flow_version: str
    python_version: str
    platform: str
    packages: dict = field(default_factory=dict)
    config_hash: str | None = None
    analysis: str | None = None
    obs_ids: tuple = ()
    inputs: tuple = ()
    parameters: dict = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        *,
        rule: str,
        config_section: Mapping | None = None,
        inputs: Iterable = (),
        obs_ids: Iterable = (),
        parameters: Mapping | None = None,
        analysis: str | None = None,
        checksum_cache=None,
    ) -> Provenance:
        """Record the provenance of a product about to be written.

        Parameters
        ----------
        rule : str
            Rule name (``snakemake.rule`` in a workflow script).
        config_section : dict, optional
            The config section the product depends on (e.g. the analysis section);
            only its hash is stored.
        inputs : iterable of str or `~pathlib.Path`
            Input files; each is hashed (see :func:`file_checksum`).
        obs_ids : iterable of int
            Observation ids the product is made from.
        parameters : dict, optional
            Creation parameters; quantities, paths and numpy values are turned into
            JSON (quantities as ``"0.3 deg"``).
        analysis : str, optional
            Analysis name.
        checksum_cache : str or `~pathlib.Path`, optional
            Checksum cache directory for :func:`file_checksum` (never the data store).

        Raises
        ------
        ProvenanceError
            If ``rule`` is empty, an input file is missing, an obs id is not an
            integer, or a parameter or config value has no JSON form (the message
            names it).
        """
        from dl3flow import __version__

        if not isinstance(rule, str) or not rule.strip():
            raise ProvenanceError(f"rule must be a non-empty string, got {rule!r}")
        if isinstance(inputs, str | os.PathLike):
            inputs = [inputs]
        records = []
        for item in inputs:
            path = Path(item)
            checksum = file_checksum(path, cache_dir=checksum_cache)
            records.append(InputFile(os.fspath(item), checksum, path.stat().st_size))
        ids = []
        for obs_id in [obs_ids] if isinstance(obs_ids, int | np.integer) else obs_ids:
            if isinstance(obs_id, bool) or not isinstance(obs_id, int | np.integer):
                raise ProvenanceError(f"obs_ids must be integers, got {obs_id!r}")
            ids.append(int(obs_id))
        try:
            params = _canonical(dict(parameters or {}), "parameters")
        except ConfigHashError as exc:
            raise ProvenanceError(str(exc)) from None
        now = datetime.datetime.now(datetime.timezone.utc)
        return cls(
            rule=rule,
            created=now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            dl3flow_version=__version__,
            python_version=platform.python_version(),
            platform=platform.platform(terse=True),
            packages=package_versions(),
            config_hash=config_hash(config_section),
            analysis=analysis,
            obs_ids=tuple(ids),
            inputs=tuple(records),
            parameters=params,
        )

    # -- dict / JSON ---------------------------------------------------------------

    def as_dict(self) -> dict:
        """The record as a JSON-ready dict (with a ``format`` version field)."""
        return {
            "format": FORMAT_VERSION,
            "rule": self.rule,
            "created": self.created,
            "dl3flow_version": self.dl3flow_version,
            "python_version": self.python_version,
            "platform": self.platform,
            "packages": dict(self.packages),
            "config_hash": self.config_hash,
            "analysis": self.analysis,
            "obs_ids": list(self.obs_ids),
            "inputs": [item.as_dict() for item in self.inputs],
            "parameters": self.parameters,
        }

    @classmethod
    def from_dict(cls, data: Mapping, *, source: str = "provenance record") -> Provenance:
        """Inverse of :meth:`as_dict`.

        Raises
        ------
        ProvenanceError
            If a required field is missing or malformed, or the format is newer
            than this dl3flow understands; the message names ``source``.
        """
        if not isinstance(data, Mapping):
            raise ProvenanceError(f"{source}: expected a JSON object, got {type(data).__name__}")
        fmt = data.get("format")
        if not isinstance(fmt, int) or fmt > FORMAT_VERSION:
            raise ProvenanceError(
                f"{source}: unsupported provenance format {fmt!r} (this dl3flow reads "
                f"format <= {FORMAT_VERSION})"
            )
        required = ("rule", "created", "dl3flow_version", "python_version")
        missing = [key for key in required if key not in data]
        if missing:
            raise ProvenanceError(f"{source}: missing field(s) {', '.join(missing)}")
        try:
            inputs = tuple(
                InputFile(str(item["path"]), str(item["sha256"]), int(item["size"]))
                for item in data.get("inputs", [])
            )
            obs_ids = tuple(int(obs_id) for obs_id in data.get("obs_ids", []))
        except (KeyError, TypeError, ValueError) as exc:
            raise ProvenanceError(f"{source}: malformed inputs or obs_ids ({exc!r})") from None
        return cls(
            rule=str(data["rule"]),
            created=str(data["created"]),
            dl3flow_version=str(data["dl3flow_version"]),
            python_version=str(data["python_version"]),
            platform=str(data.get("platform", "")),
            packages={str(k): str(v) for k, v in dict(data.get("packages") or {}).items()},
            config_hash=data.get("config_hash"),
            analysis=data.get("analysis"),
            obs_ids=obs_ids,
            inputs=inputs,
            parameters=dict(data.get("parameters") or {}),
        )

    def to_json(self, *, indent: int | None = None) -> str:
        """JSON text (ASCII; compact unless ``indent`` is given)."""
        separators = (",", ":") if indent is None else (",", ": ")
        return json.dumps(self.as_dict(), indent=indent, separators=separators, ensure_ascii=True)

    # -- FITS header ---------------------------------------------------------------

    def header_cards(self) -> list[tuple[str, str, str]]:
        """``(keyword, value, comment)`` of the primary-header cards (see module docs)."""
        text = self.to_json().replace("'", "\\u0027").replace("&", "\\u0026")
        cards = [("PROVRULE", self.rule[:68], "workflow rule that made this file")]
        if self.config_hash is not None:
            cards.append(("CONFHASH", self.config_hash, ""))  # 64 characters: no room
        cards.append(("PROVENAN", text, ""))
        return cards

    def to_header(self, header=None):
        """A copy of ``header`` (or a new header) with the provenance cards added.

        Existing provenance cards are replaced. ``dl3flow provenance FILE`` prints
        them; :func:`read_provenance` reads them.

        Returns
        -------
        header : `~astropy.io.fits.Header`
        """
        from astropy.io import fits

        out = fits.Header() if header is None else header.copy()
        add_to_header(out, self)
        return out

    # -- sidecar -------------------------------------------------------------------

    def to_sidecar(self, product) -> Path:
        """Write the record beside ``product`` as ``<product>.prov.json`` (atomically).

        For products without a FITS header (ECSV tables, plots). The product itself
        need not exist yet.

        Returns
        -------
        path : `~pathlib.Path`
            The sidecar file.
        """
        path = sidecar_path(product)
        _write_json_atomic(path, self.as_dict())
        return path


def format_provenance(provenance: Provenance, *, title: str | None = None) -> str:
    """The record as readable text (``dl3flow provenance PATH`` prints it)."""
    p = provenance
    lines = [title] if title else []
    packages = ", ".join(f"{name} {version}" for name, version in sorted(p.packages.items()))
    obs = ", ".join(str(obs_id) for obs_id in p.obs_ids) if p.obs_ids else "-"
    rows = [
        ("rule", p.rule),
        ("analysis", p.analysis or "-"),
        ("created", p.created),
        ("dl3flow", p.dl3flow_version),
        ("python", f"{p.python_version} ({p.platform})" if p.platform else p.python_version),
        ("packages", packages or "-"),
        ("config hash", f"sha256:{p.config_hash}" if p.config_hash else "-"),
        (f"obs_ids ({len(p.obs_ids)})", obs),
    ]
    width = max(len(name) for name, _ in rows) + 2
    lines += [f"{name + ':':<{width}}{value}" for name, value in rows]
    lines.append(f"parameters ({len(p.parameters)}):")
    lines += [f"  {key} = {json.dumps(value)}" for key, value in sorted(p.parameters.items())]
    lines.append(f"inputs ({len(p.inputs)}):")
    lines += [f"  sha256:{item.sha256}  {item.size:>10} B  {item.path}" for item in p.inputs]
    return "\n".join(lines)


def add_to_header(header, provenance) -> None:
    """Put ``provenance`` into a FITS ``header`` that a writer is building.

    For product writers (`dl3flow.datasets.map.MapDataset.write`, ``write_safe_mask``,
    ``write_mask`` ...): ``provenance`` is a :class:`Provenance` (its cards, see
    :meth:`Provenance.header_cards`), a mapping of extra header keywords
    (``{"CONFHASH": ...}``, set as given) or None (nothing added).

    Raises
    ------
    ProvenanceError
        If ``provenance`` is of another type.
    """
    if provenance is None:
        return
    if isinstance(provenance, Provenance):
        for keyword in PROVENANCE_KEYWORDS:
            header.remove(keyword, ignore_missing=True, remove_all=True)
        for keyword, value, comment in provenance.header_cards():
            header[keyword] = (value, comment) if comment else value
        header.add_comment("PROVENAN: dl3flow provenance (JSON); see `dl3flow provenance FILE`")
        return
    if isinstance(provenance, Mapping):
        for keyword, value in provenance.items():
            header[keyword] = value
        return
    raise ProvenanceError(
        f"provenance must be a Provenance, a mapping of header keywords or None, "
        f"got {type(provenance).__name__}"
    )


def read_provenance(path) -> Provenance:
    """Read the provenance of a product.

    Looks, in order, at: ``path`` itself if it is a ``.prov.json`` sidecar; the
    ``provenance`` object of another JSON file without a sidecar (a per-observation
    ``status.json``); the ``PROVENAN`` keyword of the primary header if ``path`` is a
    FITS file; the sidecar ``<path>.prov.json`` (also when ``path`` itself does not
    exist).

    Raises
    ------
    ProvenanceError
        If ``path`` does not exist, cannot be read, or carries no (valid)
        provenance record; the message names the file.
    """
    path = Path(path)
    if not path.exists():
        if sidecar_path(path).is_file():  # e.g. a plot not written (yet)
            return _read_sidecar(sidecar_path(path))
        raise ProvenanceError(f"{path} does not exist")
    if path.name.endswith(SIDECAR_SUFFIX):
        return _read_sidecar(path)
    if path.suffix == ".json" and not sidecar_path(path).is_file():
        return _read_embedded(path)
    if _is_fits(path):
        from astropy.io import fits

        try:
            header = fits.getheader(path, 0)
        except Exception as exc:
            raise ProvenanceError(f"{path}: cannot read the FITS header ({exc})") from exc
        if "PROVENAN" in header:
            try:
                data = json.loads(header["PROVENAN"])
            except json.JSONDecodeError as exc:
                raise ProvenanceError(f"{path}: PROVENAN is not valid JSON ({exc})") from None
            return Provenance.from_dict(data, source=f"{path}[PRIMARY] PROVENAN")
    sidecar = sidecar_path(path)
    if sidecar.is_file():
        return _read_sidecar(sidecar)
    where = "no PROVENAN keyword in its primary header and " if _is_fits(path) else ""
    raise ProvenanceError(f"{path}: no provenance record ({where}no sidecar {sidecar.name})")


def _read_embedded(path: Path) -> Provenance:
    """The ``provenance`` object of a JSON product (a per-observation status file)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProvenanceError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("provenance"), dict):
        raise ProvenanceError(f"{path}: no provenance record (no 'provenance' object)")
    return Provenance.from_dict(data["provenance"], source=f"{path} provenance")


def _read_sidecar(path: Path) -> Provenance:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProvenanceError(f"{path}: not a readable provenance sidecar ({exc})") from None
    return Provenance.from_dict(data, source=str(path))


# ----------------------------------------------------------------------------- data checksums


def _update_array(digest, name: str, array) -> None:
    if isinstance(array, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(array)
        _update_array(digest, f"{name}.mask", mask)
        array = np.array(array.data, copy=True)
        if array.dtype != object:  # masked values never count
            array[mask] = np.zeros((), dtype=array.dtype)
    array = np.asarray(array)
    if array.dtype == object:  # variable-length array column: one array per row
        digest.update(f"{name}:object:{array.shape}".encode())
        for i, item in enumerate(array.ravel()):
            _update_array(digest, f"{name}[{i}]", item)
        return
    if array.dtype.kind in "iufcb" and array.dtype.byteorder not in "|>":
        array = array.astype(array.dtype.newbyteorder(">"))
    elif array.dtype.kind == "U" and array.dtype.byteorder not in "|>":
        array = array.astype(array.dtype.newbyteorder(">"))
    digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
    digest.update(np.ascontiguousarray(array).tobytes())


def hdu_checksums(path) -> dict[str, str]:
    """SHA-256 (hex) of the data of each HDU of a FITS file, keyed ``"<index>:<EXTNAME>"``.

    Image data are hashed as arrays (dtype, shape, big-endian bytes, after BSCALE /
    BZERO), tables column by column (name, dtype, shape, values). Header keywords
    are not hashed: dates and provenance differ between runs, the data do not.

    Raises
    ------
    ProvenanceError
        If the file does not exist or is not readable FITS; the message names it.
    """
    from astropy.io import fits

    path = Path(path)
    if not path.is_file():
        raise ProvenanceError(f"{path} does not exist")
    out = {}
    try:
        with fits.open(path, memmap=False) as hdulist:
            for index, hdu in enumerate(hdulist):
                digest = hashlib.sha256()
                data = hdu.data
                if data is None:
                    pass
                elif isinstance(data, fits.FITS_rec):
                    for column in hdu.columns:
                        _update_array(digest, column.name, data[column.name])
                else:
                    _update_array(digest, "data", data)
                out[f"{index}:{hdu.name}"] = digest.hexdigest()
    except ProvenanceError:
        raise
    except Exception as exc:
        raise ProvenanceError(f"{path}: cannot read the FITS data ({exc})") from exc
    return out


def _table_checksum(path: Path) -> str:
    from astropy.table import Table

    try:
        table = Table.read(path, format="ascii.ecsv")
    except Exception as exc:
        raise ProvenanceError(f"{path}: cannot read the ECSV table ({exc})") from exc
    digest = hashlib.sha256()
    for name in table.colnames:
        column = table[name]
        digest.update(f"{name}:{column.unit}".encode())
        _update_array(digest, name, column)
    meta = {k: v for k, v in table.meta.items() if not _VOLATILE_META.match(str(k))}
    try:
        digest.update(_dumps(_canonical(meta, "meta")).encode())
    except ConfigHashError as exc:
        raise ProvenanceError(f"{path}: {exc}") from None
    return digest.hexdigest()


def data_checksum(path) -> str:
    """SHA-256 (hex) of the data of a FITS file (all HDUs) or of an ECSV table.

    Headers (FITS) and volatile metadata (ECSV ``DATE``, ``CREATED``, ``CREATOR``,
    provenance) are left out, so two runs giving the same numbers give the same
    checksum. Used for determinism and resume tests.

    Raises
    ------
    ProvenanceError
        If the file does not exist, cannot be read, or is neither FITS nor ECSV.
    """
    path = Path(path)
    if not path.is_file():
        raise ProvenanceError(f"{path} does not exist")
    if path.name.lower().endswith(".ecsv"):
        return _table_checksum(path)
    if not _is_fits(path):
        raise ProvenanceError(
            f"{path}: data_checksum reads FITS ({', '.join(_FITS_SUFFIXES)}) and .ecsv files"
        )
    digest = hashlib.sha256()
    for key, value in hdu_checksums(path).items():
        digest.update(f"{key}={value};".encode())
    return digest.hexdigest()
