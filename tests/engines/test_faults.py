"""DynamoDB misbehaving: throttling, an unreachable endpoint, time-outs, other errors.

Faults are injected into the app's own DynamoDB client with a botocore event handler
(``before-send``), so botocore's real retry logic (standard mode, bounded attempts)
runs on them; the back-off sleeps are recorded instead of slept. After every fault the
table is read directly: nothing was written, nothing half-created.

botocore calls every ``before-send`` handler and uses the first response, so moto's own
handler would still apply a request that a fault answered. The fault handler takes
moto's place on the app's client and hands it only the requests it lets through: as
with a real endpoint, a faulted request never reaches the engine.
"""

from __future__ import annotations

import json
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError
from moto.core.models import botocore_stubber

from chalicelib import runtime
from chalicelib.core.http import INSTANCE_PREFIX
from tests.conftest import LOCAL_TABLE, PROJECT_DIR, Api, require_dynamodb_local, serving_api
from tools import dynamodb_local

THROTTLING = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
]


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


@dataclass
class Faults:
    """What the next DynamoDB requests meet; None lets them through to the engine."""

    fail_with: Any = None  # an error code (str) or an exception to raise
    attempts: list[str] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)

    def handle(self, **kwargs: Any) -> Any:
        return self.before_send(**kwargs)  # looked up per call, so a test can swap it

    def before_send(self, request: Any, event_name: str, **kwargs: Any) -> Any:
        target = request.headers.get("X-Amz-Target", b"")
        operation = (target.decode() if isinstance(target, bytes) else target).rsplit(".", 1)[-1]
        if self.fail_with is None:
            return botocore_stubber(request=request, event_name=event_name, **kwargs)
        self.attempts.append(operation)
        if isinstance(self.fail_with, Exception):
            raise self.fail_with
        body = {"__type": f"com.amazonaws.dynamodb.v20120810#{self.fail_with}", "message": "x"}
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "fault"}
        return AWSResponse(request.url, 400, headers, _Body(json.dumps(body).encode()))


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Faults:
    injected = Faults()
    build = runtime.dynamodb_client

    def with_faults(*args: Any, **kwargs: Any) -> Any:
        client = build(*args, **kwargs)
        client.meta.events.unregister("before-send", botocore_stubber)
        client.meta.events.register_first("before-send.dynamodb", injected.handle)
        return client

    monkeypatch.setattr(runtime, "dynamodb_client", with_faults)
    fake_time = types.SimpleNamespace(sleep=injected.sleeps.append)
    monkeypatch.setattr(botocore.endpoint, "time", fake_time)
    return injected


@pytest.fixture
def faulty_api(faults: Faults) -> Iterator[Api]:
    with serving_api() as api:
        api.get("/tasks")  # the table exists before any fault is injected
        yield api


def table_items() -> list[dict[str, Any]]:
    """Every item of the local stage's table, read around the app (same moto backend)."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    return sorted(client.scan(TableName=LOCAL_TABLE)["Items"], key=json.dumps)


def assert_unavailable(reply: Any, faults: Faults) -> dict[str, Any]:
    assert reply.status == 503, reply.body
    assert reply.header("Content-Type") == "application/problem+json"
    assert reply.header("Retry-After") == "1"
    problem = reply.json
    assert problem["status"] == 503
    assert problem["instance"] == INSTANCE_PREFIX + reply.header("X-Request-Id")
    assert "Exception" not in problem["detail"]
    assert len(faults.attempts) == runtime.DYNAMODB_ATTEMPTS, "bounded retries, all used"
    return problem


WRITES = [
    ("POST", "/tasks", {"title": "new"}, {}),
    ("POST", "/tasks", {"title": "new"}, {"Idempotency-Key": "k-1"}),
    ("PUT", "/tasks/{id}", {"title": "replaced"}, {}),
    ("PUT", "/tasks/fresh-id", {"title": "created"}, {}),
    ("PATCH", "/tasks/{id}", {"title": "patched"}, {}),
    ("DELETE", "/tasks/{id}", None, {}),
]
READS = [("GET", "/tasks/{id}"), ("GET", "/tasks"), ("GET", "/tasks?tag=x&priority=high")]


def send(api: Api, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    content_type = "application/merge-patch+json" if method == "PATCH" else "application/json"
    if body is not None:
        headers = {"Content-Type": content_type, **headers}
        return api.request(method, path, body=json.dumps(body), headers=headers)
    return api.request(method, path, headers=headers)


@pytest.mark.parametrize("code", THROTTLING)
@pytest.mark.parametrize(("method", "path", "body", "headers"), WRITES)
def test_throttled_writes_are_503_with_retry_after_and_write_nothing(
    faulty_api: Api, faults: Faults, code: str, method: str, path: str, body: Any, headers: Any
) -> None:
    task = faulty_api.create(title="existing")
    before = table_items()
    faults.fail_with = code
    reply = send(faulty_api, method, path.format(id=task["id"]), body, headers)
    assert_unavailable(reply, faults)
    assert 0 < sum(faults.sleeps) <= 3.0, "jittered back-off: at most 1 s, then 2 s"
    assert table_items() == before
    faults.fail_with = None
    assert faulty_api.get(f"/tasks/{task['id']}").json == task


@pytest.mark.parametrize(("method", "path"), READS)
def test_throttled_reads_are_503(faulty_api: Api, faults: Faults, method: str, path: str) -> None:
    task = faulty_api.create(title="existing", tags=["x"], priority="high")
    faults.fail_with = "ProvisionedThroughputExceededException"
    assert_unavailable(faulty_api.request(method, path.format(id=task["id"])), faults)


def test_a_transaction_cancelled_by_throttling_is_503(faulty_api: Api, faults: Faults) -> None:
    """Idempotent creation is a transaction; DynamoDB reports throttling inside it as a
    cancellation reason."""
    before = table_items()

    def cancelled(request: Any, **kwargs: Any) -> Any:
        if b"TransactWriteItems" not in request.headers.get("X-Amz-Target", b""):
            return botocore_stubber(request=request, **kwargs)
        faults.attempts.append("TransactWriteItems")
        body = {
            "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            "message": "Transaction cancelled",
            "CancellationReasons": [{"Code": "ThrottlingError"}, {"Code": "None"}],
        }
        return AWSResponse(request.url, 400, {}, _Body(json.dumps(body).encode()))

    faults.before_send = cancelled  # type: ignore[method-assign]
    reply = faulty_api.post("/tasks", {"title": "t"}, headers={"Idempotency-Key": "k"})
    assert reply.status == 503
    assert reply.header("Retry-After") == "1"
    assert table_items() == before


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(endpoint_url="http://dynamodb"),
        ConnectTimeoutError(endpoint_url="http://dynamodb"),
        ReadTimeoutError(endpoint_url="http://dynamodb"),
    ],
    ids=["unreachable", "connect-timeout", "read-timeout"],
)
@pytest.mark.parametrize(("method", "path", "body", "headers"), WRITES[:3] + WRITES[4:])
def test_unreachable_or_timed_out_is_503_and_writes_nothing(
    faulty_api: Api,
    faults: Faults,
    error: Exception,
    method: str,
    path: str,
    body: Any,
    headers: Any,
) -> None:
    task = faulty_api.create(title="existing")
    before = table_items()
    faults.fail_with = error
    reply = send(faulty_api, method, path.format(id=task["id"]), body, headers)
    assert_unavailable(reply, faults)
    assert table_items() == before


@pytest.mark.parametrize(
    "code", ["ValidationException", "ResourceNotFoundException", "AccessDeniedException"]
)
def test_any_other_dynamodb_error_is_a_500_with_a_request_id_and_no_internals(
    faulty_api: Api, faults: Faults, code: str
) -> None:
    before = table_items()
    faults.fail_with = code
    reply = faulty_api.post("/tasks", {"title": "t"})
    assert reply.status == 500
    problem = reply.json
    assert problem["instance"] == INSTANCE_PREFIX + reply.header("X-Request-Id")
    text = reply.body.decode()
    for internal in (code, "Traceback", LOCAL_TABLE, "dynamodb", "botocore"):
        assert internal not in text
    assert len(faults.attempts) == 1, "not retried: a later attempt would fail the same way"
    assert table_items() == before


@pytest.mark.external
def test_a_stopped_dynamodb_local_is_a_503_and_recovers(monkeypatch: pytest.MonkeyPatch) -> None:
    """No injection at all: AWS's DynamoDB Local, stopped under a running app."""
    require_dynamodb_local()
    sleeps: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=sleeps.append))
    with dynamodb_local.running() as engine, serving_api(engine.endpoint_url) as api:
        task = api.create(title="kept")
        engine.process.terminate()
        engine.process.wait(timeout=30)
        sleeps.clear()  # DynamoDB Local's own start-up probe retried too
        reply = api.get(f"/tasks/{task['id']}")
        assert reply.status == 503
        assert reply.header("Retry-After") == "1"
        assert len(sleeps) == runtime.DYNAMODB_ATTEMPTS - 1
        assert api.post("/tasks", {"title": "lost?"}).status == 503


def test_an_unreachable_engine_before_the_first_request_is_a_503_too() -> None:
    """A development stage checks its table on first use; DynamoDB Local not started."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=lambda _: None))
        patch.setattr("tests.conftest.drop_table", lambda *args: None)
        with serving_api(closed) as api:
            reply = api.get("/tasks")
    assert reply.status == 503
    assert reply.header("Retry-After") == "1"


#: botocore's standard back-off before attempt i + 2: rand(0, 1) * min(1 s * 2**i, 20 s)
#: (1 s is the throttling scale; other errors use 25 ms for DynamoDB).
_BACKOFF_BASE_SECONDS, _BACKOFF_CAP_SECONDS = 1.0, 20.0


def worst_case_seconds(attempts: int) -> float:
    """The longest one AWS call can take: every attempt times out, every backoff is full."""
    per_attempt = runtime.CONNECT_TIMEOUT_SECONDS + runtime.READ_TIMEOUT_SECONDS
    backoff = sum(
        min(_BACKOFF_BASE_SECONDS * 2**retry, _BACKOFF_CAP_SECONDS) for retry in range(attempts - 1)
    )
    return attempts * per_attempt + backoff


def test_every_aws_call_ends_well_before_api_gateways_29_seconds() -> None:
    """The budget, from the client configuration itself: a list page that also reads the
    cursor secret (Secrets Manager, then DynamoDB) in the worst case."""
    dynamodb = worst_case_seconds(runtime.DYNAMODB_ATTEMPTS)
    secrets = worst_case_seconds(runtime.SECRETS_ATTEMPTS)
    assert (dynamodb, secrets) == (12.0, 7.0)
    assert dynamodb + secrets < 25 < 29
    config = runtime.aws_config(runtime.DYNAMODB_ATTEMPTS)
    assert config.retries == {"mode": "standard", "total_max_attempts": runtime.DYNAMODB_ATTEMPTS}
    assert (config.connect_timeout, config.read_timeout) == (1.0, 2.0)
    stages = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())["stages"]
    assert stages["dev"]["lambda_timeout"] == stages["prod"]["lambda_timeout"] == 25
