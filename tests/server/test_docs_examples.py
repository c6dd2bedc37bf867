"""Every curl example of the documentation, run as written against a fresh `make run`: those
of README.md, and those of each page of the site, in the nav's order. Each page's examples
run in order, on a server of the page's own: a page's examples may build on each other
(the examples page creates, lists and deletes), never on another page's.

Each page shows each command's response; the status line, the headers it shows and the
body must match, except for generated ids, timestamps, ETags and list cursors, and bodies
it abbreviates with "...".
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from app import app
from tests.conftest import PROJECT_DIR
from tests.docs import DOCS_DIR, Example, curl_examples, nav_pages
from tests.local_server import running_local_server

DOCS_URL = "http://127.0.0.1:8000"
VOLATILE = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # generated ids
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"  # server timestamps
    r'|"\d+\.\d{20}"'  # ETags
    # list cursors: base64url of a JSON object ("eyJ" is '{"'), ".", 22-character base64url MAC
    r"|(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}(?![A-Za-z0-9_-])"
)
#: The README first, then the site's pages in the nav's order.
PAGES = [PROJECT_DIR / "README.md", *(DOCS_DIR / page for page in nav_pages())]
#: As many examples as the README held when the documentation moved out of it into docs/.
EXAMPLES_MOVED_TO_DOCS = 29


def examples_by_page() -> dict[str, list[Example]]:
    found = {str(page.relative_to(PROJECT_DIR)): curl_examples(page) for page in PAGES}
    return {page: examples for page, examples in found.items() if examples}


def parse_response(lines: list[str]) -> tuple[str, dict[str, str], str]:
    status = lines[0].strip()
    headers: dict[str, str] = {}
    body_start = len(lines)
    for index, line in enumerate(lines[1:], start=1):
        if not line.strip():
            body_start = index + 1
            break
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, "\n".join(lines[body_start:]).strip()


def normalise(text: str) -> str:
    return VOLATILE.sub("<volatile>", text)


#: Routes a reader does not call with curl: the web page and its files, and this document.
NOT_CURLED = {"/", "/ui/{name}", "/openapi.json"}


def test_the_docs_have_a_curl_example_for_every_route() -> None:
    commands = " ".join(e.command for examples in examples_by_page().values() for e in examples)
    routes = [
        (method, path)
        for path, methods in app.routes.items()
        for method in methods
        if path not in NOT_CURLED
    ]
    assert len(routes) >= 7
    for method, path in routes:
        verb = "" if method == "GET" else f"-X {method} "
        url = re.sub(r"\\\{\w+\\\}", "[^/?' ]+", re.escape(DOCS_URL + path))
        assert re.search(rf"curl -i {verb}'?{url}(?=[?' ]|$)", commands), (method, path)


def test_the_readme_shows_a_round_trip_and_the_site_keeps_every_other_example() -> None:
    found = examples_by_page()
    readme = [e.command for e in found.pop("README.md", [])]
    assert len(readme) >= 2, "the README's round trip: create a task, then read it"
    assert re.match(rf"curl -i -X (POST|PUT) {re.escape(DOCS_URL)}/tasks", readme[0])
    assert re.match(rf"curl -i {re.escape(DOCS_URL)}/tasks/", readme[1])
    assert sum(len(examples) for examples in found.values()) >= EXAMPLES_MOVED_TO_DOCS


@pytest.mark.external
@pytest.mark.parametrize("page", list(examples_by_page()))
def test_curl_examples_work_as_written(page: str, tmp_path: Path) -> None:
    examples = examples_by_page()[page]
    with running_local_server(tmp_path) as server:
        for example in examples:
            command = example.command.replace(DOCS_URL, server.base_url)
            result = subprocess.run(
                ["bash", "-c", command],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
                cwd=PROJECT_DIR,  # as the pages say: `$(make -s token ...)` runs here
            )
            assert result.returncode == 0, (example.command, result.stderr)
            actual = result.stdout.replace("\r\n", "\n").splitlines()
            status, headers, body = parse_response(actual)
            want_status, want_headers, want_body = parse_response(example.expected)
            assert status == want_status, example.command
            for name, value in want_headers.items():
                assert normalise(headers.get(name, "")) == normalise(value), (example.command, name)
            if "..." in want_body:
                pattern = ".*".join(re.escape(p) for p in normalise(want_body).split("..."))
                assert re.fullmatch(pattern, normalise(body)), (example.command, body)
            elif want_body:
                assert normalise(json.dumps(json.loads(body))) == normalise(
                    json.dumps(json.loads(want_body))
                ), example.command
            else:
                assert body == "", example.command
