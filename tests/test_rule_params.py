"""Each workflow script reads only what its rule gives it (issue 16, item 3).

A job's config is its rule's ``params`` (the sections it uses, plain values, parsed by
``dl3flow.config``'s ``parse_<section>``), and those params are what re-runs it. So a
script must not read ``snakemake.config`` nor parse the whole config
(``analysis_config``, the former ``job_config``), and every ``snakemake.params.X``
it reads must be a param of its rule; a param the script never reads must be a
declared re-run trigger (:data:`TRIGGER_ONLY`).

The rules are read from ``rules/*.smk`` (snakefmt's layout: directives indented 4
spaces, params 8), the scripts as Python ASTs. No Snakemake run.
"""

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: Params that only re-run a job, and why (its script does not read them).
TRIGGER_ONLY = {
    # the overlay captions (dl3flow.plotting.text) the plotting code draws: a change of
    # the text re-runs the plots that show it
    "overlays",
}

#: Params read for the script by a dl3flow.workflow.support helper it calls: always,
#: and if the rule gives them (script_provenance records the observations given).
HELPER_PARAMS = {"batch_observations": {"obs_ids"}}
OPTIONAL_HELPER_PARAMS = {"script_provenance": {"obs_ids"}}

#: Whole-config readers a script must not call.
FORBIDDEN_CALLS = {"analysis_config", "job_config", "analysis_sections"}

_RULE = re.compile(r"^(?:rule|checkpoint) (\w+):\s*$")
_USE = re.compile(r"^use rule (\w+) as (\w+) with:\s*$")
_DIRECTIVE = re.compile(r"^    (\w+):")
_PARAM = re.compile(r"^        (\w+)=")


def rule_table(text: str) -> dict[str, dict]:
    """Rule name -> {"script": path or None, "params": set of names} of a .smk text.

    ``use rule A as B with:`` inherits A's script and params, and replaces the
    params if it gives some (as Snakemake does).
    """
    rules, uses, current, directive = {}, [], None, None
    for line in text.splitlines():
        if match := _RULE.match(line):
            current = rules.setdefault(match[1], {"script": None, "params": None})
            directive = None
        elif match := _USE.match(line):
            current = {"script": None, "params": None}
            uses.append((match[1], match[2], current))
            directive = None
        elif line and not line.startswith(" "):
            current = directive = None
        elif current is not None and (match := _DIRECTIVE.match(line)):
            directive = match[1]
            if directive == "params":
                current["params"] = set()
        elif current is not None and directive == "params" and (match := _PARAM.match(line)):
            current["params"].add(match[1])
        elif current is not None and directive == "script" and line.strip():
            current["script"] = line.strip().strip("\"'")
    for parent, name, own in uses:
        base = rules[parent]
        rules[name] = {
            "script": own["script"] or base["script"],
            "params": own["params"] if own["params"] is not None else base["params"],
        }
    return {name: {**r, "params": r["params"] or set()} for name, r in rules.items()}


def workflow_rules() -> dict[str, dict]:
    rules = {}
    for path in sorted((REPO / "rules").glob("*.smk")):
        table = rule_table(path.read_text())
        for rule in table.values():
            if rule["script"]:
                rule["script"] = (path.parent / rule["script"]).resolve()
        rules.update(table)
    return rules


def _is_snakemake(node, attr: str) -> bool:
    """``snakemake.<attr>``."""
    return (
        isinstance(node, ast.Attribute)
        and node.attr == attr
        and isinstance(node.value, ast.Name)
        and node.value.id == "snakemake"
    )


def script_reads(source: str) -> tuple[set[str], set[str], list[str]]:
    """The params a script reads, those it may read, and its problems (config reads,
    params used as a whole)."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    problems, aliases = [], set()
    # aliases: `params = snakemake.params`, also in tuple assignments
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            pairs = []
            for target in node.targets:
                if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    pairs += zip(target.elts, node.value.elts, strict=False)
                else:
                    pairs.append((target, node.value))
            for target, value in pairs:
                if _is_snakemake(value, "params") and isinstance(target, ast.Name):
                    aliases.add(target.id)

    def is_params(node):
        return _is_snakemake(node, "params") or (isinstance(node, ast.Name) and node.id in aliases)

    reads, optional = set(), set()
    for node in ast.walk(tree):
        if _is_snakemake(node, "config"):
            problems.append(f"line {node.lineno}: reads snakemake.config")
        if isinstance(node, ast.Name) and node.id in FORBIDDEN_CALLS:
            problems.append(f"line {node.lineno}: uses {node.id} (the whole config)")
        if isinstance(node, ast.alias) and node.name in FORBIDDEN_CALLS:
            problems.append(f"imports {node.name} (the whole config)")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            reads |= HELPER_PARAMS.get(node.func.id, set())
            optional |= OPTIONAL_HELPER_PARAMS.get(node.func.id, set())
        if not is_params(node):
            continue
        parent = parents.get(node)
        if (
            isinstance(parent, ast.Assign)
            and node is parent.value
            or (isinstance(parent, ast.Tuple) and isinstance(parents.get(parent), ast.Assign))
        ):
            continue  # the alias itself
        if isinstance(parent, ast.Attribute) and parent.attr not in ("get", "items", "keys"):
            reads.add(parent.attr)
        elif (
            isinstance(parent, ast.Attribute)
            and parent.attr == "get"
            and isinstance(call := parents.get(parent), ast.Call)
            and call.args
            and isinstance(call.args[0], ast.Constant)
        ):
            reads.add(call.args[0].value)
        elif isinstance(parent, ast.Subscript) and isinstance(parent.slice, ast.Constant):
            reads.add(parent.slice.value)
        elif isinstance(node, ast.Name) and isinstance(parent, ast.Assign):
            continue
        else:
            problems.append(
                f"line {node.lineno}: uses the params as a whole (read them by name, "
                "so that this test sees which)"
            )
    return reads, optional, problems


def rule_problems(name: str, rule: dict, source: str) -> list[str]:
    """Why a rule and its script do not agree on the params (empty: they do)."""
    reads, optional, problems = script_reads(source)
    problems = [f"rule {name}: {p}" for p in problems]
    for param in sorted(reads - rule["params"]):
        problems.append(f"rule {name}: its script reads params.{param}, which it does not give")
    for param in sorted(rule["params"] - reads - optional - TRIGGER_ONLY):
        problems.append(
            f"rule {name}: gives params.{param}, which its script does not read "
            "(a re-run trigger only: add it to TRIGGER_ONLY, with the reason)"
        )
    return problems


RULES = {name: rule for name, rule in workflow_rules().items() if rule["script"]}


def test_the_rules_are_found():
    assert {"reduce_observations", "plot_safe_energy", "excess_maps_bands"} <= set(RULES)
    assert RULES["plot_exclusion_significance"]["script"].name == "plot_exclusion.py"
    assert {"geom", "maps", "per_band"} <= RULES["excess_maps_bands"]["params"]
    assert all(rule["script"].is_file() for rule in RULES.values())


@pytest.mark.parametrize("name", sorted(RULES))
def test_script_reads_only_what_its_rule_gives(name):
    rule = RULES[name]
    assert rule_problems(name, rule, rule["script"].read_text()) == []


def test_workflow_support_does_not_read_the_config():
    """The helpers the scripts give ``snakemake`` to read no config either."""
    tree = ast.parse((REPO / "src/dl3flow/workflow/support.py").read_text())
    for node in ast.walk(tree):
        assert not (isinstance(node, ast.Attribute) and node.attr == "config"), node.lineno
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "getattr":
            assert not any(
                isinstance(a, ast.Constant) and a.value == "config" for a in node.args
            ), node.lineno


SYNTHETIC_RULES = """
rule plot_thing:
    input:
        "a.fits",
    params:
        plots=section("plots"),
        overlays=figure_overlays(),
    script:
        "../scripts/plot_thing.py"


use rule plot_thing as plot_other with:
    output:
        "b.png",


use rule plot_thing as plot_third with:
    params:
        geom=section("geom"),
"""

GOOD_SCRIPT = """
from dl3flow.config.sections import parse_plots
name, params = snakemake.wildcards.analysis, snakemake.params
plots = parse_plots(name, params.plots, geom=None)
"""


@pytest.mark.parametrize(
    ("script", "rule", "problems"),
    [
        (GOOD_SCRIPT, "plot_thing", []),
        (GOOD_SCRIPT, "plot_other", []),  # inherits the params
        (
            GOOD_SCRIPT,  # its params replaced: no plots
            "plot_third",
            [
                "rule plot_third: its script reads params.plots, which it does not give",
                "rule plot_third: gives params.geom, which its script does not read "
                "(a re-run trigger only: add it to TRIGGER_ONLY, with the reason)",
            ],
        ),
        (
            "cfg = analysis_config(snakemake.config, snakemake.wildcards.analysis)\n"
            "x = snakemake.params.plots",
            "plot_thing",
            [
                "rule plot_thing: line 1: reads snakemake.config",
                "rule plot_thing: line 1: uses analysis_config (the whole config)",
            ],
        ),
        (
            "from dl3flow.workflow.support import job_config\n"
            "x = snakemake.params['plots'], snakemake.params.get('geom')",
            "plot_thing",
            [
                "rule plot_thing: imports job_config (the whole config)",
                "rule plot_thing: its script reads params.geom, which it does not give",
            ],
        ),
        (
            "p = snakemake.params\nuse(p)\nx = p.plots",
            "plot_thing",
            [
                "rule plot_thing: line 2: uses the params as a whole (read them by name, "
                "so that this test sees which)"
            ],
        ),
    ],
)
def test_the_check_fails_for_a_script_that_reads_what_it_is_not_given(script, rule, problems):
    rules = rule_table(SYNTHETIC_RULES)
    assert rules[rule]["script"] == "../scripts/plot_thing.py"
    assert sorted(rule_problems(rule, rules[rule], script)) == sorted(problems)
