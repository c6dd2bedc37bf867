"""The documentation site builds strictly, holds every page in its nav, and README.md stays
its front door: short, and linking only to pages that exist."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from markdown.extensions.toc import slugify

from tests.conftest import PROJECT_DIR
from tests.docs import DOCS_DIR, MKDOCS_YML, build_site, nav_pages

README = PROJECT_DIR / "README.md"
MAX_README_LINES = 250
#: What the README's quick start promises a fresh clone, word for word.
TWO_COMMANDS = (
    'make run    # http://127.0.0.1:8000, stage "local"; the web page at http://127.0.0.1:8000/',
    "make test   # the whole test suite, on every core",
)


def anchors(page: Path) -> set[str]:
    """The ids MkDocs gives a page's headings (its toc extension's slugs)."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    titles = re.findall(r"^#{1,6} (.+)$", text, flags=re.M)
    return {slugify(title.replace("`", ""), "-") for title in titles}


def test_every_page_is_in_the_nav_once() -> None:
    pages = nav_pages()
    assert len(pages) == len(set(pages)), "a page is in the nav twice"
    on_disk = {str(page.relative_to(DOCS_DIR)) for page in DOCS_DIR.rglob("*.md")}
    assert set(pages) == on_disk


def test_the_readme_is_a_short_front_door_linking_to_pages_that_exist() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= MAX_README_LINES
    for command in TWO_COMMANDS:
        assert command in text.splitlines()
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    local = [link for link in links if not re.match(r"[a-z]+:", link)]
    assert local, "the README links to no page of the documentation"
    for link in local:
        target, _, anchor = link.partition("#")
        assert re.fullmatch(r"docs/[\w/.-]+\.md", target), link
        assert (PROJECT_DIR / target).is_file(), link
        assert not anchor or anchor in anchors(PROJECT_DIR / target), link
    # the map of the documentation: the first page of every section of the nav
    sections = [page for page in nav_pages() if page.endswith("index.md") or "/" not in page]
    assert {f"docs/{page}" for page in sections} <= {link.partition("#")[0] for link in local}


@pytest.mark.external  # mkdocs runs in a fresh interpreter
def test_the_site_builds_strictly_with_every_page(tmp_path: Path) -> None:
    result = build_site(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    for page in nav_pages():
        built = page.removesuffix(".md").removesuffix("index").rstrip("/")
        assert (tmp_path / built / "index.html").is_file(), page


@pytest.mark.external  # mkdocs runs in a fresh interpreter
def test_the_strict_build_fails_on_a_broken_anchor_and_a_page_left_out(tmp_path: Path) -> None:
    """The settings that make a broken link fail CI really do: plant two mistakes."""
    project = tmp_path / "project"
    shutil.copytree(DOCS_DIR, project / "docs")
    shutil.copy(MKDOCS_YML, project)
    shutil.copy(PROJECT_DIR / "openapi.json", project)
    with (project / "docs" / "index.md").open("a") as index:
        index.write("\nSee [nowhere](api/listing.md#no-such-heading).\n")
    (project / "docs" / "left-out.md").write_text("# Left out of the nav\n")
    result = build_site(tmp_path / "site", project)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "no-such-heading" in output
    assert "left-out.md" in output
