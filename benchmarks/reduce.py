"""Per-observation reduction time: dl3flow vs gammapy, measured side by side in one run.

Usage::

    python benchmarks/reduce.py [--data ../shared/data/hess-dl3-dr1] [--repeat 3]

Reduces the 4 H.E.S.S. Crab runs of the issue-2 example (5 deg, 0.02 deg pixels,
11 reco / 20 true energy bins, cutout 2 x 2.5 deg; counts, exposure, background,
edisp kernel and PSF maps) with dl3flow's ``reduce_observation`` and with
gammapy's ``MapDatasetMaker`` on a cutout, and prints the time per observation
of each, their ratio, and the floor: decompressing and reading every HDU of an
observation's file. Each timing is the best of ``--repeat`` passes; every pass
starts from a fresh data-store object so no IRF or file is cached across passes.

This work made use of data from the H.E.S.S. DL3 public test data release 1
(HESS DL3 DR1, H.E.S.S. collaboration, 2018).
"""

from __future__ import annotations

import argparse
import gzip
import io
import time
import warnings
from pathlib import Path

import astropy.units as u
from astropy.io import fits

OBS_IDS = [23523, 23526, 23559, 23592]
CENTER = (83.633, 22.014)
OFFSET_MAX = 2.5
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "hess-dl3-dr1"


def time_read_floor(data: Path) -> float:
    """Seconds per observation to decompress and read every HDU of its file."""
    files = sorted((data / "data").glob("*.fits.gz"))
    by_id = {int(f.name.split("_")[-1].split(".")[0]): f for f in files}
    t0 = time.perf_counter()
    for obs_id in OBS_IDS:
        raw = gzip.decompress(by_id[obs_id].read_bytes())
        with fits.open(io.BytesIO(raw)) as hdul:
            for hdu in hdul:
                _ = hdu.data
    return (time.perf_counter() - t0) / len(OBS_IDS)


def time_dl3flow(data: Path) -> float:
    from dl3flow.data.store import DataStore
    from dl3flow.makers.map import reduce_observation
    from dl3flow.maps.geom import DatasetGeom, EnergyAxis, SkyGeom

    geom = DatasetGeom.create(
        sky=SkyGeom.create(center=CENTER, width=5, binsz=0.02, frame="icrs", proj="CAR"),
        energy=EnergyAxis.from_bounds(1 * u.TeV, 10 * u.TeV, 11, name="energy"),
        energy_true=EnergyAxis.from_bounds(0.5 * u.TeV, 20 * u.TeV, 20, name="energy_true"),
    )
    store = DataStore.from_dir(data)
    t0 = time.perf_counter()
    for obs_id in OBS_IDS:
        reduce_observation(store.observation(obs_id), geom=geom, offset_max=OFFSET_MAX)
    return (time.perf_counter() - t0) / len(OBS_IDS)


def time_gammapy(data: Path) -> float:
    from gammapy.data import DataStore
    from gammapy.datasets import MapDataset
    from gammapy.makers import MapDatasetMaker
    from gammapy.maps import MapAxis, WcsGeom

    energy = MapAxis.from_energy_bounds(1, 10, 11, unit="TeV")
    energy_true = MapAxis.from_energy_bounds(0.5, 20, 20, unit="TeV", name="energy_true")
    geom = WcsGeom.create(skydir=CENTER, width=5, binsz=0.02, frame="icrs", axes=[energy])
    stacked = MapDataset.create(geom, energy_axis_true=energy_true)
    maker = MapDatasetMaker()
    store = DataStore.from_dir(data)
    t0 = time.perf_counter()
    for obs in store.get_observations(OBS_IDS):
        cutout = stacked.cutout(obs.get_pointing_icrs(obs.tmid), width=2 * OFFSET_MAX * u.deg)
        maker.run(cutout, obs)
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
    print(f"read floor (decompress + read all HDUs): {1e3 * floor:8.1f} ms / obs")
    print(f"dl3flow reduce_observation:              {1e3 * ours:8.1f} ms / obs")
    print(f"gammapy MapDatasetMaker (cutout):        {1e3 * theirs:8.1f} ms / obs")
    print(f"ratio gammapy / dl3flow:                 {theirs / ours:8.1f} x")
    print(f"ratio dl3flow / read floor:              {ours / floor:8.1f} x")


if __name__ == "__main__":
    main()
