"""The synthetic GADF DL3 data store of the embedded demo, deterministic from a seed.

The names below are imported from their module on first use (`dl3flow._lazy`):
importing this package imports none of its modules.
"""

from dl3flow._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "core": [
            "SIMULATION_FORMAT_VERSION",
            "ObservationPlan",
            "SimulatedObservation",
            "SimulationConfig",
            "SimulationConfigError",
            "SourceSpec",
            "default_demo_sky",
            "plan_observations",
            "remove_stale_store_temporaries",
            "simulate_observation",
            "simulation_config_from_dict",
            "write_data_store",
            "write_region_file",
            "write_source_catalog",
        ],
    },
)
