"""Observability: what the API writes to stdout (logs and EMF metrics) and sends to X-Ray.

Most tests run the app as the ``dev`` stage serves it (JSON logs, metrics on, tokens
required) and read what it printed. The ``local`` stage is checked for readable lines
and no metrics; the X-Ray test runs the app in a fresh interpreter set up as Lambda,
with a UDP socket standing in for the X-Ray daemon.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.logging import logger as powertools_logger
from aws_lambda_powertools.metrics.provider import cold_start
from chalice.app import Request, Response
from chalice.test import Client
from moto import mock_aws

from app import app
from chalicelib import runtime, telemetry
from chalicelib.core import headers
from chalicelib.core import http as web
from chalicelib.core.errors import GATEWAY_PROBLEM
from chalicelib.core.http import INSTANCE_PREFIX
from chalicelib.table import create_table
from devserver import patches
from tests.conftest import (
    ENGINES,
    PROJECT_DIR,
    Api,
    Reply,
    drop_table,
    engine_endpoint,
)
from tools import dev_token

CONFIG = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
DEV = CONFIG["stages"]["dev"]["environment_variables"]
REQUEST_ID = re.compile(headers.REQUEST_ID_PATTERN)
EMAIL = "alice.secret@example.com"

DOCUMENT = json.loads((PROJECT_DIR / "openapi.json").read_text())


@contextlib.contextmanager
def serving_dev(endpoint_url: str | None) -> Iterator[Client]:
    """The app configured as stage ``dev``, on moto or on DynamoDB Local."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TASKS_CURSOR_SECRETS", "s" * 40)
        if endpoint_url is None:
            patch.delenv("DYNAMODB_ENDPOINT_URL", raising=False)
            engine: Any = mock_aws()
        else:
            patch.setenv("DYNAMODB_ENDPOINT_URL", endpoint_url)
            for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
                patch.setenv(name, "local")
            patch.delenv("AWS_SESSION_TOKEN", raising=False)
            engine = contextlib.nullcontext()
        with engine:
            if endpoint_url is None:
                dynamodb = boto3.client("dynamodb", region_name="us-east-1")
            else:
                drop_table(endpoint_url, DEV["TASKS_TABLE_NAME"])
                from tools import dynamodb_local

                dynamodb = dynamodb_local.client(endpoint_url)
            create_table(dynamodb, DEV["TASKS_TABLE_NAME"])
            runtime.reset()
            patches.reset_telemetry()
            try:
                yield Client(app, stage_name="dev", project_dir=str(PROJECT_DIR))
            finally:
                runtime.reset()
                patches.reset_telemetry()


@pytest.fixture(params=ENGINES)
def dev(request: pytest.FixtureRequest) -> Iterator[Api]:
    """Alice, with an ID token that also carries her e-mail, on stage dev."""
    with serving_dev(engine_endpoint(request)) as client:
        api = Api(client, {"Authorization": dev_token.mint("alice", email=EMAIL)})
        api.get("/health")  # the container is warm: cold-start tests reset it themselves
        yield api


@pytest.fixture
def moto_dev() -> Iterator[Api]:
    with serving_dev(None) as client:
        yield Api(client, {"Authorization": dev_token.mint("alice", email=EMAIL)})


def printed(capsys: pytest.CaptureFixture[str]) -> tuple[list[dict], list[dict]]:
    """(log lines, EMF documents) printed since the last call. Every line must be JSON."""
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    return [d for d in lines if "_aws" not in d], [d for d in lines if "_aws" in d]


def request_line(logs: list[dict], reply: Reply) -> dict:
    """The one request line of the reply's request."""
    rid = reply.header("X-Request-Id")
    lines = [d for d in logs if d.get("correlation_id") == rid and "status" in d]
    assert len(lines) == 1, logs
    return lines[0]


def metrics_named(documents: list[dict], name: str) -> list[dict]:
    return [
        d
        for d in documents
        for directive in d["_aws"]["CloudWatchMetrics"]
        if name in {m["Name"] for m in directive["Metrics"]}
    ]


def fresh_container() -> None:
    """Powertools keeps its cold-start flags per process; a test that asserts them starts
    a new 'container'."""
    powertools_logger.is_cold_start = True
    cold_start.reset_cold_start_flag()
    runtime.reset()
    patches.reset_telemetry()


# --- the log line -----------------------------------------------------------------------------


def test_one_json_line_per_request_with_the_request_fields(dev: Api, capsys) -> None:
    printed(capsys)
    reply = dev.post("/tasks", {"title": "Buy milk"})
    assert reply.status == 201
    logs, _ = printed(capsys)
    line = request_line(logs, reply)
    assert line["message"] == "POST /tasks 201"
    assert line["level"] == "INFO"
    assert (line["method"], line["route"], line["status"]) == ("POST", "/tasks", 201)
    assert isinstance(line["latency_ms"], float)
    assert line["latency_ms"] >= 0
    assert line["cold_start"] is False
    assert line["service"] == telemetry.SERVICE
    assert line["correlation_id"] == reply.header("X-Request-Id")
    assert line["request_id"] == line["function_request_id"]  # no gateway id in tests
    assert line["owner_hash"] == telemetry.owner_hash(dev_token.subject("alice"))
    assert re.fullmatch(r"[0-9a-f]{16}", line["owner_hash"])
    assert line["dynamodb"]["requests"] == 1
    assert line["dynamodb"]["write_units"] > 0
    assert {"timestamp", "location", "function_name", "sampling_rate"} <= line.keys()


def test_the_route_is_the_template_and_the_owner_is_anonymous_on_open_routes(
    moto_dev: Api, capsys
) -> None:
    task = moto_dev.create()
    printed(capsys)
    reply = moto_dev.get(f"/tasks/{task['id']}")
    health = Api(moto_dev._client).get("/health")
    logs, _ = printed(capsys)
    assert request_line(logs, reply)["route"] == "/tasks/{task_id}"
    health_line = request_line(logs, health)
    assert health_line["route"] == "/health"
    assert "owner_hash" not in health_line  # no token on an open route: no owner


def test_cold_start_is_true_on_the_first_request_only(moto_dev: Api, capsys) -> None:
    fresh_container()
    printed(capsys)
    first, second = moto_dev.get("/health"), moto_dev.get("/health")
    logs, documents = printed(capsys)
    assert request_line(logs, first)["cold_start"] is True
    assert request_line(logs, second)["cold_start"] is False
    (cold,) = metrics_named(documents, telemetry.COLD_START)
    assert cold[telemetry.COLD_START] == [1.0]
    assert cold["_aws"]["CloudWatchMetrics"][0]["Namespace"] == DEV["POWERTOOLS_METRICS_NAMESPACE"]


def test_an_error_line_has_the_exception_and_the_request_line_is_an_error(
    moto_dev: Api, capsys, monkeypatch
) -> None:
    from chalicelib.tasks import store

    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(store.DynamoTaskStore, "get", explode)
    printed(capsys)
    reply = moto_dev.get("/tasks/some-id")
    assert reply.status == 500
    logs, _ = printed(capsys)
    rid = reply.header("X-Request-Id")
    (error,) = [d for d in logs if d["message"] == "Unhandled error"]
    assert (error["level"], error["correlation_id"]) == ("ERROR", rid)
    assert error["exception_name"] == "RuntimeError"
    assert "RuntimeError: the disk is on fire" in error["exception"]
    assert request_line(logs, reply)["level"] == "ERROR"


def test_a_failure_to_record_telemetry_never_changes_the_response(
    moto_dev: Api, capsys, monkeypatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise ValueError("metrics backend broke")

    monkeypatch.setattr(telemetry, "_publish", broken)
    printed(capsys)
    reply = moto_dev.post("/tasks", {"title": "t"})
    assert reply.status == 201
    logs, _ = printed(capsys)
    assert any(d["message"] == "Could not record the request's telemetry" for d in logs)


# --- X-Request-Id -----------------------------------------------------------------------------


def _explode(*args: Any, **kwargs: Any) -> None:
    raise RuntimeError("boom")


#: One request per kind of answer: success, 304, and errors from each layer.
ANSWERS = [
    ("GET", "/health", None, {}, 200),
    ("GET", "/openapi.json", None, {}, 200),
    ("POST", "/tasks", {"title": "t"}, {}, 201),
    ("GET", "/tasks/{id}", None, {}, 200),
    ("GET", "/tasks/{id}", None, {"If-None-Match": "{etag}"}, 304),
    ("GET", "/tasks/missing", None, {}, 404),
    ("POST", "/tasks", {"title": ""}, {}, 400),
    ("POST", "/tasks", "not json", {"Content-Type": "application/json"}, 400),
    ("POST", "/tasks", {"title": "t"}, {"Content-Type": "text/plain"}, 415),
    ("PATCH", "/tasks/{id}", {"title": "x"}, {"If-Match": '"9.20260101000000000000"'}, 412),
    ("GET", "/tasks", None, {"token": "none"}, 401),  # the app's 401
    ("GET", "/tasks", None, {"Authorization": "not-a-jwt"}, 401),  # the gateway's 401
    ("GET", "/tasks/{id}", None, {"explode": "yes"}, 500),
]


@pytest.mark.parametrize(("method", "path", "body", "extra", "status"), ANSWERS)
def test_every_response_carries_x_request_id_and_problems_name_it_in_instance(
    moto_dev: Api, capsys, monkeypatch, method, path, body, extra, status
) -> None:
    task = moto_dev.create()
    path = path.replace("{id}", task["id"])
    extra = {k: v.replace("{etag}", f'"{task["version"]}.x"') for k, v in extra.items()}
    if extra.pop("explode", None):
        from chalicelib.tasks import store

        monkeypatch.setattr(store.DynamoTaskStore, "get", _explode)
    if status == 304:
        extra["If-None-Match"] = moto_dev.get(path).header("ETag")
    caller = Api(moto_dev._client) if extra.pop("token", None) else moto_dev
    gateway = "Authorization" in extra  # rejected before the app runs
    printed(capsys)
    if isinstance(body, str):
        reply = caller.request(method, path, body=body, headers=extra)
    elif method == "PATCH":
        reply = caller.patch(path, body, headers=extra)
    else:
        reply = caller.request(method, path, body, headers=extra)
    assert reply.status == status, reply.body
    rid = reply.header("X-Request-Id")
    assert rid
    assert REQUEST_ID.fullmatch(rid)
    if reply.status >= 400:
        assert reply.header("Content-Type") == web.PROBLEM_JSON
        assert reply.json["instance"] == INSTANCE_PREFIX + rid
    logs, _ = printed(capsys)
    if gateway:
        assert reply.json["type"] == GATEWAY_PROBLEM
        assert logs == [], "the gateway answered: the app never ran"
    else:
        assert request_line(logs, reply)["status"] == status


@pytest.mark.parametrize("sent", ["checkout-7f3a2c", "01HZX3J8K2M4N6P8Q0R2S4T6V8", "a:b.c_d-e"])
def test_a_well_formed_client_request_id_is_honoured(moto_dev: Api, capsys, sent: str) -> None:
    printed(capsys)
    ok = moto_dev.get("/tasks", headers={"X-Request-Id": sent})
    missing = moto_dev.get("/tasks/nope", headers={"X-Request-Id": sent})
    logs, _ = printed(capsys)
    assert ok.header("X-Request-Id") == missing.header("X-Request-Id") == sent
    assert missing.json["instance"] == INSTANCE_PREFIX + sent
    lines = [d for d in logs if d.get("correlation_id") == sent and "status" in d]
    assert len(lines) == 2  # (dev samples 10 % of requests at DEBUG: those lines too)
    assert all(line["request_id"] != sent for line in lines), "the gateway's id stays too"


@pytest.mark.parametrize("sent", ["has space", "x" * 129, "é", "a/b", "", "<script>"])
def test_a_malformed_client_request_id_is_replaced_not_refused(
    moto_dev: Api, capsys, sent: str
) -> None:
    printed(capsys)
    reply = moto_dev.get("/tasks", headers={"X-Request-Id": sent})
    assert reply.status == 200
    rid = reply.header("X-Request-Id")
    assert rid != sent
    assert REQUEST_ID.fullmatch(rid)
    logs, _ = printed(capsys)
    line = request_line(logs, reply)
    assert line["correlation_id"] == line["request_id"] == rid
    assert sent not in json.dumps(logs) or sent == ""


def test_a_failure_outside_the_views_is_still_a_problem_with_the_id(capsys) -> None:
    event = {
        "requestContext": {"resourcePath": "/health", "httpMethod": "GET", "requestId": "gw-9"},
        "headers": {"x-request-id": "mine-1"},
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "body": None,
    }

    def failing(_: Request) -> Response:
        raise KeyError("middleware bug")

    patches.reset_telemetry()
    response = telemetry.observe_request(Request(event), failing)
    assert response.status_code == 500
    assert response.headers["X-Request-Id"] == "mine-1"
    assert response.body["instance"] == INSTANCE_PREFIX + "mine-1"
    out = capsys.readouterr().out
    assert "mine-1" in out
    assert "KeyError" in out
    patches.reset_telemetry()


# --- metrics ----------------------------------------------------------------------------------


def test_each_request_emits_emf_by_route_method_and_status_class(dev: Api, capsys) -> None:
    printed(capsys)
    created = dev.post("/tasks", {"title": "t"})
    missing = dev.get("/tasks/nope")
    _, documents = printed(capsys)
    requests = metrics_named(documents, telemetry.REQUESTS)
    assert len(requests) == 2
    for document, route, method, status_class in [
        (requests[0], "/tasks", "POST", "2xx"),
        (requests[1], "/tasks/{task_id}", "GET", "4xx"),
    ]:
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == DEV["POWERTOOLS_METRICS_NAMESPACE"]
        assert directive["Dimensions"] == [
            ["Route", "Method", "StatusClass", "service"],
            ["service", "StatusClass"],
        ]
        assert directive["Metrics"] == [
            {"Name": "Requests", "Unit": "Count"},
            {"Name": "Latency", "Unit": "Milliseconds"},
        ]
        assert (document["Route"], document["Method"]) == (route, method)
        assert (document["StatusClass"], document["service"]) == (status_class, "task-api")
        assert document["Requests"] == [1.0]
        assert document["Latency"][0] >= 0
    assert created.status == 201
    assert missing.status == 404


def test_a_published_version_also_counts_its_own_requests_by_status_class(
    dev: Api, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a canary's alarms watch: the new version's requests, apart from the old's."""
    for version, expected in (
        ("7", ["service", "FunctionVersion", "StatusClass"]),
        ("$LATEST", None),
    ):
        monkeypatch.setenv(telemetry.FUNCTION_VERSION_ENV, version)
        printed(capsys)
        assert dev.get("/tasks/nope").status == 404
        _, documents = printed(capsys)
        (document,) = metrics_named(documents, telemetry.REQUESTS)
        sets = document["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
        if expected is None:
            assert len(sets) == 2
            assert "FunctionVersion" not in document
        else:
            assert sets[2] == expected
            assert (document["FunctionVersion"], document["StatusClass"]) == (version, "4xx")


OPERATIONS = [
    ("POST", "/tasks", {"title": "t"}, {}, "write"),
    ("POST", "/tasks", {"title": "t"}, {"Idempotency-Key": "k-1"}, "write"),
    ("GET", "/tasks/{id}", None, {}, "read"),
    ("PUT", "/tasks/{id}", {"title": "u"}, {}, "write"),
    ("PATCH", "/tasks/{id}", {"title": "v"}, {}, "write"),
    ("DELETE", "/tasks/{id}", None, {}, "write"),
    ("GET", "/tasks", None, {}, "read"),
    ("GET", "/tasks?status=new", None, {}, "read"),
]


@pytest.mark.parametrize(("method", "path", "body", "extra", "kind"), OPERATIONS)
def test_dynamodb_cost_per_operation_is_one_request_and_its_capacity(
    dev: Api, capsys, request, method, path, body, extra, kind
) -> None:
    task = dev.create()
    path = path.replace("{id}", task["id"])
    printed(capsys)
    if method == "PATCH":
        reply = dev.patch(path, body, headers=extra)
    else:
        reply = dev.request(method, path, body, headers=extra)
    assert reply.status < 300, reply.body
    logs, documents = printed(capsys)
    (cost,) = metrics_named(documents, telemetry.DYNAMODB_REQUESTS)
    assert cost["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Route", "Method", "service"]]
    assert cost["Method"] == method
    assert cost[telemetry.DYNAMODB_REQUESTS] == [1.0]
    consumed = cost["ConsumedReadCapacity" if kind == "read" else "ConsumedWriteCapacity"][0]
    other = cost["ConsumedWriteCapacity" if kind == "read" else "ConsumedReadCapacity"][0]
    assert other == 0
    # moto reports no ConsumedCapacity for TransactWriteItems; DynamoDB Local does.
    if not (request.node.callspec.params["dev"] == "moto" and "Idempotency-Key" in extra):
        assert consumed > 0
    assert request_line(logs, reply)["dynamodb"]["requests"] == 1


def test_the_local_stage_writes_readable_lines_and_no_metrics(api: Api, capsys) -> None:
    fresh_container()  # the ColdStart document would be the first to leak
    capsys.readouterr()
    reply = api.post("/tasks", {"title": "t"})
    out = capsys.readouterr().out
    assert "_aws" not in out
    (line,) = [text for text in out.splitlines() if "POST /tasks 201" in text]
    rid = reply.header("X-Request-Id")
    assert re.fullmatch(
        rf"\d\d:\d\d:\d\d\.\d{{3}} INFO    POST /tasks 201  cold_start=true  "
        rf"correlation_id={rid}  latency_ms=[\d.]+  owner_hash=[0-9a-f]{{16}}  "
        r"dynamodb=requests=1",  # no capacity: asked for only where metrics record it
        line,
    ), line


# --- what never reaches a log -----------------------------------------------------------------


def test_no_token_email_owner_or_task_content_is_ever_logged(
    moto_dev: Api, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")  # the most verbose a stage can be
    fresh_container()
    telemetry.logger()
    token = moto_dev._headers["Authorization"]
    secret = {"title": "Title-7Q2", "description": "Desc-9Z4", "tags": ["tag-x81"]}
    printed(capsys)
    created = moto_dev.post("/tasks", secret, headers={"Idempotency-Key": "idem-k55"})
    task_id = created.json["id"]
    moto_dev.get(f"/tasks/{task_id}")
    moto_dev.patch(f"/tasks/{task_id}", {"title": "Title-7Q2-b"})
    moto_dev.put(f"/tasks/{task_id}", {**secret, "title": "Title-7Q2-c"})
    moto_dev.get("/tasks?tag=tag-x81")
    moto_dev.post("/tasks", {"title": "Title-7Q2" * 100})  # 400: too long
    moto_dev.post("/tasks", {"title": "Title-7Q2", "priority": "Prio-x3"})  # 400
    from chalicelib.tasks import store

    monkeypatch.setattr(store.DynamoTaskStore, "upsert", _explode)
    moto_dev.put(f"/tasks/{task_id}", {"title": "Title-7Q2-d"})  # 500
    out = capsys.readouterr().out
    assert '"level":"DEBUG"' in out, "the DEBUG lines were written and are checked too"
    for forbidden in [
        token,
        token.split(".")[1],  # the claims, base64
        EMAIL,
        dev_token.subject("alice"),
        "Title-7Q2",
        "Desc-9Z4",
        "tag-x81",
        "Prio-x3",
        "idem-k55",
    ]:
        assert forbidden not in out, forbidden


# --- tracing ----------------------------------------------------------------------------------


def test_tracing_is_off_outside_lambda_and_where_the_stage_disables_it(monkeypatch) -> None:
    patches.reset_telemetry()
    assert telemetry.tracer() is None  # no LAMBDA_TASK_ROOT here
    patches.reset_telemetry()
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(PROJECT_DIR))
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    assert telemetry.tracer() is None
    patches.reset_telemetry()


@pytest.mark.external
def test_serving_without_tracing_never_loads_the_xray_sdk() -> None:
    """A disabled Tracer would still import the X-Ray SDK (about 200 ms)."""
    probe = _LAMBDA_PROBE + "import sys; print('aws_xray_sdk' in sys.modules)"
    process = run_as_lambda(probe, CONFIG["stages"]["local"]["environment_variables"])
    assert process.stdout.strip().splitlines()[-1] == "False"
    assert '"statusCode": 200' in process.stdout


_LAMBDA_PROBE = """
import json, os, app

class Context:
    function_name = "task-api-dev"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:task-api-dev"
    aws_request_id = "lambda-1"

    def get_remaining_time_in_millis(self):
        return 20000

event = {
    "resource": "/health", "path": "/health", "httpMethod": "GET",
    "headers": {"X-Request-Id": "trace-me-1"},
    "multiValueHeaders": {"X-Request-Id": ["trace-me-1"]},
    "queryStringParameters": None, "multiValueQueryStringParameters": None,
    "pathParameters": None, "stageVariables": None, "body": None, "isBase64Encoded": False,
    "requestContext": {"resourcePath": "/health", "httpMethod": "GET", "path": "/api/health",
                       "requestId": "gateway-1", "identity": {"sourceIp": "203.0.113.9"}},
}
print(json.dumps(app.app(event, Context())))
"""


def run_as_lambda(probe: str, stage_variables: dict[str, str]) -> subprocess.CompletedProcess:
    """``probe`` in a fresh interpreter with only these stage variables (no AWS_ or
    POWERTOOLS_ variable of the test process leaks in); it must exit 0."""
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))},
        **stage_variables,
    }
    process = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=PROJECT_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode == 0, process.stderr
    return process


@pytest.mark.external
def test_in_lambda_each_request_is_an_xray_subsegment_annotated_with_its_id() -> None:
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    daemon.bind(("127.0.0.1", 0))
    daemon.settimeout(10)
    environment = {
        **DEV,
        "LAMBDA_TASK_ROOT": str(PROJECT_DIR),
        "AWS_LAMBDA_FUNCTION_NAME": "task-api-dev",
        "AWS_REGION": "us-east-1",
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;"
        "Sampled=1",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
        "POWERTOOLS_TRACE_DISABLED": "false",  # off on every stage unless it opts in
    }
    process = run_as_lambda(_LAMBDA_PROBE, environment)
    response = json.loads(process.stdout.strip().splitlines()[-1])
    assert response["headers"]["X-Request-Id"] == "trace-me-1"
    header, _, body = daemon.recv(65535).decode().partition("\n")
    daemon.close()
    assert json.loads(header) == {"format": "json", "version": 1}
    segment = json.loads(body)
    assert segment["name"] == "## api_handler"
    assert segment["trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert segment["annotations"] == {
        "RequestId": "trace-me-1",
        "Route": "GET /health",
        "Status": 200,
        "ColdStart": True,
        "Service": "task-api",
    }
    assert "metadata" not in segment or "response" not in json.dumps(segment["metadata"])
    logs = [json.loads(line) for line in process.stdout.splitlines()[:-1]]
    (line,) = [d for d in logs if d.get("message") == "GET /health 200"]
    assert line["xray_trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert (line["request_id"], line["correlation_id"]) == ("gateway-1", "trace-me-1")
    assert line["function_request_id"] == "lambda-1"


# --- configuration per stage ------------------------------------------------------------------


def test_each_stage_sets_its_log_format_level_sampling_metrics_and_tracing() -> None:
    stages = CONFIG["stages"]
    local = stages["local"]["environment_variables"]
    assert local["TASKS_LOG_FORMAT"] == "pretty"
    assert local["POWERTOOLS_METRICS_DISABLED"] == local["POWERTOOLS_TRACE_DISABLED"] == "true"
    for name in ("dev", "prod"):
        variables = stages[name]["environment_variables"]
        # Lambda's active tracing, without the X-Ray SDK's subsegments (an opt-in).
        assert stages[name]["xray"] is True
        assert variables["POWERTOOLS_TRACE_DISABLED"] == "true"
        assert variables["TASKS_LOG_FORMAT"] == "json"
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == f"task-api/{name}"
        assert variables["POWERTOOLS_LOG_LEVEL"] in {"DEBUG", "INFO", "WARNING"}
        assert 0 < float(variables["POWERTOOLS_LOGGER_SAMPLE_RATE"]) <= 1
        assert "POWERTOOLS_METRICS_DISABLED" not in variables
    assert float(stages["prod"]["environment_variables"]["POWERTOOLS_LOGGER_SAMPLE_RATE"]) < float(
        stages["dev"]["environment_variables"]["POWERTOOLS_LOGGER_SAMPLE_RATE"]
    )
    assert CONFIG["app_name"] == app.app_name == telemetry.SERVICE


def test_owner_hash_is_stable_short_and_not_the_owner() -> None:
    sub = dev_token.subject("alice")
    assert telemetry.owner_hash(sub) == telemetry.owner_hash(sub)
    assert telemetry.owner_hash(sub) != telemetry.owner_hash(dev_token.subject("bob"))
    assert sub not in telemetry.owner_hash(sub)
    assert len(telemetry.owner_hash(sub)) == 16


def test_every_status_the_api_answers_has_a_class_the_alarms_know() -> None:
    operations = [op for path in DOCUMENT["paths"].values() for op in path.values()]
    statuses = {int(status) for op in operations for status in op["responses"]}
    assert {telemetry.status_class(s) for s in statuses} <= set(telemetry.STATUS_CLASSES)
    assert telemetry.status_class(503) == "5xx"


def test_setting_the_same_level_again_leaves_the_loggers_caches_alone() -> None:
    """Powertools sets the level on every sampled-rate invocation; only a change may clear
    the standard library's per-logger level caches."""
    base = telemetry._SteadyLevelLogger("steady-probe")
    other = logging.getLogger("steady-probe-other")
    base.setLevel(logging.INFO)
    assert other.isEnabledFor(logging.DEBUG) in (True, False)  # fills its cache
    assert other._cache
    base.setLevel(logging.INFO)
    base.setLevel("INFO")
    assert other._cache  # untouched
    base.setLevel(logging.DEBUG)
    assert base.level == logging.DEBUG
    assert not other._cache  # a real change clears every cache, as the standard library does


def test_a_text_message_stays_text_and_a_json_one_is_still_parsed() -> None:
    assert telemetry._json_or_text("GET /tasks 200") == "GET /tasks 200"
    assert telemetry._json_or_text('{"a": [1]}') == {"a": [1]}
    assert telemetry._json_or_text("[1, 2]") == [1, 2]
    with pytest.raises(ValueError, match="Expecting"):  # Powertools catches it, keeps the text
        telemetry._json_or_text("{not json")
