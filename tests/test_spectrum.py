"""1D ON/OFF spectra (issue 17): finders, RAD_MAX, extraction errors, container, stacking.

Literal expected values of the finders come from gammapy 1.3's
``ReflectedRegionsFinder`` / ``WobbleRegionsFinder`` on the same inputs; WStat
significances from ``gammapy.stats.WStatCountsStatistic``.
"""

from types import SimpleNamespace

import numpy as np
import pytest

from dl3flow.datasets.io import DatasetError
from dl3flow.datasets.spectrum import SpectrumDatasetOnOff, read_spectrum_dataset
from dl3flow.irf.aeff import EffectiveArea2D
from dl3flow.irf.axes import IrfAxis, IrfError
from dl3flow.irf.rad_max import RadMax2D, rad_max_from_irf
from dl3flow.makers.reflected import ReflectedRegionsFinder, WobbleRegionsFinder
from dl3flow.makers.spectrum import (
    SpectrumError,
    check_map_analysis,
    check_on_region,
    extract_spectrum,
    extract_spectrum_to_file,
    spectrum_summary,
    stack_spectra,
)
from dl3flow.maps.geom import EnergyAxis, SkyGeom
from dl3flow.maps.regions import CircleRegion, OffRegionsError, angular_separation

POINTING = (10.0, 0.0)
ON = CircleRegion(10.0, 0.5, 0.1)


def _exclusion_south():
    """Exclusion: 0.2 deg disk at (10, -0.5) on a 1 deg CAR image with 0.02 deg pixels."""
    geom = SkyGeom.create(center=(10.0, -0.5), width=1.0, binsz=0.02, proj="CAR")
    lon, lat = geom.pixel_centers()
    mask = angular_separation(lon, lat, 10.0, -0.5) >= 0.2
    return mask, geom


# ----------------------------------------------------------------------------- finders


def test_reflected_regions_number_and_centres():
    off = ReflectedRegionsFinder().run(ON, center=POINTING)
    assert len(off) == 14
    expected = [
        (10.237428584, 0.440032698),
        (10.388408278, 0.314865889),
        (10.479631273, 0.141259717),
    ]
    got = [(r.ra, r.dec) for r in off.regions[:3]]
    np.testing.assert_allclose(got, expected, atol=1e-9)
    assert off.regions[0].radius == pytest.approx(0.10000004531814709, rel=1e-12)
    # all at the ON offset from the pointing
    offsets = [angular_separation(r.ra, r.dec, *POINTING) for r in off.regions]
    np.testing.assert_allclose(offsets, 0.5, atol=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "n"), [({"min_distance": 0.5}, 5), ({"max_region_number": 2}, 2)]
)
def test_reflected_regions_min_distance_and_max_number(kwargs, n):
    assert len(ReflectedRegionsFinder(**kwargs).run(ON, center=POINTING)) == n


def test_reflected_regions_respect_exclusion():
    exclusion = _exclusion_south()
    off = ReflectedRegionsFinder().run(ON, center=POINTING, exclusion=exclusion)
    assert len(off) == 12
    for region in off.regions:  # no OFF circle reaches into the excluded disk
        assert angular_separation(region.ra, region.dec, 10.0, -0.5) > 0.2 + 0.1 - 0.02


def test_wobble_regions_centres_and_exclusion():
    off = WobbleRegionsFinder(3).run(ON, center=POINTING)
    np.testing.assert_allclose(
        [(r.ra, r.dec) for r in off.regions], [(10.5, 0.0), (10.0, -0.5), (9.5, 0.0)], atol=1e-9
    )
    off = WobbleRegionsFinder(3).run(ON, center=POINTING, exclusion=_exclusion_south())
    np.testing.assert_allclose(
        [(r.ra, r.dec) for r in off.regions], [(10.5, 0), (9.5, 0)], atol=1e-9
    )
    point = WobbleRegionsFinder(3).run(CircleRegion(10.0, 0.5), center=POINTING)
    assert all(r.is_point for r in point.regions) and len(point) == 3


def test_wobble_overlapping_regions_give_none():
    big = CircleRegion(10.0, 0.5, 0.45)
    assert len(WobbleRegionsFinder(3).run(big, center=POINTING)) == 0


def test_union_counts_an_event_once():
    off = ReflectedRegionsFinder(min_distance=-0.05).run(ON, center=POINTING)  # overlapping
    a, b = off.regions[0], off.regions[1]
    assert angular_separation(a.ra, a.dec, b.ra, b.dec) < a.radius + b.radius
    mid_ra, mid_dec = (a.ra + b.ra) / 2, (a.dec + b.dec) / 2
    inside = off.contains(np.array([mid_ra, 10.0]), np.array([mid_dec, -2.0]))
    assert inside.tolist() == [True, False]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"angle_increment": 0.0}, "angle_increment must be positive"),
        ({"binsz": -1}, "binsz must be positive"),
        ({"max_region_number": 0}, "max_region_number must be a positive integer"),
        ({"min_distance": "1 m"}, "min_distance: expected an angle"),
    ],
)
def test_reflected_finder_rejects_bad_options(kwargs, match):
    with pytest.raises(OffRegionsError, match=match):
        ReflectedRegionsFinder(**kwargs)


def test_finder_errors():
    with pytest.raises(OffRegionsError, match="n_off_regions must be a positive integer"):
        WobbleRegionsFinder(0)
    with pytest.raises(OffRegionsError, match="needs an ON circle"):
        ReflectedRegionsFinder().run(CircleRegion(10, 0.5), center=POINTING)
    with pytest.raises(OffRegionsError, match="radius must be positive"):
        CircleRegion(10, 0.5, 0.0)
    with pytest.raises(OffRegionsError, match="no extent"):
        WobbleRegionsFinder(1).run(CircleRegion(10, 0.5), center=POINTING).contains([10], [0])


# ---------------------------------------------------------------------------- RAD_MAX


def _rad_max_table():
    energy = IrfAxis.from_edges([0.1, 1.0, 10.0], name="energy", unit="TeV", interp="log")
    offset = IrfAxis.from_edges([0.3, 0.5], name="offset", unit="deg", interp="lin")
    return RadMax2D(axes=(energy, offset), data=[[0.2], [0.1]])


def test_rad_max_radius_per_energy_bin():
    rad_max = _rad_max_table()
    values = rad_max.evaluate(energy=[0.2, 0.5, 2.0, 9.0, 20.0, 0.05], offset=0.4)
    np.testing.assert_array_equal(values, [0.2, 0.2, 0.1, 0.1, 0.0, 0.0])
    # outside the offset edges: 0 (gammapy's fill value)
    assert rad_max.evaluate(energy=2.0, offset=0.6) == 0.0
    assert not rad_max.is_fixed


def _point_like_aeff(rad_max=0.1):
    e = IrfAxis.from_edges([0.1, 100.0], name="energy_true", unit="TeV", interp="log")
    o = IrfAxis.from_edges([0.0, 1.0], name="offset", unit="deg", interp="lin")
    meta = {"HDUCLAS3": "POINT-LIKE", "RAD_MAX": rad_max}
    return EffectiveArea2D(axes=(e, o), data=[[1e5]], meta=meta)


def test_fixed_rad_max_from_header():
    rad_max = rad_max_from_irf(_point_like_aeff(0.1), source="f.fits[AEFF]")
    assert rad_max.is_fixed
    np.testing.assert_array_equal(rad_max.evaluate(energy=[0.01, 1, 1e3], offset=5.0), 0.1)
    with pytest.raises(IrfError, match=r"f.fits\[AEFF\]: RAD_MAX must be a positive number"):
        rad_max_from_irf(_point_like_aeff("x"), source="f.fits[AEFF]")


def test_on_region_checks():
    fixed = rad_max_from_irf(_point_like_aeff(0.1))
    check_on_region(CircleRegion(10, 0.5, 0.1), fixed, obs_id=7)  # compatible
    with pytest.raises(SpectrumError, match=r"obs 7 \(f.fits\[AEFF\]\): ON circle radius 0.2"):
        check_on_region(CircleRegion(10, 0.5, 0.2), fixed, obs_id=7, source="f.fits[AEFF]")
    with pytest.raises(SpectrumError, match="obs 7: the RAD_MAX cut depends on energy"):
        check_on_region(CircleRegion(10, 0.5, 0.1), _rad_max_table(), obs_id=7)
    with pytest.raises(SpectrumError, match="obs 7: an ON point needs point-like IRFs"):
        check_on_region(CircleRegion(10, 0.5), None, obs_id=7)


def test_map_analysis_refused_on_point_like_irfs():
    obs = SimpleNamespace(obs_id=3, aeff=_point_like_aeff())
    assert "obs 3: point-like IRFs" in check_map_analysis(obs)
    full = SimpleNamespace(obs_id=3, aeff=SimpleNamespace(meta={"HDUCLAS3": "FULL-ENCLOSURE"}))
    assert check_map_analysis(full) is None


def test_no_off_region_is_an_error_naming_the_observation():
    obs = SimpleNamespace(
        obs_id=42, rad_max=None, aeff=object(), edisp=object(), pointing_radec=(10.0, 0.5)
    )
    energy = EnergyAxis([1.0, 10.0])
    with pytest.raises(SpectrumError, match="obs 42: no OFF region found"):
        extract_spectrum(
            obs,
            on_region=ON,
            energy=energy,
            energy_true=EnergyAxis([1.0, 10.0], name="energy_true"),
            finder=ReflectedRegionsFinder(),
            safe_mask_methods=(),
        )


# --------------------------------------------------------------------- container/stack


def _dataset(counts, off, n_regions, mask, name="1", livetime=100.0):
    energy = EnergyAxis([1.0, 2.0, 4.0])
    energy_true = EnergyAxis([0.5, 1.0, 2.0, 4.0, 8.0], name="energy_true")
    edisp = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0], [0.0, 0.5]])
    return SpectrumDatasetOnOff(
        energy=energy,
        energy_true=energy_true,
        counts=counts,
        counts_off=off,
        acceptance=1.0,
        acceptance_off=float(n_regions),
        exposure=[1.0, 2.0, 3.0, 4.0],
        edisp=edisp,
        mask_safe=mask,
        livetime=livetime,
        on_region=ON,
        name=name,
        meta={"OBS_ID": int(name), "LIVETIME": livetime},
    )


def test_container_shape_error():
    with pytest.raises(
        DatasetError, match=r"counts has shape \(3,\), the energy axis needs \(2,\)"
    ):
        _dataset([1, 2, 3], [1, 2], 2, True)


def test_write_read_round_trip(tmp_path):
    ds = _dataset([3, 4], [10, 20], 4, [False, True])
    path = tmp_path / "spectrum.fits"
    ds.write(path)
    back = read_spectrum_dataset(path)
    np.testing.assert_array_equal(back.counts, [3, 4])
    np.testing.assert_array_equal(back.counts_off, [10, 20])
    np.testing.assert_array_equal(back.alpha, [0.25, 0.25])
    np.testing.assert_array_equal(back.mask_safe, [False, True])
    np.testing.assert_array_equal(back.edisp, ds.edisp)
    np.testing.assert_array_equal(back.energy_true.edges, ds.energy_true.edges)
    assert back.on_region.radius == pytest.approx(0.1, rel=1e-9)
    with pytest.raises(FileExistsError, match="exists"):
        ds.write(path)
    with pytest.raises(DatasetError, match="no such file"):
        read_spectrum_dataset(tmp_path / "missing.fits")


def test_stacking_sums_in_the_safe_range_and_recomputes_alpha():
    a = _dataset([1, 2], [10, 0], 10, [True, True], name="1")  # alpha 0.1
    b = _dataset([5, 7], [40, 30], 5, [False, True], name="2")  # alpha 0.2
    st = stack_spectra([a, b])
    np.testing.assert_array_equal(st.counts, [1, 9])
    np.testing.assert_array_equal(st.counts_off, [10, 30])
    # bin 1: (0.1 * 0 + 0.2 * 30) / 30; bin 0: only a
    np.testing.assert_allclose(st.alpha, [0.1, 0.2])
    np.testing.assert_array_equal(st.mask_safe, [True, True])
    assert st.livetime == 200.0
    assert st.meta["OBS_IDS"] == [1, 2]


def test_stacking_zero_off_bin_uses_the_average_alpha():
    a = _dataset([1, 2], [10, 0], 10, [True, True], name="1")
    st = stack_spectra([a])
    # no OFF counts in bin 1: alpha = total(alpha * off) / total(off) = 0.1
    np.testing.assert_allclose(st.alpha, [0.1, 0.1])
    with pytest.raises(SpectrumError, match="no spectrum datasets"):
        stack_spectra([])


def test_summary_wstat_numbers():
    ds = _dataset([10, 0], [20, 0], 10, [True, False])
    row = spectrum_summary(ds)
    assert (row["n_on"], row["n_off"]) == (10, 20)
    assert row["alpha"] == pytest.approx(0.1)
    assert row["excess"] == pytest.approx(8.0)
    assert row["significance"] == pytest.approx(3.685032231942029, rel=1e-10)
    assert (row["energy_min"], row["energy_max"]) == (1.0, 2.0)
    low = spectrum_summary(_dataset([5, 0], [50, 10], 5, [True, False]))
    assert low["significance"] == pytest.approx(-1.6247398755677305, rel=1e-10)


def _rad_max_hdu(**header):
    from astropy.io import fits

    cols = [
        fits.Column(name="ENERG_LO", format="2E", unit="TeV", array=[[0.1, 1.0]]),
        fits.Column(name="ENERG_HI", format="2E", unit="TeV", array=[[1.0, 10.0]]),
        fits.Column(name="THETA_LO", format="1E", unit="deg", array=[[0.3]]),
        fits.Column(name="THETA_HI", format="1E", unit="deg", array=[[0.5]]),
        fits.Column(name="RAD_MAX", format="2E", unit="arcmin", dim="(2,1)", array=[[[12.0, 6.0]]]),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="RAD_MAX")
    hdu.header.update(header)
    return hdu


def test_read_rad_max_2d_table():
    from dl3flow.irf.io import read_irf

    hdu = _rad_max_hdu(HDUCLAS1="RESPONSE", HDUCLAS2="RAD_MAX", HDUCLAS4="RAD_MAX_2D")
    rad_max = read_irf(hdu, hdu_class="rad_max_2d", source="m.fits[RAD_MAX]")
    assert isinstance(rad_max, RadMax2D)
    np.testing.assert_allclose(rad_max.evaluate(energy=[0.5, 5.0], offset=0.4), [0.2, 0.1])
    assert type(read_irf(hdu)) is RadMax2D  # from the header alone
    with pytest.raises(IrfError, match=r"m.fits\[RAD_MAX\]: the HDU index says HDU class"):
        read_irf(
            _rad_max_hdu(HDUCLAS2="EFF_AREA"), hdu_class="rad_max_2d", source="m.fits[RAD_MAX]"
        )


def test_ogip_files(tmp_path):
    from astropy.io import fits

    ds = _dataset([3, 4], [10, 20], 4, [False, True])
    names = ds.write_ogip(tmp_path / "pha_obs1.fits")
    assert sorted(p.name for p in names.values()) == [
        "pha_obs1.fits",
        "pha_obs1_arf.fits",
        "pha_obs1_bkg.fits",
        "pha_obs1_rmf.fits",
    ]
    with fits.open(names["pha"]) as pha:
        spectrum = pha["SPECTRUM"]
        assert spectrum.header["BACKFILE"] == "pha_obs1_bkg.fits"
        assert spectrum.header["EXPOSURE"] == 100.0
        np.testing.assert_array_equal(spectrum.data["COUNTS"], [3, 4])
        np.testing.assert_array_equal(spectrum.data["QUALITY"], [True, False])
    with fits.open(names["bkg"]) as bkg:
        np.testing.assert_array_equal(bkg["SPECTRUM"].data["BACKSCAL"], [4.0, 4.0])
    with fits.open(names["arf"]) as arf:
        np.testing.assert_allclose(arf["SPECRESP"].data["SPECRESP"], [0.01, 0.02, 0.03, 0.04])
    with fits.open(names["rmf"]) as rmf:
        row = rmf["MATRIX"].data[1]  # true bin 1: 0.5, 0.5 in channels 0 and 1
        assert (row["N_GRP"], list(row["F_CHAN"]), list(row["N_CHAN"])) == (1, [0], [2])
        np.testing.assert_allclose(row["MATRIX"], [0.5, 0.5])
    with pytest.raises(FileExistsError, match="pha_obs1.fits"):
        ds.write_ogip(tmp_path / "pha_obs1.fits")


# A per-observation spectrum job: read the observation, extract, write (gadf and OGIP).
# It must import what the map jobs may (tests/test_job_imports.py). (The summary
# table is a job over all observations: its WStat statistics use scipy.special.)
SPECTRUM_JOB = """
import json, sys
import numpy as np
from dl3flow.data.store import DataStore
from dl3flow.maps.geom import EnergyAxis, SkyGeom
from dl3flow.maps.regions import CircleRegion
from dl3flow.makers.reflected import ReflectedRegionsFinder
from dl3flow.makers.spectrum import extract_spectrum

store = DataStore.from_dir(sys.argv[1])
obs = store.observation(int(store.obs_ids[0]))
ra, dec = obs.pointing_radec
on = CircleRegion(ra, dec + 0.5, 0.1)
sky = SkyGeom.create(center=(ra, dec + 0.5), width=2.0, binsz=0.05, proj="CAR")
mask = np.ones(sky.shape, dtype=bool)
mask[:5, :5] = False
ds = extract_spectrum(
    obs, on_region=on, energy=EnergyAxis.from_bounds(0.5, 20, 4),
    energy_true=EnergyAxis.from_bounds(0.3, 30, 6, name="energy_true"),
    finder=ReflectedRegionsFinder(), exclusion=(mask, sky), containment_correction=True,
    safe_mask_methods=["aeff-default"],
)
ds.write(sys.argv[2] + "/spectrum.fits")
ds.write_ogip(sys.argv[2] + "/ogip/pha.fits")
forbidden = json.loads(sys.argv[3])
bad = sorted({p for p in forbidden for m in sys.modules if m == p or m.startswith(p + ".")})
print(json.dumps({"bad": bad, "n_off_regions": ds.n_off_regions}))
"""


def test_spectrum_job_stays_light(tmp_path):
    import json
    import subprocess
    import sys

    from test_job_imports import FORBIDDEN

    from dl3flow.simulate.config import SimulationConfig
    from dl3flow.simulate.store import write_data_store

    store = write_data_store(SimulationConfig(n_obs=1, livetime=120.0), tmp_path / "store")
    result = subprocess.run(
        [sys.executable, "-c", SPECTRUM_JOB, str(store), str(tmp_path), json.dumps(FORBIDDEN)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["bad"] == [], report
    assert report["n_off_regions"] > 0


def test_rejected_spectrum_is_flagged_and_left_out_of_the_stack(tmp_path):
    from dl3flow.datasets.rejection import Rejection, rejection_of
    from dl3flow.makers.spectrum import rejected_spectrum

    rejection = Rejection(obs_id=9, stage="reduce", reason="obs 9: no OFF region", error="E")
    bad = rejected_spectrum(
        rejection,
        on_region=ON,
        energy=EnergyAxis([1.0, 2.0, 4.0]),
        energy_true=EnergyAxis([0.5, 1.0, 2.0, 4.0, 8.0], name="energy_true"),
    )
    bad.write(tmp_path / "spectrum.fits")
    back = read_spectrum_dataset(tmp_path / "spectrum.fits")
    assert rejection_of(back.meta) == rejection
    assert not back.mask_safe.any()
    assert spectrum_summary(back)["status"].startswith("obs 9 (reduce)")
    good = _dataset([1, 2], [10, 0], 10, [True, True], name="1")
    st = stack_spectra([bad, good])
    assert st.meta["OBS_IDS"] == [1] and "STATUS" not in st.meta
    with pytest.raises(SpectrumError, match="all rejected"):
        stack_spectra([bad])


def _point_like(rad_max):
    def mutate(hdulist):
        header = hdulist["AEFF"].header
        header["HDUCLAS3"] = "POINT-LIKE"
        header["RAD_MAX"] = rad_max

    return mutate


def test_point_like_copy_of_a_real_run(hess_obs_copy):
    """A point-like AEFF with a fixed RAD_MAX: the observation's cut, the map refusal and
    the radius check name the file and the observation."""
    from dl3flow.data.store import DataStore

    store = DataStore.from_dir(hess_obs_copy(hdus=_point_like(0.11)))
    obs = store.observation(23523)
    assert obs.rad_max.is_fixed and obs.rad_max.evaluate(energy=1.0, offset=0.5) == 0.11
    assert "obs 23523: point-like IRFs" in check_map_analysis(obs)
    axes = {
        "energy": EnergyAxis.from_bounds(0.5, 40, 10),
        "energy_true": EnergyAxis.from_bounds(0.1, 100, 20, name="energy_true"),
        "safe_mask_methods": (),
    }
    with pytest.raises(SpectrumError, match=r"obs 23523 \(.*023523.fits.gz\[aeff\].*0.2 deg"):
        extract_spectrum(
            obs, on_region=CircleRegion(83.633, 22.014, 0.2), finder=WobbleRegionsFinder(3), **axes
        )
    ds = extract_spectrum(
        obs, on_region=CircleRegion(83.633, 22.014, 0.11), finder=WobbleRegionsFinder(3), **axes
    )
    assert ds.n_off_regions == 3 and ds.counts.sum() > 0
    with pytest.raises(SpectrumError, match="obs 23523: containment correction is not possible"):
        extract_spectrum(
            obs,
            on_region=CircleRegion(83.633, 22.014, 0.11),
            finder=WobbleRegionsFinder(3),
            containment_correction=True,
            **axes,
        )


# ------------------------------------------------------------ per-observation job


def _extract_kwargs():
    return {
        "on_region": CircleRegion(83.633, 22.014, 0.11),
        "energy": EnergyAxis.from_bounds(0.5, 40, 10),
        "energy_true": EnergyAxis.from_bounds(0.1, 100, 20, name="energy_true"),
        "finder": WobbleRegionsFinder(3),
        "safe_mask_methods": (),
    }


def test_extract_spectrum_to_file_writes_a_flagged_spectrum_on_skip(tmp_path):
    from dl3flow.datasets.rejection import rejection_of

    def loader(obs_id):
        raise OSError(f"obs {obs_id}: cannot open hess_{obs_id}.fits.gz")

    path = tmp_path / "obs" / "spectrum.fits"
    result = extract_spectrum_to_file(
        loader, obs_id=5, path=path, provenance=lambda: {"CONFHASH": "abc"}, **_extract_kwargs()
    )
    assert (result.obs_id, result.stage, result.error) == (5, "spectrum", "OSError")
    back = read_spectrum_dataset(path)
    assert rejection_of(back.meta) == result
    assert not back.mask_safe.any() and back.counts.sum() == 0
    assert "cannot open hess_5.fits.gz" in spectrum_summary(back)["status"]


def test_extract_spectrum_to_file_fail_raises_and_writes_nothing(tmp_path):
    from dl3flow.datasets.rejection import BadObservationError

    def loader(obs_id):
        raise ValueError("broken")

    path = tmp_path / "spectrum.fits"
    with pytest.raises(BadObservationError, match="observation 5: spectrum failed: ValueError"):
        extract_spectrum_to_file(
            loader, obs_id=5, path=path, on_bad_observation="fail", **_extract_kwargs()
        )
    assert not path.exists()
    with pytest.raises(ValueError, match="on_bad_observation must be one of"):
        extract_spectrum_to_file(
            loader, obs_id=5, path=path, on_bad_observation="drop", **_extract_kwargs()
        )


def test_extract_spectrum_to_file_on_a_real_run(tmp_path, hess_obs_copy):
    from dl3flow.data.store import DataStore
    from dl3flow.io.provenance import read_provenance
    from dl3flow.workflow.rejection import reduce_or_reject

    store = DataStore.from_dir(hess_obs_copy(hdus=_point_like(0.11)))
    path = tmp_path / "spectrum.fits"
    calls = []

    def provenance():
        calls.append(path.exists())  # called after the extraction, before the write
        from dl3flow.io.provenance import Provenance

        return Provenance.create(rule="extract_spectra", obs_ids=[23523])

    ds = extract_spectrum_to_file(
        store.observation, obs_id=23523, path=path, provenance=provenance, **_extract_kwargs()
    )
    assert calls == [False] and ds.n_off_regions == 3
    back = read_spectrum_dataset(path)
    np.testing.assert_array_equal(back.counts, ds.counts)
    assert read_provenance(path).obs_ids == (23523,)
    # the map reduction refuses the same point-like observation, saying why
    rejection = reduce_or_reject(
        store.observation, obs_id=23523, geom=SimpleNamespace(), offset_max=2.5
    )
    assert rejection.stage == "irf" and "point-like IRFs" in rejection.reason
    assert "no sky map can be made" in rejection.reason


def test_spectrum_table_rows_rejected_and_stacked():
    from dl3flow.datasets.rejection import Rejection
    from dl3flow.makers.spectrum import rejected_spectrum, spectrum_table

    good = _dataset([3, 4], [10, 20], 4, [True, True], name="1")
    bad = rejected_spectrum(
        Rejection(obs_id=2, stage="spectrum", reason="obs 2: no OFF region", error="SpectrumError"),
        on_region=good.on_region,
        energy=good.energy,
        energy_true=good.energy_true,
    )
    table = spectrum_table([good, bad], stack_spectra([good, bad]))
    assert list(table["name"]) == ["1", "2", "stacked"]
    assert table["status"][0] == "ok" and table["status"][2] == "ok"
    assert "no OFF region" in table["status"][1]
    assert list(table["n_on"]) == [7, 0, 7] and list(table["n_off"]) == [30, 0, 30]
    assert table["alpha"][2] == pytest.approx(0.25) and table["excess"][2] == pytest.approx(-0.5)
    assert list(table["n_off_regions"]) == [good.n_off_regions, 0, good.n_off_regions]
    assert table["livetime"].unit == "s" and table["energy_min"].unit == "TeV"
