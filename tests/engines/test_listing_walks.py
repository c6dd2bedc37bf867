"""GET /tasks walks over 260 tasks, created once: every task exactly once, in order."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.tasks.store import MAX_ITEMS_READ_PER_PAGE, MAX_QUERIES_PER_PAGE
from tests.conftest import ENGINES, Api, Clock, engine_endpoint, serving_api
from tests.engines.test_listing import newest_first, seed, walk


@pytest.fixture(scope="module", params=ENGINES)
def seeded(request: pytest.FixtureRequest) -> Iterator[tuple[Api, list[dict[str, Any]]]]:
    """260 tasks, created once per engine for the read-only walks of this module."""
    runtime.use_clock(Clock())
    try:
        with serving_api(engine_endpoint(request)) as api:
            yield api, seed(api, 260)
    finally:
        runtime.use_clock(None)


# One task per page makes each of the 260 tasks a page boundary. These walks run on DynamoDB
# Local only: moto sorts the whole index again for every page, so there they took a minute.
ONE_PER_PAGE_ENGINES = [engine for engine in ENGINES if engine.id == "dynamodb-local"]


def assert_walk_lists_every_task_once_newest_first(
    seeded: tuple[Api, list[dict[str, Any]]], limit: int
) -> None:
    api, tasks_seeded = seeded
    listed = walk(api, limit=limit)
    assert [t["id"] for t in listed] == newest_first(tasks_seeded)
    assert listed == sorted(tasks_seeded, key=lambda t: (t["createdAt"], t["id"]), reverse=True)


@pytest.mark.parametrize("limit", [7, 100])
def test_walk_returns_every_task_once_newest_first(
    seeded: tuple[Api, list[dict[str, Any]]], limit: int
) -> None:
    assert_walk_lists_every_task_once_newest_first(seeded, limit)


@pytest.mark.parametrize("seeded", ONE_PER_PAGE_ENGINES, indirect=True)
def test_walk_one_task_per_page_returns_every_task_once_newest_first(
    seeded: tuple[Api, list[dict[str, Any]]],
) -> None:
    assert_walk_lists_every_task_once_newest_first(seeded, limit=1)


@pytest.mark.parametrize(
    "query",
    [
        "status=completed",
        "priority=high",
        "tag=work",
        "status=new&priority=urgent",
        "status=in_progress&tag=home",
        "priority=low&tag=idea",
        "status=cancelled&priority=medium&tag=errand",
        "tag=nothing-has-this",
    ],
)
@pytest.mark.parametrize("limit", [7, 100])
def test_filtered_walk_returns_exactly_the_matching_tasks(
    seeded: tuple[Api, list[dict[str, Any]]], query: str, limit: int
) -> None:
    api, seeded = seeded
    wanted = dict(urllib.parse.parse_qsl(query))

    def matches(task: dict[str, Any]) -> bool:
        return (
            task["status"] == wanted.get("status", task["status"])
            and task["priority"] == wanted.get("priority", task["priority"])
            and ("tag" not in wanted or wanted["tag"] in task["tags"])
        )

    expected = newest_first([t for t in seeded if matches(t)])
    assert [t["id"] for t in walk(api, query, limit)] == expected


@pytest.mark.parametrize("seeded", ONE_PER_PAGE_ENGINES, indirect=True)
@pytest.mark.parametrize("query", ["status=in_progress", "tag=work&priority=high"])
def test_filtered_walk_one_task_per_page(
    seeded: tuple[Api, list[dict[str, Any]]], query: str
) -> None:
    api, seeded = seeded
    assert walk(api, query, limit=1) == walk(api, query, limit=100)


@pytest.mark.parametrize("query", ["tag=nothing-has-this", "priority=urgent&tag=nothing-has-this"])
@pytest.mark.parametrize("limit", [1, 25, 100])
def test_a_request_reads_a_fixed_budget_however_many_tasks_the_owner_has(
    seeded: tuple[Api, list[dict[str, Any]]],
    queries: list[dict[str, Any]],
    query: str,
    limit: int,
) -> None:
    """On main, tag=nomatch&limit=1 read every task of the owner (10 Queries and 2,599.5
    RCU for 2,000 tasks of 10 KB): a denial-of-wallet lever that grew with the owner."""
    api, seeded_tasks = seeded
    assert len(seeded_tasks) > MAX_ITEMS_READ_PER_PAGE
    page = api.get(f"/tasks?{query}&limit={limit}").json
    assert page["items"] == []
    assert page["nextCursor"], "the reading stopped, not the list"
    assert 1 <= len(queries) <= MAX_QUERIES_PER_PAGE
    assert queries[0]["limit"] == limit + 1
    assert sum(q["read"] for q in queries) == MAX_ITEMS_READ_PER_PAGE
