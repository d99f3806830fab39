"""Per-observation 1D ON/OFF spectrum time: dl3flow vs gammapy, side by side in one run.

Usage::

    python benchmarks/spectrum.py [--data ../shared/data/hess-dl3-dr1] [--repeat 3]

Extracts the ON/OFF spectra of the 4 H.E.S.S. Crab runs as the issue-17 example
(ON circle 0.11 deg at (83.633, 22.014), exclusion 0.5 deg around it, reflected
regions, containment correction, safe mask aeff-max 10 %, reco 0.5-40 TeV with 10
bins per decade, true 0.05-100 TeV with 20 per decade) with dl3flow's
``extract_spectrum`` and with gammapy's ``SpectrumDatasetMaker`` +
``ReflectedRegionsBackgroundMaker`` + ``SafeMaskMaker``, and prints the time per
observation of each, their ratio, and the floor: decompressing and reading every
HDU of an observation's file. Each timing is the best of ``--repeat`` passes; every
pass starts from a fresh data-store object so no IRF or file is cached across passes.

This work made use of data from the H.E.S.S. DL3 public test data release 1
(HESS DL3 DR1, H.E.S.S. collaboration, 2018).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from reduce import time_read_floor

OBS_IDS = [23523, 23526, 23559, 23592]
CRAB = (83.633, 22.014)
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "hess-dl3-dr1"


def _gammapy_axes():
    from gammapy.maps import MapAxis

    energy = MapAxis.from_energy_bounds(0.5, 40, 10, per_decade=True, unit="TeV", name="energy")
    energy_true = MapAxis.from_energy_bounds(
        0.05, 100, 20, per_decade=True, unit="TeV", name="energy_true"
    )
    return energy, energy_true


def _exclusion():
    """The exclusion as dl3flow's (mask, SkyGeom): 0.5 deg disk, TAN, 0.05 deg pixels."""
    from dl3flow.maps.geom import SkyGeom
    from dl3flow.maps.regions import angular_separation

    geom = SkyGeom.create(center=CRAB, width=7.5, binsz=0.05, proj="TAN")
    lon, lat = geom.pixel_centers()
    return angular_separation(lon, lat, *CRAB) >= 0.5, geom


def time_dl3flow(data: Path) -> float:
    from dl3flow.data.store import DataStore
    from dl3flow.makers.reflected import ReflectedRegionsFinder
    from dl3flow.makers.spectrum import extract_spectrum
    from dl3flow.maps.geom import EnergyAxis
    from dl3flow.maps.regions import CircleRegion

    energy, energy_true = _gammapy_axes()
    e = EnergyAxis(energy.edges.to_value("TeV"))
    et = EnergyAxis(energy_true.edges.to_value("TeV"), name="energy_true")
    exclusion = _exclusion()
    store = DataStore.from_dir(data)
    t0 = time.perf_counter()
    for obs_id in OBS_IDS:
        extract_spectrum(
            store.observation(obs_id),
            on_region=CircleRegion(*CRAB, 0.11),
            energy=e,
            energy_true=et,
            finder=ReflectedRegionsFinder(),
            exclusion=exclusion,
            containment_correction=True,
            safe_mask_methods=["aeff-max"],
        )
    return (time.perf_counter() - t0) / len(OBS_IDS)


def time_gammapy(data: Path) -> float:
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from gammapy.data import DataStore
    from gammapy.datasets import SpectrumDataset
    from gammapy.makers import (
        ReflectedRegionsBackgroundMaker,
        SafeMaskMaker,
        SpectrumDatasetMaker,
    )
    from gammapy.maps import RegionGeom, WcsGeom
    from regions import CircleSkyRegion

    energy, energy_true = _gammapy_axes()
    target = SkyCoord(*CRAB, unit="deg")
    geom = RegionGeom.create(region=CircleSkyRegion(target, 0.11 * u.deg), axes=[energy])
    empty = SpectrumDataset.create(geom=geom, energy_axis_true=energy_true)
    exgeom = WcsGeom.create(npix=(150, 150), binsz=0.05, skydir=target, proj="TAN", frame="icrs")
    exclusion = ~exgeom.region_mask([CircleSkyRegion(target, 0.5 * u.deg)])
    maker = SpectrumDatasetMaker(
        containment_correction=True, selection=["counts", "exposure", "edisp"]
    )
    bkg = ReflectedRegionsBackgroundMaker(exclusion_mask=exclusion)
    safe = SafeMaskMaker(methods=["aeff-max"], aeff_percent=10)
    store = DataStore.from_dir(data)
    t0 = time.perf_counter()
    for obs in store.get_observations(OBS_IDS):
        dataset = maker.run(empty.copy(name=str(obs.obs_id)), obs)
        safe.run(bkg.run(dataset, obs), obs)
    return (time.perf_counter() - t0) / len(OBS_IDS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not (args.data / "obs-index.fits.gz").is_file():
        raise SystemExit(f"H.E.S.S. DL3 DR1 not found at {args.data} (use --data)")
    warnings.simplefilter("ignore")

    floor = min(time_read_floor(args.data) for _ in range(args.repeat))
    ours = min(time_dl3flow(args.data) for _ in range(args.repeat))
    try:
        theirs = min(time_gammapy(args.data) for _ in range(args.repeat))
    except ImportError:
        theirs = float("nan")
        print("gammapy not installed (pip install -e '.[validate]'): no comparison")

    print(f"observations: {len(OBS_IDS)} H.E.S.S. Crab runs, best of {args.repeat} passes")
    print(f"read floor (decompress + read all HDUs):  {1e3 * floor:8.1f} ms / obs")
    print(f"dl3flow extract_spectrum:                 {1e3 * ours:8.1f} ms / obs")
    print(f"gammapy SpectrumDatasetMaker + Reflected: {1e3 * theirs:8.1f} ms / obs")
    print(f"ratio gammapy / dl3flow:                  {theirs / ours:8.1f} x")
    print(f"ratio dl3flow / read floor:               {ours / floor:8.1f} x")


if __name__ == "__main__":
    main()
