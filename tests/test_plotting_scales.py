"""Colour scales of the sky maps and the words of their legends and captions."""

import numpy as np
import pytest

from dl3flow.plotting.scales import (
    Stretch,
    asinh_stretch,
    asinh_ticks,
    linear_stretch,
    power_of_ten,
    robust_width,
    significance_stretch,
    times_ten,
)
from dl3flow.plotting.text import (
    FIGURE_OVERLAYS,
    OVERLAYS,
    REPORT_TITLES,
    figure_overlays,
    overlay_caption,
    report_labels,
)


def test_significance_stretch_clips_at_minus_5_and_breaks_at_5():
    image = np.array([[-7.0, 0.0], [3.0, np.nan], [39.0, 1.0]])
    stretch = significance_stretch(image)
    assert (stretch.kind, stretch.vmin, stretch.vmax) == ("significance", -5.0, 39.0)
    assert stretch.extend == "min"  # -7 is below the range
    assert stretch.breakpoint == 5.0
    assert stretch.ticks == (-5.0, -3.0, 0.0, 3.0, 5.0, 20.0, 30.0)
    nodes, fractions = stretch.significance_nodes()
    assert nodes.tolist() == [-5.0, 0.0, 5.0, 39.0]
    assert fractions.tolist() == [0.0, 0.375, 0.75, 1.0]
    norm = stretch.norm()
    # 0 sigma is the white centre of the diverging part, 4 sigma is clearly coloured
    assert norm(np.array([-5.0, 0.0, 4.0, 5.0, 39.0])).tolist() == pytest.approx(
        [0.0, 0.375, 0.675, 0.75, 1.0]
    )
    assert norm(-10.0) < 0.0  # below the range: the colour-bar arrow
    cmap = stretch.colormap("RdBu_r")
    assert cmap.name == "significance" and cmap.N == 256
    assert cmap(0.375)[:3] == pytest.approx((0.97, 0.97, 0.97), abs=0.03)  # near white


def test_significance_stretch_of_a_blank_field_is_symmetric():
    stretch = significance_stretch(np.array([-2.0, 0.5, 3.5]))
    assert (stretch.vmin, stretch.vmax, stretch.extend) == (-5.0, 5.0, "neither")
    assert stretch.ticks == (-5.0, -3.0, 0.0, 3.0, 5.0)
    assert stretch.significance_nodes()[1].tolist() == [0.0, 0.5, 1.0]
    assert stretch.colormap("RdBu_r").name == "RdBu_r"
    assert stretch.norm()(0.0) == pytest.approx(0.5)
    empty = significance_stretch(np.full(3, np.nan), clip=4.0)
    assert (empty.vmin, empty.vmax) == (-4.0, 4.0)


def test_significance_stretch_errors():
    with pytest.raises(ValueError, match="clip must be positive, got 0"):
        significance_stretch(np.zeros(3), clip=0)
    with pytest.raises(ValueError, match="a linear stretch has no significance nodes"):
        Stretch(kind="linear", vmin=0, vmax=1).significance_nodes()


def test_robust_width_and_asinh_stretch():
    image = np.array([0.0, 2.0, 0.0, 2.0, 0.0, 2.0, -50.0, 400.0, np.nan])
    assert robust_width(image) == pytest.approx(1.4826 * 1.0)
    assert robust_width(np.array([1.0])) == 0.0
    stretch = asinh_stretch(image)
    assert stretch.kind == "asinh"
    assert stretch.linear_width == pytest.approx(1.4826)
    assert (stretch.vmin, stretch.vmax) == pytest.approx((-3 * 1.4826, 400.0))
    assert stretch.extend == "min"
    assert type(stretch.norm()).__name__ == "AsinhNorm"
    # a constant image: 1 % of its value as the linear width, a non-empty range
    flat = asinh_stretch(np.full(4, 5.0))
    assert (flat.linear_width, flat.vmin, flat.vmax) == pytest.approx((0.05, 5.0, 5.05))
    assert asinh_stretch(np.full(2, np.nan)) == Stretch(
        kind="asinh", vmin=0.0, vmax=1.0, linear_width=1.0
    )


def test_linear_stretch():
    assert linear_stretch(np.array([1.0, 3.0])) == Stretch(kind="linear", vmin=0.0, vmax=3.0)
    assert linear_stretch(np.array([-1.0]), kind="sqrt").vmax == 1.0
    assert type(linear_stretch(np.ones(2), kind="sqrt").norm()).__name__ == "PowerNorm"
    with pytest.raises(ValueError, match="kind must be 'linear' or 'sqrt', got 'log'"):
        linear_stretch(np.ones(2), kind="log")


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"kind": "log"}, "kind must be one of linear, sqrt, significance, asinh, got 'log'"),
        ({"extend": "up"}, "extend must be one of neither, min, max, both, got 'up'"),
        ({"vmax": 0.0}, r"vmax \(0.0\) must exceed vmin \(0.0\)"),
        ({"kind": "asinh"}, "an asinh stretch needs linear_width > 0, got None"),
    ],
)
def test_stretch_errors(changes, match):
    with pytest.raises(ValueError, match=match):
        Stretch(**{"kind": "linear", "vmin": 0.0, "vmax": 1.0, **changes})


@pytest.mark.parametrize(
    ("values", "exponent", "text"),
    [
        ([5.6e11, 9.2e12], 12, "\N{MULTIPLICATION SIGN}10\N{SUPERSCRIPT ONE}\N{SUPERSCRIPT TWO}"),
        (
            [-4.2e-12, 4.4e-11],
            -11,
            "\N{MULTIPLICATION SIGN}10\N{SUPERSCRIPT MINUS}\N{SUPERSCRIPT ONE}\N{SUPERSCRIPT ONE}",
        ),
        ([3.0, np.nan], 0, ""),
        ([0.0], 0, ""),
    ],
)
def test_power_of_ten(values, exponent, text):
    assert power_of_ten(np.array(values)) == exponent
    assert times_ten(exponent) == text


def test_overlay_caption_uses_the_legend_words():
    text = overlay_caption("significance")
    assert text == (
        "Overlays: thin grey line: 3 \N{GREEK SMALL LETTER SIGMA} significance contour; "
        "black line: 5 \N{GREEK SMALL LETTER SIGMA} significance contour; green line: "
        "boundary of the final exclusion mask (the regions left out of the background "
        "normalisation and the rings); black crosses, labelled: catalog sources in the field."
    )
    assert overlay_caption("counts").startswith("Overlays: white line: edge of the safe-data")
    assert set(figure_overlays()) == set(FIGURE_OVERLAYS)
    for names in FIGURE_OVERLAYS.values():
        assert set(names) <= set(OVERLAYS)
    with pytest.raises(KeyError, match="no overlays for figure 'spectrum'; known: significance"):
        overlay_caption("spectrum")


def test_report_labels_fill_in_the_wildcards():
    assert report_labels("significance")({"analysis": "crab"}) == {"title": "Significance map"}
    assert report_labels("significance_band")({"band": "1"}) == {
        "title": "Significance map, energy band 1"
    }
    assert report_labels("table_{table}")({"analysis": "crab", "table": "peaks"}) == {
        "title": "Table: significance peaks"
    }
    assert report_labels("exclusion_final")({}) == {"title": "Exclusion mask: final"}
    with pytest.raises(KeyError, match="no report title for 'spectrum'; known: summary, "):
        report_labels("spectrum")
    with pytest.raises(KeyError, match="no report title for 'table_nope'"):
        report_labels("table_{table}")({"table": "nope"})
    # every plot of the workflow's plot rules has a title
    assert {"counts", "background", "exposure", "safe_energy", "background_norms"} <= set(
        REPORT_TITLES
    )


@pytest.mark.parametrize(
    ("vmin", "vmax", "width", "ticks"),
    [
        (-4.45, 399.3, 1.48, (-2.0, 0.0, 5.0, 20.0, 50.0, 200.0)),  # the demo's excess
        (-0.3, 4.38, 0.1, (-0.2, 0.0, 0.2, 0.5, 1.0, 2.0)),  # its flux, x 10^-11
        (-0.1, 1.0, 1.0, (0.0,)),  # all within the linear part
        (5.0, 5.05, 0.05, (5.0,)),
    ],
)
def test_asinh_ticks(vmin, vmax, width, ticks):
    assert asinh_ticks(vmin, vmax, width) == pytest.approx(ticks)


def test_asinh_stretch_has_round_ticks():
    image = np.array([0.0, 2.0, 0.0, 2.0, 0.0, 2.0, -50.0, 400.0])
    assert asinh_stretch(image).ticks == pytest.approx((-2.0, 0.0, 5.0, 20.0, 50.0, 200.0))
