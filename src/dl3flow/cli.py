"""The ``dl3flow`` command: around the workflow, which itself runs with ``snakemake``::

    dl3flow --version
    dl3flow check-config config/examples/hess-dr1-crab.yaml [--data-store PATH] [--syntax-only]
    dl3flow observations ../shared/data/hess-dl3-dr1 [--config FILE ... --analysis NAME]
    dl3flow summary results [--no-report-hint]
    dl3flow provenance results/demo/stacked/dataset.fits [--json]

Errors are one line on stderr (exit status 1); output piped into a command that
stops reading (``| head``) ends quietly.
"""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["main"]


def _version(args) -> int:
    from dl3flow import __version__

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

    from dl3flow.config.analysis import check_data_store, check_exclusion_inputs
    from dl3flow.config.values import ConfigError
    from dl3flow.data.errors import DataStoreError
    from dl3flow.data.selection import SelectionError, select_observations
    from dl3flow.data.store import DataStore
    from dl3flow.workflow.support import DEMO_CATALOG, DEMO_DATA_STORE, DEMO_REGIONS, choose_center

    check_exclusion_inputs(cfg, produced=(DEMO_CATALOG, DEMO_REGIONS))
    if Path(cfg.data_store) == Path(DEMO_DATA_STORE) and not Path(cfg.data_store).exists():
        return "the demo data store (written by the workflow's simulation)"
    check_data_store(cfg)
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


def _read_config(args) -> dict:
    """The merged config files of ``args.configfile``, checked against the schema.

    Raises
    ------
    ConfigError
        For a missing file, invalid YAML (file:line) or a schema violation.
    """
    from dl3flow.config.check import check_config, find_schema, read_config_files

    config = read_config_files(args.configfile)
    if getattr(args, "data_store", None):
        config = {**config, "data_store": args.data_store}
    check_config(config, args.schema or find_schema())
    return config


def _check_config(args) -> int:
    from dl3flow.config.analysis import analysis_config, analysis_names

    config = _read_config(args)
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
    return 0


def _observation_analysis(args):
    """The analysis whose selection ``dl3flow observations`` applies (None without --config).

    Raises
    ------
    ConfigError
        For --analysis without --config, a config problem, or several analyses to
        choose from.
    """
    from dl3flow.config.analysis import analysis_config, analysis_names
    from dl3flow.config.values import ConfigError

    if not args.configfile:
        if args.analysis:
            raise ConfigError("--analysis needs --config (the files that define the analysis)")
        return None
    config = _read_config(args)
    name = args.analysis
    if name is None:
        names = analysis_names(config)
        if len(names) != 1:
            raise ConfigError(
                f"the config defines {len(names)} analyses ({', '.join(names)}); "
                "choose one with --analysis"
            )
        name = names[0]
    return analysis_config({**config, "data_store": args.store}, name)


def _observations(args) -> int:
    import numpy as np

    from dl3flow.data.selection import observations_overview, select_observations
    from dl3flow.data.store import DataStore
    from dl3flow.workflow.support import choose_center

    cfg = _observation_analysis(args)  # config problems first: no need to open the store
    store = DataStore.from_dir(args.store)
    selected = rejected = center = None
    if cfg is not None:
        kept, rejected = select_observations(store.obs_table, **cfg.selection.as_kwargs())
        selected = [int(i) for i in kept["OBS_ID"]]
        auto = choose_center(cfg, kept)
        center = auto.center if auto is not None else cfg.layout.sky.center_skydir
    table = observations_overview(
        store.obs_table, selected=selected, rejected=rejected, center=center
    )
    if cfg is None:
        print(
            f"{args.store}: {len(table)} observations; no selection (give --config and "
            "--analysis to apply one)"
        )
        del table["STATUS"], table["REASON"]
        if np.isfinite(table["OFFSET"]).any():
            table.rename_column("OFFSET", "OFFSET_OBJ")
        else:
            del table["OFFSET"]
    else:
        print(
            f"{args.store}: {len(selected)} of {len(table)} observations selected; selection "
            f"of analysis {cfg.name}; offset from the map centre"
        )
        if len(selected) == len(table):
            del table["REASON"]
    print("\n".join(table.pformat(max_lines=-1, max_width=-1)))
    return 0


def _summary(args) -> int:
    from dl3flow.config.values import ConfigError
    from dl3flow.workflow.summary import REPORT_COMMAND, analysis_dirs, format_summary, read_summary

    directories = analysis_dirs(args.results)
    if not directories:
        raise ConfigError(
            f"{args.results}: no analysis results (no observations.ecsv in it or in its "
            "subdirectories)"
        )
    summaries = [read_summary(directory) for directory in directories]
    print(format_summary(summaries, report_command=None if args.no_report_hint else REPORT_COMMAND))
    return 0


def _provenance(args) -> int:
    from dl3flow.io.provenance import ProvenanceError, format_provenance, read_provenance

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


def _add_config_options(command):
    """The --schema option of the subcommands that read config files."""
    command.add_argument(
        "--schema",
        help="JSON schema of the config (default: dl3flow's, src/dl3flow/config/schema.yaml)",
    )
    return command


def _add_check_config_parser(sub) -> None:
    """``dl3flow check-config``."""
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
    _add_config_options(check)
    check.set_defaults(func=_check_config)


def _add_observations_parser(sub) -> None:
    """``dl3flow observations``."""
    obs = sub.add_parser(
        "observations",
        help="list the observations of a data store (livetime, zenith, offset, object), "
        "with the selection of an analysis applied: selected first, then the rejected "
        "with the reasons",
    )
    obs.add_argument("store", help="data store directory (obs-index + hdu-index)")
    obs.add_argument(
        "--config",
        dest="configfile",
        nargs="+",
        default=[],
        metavar="FILE",
        help="config file(s) defining the analysis (its data_store is replaced by STORE)",
    )
    obs.add_argument("--analysis", help="the analysis whose selection to apply")
    _add_config_options(obs)
    obs.set_defaults(func=_observations)


def _add_summary_parser(sub) -> None:
    """``dl3flow summary``."""
    summ = sub.add_parser(
        "summary",
        help="what the analyses of a results directory found: observations used and "
        "rejected, livetime, peaks, off-source significance",
    )
    summ.add_argument("results", help="results directory (results/ or results/<analysis>)")
    summ.add_argument(
        "--no-report-hint", action="store_true", help="do not print the report command"
    )
    summ.set_defaults(func=_summary)


def _add_provenance_parser(sub) -> None:
    """``dl3flow provenance``."""
    prov = sub.add_parser(
        "provenance",
        help="print how a product was made (from its FITS header or .prov.json sidecar)",
    )
    prov.add_argument("path", nargs="+", help="product file(s) or .prov.json sidecar(s)")
    prov.add_argument("--json", action="store_true", help="print the record as JSON")
    prov.set_defaults(func=_provenance)


def _parser():
    from dl3flow import __version__

    parser = argparse.ArgumentParser(
        prog="dl3flow",
        description="Reduce IACT DL3 data to sky maps. Run the workflow with `snakemake`.",
    )
    parser.add_argument("--version", action="version", version=f"dl3flow {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("version", help="print the dl3flow version").set_defaults(func=_version)
    _add_check_config_parser(sub)
    _add_observations_parser(sub)
    _add_summary_parser(sub)
    _add_provenance_parser(sub)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``dl3flow`` command.

    Returns
    -------
    int
        0, or 1 after an error (one line on stderr: a config, data store or selection
        problem naming the key or file).
    """
    from dl3flow.config.values import ConfigError
    from dl3flow.data.errors import DataStoreError
    from dl3flow.data.selection import SelectionError

    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, DataStoreError, SelectionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # the reader stopped (e.g. `| head`): no traceback, and none at exit either
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
