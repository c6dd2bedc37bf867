"""`chalice local --stage local`, as `make run` starts it: a real server on a free port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.local_server import LocalServer, running_local_server


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with running_local_server(tmp_path_factory.mktemp("chalice-local")) as server:
        yield server


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
