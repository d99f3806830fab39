"""Lazy exports of a subpackage (PEP 562, as scientific-python's lazy_loader, SPEC 1).

Each subpackage's ``__init__`` names the public names of its modules and gets a module
``__getattr__`` that imports the module holding a name on first access: ``import
dl3flow.makers`` imports none of its modules (a workflow job imports only what it uses,
``tests/test_job_imports.py``), while ``from dl3flow.makers import make_safe_mask``
works as if ``__init__`` had imported it. ::

    __getattr__, __dir__, __all__ = attach(__name__, {"safe": ["make_safe_mask", ...]})
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping

__all__ = ["attach"]


def attach(
    package_name: str, submodule_names: Mapping[str, Iterable[str]]
) -> tuple[Callable[[str], object], Callable[[], list[str]], list[str]]:
    """The module ``__getattr__``, ``__dir__`` and ``__all__`` of a package's lazy exports.

    Parameters
    ----------
    package_name : str
        The package's ``__name__``, e.g. ``"dl3flow.makers"``.
    submodule_names : mapping of str to iterable of str
        For each submodule (its name inside the package, e.g. ``"safe"``), the names it
        exports (its ``__all__``). A name listed by several submodules (one re-exporting
        another's) comes from the first that lists it.

    Returns
    -------
    __getattr__ : callable
        ``__getattr__(name)``: an exported name, imported from its submodule, or a
        submodule (imported); `AttributeError` otherwise.
    __dir__ : callable
        ``__dir__()``: the exported names, sorted.
    __all__ : list of str
        The exported names, in the order they are listed, each once.
    """
    origin: dict[str, str] = {}
    for submodule, names in submodule_names.items():
        for name in names:
            origin.setdefault(name, submodule)
    submodules = frozenset(submodule_names)
    exported = list(origin)

    def __getattr__(name: str) -> object:
        if name in origin:
            module = importlib.import_module(f"{package_name}.{origin[name]}")
            return getattr(module, name)
        if name in submodules:
            return importlib.import_module(f"{package_name}.{name}")
        raise AttributeError(f"module {package_name!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(exported)

    return __getattr__, __dir__, list(exported)
