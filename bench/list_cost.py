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
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chalicelib.cursor import CursorCodec
from chalicelib.schema import PRIORITIES, STATUSES
from chalicelib.store import ListFilters, TaskStore
from chalicelib.table import create_table
from tools import dynamodb_local

TABLE = "tasks-bench"
MEASURED_OWNER = "owner-measured"
MEASURED_TASKS = 200
TASKS_PER_OTHER_OWNER = 50
LOAD_THREADS = 8
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
TAGS = ("work", "home", "errand", "finance", "health", "travel", "reading", "garden")
WORDS = ("lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed")
#: The queries measured for the measured owner, each on its first page and on page 2.
QUERIES: dict[str, ListFilters] = {
    "no filter": ListFilters(),
    "status=in_progress": ListFilters(status="in_progress"),
    "priority=urgent": ListFilters(priority="urgent"),
    "tag=finance": ListFilters(tag="finance"),
    "status=in_progress+tag=finance": ListFilters(status="in_progress", tag="finance"),
}


@dataclass
class Meter:
    """Counts DynamoDB calls and sums ConsumedCapacity through the client's event hooks."""

    operations: Counter[str] = field(default_factory=Counter)
    capacity: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, client: Any) -> None:
        client.meta.events.register("provide-client-params.dynamodb.*", self._before)
        client.meta.events.register("after-call.dynamodb.*", self._after)

    def reset(self) -> None:
        with self.lock:
            self.operations.clear()
            self.capacity = 0.0

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "Scan":
            raise AssertionError(f"a Scan was sent: {params}")
        if "ReturnConsumedCapacity" in model.input_shape.members:
            params["ReturnConsumedCapacity"] = "TOTAL"
        with self.lock:
            self.operations[model.name] += 1

    def _after(self, parsed: dict[str, Any], **_: Any) -> None:
        consumed = parsed.get("ConsumedCapacity")
        entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
        with self.lock:
            self.capacity += sum(float(e.get("CapacityUnits", 0)) for e in entries)


def make_tasks(size: int, seed: int) -> list[tuple[str, dict[str, Any]]]:
    """(owner, task) pairs: the measured owner's tasks are interleaved in time with the rest."""
    rng = random.Random(seed)
    measured = min(MEASURED_TASKS, size // 2)
    owners = [MEASURED_OWNER] * measured
    others = size - measured
    owners += [f"owner-{i // TASKS_PER_OTHER_OWNER:05d}" for i in range(others)]
    rng.shuffle(owners)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    pairs = []
    for i, owner in enumerate(owners):
        stamp = start + timedelta(seconds=37 * i, microseconds=rng.randrange(1_000_000))
        created = stamp.strftime(TIMESTAMP_FORMAT)
        words = []
        while sum(len(w) + 1 for w in words) < 300:
            words.append(rng.choice(WORDS))
        task = {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "title": f"Task {i} " + " ".join(rng.choices(WORDS, k=4)),
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
        pairs.append((owner, task))
    return pairs


def _matches(task: dict[str, Any], filters: ListFilters) -> bool:
    return (
        (filters.status is None or task["status"] == filters.status)
        and (filters.priority is None or task["priority"] == filters.priority)
        and (filters.tag is None or filters.tag in task["tags"])
    )


def _expected(pairs: list[tuple[str, dict[str, Any]]], filters: ListFilters) -> list[str]:
    """Ids of the measured owner's matching tasks, newest first (ties: id, descending)."""
    tasks = [t for owner, t in pairs if owner == MEASURED_OWNER and _matches(t, filters)]
    tasks.sort(key=lambda t: (t["createdAt"], t["id"]), reverse=True)
    return [t["id"] for t in tasks]


def measure_size(size: int, limit: int, seed: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Load a fresh in-memory DynamoDB Local with ``size`` tasks and measure list pages."""
    pairs = make_tasks(size, seed)
    now = int(time.time())
    with dynamodb_local.running() as server:
        client = server.client()
        meter = Meter()
        meter.attach(client)
        create_table(client, TABLE)
        store = TaskStore(client, TABLE, CursorCodec([b"x" * 32]))
        started = time.perf_counter()
        with ThreadPoolExecutor(LOAD_THREADS) as pool:
            created = list(pool.map(lambda pair: store.create(*pair), pairs))
        load_seconds = time.perf_counter() - started
        if not all(created):
            raise AssertionError(f"{created.count(False)} tasks were not created")
        load = {"size": size, "seconds": round(load_seconds, 2), "threads": LOAD_THREADS}
        rows = []
        for name, filters in QUERIES.items():
            expected = _expected(pairs, filters)
            cursor: str | None = None
            for page_number in (1, 2):
                meter.reset()
                page = store.list_page(MEASURED_OWNER, filters, limit, cursor, now)
                got = [t["id"] for t in page.items]
                offset = (page_number - 1) * limit
                if got != expected[offset : offset + limit]:
                    raise AssertionError(f"{size} {name} page {page_number}: wrong tasks")
                rows.append(
                    {
                        "size": size,
                        "query": name,
                        "page": page_number,
                        "requests": sum(meter.operations.values()),
                        "operations": dict(meter.operations),
                        "capacity_units": round(meter.capacity, 2),
                        "items": len(page.items),
                        "matching": len(expected),
                    }
                )
                cursor = page.next_cursor
                if cursor is None:
                    break
    return load, rows


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
