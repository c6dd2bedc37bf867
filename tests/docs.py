"""The documentation site, for the tests that tie it to the code: its pages in the nav's
order, each page's curl examples, and a strict build, as `make docs-build` and CI run it."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import PROJECT_DIR

DOCS_DIR = PROJECT_DIR / "docs"
MKDOCS_YML = PROJECT_DIR / "mkdocs.yml"


def nav_pages(config: Path = MKDOCS_YML) -> list[str]:
    """Every page of the nav, in its order, as paths under docs/."""

    def walk(entries: list[Any]) -> Iterator[str]:
        for entry in entries:
            values = entry.values() if isinstance(entry, dict) else [entry]
            for value in values:
                if isinstance(value, str):
                    yield value
                else:
                    yield from walk(value)

    return list(walk(yaml.safe_load(config.read_text())["nav"]))


@dataclass
class Example:
    command: str
    expected: list[str]


def curl_examples(page: Path) -> list[Example]:
    """A page's `$ curl` commands in ```console blocks, in order, each with the response
    the page shows for it (a command may go on over lines ending in a backslash)."""
    examples: list[Example] = []
    for block in re.findall(r"```console\n(.*?)```", page.read_text(), flags=re.S):
        lines = block.splitlines()
        i = 0
        while i < len(lines):
            if not lines[i].startswith("$ curl "):
                i += 1
                continue
            command = lines[i][2:]
            while command.endswith("\\"):
                i += 1
                command = command[:-1] + lines[i].strip()
            i += 1
            expected = []
            while i < len(lines) and not lines[i].startswith("$ "):
                expected.append(lines[i])
                i += 1
            while expected and not expected[-1]:
                expected.pop()
            examples.append(Example(command, expected))
    return examples


def build_site(out: Path, project: Path = PROJECT_DIR) -> subprocess.CompletedProcess[str]:
    """`mkdocs build --strict` of ``project``'s site into ``out``: a warning (a link to a
    missing page or anchor, a page left out of the nav) fails it, as it fails CI."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
