"""The benchmark suite's own logic: its meter, and budgets that fail when they should.

The suite itself runs in CI as `make bench QUICK=1` (a measurement, not a test); these
tests check that what it reports can fail."""

from __future__ import annotations

import copy
import datetime as dt
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bench import (
    cold_start,
    filter_cost,
    operations,
    overhead,
    page_bytes,
    rejection_cost,
    report,
    suite,
)
from bench.meter import Meter
from bench.operations import Call
from chalicelib.core.http import MAX_BODY_BYTES
from chalicelib.table import create_table
from chalicelib.tasks import service
from chalicelib.tasks.schema import FIELDS, STATUSES
from chalicelib.tasks.store import DynamoTaskStore


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


def _hostile() -> dict[str, Any]:
    """Hostile-request figures within every budget."""
    case = {
        "method": "POST",
        "body": "unknown keys",
        "body_bytes": 262_143,
        "status": 400,
        "rejected": True,
        "stopped": False,
        "stops": 0,
        "problem_bytes": 3_000,
        "median_ms": 20.0,
        "ratio": 5.0,
        "runs": 3,
    }
    rejections = {
        "rounds": 3,
        "cutoff_seconds": 5.0,
        "cutoff_budgets": 2.0,
        "body_limit": 262_144,
        "create_ms": 4.0,
        "creates": 6,
        "cases": [case, {**case, "method": "PUT", "median_ms": 10.0, "ratio": 2.5}],
        "rejected": 2,
        "slowest": case,
        "largest_problem": case,
    }
    row = {
        "query": "tag=<no match>",
        "limit": 1,
        "pages": 100,
        "walked": "all",
        "requests": 2,
        "operations": {"Query": 2},
        "read_units": 6.5,
        "items": 0,
        "read_units_total": 644.0,
    }
    filtered = {
        "owner": "owner-small-tasks",
        "tasks": 10_000,
        "description_chars": 120,
        "load_seconds": 12.0,
        "seconds": 30.0,
        "yardstick": {"requests": 1, "operations": {"Query": 1}, "read_units": 6.0, "items": 100},
        "rows": [row],
        "worst": row,
        "most_requests": 2,
        "allowance": 0.5,
        "max_queries": 2,
        "max_items_read": 101,
    }
    page = {"tasks": 7, "wire_bytes": 316_079, "lambda_bytes": 944_283, "requests": 2}
    return {
        "rejections": rejections,
        "filtered": [filtered],
        "page_bytes": {
            "tasks": 100,
            "task_request_bytes": 135_000,
            "pages": [{**page, "read_units": 256.0}],
            "largest": {**page, "read_units": 256.0},
            "limit_bytes": 6_291_456,
            "page_budget_bytes": 1_048_576,
        },
        "seconds": 40.0,
    }


#: What ``report.machine()`` returns, written out: it asks `java` and `uname`, and these
#: tests start no other program (`make check` runs them).
_MACHINE = {
    "cpu": "Example CPU",
    "cores": 2,
    "memory_gib": 7.8,
    "os": "Linux-6.1-x86_64",
    "python": "3.11.9",
    "packages": {"chalice": "1.31.0", "boto3": "1.40.0", "botocore": "1.40.0"},
    "java": 'openjdk version "17.0.12"',
    "date": "2025-01-01 00:00 UTC",
}


def _results(page_units: dict[int, float]) -> dict[str, Any]:
    sizes = []
    for size, units in page_units.items():
        ours = {name: _operation() for name in suite.ONE_REQUEST}
        ours |= {name: _operation(requests=2) for name in suite.TWO_REQUESTS}
        ours["list page"] = _operation(read=units, write=0)
        ours["list page, tag filter"] = _operation(requests=3, read=7, write=0)
        for name, requests in suite.HISTORY_WRITE_REQUESTS.items():
            history = _operation(requests=requests, read=0, write=2)
            ours[f"history write, {name}"] = {**history, "changes": 5}
        sizes.append({"size": size, "ours": ours, "typical": _typical(size)})
    return {
        "command": "make bench QUICK=1",
        "quick": True,  # CI's run: what no machine's speed may fail
        "seconds": 1.0,
        "runs": 20,
        "machine": _MACHINE,
        "sizes": sizes,
        "heavy_page": {"capacity_units": 2.5, "size": 100, "operations": {"Query": 1}},
        "cold_start": {
            "floor_ms": 300.0,
            "floor_import_ms": 280.0,
            "floor_first_request_ms": 20.0,
            "app_ms": 330.0,
            "app_import_ms": 300.0,
            "app_first_request_ms": 30.0,
            "gap_ms": 30.0,
            "ratio": 1.1,
            "ratio_range": [0.9, 1.4],
            "runs": 7,
        },
        "overhead": {
            "operations": {
                name: {
                    "p50_ms": 4.0,
                    "typical_p50_ms": 3.0,
                    "over_typical_ms": 1.0,
                    "own_ms": 0.8,
                    "typical_own_ms": 0.2,
                    "runs": 160,
                }
                for name in ("create", "get", "replace", "patch", "delete")
            },
            "rounds": 160,
            "warm_up_rounds": 20,
            "seconds": 9.0,
        },
        "package": {"bytes": 700_000, "by_format": {"cloudformation": 700_000}},
        "hostile": _hostile(),
    }


def _failed(results: dict[str, Any]) -> list[str]:
    return [check["budget"] for check in suite.failing(suite.budgets(results))]


def _cold_start_budget() -> str:
    return (
        f"cold start at most {cold_start.MAX_RATIO:g}x the floor (boto3, a client, one read; "
        "median of paired ratios)"
    )


def _rejection_budget() -> str:
    return (
        f"slowest rejection at most {rejection_cost.MAX_RATIO:g}x the create just before it "
        "(median of paired ratios)"
    )


def _slower(figures: Any, factor: float, timed: bool = False) -> Any:
    """``figures`` as a machine ``factor`` times slower would measure them: every time
    (a key ending in ``_ms`` or ``seconds``, or inside one) scaled, nothing else."""
    if isinstance(figures, dict):
        return {
            key: _slower(value, factor, timed or key.endswith(("_ms", "seconds")))
            for key, value in figures.items()
        }
    if isinstance(figures, list):
        return [_slower(value, factor, timed) for value in figures]
    if timed and isinstance(figures, int | float) and not isinstance(figures, bool):
        return figures * factor
    return figures


def test_no_budget_moves_with_the_machines_speed() -> None:
    """Every figure in milliseconds or seconds, 10 times larger or smaller: no budget's
    outcome changes (times are gated only as ratios measured in the same run)."""
    good = _results({100: 2.0, 10000: 2.0})
    cold = good["cold_start"]
    assert cold["gap_ms"] > 0
    assert good["hostile"]["rejections"]["create_ms"] > 0
    for factor in (10.0, 0.1):
        slower = _slower(good, factor)
        assert slower["cold_start"]["gap_ms"] == pytest.approx(cold["gap_ms"] * factor)
        assert _failed(slower) == []
    broken = copy.deepcopy(good)
    broken["cold_start"]["ratio"] = cold_start.MAX_RATIO + 0.01
    assert _failed(_slower(broken, 0.1)) == [_cold_start_budget()]


def test_the_app_s_own_time_gates_the_full_run_only() -> None:
    """The app's own time at p50, in milliseconds: the full run (`make bench`) fails past
    1 ms; CI's quick run says so and goes on, as milliseconds move with the machine."""
    results = _results({100: 2.0, 10000: 2.0})
    create = results["overhead"]["operations"]["create"]
    create["own_ms"] = overhead.MAX_OWN_MS + 0.5
    (check,) = [c for c in suite.budgets(results) if "own time" in c["budget"]]
    assert not check["ok"]
    assert "create 1.5 ms" in check["measured"]
    assert _failed(results) == []  # quick: reported, not gated
    results["quick"] = False
    assert _failed(results) == [check["budget"]]
    create["own_ms"] = overhead.MAX_OWN_MS
    assert _failed(results) == []


def test_the_cold_start_at_each_memory_size_gates_the_full_run_only() -> None:
    results = _results({100: 2.0, 10000: 2.0})
    results["memory_sizes"] = {
        "measured": True,
        "sizes": [
            {"memory_mb": 128, "cold_start": {"quota": {"ratio": 1.1}, "burst": {"ratio": 1.0}}},
            {"memory_mb": 1024, "cold_start": {"quota": {"ratio": 1.3}, "burst": {"ratio": 1.1}}},
        ],
    }
    (check,) = [c for c in suite.budgets(results) if "every memory size" in c["budget"]]
    assert not check["ok"]
    assert "1024 MB quota 1.3x" in check["measured"]
    assert _failed(results) == []  # the quick run pairs too few interpreters
    results["quick"] = False
    assert _failed(results) == [check["budget"]]
    results["memory_sizes"]["sizes"][1]["cold_start"]["quota"]["ratio"] = cold_start.MAX_RATIO
    assert _failed(results) == []


def test_the_cold_start_ratio_is_the_median_of_paired_ratios() -> None:
    """A slow stretch that hits the app in one pair and the floor in two others: each
    other pair stays at 1.1, the ratio of the medians says 2.2 and the difference 240 ms."""
    floor = [200.0, 200.0, 200.0, 400.0, 400.0]
    app = [220.0, 220.0, 500.0, 440.0, 440.0]
    assert statistics.median(app) / statistics.median(floor) == 2.2 > cold_start.MAX_RATIO
    figures = cold_start.summarise(
        {"total": floor, "import": floor, "first request": floor},
        {"total": app, "import": app, "first request": app},
    )
    assert figures["ratio"] == 1.1
    assert figures["ratio_range"] == [1.1, 2.5]
    assert figures["gap_ms"] == 240.0
    assert figures["runs"] == 5
    results = _results({100: 2.0, 10000: 2.0})
    results["cold_start"] = figures
    assert _failed(results) == []
    with pytest.raises(ValueError, match="shorter"):  # a run without its pair is no pair
        cold_start.median_paired_ratio([1.0, 2.0], [1.0])


def test_measured_figures_within_budget_pass() -> None:
    assert _failed(_results({100: 2.0, 1000: 2.0, 10000: 2.0})) == []


def test_each_budget_fails_when_broken() -> None:
    good = _results({100: 1.5, 10000: 1.5})
    two_requests = copy.deepcopy(good)
    two_requests["sizes"][1]["ours"]["patch"]["requests"] = 2
    assert _failed(two_requests) == ["patch: exactly 1 DynamoDB request"]
    costly_history = copy.deepcopy(good)
    costly_history["sizes"][0]["ours"]["history write, delete"]["requests"] = 3
    assert _failed(costly_history) == [
        "history of a delete: exactly 2 DynamoDB request(s) by the stream consumer"
    ]

    expensive = _results({100: 2.0, 10000: 2.5})
    assert _failed(expensive) == [
        "25-item list page: at most 2 RCU at every size",
        "list page at 10,000 within 10% of 100",
    ]
    growing = _results({100: 1.5, 10000: 1.7})
    assert _failed(growing) == ["list page at 10,000 within 10% of 100"]

    slow = copy.deepcopy(good)
    slow["cold_start"]["ratio"] = cold_start.MAX_RATIO + 0.01
    assert _failed(slow) == [_cold_start_budget()]

    large = copy.deepcopy(good)
    large["package"]["bytes"] = 2 * 1024 * 1024 + 1
    assert _failed(large) == ["deployment package at most 2 MB"]


def test_each_hostile_budget_fails_when_broken() -> None:
    good = _results({100: 1.5, 10000: 1.5})
    hostile = good["hostile"]

    accepted = copy.deepcopy(good)
    accepted["hostile"]["rejections"]["cases"][1] |= {"status": 201, "rejected": False}
    assert _failed(accepted) == [
        "every hostile body, as POST, PUT and PATCH, rejected with a 4xx problem"
    ]
    slow = copy.deepcopy(good)
    slow["hostile"]["rejections"]["slowest"]["ratio"] = rejection_cost.MAX_RATIO + 0.1
    assert _failed(slow) == [_rejection_budget()]
    large = copy.deepcopy(good)
    large["hostile"]["rejections"]["largest_problem"]["problem_bytes"] = (
        rejection_cost.MAX_PROBLEM_BYTES + 1
    )
    assert _failed(large) == ["every problem document at most 8,192 bytes"]

    data = "10,000 tasks of one owner, descriptions up to 120 characters"
    many_queries = copy.deepcopy(good)
    many_queries["hostile"]["filtered"][0]["most_requests"] = 3
    assert _failed(many_queries) == [f"no-match filter, {data}: at most 2 Queries per request"]
    expensive = copy.deepcopy(good)
    filtered = expensive["hostile"]["filtered"][0]
    filtered["worst"]["read_units"] = filtered["yardstick"]["read_units"] + 0.51
    assert _failed(expensive) == [
        f"no-match filter, {data}: at most the unfiltered 100-task page's RCU + 0.5"
    ]
    too_big = copy.deepcopy(good)
    too_big["hostile"]["page_bytes"]["largest"]["lambda_bytes"] = 6_291_457
    assert _failed(too_big) == ["largest list page within Lambda's result limit (6,291,456 bytes)"]
    assert hostile == _hostile()  # the copies above left the good figures alone


def test_the_report_shows_every_budget_and_the_baseline() -> None:
    results = _results({100: 2.0, 10000: 2.0})
    results["budgets"] = suite.budgets(results)
    text = report.markdown(results, "bench/list-page-cost.png")
    for check in results["budgets"]:
        assert f"| {check['budget']} | {check['measured']} | yes |" in text
    assert "returns 3,000 of the 10,000 tasks stored: 7,000 are silently dropped" in text
    assert "![List request cost against table size](bench/list-page-cost.png)" in text
    assert "The slowest rejection: POST unknown keys, 20 ms, 5x a create." in text
    assert "| unknown keys | 262,143 | 400, 20 ms (5x) | 400, 10 ms (2.5x) | — | 3,000 |" in text
    assert f"holds the slowest case to {rejection_cost.MAX_RATIO:g}x" in text
    assert "**Cold start:** 1.1x the floor" in text
    assert f"at most {cold_start.MAX_RATIO:g}x the floor's" in text
    assert "1.1x, the pairs from 0.9 to 1.4" in text
    assert "| create | 4 | 3 | +1.00 | 0.8 | 0.2 |" in text
    assert "| tag=<no match> | 1 | 100 | 2 | 6.5 | 644 |" in text
    assert "944,283 bytes in Lambda's result" in text


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


def test_hostile_bodies_fill_the_body_limit_and_stay_within_it() -> None:
    bodies = rejection_cost.hostile_bodies()
    assert all(len(body) <= MAX_BODY_BYTES for body in bodies.values())
    mixed = bodies["tags: integers, then one string"]
    assert mixed.startswith(b'{"title":"x","tags":[0,1,2,')
    assert mixed.endswith(b',"x"]}')
    assert len(mixed) > MAX_BODY_BYTES - 8  # as many items as fit
    assert json.loads(bodies["unknown keys"])["k1000"] == 0
    assert b'"expireAt":1e400}' in bodies["expireAt: 1e400"]


def test_the_cutoff_stops_a_request_that_runs_on() -> None:
    def run_on() -> None:
        """Up to 30 s of work in small steps, unless the cut-off stops it first."""
        with rejection_cost._cutoff(0.05):
            for _ in range(3000):
                time.sleep(0.01)

    with pytest.raises(rejection_cost._Stopped):
        run_on()


class _ScriptedBench(operations.Bench):
    """Answers at once, in the milliseconds of a machine that is ``factor(n)`` times slower
    at its ``n``-th request: a create takes 4 ms, a rejection 40 ms (10 creates), unless
    ``runs_on(n, method, body)``, when the rejection runs until the cut-off stops it."""

    def __init__(
        self, factor: Callable[[int], float], runs_on: Callable[..., bool] = lambda *_: False
    ) -> None:
        self.names = {body: name for name, body in rejection_cost.hostile_bodies().items()}
        self.factor, self.runs_on = factor, runs_on
        self.requests = 0

    def call(self, method: str, path: str, owner: str, body: Any = None, *_: Any) -> Call:
        self.requests += 1
        return Call(201, {}, {}, 4.0 * self.factor(self.requests - 1), {}, b"{}")

    def send(self, method: str, path: str, owner: str, payload: Any, *_: Any) -> Call:
        self.requests += 1
        if self.runs_on(self.requests - 1, method, self.names[payload]):
            for _ in range(500):
                time.sleep(0.01)
            raise AssertionError("the cut-off did not stop a request that ran on")
        problem = b'{"status":400}'
        headers = {"Content-Type": rejection_cost.PROBLEM_JSON}
        return Call(
            400, headers, {"status": 400}, 40.0 * self.factor(self.requests - 1), {}, problem
        )


#: The scripted run's requests: a create and 3 rejections to warm up, then pairs; the
#: ``k``-th pair's create is request ``4 + 2 * k``.
_CASES = len(rejection_cost.hostile_bodies()) * len(rejection_cost.METHODS)


def _pair(k: int) -> int:
    return 4 + 2 * k


def test_a_slow_stretch_moves_no_rejection_ratio() -> None:
    """The machine is 5 times slower for 80 pairs, more than a round: the cases it hits
    in two rounds have a median of 200 ms against a median create of 4 ms (50x), but
    each pair is still 10x, and so is the budget's figure."""
    stretch = range(_pair(50), _pair(50 + 80))
    assert _CASES < 80  # some cases are hit in two of their three rounds
    bench = _ScriptedBench(lambda n: 5.0 if n in stretch else 1.0)
    rejections = rejection_cost.measure(bench, rounds=3)
    results = _results({100: 2.0, 10000: 2.0})
    results["hostile"]["rejections"] = rejections
    assert _failed(results) == []
    slowest = rejections["slowest"]
    assert slowest["ratio"] == 10.0
    assert not slowest["stopped"]
    assert rejections["create_ms"] == 4.0
    assert max(case["median_ms"] for case in rejections["cases"]) == 200.0
    assert {case["ratio"] for case in rejections["cases"]} == {10.0}
    assert rejections["rejected"] == _CASES == len(rejections["cases"])


def test_one_stopped_rejection_fails_nothing_and_one_that_always_runs_on_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cut-off stops a request late enough to be over budget on any machine; one
    stall is outvoted by the case's other rounds, a case that always runs on is not."""
    monkeypatch.setattr(rejection_cost, "CUTOFF_SECONDS", 0.02)
    stalled = _pair(10) + 1  # the 11th case's rejection, in the first round
    bench = _ScriptedBench(lambda _: 1.0, lambda n, *_: n == stalled)
    rejections = rejection_cost.measure(bench, rounds=3)
    results = _results({100: 2.0, 10000: 2.0})
    results["hostile"]["rejections"] = rejections
    assert _failed(results) == []
    case = rejections["cases"][10]
    assert (case["stops"], case["runs"], case["stopped"]) == (1, 3, False)
    assert case["rejected"]
    assert case["ratio"] == 10.0
    for create_ms in (4.0, 100.0, 1000.0):
        seconds = rejection_cost.cutoff_seconds(create_ms)
        assert seconds * 1000 / create_ms >= 2 * rejection_cost.MAX_RATIO

    bench = _ScriptedBench(lambda _: 1.0, lambda _, *case: case == ("PATCH", "deep objects"))
    rejections = rejection_cost.measure(bench, rounds=3)
    slowest = rejections["slowest"]
    assert (slowest["method"], slowest["body"]) == ("PATCH", "deep objects")
    assert slowest["stopped"]
    assert slowest["stops"] == slowest["runs"] == 2  # then skipped
    assert slowest["ratio"] == 40.0
    assert not slowest["rejected"]
    results["hostile"]["rejections"] = rejections
    assert _failed(results) == [
        "every hostile body, as POST, PUT and PATCH, rejected with a 4xx problem",
        _rejection_budget(),
    ]


def test_the_docs_quote_the_ratio_budgets() -> None:
    """The benchmarks page's budget table states the ceilings the suite holds (one
    definition: the constants; this keeps the prose in step)."""
    page = (suite.PROJECT_DIR / "docs" / "design" / "benchmarks.md").read_text()
    assert f"at most {cold_start.MAX_RATIO:g}\N{MULTIPLICATION SIGN} the floor" in page
    assert f"at most {rejection_cost.MAX_RATIO:g}\N{MULTIPLICATION SIGN} the normal create" in page


def test_the_filtered_owners_tasks_weigh_the_same_and_never_match() -> None:
    tasks = filter_cost.owner_tasks(400, filter_cost.SMALL_DESCRIPTION)
    sizes = {len(json.dumps(DynamoTaskStore.item("owner", task))) for task in tasks}
    assert len(sizes) == 1  # same lengths everywhere: the same DynamoDB item size
    longest = max(len(task["description"]) for task in tasks)
    assert longest == filter_cost.SMALL_DESCRIPTION  # as the report says
    large = filter_cost.owner_tasks(4, filter_cost.LARGE_DESCRIPTION)
    assert max(len(task["description"]) for task in large) == FIELDS["description"]["maxLength"]
    assert {task["status"] for task in tasks} == set(STATUSES)
    assert not any(task["priority"] == filter_cost.NO_MATCH_PRIORITY for task in tasks)
    assert not any(filter_cost.NO_MATCH_TAG in task["tags"] for task in tasks)
    rare = [task for task in tasks if filter_cost.RARE_TAG in task["tags"]]
    assert len(rare) == -(-len(tasks) // filter_cost.RARE_EVERY)
    created = [task["createdAt"] for task in tasks]
    assert created == sorted(created, reverse=True)  # newest first, as a walk returns them


def test_the_largest_task_is_valid_and_an_emoji_weighs_12_bytes_in_lambda() -> None:
    task = page_bytes.largest_task(3)
    service._validate(service._INPUT, task, dt.datetime.now(dt.UTC))  # as POST and PUT do

    def call(body: str) -> Call:
        return Call(200, {}, None, 1.0, {}, body.encode())

    emoji = chr(page_bytes.FIRST_EMOJI)
    assert (
        page_bytes.lambda_result_bytes(call(emoji)) - page_bytes.lambda_result_bytes(call("a"))
        == 11
    )


def test_the_loader_sends_dynamodb_locals_spurious_condition_error_again_a_few_times() -> None:
    """DynamoDB Local once refused a valid condition under concurrent writes: the loader
    sends that create again (and counts it), but any other error, or that one every time,
    still fails the run."""
    from botocore.exceptions import ClientError

    from bench import list_cost

    def flaky(message: str) -> ClientError:
        return ClientError(
            {"Error": {"Code": "ValidationException", "Message": message}}, "PutItem"
        )

    class Store:
        def __init__(self, failures: dict[str, list[str]]) -> None:
            self.failures = failures

        def create(self, owner: str, task: dict[str, Any], now: int) -> bool:
            pending = self.failures.get(task["id"], [])
            if pending:
                raise flaky(pending.pop(0))
            return True

    pairs = [("o", {"id": "a"}), ("o", {"id": "b"})]
    once = Store({"b": [list_cost.FLAKY_CONDITION]})
    assert list_cost.load(once, pairs)["retried"] == 1  # type: ignore[arg-type]
    always = Store({"a": [list_cost.FLAKY_CONDITION] * list_cost.MAX_LOAD_ATTEMPTS})
    with pytest.raises(ClientError):
        list_cost.load(always, pairs)  # type: ignore[arg-type]
    other = Store({"a": ["The conditional request failed"]})
    with pytest.raises(ClientError):
        list_cost.load(other, pairs)  # type: ignore[arg-type]
