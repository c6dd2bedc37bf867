"""schemathesis against the running app, `chalice local --stage local`, with every check.

It reads /openapi.json from the server, generates requests from it (examples, coverage,
fuzzing and stateful phases) and checks every response against the document: no server
error, documented status codes, content types, headers and schemas, invalid data
rejected, valid data accepted, and more. The configuration and the hooks, with the
reasons for each, are in tests/server/contract/. `make contract EXAMPLES=200` runs it deeper.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.conftest import PROJECT_DIR
from tests.local_server import LocalServer, running_local_server
from tests.server.contract import hooks

#: Starts another program (a server, a CLI or a browser): not in `make check`.
pytestmark = pytest.mark.external

SCHEMATHESIS = str(Path(sys.executable).parent / "st")
CONFIG = PROJECT_DIR / "tests" / "server" / "contract" / "schemathesis.toml"
PHASES = ("Examples", "Coverage", "Fuzzing", "Stateful")


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with running_local_server(tmp_path_factory.mktemp("contract")) as server:
        yield server


@pytest.mark.runs_for_minutes  # about four: started first (tests/external.py)
def test_schemathesis_finds_no_failure_with_all_checks(
    local_server: LocalServer, tmp_path: Path
) -> None:
    command = [
        SCHEMATHESIS,
        "--config-file",
        str(CONFIG),
        "run",
        f"{local_server.base_url}/openapi.json",
        "--url",
        local_server.base_url,
        "--checks",
        "all",
        "--no-color",
    ]
    if os.environ.get("CONTRACT_MAX_EXAMPLES"):
        command += ["--max-examples", os.environ["CONTRACT_MAX_EXAMPLES"]]
    if os.environ.get("CONTRACT_SEED"):  # replay a run: schemathesis prints its seed
        command += ["--seed", os.environ["CONTRACT_SEED"]]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR)}
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800
    )
    output = result.stdout + result.stderr
    print(output[-5000:])  # shown by pytest -rA
    assert result.returncode == 0, readable(output)
    document = json.loads((PROJECT_DIR / "openapi.json").read_text())
    # schemathesis leaves out the operation that serves the document it tests.
    expected = sum(len(methods) for methods in document["paths"].values()) - 1
    assert f"Selected: {expected}/{expected}" in output, output[-3000:]
    assert f"Tested: {expected}" in output, "every operation of the document was tested"
    for phase in PHASES:
        assert re.search(rf"✅ {phase}\b", output), f"the {phase} phase did not pass"
    generated = re.search(r"(\d+) generated, (\d+) passed", output)
    assert generated is not None, output[-3000:]
    assert int(generated.group(1)) == int(generated.group(2)) >= 300


def readable(output: str) -> str:
    """The failures and the summary, with generated megabyte-long lines cut short."""
    start = output.find("FAILURES")
    lines = output[start if start >= 0 else 0 :].splitlines()
    return "\n".join(line if len(line) <= 600 else line[:600] + " [...]" for line in lines)


# The hooks must only ever touch what they say they touch.


def case(body: Any = None, query: Any = None, headers: Any = None, positive: bool = True) -> Any:
    mode = SimpleNamespace(is_positive=positive)
    meta = SimpleNamespace(generation=SimpleNamespace(mode=mode))
    return SimpleNamespace(body=body, query=query, headers=headers, meta=meta)


def no_operation() -> Any:
    return SimpleNamespace(operation=SimpleNamespace(iter_parameters=lambda: iter(())))


def test_a_past_expire_at_moves_into_the_future_and_nothing_else_changes() -> None:
    now = time.time()
    past = hooks.map_case(no_operation(), case(body={"title": "t", "expireAt": 5})).body
    assert past["expireAt"] > now
    assert past["title"] == "t"
    for value in (0, -3, int(now) + 100, "soon", True, None):
        body = {"expireAt": value}
        assert hooks.map_case(no_operation(), case(body=body)).body == {"expireAt": value}


def test_only_cursors_the_api_never_issued_are_dropped() -> None:
    hooks.after_call(None, None, SimpleNamespace(json=lambda: {"nextCursor": "issued"}))
    query = {"cursor": "issued", "limit": 5}
    assert hooks.map_case(no_operation(), case(query=dict(query))).query == query
    forged = hooks.map_case(no_operation(), case(query={"cursor": "forged", "limit": 5}))
    assert forged.query == {"limit": 5}
    empty = hooks.map_case(no_operation(), case(query={"cursor": ""}))
    assert empty.query == {"cursor": ""}, "an invalid (empty) cursor stays: it is negative data"


def test_only_positive_cases_lose_header_values_the_document_rejects() -> None:
    parameter = SimpleNamespace(location="header", name="If-Match", is_valid=lambda v: v != "0")
    context = SimpleNamespace(operation=SimpleNamespace(iter_parameters=lambda: iter([parameter])))
    assert hooks.map_case(context, case(headers={"If-Match": "0"})).headers == {}
    kept = hooks.map_case(context, case(headers={"If-Match": '"1"'})).headers
    assert kept == {"If-Match": '"1"'}
    negative = hooks.map_case(context, case(headers={"If-Match": "0"}, positive=False))
    assert negative.headers == {"If-Match": "0"}
