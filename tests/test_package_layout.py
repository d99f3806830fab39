"""The package layout (docs/conventions.md "Package layout"): subpackages with lazy exports.

Each subpackage's ``__init__`` exports the public names of its modules (their
``__all__``) through `dl3flow._lazy.attach`: importing the subpackage imports none of
its modules, a name is imported from its module on first use.
"""

import ast
import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import dl3flow
from dl3flow._lazy import attach

SRC = Path(dl3flow.__file__).parent
SUBPACKAGES = sorted(info.name for info in pkgutil.iter_modules([str(SRC)]) if info.ispkg)


def submodules(package):
    """The modules of a subpackage (their names inside it)."""
    path = SRC / package.split(".")[-1]
    return sorted(info.name for info in pkgutil.iter_modules([str(path)]))


def test_subpackages_are_the_layers():
    """DESIGN's layering (docs/conventions.md): these subpackages and no others."""
    assert SUBPACKAGES == sorted(
        [
            "io",
            "maps",
            "irf",
            "data",
            "datasets",
            "estimators",
            "makers",
            "simulate",
            "plotting",
            "config",
            "workflow",
        ]
    )


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_exports_are_the_modules_public_names(name):
    package = importlib.import_module(f"dl3flow.{name}")
    modules = {m: importlib.import_module(f"dl3flow.{name}.{m}") for m in submodules(name)}
    assert modules, name
    union = set()
    for module in modules.values():
        assert len(module.__all__) == len(set(module.__all__)), module.__name__
        union.update(module.__all__)
    assert set(package.__all__) == union
    assert len(package.__all__) == len(union)
    assert dir(package) == sorted(union)
    # every name resolves, to the object its module exports (a name two modules export
    # is one object re-exported, never two that collide)
    for module in modules.values():
        for attr in module.__all__:
            assert getattr(package, attr) is getattr(module, attr), f"{name}.{attr}"
    # no exported name hides a module of the package
    assert union.isdisjoint(modules), union & set(modules)


# Imports each subpackage in a fresh interpreter and prints the dl3flow modules loaded.
CHILD = """
import importlib, json, sys
names = json.loads(sys.argv[1])
loaded = {}
for name in names:
    importlib.import_module(f"dl3flow.{name}")
    loaded[name] = sorted(m for m in sys.modules if m.startswith(f"dl3flow.{name}."))
print(json.dumps(loaded))
"""


def test_importing_a_subpackage_imports_none_of_its_modules():
    result = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(SUBPACKAGES)],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = json.loads(result.stdout)
    assert loaded == {name: [] for name in SUBPACKAGES}


def test_from_subpackage_import_name_imports_its_module_only():
    code = (
        "import sys; from dl3flow.makers import make_safe_mask; "
        "print(make_safe_mask.__module__); "
        "print(sorted(m for m in sys.modules if m.startswith('dl3flow.makers.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    module, loaded = result.stdout.splitlines()
    assert module == "dl3flow.makers.safe"
    # its module and the one that module imports (the methods), none of the other makers
    assert loaded == "['dl3flow.makers.safe', 'dl3flow.makers.safe_methods']"


def test_attach_exports_in_order_and_resolves_lazily():
    getattr_, dir_, all_ = attach(
        "dl3flow.maps", {"geom": ["SkyGeom", "FRAMES"], "coords": ["wrap_longitude", "FRAMES"]}
    )
    assert all_ == ["SkyGeom", "FRAMES", "wrap_longitude"]
    assert dir_() == ["FRAMES", "SkyGeom", "wrap_longitude"]
    from dl3flow.maps import coords, geom

    assert getattr_("SkyGeom") is geom.SkyGeom
    assert getattr_("FRAMES") is geom.FRAMES  # the first module listing a name
    assert getattr_("wrap_longitude") is coords.wrap_longitude
    assert getattr_("geom") is geom  # a module of the package


def test_attach_unknown_name():
    getattr_, _, _ = attach("dl3flow.maps", {"geom": ["SkyGeom"]})
    with pytest.raises(AttributeError, match="^module 'dl3flow.maps' has no attribute 'nope'$"):
        getattr_("nope")
    with pytest.raises(AttributeError, match="has no attribute 'make_safe_mask'"):
        importlib.import_module("dl3flow.maps").make_safe_mask  # noqa: B018


# Issue 16: short orchestrators that delegate, modules a person can read through.
MAX_MODULE_LINES = 800
MAX_FUNCTION_LINES = 60


def code_lines(node) -> int:
    """Lines of a function's body without its docstring (nested functions included)."""
    body = node.body
    first = body[0]
    if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant):
        if isinstance(first.value.value, str):
            if len(body) == 1:
                return 0
            first = body[1]
    return node.end_lineno - first.lineno + 1


def long_functions(source: str, name: str) -> list[str]:
    """``module.function (N lines)`` of every function longer than the limit."""
    return [
        f"{name}:{node.lineno} {node.name} ({code_lines(node)} lines)"
        for node in ast.walk(ast.parse(source, name))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and code_lines(node) > MAX_FUNCTION_LINES
    ]


MODULES = sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_modules_and_functions_stay_short(path):
    source = path.read_text(encoding="utf-8")
    assert source.count("\n") <= MAX_MODULE_LINES, f"{path.name}: split it"
    assert long_functions(source, path.name) == []


def test_long_functions_counts_code_not_docstrings():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    short = f'def f():\n    """Doc.\n\n    More.\n    """\n{body}\n'
    assert long_functions(short, "m.py") == []
    long = f"def g():\n{body}\n    return x0\n"
    assert long_functions(long, "m.py") == [f"m.py:1 g ({MAX_FUNCTION_LINES + 1} lines)"]
    nested = f"class C:\n    def h(self):\n{body.replace('    ', '        ')}\n        pass\n"
    assert long_functions(nested, "m.py") == [f"m.py:2 h ({MAX_FUNCTION_LINES + 1} lines)"]
