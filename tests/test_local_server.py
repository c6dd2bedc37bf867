"""`chalice local --stage local`, as `make run` starts it: a real server on a free port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PROJECT_DIR

CHALICE = str(Path(sys.executable).parent / "chalice")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LocalServer:
    base_url: str
    process: subprocess.Popen
    log_path: Path

    def request(self, method: str, path: str, body: object = None) -> tuple[int, dict, object]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                raw = response.read()
                status, headers = response.status, dict(response.headers)
        except urllib.error.HTTPError as error:
            raw, status, headers = error.read(), error.code, dict(error.headers)
        return status, headers, json.loads(raw) if raw else None

    def log(self) -> str:
        return self.log_path.read_text()


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("chalice-local") / "server.log"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and k not in {"DYNAMODB_ENDPOINT_URL"}
    }
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [CHALICE, "local", "--stage", "local", "--port", str(port), "--no-autoreload"],
            cwd=PROJECT_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = LocalServer(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + 60
    while True:
        try:
            if server.request("GET", "/health")[0] == 200:
                break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"chalice local did not start:\n{server.log()}")
        time.sleep(0.2)
    yield server
    process.terminate()
    process.wait(timeout=10)


def test_local_server_serves_the_full_flow_without_aws(local_server: LocalServer) -> None:
    status, headers, task = local_server.request("POST", "/tasks", {"title": "from a real server"})
    assert status == 201
    assert headers["Location"] == f"/tasks/{task['id']}"
    status, _, fetched = local_server.request("GET", f"/tasks/{task['id']}")
    assert (status, fetched) == (200, task)
    status, _, patched = local_server.request("PATCH", f"/tasks/{task['id']}", {"priority": "high"})
    assert (status, patched["priority"], patched["version"]) == (200, "high", 2)
    status, _, page = local_server.request("GET", "/tasks")
    assert status == 200
    assert task["id"] in [t["id"] for t in page["items"]]
    assert local_server.request("DELETE", f"/tasks/{task['id']}")[0] == 204
    assert local_server.request("GET", f"/tasks/{task['id']}")[0] == 404


def test_local_server_says_tasks_are_in_memory(local_server: LocalServer) -> None:
    local_server.request("GET", "/tasks")
    log = local_server.log()
    assert "in-memory DynamoDB emulator" in log
    assert log.count("in-memory DynamoDB emulator") == 1


def test_local_server_errors_are_problems(local_server: LocalServer) -> None:
    status, headers, problem = local_server.request("POST", "/tasks", {"title": ""})
    assert status == 400
    assert headers["Content-Type"] == "application/problem+json"
    assert problem["errors"] == [{"pointer": "/title", "detail": "must not be empty"}]
    status, headers, problem = local_server.request("DELETE", "/tasks")
    assert (status, problem["status"]) == (405, 405)
