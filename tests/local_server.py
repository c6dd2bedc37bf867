"""Starts `chalice local --stage local` as `make run` does, on a free port, for tests."""

from __future__ import annotations

import contextlib
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

from devserver.stream_poller import POLLING_VARIABLE
from tests.conftest import PROJECT_DIR, require_dynamodb_local
from tools import dynamodb_local

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

    def request(
        self, method: str, path: str, body: object = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict, object]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers=headers or {}
        )
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


@contextlib.contextmanager
def running_local_server(
    log_dir: Path,
    endpoint_url: str | None = None,
    stage: str = "local",
    environment: dict[str, str] | None = None,
) -> Iterator[LocalServer]:
    """A fresh server, stopped on exit: on the embedded emulator (fresh in-memory tables),
    or on the DynamoDB endpoint given. ``environment`` adds variables the stage's
    configuration does not set (Chalice's stage settings win over the environment)."""
    port = free_port()
    log_path = log_dir / "server.log"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and k not in {"DYNAMODB_ENDPOINT_URL", POLLING_VARIABLE}
    }  # the server reads its table's stream as `make run` does, not as the tests' process
    if endpoint_url:
        env["DYNAMODB_ENDPOINT_URL"] = endpoint_url
    env.update(environment or {})
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [CHALICE, "local", "--stage", stage, "--port", str(port), "--no-autoreload"],
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
    try:
        yield server
    finally:
        process.terminate()
        process.wait(timeout=10)


#: The engines a server runs on: the embedded emulator, and AWS's DynamoDB Local (Java).
ENGINES = ["embedded", pytest.param("dynamodb-local", marks=pytest.mark.dynamodb_local)]


@contextlib.contextmanager
def server_on(engine: str, log_dir: Path) -> Iterator[LocalServer]:
    """A fresh server on ``engine`` (one of ``ENGINES``), with its own DynamoDB Local."""
    if engine == "embedded":
        with running_local_server(log_dir) as running:
            yield running
        return
    require_dynamodb_local()
    with (
        dynamodb_local.running() as local,
        running_local_server(log_dir, local.endpoint_url) as running,
    ):
        yield running
