"""The smoke script: the full flow against a real server, and a stop at the first deviation."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import PROJECT_DIR
from tests.local_server import LocalServer, running_local_server
from tools import dev_token, smoke

#: Starts another program (a server, a CLI or a browser): not in `make check`.
pytestmark = pytest.mark.external


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with running_local_server(tmp_path_factory.mktemp("smoke")) as server:
        yield server


def test_the_full_flow_passes_against_chalice_local(
    local_server: LocalServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert smoke.main([local_server.base_url]) == 0
    output = capsys.readouterr().out
    assert f"smoke test passed: 17 steps against {local_server.base_url}" in output
    # It cleans up after itself: nothing of the run is left in the owner's list.
    _, _, page = local_server.request("GET", "/tasks?limit=100")
    assert not [t for t in page["items"] if t["title"].startswith("Smoke test")]


def test_it_sends_the_token_it_is_given(local_server: LocalServer) -> None:
    token = dev_token.mint("smoker")
    assert smoke.main([local_server.base_url, "--token", token]) == 0
    _, _, page = local_server.request("GET", "/tasks", headers={"Authorization": token})
    assert page["items"] == []


class _Stub(http.server.BaseHTTPRequestHandler):
    """An API that follows the contract up to creation, then answers 200 instead of 201."""

    document = (PROJECT_DIR / "openapi.json").read_bytes()
    calls: list[str] = []  # noqa: RUF012  (shared on purpose: the test reads it)

    def _send(self, status: int, body: Any) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:
        self.calls.append(f"GET {self.path}")
        if self.path == "/api/health":
            self._send(200, {"status": "ok"})
        elif self.path == "/api/openapi.json":
            self._send(200, self.document)
        else:
            self._send(404, {})

    def do_POST(self) -> None:
        self.calls.append(f"POST {self.path}")
        self.rfile.read(int(self.headers["Content-Length"]))
        self._send(200, {"title": "wrong status"})

    def do_DELETE(self) -> None:
        self.calls.append(f"DELETE {self.path}")
        self._send(204, b"")

    def log_message(self, *args: Any) -> None:
        pass


def test_it_stops_at_the_first_deviation_with_exit_status_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base_url = f"http://127.0.0.1:{server.server_address[1]}/api"
        assert smoke.main([base_url]) == 1
    finally:
        server.shutdown()
    assert "FAIL POST /tasks: expected 201, got 200" in capsys.readouterr().err
    assert _Stub.calls == ["GET /api/health", "GET /api/openapi.json", "POST /api/tasks"]


def test_a_body_that_breaks_the_documented_schema_is_a_deviation() -> None:
    document = json.loads((PROJECT_DIR / "openapi.json").read_text())
    checker = smoke.Smoke("http://unused", document=document)
    with pytest.raises(smoke.Deviation, match="breaks Task at /version"):
        checker.conforms({**TASK, "version": "1"}, "Task", "GET the task")
    checker.conforms(TASK, "Task", "GET the task")  # the same task, well-formed, passes


TASK = {
    "id": "buy-milk",
    "title": "Buy milk",
    "description": "",
    "status": "new",
    "priority": "medium",
    "dueDate": None,
    "tags": [],
    "expireAt": None,
    "createdAt": "2026-11-23T10:46:49.134891Z",
    "updatedAt": "2026-11-23T10:46:49.134891Z",
    "version": 1,
}


@pytest.mark.parametrize(
    ("base_url", "path", "expected"),
    [
        ("http://127.0.0.1:8000", "/tasks/a", "http://127.0.0.1:8000/tasks/a"),
        ("https://h.example/api", "/tasks", "https://h.example/api/tasks"),
        ("https://h.example/api", "/api/tasks/a", "https://h.example/api/tasks/a"),
        ("https://h.example/api", "/api/tasks?cursor=c", "https://h.example/api/tasks?cursor=c"),
    ],
)
def test_locations_and_links_resolve_against_a_stage_base_url(
    base_url: str, path: str, expected: str
) -> None:
    assert smoke.Smoke(base_url).url(path) == expected
