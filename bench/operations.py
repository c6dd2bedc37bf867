"""What each API operation costs: DynamoDB requests, consumed capacity, in-process latency.

The app is called through ``chalice.test.Client`` on the ``dev`` stage (JSON logs and EMF
metrics on, written to /dev/null), against a table on AWS's DynamoDB Local that already
holds the benchmark's tasks. A ``Meter`` on the app's own DynamoDB client counts every
request and the capacity DynamoDB reports for it; a Scan would fail the run.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from unittest import mock

import boto3
from chalice.test import Client

from bench.meter import Meter, percentile
from chalicelib import runtime
from devserver import patches
from infra import stages
from tools import dev_token

STAGE = "dev"
#: The single-item operations write as this owner, so the measured owner's list pages
#: hold exactly the loaded tasks.
WRITER = "bench-writer"
MERGE_PATCH = "application/merge-patch+json"
DESCRIPTION = "Call the supplier about the delivery window and confirm the new address."
COMMENT = {"body": "Called: the window moves to Thursday morning, 8 to 12."}


def stage_table() -> str:
    """The table the dev stage's app uses (its TASKS_TABLE_NAME)."""
    return stages.stage(STAGE).table_name


@dataclass
class Call:
    status: int
    headers: dict[str, str]
    body: Any
    milliseconds: float
    cost: dict[str, Any]
    #: The response body as it left the app (its bytes on the wire).
    raw: bytes = b""


class Bench:
    """The app on one DynamoDB endpoint, with a meter on its client."""

    def __init__(self, client: Client, meter: Meter, endpoint_url: str) -> None:
        self._client = client
        self.meter = meter
        self.endpoint_url = endpoint_url

    def call(
        self,
        method: str,
        path: str,
        owner: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Call:
        payload = None if body is None else json.dumps(body).encode()
        return self.send(method, path, owner, payload, headers, content_type)

    def send(
        self,
        method: str,
        path: str,
        owner: str,
        payload: bytes | None,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Call:
        """``call`` with the body's bytes as given: JSON that ``json.dumps`` cannot
        write (``1e400``, a number of 4,000 digits) or that fills the body limit exactly."""
        sent = {"Authorization": dev_token.mint("bench", sub=owner), **(headers or {})}
        if payload is not None:
            sent["Content-Type"] = content_type
        self.meter.reset()
        started = time.perf_counter()
        response = self._client.http.request(method, path, headers=sent, body=payload or b"")
        elapsed = (time.perf_counter() - started) * 1000
        cost = self.meter.snapshot()
        parsed = json.loads(response.body) if response.body else None
        return Call(
            response.status_code, dict(response.headers), parsed, elapsed, cost, response.body
        )


@contextlib.contextmanager
def app_on(endpoint_url: str) -> Iterator[Bench]:
    """The app, as the dev stage runs it, on ``endpoint_url``; its output discarded."""
    meter = Meter(forbidden=frozenset({"Scan"}))
    make_client = runtime.dynamodb_client
    environment = {
        "DYNAMODB_ENDPOINT_URL": endpoint_url,
        "TASKS_CURSOR_SECRETS": uuid.uuid4().hex * 2,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    with (
        mock.patch.dict(os.environ, environment),
        mock.patch.object(
            runtime, "dynamodb_client", lambda *a, **k: meter.attach(make_client(*a, **k))
        ),
        open(os.devnull, "w") as sink,
        contextlib.redirect_stdout(sink),
        warnings.catch_warnings(),
    ):
        # chalice's test client admits Cognito routes without verifying tokens (as
        # chalice local does); that is expected here, not news on every run.
        warnings.filterwarnings("ignore", "CognitoUserPoolAuthorizer", UserWarning)
        runtime.reset()
        patches.reset_telemetry()
        try:
            from app import app

            with Client(app, stage_name=STAGE) as client:
                yield Bench(client, meter, endpoint_url)
        finally:
            runtime.reset()
            patches.reset_telemetry()


class StreamCost:
    """What the stream consumer spends on the changes the calls made: their records read
    from DynamoDB Local's stream, each handed to the consumer alone, on the app's metered
    client, as Lambda would deliver them."""

    def __init__(self, bench: Bench) -> None:
        from botocore.config import Config

        from devserver.stream_poller import StreamPoller

        shared = runtime.shared()
        arn = shared.client.describe_table(TableName=shared.table_name)["Table"]
        streams = boto3.client(
            "dynamodbstreams",
            endpoint_url=bench.endpoint_url,
            region_name="us-east-1",
            config=Config(account_id_endpoint_mode="disabled"),
        )
        self._records: list[dict[str, Any]] = []
        self._poller = StreamPoller(
            streams, arn["LatestStreamArn"], lambda e, _: self._records.extend(e["Records"]), 1000
        )
        self._bench = bench
        self.skip()

    def skip(self) -> None:
        """Forget what is in the stream so far (the loaded tasks)."""
        self._poller.drain()
        self._records.clear()

    def measure(self) -> dict[str, Any]:
        from chalicelib.activity import consumer
        from chalicelib.activity.routes import activity_writer

        self._poller.drain()
        records, self._records = self._records, []
        costs = []
        for record in records:
            if consumer.change_of(record) is None:
                continue  # the consumer's own events: read, and ignored
            self._bench.meter.reset()
            if consumer.handle([record], activity_writer()):
                raise AssertionError("the consumer failed on a record")
            costs.append(self._bench.meter.snapshot())
        if not costs:
            raise AssertionError("no change reached the stream")
        requests = {c["requests"] for c in costs}
        if len(requests) != 1:
            raise AssertionError(f"changes of one operation cost different requests: {requests}")
        return {
            "changes": len(costs),
            "requests": requests.pop(),
            "operations": costs[-1]["operations"],
            "read_units": statistics.mean(c["read_units"] for c in costs),
            "write_units": statistics.mean(c["write_units"] for c in costs),
        }


def summary(calls: list[Call], expected_status: int) -> dict[str, Any]:
    """Requests and capacity per call (every call must cost the same number of
    requests), and latency percentiles over the calls."""
    wrong = [c for c in calls if c.status != expected_status]
    if wrong:
        raise AssertionError(f"expected {expected_status}, got {wrong[0].status}: {wrong[0].body}")
    requests = {c.cost["requests"] for c in calls}
    if len(requests) != 1:
        raise AssertionError(f"calls of one operation sent different request counts: {requests}")
    times = sorted(c.milliseconds for c in calls)
    return {
        "requests": requests.pop(),
        "operations": calls[-1].cost["operations"],
        "read_units": statistics.mean(c.cost["read_units"] for c in calls),
        "write_units": statistics.mean(c.cost["write_units"] for c in calls),
        "latency_ms": {
            "p50": round(percentile(times, 0.5), 2),
            "p99": round(percentile(times, 0.99), 2),
            "runs": len(times),
        },
    }


def task_body(number: int) -> dict[str, Any]:
    return {
        "title": f"Bench task {number}",
        "description": DESCRIPTION,
        "priority": "high",
        "dueDate": "2030-01-31",
        "tags": ["bench", "supplier"],
    }


def measure(bench: Bench, measured_owner: str, runs: int) -> dict[str, dict[str, Any]]:
    """Every operation, ``runs`` times each, in an order that leaves each its data."""
    results: dict[str, dict[str, Any]] = {}
    etags: dict[str, str] = {}

    def record(name: str, status: int, calls: list[Call]) -> list[Call]:
        results[name] = summary(calls, status)
        if name.startswith(("list page", "feed page", "history page", "comment list page")):
            results[name]["items"] = len(calls[0].body["items"])
        for call in calls:
            if call.body and "id" in call.body and "ETag" in call.headers:
                etags[call.body["id"]] = call.headers["ETag"]
        return calls

    def repeat(make: Callable[[int], Call]) -> list[Call]:
        return [make(i) for i in range(runs)]

    stream = StreamCost(bench)

    def history_of(name: str) -> None:
        results[f"history write, {name}"] = stream.measure()

    created = record(
        "create", 201, repeat(lambda i: bench.call("POST", "/tasks", WRITER, task_body(i)))
    )
    history_of("create")
    ids = [c.body["id"] for c in created]
    record(
        "create with Idempotency-Key",
        201,
        repeat(
            lambda i: bench.call(
                "POST", "/tasks", WRITER, task_body(i), {"Idempotency-Key": uuid.uuid4().hex}
            )
        ),
    )
    record("get", 200, repeat(lambda i: bench.call("GET", f"/tasks/{ids[i]}", WRITER)))
    record(
        "conditional get (304)",
        304,
        repeat(
            lambda i: bench.call(
                "GET", f"/tasks/{ids[i]}", WRITER, headers={"If-None-Match": etags[ids[i]]}
            )
        ),
    )
    stream.skip()  # the idempotent creates: as the creates above
    record(
        "replace",
        200,
        repeat(lambda i: bench.call("PUT", f"/tasks/{ids[i]}", WRITER, task_body(i + runs))),
    )
    history_of("replace")
    record(
        "patch",
        200,
        repeat(
            lambda i: bench.call(
                "PATCH", f"/tasks/{ids[i]}", WRITER, {"priority": "low"}, content_type=MERGE_PATCH
            )
        ),
    )
    history_of("patch")
    record(
        "patch with If-Match",
        200,
        repeat(
            lambda i: bench.call(
                "PATCH",
                f"/tasks/{ids[i]}",
                WRITER,
                {"status": "in_progress"},
                {"If-Match": etags[ids[i]]},
                content_type=MERGE_PATCH,
            )
        ),
    )
    stream.skip()  # the conditional patches: as the patches above
    comments = record(
        "comment create",
        201,
        repeat(lambda i: bench.call("POST", f"/tasks/{ids[i]}/comments", WRITER, COMMENT)),
    )
    history_of("comment")
    comment_paths = [f"/tasks/{ids[i]}/comments/{c.body['id']}" for i, c in enumerate(comments)]
    record("comment get", 200, repeat(lambda i: bench.call("GET", comment_paths[i], WRITER)))
    record(
        "comment patch with If-Match",
        200,
        repeat(
            lambda i: bench.call(
                "PATCH",
                comment_paths[i],
                WRITER,
                {"body": f"{COMMENT['body']} Confirmed."},
                {"If-Match": comments[i].headers["ETag"]},
                content_type=MERGE_PATCH,
            )
        ),
    )
    stream.skip()  # comment edits make no history
    later = repeat(lambda i: bench.call("POST", f"/tasks/{ids[i]}/comments", WRITER, COMMENT))
    stream.skip()  # as the comments above
    record(
        "comment list page",
        200,
        repeat(lambda i: bench.call("GET", f"/tasks/{ids[i]}/comments", WRITER)),
    )
    firsts = repeat(lambda i: bench.call("GET", f"/tasks/{ids[i]}/comments?limit=1", WRITER))
    record(
        "comment list page 2 (cursor)",
        200,
        repeat(
            lambda i: bench.call(
                "GET", f"/tasks/{ids[i]}/comments?cursor={firsts[i].body['nextCursor']}", WRITER
            )
        ),
    )
    record("comment delete", 204, repeat(lambda i: bench.call("DELETE", comment_paths[i], WRITER)))
    for i, comment in enumerate(later):  # the task's delete below is measured without comments
        bench.call("DELETE", f"/tasks/{ids[i]}/comments/{comment.body['id']}", WRITER)
    stream.skip()
    record("delete", 204, repeat(lambda i: bench.call("DELETE", f"/tasks/{ids[i]}", WRITER)))
    history_of("delete")
    histories = record(
        "history page",
        200,
        repeat(lambda i: bench.call("GET", f"/tasks/{ids[i]}/activity?limit=2", WRITER)),
    )
    record(
        "history page 2 (cursor)",
        200,
        repeat(
            lambda i: bench.call(
                "GET",
                f"/tasks/{ids[i]}/activity?limit=2&cursor={histories[i].body['nextCursor']}",
                WRITER,
            )
        ),
    )
    feed = record("feed page", 200, repeat(lambda i: bench.call("GET", "/activity", WRITER)))
    if len(feed[0].body["items"]) != 25 or feed[0].body["nextCursor"] is None:
        raise AssertionError("the writer's feed needs more than one full page of events")
    feed_cursor = feed[0].body["nextCursor"]
    record(
        "feed page 2 (cursor)",
        200,
        repeat(lambda i: bench.call("GET", f"/activity?cursor={feed_cursor}", WRITER)),
    )

    first = record("list page", 200, repeat(lambda i: bench.call("GET", "/tasks", measured_owner)))
    cursor = first[0].body["nextCursor"]
    if len(first[0].body["items"]) != 25 or cursor is None:
        raise AssertionError("the measured owner needs more than one full page of tasks")
    record(
        "list page 2 (cursor)",
        200,
        repeat(lambda i: bench.call("GET", f"/tasks?cursor={cursor}", measured_owner)),
    )
    record(
        "list page, status filter",
        200,
        repeat(lambda i: bench.call("GET", "/tasks?status=in_progress", measured_owner)),
    )
    record(
        "list page, tag filter",
        200,
        repeat(lambda i: bench.call("GET", "/tasks?tag=finance", measured_owner)),
    )
    return results
