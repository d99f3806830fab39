"""Final-product figures: files are written and carry titles, labels and colour bars."""

import numpy as np
import pytest
from astropy.table import Table

from dl3flow.io.atomic import write_figure
from dl3flow.maps.geom import SkyGeom
from dl3flow.plotting.maps import (
    plot_excess_map,
    plot_exposure_map,
    plot_flux_map,
    plot_significance_distribution,
    plot_significance_map,
    plot_sky_map,
)
from dl3flow.plotting.qa import plot_observation_qa
from dl3flow.stats import StatsError

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def sky():
    return SkyGeom.create(center=(83.633, 22.014), width=2.0, binsz=0.05)


@pytest.fixture
def significance(sky):
    rng = np.random.default_rng(0)
    image = rng.normal(0.0, 1.0, sky.shape)
    image[18:22, 18:22] += 12
    image[0, :] = np.nan
    return image


@pytest.fixture
def exclusion(sky):
    mask = np.ones(sky.shape, bool)
    mask[15:25, 15:25] = False
    return mask


def _written(fig, path):
    write_figure(fig, path)
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 5000
    return data


def _image_axes(fig):
    return fig.axes[0], fig.axes[1]  # image and colour bar


def test_significance_map(tmp_path, sky, significance, exclusion):
    sources = Table({"name": ["Crab", "far away"], "ra": [83.633, 10.0], "dec": [22.014, -40.0]})
    fig = plot_significance_map(
        significance,
        sky,
        exclusion=exclusion,
        sources=sources,
        name="crab",
        energy_range=(1, 10),
        correlation_radius=0.1,
        caption="This work made use of data from ...",
    )
    ax, cbar = _image_axes(fig)
    assert "Significance" in ax.get_title() and "crab" in ax.get_title()
    assert "1 \N{EN DASH} 10 TeV" in ax.get_title() and "0.1" in ax.get_title()
    assert "Right ascension" in ax.get_xlabel() and "Declination" in ax.get_ylabel()
    assert "significance" in cbar.get_ylabel()
    # one source inside the image, labelled
    assert [t.get_text() for t in ax.texts] == ["Crab"]
    # the overlays are explained in the legend (words of dl3flow.plotting.text), the
    # footer is the caption only
    legend = fig.axes[2].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [
        "3 \N{GREEK SMALL LETTER SIGMA}",
        "5 \N{GREEK SMALL LETTER SIGMA}",
        "exclusion mask boundary",
        "catalog source",
    ]
    assert fig.get_supxlabel() == "This work made use of data from ..."
    # 3 and 5 sigma contours (the peak is at ~12 sigma), then the exclusion boundary
    levels = [list(c.levels) for c in ax.collections if hasattr(c, "levels")]
    assert levels == [[3.0], [5.0], [0.5]]
    assert ax.collections[2].get_edgecolor()[0][:3].tolist() == pytest.approx(
        [0.0, 0xB0 / 255, 0x50 / 255]
    )
    # clipped diverging scale with the break at 5 sigma and an arrow for < -5 sigma
    norm = ax.images[0].norm
    assert norm.vmin == -5.0 and norm.vmax == pytest.approx(np.nanmax(significance))
    assert cbar.get_yticks()[:5].tolist() == pytest.approx([-5.0, -3.0, 0.0, 3.0, 5.0])
    # the label is offset from its marker
    assert ax.texts[0].get_position() != ax.texts[0].xy
    _written(fig, tmp_path / "significance.png")


def test_significance_map_without_extras(tmp_path, sky, significance):
    fig = plot_significance_map(significance, sky)
    assert fig.axes[0].get_title() == "Significance"
    _written(fig, tmp_path / "significance.png")


@pytest.mark.parametrize(
    ("plot", "title", "label"),
    [
        (plot_excess_map, "Excess counts", "excess counts"),
        (plot_flux_map, "Integral flux", "flux ("),
        (plot_exposure_map, "Exposure", "exposure (\N{MULTIPLICATION SIGN}10"),
    ],
)
def test_other_maps(tmp_path, sky, significance, plot, title, label):
    data = np.abs(significance) * 1e-12 if plot is plot_flux_map else np.abs(significance)
    fig = plot(data[np.newaxis], sky, name="crab", energy_range=(1, 10))
    ax, cbar = _image_axes(fig)
    assert ax.get_title().startswith(f"{title} \N{EM DASH} crab")
    assert label in cbar.get_ylabel()
    assert ax.get_xlabel() and ax.get_ylabel()
    _written(fig, tmp_path / f"{title}.png")


def test_flux_map_label_has_scale(sky):
    fig = plot_flux_map(np.full(sky.shape, 3e-12), sky, spectral_index=2.5)
    ax, cbar = _image_axes(fig)
    assert (
        "\N{MULTIPLICATION SIGN}10\N{SUPERSCRIPT MINUS}\N{SUPERSCRIPT ONE}\N{SUPERSCRIPT TWO} cm"
        in (cbar.get_ylabel())
    )
    assert "index 2.5" in ax.get_title()
    assert np.allclose(ax.images[0].get_array(), 3.0)


def test_excess_map_asinh_stretch(sky):
    image = np.zeros(sky.shape)
    image[::2] = 2.0  # median 1, robust width 1.4826
    image[0, 0] = -50.0
    image[1, 1] = 400.0
    fig = plot_excess_map(image, sky)
    norm = fig.axes[0].images[0].norm
    assert type(norm).__name__ == "AsinhNorm"
    assert norm.linear_width == pytest.approx(1.4826)
    assert (norm.vmin, norm.vmax) == pytest.approx((-3 * 1.4826, 400.0))


def test_exposure_map_one_unit(sky):
    # cm2 s in, m2 s out, mantissas of the power of ten
    fig = plot_exposure_map(np.full(sky.shape, 4e12), sky, unit="cm2 s")
    ax, cbar = _image_axes(fig)
    assert (
        cbar.get_ylabel()
        == "exposure (\N{MULTIPLICATION SIGN}10\N{SUPERSCRIPT EIGHT} m\N{SUPERSCRIPT TWO} s)"
    )
    assert np.allclose(ax.images[0].get_array(), 4.0)
    with pytest.raises(ValueError, match="exposure unit must be an area times a time, got 'TeV'"):
        plot_exposure_map(np.ones(sky.shape), sky, unit="TeV")


def test_galactic_axis_labels(significance):
    sky = SkyGeom.create(center=(184.55, -5.78), width=2.0, binsz=0.05, frame="galactic")
    ax = plot_sky_map(significance, sky, title="t", label="l").axes[0]
    assert "Galactic longitude" in ax.get_xlabel()


def test_sky_map_errors(sky):
    with pytest.raises(ValueError, match="image has shape"):
        plot_sky_map(np.zeros((3, 3)), sky, title="t", label="l")
    with pytest.raises(ValueError, match="exclusion mask has shape"):
        plot_sky_map(np.zeros(sky.shape), sky, title="t", label="l", exclusion=np.ones((3, 3)))
    with pytest.raises(ValueError, match="sources need 'ra' and 'dec'"):
        plot_sky_map(np.zeros(sky.shape), sky, title="t", label="l", sources=Table({"x": [1.0]}))


def test_significance_distribution(tmp_path, significance, exclusion):
    fig = plot_significance_distribution(
        significance, exclusion=exclusion, name="crab", energy_range=(1, 10)
    )
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert "Significance distribution" in ax.get_title()
    assert "outside exclusion" in ax.get_title()
    assert "significance" in ax.get_xlabel() and "pixels" in ax.get_ylabel()
    text = ax.texts[0].get_text()
    assert "mean = " in text and "width = " in text
    outside = significance[exclusion & np.isfinite(significance)]
    assert f"mean = {outside.mean():.3f}" in text and f"width = {outside.std():.3f}" in text
    labels = [line.get_label() for line in ax.get_lines()]
    assert any(lbl.startswith("fit:") for lbl in labels)
    assert "standard normal N(0, 1)" in labels
    _written(fig, tmp_path / "distribution.png")


def test_significance_distribution_errors(significance):
    with pytest.raises(ValueError, match="exclusion mask shape"):
        plot_significance_distribution(significance, exclusion=np.ones((2, 2), bool))
    with pytest.raises(StatsError, match="at least two finite values"):
        plot_significance_distribution(np.full((4, 4), np.nan))


def test_observation_qa(tmp_path):
    observations = Table({"OBS_ID": [23523, 23526, 23559], "LIVETIME": [1580.0, 1580.0, 1580.0]})
    observations["LIVETIME"].unit = "s"
    norms = Table(
        {
            "obs_id": [23523, 23526, 23559],
            "norm": [1.02, 0.97, 1.4],
            "norm_err": [0.02, 0.03, 0.05],
            "status": ["ok", "ok", "failed"],
        }
    )
    safe = Table(
        {
            "obs_id": [23523, 23526, 23559],
            "energy_min": [0.7, 0.8, np.nan],
            "energy_max": [np.nan] * 3,
        }
    )
    fig = plot_observation_qa(
        observations=observations, background_norms=norms, safe_energy=safe, name="crab"
    )
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "Background normalisation per observation"
    assert titles[1].startswith("Livetime per observation (total 1.32 h)")
    assert titles[2] == "Safe energy range per observation"
    assert fig.axes[0].get_ylabel() == "background norm"
    assert (
        fig.axes[2].get_ylabel() == "energy (TeV)" and fig.axes[2].get_xlabel() == "observation id"
    )
    assert [t.get_text() for t in fig.axes[2].get_xticklabels()] == ["23523", "23526", "23559"]
    assert "crab" in fig.get_suptitle()
    _written(fig, tmp_path / "qa.png")


def test_observation_qa_missing_tables_and_columns(tmp_path):
    fig = plot_observation_qa(observations=Table({"OBS_ID": [1, 2]}), background_norms=None)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert texts == [
        "background norms: not available",
        "livetime: not available",
        "safe energy thresholds: not available",
    ]
    _written(fig, tmp_path / "qa_empty.png")
    fig = plot_observation_qa()
    assert len(fig.axes) == 3


def test_observation_qa_energy_axis_and_many_observations():
    n = 100
    ids = np.arange(1000, 1000 + n)
    safe = Table({"obs_id": ids, "energy_min": np.full(n, 0.4), "energy_max": np.full(n, 100.0)})
    fig = plot_observation_qa(safe_energy=safe, energy_range=(0.5, 20.0), max_labels=40)
    ax = fig.axes[2]
    # limited to the lower thresholds and the analysis range, not the 100 TeV upper ones
    assert ax.get_ylim() == pytest.approx((0.4 / 1.25, 20.0 * 1.25))
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == [
        "analysis energy range",
        "lower threshold",
        "upper threshold above 25 TeV (at the edge)",
    ]
    # every 3rd observation labelled, the figure no wider than 12 inches
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert len(labels) == 34 and labels[:2] == ["1000", "1003"]
    assert ax.get_xlabel() == "observation id (100; one label per 3 observations)"
    assert fig.get_figwidth() == 12.0
