"""A read-only, lazily parsed view of a FITS header.

astropy parses a header card's value on first access and, per access, looks up
several configuration items; turning a whole DL3 header into a dict costs ~2 ms
per HDU, several times the cost of the few keywords a reduction actually reads.
:class:`HeaderMapping` keeps the (copied) cards and parses only what is asked for.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from astropy.io import fits

__all__ = ["HeaderMapping", "STRUCTURAL_KEYWORD"]

#: Table-structure and commentary keywords, left out of the mapping.
STRUCTURAL_KEYWORD = re.compile(
    r"^(XTENSION|BITPIX|NAXIS\d*|PCOUNT|GCOUNT|TFIELDS|COMMENT|HISTORY|"
    r"T(TYPE|FORM|UNIT|NULL|SCAL|ZERO|DIM|DISP)\d+)?$"
)


class HeaderMapping(Mapping):
    """Read-only mapping of a FITS header's keywords to their values.

    Structural keywords (XTENSION, NAXISn, TTYPEn, ...) and commentary cards are
    left out. The header is copied, so later changes to it do not show here.
    """

    def __init__(self, header: fits.Header):
        self._header = header.copy(strip=False)
        self._keys = tuple(
            dict.fromkeys(k for k in self._header.keys() if not STRUCTURAL_KEYWORD.match(k))
        )

    def __getitem__(self, key: str) -> Any:
        if STRUCTURAL_KEYWORD.match(key) or key not in self._header:
            raise KeyError(key)
        return self._header[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and not STRUCTURAL_KEYWORD.match(key) and key in self._header

    def __repr__(self) -> str:
        return f"HeaderMapping({len(self)} keywords)"

    def __reduce__(self):
        return (HeaderMapping, (self._header,))
