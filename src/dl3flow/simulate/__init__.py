"""The synthetic GADF DL3 data store of the embedded demo, deterministic from a seed.

The names below are imported from their module on first use (`dl3flow._lazy`):
importing this package imports none of its modules.
"""

from dl3flow._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "config": [
            "SimulationConfig",
            "SimulationConfigError",
            "SourceSpec",
            "default_demo_sky",
            "simulation_config_from_dict",
        ],
        "plan": ["ObservationPlan", "plan_observations"],
        "events": ["SimulatedObservation", "simulate_observation"],
        "store": [
            "SIMULATION_FORMAT_VERSION",
            "remove_stale_store_temporaries",
            "write_data_store",
        ],
        "catalog": ["write_region_file", "write_source_catalog"],
    },
)
