"""dl3flow: reduce IACT DL3 (GADF) data to science-ready sky maps.

The numerical methods follow gammapy (the community reference implementation);
dl3flow implements them on numpy, astropy and regions and never imports gammapy.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dl3flow")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
