"""The typical implementation (``bench/baseline.py``) measured on AWS's DynamoDB Local.

Why: the benchmarks of this API are published beside the typical task API, so that
the numbers have something to be compared with. This loads a fresh baseline table
with the same tasks the list benchmark uses (``bench.list_cost.make_tasks``), calls
``bench.baseline.handler`` with API Gateway (REST, v1) events for each operation, and
counts the DynamoDB requests and capacity units each call costs with botocore event
hooks on the baseline's own client, and its latency.

    .venv/bin/python -m bench.baseline_cost --sizes 100,1000,10000 --runs 50 [--json OUT]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import baseline
from bench.list_cost import make_tasks
from bench.meter import Meter, percentile
from tools import dynamodb_local

IMPLEMENTATION = "typical (bench/baseline.py)"
CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
OPERATIONS = ("create", "get", "replace", "patch", "delete", "list")
WRITABLE = ("title", "description", "status", "priority", "dueDate", "tags")


@dataclass
class Call:
    """One handler call: its response and what it cost."""

    status: int
    body: Any
    seconds: float
    operations: dict[str, int]
    read_units: float
    write_units: float


def event(method: str, task_id: str | None = None, body: Any = None) -> dict[str, Any]:
    """An API Gateway proxy event (REST API, payload format 1.0)."""
    resource = "/tasks" if task_id is None else "/tasks/{id}"
    path = "/tasks" if task_id is None else f"/tasks/{task_id}"
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {"Accept": "application/json", "Content-Type": "application/json"},
        "queryStringParameters": None,
        "pathParameters": None if task_id is None else {"id": task_id},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": str(uuid.uuid4()),
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def call(meter: Meter, request: dict[str, Any], expected_status: int) -> Call:
    meter.reset()
    started = time.perf_counter()
    response = baseline.handler(request, None)
    seconds = time.perf_counter() - started
    if response["statusCode"] != expected_status:
        raise AssertionError(
            f"{request['httpMethod']} {request['path']}: {response['statusCode']}, "
            f"expected {expected_status}: {response['body'][:500]}"
        )
    body = json.loads(response["body"]) if response["body"] else None
    return Call(
        response["statusCode"],
        body,
        seconds,
        dict(meter.operations),
        meter.read_units,
        meter.write_units,
    )


def summarize(name: str, calls: list[Call]) -> dict[str, Any]:
    """Requests and units of the first call (every call must send the same requests)."""
    first = calls[0]
    for other in calls[1:]:
        if other.operations != first.operations:
            raise AssertionError(f"{name}: {other.operations} differs from {first.operations}")
    milliseconds = [c.seconds * 1000 for c in calls]
    return {
        "requests": first.operations,
        "request_count": sum(first.operations.values()),
        "read_units": round(first.read_units, 2),
        "write_units": round(first.write_units, 2),
        "latency_ms": {
            "p50": round(percentile(milliseconds, 0.50), 2),
            "p99": round(percentile(milliseconds, 0.99), 2),
            "runs": len(calls),
        },
    }


def _json_bytes(item: dict[str, Any]) -> int:
    return len(json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode())


def measure(
    endpoint_url: str, tasks: list[tuple[str, dict[str, Any]]], latency_runs: int
) -> dict[str, Any]:
    """Load a fresh baseline table with ``tasks`` and measure every operation on it.

    ``tasks`` are ``(owner, task)`` pairs as ``bench.list_cost.make_tasks`` returns them;
    the owner is stored as the attribute ``owner`` (which the baseline ignores). Each
    operation is called ``latency_runs`` times through ``baseline.handler``; the list runs
    first, on the table exactly as loaded; get, replace and patch go to loaded tasks; the
    deletes remove the tasks the creates made. The table is deleted at the end.

    Returns (JSON-serialisable)::

        {
          "implementation": "typical (bench/baseline.py)",
          "size": N,                      # tasks loaded
          "load_seconds": s,              # setup (batch_writer), not measured
          "operations": {                 # create, get, replace, patch, delete, list
            op: {
              "requests": {"GetItem": 1, "PutItem": 1},  # per call, by operation
              "request_count": 2,
              "read_units": 0.5,          # capacity units of one call (the first)
              "write_units": 1.0,
              "latency_ms": {"p50": ms, "p99": ms, "runs": latency_runs},
            },
          },
          "list": {
            "stored": N,                  # tasks in the table
            "returned": M,                # tasks the single Scan returned
            "dropped": N - M,             # silently missing from the response
            "read_units": X,              # of that Scan
            "table_bytes": B,             # compact JSON size of the items written
            "described_item_count": n,    # DescribeTable's figures (DynamoDB Local keeps
            "described_table_bytes": b,   # them current; AWS updates them every ~6 h)
          },
        }
    """
    if latency_runs < 1:
        raise ValueError("latency_runs must be at least 1")
    if not tasks:
        raise ValueError("tasks must not be empty: get, replace and patch need one")
    name = f"typical-{uuid.uuid4().hex[:8]}"
    admin = dynamodb_local.client(endpoint_url)
    previous = baseline.table
    table = baseline.configure(endpoint_url, name, CREDENTIALS)
    baseline.create_table(admin, name)
    try:
        items = [{**task, "owner": owner} for owner, task in tasks]
        started = time.perf_counter()
        with table.batch_writer() as batch:
            for item in items:
                batch.put_item(Item=item)
        load_seconds = time.perf_counter() - started
        described = admin.describe_table(TableName=name)["Table"]
        meter = Meter()
        meter.attach(baseline.client())
        runs = range(latency_runs)
        targets = [tasks[i * len(tasks) // latency_runs][1] for i in runs]

        lists = [call(meter, event("GET"), 200) for _ in runs]
        returned = {len(c.body["items"]) for c in lists}
        if len(returned) != 1:
            raise AssertionError(f"list: the Scan returned {sorted(returned)} tasks")
        creates = [
            call(meter, event("POST", body={k: t[k] for k in WRITABLE}), 201) for t in targets
        ]
        calls = {
            "create": creates,
            "get": [call(meter, event("GET", t["id"]), 200) for t in targets],
            "replace": [
                call(meter, event("PUT", t["id"], {k: t[k] for k in WRITABLE}), 200)
                for t in targets
            ],
            "patch": [
                call(meter, event("PATCH", t["id"], {"status": "completed"}), 200) for t in targets
            ],
            "delete": [call(meter, event("DELETE", c.body["id"]), 204) for c in creates],
            "list": lists,
        }
        stored = len(items)
        count = returned.pop()
        return {
            "implementation": IMPLEMENTATION,
            "size": stored,
            "load_seconds": round(load_seconds, 2),
            "operations": {op: summarize(op, calls[op]) for op in OPERATIONS},
            "list": {
                "stored": stored,
                "returned": count,
                "dropped": stored - count,
                "read_units": round(lists[0].read_units, 2),
                "table_bytes": sum(_json_bytes(item) for item in items),
                "described_item_count": described["ItemCount"],
                "described_table_bytes": described["TableSizeBytes"],
            },
        }
    finally:
        baseline.table = previous
        with contextlib.suppress(admin.exceptions.ResourceNotFoundException):
            admin.delete_table(TableName=name)


def markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "| size | operation | requests | read units | write units | p50 ms | p99 ms |",
        "| ---: | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        for op, row in result["operations"].items():
            requests = " + ".join(
                f"{name}" if n == 1 else f"{name} x{n}" for name, n in row["requests"].items()
            )
            latency = row["latency_ms"]
            lines.append(
                f"| {result['size']:,} | {op} | {requests} | {row['read_units']:g} "
                f"| {row['write_units']:g} | {latency['p50']:.1f} | {latency['p99']:.1f} |"
            )
    lines += [
        "",
        "| size | stored | returned by the one Scan | dropped | Scan read units "
        "| table bytes (JSON) | TableSizeBytes |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        row = result["list"]
        lines.append(
            f"| {result['size']:,} | {row['stored']:,} | {row['returned']:,} "
            f"| {row['dropped']:,} | {row['read_units']:g} | {row['table_bytes']:,} "
            f"| {row['described_table_bytes']:,} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline_cost", description=__doc__)
    parser.add_argument("--sizes", default="100,1000,10000", help="comma-separated task counts")
    parser.add_argument("--runs", type=int, default=50, help="calls per operation")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the results here")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    results = []
    with dynamodb_local.running() as server:
        for size in sizes:
            started = time.perf_counter()
            result = measure(server.endpoint_url, make_tasks(size, args.seed), args.runs)
            print(
                f"size {size:,}: loaded in {result['load_seconds']:.1f} s, "
                f"measured in {time.perf_counter() - started:.1f} s",
                file=sys.stderr,
                flush=True,
            )
            results.append(result)
    print(f"The typical implementation ({args.runs} calls per operation) on DynamoDB Local:\n")
    print(markdown(results))
    if args.json:
        document = {"engine": "DynamoDB Local", "runs": args.runs, "results": results}
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
