"""Small synthetic geometries and datasets for the unit tests (not a test module).

Many test modules need a `~dl3flow.maps.geom.DatasetGeom` and a `~dl3flow.datasets.map.MapDataset`
of their own sizes and values: ``make_geom`` and ``make_dataset`` build them from
arguments, so each module says only what is particular to it::

    geom = make_geom(center=(83.6, 22.0), width=(0.5, 0.4), energy=[1.0, 3.0, 10.0])
    dataset = make_dataset(geom, counts=np.arange(40.0).reshape(2, 4, 5), obs_id=1)
"""

from __future__ import annotations

import numpy as np

from dl3flow.datasets.map import MapDataset
from dl3flow.maps.geom import DatasetGeom, EnergyAxis, SkyGeom


def energy_axis(spec, name: str = "energy") -> EnergyAxis:
    """An energy axis from ``spec``: an `EnergyAxis`, ``(min, max, nbin)`` (a tuple: log
    bins from min to max TeV, `EnergyAxis.from_bounds`) or the bin edges in TeV (a list
    or an array)."""
    if isinstance(spec, EnergyAxis):
        return spec
    if isinstance(spec, tuple):
        return EnergyAxis.from_bounds(*spec, name=name)
    return EnergyAxis(np.asarray(spec, dtype=float), name=name)


def make_geom(
    *,
    center=(0.0, 0.0),
    width=1.0,
    binsz=0.1,
    frame="icrs",
    proj="CAR",
    energy=(1.0, 10.0, 2),
    energy_true=(0.5, 20.0, 2),
    **kwargs,
) -> DatasetGeom:
    """A dataset geometry: ``SkyGeom.create(center, width, binsz, frame, proj)`` and the
    two energy axes (see `energy_axis`); ``kwargs`` go to `DatasetGeom.create`
    (``binsz_irf``, ``rad_edges``).

    The default: 10 x 10 pixels of 0.1 deg at (0, 0) ICRS, 2 reco-energy bins from 1 to
    10 TeV and 2 true-energy bins from 0.5 to 20 TeV.
    """
    sky = SkyGeom.create(center=center, width=width, binsz=binsz, frame=frame, proj=proj)
    return DatasetGeom.create(
        sky=sky,
        energy=energy_axis(energy, "energy"),
        energy_true=energy_axis(energy_true, "energy_true"),
        **kwargs,
    )


def _filled(value, shape, dtype=float) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=dtype), shape).copy()


def make_dataset(
    geom: DatasetGeom | None = None,
    *,
    counts=1.0,
    exposure=1.0,
    background=0.5,
    mask_safe=True,
    obs_id: int = 1,
    name: str | None = None,
    meta: dict | None = None,
    **kwargs,
) -> MapDataset:
    """A dataset on ``geom`` (default: ``make_geom()``).

    ``counts``, ``background`` and ``mask_safe`` (reco energy) and ``exposure`` (true
    energy) are values or arrays broadcast to the geometry's shapes (each array its own
    copy). ``name`` defaults to ``obs-<obs_id>``, ``meta`` to ``{"OBS_ID": obs_id,
    "LIVETIME": 100.0}``; ``kwargs`` go to `MapDataset` (``edisp``, ``psf``, ``gti``).
    """
    geom = make_geom() if geom is None else geom
    reco = (geom.energy.nbin, *geom.sky.shape)
    true = (geom.energy_true.nbin, *geom.sky.shape)
    return MapDataset(
        geom=geom,
        counts=_filled(counts, reco),
        exposure=_filled(exposure, true),
        background=_filled(background, reco),
        mask_safe=_filled(mask_safe, reco, bool),
        name=f"obs-{obs_id}" if name is None else name,
        meta={"OBS_ID": obs_id, "LIVETIME": 100.0} if meta is None else meta,
        **kwargs,
    )
