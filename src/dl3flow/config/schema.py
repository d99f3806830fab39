"""The config schema, shipped with the package: the one source of the config defaults.

``schema.yaml`` (package data, next to this module) is the JSON schema of a config
file: Snakemake's ``validate`` reads it, and so do :mod:`dl3flow.config.check` and
``dl3flow check-config``. Its ``default`` and ``enum`` values are also what
:mod:`dl3flow.config.options` fills in and accepts.

Reading YAML costs a per-observation job more than its computation (the ``yaml``
import alone; ``tests/test_job_imports.py``), so :mod:`dl3flow.config.options` reads what it
needs from ``schema_defaults.json``, which :func:`derive` makes from the schema: never
edit it by hand, run ``python -m dl3flow.config.schema`` after changing ``schema.yaml``
(a test fails while the two disagree).

Defaults of a section (:func:`defaults`): every property of the section, with its
``default`` (an object's own default completed by its properties' defaults, as
Snakemake's default-filling validator does), or the template of its properties for
an object without a default (``geom``), or None for a required key without a default
(``geom.center``, ``spectrum.on_region``). Choices (:func:`choices`): the ``enum`` of
every property (of the items, for a list), keyed by its dotted path, ``null`` left out.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from pathlib import Path

__all__ = [
    "SCHEMA_FILE",
    "DEFAULTS_FILE",
    "load_schema",
    "defaults",
    "choices",
    "derive",
    "derived",
    "write_derived",
    "main",
]

#: The schema (package data).
SCHEMA_FILE = files(__package__).joinpath("schema.yaml")
#: What :func:`derive` gives, as JSON (package data, generated).
DEFAULTS_FILE = files(__package__).joinpath("schema_defaults.json")

#: Sections of the derived defaults -> their path in the schema.
SECTIONS = {
    "top": (),
    "analysis": ("$defs", "analysis"),
    "spectrum": ("$defs", "analysis", "properties", "spectrum", "oneOf", "object"),
    "catalog": (
        *("$defs", "analysis", "properties", "exclusion", "properties", "catalogs"),
        "items",
    ),
    "significance": (
        *("$defs", "analysis", "properties", "exclusion", "properties", "significance"),
        *("oneOf", "object"),
    ),
    "ring": ("$defs", "analysis", "properties", "ring", "oneOf", "object"),
}


@cache
def load_schema() -> dict:
    """The schema (``schema.yaml``), read once (imports yaml)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(SCHEMA_FILE.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506


def _resolve(node: Mapping, schema: Mapping) -> Mapping:
    """``node`` with a local ``$ref`` replaced by its target (its own keys win)."""
    ref = node.get("$ref")
    if ref is None:
        return node
    target: Mapping = schema
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return {**_resolve(target, schema), **{k: v for k, v in node.items() if k != "$ref"}}


def _node(schema: Mapping, path) -> Mapping:
    """The schema node at ``path``; ``oneOf``, ``object`` picks the object branch."""
    node = schema
    parts = list(path)
    while parts:
        part = parts.pop(0)
        if part == "oneOf":
            kind = parts.pop(0)
            (node,) = [n for n in node["oneOf"] if _resolve(n, schema).get("type") == kind]
        else:
            node = node[part]
        node = _resolve(node, schema)
    return node


def _is_object(node: Mapping) -> bool:
    return node.get("type") == "object" and "properties" in node


def _merge(value, template):
    """``template`` updated recursively with ``value`` (new objects)."""
    if not isinstance(value, Mapping) or not isinstance(template, Mapping):
        return copy.deepcopy(value)
    out = copy.deepcopy(dict(template))
    for key, val in value.items():
        out[key] = _merge(val, template.get(key))
    return out


def defaults(node: Mapping, schema: Mapping) -> dict:
    """Defaults of the properties of schema object ``node`` (see the module docstring)."""
    out = {}
    for name, sub in (_resolve(node, schema).get("properties") or {}).items():
        sub = _resolve(sub, schema)
        nested = defaults(sub, schema) if _is_object(sub) else None
        if "default" in sub:
            out[name] = _merge(sub["default"], nested) if nested is not None else sub["default"]
        else:
            out[name] = nested
    return out


def choices(node: Mapping, schema: Mapping, prefix: str = "") -> dict[str, list]:
    """``{dotted path: enum}`` of every property under ``node`` (``null`` left out)."""
    out = {}
    node = _resolve(node, schema)
    for name, sub in (node.get("properties") or {}).items():
        sub = _resolve(sub, schema)
        path = f"{prefix}{name}"
        items = _resolve(sub.get("items") or {}, schema)
        enum = sub.get("enum", items.get("enum"))
        if enum is not None:
            out[path] = [c for c in enum if c is not None]
        for branch in [sub, *(_resolve(b, schema) for b in sub.get("oneOf", ()))]:
            if "properties" in branch:
                out.update(choices(branch, schema, f"{path}."))
        if "properties" in items:
            out.update(choices(items, schema, f"{path}[]."))
    return out


def derive(schema: Mapping | None = None) -> dict:
    """``{"defaults": {section: defaults}, "choices": {path: enum}}`` of the schema.

    Sections: ``top`` (the top-level keys), ``analysis`` (one entry of ``analyses``),
    ``spectrum``, ``catalog`` (one ``exclusion.catalogs`` entry), ``significance`` and
    ``ring`` (when given). Choice paths: ``on_bad_observation`` (top level),
    ``analysis.background.method``, ``analysis.safe_mask.methods``, ...
    """
    schema = load_schema() if schema is None else schema
    return {
        "defaults": {
            name: defaults(_node(schema, path), schema) for name, path in SECTIONS.items()
        },
        "choices": {
            **{k: v for k, v in choices(schema, schema).items() if not k.startswith("analyses")},
            **choices(_node(schema, SECTIONS["analysis"]), schema, "analysis."),
        },
    }


@cache
def _derived_text() -> str:
    return DEFAULTS_FILE.read_text(encoding="utf-8")


def derived() -> dict:
    """What :func:`derive` gives, read from ``schema_defaults.json`` (no yaml; a new copy)."""
    return json.loads(_derived_text())


def _dumps(data: Mapping) -> str:
    return json.dumps(data, indent=1) + "\n"


def write_derived(path=None) -> Path:
    """Write ``schema_defaults.json`` from ``schema.yaml``; returns its path."""
    path = Path(str(DEFAULTS_FILE)) if path is None else Path(path)
    path.write_text(_dumps(derive()), encoding="utf-8")
    return path


def main() -> None:
    """``python -m dl3flow.config.schema``: regenerate ``schema_defaults.json``."""
    print(f"wrote {write_derived()}")


if __name__ == "__main__":
    main()
