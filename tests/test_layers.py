"""The layering of the package (docs/conventions.md "Package layout").

The subpackages (and the modules ``stats`` and ``cli``) of ``src/dl3flow`` are layers
in the order of :data:`LAYERS`; a module may import only from its own layer or an
earlier one. Every import statement counts, wherever it is: at module level, inside a
function, under ``if TYPE_CHECKING:``, absolute or relative. The source is read with
`ast`, nothing is imported.
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "dl3flow"

#: The layers, earliest first. ``_lazy`` (the lazy exports of the ``__init__`` files) is
#: a base any module may import; the root package ``dl3flow`` (its ``__version__``) is
#: in that base layer too. A new subpackage or top-level module must be placed here.
LAYERS = [
    "_lazy",
    "io",
    "stats",
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
    "cli",
]


def module_name(path: Path, root: Path = SRC) -> str:
    """Dotted name of a source file below ``root`` (a package is named by its ``__init__``)."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int | None:
    """Index in :data:`LAYERS` of a dl3flow module; None for a module outside dl3flow.

    Raises
    ------
    KeyError
        For a dl3flow module of no layer.
    """
    parts = module.split(".")
    if parts[0] != "dl3flow":
        return None
    if len(parts) == 1:
        return 0  # the root package: the base layer
    if parts[1] not in LAYERS:
        raise KeyError(f"{module} is in no layer of LAYERS")
    return LAYERS.index(parts[1])


def imported_modules(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """The modules an import statement of ``module`` imports (absolute names).

    ``from dl3flow import maps`` imports ``dl3flow.maps``; ``from dl3flow import
    __version__`` the root package; a relative import is resolved against ``module``.
    """
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([node.module] if node.module else []))
    if base == "dl3flow":  # ``from dl3flow import maps`` or ``import __version__``
        return [f"dl3flow.{a.name}" if a.name in LAYERS else base for a in node.names]
    return [base]


def upward_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    """``"line N: <statement>"`` for each import of ``source`` from a layer after ``module``'s."""
    mine = layer_of(module)
    found = set()
    for node in ast.walk(ast.parse(source)):
        for target in imported_modules(node, module, is_package):
            theirs = layer_of(target)
            if theirs is not None and theirs > mine:
                found.add((node.lineno, f"{ast.unparse(node)}  ({target})"))
    return [f"line {lineno}: {text}" for lineno, text in sorted(found)]


SOURCES = sorted(SRC.rglob("*.py"))
MODULES = {module_name(path): path for path in SOURCES}


def test_every_subpackage_and_module_is_in_a_layer():
    top = {path.stem for path in SRC.glob("*.py") if path.name != "__init__.py"}
    top |= {path.name for path in SRC.iterdir() if (path / "__init__.py").is_file()}
    assert sorted(top) == sorted(LAYERS), "place the new subpackage or module in LAYERS"
    assert len(LAYERS) == len(set(LAYERS))


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_from_a_later_layer(module):
    path = MODULES[module]
    found = upward_imports(path.read_text(), module, path.name == "__init__.py")
    layer = LAYERS[layer_of(module)]
    assert not found, f"{module} (layer {layer}) imports from a later layer:\n" + "\n".join(found)


WALKER_CASES = [
    # (source, module, is_package, upward import found)
    ("from dl3flow.workflow.rejection import rejection_of", "dl3flow.makers.safe", False, True),
    ("from dl3flow.maps.geom import SkyGeom", "dl3flow.makers.safe", False, False),
    ("from dl3flow.makers.safe import SafeMask", "dl3flow.makers.spectrum", False, False),
    ("import dl3flow.cli", "dl3flow.io.fits", False, True),
    ("from dl3flow import workflow", "dl3flow.datasets.map", False, True),
    ("from dl3flow import __version__", "dl3flow.datasets.map", False, False),
    ("from dl3flow._lazy import attach", "dl3flow.maps", True, False),
    ("import numpy as np\nfrom astropy.io import fits", "dl3flow.io.fits", False, False),
    ("def f():\n    from dl3flow.config.core import x\n", "dl3flow.data.store", False, True),
    (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from dl3flow.workflow.resources import JobCost\n",
        "dl3flow.config.core",
        False,
        True,
    ),
    ("from ..workflow import rejection", "dl3flow.makers.safe", False, True),
    ("from .rejection import Rejection", "dl3flow.datasets.spectrum", False, False),
    ("from . import spectrum", "dl3flow.makers", True, False),
    ("from ..cli import main", "dl3flow.workflow", True, True),
    ("from .. import stats", "dl3flow.maps.geom", False, False),
    ("from .. import plotting", "dl3flow.maps.geom", False, True),
]


@pytest.mark.parametrize(("source", "module", "is_package", "upward"), WALKER_CASES)
def test_walker_finds_upward_imports_only(source, module, is_package, upward):
    assert bool(upward_imports(source, module, is_package)) is upward


def test_walker_names_the_line_and_the_target():
    source = "import numpy\n\n\ndef f():\n    from dl3flow.plotting.maps import plot\n"
    assert upward_imports(source, "dl3flow.makers.map") == [
        "line 5: from dl3flow.plotting.maps import plot  (dl3flow.plotting.maps)"
    ]


def test_a_module_of_no_layer_is_an_error():
    with pytest.raises(KeyError, match="dl3flow.nowhere is in no layer"):
        upward_imports("from dl3flow.nowhere import x", "dl3flow.maps.geom")
