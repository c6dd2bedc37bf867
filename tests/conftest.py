"""Shared fixtures: the app through chalice.test.Client on moto, and a bare table."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore.client import BaseClient
from chalice.test import Client
from moto import mock_aws

from app import app
from bench.page_bytes import largest_task  # noqa: F401  (the tests' largest task)
from chalicelib import runtime
from chalicelib.table import create_table
from chalicelib.tasks.schema import DEFAULTS, default_for
from devserver import patches, stream_poller

# The `external` marker and its guard (make check runs the tests without it).
from tests.external import (  # noqa: F401
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_runtest_protocol,
    pytest_runtest_teardown,
)
from tools import dev_token, dynamodb_local

PROJECT_DIR = Path(__file__).resolve().parent.parent
#: In this process the table's stream is read only when a test asks (``stream_poller.drain``),
#: so that a test decides when history is written and counts only its own requests. Servers
#: the tests start poll in the background, as `make run` does.
os.environ[stream_poller.POLLING_VARIABLE] = "manual"


@pytest.fixture(autouse=True, scope="session")
def _one_botocore_loader() -> Iterator[None]:
    """Every boto3 session of the run shares one loader of botocore's data files (service
    models, endpoints). A container builds its client once; the tests build one per case,
    and reading those JSON files again each time was a third of the suite's time."""
    loader = botocore.loaders.create_loader()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", lambda *_, **__: loader)
        yield


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


class Api:
    """A thin JSON wrapper over Chalice's test client."""

    def __init__(self, client: Client, headers: dict[str, str] | None = None) -> None:
        self._client = client
        self._http = client.http
        self._headers = headers or {}

    def as_user(self, username: str) -> Api:
        """The same app, called with a development ID token for ``username``."""
        return Api(self._client, {"Authorization": dev_token.mint(username)})

    def request(
        self,
        method: str,
        path: str,
        json_body: Any = None,
        *,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        headers = {**self._headers, **(headers or {})}
        if json_body is not None:
            body = json.dumps(json_body)
            headers.setdefault("Content-Type", "application/json")
        response = self._http.request(method, path, headers=headers, body=body or b"")
        return Reply(response.status_code, dict(response.headers), response.body)

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json_body: Any = None, **kwargs: Any) -> Reply:
        return self.request("POST", path, json_body, **kwargs)

    def put(self, path: str, json_body: Any = None, **kwargs: Any) -> Reply:
        return self.request("PUT", path, json_body, **kwargs)

    def patch(self, path: str, json_body: Any = None, **kwargs: Any) -> Reply:
        headers = {"Content-Type": "application/merge-patch+json", **kwargs.pop("headers", {})}
        return self.request("PATCH", path, json_body, headers=headers, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Reply:
        return self.request("DELETE", path, **kwargs)

    def create(self, **fields: Any) -> dict[str, Any]:
        reply = self.post("/tasks", {"title": "a task", **fields})
        assert reply.status == 201, reply.body
        return reply.json


LOCAL_TABLE = "tasks-local"  # the local stage's table (.chalice/config.json)


@contextlib.contextmanager
def serving_api(endpoint_url: str | None = None) -> Iterator[Api]:
    """The app as stage ``local`` serves it, on a fresh table: on moto (the embedded
    emulator) by default, or on the DynamoDB endpoint given (DynamoDB Local)."""
    with pytest.MonkeyPatch.context() as patch:
        if endpoint_url is None:
            patch.delenv("DYNAMODB_ENDPOINT_URL", raising=False)
            engine = mock_aws()  # no test can reach real AWS
        else:
            patch.setenv("DYNAMODB_ENDPOINT_URL", endpoint_url)
            for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
                patch.setenv(name, "local")  # DynamoDB Local takes any; never real ones
            patch.delenv("AWS_SESSION_TOKEN", raising=False)
            drop_table(endpoint_url, LOCAL_TABLE)  # the app creates it again, empty
            engine = contextlib.nullcontext()
        with engine:
            runtime.reset()
            patches.reset_telemetry()
            try:
                yield Api(Client(app, stage_name="local", project_dir=str(PROJECT_DIR)))
            finally:
                runtime.reset()
                patches.reset_telemetry()


def drop_table(endpoint_url: str, table_name: str) -> None:
    client = dynamodb_local.client(endpoint_url)
    with contextlib.suppress(client.exceptions.ResourceNotFoundException):
        client.delete_table(TableName=table_name)


#: The engines the HTTP-level tests run on. ``-m "not dynamodb_local"`` runs moto only.
ENGINES = [
    pytest.param("moto", id="moto"),
    pytest.param("dynamodb-local", id="dynamodb-local", marks=pytest.mark.dynamodb_local),
]


@pytest.fixture(scope="session")
def dynamodb_local_endpoint() -> Iterator[str]:
    """DYNAMODB_ENDPOINT_URL when it is set (for example the amazon/dynamodb-local docker
    image); otherwise AWS's DynamoDB Local, started here on a free port for the session (for
    each pytest-xdist worker: every worker has its own engine, so tables never collide)."""
    if os.environ.get("DYNAMODB_ENDPOINT_URL"):
        workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
        if workers > 1:
            pytest.fail(
                f"DYNAMODB_ENDPOINT_URL is one engine for {workers} pytest workers, whose tests "
                "create and drop the same tables: run them in one process (make test WORKERS=0)",
                pytrace=False,
            )
        yield os.environ["DYNAMODB_ENDPOINT_URL"]
        return
    require_dynamodb_local()
    with dynamodb_local.running() as engine:
        yield engine.endpoint_url


def engine_endpoint(request: pytest.FixtureRequest) -> str | None:
    """None for moto; DynamoDB Local's URL for the dynamodb-local parameter."""
    if request.param == "moto":
        return None
    return request.getfixturevalue("dynamodb_local_endpoint")


#: DynamoDB's data-plane operations: a test that sends one reaches the store. Provisioning
#: the local stage does on first use (DescribeTable, CreateTable, UpdateTimeToLive: see
#: chalicelib.table.ensure_table) is not one.
DATA_PLANE = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
        "ExecuteStatement",
        "BatchExecuteStatement",
        "ExecuteTransaction",
    }
)
_recordings: list[list[str]] = []  # one list per store_requests() now open
_BODY_PASSED = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def store_recorder() -> Iterator[None]:
    """Record every DynamoDB data-plane request into each open ``store_requests()``.

    Recorded in ``BaseClient._make_request``, below ``_make_api_call`` (which the embedded
    emulator's client wraps when it is built), once per call on both engines, before it is
    sent: a request that a fault answers or that raises was attempted, and counts. One
    patch for the session, set up before any test's own patches (a session fixture comes
    first), so the ``queries`` and ``dynamodb_calls`` fixtures patch on top of it.
    """
    original = BaseClient._make_request
    patches.record_original("botocore.client", "BaseClient._make_request", original)

    def record(client: Any, operation_model: Any, request_dict: Any, context: Any) -> Any:
        service = operation_model.service_model.service_name
        if service == "dynamodb" and operation_model.name in DATA_PLANE:
            for sent in _recordings:
                sent.append(operation_model.name)
        return original(client, operation_model, request_dict, context)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseClient, "_make_request", record)
        yield


@contextlib.contextmanager
def store_requests() -> Iterator[list[str]]:
    """The names of the data-plane requests sent while open (needs ``store_recorder``)."""
    sent: list[str] = []
    _recordings.append(sent)
    try:
        yield sent
    finally:
        _recordings.remove(sent)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep whether the test body passed, for the fixtures' checks on teardown."""
    report = yield
    if report.when == "call":
        item.stash[_BODY_PASSED] = report.passed
    return report


def _body_passed(request: pytest.FixtureRequest) -> bool:
    """Only a passing test is checked: a failure of its own is not masked."""
    return request.node.stash.get(_BODY_PASSED, False)


@pytest.fixture(params=ENGINES)
def api(request: pytest.FixtureRequest, store_recorder: None) -> Iterator[Api]:
    """The app through Chalice's test client, once on each engine: for a test that reaches
    the store, that is sends at least one data-plane request (checked when it passes)."""
    with serving_api(engine_endpoint(request)) as api, store_requests() as sent:
        yield api
    if _body_passed(request) and not sent:
        pytest.fail(
            "no DynamoDB data-plane request was sent: this test does not reach the store, so "
            "one engine answers it as well as two. Use the `app_only` fixture, not `api`.",
            pytrace=False,
        )


@pytest.fixture
def app_only(request: pytest.FixtureRequest, store_recorder: None) -> Iterator[Api]:
    """The app on moto only: for a test that never reaches the store (a request rejected
    before any read or write; checked when it passes)."""
    with serving_api() as api, store_requests() as sent:
        yield api
    if _body_passed(request) and sent:
        pytest.fail(
            f"DynamoDB data-plane requests were sent ({', '.join(sorted(set(sent)))}): this "
            "test reaches the store, so it must run on both engines. Use the `api` fixture, "
            "not `app_only`.",
            pytrace=False,
        )


BROWSER_SKIPPED = (
    "Browser tests did NOT run: no Chromium (apt-get install -y chromium, set TASKS_CHROMIUM, "
    "or run playwright install chromium)"
)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict, browser_type: Any) -> dict:
    """pytest-playwright's launch settings, with a system Chromium and its arguments. CI
    must run the browser tests (it installs Chromium); elsewhere a machine without one
    skips them, and the summary says so plainly."""
    from tests import browser

    settings = browser.launch_args()
    if "executable_path" not in settings and not Path(browser_type.executable_path).exists():
        if _in_ci():
            pytest.fail(BROWSER_SKIPPED + " and CI must run them")
        pytest.skip(BROWSER_SKIPPED)
    return {**browser_type_launch_args, **settings}


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


DYNAMODB_LOCAL_SKIPPED = "DynamoDB Local part did NOT run: Java (11+, 17 tested) is needed on PATH"


def require_dynamodb_local() -> None:
    """DynamoDB Local needs Java. CI must run it (install Java, never skip); elsewhere a
    machine without Java skips those tests, and the summary says so plainly."""
    if dynamodb_local.java_available():
        return
    if _in_ci():
        pytest.fail(DYNAMODB_LOCAL_SKIPPED + " and CI must run it")
    pytest.skip(DYNAMODB_LOCAL_SKIPPED)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say it loudly, above the skip list, when the real-engine half did not run."""
    skipped = terminalreporter.stats.get("skipped", [])
    count = sum(DYNAMODB_LOCAL_SKIPPED in str(getattr(r, "longrepr", "")) for r in skipped)
    if count:
        terminalreporter.write_sep("!", f"{count} tests: {DYNAMODB_LOCAL_SKIPPED}", red=True)


def fields(**overrides: Any) -> dict[str, Any]:
    """A task's writable fields with their defaults, as the store takes them."""
    return {**{k: default_for(k) for k in DEFAULTS}, "title": "t", **overrides}


def new_task(task_id: str, created: str = "2026-01-01T00:00:00.000000Z", **overrides: Any):
    """A complete task as the service hands it to the store for creation."""
    return {
        "id": task_id,
        **fields(**overrides),
        "createdAt": created,
        "updatedAt": created,
        "version": 1,
    }


class Clock:
    """The service's clock, set by hand: tests move time instead of sleeping."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(microseconds=1)  # strictly increasing, like real time
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)

    @property
    def epoch(self) -> int:
        return int(self.now.timestamp())


@pytest.fixture
def clock() -> Iterator[Clock]:
    """Use before the first request of a test: the services are built with it then
    (``runtime.use_clock``, the composition root's seam)."""
    fake = Clock()
    runtime.use_clock(fake)
    yield fake
    runtime.use_clock(None)


@pytest.fixture
def dynamodb_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the DynamoDB operations sent while the test runs."""
    calls: list[str] = []
    original = BaseClient._make_api_call

    def record(client: Any, operation: str, params: Any) -> Any:
        if client.meta.service_model.service_name == "dynamodb":
            calls.append(operation)
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", record)
    return calls


@pytest.fixture
def queries(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Each Query sent while the test runs: its Limit, and how many items DynamoDB read.
    (Recorded below ``_make_api_call``, which the embedded emulator's client wraps when it
    is built, so a client built before the test is seen too.)"""
    sent: list[dict[str, Any]] = []
    original = BaseClient._make_request

    def record(client: Any, operation_model: Any, request_dict: Any, context: Any) -> Any:
        http, parsed = original(client, operation_model, request_dict, context)
        if operation_model.name == "Query":
            limit = json.loads(request_dict["body"]).get("Limit")
            sent.append({"limit": limit, "read": parsed["ScannedCount"]})
        return http, parsed

    monkeypatch.setattr(BaseClient, "_make_request", record)
    return sent


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture
def table_name(dynamodb: Any) -> str:
    create_table(dynamodb, "tasks-test")
    return "tasks-test"
