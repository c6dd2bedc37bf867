"""List-page cost versus table size, measured on AWS's DynamoDB Local.

Why: a list page must cost the same whether the table holds 100 or 10,000 tasks of
other owners, and filters must not turn into Scans. DynamoDB Local reports
ConsumedCapacity like the service, so we count requests, operations and capacity units
per page with botocore event hooks and assert that no Scan is ever sent.

    .venv/bin/python -m bench.list_cost --sizes 100,1000,10000 [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from bench.meter import Meter
from chalicelib.core.cursor import CursorCodec
from chalicelib.table import create_table
from chalicelib.tasks.schema import PRIORITIES, STATUSES
from chalicelib.tasks.store import DynamoTaskStore, ListFilters
from tools import dynamodb_local

TABLE = "tasks-bench"
MEASURED_OWNER = "owner-measured"
MEASURED_TASKS = 200
TASKS_PER_OTHER_OWNER = 50
LOAD_THREADS = 8
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
TAGS = ("work", "home", "errand", "finance", "health", "travel", "reading", "garden")
WORDS = ("lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed")
#: Description lengths in characters, with their weights. "long": every task has 300
#: characters (a heavy case: items of about 750 bytes). "typical": half have none, the
#: rest short or a paragraph (mean about 95 characters).
DESCRIPTIONS: dict[str, tuple[tuple[int, int], ...]] = {
    "long": ((300, 1),),
    "typical": ((0, 50), (80, 30), (350, 20)),
}
#: The queries measured for the measured owner, each on its first page and on page 2.
QUERIES: dict[str, ListFilters] = {
    "no filter": ListFilters(),
    "status=in_progress": ListFilters(status="in_progress"),
    "priority=urgent": ListFilters(priority="urgent"),
    "tag=finance": ListFilters(tag="finance"),
    "status=in_progress+tag=finance": ListFilters(status="in_progress", tag="finance"),
}


def make_tasks(
    size: int, seed: int, measured_owner: str = MEASURED_OWNER, descriptions: str = "long"
) -> list[tuple[str, dict[str, Any]]]:
    """(owner, task) pairs: the measured owner's tasks interleaved in time with the rest.

    The measured owner's newest tasks are the same at every size (same content, same
    times): only the other owners' tasks grow with the table, so pages compare across
    sizes. ``descriptions``: a key of ``DESCRIPTIONS``, how long descriptions are.
    """
    measured = min(MEASURED_TASKS, size // 2)
    others = size - measured
    spacing = timedelta(seconds=37)
    end = datetime(2025, 1, 1, tzinfo=UTC)
    # The measured owner's k-th newest task, from its own random stream.
    pairs = [
        (measured_owner, _task(random.Random(f"{seed}-m{k}"), end - k * spacing, k, descriptions))
        for k in range(measured)
    ]
    rng = random.Random(f"{seed}-others-{size}")
    span = max(measured, 1) * spacing.total_seconds()
    for i in range(others):
        stamp = end - timedelta(seconds=rng.uniform(0, span))
        owner = f"owner-{i // TASKS_PER_OTHER_OWNER:05d}"
        pairs.append((owner, _task(rng, stamp, measured + i, descriptions)))
    random.Random(seed).shuffle(pairs)  # load order: not by owner, not by time
    return pairs


def _task(rng: random.Random, stamp: datetime, number: int, descriptions: str) -> dict[str, Any]:
    stamp += timedelta(microseconds=rng.randrange(1_000_000))
    created = stamp.strftime(TIMESTAMP_FORMAT)
    words: list[str] = []
    target = rng.choices(*zip(*DESCRIPTIONS[descriptions], strict=True))[0]
    while sum(len(w) + 1 for w in words) < target:
        words.append(rng.choice(WORDS))
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "title": f"Task {number} " + " ".join(rng.choices(WORDS, k=4)),
        "description": " ".join(words),
        "status": rng.choices(STATUSES, weights=(40, 30, 25, 5))[0],
        "priority": rng.choices(PRIORITIES, weights=(30, 40, 20, 10))[0],
        "dueDate": (stamp + timedelta(days=rng.randrange(1, 60))).date().isoformat()
        if rng.random() < 0.5
        else None,
        "tags": rng.sample(TAGS, k=rng.choice((0, 1, 1, 2, 3))),
        "expireAt": None,
        "createdAt": created,
        "updatedAt": created,
        "version": 1,
    }


def _matches(task: dict[str, Any], filters: ListFilters) -> bool:
    return (
        (filters.status is None or task["status"] == filters.status)
        and (filters.priority is None or task["priority"] == filters.priority)
        and (filters.tag is None or filters.tag in task["tags"])
    )


def _expected(
    pairs: list[tuple[str, dict[str, Any]]], filters: ListFilters, measured: str = MEASURED_OWNER
) -> list[str]:
    """Ids of the measured owner's matching tasks, newest first (ties: id, descending)."""
    tasks = [t for owner, t in pairs if owner == measured and _matches(t, filters)]
    tasks.sort(key=lambda t: (t["createdAt"], t["id"]), reverse=True)
    return [t["id"] for t in tasks]


#: DynamoDB Local now and then refuses a valid condition while other threads write, with
#: this message (seen once in CI, loading 1,000 tasks on LOAD_THREADS threads; the same
#: request passes when sent again). The loader sends such a create again, at most this many
#: times, and reports how often it had to: the load is set-up, not a measured figure.
FLAKY_CONDITION = "Invalid ConditionExpression: Index 0 out of bounds for length 0"
MAX_LOAD_ATTEMPTS = 3


def load(store: DynamoTaskStore, pairs: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Write every task through the store (conditional puts, as the API does)."""
    retried: list[str] = []

    def create(owner: str, task: dict[str, Any]) -> bool:
        for attempt in range(1, MAX_LOAD_ATTEMPTS + 1):
            try:
                return store.create(owner, task, 0)  # no task of the load expires
            except ClientError as error:
                if FLAKY_CONDITION not in str(error) or attempt == MAX_LOAD_ATTEMPTS:
                    raise
                retried.append(task["id"])
        raise AssertionError("unreachable")

    started = time.perf_counter()
    with ThreadPoolExecutor(LOAD_THREADS) as pool:
        created = list(pool.map(lambda pair: create(*pair), pairs))
    seconds = time.perf_counter() - started
    if not all(created):
        raise AssertionError(f"{created.count(False)} tasks were not created")
    return {
        "size": len(pairs),
        "seconds": round(seconds, 2),
        "threads": LOAD_THREADS,
        "retried": len(retried),
    }


def measure_pages(
    store: DynamoTaskStore,
    meter: Meter,
    pairs: list[tuple[str, dict[str, Any]]],
    limit: int,
    now: int,
    owner: str = MEASURED_OWNER,
) -> list[dict[str, Any]]:
    """Pages 1 and 2 of each query, each checked task by task against the loaded data:
    a page holds the next matching tasks in order, ``limit`` of them unless its read
    budget ran out first (then fewer, and a cursor)."""
    rows = []
    for name, filters in QUERIES.items():
        expected = _expected(pairs, filters, owner)
        cursor: str | None = None
        offset = 0
        for page_number in (1, 2):
            meter.reset()
            page = store.list_page(owner, filters, limit, cursor, now)
            got = [t["id"] for t in page.items]
            if len(got) > limit or got != expected[offset : offset + len(got)]:
                raise AssertionError(f"{len(pairs)} {name} page {page_number}: wrong tasks")
            offset += len(got)
            if page.next_cursor is None and offset != len(expected):
                raise AssertionError(f"{len(pairs)} {name} page {page_number}: tasks missing")
            rows.append(
                {
                    "size": len(pairs),
                    "query": name,
                    "page": page_number,
                    "requests": meter.requests,
                    "operations": dict(meter.operations),
                    "capacity_units": round(meter.capacity, 2),
                    "items": len(page.items),
                    "matching": len(expected),
                }
            )
            cursor = page.next_cursor
            if cursor is None:
                break
    return rows


def load_and_measure(
    client: Any, table: str, pairs: list[tuple[str, dict[str, Any]]], limit: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Create ``table``, load the tasks through the store and measure its pages; a
    Scan fails the run."""
    meter = Meter(forbidden=frozenset({"Scan"}))
    meter.attach(client)
    create_table(client, table)
    store = DynamoTaskStore(client, table, CursorCodec([b"x" * 32]))
    return load(store, pairs), measure_pages(store, meter, pairs, limit, int(time.time()))


def measure_size(size: int, limit: int, seed: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Load a fresh in-memory DynamoDB Local with ``size`` tasks and measure list pages."""
    pairs = make_tasks(size, seed)
    with dynamodb_local.running() as server:
        return load_and_measure(server.client(), TABLE, pairs, limit)


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| size | query | page | requests | operations | capacity units | items returned |",
        "| ---: | --- | ---: | ---: | --- | ---: | ---: |",
    ]
    for r in rows:
        ops = ", ".join(f"{op} x{n}" for op, n in sorted(r["operations"].items()))
        query = f"{r['query']} ({r['matching']} match)"
        lines.append(
            f"| {r['size']:,} | {query} | {r['page']} | {r['requests']} | {ops} "
            f"| {r['capacity_units']:g} | {r['items']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.list_cost", description=__doc__)
    parser.add_argument("--sizes", default="100,1000,10000", help="comma-separated task counts")
    parser.add_argument("--limit", type=int, default=25, help="page size")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the results here")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    loads, rows = [], []
    for size in sizes:
        load, size_rows = measure_size(size, args.limit, args.seed)
        print(
            f"size {size:,}: loaded in {load['seconds']:.1f} s "
            f"({size / max(load['seconds'], 1e-9):,.0f} tasks/s, {LOAD_THREADS} threads)",
            file=sys.stderr,
            flush=True,
        )
        loads.append(load)
        rows.extend(size_rows)
    print(f"List pages of {MEASURED_OWNER!r}, limit {args.limit}, on DynamoDB Local:\n")
    print(markdown(rows))
    print("\n| size | load seconds |\n| ---: | ---: |")
    for load in loads:
        print(f"| {load['size']:,} | {load['seconds']} |")
    if args.json:
        result = {"engine": "DynamoDB Local", "limit": args.limit, "load": loads, "rows": rows}
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
