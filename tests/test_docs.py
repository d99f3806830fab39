"""The documentation's links resolve and the README stays short (issue 16, item 6).

The README is the entry point (what dl3flow is, quick start, one example, an index of
docs/ pages); everything else lives in docs/*.md. A page renamed or a heading reworded
would silently break links on GitHub, so every relative link in README.md and
docs/*.md must name an existing file and, if it has an anchor, an existing heading of
that file (GitHub's heading ids).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 160

# [text](target) or ![alt](target), target without spaces, optional "title"
_INLINE_LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
# [label]: target
_REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _prose_lines(text: str):
    """(line number, line) outside fenced code blocks, with inline code removed."""
    fence = None
    for number, line in enumerate(text.splitlines(), start=1):
        match = _FENCE.match(line)
        if match:
            marker = match.group(1)
            if fence is None:
                fence = marker
                continue
            if marker[0] == fence[0] and len(marker) >= len(fence):
                fence = None
                continue
        if fence is not None:
            continue
        yield number, re.sub(r"(`+).*?\1", "", line)


def _heading_ids(text: str) -> set[str]:
    """GitHub's ids of the headings of a Markdown text (duplicates get -1, -2, ...)."""
    ids: set[str] = set()
    seen: dict[str, int] = {}
    fence = None
    for line in text.splitlines():
        match = _FENCE.match(line)
        if match:
            marker = match.group(1)
            if fence is None:
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence):
                fence = None
            continue
        if fence is not None:
            continue
        heading = _HEADING.match(line)
        if not heading:
            continue
        text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading.group(2))  # link -> text
        text = text.replace("`", "").replace("*", "")
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        ids.add(slug if count == 0 else f"{slug}-{count}")
    return ids


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """The relative links of a Markdown file that do not resolve, as readable lines."""
    problems = []
    for number, line in _prose_lines(path.read_text(encoding="utf-8")):
        targets = _INLINE_LINK.findall(line)
        reference = _REFERENCE_LINK.match(line)
        if reference:
            targets.append(reference.group(1))
        for target in targets:
            if _SCHEME.match(target) or target.startswith("//"):
                continue  # http(s), mailto, ...: not checked (no network in tests)
            where = f"{path.relative_to(root)}:{number}: {target}"
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if root not in linked.parents and linked != root:
                problems.append(f"{where}: outside the repository")
            elif not linked.exists():
                problems.append(f"{where}: no such file")
            elif anchor:
                if linked.suffix != ".md":
                    problems.append(f"{where}: anchor into a non-Markdown file")
                elif anchor not in _heading_ids(linked.read_text(encoding="utf-8")):
                    problems.append(f"{where}: no heading with id '{anchor}'")
    return problems


def _markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path):
    assert broken_links(path) == []


def test_readme_is_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines (at most {README_MAX_LINES}): move details to docs/"
    )


def test_readme_links_every_docs_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [
        p.name for p in sorted((ROOT / "docs").glob("*.md")) if f"docs/{p.name}" not in readme
    ]
    assert missing == [], f"docs pages not in the README's index: {missing}"


def test_checker_finds_broken_links(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other page\n\n## A `key` section\n")
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "# Page\n"
        "[ok](other.md) [ok](other.md#a-key-section) [ok](#page) [web](https://example.org)\n"
        "[missing](nothing.md) [bad anchor](other.md#no-such-heading)\n"
        "`[in code](nothing.md)`\n"
        "```\n[in a fence](nothing.md)\n# not a heading\n```\n"
        "[escape](../../outside.md) [self](#not-a-heading)\n"
        "[ref]: gone.md\n"
    )
    problems = broken_links(page, root=tmp_path)
    assert [p.split(": ", 1)[1] for p in problems] == [
        "nothing.md: no such file",
        "other.md#no-such-heading: no heading with id 'no-such-heading'",
        "../../outside.md: outside the repository",
        "#not-a-heading: no heading with id 'not-a-heading'",
        "gone.md: no such file",
    ]


def test_heading_ids_follow_github():
    assert _heading_ids("## Example: the Crab nebula with H.E.S.S. DL3 DR1") == {
        "example-the-crab-nebula-with-hess-dl3-dr1"
    }
    assert _heading_ids("## dl3flow inside your own workflow (Snakemake module)") == {
        "dl3flow-inside-your-own-workflow-snakemake-module"
    }
    assert _heading_ids("## Tests\n## Tests\n```\n# in a fence\n```") == {"tests", "tests-1"}
