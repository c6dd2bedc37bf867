"""The typical implementation (bench/baseline.py) behaves as the benchmarks describe it,
and its measurement on DynamoDB Local shows its flaws: a Scan that drops tasks past
1 MB, and a read before every update and delete."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bench import baseline, baseline_cost, meter
from bench.list_cost import make_tasks

TABLE = "typical-test"


@pytest.fixture
def typical(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The baseline's module-level table, pointed at a fresh moto table."""
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    previous = baseline.table
    with mock_aws():
        baseline.create_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
        yield baseline.configure(None, TABLE)
    baseline.table = previous


def send(method: str, task_id: str | None = None, body: Any = None) -> tuple[int, Any]:
    response = baseline.handler(baseline_cost.event(method, task_id, body), None)
    return response["statusCode"], json.loads(response["body"]) if response["body"] else None


def test_a_task_through_its_whole_life(typical: Any) -> None:
    status, created = send("POST", body={"title": "write report", "status": "new", "version": 1})
    assert status == 201
    assert created["title"] == "write report"
    assert created["id"]
    assert created["createdAt"]
    task_id = created["id"]

    assert send("GET", task_id) == (200, created)

    status, patched = send("PATCH", task_id, {"status": "completed"})
    assert status == 200
    assert patched["status"] == "completed"
    assert patched["title"] == "write report"  # merged into the stored task
    assert patched["version"] == 1  # a Decimal in DynamoDB, an int in JSON

    status, replaced = send("PUT", task_id, {"title": "write the report"})
    assert status == 200
    assert replaced["title"] == "write the report"
    assert send("GET", task_id)[1]["title"] == "write the report"

    assert send("DELETE", task_id) == (204, None)
    for method, body in (("GET", None), ("PATCH", {"title": "x"}), ("PUT", {}), ("DELETE", None)):
        assert send(method, task_id, body) == (404, {"message": "Task not found"})


def test_the_list_is_every_owners_tasks(typical: Any) -> None:
    for owner, task in make_tasks(30, 3):
        typical.put_item(Item={**task, "owner": owner})
    status, created = send("POST", body={"title": "no owner at all"})
    assert status == 201

    status, listed = send("GET")

    assert status == 200
    items = listed["items"]
    assert len(items) == 31
    assert len({item.get("owner") for item in items}) > 2  # no ownership
    assert created["id"] in {item["id"] for item in items}


def test_updates_and_deletes_read_first_and_the_list_scans(
    typical: Any, dynamodb_calls: list[str]
) -> None:
    task_id = send("POST", body={"title": "t"})[1]["id"]
    expected = {
        ("GET", None): ["Scan"],
        ("GET", task_id): ["GetItem"],
        ("PATCH", task_id): ["GetItem", "PutItem"],
        ("PUT", task_id): ["GetItem", "PutItem"],
        ("DELETE", task_id): ["GetItem", "DeleteItem"],
    }
    for (method, target), operations in expected.items():
        dynamodb_calls.clear()
        send(method, target, {"title": "u"} if method in ("PATCH", "PUT") else None)
        assert dynamodb_calls == operations, method


def test_bad_input_is_a_500(typical: Any) -> None:
    request = baseline_cost.event("POST")
    request["body"] = "{not json"
    assert baseline.handler(request, None)["statusCode"] == 500
    status, _ = send("POST", body={"title": "t", "estimate": 1.5})  # floats: TypeError
    assert status == 500


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert meter.percentile(values, 0.5) == 50
    assert meter.percentile(values, 0.99) == 99
    assert meter.percentile([7.0], 0.99) == 7


@pytest.mark.dynamodb_local
def test_measured_on_dynamodb_local_the_scan_drops_tasks(dynamodb_local_endpoint: str) -> None:
    result = baseline_cost.measure(dynamodb_local_endpoint, make_tasks(6000, 1), latency_runs=3)
    json.dumps(result)  # serialisable as is

    listing = result["list"]
    assert result["size"] == listing["stored"] == 6000
    assert listing["dropped"] > 0
    assert listing["returned"] + listing["dropped"] == listing["stored"]
    assert listing["read_units"] > 100  # one 1 MB Scan: about 128 units
    assert listing["table_bytes"] > 1_000_000
    operations = result["operations"]
    assert list(operations) == ["create", "get", "replace", "patch", "delete", "list"]
    assert operations["list"]["requests"] == {"Scan": 1}
    assert operations["list"]["read_units"] == listing["read_units"]
    assert operations["create"]["requests"] == {"PutItem": 1}
    assert operations["get"]["requests"] == {"GetItem": 1}
    assert operations["patch"]["requests"] == {"GetItem": 1, "PutItem": 1}
    assert operations["replace"]["requests"] == {"GetItem": 1, "PutItem": 1}
    assert operations["delete"]["requests"] == {"GetItem": 1, "DeleteItem": 1}
    assert operations["patch"]["request_count"] == 2
    assert operations["patch"]["read_units"] > 0
    assert operations["patch"]["write_units"] > 0
    assert operations["get"]["write_units"] == 0
    for row in operations.values():
        assert row["latency_ms"]["runs"] == 3
        assert 0 < row["latency_ms"]["p50"] <= row["latency_ms"]["p99"]
