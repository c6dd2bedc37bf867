"""Every curl example in the README, run as written (in order) against a fresh `make run`.

The README shows each command's response; the status line, the headers it shows and the
body must match, except for generated ids, timestamps, ETags and list cursors, and bodies
it abbreviates with "...".
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PROJECT_DIR
from tests.local_server import running_local_server

README_URL = "http://127.0.0.1:8000"
VOLATILE = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # generated ids
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"  # server timestamps
    r'|"\d+\.\d{20}"'  # ETags
    # list cursors: base64url of a JSON object ("eyJ" is '{"'), ".", 22-character base64url MAC
    r"|(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}(?![A-Za-z0-9_-])"
)


@dataclass
class Example:
    command: str
    expected: list[str]


def readme_examples() -> list[Example]:
    text = (PROJECT_DIR / "README.md").read_text()
    examples: list[Example] = []
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.S):
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


def test_readme_has_a_curl_example_for_every_route() -> None:
    commands = " ".join(e.command for e in readme_examples())
    for method, path in [
        ("GET", "/health"),
        ("POST", "/tasks"),
        ("GET", "/tasks"),
        ("GET", "/tasks/"),
        ("PUT", "/tasks/"),
        ("PATCH", "/tasks/"),
        ("DELETE", "/tasks/"),
    ]:
        verb = "" if method == "GET" else f"-X {method} "
        assert re.search(rf"curl -i {verb}{re.escape(README_URL + path)}", commands), (method, path)


@pytest.mark.external
def test_readme_curl_examples_work_as_written(tmp_path: Path) -> None:
    examples = readme_examples()
    assert len(examples) >= 8
    with running_local_server(tmp_path) as server:
        for example in examples:
            command = example.command.replace(README_URL, server.base_url)
            result = subprocess.run(
                ["bash", "-c", command],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
                cwd=PROJECT_DIR,  # as the README says: `$(make -s token ...)` runs here
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
