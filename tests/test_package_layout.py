"""The package layout (docs/conventions.md "Package layout"): subpackages with lazy exports.

Each subpackage's ``__init__`` exports the public names of its modules (their
``__all__``) through `dl3flow._lazy.attach`: importing the subpackage imports none of
its modules, a name is imported from its module on first use.
"""

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
