"""Tests of dl3flow.plotting.quicklook: files are written, axes are labelled and titled."""

from types import SimpleNamespace

import astropy.units as u
import numpy as np
import pytest

from dl3flow.io.atomic import write_figure
from dl3flow.maps.geom import DatasetGeom, EnergyAxis, SkyGeom
from dl3flow.plotting.quicklook import (
    QUICKLOOK_NAMES,
    plot_background,
    plot_counts,
    plot_exposure,
    plot_image,
    quicklook_figures,
)


def make_dataset(*, frame="icrs", with_unsafe=False):
    sky = SkyGeom.create(center=(83.6, 22.0), width=1.0, binsz=0.1, frame=frame)
    geom = DatasetGeom.create(
        sky=sky,
        energy=EnergyAxis.from_bounds(1, 10, 2),
        energy_true=EnergyAxis.from_bounds(0.5, 20, 4, name="energy_true"),
    )
    ny, nx = sky.shape
    counts = np.zeros((2, ny, nx))
    counts[:, 5, 5] = [3, 4]
    exposure = np.arange(4, dtype=float)[:, None, None] * np.ones((4, ny, nx)) * 1e9
    mask = np.ones((2, ny, nx), dtype=bool)
    if with_unsafe:
        mask[:, :, :2] = False
    return SimpleNamespace(
        geom=geom,
        counts=counts,
        background=np.full((2, ny, nx), 0.5),
        exposure=exposure,
        mask_safe=mask,
        name="test",
    )


def _texts(fig):
    ax = fig.axes[0]
    return ax.get_title(), ax.coords[0].get_axislabel(), ax.coords[1].get_axislabel()


def test_counts_figure_labels():
    fig = plot_counts(make_dataset())
    title, xlabel, ylabel = _texts(fig)
    assert title.startswith("Counts \N{EM DASH} test")
    assert "1 TeV \N{EN DASH} 10 TeV" in title and "total 7" in title
    assert xlabel == "Right ascension (ICRS)" and ylabel == "Declination (ICRS)"
    colorbar_label = fig.axes[1].get_ylabel()
    assert colorbar_label.startswith("counts / pixel")


def test_galactic_labels_and_caption():
    fig = plot_background(make_dataset(frame="galactic"), caption="HESS DL3 DR1")
    title, xlabel, ylabel = _texts(fig)
    assert title.startswith("Background") and "total 100.0" in title
    assert (xlabel, ylabel) == ("Galactic longitude", "Galactic latitude")
    assert fig.get_supxlabel() == "HESS DL3 DR1"


def test_exposure_at_energy_and_summed():
    dataset = make_dataset()
    fig = plot_exposure(dataset, energy_true=1 * u.TeV)
    image = fig.axes[0].images[0].get_array()
    edges = dataset.geom.energy_true.edges
    index = np.searchsorted(edges, 1.0) - 1
    assert index == 0 and np.allclose(image, 0.0)
    assert "E_true = 1 TeV" in fig.axes[0].get_title()
    assert fig.axes[1].get_ylabel() == "exposure (m\N{SUPERSCRIPT TWO} s)"  # all zero
    summed = plot_exposure(dataset, energy_true=None)
    assert np.allclose(summed.axes[0].images[0].get_array(), 6.0)
    assert "summed over 4 true-energy bins" in summed.axes[0].get_title()
    # the last edge belongs to the last bin; plain floats are TeV
    last = plot_exposure(dataset, energy_true=20.0)
    assert np.allclose(last.axes[0].images[0].get_array(), 3.0)
    # mantissas of 10^9 m2 s, the power of ten in the label
    assert last.axes[1].get_ylabel() == (
        "exposure (\N{MULTIPLICATION SIGN}10\N{SUPERSCRIPT NINE} m\N{SUPERSCRIPT TWO} s)"
    )


def test_exposure_energy_outside_axis():
    with pytest.raises(ValueError, match=r"energy_true 100.0 TeV is outside the true-energy axis"):
        plot_exposure(make_dataset(), energy_true=100 * u.TeV)


def test_background_missing():
    dataset = make_dataset()
    dataset.background = None
    with pytest.raises(ValueError, match="dataset has no background map"):
        plot_background(dataset)


def test_plot_image_errors():
    sky = SkyGeom.create(center=(0, 0), width=1.0, binsz=0.5)
    with pytest.raises(ValueError, match=r"needs a 2D image, got shape \(2, 2, 2\)"):
        plot_image(np.ones((2, 2, 2)), wcs=sky.wcs, title="t", label="l")
    with pytest.raises(ValueError, match="stretch must be 'linear' or 'sqrt', got 'log'"):
        plot_image(np.ones((2, 2)), wcs=sky.wcs, title="t", label="l", stretch="log")


def test_empty_image_and_footprint():
    sky = SkyGeom.create(center=(0, 0), width=1.0, binsz=0.5)
    fig = plot_image(
        np.zeros((2, 2)),
        wcs=sky.wcs,
        title="t",
        label="l",
        footprint=np.array([[True, False], [True, True]]),
    )
    assert fig.axes[0].images[0].norm.vmax == 1.0
    # the footprint's line is explained in the legend
    legend = fig.axes[-1].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["safe-data footprint"]


def test_quicklook_files_written(tmp_path):
    figures = quicklook_figures(
        make_dataset(with_unsafe=True), exposure_energy_true=2 * u.TeV, caption="c"
    )
    assert tuple(figures) == QUICKLOOK_NAMES
    for name, fig in figures.items():
        title, xlabel, ylabel = _texts(fig)
        assert title and xlabel and ylabel
        path = write_figure(fig, tmp_path / f"{name}.png")
        assert path.stat().st_size > 1000
        assert path.read_bytes()[:4] == b"\x89PNG"


def test_plotting_does_not_touch_pyplot():
    import sys

    quicklook_figures(make_dataset())
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:  # imported by something else; no figure of ours is registered
        assert pyplot.get_fignums() == []


def test_plot_safe_energy():
    from astropy.table import Table

    from dl3flow.plotting.quicklook import plot_safe_energy

    table = Table(
        {
            "obs_id": [1, 2, 3],
            "methods": ["aeff-default,offset-max"] * 3,
            "energy_min": [0.8, 0.6, np.nan],
            "energy_max": [np.nan] * 3,
            "energy_min_binned": [1.0, 0.7, 0.5],
            "energy_max_binned": [10.0] * 3,
            "offset_max": [2.5] * 3,
            "zenith": [40.0, 20.0, np.nan],
        }
    )
    fig = plot_safe_energy(table, energy_edges=[0.5, 1.0, 10.0], name="crab", caption="test data")
    ax, rows = fig.axes
    assert ax.get_yscale() == "log" and rows.get_xscale() == "log"
    title = fig.get_suptitle()
    assert title.startswith("Safe energy threshold \N{EM DASH} crab\n3 observations")
    assert "aeff-default,offset-max" in title and "1 obs without zenith" in title
    # one row per observation, sorted by threshold (no threshold last)
    assert [t.get_text() for t in rows.get_yticklabels()] == ["2", "1", "3"]
    # log axes limited to the values shown and the analysis' lower edge (padded by 1.25)
    assert ax.get_ylim() == pytest.approx((0.5 / 1.25, 1.0 * 1.25))
    assert rows.get_xlim() == pytest.approx((0.5 / 1.25, 1.0 * 1.25))
    assert ax.get_legend().get_texts()[-1].get_text() == (
        "analysis energy range 0.5 \N{EN DASH} 10 TeV (outside: shaded)"
    )
    # a narrow range: plain labels, also on the minor ticks at 2, 3, 5 x 10^n
    labels = [ax.yaxis.get_minor_formatter()(v, 0) for v in (0.5, 0.6, 0.3)]
    assert labels == ["0.5", "", "0.3"]
    assert ax.yaxis.get_major_formatter()(1.0, 0) == "1"
    empty = plot_safe_energy(table[:0])
    assert "none (no observations)" in empty.get_suptitle()


def test_plot_safe_energy_histogram_beyond_max_rows():
    from astropy.table import Table

    from dl3flow.plotting.quicklook import MAX_ROWS, plot_safe_energy

    n = MAX_ROWS + 1
    table = Table(
        {
            "obs_id": np.arange(n),
            "methods": ["aeff-default"] * n,
            "energy_min": np.full(n, 0.8),
            "energy_min_binned": np.full(n, 1.0),
            "zenith": np.full(n, 30.0),
        }
    )
    hist = plot_safe_energy(table).axes[1]
    assert hist.get_ylabel() == "number of observations"
    assert sum(patch.get_height() for patch in hist.patches) == n
    rows = plot_safe_energy(table, max_rows=n).axes[1]
    assert len(rows.get_yticklabels()) == n
