"""The local stage serves anonymous requests and unsigned development tokens, so no web
page the developer visits may use it: only loopback origins get CORS headers, and only
loopback Host names get an answer (DNS rebinding). Deployed stages are unchanged.

Each check runs through Chalice's test client and through a real ``chalice local``.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator, Mapping

import pytest

from chalicelib.core import http as web
from chalicelib.core.errors import GATEWAY_PROBLEM
from chalicelib.core.http import (
    CORS_ALLOW_HEADERS,
    CORS_EXPOSE_HEADERS,
    INSTANCE_PREFIX,
    PROBLEM_JSON,
    SECURITY_HEADERS,
)
from tests.conftest import Api, serving_api
from tests.engines.test_telemetry import run_as_lambda
from tests.external import starts_a_process
from tests.local_server import LocalServer, running_local_server
from tools import dev_token

LOOPBACK_ORIGINS = [
    "http://localhost:5173",
    "http://localhost",
    "https://localhost:8443",
    "http://127.0.0.1:8000",
    "https://127.0.0.1:65535",
    "http://[::1]:3000",
    "http://[::1]",
]
FOREIGN_ORIGINS = [
    "https://evil.example",
    "http://evil.example:8000",
    "http://localhost.evil.example",
    "http://127.0.0.1.evil.example:8000",
    "http://evil.example/localhost",
    "http://0.0.0.0:8000",
    "null",
]
FOREIGN_HOSTS = [
    "evil.example",
    "evil.example:8000",
    "127.0.0.1.evil.example",
    "localhost.evil.example:8000",
    "0.0.0.0:8000",
    "192.168.1.20:8000",
    "",
]
LOOPBACK_HOSTS = ["localhost", "localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LocalHost:1"]


def header(headers: Mapping[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


def cors_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower().startswith("access-control-")}


def vary(headers: Mapping[str, str]) -> set[str]:
    return {v.strip().lower() for v in (header(headers, "Vary") or "").split(",")}


def assert_echoed(headers: Mapping[str, str], origin: str) -> None:
    assert header(headers, "Access-Control-Allow-Origin") == origin
    assert "origin" in vary(headers)
    allowed = (header(headers, "Access-Control-Allow-Headers") or "").split(",")
    assert {*CORS_ALLOW_HEADERS, "Authorization", "Content-Type"} <= set(allowed)
    exposed = (header(headers, "Access-Control-Expose-Headers") or "").split(",")
    assert exposed == CORS_EXPOSE_HEADERS


def assert_misdirected(status: int, headers: Mapping[str, str], problem: object) -> None:
    """Refused as the emulated gateway refuses: a problem document with the request id."""
    assert status == 421
    assert header(headers, "Content-Type") == PROBLEM_JSON
    assert isinstance(problem, dict)
    assert (problem["type"], problem["code"]) == (GATEWAY_PROBLEM, "DEFAULT_4XX")
    assert "localhost" in problem["detail"]
    assert problem["instance"] == INSTANCE_PREFIX + str(header(headers, "X-Request-Id"))
    for name, value in SECURITY_HEADERS.items():
        assert header(headers, name) == value


# --- Chalice's test client ----------------------------------------------------------------


@pytest.fixture
def local() -> Iterator[Api]:
    with serving_api() as api:
        yield api


def preflight(api: Api, path: str, origin: str) -> dict[str, str]:
    request_headers = {"Origin": origin, "Access-Control-Request-Method": "PATCH"}
    reply = api.request("OPTIONS", path, headers=request_headers)
    assert reply.status == 200
    return reply.headers


def test_a_foreign_origin_with_a_forged_token_gets_no_cors_headers(local: Api) -> None:
    alice = local.as_user("alice")
    task = alice.create(title="alice's secret")
    for origin in FOREIGN_ORIGINS:
        reply = alice.get("/tasks", headers={"Origin": origin})
        assert reply.status == 200, "the browser, not the server, withholds the body"
        assert cors_headers(reply.headers) == {}, origin
        assert "origin" in vary(reply.headers), "the answer depends on the Origin"
        patched = alice.patch(f"/tasks/{task['id']}", {"title": "x"}, headers={"Origin": origin})
        assert cors_headers(patched.headers) == {}, origin
        assert cors_headers(preflight(local, f"/tasks/{task['id']}", origin)) == {}, origin


@pytest.mark.parametrize("origin", LOOPBACK_ORIGINS)
def test_a_loopback_origin_on_any_port_is_echoed(local: Api, origin: str) -> None:
    created = local.post("/tasks", {"title": "from a front end"}, headers={"Origin": origin})
    assert created.status == 201
    assert_echoed(created.headers, origin)
    invalid = local.post("/tasks", {"title": ""}, headers={"Origin": origin})
    assert invalid.status == 400
    assert_echoed(invalid.headers, origin)  # a front end can read the problem
    answered = preflight(local, "/tasks/x", origin)
    assert_echoed(answered, origin)
    methods = set((header(answered, "Access-Control-Allow-Methods") or "").split(","))
    assert methods == {"GET", "PUT", "PATCH", "DELETE", "OPTIONS"}


def test_the_emulated_gateway_problems_carry_cors_and_security_headers(local: Api) -> None:
    origin = "http://localhost:5173"
    for reply in (
        local.get("/tasks", headers={"Origin": origin, "Authorization": "garbage"}),
        local.get("/no/such/path", headers={"Origin": origin}),
    ):
        assert reply.status in (401, 403)
        assert reply.header("Content-Type") == PROBLEM_JSON
        assert_echoed(reply.headers, origin)
        for name, value in SECURITY_HEADERS.items():
            assert reply.header(name) == value


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
def test_a_foreign_host_is_refused_before_anything_runs(local: Api, host: str) -> None:
    alice = local.as_user("alice")
    for reply in (
        alice.post("/tasks", {"title": "rebound"}, headers={"Host": host}),
        local.get("/tasks", headers={"Host": host, "Authorization": "garbage"}),  # not 401
        local.get("/no/such/path", headers={"Host": host}),  # not 403
        local.request("OPTIONS", "/tasks", headers={"Host": host, "Origin": "http://localhost"}),
    ):
        assert_misdirected(reply.status, reply.headers, reply.json)
    assert alice.get("/tasks").json["items"] == [], "the POST never reached the app"


@pytest.mark.parametrize("host", LOOPBACK_HOSTS)
def test_a_loopback_host_or_none_is_served(local: Api, host: str) -> None:
    assert local.get("/tasks", headers={"Host": host}).status == 200
    assert local.get("/tasks").status == 200  # the test client sends no Host


# --- deployed stages ------------------------------------------------------------------------


def test_loopback_is_no_origin_to_chalice_and_a_configured_origin_is_kept() -> None:
    for value in ("loopback", " Loopback "):
        assert web.cors({web.CORS_ORIGIN_VARIABLE: value}) is False
    config = web.cors({web.CORS_ORIGIN_VARIABLE: "https://tasks.example.org"})
    assert config.get_access_control_headers()["Access-Control-Allow-Origin"] == (
        "https://tasks.example.org"
    )


_DEPLOYED_PROBE = """
import json, sys
import app
assert "chalice.local" not in sys.modules, "Lambda never loads the emulator"

class Context:
    function_name = "task-api-prod"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:task-api-prod"
    aws_request_id = "lambda-1"

    def get_remaining_time_in_millis(self):
        return 20000

answers = {}
for origin in ("http://localhost:5173", "http://[::1]:3000", "https://evil.example"):
    event = {
        "resource": "/health", "path": "/health", "httpMethod": "GET",
        "headers": {"Origin": origin, "Host": "abc.execute-api.us-east-1.amazonaws.com"},
        "multiValueHeaders": {"Origin": [origin]},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": None, "stageVariables": None, "body": None, "isBase64Encoded": False,
        "requestContext": {"resourcePath": "/health", "httpMethod": "GET", "path": "/api/health",
                           "requestId": "gateway-1", "identity": {"sourceIp": "203.0.113.9"}},
    }
    response = app.app(event, Context())
    answers[origin] = [response["statusCode"], response["headers"]]

from chalice.deploy.swagger import TemplatedSwaggerGenerator
swagger = TemplatedSwaggerGenerator().generate_swagger(app.app)
print(json.dumps({"answers": answers, "swagger": swagger}, default=str))
"""


@pytest.mark.external
def test_a_deployed_stage_set_to_loopback_allows_no_origin_at_all() -> None:
    """Inside Lambda and in the packaged API definition the setting allows nothing: no
    wildcard, no echo, no preflight. Only the emulator ever honours it."""
    stage = {
        web.CORS_ORIGIN_VARIABLE: "loopback",
        "TASKS_TABLE_NAME": "task-api-prod-tasks",
        "AWS_LAMBDA_FUNCTION_NAME": "task-api-prod",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    printed = json.loads(run_as_lambda(_DEPLOYED_PROBE, stage).stdout.strip().splitlines()[-1])
    for origin, (status, headers) in printed["answers"].items():
        assert status == 200
        assert cors_headers(headers) == {}, origin
    swagger = json.dumps(printed["swagger"])
    assert "Access-Control-Allow-Origin" not in swagger
    assert all("options" not in methods for methods in printed["swagger"]["paths"].values())


# --- a real `chalice local` -------------------------------------------------------------------


@pytest.fixture(scope="module")
@starts_a_process
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with running_local_server(tmp_path_factory.mktemp("local-origin")) as server:
        yield server


@pytest.fixture(scope="module")
@starts_a_process
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """`chalice local --stage dev`: the dev stage's configured origin, served locally."""
    with running_local_server(tmp_path_factory.mktemp("dev-origin"), stage="dev") as server:
        yield server


def options(server: LocalServer, path: str, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(server.base_url + path, method="OPTIONS", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, dict(response.headers)


def test_served_a_foreign_origin_with_a_forged_token_reads_nothing(
    local_server: LocalServer,
) -> None:
    alice = {"Authorization": dev_token.mint("alice")}
    status, _, task = local_server.request("POST", "/tasks", {"title": "secret"}, alice)
    assert status == 201
    for origin in FOREIGN_ORIGINS:
        status, headers, page = local_server.request(
            "GET", "/tasks", headers={**alice, "Origin": origin}
        )
        assert status == 200
        assert task["id"] in [t["id"] for t in page["items"]], "served, but unreadable"
        assert cors_headers(headers) == {}, origin
        assert "origin" in vary(headers)
        request = {"Origin": origin, "Access-Control-Request-Method": "DELETE", **alice}
        status, headers = options(local_server, f"/tasks/{task['id']}", request)
        assert (status, cors_headers(headers)) == (200, {}), origin


@pytest.mark.parametrize("origin", LOOPBACK_ORIGINS)
def test_served_a_loopback_origin_is_echoed(local_server: LocalServer, origin: str) -> None:
    status, headers, _ = local_server.request(
        "POST", "/tasks", {"title": "front end"}, {"Origin": origin}
    )
    assert status == 201
    assert_echoed(headers, origin)
    status, headers = options(
        local_server, "/tasks", {"Origin": origin, "Access-Control-Request-Method": "POST"}
    )
    assert status == 200
    assert_echoed(headers, origin)
    assert set(headers["Access-Control-Allow-Methods"].split(",")) == {"GET", "POST", "OPTIONS"}


@pytest.mark.parametrize("host", [h for h in FOREIGN_HOSTS if h])
def test_served_a_foreign_host_is_refused(local_server: LocalServer, host: str) -> None:
    alice = {"Authorization": dev_token.mint("alice")}
    for method, path in (("GET", "/tasks"), ("GET", "/"), ("DELETE", "/tasks/x")):
        status, headers, problem = local_server.request(
            method, path, headers={**alice, "Host": host}
        )
        assert_misdirected(status, headers, problem)


@pytest.mark.parametrize("host", LOOPBACK_HOSTS)
def test_served_a_loopback_host_is_answered(local_server: LocalServer, host: str) -> None:
    assert local_server.request("GET", "/health", headers={"Host": host})[0] == 200


def test_served_dev_stage_keeps_its_configured_origin(dev_server: LocalServer) -> None:
    configured = ".chalice/config.json: dev"
    origin = "http://localhost:3000"
    status, headers = options(
        dev_server, "/tasks", {"Origin": origin, "Access-Control-Request-Method": "POST"}
    )
    assert (status, headers["Access-Control-Allow-Origin"]) == (200, origin), configured
    for sent in (origin, "http://localhost:5173", "https://evil.example"):
        status, headers, _ = dev_server.request("GET", "/health", headers={"Origin": sent})
        assert (status, headers["Access-Control-Allow-Origin"]) == (200, origin), "never echoed"
    status, headers, problem = dev_server.request(
        "GET", "/health", headers={"Host": "evil.example"}
    )
    assert_misdirected(status, headers, problem)  # every stage chalice local serves
