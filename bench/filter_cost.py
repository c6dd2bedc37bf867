"""The worst filtered list requests: filters that match none of one owner's many tasks.

Why: ``priority`` and ``tag`` are filter expressions, applied after DynamoDB has read the
items, so a filter that matches nothing once read every task of the owner: 10 Queries and
2,599.5 RCU for ``tag=nomatch&limit=1`` at 2,000 tasks of about 10 KB, growing with the
owner's tasks. Every list request now has a fixed read budget
(``chalicelib.tasks.store.MAX_QUERIES_PER_PAGE`` Queries evaluating at most
``MAX_ITEMS_READ_PER_PAGE`` items); this measures it on AWS's DynamoDB Local, through
``chalice.test.Client``, with the meter on the app's own client.

Every task of the owner weighs the same (the description is padded by what status and
priority take), so a filtered request that evaluates the items of an unfiltered 100-task
page costs what that page costs, give or take the rounding of a second Query.

    .venv/bin/python -m bench.filter_cost [--tasks 10000] [--large-tasks 2000]
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import operations
from chalicelib.table import create_table
from chalicelib.tasks.record import Task
from chalicelib.tasks.schema import FIELDS, LIST_PARAMETERS, PRIORITIES, STATUSES
from chalicelib.tasks.store import MAX_ITEMS_READ_PER_PAGE, MAX_QUERIES_PER_PAGE, DynamoTaskStore
from tools import dynamodb_local

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
#: The owner's tasks have every priority but this one, and never this tag.
NO_MATCH_PRIORITY = PRIORITIES[-1]
NO_MATCH_TAG = "no-such-tag"
#: Every task has two tags of five characters; one task in RARE_EVERY has RARE_TAG, so
#: its walk proves that pages resume where the budget stopped them.
TAGS = ("alpha", "bravo")
RARE_TAG = "rare0"
RARE_EVERY = 97
#: The filters measured: none of the owner's tasks matches them.
QUERIES: dict[str, dict[str, str]] = {
    "tag=<no match>": {"tag": NO_MATCH_TAG},
    "priority=<no match>": {"priority": NO_MATCH_PRIORITY},
    f"status={STATUSES[0]}&tag=<no match>": {"status": STATUSES[0], "tag": NO_MATCH_TAG},
}
_LIMIT = LIST_PARAMETERS["limit"]
#: Page sizes: the smallest, the default and the largest.
LIMITS = (_LIMIT["minimum"], _LIMIT["default"], _LIMIT["maximum"])
#: Eventually consistent reads (every index read) cost 0.5 RCU per 4 KB, and DynamoDB
#: rounds each Query's total up to the next 4 KB: a request that reads the items of the
#: unfiltered page in two Queries may pay one more rounding, 0.5 RCU, and no more.
ROUNDING_ALLOWANCE_RCU = (MAX_QUERIES_PER_PAGE - 1) * 0.5
#: BatchWriteItem takes at most 25 items per request.
BATCH = 25
LOAD_THREADS = 4
#: The two sets of data: descriptions of about 100 characters, and of the schema's
#: maximum (about 10 KB, the review's case).
SMALL_DESCRIPTION = 120
LARGE_DESCRIPTION = FIELDS["description"]["maxLength"]


def owner_tasks(count: int, description_chars: int, seed: int = 1) -> list[Task]:
    """``count`` tasks, newest first, that weigh the same as DynamoDB items: status
    appears twice in an item (the field and the status index's key), priority once,
    and the description (``description_chars`` at most) takes up the difference."""
    rng = random.Random(seed)
    end = datetime(2025, 1, 1, tzinfo=UTC)
    matching = [p for p in PRIORITIES if p != NO_MATCH_PRIORITY]
    lightest = 2 * min(map(len, STATUSES)) + min(map(len, matching))
    text = itertools.cycle("lorem ipsum dolor sit amet ")
    tasks = []
    for k in range(count):
        status, priority = STATUSES[k % len(STATUSES)], matching[k % len(matching)]
        created = (end - timedelta(seconds=7 * k)).strftime(TIMESTAMP_FORMAT)
        length = description_chars - (2 * len(status) + len(priority) - lightest)
        tasks.append(
            {
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "title": f"Task {k:06d}",
                "description": "".join(itertools.islice(text, length)),
                "status": status,
                "priority": priority,
                "dueDate": None,
                "tags": [TAGS[0], RARE_TAG if k % RARE_EVERY == 0 else TAGS[1]],
                "expireAt": None,
                "createdAt": created,
                "updatedAt": created,
                "version": 1,
            }
        )
    return tasks


def batch_load(client: Any, table: str, owner: str, tasks: list[Task]) -> float:
    """Write the tasks as the store lays them out, with BatchWriteItem (unconditional:
    the table is fresh); returns the seconds it took."""
    puts = [{"PutRequest": {"Item": DynamoTaskStore.item(owner, task)}} for task in tasks]

    def write(batch: list[dict[str, Any]]) -> None:
        while batch:
            response = client.batch_write_item(RequestItems={table: batch})
            batch = response.get("UnprocessedItems", {}).get(table, [])

    started = time.perf_counter()
    with ThreadPoolExecutor(LOAD_THREADS) as pool:
        list(pool.map(write, (puts[i : i + BATCH] for i in range(0, len(puts), BATCH))))
    return round(time.perf_counter() - started, 2)


def _walk(
    bench: operations.Bench, owner: str, query: dict[str, Any], pages: int | None, ceiling: int
) -> tuple[list[dict[str, Any]], list[str]]:
    """The list requests of a walk (all of it, or its first ``pages``), and the ids it
    returned in order; more than ``ceiling`` requests fail the run."""
    rows: list[dict[str, Any]] = []
    ids: list[str] = []
    cursor = None
    while pages is None or len(rows) < pages:
        params = {**query, **({"cursor": cursor} if cursor else {})}
        call = bench.call("GET", "/tasks?" + urllib.parse.urlencode(params), owner)
        if call.status != 200:
            raise AssertionError(f"GET /tasks?{params} -> {call.status}: {call.body}")
        ids += [task["id"] for task in call.body["items"]]
        rows.append(
            {
                "requests": call.cost["requests"],
                "operations": call.cost["operations"],
                "read_units": call.cost["read_units"],
                "items": len(call.body["items"]),
            }
        )
        cursor = call.body["nextCursor"]
        if cursor is None:
            break
        if len(rows) > ceiling:  # every request reads at least one task
            raise AssertionError(f"GET /tasks?{params}: the walk does not end")
    return rows, ids


def measure(
    bench: operations.Bench,
    client: Any,
    table: str,
    owner: str,
    count: int,
    description_chars: int,
    pages: int | None,
) -> dict[str, Any]:
    """Load ``count`` tasks for ``owner``, then: the unfiltered page of the largest size
    (the yardstick), each no-match query at each page size (its whole walk, or its first
    ``pages`` requests), and the walks of a rare tag checked task by task."""
    started = time.perf_counter()
    tasks = owner_tasks(count, description_chars)
    load_seconds = batch_load(client, table, owner, tasks)
    yardstick_rows, _ = _walk(bench, owner, {"limit": LIMITS[-1]}, 1, count)
    yardstick = yardstick_rows[0]
    rows = []
    for (name, query), limit in itertools.product(QUERIES.items(), LIMITS):
        walk, ids = _walk(bench, owner, {**query, "limit": limit}, pages, count)
        if ids:
            raise AssertionError(f"{name} matched {len(ids)} tasks; it must match none")
        worst = max(walk, key=lambda r: (r["requests"], r["read_units"]))
        rows.append(
            {
                "query": name,
                "limit": limit,
                "pages": len(walk),
                "walked": "all" if pages is None or len(walk) < pages else f"first {pages}",
                **worst,
                "read_units_total": round(sum(r["read_units"] for r in walk), 2),
            }
        )
    rare = [task["id"] for task in tasks if RARE_TAG in task["tags"]]
    for limit in LIMITS[:2]:
        walk, ids = _walk(bench, owner, {"tag": RARE_TAG, "limit": limit}, None, count)
        if ids != rare:
            raise AssertionError(f"tag={RARE_TAG}&limit={limit}: wrong tasks in the walk")
        worst = max(walk, key=lambda r: (r["requests"], r["read_units"]))
        rows.append(
            {
                "query": f"tag=<1 in {RARE_EVERY}>",
                "limit": limit,
                "pages": len(walk),
                "walked": "all",
                **worst,
                "read_units_total": round(sum(r["read_units"] for r in walk), 2),
            }
        )
    worst = max(rows, key=lambda r: (r["read_units"], r["requests"]))
    return {
        "owner": owner,
        "tasks": count,
        "description_chars": description_chars,
        "load_seconds": load_seconds,
        "seconds": round(time.perf_counter() - started, 1),
        "yardstick": yardstick,
        "rows": rows,
        "worst": worst,
        "most_requests": max(r["requests"] for r in rows),
        "allowance": ROUNDING_ALLOWANCE_RCU,
        "max_queries": MAX_QUERIES_PER_PAGE,
        "max_items_read": MAX_ITEMS_READ_PER_PAGE,
    }


def describe(result: dict[str, Any]) -> str:
    """ "10,000 tasks of one owner, descriptions up to 120 characters" """
    return (
        f"{result['tasks']:,} tasks of one owner, descriptions up to "
        f"{result['description_chars']:,} characters"
    )


def markdown(result: dict[str, Any]) -> str:
    yardstick = result["yardstick"]
    lines = [
        f"{describe(result)}; the unfiltered {LIMITS[-1]}-task page: "
        f"{yardstick['requests']} request(s), {yardstick['read_units']:g} RCU. Loaded in "
        f"{result['load_seconds']:g} s, measured in {result['seconds']:g} s in all.\n",
        "| Query | limit | Requests walked | Worst request: Queries | RCU | Walk: RCU |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result["rows"]:
        walked = f"{r['pages']}" + ("" if r["walked"] == "all" else f" (first {r['pages']})")
        lines.append(
            f"| {r['query']} | {r['limit']} | {walked} | {r['requests']} | {r['read_units']:,g} "
            f"| {r['read_units_total']:,g} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.filter_cost", description=__doc__)
    parser.add_argument("--tasks", type=int, default=10_000, help="small tasks of the owner")
    parser.add_argument("--large-tasks", type=int, default=2_000, help="tasks of about 10 KB")
    parser.add_argument("--pages", type=int, help="requests per walk (default: whole walks)")
    args = parser.parse_args(argv)
    variants = (
        ("owner-small-tasks", args.tasks, SMALL_DESCRIPTION),
        ("owner-large-tasks", args.large_tasks, LARGE_DESCRIPTION),
    )
    with dynamodb_local.running() as server:
        table = operations.stage_table()
        create_table(server.client(), table)
        with operations.app_on(server.endpoint_url) as bench:  # its stdout is discarded
            results = [
                measure(bench, server.client(), table, owner, count, chars, args.pages)
                for owner, count, chars in variants
            ]
    for result in results:
        print(markdown(result), end="\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
