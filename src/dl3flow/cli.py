"""The ``dl3flow`` command: package version and a config check.

The workflow itself runs with ``snakemake``; this command helps around it::

    dl3flow version
    dl3flow check-config config/examples/hess-dr1-crab.yaml [--data-store PATH] [--syntax-only]
    dl3flow provenance results/demo/stacked/dataset.fits [--json]
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _update(config: dict, other: dict) -> None:
    """Recursive dict update, as Snakemake merges config files."""
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            _update(config[key], value)
        else:
            config[key] = value


def _version(args) -> int:
    from . import __version__

    print(__version__)
    return 0


def _check_files(cfg) -> str:
    """Check an analysis' input files; return what its selection would keep.

    Paths are relative to the working directory (the workflow directory, as in a
    run). The demo's data store, catalog and region file are written by the
    workflow, so they are not required to exist yet.

    Raises
    ------
    ConfigError
        Naming the key (exclusion files) or the data store.
    """
    from pathlib import Path

    from .config import ConfigError, check_exclusion_inputs
    from .datastore import DataStore, DataStoreError
    from .selection import SelectionError, select_observations
    from .workflow_support import DEMO_CATALOG, DEMO_DATA_STORE, DEMO_REGIONS, choose_center

    check_exclusion_inputs(cfg, produced=(DEMO_CATALOG, DEMO_REGIONS))
    if Path(cfg.data_store) == Path(DEMO_DATA_STORE) and not Path(cfg.data_store).exists():
        return "the demo data store (written by the workflow's simulation)"
    try:
        store = DataStore.from_dir(cfg.data_store)
        selected, rejected = select_observations(store.obs_table, **cfg.selection.as_kwargs())
        center = choose_center(cfg, selected)
    except (DataStoreError, SelectionError) as exc:
        raise ConfigError(f"analyses.{cfg.name}: {exc}") from None
    text = f"{len(selected)} of {len(selected) + len(rejected)} observations selected"
    if center is not None:
        text += f"; geom.center auto: {center.describe()}"
    return text


def _check_config(args) -> int:
    import yaml

    from .config import ConfigError, analysis_config, analysis_names, check_top_level_keys

    config = {}
    for path in args.configfile:
        with open(path) as fh:
            _update(config, yaml.safe_load(fh) or {})
    if args.data_store:
        config["data_store"] = args.data_store
    try:
        check_top_level_keys(config)
        for name in analysis_names(config):
            cfg = analysis_config(config, name)
            sky, energy = cfg.layout.sky, cfg.layout.energy
            print(
                f"{name}: data store {cfg.data_store}; map {sky.shape[1]}x{sky.shape[0]} px of "
                f"{sky.binsz[0]:g} deg ({sky.frame}, {sky.projection}"
                f"{', centre auto' if cfg.auto_center is not None else ''}); "
                f"energy {energy.edges[0]:g}-{energy.edges[-1]:g} TeV "
                f"({energy.nbin} bins); offset_max {cfg.offset_max}"
            )
            if not args.syntax_only:
                print(f"{name}: {_check_files(cfg)}")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _provenance(args) -> int:
    from .provenance import ProvenanceError, format_provenance, read_provenance

    status = 0
    for path in args.path:
        try:
            record = read_provenance(path)
        except ProvenanceError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 1
            continue
        if args.json:
            print(record.to_json(indent=1))
        else:
            print(format_provenance(record, title=path))
    return status


def main(argv=None) -> int:
    """Entry point of the ``dl3flow`` command."""
    parser = argparse.ArgumentParser(
        prog="dl3flow",
        description="Reduce IACT DL3 data to sky maps. Run the workflow with `snakemake`.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("version", help="print the dl3flow version").set_defaults(func=_version)
    check = sub.add_parser(
        "check-config",
        help="parse the analyses of config files (later files update earlier ones, "
        "as with snakemake --configfile) and print a summary",
    )
    check.add_argument("configfile", nargs="+", help="YAML config file(s)")
    check.add_argument("--data-store", help="override the top-level data_store")
    check.add_argument(
        "--syntax-only",
        action="store_true",
        help="parse the config only: do not open the data store, catalogs or region files",
    )
    check.set_defaults(func=_check_config)
    prov = sub.add_parser(
        "provenance",
        help="print how a product was made (from its FITS header or .prov.json sidecar)",
    )
    prov.add_argument("path", nargs="+", help="product file(s) or .prov.json sidecar(s)")
    prov.add_argument("--json", action="store_true", help="print the record as JSON")
    prov.set_defaults(func=_provenance)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
