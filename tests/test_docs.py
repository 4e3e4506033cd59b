"""The repository stands alone: its documents cite nothing outside it and every link resolves.

Comments used to point at reference notes kept beside the repository; whoever carries the
project on cannot read those. Everything the code relies on is in ``docs/``, so a citation of
the outside notes, a relative link to a missing file or a heading that is not there is a bug.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SKIPPED_DIRS = {
    ".git",
    ".venv",
    "venv",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    "node_modules",
    "build",
    "dist",
    "var",
}
# Sample payloads are data, not prose; they are free to contain any text.
SKIPPED_PATHS = {REPO / "tests" / "fixtures"}
MAX_TEXT_BYTES = 2_000_000

# Assembled so that this file does not cite what it forbids.
OUTSIDE_NOTES = re.compile(
    "|".join(
        re.escape(name)
        for name in (
            "design" + ".md",
            "warehouses" + ".md",
            "orderdesk-api" + ".md",
            "../" + "shared",
        )
    )
)
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
DOC_POINTER = re.compile(r"docs/([\w-]+\.md)(?:#([\w-]+))?")
MD_NAME = re.compile(r"(?<![\w/.-])([\w./-]*[\w-]\.md)\b")


def _walk(root: Path) -> Iterator[Path]:
    for path in sorted(root.iterdir()):
        if path.is_dir():
            if path.name in SKIPPED_DIRS or path.name.endswith(".egg-info"):
                continue
            if path in SKIPPED_PATHS:
                continue
            yield from _walk(path)
        elif path.is_file():
            yield path


def _text(path: Path) -> str | None:
    if path.stat().st_size > MAX_TEXT_BYTES:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


def _texts(suffix: str | None = None) -> Iterator[tuple[Path, str]]:
    for path in _walk(REPO):
        if suffix is not None and path.suffix != suffix:
            continue
        text = _text(path)
        if text is not None:
            yield path, text


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = INLINE_CODE.sub(lambda match: match.group(0).strip("`"), heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    """Every anchor of a Markdown file; a repeated heading gets ``-1``, ``-2``... as on GitHub."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for heading in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


def _prose(markdown: str) -> str:
    """The Markdown without code blocks and code spans, whose brackets are not links."""
    return INLINE_CODE.sub("", FENCE.sub("", markdown))


def documents() -> list[Path]:
    return [REPO / "README.md", REPO / "DEVELOPERS.md", *sorted((REPO / "docs").glob("*.md"))]


def test_nothing_cites_notes_kept_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path, text in _texts()
        for number, line in enumerate(text.splitlines(), start=1)
        if OUTSIDE_NOTES.search(line)
    ]
    assert not offenders, "cite docs/ instead:\n" + "\n".join(offenders)


@pytest.mark.parametrize("document", documents(), ids=lambda path: str(path.relative_to(REPO)))
def test_every_relative_link_resolves(document: Path) -> None:
    broken = []
    for target in LINK.findall(_prose(document.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
            continue
        file_part, _, anchor = target.partition("#")
        destination = (document.parent / file_part).resolve() if file_part else document
        if not destination.exists():
            broken.append(f"{target}: no such file")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            broken.append(f"{target}: no heading with that anchor")
    assert not broken, f"{document.relative_to(REPO)}:\n" + "\n".join(broken)


def test_pointers_from_the_code_into_docs_resolve() -> None:
    broken = []
    for path, text in _texts(".py"):
        for name, anchor in DOC_POINTER.findall(text):
            doc = REPO / "docs" / name
            if not doc.exists():
                broken.append(f"{path.relative_to(REPO)}: docs/{name} does not exist")
            elif anchor and anchor not in anchors(doc):
                broken.append(f"{path.relative_to(REPO)}: docs/{name} has no #{anchor}")
    assert not broken, "\n".join(broken)


def test_every_markdown_file_the_code_names_exists() -> None:
    known = {path.name for path, _ in _texts(".md")}
    missing = sorted(
        f"{path.relative_to(REPO)}: {name}"
        for path, text in _texts(".py")
        if path != Path(__file__).resolve()
        for name in MD_NAME.findall(text)
        if not (REPO / name).exists() and Path(name).name not in known
    )
    assert not missing, "\n".join(missing)


def test_slugs_follow_github() -> None:
    assert slug("2.4 The cancel rule") == "24-the-cancel-rule"
    assert slug("The webhook (Post Order JSON)") == "the-webhook-post-order-json"
    assert slug("ShipStation (API v1)") == "shipstation-api-v1"
    assert slug("`received`: an input problem") == "received-an-input-problem"
