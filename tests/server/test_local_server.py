"""`chalice local --stage local`, as `make run` starts it: a real server on a free port."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest

from chalicelib.core.http import INSTANCE_PREFIX, SECURITY_HEADERS
from tests.local_server import LocalServer, running_local_server

#: Starts another program (a server, a CLI or a browser): not in `make check`.
pytestmark = pytest.mark.external


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


def test_local_stage_allows_loopback_front_ends_with_every_header_the_api_uses(
    local_server: LocalServer,
) -> None:
    """A front end on another loopback port (tests/server/test_local_origin.py: no other origin)."""
    front_end = {"Origin": "http://localhost:5173"}
    request = urllib.request.Request(
        local_server.base_url + "/tasks/x",
        method="OPTIONS",
        headers={**front_end, "Access-Control-Request-Method": "PATCH"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        allowed = response.headers["Access-Control-Allow-Headers"].split(",")
        assert response.headers["Access-Control-Allow-Origin"] == front_end["Origin"]
        assert "PATCH" in response.headers["Access-Control-Allow-Methods"]
    for header in ("Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key"):
        assert header in allowed
    status, headers, _ = local_server.request("POST", "/tasks", {"title": "cors"}, front_end)
    assert status == 201
    exposed = headers["Access-Control-Expose-Headers"].split(",")
    assert {"ETag", "Location", "Link", "Retry-After"} <= set(exposed)
    status, headers, _ = local_server.request("POST", "/tasks", {"title": ""}, front_end)
    assert status == 400
    assert headers["Access-Control-Allow-Origin"] == front_end["Origin"], "problems are readable"


def test_cors_is_per_stage_and_off_without_an_origin() -> None:
    from chalicelib.core import http as web

    assert web.cors({}) is False
    config = web.cors({"TASKS_CORS_ALLOW_ORIGIN": "https://tasks.example.org"})
    assert config.allow_origin == "https://tasks.example.org"
    assert "If-Match" in config.allow_headers


# chalice local falls short of API Gateway in three places; devserver/local_gateway.py
# makes it answer the way a deployed stage does.

GATEWAY_PROBLEM = {
    "type": "urn:task-api:problem:gateway",
    "title": "Rejected by the API gateway",
}


@pytest.mark.parametrize(
    "authorization", ["garbage", "Bearer x", "a.!!!.c", "a.WzFd.c", "a.bm90IGpzb24.c"]
)
def test_a_malformed_token_gets_the_gateways_401_not_a_dropped_connection(
    local_server: LocalServer, authorization: str
) -> None:
    status, headers, problem = local_server.request(
        "GET", "/tasks", headers={"Authorization": authorization}
    )
    assert status == 401
    assert headers["Content-Type"] == "application/problem+json"
    assert {k: problem[k] for k in GATEWAY_PROBLEM} == GATEWAY_PROBLEM
    assert (problem["detail"], problem["code"]) == ("Unauthorized", "UNAUTHORIZED")
    assert problem["instance"] == INSTANCE_PREFIX + headers["X-Request-Id"]
    assert {name: headers[name] for name in SECURITY_HEADERS} == SECURITY_HEADERS


def test_an_unknown_path_gets_the_gateways_problem(local_server: LocalServer) -> None:
    status, headers, problem = local_server.request("GET", "/no/such/path")
    assert status == 403
    assert headers["Content-Type"] == "application/problem+json"
    assert problem["code"] == "MISSING_AUTHENTICATION_TOKEN"
    assert problem["detail"] == "Missing Authentication Token"
    assert problem["instance"] == INSTANCE_PREFIX + headers["X-Request-Id"]
    assert {name: headers[name] for name in SECURITY_HEADERS} == SECURITY_HEADERS


@pytest.mark.parametrize("method", ["TRACE", "QUERY", "PROPFIND"])
def test_a_method_the_dev_server_never_knew_gets_405_with_allow(
    local_server: LocalServer, method: str
) -> None:
    status, headers, problem = local_server.request(method, "/tasks")
    assert (status, problem["status"]) == (405, 405)
    assert headers["Allow"] == "GET, POST"
    assert headers["Content-Type"] == "application/problem+json"
