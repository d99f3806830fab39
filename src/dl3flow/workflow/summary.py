"""What a finished analysis found, in a few lines: the end of a run and ``dl3flow summary``.

:func:`read_summary` collects, from the products of one analysis directory
(``results/<analysis>/``), the observations used and rejected (by the selection,
and during the analysis, with the reasons), their livetime, the highest
significance peaks and the off-source significance distribution;
:func:`format_summary` prints it. Nothing is recomputed: the numbers come from
``observations.ecsv``, ``tables/rejected_observations.ecsv``,
``tables/observation_warnings.ecsv``, ``tables/peaks.ecsv`` and the provenance
of ``plots/significance.png`` (the Gaussian fit of the pixels outside the exclusion
mask, recorded by the plot rule). A product that is missing or unreadable is
reported as such; reading never raises for one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "AnalysisSummary",
    "Peak",
    "read_summary",
    "format_summary",
    "analysis_dirs",
    "REPORT_COMMAND",
    "MAX_PEAKS",
    "MAX_LISTED",
    "summary_html",
]

#: How the HTML report is built after a run.
REPORT_COMMAND = "snakemake --report report.html"
#: Peaks listed per analysis (highest first).
MAX_PEAKS = 3
#: Rejected observations listed per kind (the tables hold all of them).
MAX_LISTED = 5
_SIGMA = "\N{GREEK SMALL LETTER SIGMA}"
_DEG = "\N{DEGREE SIGN}"


@dataclass(frozen=True)
class Peak:
    """A significance peak: name, significance (sigma), ICRS position (deg)."""

    name: str
    value: float
    ra: float
    dec: float


@dataclass(frozen=True)
class AnalysisSummary:
    """The key numbers of one analysis (None: the product is missing).

    Attributes
    ----------
    name : str
    directory : Path
    n_selected : int or None
        Observations the selection kept.
    rejected_by_selection : tuple of (int, str)
        Obs id and reason.
    rejected_in_analysis : tuple of str
        One line per observation left out during the analysis (stage and reason).
    livetime : float or None
        Livetime of the observations used (s).
    peaks : tuple of Peak or None
        The highest :data:`MAX_PEAKS` peaks.
    n_peaks : int or None
        All peaks above the threshold.
    peak_threshold : float or None
    off_source : tuple (mean, width, n) or None
        Gaussian fit of the significance outside the exclusion mask.
    warnings : tuple of str
        Per check, which observations got a warning about their data.
    problems : tuple of str
        Products that could not be read, and why.
    """

    name: str
    directory: Path
    n_selected: int | None = None
    rejected_by_selection: tuple = ()
    rejected_in_analysis: tuple = ()
    livetime: float | None = None
    peaks: tuple | None = None
    n_peaks: int | None = None
    peak_threshold: float | None = None
    off_source: tuple | None = None
    warnings: tuple = ()
    problems: tuple = ()

    @property
    def n_used(self) -> int | None:
        """Selected observations not rejected during the analysis."""
        if self.n_selected is None:
            return None
        return self.n_selected - len(self.rejected_in_analysis)


def analysis_dirs(results) -> list[Path]:
    """The analysis directories of ``results``: itself if it holds ``observations.ecsv``,
    else its subdirectories that do (sorted by name)."""
    results = Path(results)
    if (results / "observations.ecsv").is_file():
        return [results]
    if not results.is_dir():
        return []
    return sorted(p for p in results.iterdir() if (p / "observations.ecsv").is_file())


def _observations(directory: Path):
    from dl3flow.io.atomic import read_observations

    selected, rejected = read_observations(directory / "observations.ecsv")
    return selected, tuple((int(r["OBS_ID"]), str(r["REASON"])) for r in rejected)


def _livetime(selected, left_out: set) -> float | None:
    import numpy as np

    names = {c.upper(): c for c in selected.colnames}
    if "LIVETIME" not in names or "OBS_ID" not in names:
        return None
    used = [int(i) not in left_out for i in selected[names["OBS_ID"]]]
    column = selected[names["LIVETIME"]]
    values = column.quantity.to_value("s") if column.unit is not None else np.asarray(column)
    return float(np.sum(np.asarray(values, dtype=float)[used]))


def _peaks(directory: Path):
    from astropy.table import Table

    table = Table.read(directory / "tables" / "peaks.ecsv", format="ascii.ecsv")
    peaks = tuple(
        Peak(str(r["name"]), float(r["value"]), float(r["ra"]), float(r["dec"]))
        for r in table[:MAX_PEAKS]
    )
    threshold = table.meta.get("threshold")
    return peaks, len(table), float(threshold) if isinstance(threshold, int | float) else None


def _off_source(directory: Path):
    from dl3flow.io.provenance import read_provenance

    parameters = read_provenance(directory / "plots" / "significance.png").parameters
    return float(parameters["mean"]), float(parameters["width"]), int(parameters["n"])


def read_summary(directory, *, name: str | None = None) -> AnalysisSummary:
    """The :class:`AnalysisSummary` of an analysis directory (``results/<analysis>``).

    Parameters
    ----------
    directory : path
    name : str, optional
        Analysis name; default the directory name.

    Returns
    -------
    AnalysisSummary
        Fields whose product is missing stay None (an unreadable one is also listed
        in ``problems``).
    """
    from dl3flow.workflow.rejection import notes_summary, read_notes, read_rejections

    directory = Path(directory)
    fields: dict = {}
    problems = []

    def attempt(what, path, read):
        if not path.is_file():
            return None
        try:
            return read()
        except Exception as exc:  # the summary of a finished run must not fail
            problems.append(f"{what}: {exc}")
            return None

    observations = attempt(
        "observations", directory / "observations.ecsv", lambda: _observations(directory)
    )
    rejections = (
        attempt(
            "rejections",
            directory / "tables" / "rejected_observations.ecsv",
            lambda: read_rejections(directory / "tables" / "rejected_observations.ecsv"),
        )
        or []
    )
    fields["rejected_in_analysis"] = tuple(str(r) for r in rejections)
    if observations is not None:
        selected, fields["rejected_by_selection"] = observations
        fields["n_selected"] = len(selected)
        fields["livetime"] = _livetime(selected, {r.obs_id for r in rejections})
    peaks = attempt("peaks", directory / "tables" / "peaks.ecsv", lambda: _peaks(directory))
    if peaks is not None:
        fields["peaks"], fields["n_peaks"], fields["peak_threshold"] = peaks
    plot = directory / "plots" / "significance.png"
    fields["off_source"] = attempt(
        "off-source distribution", Path(str(plot) + ".prov.json"), lambda: _off_source(directory)
    )
    notes = attempt(
        "warnings",
        directory / "tables" / "observation_warnings.ecsv",
        lambda: read_notes(directory / "tables" / "observation_warnings.ecsv"),
    )
    if notes:
        fields["warnings"] = tuple(notes_summary(notes).splitlines())
    return AnalysisSummary(
        name=name or directory.name, directory=directory, problems=tuple(problems), **fields
    )


def _listed(items: list[str]) -> list[str]:
    shown = items[:MAX_LISTED]
    if len(items) > MAX_LISTED:
        shown.append(f"... and {len(items) - MAX_LISTED} more")
    return shown


def _observation_lines(s: AnalysisSummary, details: str) -> list[str]:
    if s.n_selected is None:
        return ["  observations: not selected yet (no observations.ecsv)"]
    n_rejected = len(s.rejected_by_selection) + len(s.rejected_in_analysis)
    livetime = f", livetime {s.livetime / 3600:.2f} h" if s.livetime is not None else ""
    if n_rejected == 0:
        return [f"  observations: all {s.n_used} selected were used, none rejected{livetime}"]
    lines = [f"  observations: {s.n_used} used{livetime}; {n_rejected} rejected:"]
    if s.rejected_by_selection:
        lines.append(f"    by the selection ({len(s.rejected_by_selection)}):")
        lines += [
            f"      obs {obs_id}: {reason}"
            for obs_id, reason in s.rejected_by_selection[:MAX_LISTED]
        ]
        if len(s.rejected_by_selection) > MAX_LISTED:
            lines.append(f"      ... and {len(s.rejected_by_selection) - MAX_LISTED} more")
    if s.rejected_in_analysis:
        lines.append(f"    during the analysis ({len(s.rejected_in_analysis)}; {details}):")
        lines += [
            f"      {text if len(text) <= 150 else text[:147] + '...'}"
            for text in _listed(list(s.rejected_in_analysis))
        ]
    return lines


def _peak_lines(s: AnalysisSummary) -> list[str]:
    if s.peaks is None:
        return []
    above = f" above {s.peak_threshold:g} {_SIGMA}" if s.peak_threshold is not None else ""
    if not s.peaks:
        return [f"  peaks: none{above}"]

    def describe(p):
        return f"{p.name} {p.value:.1f} {_SIGMA} at RA {p.ra:.3f}{_DEG}, Dec {p.dec:.3f}{_DEG}"

    if s.n_peaks == 1:
        return [f"  peaks{above}: {describe(s.peaks[0])}"]
    lines = [f"  peaks{above}: {s.n_peaks}, the highest:"]
    lines += [f"    {describe(p)}" for p in s.peaks]
    return lines


def format_summary(summaries: Iterable[AnalysisSummary], *, report_command=REPORT_COMMAND) -> str:
    """The summary of some analyses as text (a few lines each, then the report command).

    Parameters
    ----------
    summaries : iterable of AnalysisSummary
    report_command : str or None
        Printed at the end (None: not printed).
    """
    lines = []
    for s in summaries:
        details = f"{s.directory}/tables/rejected_observations.ecsv"
        lines.append(f"{s.name}: results in {s.directory}/")
        lines += _observation_lines(s, details)
        lines += _peak_lines(s)
        if s.off_source is not None:
            mean, width, n = s.off_source
            lines.append(
                f"  off-source significance: mean {mean:.2f}, width {width:.2f} "
                f"({n} pixels outside the exclusion mask; expected 0 and 1)"
            )
        if s.warnings:
            lines.append("  warnings about the data:")
            lines += [f"  {line}" for line in s.warnings]
        lines += [f"  could not read {problem}" for problem in s.problems]
    if lines and report_command:
        lines.append(
            f"HTML report: {report_command} (with this run's --configfile/--config options)"
        )
    return "\n".join(lines)


def _key_numbers(s: AnalysisSummary) -> list[tuple[str, str]]:
    rows = [("Results directory", f"{s.directory}/")]
    if s.n_selected is None:
        rows.append(("Observations", "not selected yet"))
    else:
        n_rejected = len(s.rejected_by_selection) + len(s.rejected_in_analysis)
        text = f"{s.n_used} used"
        text += (
            ", none rejected"
            if n_rejected == 0
            else f"; rejected: {len(s.rejected_by_selection)} by the selection, "
            f"{len(s.rejected_in_analysis)} during the analysis (see the observations table)"
        )
        rows.append(("Observations", text))
    if s.livetime is not None:
        rows.append(("Livetime", f"{s.livetime / 3600:.2f} h"))
    if s.peaks is not None:
        above = f" above {s.peak_threshold:g} {_SIGMA}" if s.peak_threshold is not None else ""
        if not s.peaks:
            rows.append((f"Peaks{above}", "none"))
        else:
            listed = "; ".join(
                f"{p.name}: {p.value:.1f} {_SIGMA} at RA {p.ra:.3f}{_DEG}, Dec {p.dec:.3f}{_DEG}"
                for p in s.peaks
            )
            more = f" (highest {len(s.peaks)} of {s.n_peaks})" if s.n_peaks > len(s.peaks) else ""
            rows.append((f"Peaks{above}{more}", listed))
    if s.off_source is not None:
        mean, width, n = s.off_source
        rows.append(
            (
                "Off-source significance",
                f"mean {mean:.3f}, width {width:.3f} ({n} pixels outside the exclusion mask; "
                "about 0 and 1 without unmasked sources and with a good background model)",
            )
        )
    if s.warnings:
        rows.append(("Warnings about the data", "; ".join(w.strip() for w in s.warnings)))
    rows += [("Could not read", problem) for problem in s.problems]
    return rows


def summary_html(summary: AnalysisSummary, *, image=None) -> str:
    """The front page of an analysis in the report: key numbers and the significance map.

    Parameters
    ----------
    summary : AnalysisSummary
    image : path, optional
        A PNG (the significance map) embedded in the page.

    Returns
    -------
    str
        A standalone HTML page.
    """
    import base64
    import html

    rows = "".join(
        f"<tr><th>{html.escape(key)}</th><td>{html.escape(value)}</td></tr>"
        for key, value in _key_numbers(summary)
    )
    style = (
        "body{font-family:sans-serif;font-size:14px;max-width:60em}"
        "table{border-collapse:collapse;margin-bottom:1em}"
        "th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}"
        "th{background:#eee;white-space:nowrap}img{max-width:100%}"
    )
    parts = [
        "<!DOCTYPE html>",
        f"<html><head><meta charset='utf-8'><title>{html.escape(summary.name)}</title>",
        f"<style>{style}</style></head><body>",
        f"<h2>{html.escape(summary.name)}: summary</h2>",
        f"<table>{rows}</table>",
    ]
    if image is not None:
        data = base64.b64encode(Path(image).read_bytes()).decode("ascii")
        parts.append(f"<img alt='significance map' src='data:image/png;base64,{data}'>")
    parts.append("</body></html>")
    return "\n".join(parts)
