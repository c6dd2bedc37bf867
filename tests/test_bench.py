"""The benchmark suite's own logic: its meter, and budgets that fail when they should.

The suite itself runs in CI as `make bench QUICK=1` (a measurement, not a test); these
tests check that what it reports can fail."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bench import report, suite
from bench.meter import Meter
from chalicelib.table import create_table


def _operation(requests: int = 1, read: float = 0.0, write: float = 1.0) -> dict[str, Any]:
    return {
        "requests": requests,
        "operations": {"PutItem": requests},
        "read_units": read,
        "write_units": write,
        "latency_ms": {"p50": 3.0, "p99": 9.0, "runs": 20},
        "items": 25,
    }


def _typical(size: int) -> dict[str, Any]:
    cost = {"requests": {"GetItem": 1, "PutItem": 1}, "request_count": 2}
    operation = {**cost, "read_units": 0.5, "write_units": 1.0}
    operation["latency_ms"] = {"p50": 4.0, "p99": 8.0, "runs": 20}
    operations = {name: dict(operation) for name in ("create", "get", "replace", "patch")}
    operations |= {"delete": dict(operation), "list": dict(operation)}
    returned = min(size, 3000)
    return {
        "operations": operations,
        "list": {"stored": size, "returned": returned, "dropped": size - returned, "read_units": 9},
    }


def _results(page_units: dict[int, float]) -> dict[str, Any]:
    sizes = []
    for size, units in page_units.items():
        ours = {name: _operation() for name in suite.ONE_REQUEST}
        ours["list page"] = _operation(read=units, write=0)
        ours["list page, tag filter"] = _operation(requests=3, read=7, write=0)
        sizes.append({"size": size, "ours": ours, "typical": _typical(size)})
    return {
        "command": "make bench",
        "seconds": 1.0,
        "runs": 20,
        "machine": report.machine(),
        "sizes": sizes,
        "heavy_page": {"capacity_units": 2.5, "size": 100, "operations": {"Query": 1}},
        "cold_start": {
            "floor_ms": 300.0,
            "app_ms": 400.0,
            "app_import_ms": 250.0,
            "app_first_request_ms": 150.0,
            "gap_ms": 100.0,
            "runs": 7,
        },
        "package": {"bytes": 700_000, "by_format": {"cloudformation": 700_000}},
    }


def _failed(results: dict[str, Any]) -> list[str]:
    return [check["budget"] for check in suite.budgets(results) if not check["ok"]]


def test_measured_figures_within_budget_pass() -> None:
    assert _failed(_results({100: 2.0, 1000: 2.0, 10000: 2.0})) == []


def test_each_budget_fails_when_broken() -> None:
    good = _results({100: 1.5, 10000: 1.5})
    two_requests = copy.deepcopy(good)
    two_requests["sizes"][1]["ours"]["patch"]["requests"] = 2
    assert _failed(two_requests) == ["patch: exactly 1 DynamoDB request"]

    expensive = _results({100: 2.0, 10000: 2.5})
    assert _failed(expensive) == [
        "25-item list page: at most 2 RCU at every size",
        "list page at 10,000 within 10% of 100",
    ]
    growing = _results({100: 1.5, 10000: 1.7})
    assert _failed(growing) == ["list page at 10,000 within 10% of 100"]

    slow = copy.deepcopy(good)
    slow["cold_start"]["gap_ms"] = 150.1
    assert _failed(slow) == ["cold start at most the boto3 floor + 150 ms"]

    large = copy.deepcopy(good)
    large["package"]["bytes"] = 2 * 1024 * 1024 + 1
    assert _failed(large) == ["deployment package at most 2 MB"]


def test_the_report_shows_every_budget_and_the_baseline() -> None:
    results = _results({100: 2.0, 10000: 2.0})
    results["budgets"] = suite.budgets(results)
    text = report.markdown(results, "bench/list-page-cost.png")
    for check in results["budgets"]:
        assert f"| {check['budget']} | {check['measured']} | yes |" in text
    assert "returns 3,000 of the 10,000 tasks stored: 7,000 are silently dropped" in text
    assert "![List request cost against table size](bench/list-page-cost.png)" in text


@mock_aws
def test_the_meter_counts_requests_and_refuses_a_forbidden_one() -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    create_table(client, "metered")
    meter = Meter(forbidden=frozenset({"Scan"}))
    meter.attach(client)
    item = {"pk": {"S": "a"}, "sk": {"S": "b"}}
    client.put_item(TableName="metered", Item=item)
    client.get_item(TableName="metered", Key=item)
    assert meter.snapshot()["operations"] == {"GetItem": 1, "PutItem": 1}
    assert meter.requests == 2
    meter.reset()
    assert meter.requests == 0
    with pytest.raises(AssertionError, match="a Scan was sent"):
        client.scan(TableName="metered")
