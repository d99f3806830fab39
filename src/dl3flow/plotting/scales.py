"""Colour scales of the sky maps: which range and stretch each kind of image gets.

Each function looks at the finite values of an image and returns a frozen
:class:`Stretch` (the choice, testable without drawing) whose :meth:`Stretch.norm`
is the matplotlib norm that draws it.

- significance: a diverging scale clipped to [-5, max(5, max)] with the break at
  5 sigma: -5..5 sigma span three quarters of the colour bar (a 3-4 sigma source is
  clearly coloured), everything above 5 sigma the top quarter (as the HGPS and
  H.E.S.S. maps do); values beyond the range get colour-bar arrows;
- excess, flux: an asinh stretch, linear within the noise (the robust standard
  deviation of the image), logarithmic above, so that a faint source shows beside a
  bright one; clipped below at -3 noise widths;
- exposure, counts: linear or sqrt from 0 to the maximum.

Data scales (exposure, flux) are shown as mantissas times a power of ten named in
the colour-bar label (:func:`power_of_ten`, :func:`times_ten`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Stretch",
    "SIGNIFICANCE_CLIP",
    "significance_stretch",
    "asinh_stretch",
    "asinh_ticks",
    "linear_stretch",
    "robust_width",
    "power_of_ten",
    "times_ten",
    "log_limits",
    "plain_log_labels",
]

#: Significance (sigma) at which the significance scale is clipped (below) and breaks.
SIGNIFICANCE_CLIP = 5.0
#: Fraction of the significance colour bar given to [-clip, +clip].
_BREAK_FRACTION = 0.75

_SUPERSCRIPTS = str.maketrans(
    "-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"
)
_KINDS = ("linear", "sqrt", "significance", "asinh")
_EXTENDS = ("neither", "min", "max", "both")


@dataclass(frozen=True)
class Stretch:
    """The colour scale of an image.

    Attributes
    ----------
    kind : {"linear", "sqrt", "significance", "asinh"}
    vmin, vmax : float
        Range of the colour bar.
    extend : {"neither", "min", "max", "both"}
        Colour-bar arrows: values of the image below ``vmin`` / above ``vmax``.
    breakpoint : float or None
        ``significance``: the value above which the scale is compressed.
    linear_width : float or None
        ``asinh``: the width of the linear part around 0.
    ticks : tuple of float
        Colour-bar ticks (empty: matplotlib's choice).
    """

    kind: str
    vmin: float
    vmax: float
    extend: str = "neither"
    breakpoint: float | None = None
    linear_width: float | None = None
    ticks: tuple = ()

    def __post_init__(self):
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {', '.join(_KINDS)}, got {self.kind!r}")
        if self.extend not in _EXTENDS:
            raise ValueError(f"extend must be one of {', '.join(_EXTENDS)}, got {self.extend!r}")
        if not self.vmax > self.vmin:
            raise ValueError(f"vmax ({self.vmax}) must exceed vmin ({self.vmin})")
        if self.kind == "asinh" and not (self.linear_width or 0) > 0:
            raise ValueError(f"an asinh stretch needs linear_width > 0, got {self.linear_width}")

    def norm(self):
        """The `matplotlib.colors.Normalize` drawing this stretch."""
        from matplotlib.colors import AsinhNorm, FuncNorm, Normalize, PowerNorm

        if self.kind == "linear":
            return Normalize(vmin=self.vmin, vmax=self.vmax)
        if self.kind == "sqrt":
            return PowerNorm(gamma=0.5, vmin=self.vmin, vmax=self.vmax)
        if self.kind == "asinh":
            return AsinhNorm(linear_width=self.linear_width, vmin=self.vmin, vmax=self.vmax)
        nodes, fractions = self.significance_nodes()

        def forward(values):
            return _piecewise(values, nodes, fractions)

        def inverse(values):
            return _piecewise(values, fractions, nodes)

        return FuncNorm((forward, inverse), vmin=self.vmin, vmax=self.vmax)

    def significance_nodes(self) -> tuple[np.ndarray, np.ndarray]:
        """Values and colour-bar fractions of the piecewise-linear significance scale.

        ``[vmin, 0, vmax]`` -> ``[0, 0.5, 1]`` without a break inside the range, else
        ``[vmin, 0, breakpoint, vmax]`` -> ``[0, 3/8, 3/4, 1]``: the diverging part
        (white at 0) fills three quarters of the bar.
        """
        if self.kind != "significance":
            raise ValueError(f"a {self.kind} stretch has no significance nodes")
        if self.breakpoint is None or self.vmax <= self.breakpoint:
            return np.array([self.vmin, 0.0, self.vmax]), np.array([0.0, 0.5, 1.0])
        return (
            np.array([self.vmin, 0.0, self.breakpoint, self.vmax]),
            np.array([0.0, 0.5 * _BREAK_FRACTION, _BREAK_FRACTION, 1.0]),
        )

    def colormap(self, name: str):
        """The colour map: ``name``, or for a significance scale with a break the diverging
        ``RdBu_r`` below the break followed by dark red to gold above it."""
        from matplotlib import colormaps
        from matplotlib.colors import LinearSegmentedColormap, ListedColormap

        if self.kind != "significance" or len(self.significance_nodes()[0]) == 3:
            return colormaps[name]
        n_low = int(round(256 * _BREAK_FRACTION))
        low = colormaps["RdBu_r"](np.linspace(0.0, 1.0, n_low))
        high = LinearSegmentedColormap.from_list(
            "above", ["#67001f", "#d7301f", "#fd8d3c", "#ffd700"]
        )(np.linspace(0.0, 1.0, 256 - n_low))
        return ListedColormap(np.vstack([low, high]), name="significance")


def _piecewise(values, nodes, fractions):
    """Piecewise-linear map through (nodes, fractions), extended linearly beyond the ends."""
    values = np.asarray(values, dtype=float)
    out = np.interp(values, nodes, fractions)
    low, high = values < nodes[0], values > nodes[-1]
    slope_low = (fractions[1] - fractions[0]) / (nodes[1] - nodes[0])
    slope_high = (fractions[-1] - fractions[-2]) / (nodes[-1] - nodes[-2])
    out = np.where(low, fractions[0] + (values - nodes[0]) * slope_low, out)
    return np.where(high, fractions[-1] + (values - nodes[-1]) * slope_high, out)


def _finite(image) -> np.ndarray:
    values = np.asarray(getattr(image, "value", image), dtype=float)
    return values[np.isfinite(values)]


def _extend(below: bool, above: bool) -> str:
    return {(False, False): "neither", (True, False): "min", (False, True): "max"}.get(
        (below, above), "both"
    )


def significance_stretch(image, *, clip: float = SIGNIFICANCE_CLIP) -> Stretch:
    """The colour scale of a significance map: [-clip, max(clip, max)], break at ``clip``.

    Parameters
    ----------
    image : array_like
        Significance (sigma); NaN pixels are ignored.
    clip : float
        Lower end of the range (as ``-clip``) and the break of the scale (sigma).

    Returns
    -------
    Stretch
        ``kind="significance"``, ``breakpoint=clip``; ``extend="min"`` if some pixel is
        below ``-clip``; ticks at -clip, -3, 0, 3, clip (those inside) and a few round
        values above ``clip``.

    Raises
    ------
    ValueError
        If ``clip`` is not positive.
    """
    if not clip > 0:
        raise ValueError(f"clip must be positive, got {clip}")
    values = _finite(image)
    top = float(values.max()) if values.size else clip
    vmax = max(clip, top)
    ticks = [-clip, 0.0, clip] + [t for t in (-3.0, 3.0) if abs(t) < clip]
    if vmax > clip:
        from matplotlib.ticker import MaxNLocator

        above = MaxNLocator(nbins=3, steps=[1, 2, 5, 10]).tick_values(clip, vmax)
        # not too close to the break: the part above it is a quarter of the bar
        ticks += [float(t) for t in above if clip + 0.3 * (vmax - clip) <= t <= vmax]
    below = bool(values.size and values.min() < -clip)
    return Stretch(
        kind="significance",
        vmin=-clip,
        vmax=vmax,
        extend=_extend(below, False),
        breakpoint=clip,
        ticks=tuple(sorted(ticks)),
    )


def robust_width(image) -> float:
    """Robust standard deviation of the finite values (1.4826 x median absolute deviation).

    Returns 0 for an image with fewer than two finite values.
    """
    values = _finite(image)
    if values.size < 2:
        return 0.0
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def asinh_stretch(image, *, low: float = 3.0) -> Stretch:
    """The colour scale of an excess or flux map: asinh, linear within the noise.

    Parameters
    ----------
    image : array_like
        NaN pixels are ignored.
    low : float
        The range starts at ``-low`` noise widths (or the minimum, if higher).

    Returns
    -------
    Stretch
        ``kind="asinh"`` with ``linear_width`` = :func:`robust_width` of the image (or
        1 % of the largest absolute value, if that is 0), ``vmax`` its maximum;
        ``extend="min"`` if some pixels are below ``vmin``.
    """
    values = _finite(image)
    if not values.size:
        return Stretch(kind="asinh", vmin=0.0, vmax=1.0, linear_width=1.0)
    scale = float(np.abs(values).max()) or 1.0
    width = robust_width(values) or 0.01 * scale
    vmin = max(float(values.min()), -low * width)
    vmax = float(values.max())
    if not vmax > vmin:
        vmax = vmin + width
    return Stretch(
        kind="asinh",
        vmin=vmin,
        vmax=vmax,
        extend=_extend(bool(values.min() < vmin), False),
        linear_width=width,
        ticks=asinh_ticks(vmin, vmax, width),
    )


def _nice_below(value: float) -> float:
    """The largest 1, 2 or 5 x 10^n not above ``value`` (> 0)."""
    exponent = np.floor(np.log10(value))
    for mantissa in (5.0, 2.0, 1.0):
        if mantissa * 10.0**exponent <= value * (1 + 1e-9):
            return float(mantissa * 10.0**exponent)
    return float(10.0**exponent)


def asinh_ticks(vmin: float, vmax: float, width: float, *, n: int = 4) -> tuple:
    """Colour-bar ticks of an asinh scale: 0, round values from a few ``width`` up to
    ``vmax`` (at most ``n``, spread over the logarithmic part) and one round value below 0
    (if the range reaches two widths below 0)."""
    ticks = [0.0] if vmin <= 0 <= vmax else []
    if vmax >= 2 * width:
        low = max(2 * width, vmin)
        exponents = np.arange(np.floor(np.log10(low)), np.floor(np.log10(vmax)) + 1)
        candidates = sorted(
            {
                float(m * 10.0**e)
                for e in exponents
                for m in (1.0, 2.0, 5.0)
                if low <= m * 10.0**e <= vmax
            }
        )
        if candidates:
            logs = np.log10(candidates)
            wanted = np.linspace(logs[0], logs[-1], min(n, len(candidates)))
            ticks += sorted({candidates[int(np.argmin(np.abs(logs - w)))] for w in wanted})
    if vmin <= -2 * width:
        ticks.insert(0, -_nice_below(-vmin))
    return tuple(ticks)


def linear_stretch(image, *, kind: str = "linear") -> Stretch:
    """From 0 to the maximum (1 for an empty or non-positive image); ``kind`` linear or sqrt."""
    if kind not in ("linear", "sqrt"):
        raise ValueError(f"kind must be 'linear' or 'sqrt', got {kind!r}")
    values = _finite(image)
    vmax = float(values.max()) if values.size and values.max() > 0 else 1.0
    return Stretch(kind=kind, vmin=0.0, vmax=vmax)


def power_of_ten(image) -> int:
    """The power of ten of the largest absolute finite value (0 for an empty or zero image)."""
    values = np.abs(_finite(image))
    if not values.size or values.max() == 0:
        return 0
    return int(np.floor(np.log10(values.max())))


def times_ten(exponent: int) -> str:
    """``"×10⁹"`` for 9; empty for 0."""
    if exponent == 0:
        return ""
    return "\N{MULTIPLICATION SIGN}10" + str(int(exponent)).translate(_SUPERSCRIPTS)


def log_limits(*arrays, pad: float = 1.25) -> tuple[float, float] | None:
    """Limits of a log axis around the finite positive values of ``arrays``.

    Parameters
    ----------
    *arrays : array_like
    pad : float
        The limits are the smallest value / ``pad`` and the largest x ``pad``.

    Returns
    -------
    (float, float) or None
        None if no value is finite and positive.
    """
    values = np.concatenate([np.ravel(np.asarray(a, dtype=float)) for a in arrays] or [[]])
    values = values[np.isfinite(values) & (values > 0)]
    if not values.size:
        return None
    return float(values.min() / pad), float(values.max() * pad)


def plain_log_labels(axis, limits) -> None:
    """Label a log ``axis`` (``ax.xaxis`` or ``ax.yaxis``) with plain numbers (0.5, 2, 10).

    Within less than 1.5 decades (``limits``) the minor ticks at 2, 3 and 5 times a power
    of ten are labelled too, so that a narrow range still has labels.
    """
    from matplotlib.ticker import FuncFormatter, NullFormatter

    def minor(value, _):
        mantissa = round(value / 10.0 ** np.floor(np.log10(value)), 6)
        return f"{value:g}" if mantissa in (2.0, 3.0, 5.0) else ""

    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    narrow = limits is not None and np.log10(limits[1] / limits[0]) < 1.5
    axis.set_minor_formatter(FuncFormatter(minor) if narrow else NullFormatter())
