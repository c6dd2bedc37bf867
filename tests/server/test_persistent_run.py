"""`make run-persistent`: the API on DynamoDB Local with a data directory; tasks survive
a restart of both."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import PROJECT_DIR, require_dynamodb_local
from tests.local_server import free_port

pytestmark = pytest.mark.dynamodb_local


def call(url: str, method: str = "GET", body: object = None) -> tuple[int, object]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def start(port: int, db_path: Path, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "tools.dynamodb_local", "run-api", "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.pop("DYNAMODB_ENDPOINT_URL", None)
    with log.open("ab") as output:
        process = subprocess.Popen(
            [*command, "--db-path", str(db_path)],
            cwd=PROJECT_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if call(f"http://127.0.0.1:{port}/health")[0] == 200:
                return process
        except (OSError, urllib.error.URLError):
            time.sleep(0.3)
    process.kill()
    pytest.fail(f"run-api did not start:\n{log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)  # as Ctrl-C: stops chalice local, then java
    process.wait(timeout=30)


def test_tasks_survive_a_restart(tmp_path: Path) -> None:
    require_dynamodb_local()
    port, db_path, log = free_port(), tmp_path / "data", tmp_path / "run.log"
    base = f"http://127.0.0.1:{port}"
    first = start(port, db_path, log)
    try:
        status, task = call(f"{base}/tasks", "POST", {"title": "still here tomorrow"})
        assert status == 201
    finally:
        stop(first)
    assert any(db_path.iterdir()), "DynamoDB Local wrote its data file"
    second = start(port, db_path, log)
    try:
        assert call(f"{base}/tasks/{task['id']}") == (200, task)
    finally:
        stop(second)
