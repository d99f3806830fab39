"""Glue between the Snakemake workflow and dl3flow: job set-up, provenance, run summary.

The workflow scripts (``scripts/*.py``) stay thin by calling three things from here:

:func:`script_job`
    ``with script_job(snakemake) as log:`` -- logging to the rule's log file
    (`dl3flow.io.atomic.script_logging`) after removing the temporary files that an
    interrupted earlier attempt of the same job may have left beside its outputs
    (every product is written atomically: a temporary file, then a rename; a job
    killed with SIGKILL cannot remove its temporary file, the next attempt does).
:func:`script_provenance`
    The `~dl3flow.io.provenance.Provenance` record of the job's products, built from
    the ``snakemake`` object: rule name, the config the job is given (its params, hashed),
    input files (checksums cached in :data:`CHECKSUM_CACHE`), observation ids and
    the rule's ``params``. FITS writers take it as ``provenance=``; tables and
    plots get a ``<product>.prov.json`` sidecar (``prov.to_sidecar(path)``).
:func:`run_summary`
    The few lines printed at the end of a run (the Snakefile's ``onsuccess``):
    which observations each analysis rejected, and why.

Nothing here imports Snakemake: ``snakemake`` is the object the ``script:``
directive injects (attributes ``rule``, ``input``, ``output``, ``params``,
``wildcards``, ``log``), and any object with those attributes works. A job's
config comes as its rule's ``params`` (the sections it uses, plain values; parsed by
the ``dl3flow.config`` ``parse_*`` functions), never from ``snakemake.config``.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from dl3flow.io.atomic import script_logging
from dl3flow.io.provenance import Provenance, sidecar_path

__all__ = [
    "BENCHMARKS",
    "CHECKSUM_CACHE",
    "PRODUCTS",
    "product_path",
    "DEMO_CATALOG",
    "DEMO_DATA_STORE",
    "DEMO_REGIONS",
    "REJECTIONS_TABLE",
    "job_obs_ids",
    "remove_stale_temporaries",
    "run_summary",
    "script_job",
    "script_provenance",
    "WARNINGS_TABLE",
    "auto_center_of",
    "auto_center_params",
    "choose_center",
    "job_geom",
    "observation_batches",
    "batch_observations",
    "BatchObservation",
    "matching_inputs",
    "write_batch_manifest",
]

#: The simulated demo data store and its source catalog and region file, written by
#: the workflow's ``simulate_data_store`` rule (relative to the workflow directory).
DEMO_DATA_STORE = "resources/demo-dl3"
DEMO_CATALOG = "resources/demo-sources.fits"
DEMO_REGIONS = "resources/demo-sources.reg"

#: Checksum cache of the input files (`dl3flow.io.provenance.file_checksum`), relative
#: to the workflow directory (the working directory of every job); ignored by git.
CHECKSUM_CACHE = "resources/checksums"

#: The workflow's products: name -> path (relative to the workflow directory), with
#: ``{analysis}``, per observation ``{obs_id}``, for plots and report pages ``{name}``
#: to fill in (:func:`product_path`). The one table of product paths: the rules bind
#: them (rules/paths.smk), and so can the scripts and the command line.
PRODUCTS = {
    # checkpoint select_observations: selected and rejected observations (and the
    # map centre of geom.center: auto)
    "observations": "results/{analysis}/observations.ecsv",
    # rule rejected_observations: observations rejected during the analysis, and
    # warnings about the data of the reduced ones (dl3flow.data.quality)
    "rejections": "results/{analysis}/tables/rejected_observations.ecsv",
    "warnings": "results/{analysis}/tables/observation_warnings.ecsv",
    # per observation (published from the batch jobs' directories)
    "obs_status": "results/{analysis}/obs/{obs_id}/status.json",
    "obs_dataset": "results/{analysis}/obs/{obs_id}/dataset.fits",
    "obs_safe_mask": "results/{analysis}/obs/{obs_id}/mask_safe.fits",
    "obs_bkg_dataset": "results/{analysis}/obs/{obs_id}/dataset_bkg.fits",
    "obs_bkg_status": "results/{analysis}/obs/{obs_id}/background_norm.ecsv",
    "obs_spectrum": "results/{analysis}/obs/{obs_id}/spectrum.fits",
    # a batch job's directory ({step}: reduce, safe_mask, background, spectrum)
    "batch": "results/{analysis}/batches/{step}/{batch}",
    # exclusion masks (rules/masks.smk); "exclusion" is the final one
    "exclusion_regions": "results/{analysis}/masks/exclusion_regions.fits",
    "exclusion_catalog": "results/{analysis}/masks/exclusion_catalog.fits",
    "exclusion_initial": "results/{analysis}/masks/exclusion_initial.fits",
    "exclusion_significance": "results/{analysis}/masks/exclusion_significance.fits",
    "exclusion": "results/{analysis}/masks/exclusion.fits",
    # first pass (analyses with exclusion.significance)
    "initial_dataset": "results/{analysis}/stacked/initial/dataset.fits",
    "initial_norms": "results/{analysis}/stacked/initial/background_norms.ecsv",
    "initial_maps": "results/{analysis}/stacked/initial/maps.fits",
    # stacked dataset, ring background, maps
    "stacked_dataset": "results/{analysis}/stacked/dataset.fits",
    "ring_dataset": "results/{analysis}/stacked/ring.fits",
    "maps": "results/{analysis}/stacked/maps.fits",
    "maps_bands": "results/{analysis}/stacked/maps_bands.fits",
    "maps_ring": "results/{analysis}/stacked/maps_ring.fits",
    # tables
    "safe_energy_table": "results/{analysis}/tables/safe_energy.ecsv",
    "background_norms_table": "results/{analysis}/tables/background_norms.ecsv",
    "peaks_table": "results/{analysis}/tables/peaks.ecsv",
    "spectrum_table": "results/{analysis}/tables/spectrum_runs.ecsv",
    # 1D spectrum; OGIP files: {suffix} "", "_arf", "_rmf", "_bkg"
    "stacked_spectrum": "results/{analysis}/spectrum/stacked.fits",
    "ogip_spectrum": "results/{analysis}/spectrum/ogip/stacked{suffix}.fits",
    # plots and the report's pages
    "plot": "results/{analysis}/plots/{name}.png",
    "report_page": "results/{analysis}/report/{name}.html",
}

#: Rejected observations of an analysis (written by the workflow's
#: ``rejected_observations`` rule), ``{analysis}`` to fill in.
REJECTIONS_TABLE = PRODUCTS["rejections"]
#: Warnings about the data of the reduced observations (``dl3flow.data.quality``).
WARNINGS_TABLE = PRODUCTS["warnings"]

#: Snakemake's benchmark TSVs of the jobs (``benchmark:``), beside their logs:
#: ``logs/benchmarks/{analysis}/{rule}[/{batch}].tsv``.
BENCHMARKS = "logs/benchmarks"


def product_path(product: str, /, **values) -> str:
    """The path of ``product`` (a key of :data:`PRODUCTS`), the ``values`` given filled in.

    Placeholders not given stay (as Snakemake wildcards): ``product_path("plot",
    name="counts")`` is ``results/{analysis}/plots/counts.png``.

    Raises
    ------
    KeyError
        For a name that is not a product, or a value for a placeholder it does not have.
    """
    path = PRODUCTS[product]
    for key, value in values.items():
        placeholder = "{" + key + "}"
        if placeholder not in path:
            raise KeyError(f"product {product} ({path}) has no {placeholder}")
        path = path.replace(placeholder, str(value))
    return path


log = logging.getLogger(__name__)


def _files(items) -> list[str]:
    """Flatten a Snakemake ``input``/``output`` (nested lists of paths) to strings."""
    out = []
    for item in items if not isinstance(items, str | os.PathLike) else [items]:
        if isinstance(item, str | os.PathLike):
            out.append(os.fspath(item))
        else:
            out.extend(_files(item))
    return out


def _wildcard(snakemake, name: str):
    wildcards = getattr(snakemake, "wildcards", None)
    if wildcards is None:
        return None
    if isinstance(wildcards, Mapping):
        return wildcards.get(name)
    return getattr(wildcards, name, None)


def job_obs_ids(snakemake) -> list[int]:
    """Observation ids of a job: its ``obs_id`` wildcard, else its ``obs_ids`` param.

    The rules give a job that reads per-observation products the observations as
    ``params.obs_ids`` (a batch job its batch's, a table or stacking job the
    selected ones); they are not parsed from the input paths. Empty for neither.
    """
    obs_id = _wildcard(snakemake, "obs_id")
    if obs_id is not None:
        return [int(obs_id)]
    return sorted({int(obs_id) for obs_id in _params(snakemake).get("obs_ids") or ()})


def _params(snakemake) -> dict:
    params = getattr(snakemake, "params", None)
    if params is None:
        return {}
    if isinstance(params, Mapping):
        return dict(params)
    return {str(key): value for key, value in params.items()}


_DEFAULT = object()


def script_provenance(
    snakemake,
    *,
    inputs: Iterable | None = None,
    obs_ids: Iterable[int] | None = None,
    parameters: Mapping | None = None,
    config_section=_DEFAULT,
    checksum_cache=CHECKSUM_CACHE,
) -> Provenance:
    """The provenance record of a workflow job's products.

    Parameters
    ----------
    snakemake
        The object injected by Snakemake's ``script:`` directive.
    inputs : iterable of paths, optional
        Input files to record (and hash); default: every file of ``snakemake.input``.
    obs_ids : iterable of int, optional
        Default: :func:`job_obs_ids` (the ``obs_id`` wildcard, or the rule's
        ``obs_ids`` param).
    parameters : dict, optional
        Added to the rule's ``params`` (which are recorded as given).
    config_section : dict or None, optional
        Config to hash; default: the rule's ``params`` but ``obs_ids`` (the config
        sections the job is given, and uses), None if there are none.
    checksum_cache : path or None
        Directory of the input-checksum cache (None: no cache).

    Returns
    -------
    `~dl3flow.io.provenance.Provenance`
    """
    analysis = _wildcard(snakemake, "analysis")
    if config_section is _DEFAULT:
        given = {k: v for k, v in _params(snakemake).items() if k != "obs_ids"}
        config_section = given or None
    inputs = _files(snakemake.input) if inputs is None else _files(list(inputs))
    if obs_ids is None:
        obs_ids = job_obs_ids(snakemake)
    return Provenance.create(
        rule=str(snakemake.rule),
        config_section=config_section,
        inputs=list(dict.fromkeys(inputs)),  # once each, in order
        obs_ids=obs_ids,
        parameters={**_params(snakemake), **dict(parameters or {})},
        analysis=None if analysis is None else str(analysis),
        checksum_cache=checksum_cache,
    )


def observation_batches(obs_ids: Iterable[int], *, max_per_job: int) -> list[list[int]]:
    """Split observations into the batches of the per-observation jobs.

    ``ceil(n / max_per_job)`` batches of consecutive observations (in the order
    given), as equal in size as they can be (the first ones one larger). The split
    depends only on the observations and ``max_per_job``, never on the cores of a
    run, so that a run resumed with other ``--cores`` finds its batches done.

    Parameters
    ----------
    obs_ids : iterable of int
        The selected observations, in the order of the selection table.
    max_per_job : int
        At most this many observations per job (>= 1).

    Returns
    -------
    list of list of int
        Empty for no observations.

    Raises
    ------
    ValueError
        If ``max_per_job`` < 1.
    """
    if max_per_job < 1:
        raise ValueError(f"observations per job must be >= 1, got {max_per_job}")
    obs_ids = [int(obs_id) for obs_id in obs_ids]
    n_batches = -(-len(obs_ids) // max_per_job)
    if n_batches == 0:
        return []
    size, extra = divmod(len(obs_ids), n_batches)
    batches, start = [], 0
    for index in range(n_batches):
        stop = start + size + (index < extra)
        batches.append(obs_ids[start:stop])
        start = stop
    return batches


@dataclass(frozen=True)
class BatchObservation:
    """One observation of a batch job: its id, its output directory and its inputs.

    Attributes
    ----------
    obs_id : int
    directory : `~pathlib.Path`
        ``<batch output directory>/<obs_id>``: where the job writes its products
        (published to ``results/<analysis>/obs/<obs_id>/`` by the per-observation
        rules).
    inputs : dict
        Input name -> this observation's path(s) of that input (lists of the batch
        are aligned with ``params.obs_ids``; other inputs are shared).
    """

    obs_id: int
    directory: Path
    inputs: dict

    def provenance(
        self, snakemake, *, inputs: Iterable | None = None, parameters: Mapping | None = None
    ) -> Provenance:
        """The provenance of this observation's products (its inputs, its obs id).

        ``parameters`` are recorded besides (over) the rule's params, e.g. the parsed
        options of a params section.
        """
        if inputs is None:
            inputs = _files(list(self.inputs.values()))
        return script_provenance(
            snakemake,
            inputs=inputs,
            obs_ids=[self.obs_id],
            parameters={**dict(parameters or {}), "obs_ids": [self.obs_id]},
        )


def batch_observations(snakemake, *, per_observation: Iterable[str] = ()):
    """The observations of a batch job, one `BatchObservation` each, in order.

    The job's ``params.obs_ids`` lists the observations; its ``output.batch`` is the
    batch directory. Inputs named in ``per_observation`` are lists aligned with
    ``obs_ids`` (one path per observation); every other named input is shared.

    Raises
    ------
    ValueError
        If a per-observation input does not have one path per observation.
    """
    obs_ids = [int(obs_id) for obs_id in _params(snakemake)["obs_ids"]]
    directory = Path(os.fspath(snakemake.output.batch))
    named = {str(key): value for key, value in snakemake.input.items()}
    for name in per_observation:
        if len(_files(named[name])) != len(obs_ids):
            raise ValueError(
                f"rule {snakemake.rule}: input {name!r} has {len(_files(named[name]))} "
                f"paths for {len(obs_ids)} observations"
            )
    out = []
    for index, obs_id in enumerate(obs_ids):
        inputs = {
            name: (_files(value)[index] if name in per_observation else value)
            for name, value in named.items()
        }
        out.append(BatchObservation(obs_id, directory / str(obs_id), inputs))
    return out


def write_batch_manifest(snakemake, observations: Iterable[BatchObservation]) -> Path:
    """Write a batch job's manifest (its ``output.manifest``), last: the job is complete.

    The manifest (JSON: rule, batch, observation ids) is a declared output beside the
    batch directory, and an input of the rules that publish the batch. A batch job
    killed before it has none, so Snakemake runs it again (the directory alone is not
    enough: Snakemake re-runs a job for the missing outputs that are asked for, and
    a killed job's directory exists).
    """
    import json

    from dl3flow.io.atomic import atomic_write

    content = {
        "rule": str(snakemake.rule),
        "batch": str(_wildcard(snakemake, "batch")),
        "obs_ids": [obs.obs_id for obs in observations],
    }
    path = Path(os.fspath(snakemake.output.manifest))
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(content) + "\n"), overwrite=True)
    return path


def matching_inputs(files: Iterable, inputs: Iterable) -> list[str]:
    """The job inputs that name one of ``files`` (as the job got them, in their order).

    A batch job's inputs hold the files of all its observations, named as the
    workflow names them (relative, unresolved); this picks one observation's, by the
    file each path resolves to. Files that are not inputs (missing ones) are left out.
    """
    wanted = {os.path.realpath(path) for path in files}
    return [path for path in _files(list(inputs)) if os.path.realpath(path) in wanted]


def remove_stale_temporaries(paths: Iterable) -> list[Path]:
    """Remove temporary files left by interrupted atomic writes of ``paths``.

    `dl3flow.io.atomic.atomic_path` writes ``<dir>/.<name>.<random>.tmp<suffixes>`` and
    renames it to ``<dir>/<name>``; a process killed in between leaves the
    temporary file. Only call this for targets that no other running process
    writes (a job's own outputs). The outputs themselves are never touched.

    Returns
    -------
    list of `~pathlib.Path`
        The files removed.
    """
    removed = []
    for path in paths:
        path = Path(path)
        pattern = str(path.parent / f".{glob.escape(path.name)}.*.tmp*")
        for name in sorted(glob.glob(pattern)):
            with contextlib.suppress(FileNotFoundError):
                Path(name).unlink()
                removed.append(Path(name))
    return removed


@contextlib.contextmanager
def script_job(snakemake, *, extra_outputs: Iterable = ()) -> Iterator[logging.Logger]:
    """Set up a workflow script: clean up after an interrupted attempt, then log.

    Removes the temporary files of earlier, interrupted writes of the job's
    outputs, of ``extra_outputs`` (files a job writes besides its declared
    outputs) and of their provenance sidecars, then enters
    `dl3flow.io.atomic.script_logging` on the rule's log file.

    Yields
    ------
    logging.Logger
    """
    targets = [*_files(snakemake.output), *_files(list(extra_outputs))]
    targets += [sidecar_path(path) for path in targets]
    removed = remove_stale_temporaries(targets)
    with script_logging(getattr(snakemake, "log", None)) as logger:
        for path in removed:
            logger.warning("removed %s, left by an interrupted earlier attempt", path)
        yield logger


def choose_center(cfg, selected):
    """The automatic map centre of an analysis with ``geom.center: auto``.

    Parameters
    ----------
    cfg : `dl3flow.config.model.AnalysisConfig`
    selected : `~astropy.table.Table`
        The selected observations (RA_PNT, DEC_PNT).

    Returns
    -------
    `dl3flow.data.selection.AutoCenter` or None
        None if the analysis has a fixed centre.
    """
    return auto_center_of(selected, auto_center_params(cfg))


def auto_center_params(cfg) -> dict | None:
    """``geom.center: auto``'s options as plain values (the selection job's param).

    Returns
    -------
    dict or None
        ``{"frame": <the map's frame>, "max_separation": <deg>}``; None for a fixed centre.
    """
    if cfg.auto_center is None:
        return None
    return {
        "frame": cfg.layout.sky.frame,
        "max_separation": float(cfg.auto_center.max_separation.to_value("deg")),
    }


def auto_center_of(selected, params: Mapping | None):
    """The centre chosen from the selected pointings (None for ``params`` None).

    Parameters
    ----------
    selected : `~astropy.table.Table`
        The selected observations (RA_PNT, DEC_PNT).
    params : dict or None
        :func:`auto_center_params`.

    Returns
    -------
    `dl3flow.data.selection.AutoCenter` or None
    """
    from dl3flow.data.selection import auto_center

    if params is None:
        return None
    return auto_center(
        selected, frame=params["frame"], max_separation=float(params["max_separation"])
    )


def job_geom(snakemake, section):
    """The geometry of a job's ``geom`` param (``section``), placed on the sky.

    With ``geom.center: auto`` the centre comes from the selection's table, which
    the rule gives as ``input.observations`` (rules/common.smk ``geometry_inputs``).

    Parameters
    ----------
    snakemake
        The job (its ``wildcards.analysis``, ``rule`` and ``input``).
    section : dict
        The analysis' ``geom`` section (`dl3flow.config.analysis.analysis_sections`).

    Returns
    -------
    `~dl3flow.maps.geom.DatasetGeom`

    Raises
    ------
    ConfigError
        For a bad section (naming its key), or if the centre is auto and the rule
        has no ``observations`` input.
    """
    from dl3flow.config.geometry import is_auto_center, parse_geom, place_geom
    from dl3flow.config.values import ConfigError
    from dl3flow.io.atomic import read_geom_center

    name = str(_wildcard(snakemake, "analysis"))
    layout = parse_geom(name, section)
    if not is_auto_center(section):
        return layout
    observations = getattr(snakemake.input, "observations", None)
    if not observations:
        raise ConfigError(
            f"analyses.{name}.geom.center: auto, but rule {snakemake.rule} has no "
            "'observations' input to read the chosen centre from"
        )
    return place_geom(layout, read_geom_center(observations))


def run_summary(analyses: Iterable[str], *, workdir=".") -> str:
    """The end-of-run summary of the analyses that have results (the Snakefile's ``onsuccess``).

    Per analysis (`dl3flow.workflow.summary`): its results directory, the observations used and
    rejected (with the reasons, when there are some), their livetime, the highest
    significance peaks and the off-source significance distribution; then the command
    that builds the HTML report. Analyses without ``results/<analysis>/observations.ecsv``
    (not run) are left out; empty if none has results.
    """
    from dl3flow.workflow.summary import format_summary, read_summary

    summaries = []
    for analysis in analyses:
        directory = Path(workdir) / "results" / analysis
        if (directory / "observations.ecsv").is_file():
            summaries.append(read_summary(directory, name=analysis))
    return format_summary(summaries)
