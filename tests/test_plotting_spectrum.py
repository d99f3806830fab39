"""Tests of dl3flow.plotting.spectrum: the numbers behind the spectrum plots, and the plots."""

from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.figure import Figure

from dl3flow.datasets.rejection import Rejection
from dl3flow.datasets.spectrum import SpectrumDatasetOnOff
from dl3flow.makers.reflected import WobbleRegionsFinder
from dl3flow.makers.spectrum import rejected_spectrum
from dl3flow.maps.geom import EnergyAxis
from dl3flow.maps.regions import CircleRegion
from dl3flow.plotting.spectrum import cumulative_summary, spectrum_figures, theta2_histograms

ON = CircleRegion(10.0, 0.0, 0.1)
ENERGY = EnergyAxis([1.0, 2.0, 4.0])
ENERGY_TRUE = EnergyAxis([0.5, 1.0, 2.0, 4.0, 8.0], name="energy_true")


def _dataset(obs_id, counts, off, *, n_off=3, mask=(True, True), livetime=3600.0):
    off_regions = WobbleRegionsFinder(n_off).run(ON, center=(10.5, 0.0))
    return SpectrumDatasetOnOff(
        energy=ENERGY,
        energy_true=ENERGY_TRUE,
        counts=counts,
        counts_off=off,
        acceptance=1.0,
        acceptance_off=float(len(off_regions)),
        exposure=[1.0, 2.0, 3.0, 4.0],
        edisp=np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0], [0.0, 0.5]]),
        mask_safe=list(mask),
        livetime=livetime,
        on_region=ON,
        off_regions=off_regions,
        name=str(obs_id),
        meta={"OBS_ID": obs_id, "LIVETIME": livetime, "RA_PNT": 10.5, "DEC_PNT": 0.0},
    )


def _events(ra, dec, energy):
    return SimpleNamespace(ra=np.array(ra), dec=np.array(dec), energy=np.array(energy))


def test_theta2_on_and_alpha_scaled_off():
    ds = _dataset(1, [2, 1], [1, 0])
    off_centre = max(ds.off_regions.regions, key=lambda r: r.ra)  # the 180 deg rotation
    assert off_centre.ra == pytest.approx(11.0) and off_centre.dec == pytest.approx(0.0, abs=1e-9)
    events = _events(
        ra=[10.0, 10.05, 10.2, 11.0, 10.0],
        dec=[0.0, 0.0, 0.0, 0.0, 0.0],
        # the last event is below the safe range (1-4 TeV): left out
        energy=[1.5, 3.0, 2.0, 2.0, 0.5],
    )
    theta2 = theta2_histograms([ds], [events], theta2_max=0.3, nbin=30)
    assert theta2.edges[1] == pytest.approx(0.01)
    expected_on = np.zeros(30)
    expected_on[0] = 2  # theta² 0 and 0.0025
    expected_on[4] = 1  # theta² 0.04
    np.testing.assert_allclose(theta2.on, expected_on)
    expected_off = np.zeros(30)
    expected_off[0] = 1  # the event at the OFF centre, once
    np.testing.assert_allclose(theta2.off_raw, expected_off)
    np.testing.assert_allclose(theta2.off, expected_off / 3)  # alpha = 1 / 3 OFF regions
    assert theta2.off_weight[0] == pytest.approx(1 / 3) and theta2.off_weight[1] == 0


def test_theta2_skips_rejected_and_checks_lengths():
    rejected = rejected_spectrum(
        Rejection(obs_id=2, stage="spectrum", reason="obs 2: no OFF region", error="SpectrumError"),
        on_region=ON,
        energy=ENERGY,
        energy_true=ENERGY_TRUE,
    )
    events = _events([10.0], [0.0], [2.0])
    assert theta2_histograms([rejected], [events]).on.sum() == 0
    with pytest.raises(ValueError, match="1 datasets but 2 event lists"):
        theta2_histograms([rejected], [events, events])


def test_cumulative_summary():
    first = _dataset(1, [3, 4], [9, 12], n_off=3)  # n_on 7, alpha n_off 7
    second = _dataset(2, [10, 0], [3, 3], n_off=3, mask=(True, False))  # n_on 10, bkg 1
    summary = cumulative_summary([first, second])
    np.testing.assert_allclose(summary["livetime"], [1.0, 2.0])
    np.testing.assert_allclose(summary["n_on"], [7, 17])
    np.testing.assert_allclose(summary["excess"], [0.0, 9.0])
    np.testing.assert_allclose(summary["background"], [7.0, 8.0])
    assert summary["significance"][0] == pytest.approx(0.0, abs=1e-9)
    assert summary["significance"][1] > 0


def test_spectrum_figures():
    datasets = [_dataset(1, [3, 4], [9, 12]), _dataset(2, [10, 0], [3, 3])]
    events = [_events([10.0, 11.0], [0.0, 0.0], [2.0, 2.0])] * 2
    figures = spectrum_figures(datasets, datasets[0], events, caption="test")
    assert set(figures) == {
        "theta2",
        "spectrum_excess",
        "cumulative_significance",
        "spectrum_regions",
    }
    for name, figure in figures.items():
        assert isinstance(figure, Figure) and figure.axes, name
        assert figure.axes[0].get_title().startswith("test: "), name
