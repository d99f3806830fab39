"""Config files and the schema: one line per problem, naming the key, before anything runs.

The workflow (``Snakefile``) calls :func:`check_config` before Snakemake's own
``validate``: a schema violation then stops the run with a line such as::

    analyses.demo.offset_maxx: unknown key (did you mean 'offset_max'?)

instead of Snakemake's dump of the schema and the config. ``dl3flow check-config``
reads its files with :func:`read_config_files` (YAML errors as ``file:line:
problem``) and checks them with the same function.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from dl3flow.config.values import ConfigError, did_you_mean

__all__ = [
    "SCHEMA_NAME",
    "MAX_ERRORS",
    "check_config",
    "schema_errors",
    "find_schema",
    "read_config_files",
    "merge_config",
]

#: The schema (``dl3flow.config.schema.SCHEMA_FILE``), relative to the workflow directory.
SCHEMA_NAME = "src/dl3flow/config/schema.yaml"
#: Problems listed by :func:`check_config` (the others are counted).
MAX_ERRORS = 3

_TYPE_NAMES = {
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _key_path(parts: Iterable) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _allowed_keys(schema: Mapping) -> list[str]:
    return sorted(schema.get("properties") or {})


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _messages(error) -> list[str]:
    """Lines for a `jsonschema.ValidationError`: key path, then the problem."""
    path = list(error.absolute_path)
    kind, value, schema = error.validator, error.validator_value, error.schema
    if kind == "additionalProperties" and value is False:
        allowed = _allowed_keys(schema)
        unknown = sorted(set(error.instance) - set(allowed), key=str)
        return [
            f"{_key_path([*path, key])}: unknown key{did_you_mean(key, allowed)}" for key in unknown
        ]
    where = _key_path(path)
    if kind == "required":
        missing = [key for key in value if key not in error.instance]
        return [f"{where}: missing key {', '.join(map(repr, missing))}"]
    if kind == "type":
        types = [value] if isinstance(value, str) else list(value)
        wanted = " or ".join(_TYPE_NAMES.get(t, t) for t in types)
        return [f"{where}: expected {wanted}, got {_short(error.instance)}"]
    if kind == "enum":
        choices = [c for c in value if c is not None]
        hint = did_you_mean(error.instance, [str(c) for c in choices])
        return [
            f"{where}: expected one of {', '.join(map(str, choices))}, "
            f"got {_short(error.instance)}{hint}"
        ]
    return [f"{where}: {_clip(error.message)}"]


def _most_relevant(error):
    """Of the alternatives of a ``oneOf``/``anyOf``, the error of the branch whose type
    matched the value (else `jsonschema.exceptions.best_match`'s choice)."""
    from jsonschema.exceptions import best_match

    if not error.context:
        return error
    typed = [e for e in error.context if e.validator != "type"]
    return best_match(typed or error.context) or error


def schema_errors(config: Mapping, schema: Mapping) -> list[str]:
    """Every violation of ``schema`` by ``config``, one line each, sorted by key path.

    Parameters
    ----------
    config : mapping
        The whole config (as Snakemake's ``config``); not modified (no defaults are
        filled in, unlike Snakemake's ``validate``).
    schema : mapping
        A JSON schema (draft 2020-12), e.g. dl3flow's (`dl3flow.config.schema.load_schema`).

    Returns
    -------
    list of str
        E.g. ``["analyses.demo.offset_maxx: unknown key (did you mean 'offset_max'?)"]``;
        empty if the config is valid. Of the alternatives of a ``oneOf``, the most
        relevant error is reported (`jsonschema.exceptions.best_match`).
    """
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema)
    lines = []
    for error in sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.path]):
        lines += _messages(_most_relevant(error))
    return list(dict.fromkeys(lines))


def check_config(config: Mapping, schema) -> None:
    """Raise one :class:`~dl3flow.config.values.ConfigError` listing the schema violations.

    Parameters
    ----------
    config : mapping
        The whole config.
    schema : mapping or path
        The schema, or its YAML file.

    Raises
    ------
    ConfigError
        With one line per problem (at most :data:`MAX_ERRORS`, then how many more), or
        naming the schema file if it cannot be read.
    """
    if not isinstance(schema, Mapping):
        schema = _read_yaml(Path(schema))
    lines = schema_errors(config, schema)
    if not lines:
        return
    shown = lines[:MAX_ERRORS]
    if len(lines) > MAX_ERRORS:
        shown.append(f"... and {len(lines) - MAX_ERRORS} more (dl3flow check-config lists them)")
    raise ConfigError("\n".join(shown))


def find_schema() -> Path:
    """The schema: dl3flow's package data (``dl3flow/config/schema.yaml``), whose defaults and
    choices :mod:`dl3flow.config.options` uses."""
    from dl3flow.config.schema import SCHEMA_FILE

    return Path(str(SCHEMA_FILE))


def _read_yaml(path: Path):
    """A YAML file's content; errors as ``path:line: problem``."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise ConfigError(f"{path}{line}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None


def merge_config(base: Mapping, other: Mapping) -> dict:
    """``base`` updated recursively with ``other`` (as Snakemake merges config files).

    Mappings are merged key by key; any other value of ``other`` replaces the one of
    ``base``. Neither input is modified.
    """
    out = dict(base)
    for key, value in other.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_config(out[key], value)
        else:
            out[key] = value
    return out


def read_config_files(paths: Iterable) -> dict:
    """Read YAML config files, each later one updating the earlier ones.

    Raises
    ------
    ConfigError
        ``path: no such file``, ``path:line: invalid YAML: ...``, or if a file does not
        hold a mapping.
    """
    config: dict = {}
    for path in paths:
        content = _read_yaml(Path(path))
        if content is None:
            continue
        if not isinstance(content, Mapping):
            raise ConfigError(
                f"{path}: expected a mapping of config keys, got {type(content).__name__}"
            )
        config = merge_config(config, content)
    return config
