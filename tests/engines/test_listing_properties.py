"""List walks as a property, on the store itself (moto): whatever the tasks, filters, page
size, read budget and byte budget, following ``nextCursor`` lists exactly the matching,
visible tasks, newest first, each once; and no request reads more than its budget.

The read budget is shrunk here (``MAX_ITEMS_READ_PER_PAGE``), so that a few dozen tasks
cross its boundary as often as thousands would; ``test_listing_walks.py`` walks with the
real one on both engines.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.core import encoding
from chalicelib.core.cursor import CursorCodec
from chalicelib.core.paging import PageBytes
from chalicelib.tasks import store
from chalicelib.tasks.store import DynamoTaskStore, ListFilters
from tests.conftest import new_task

NOW = 1_800_000_000
STATUSES = ["new", "in_progress", "completed"]
PRIORITIES = ["low", "medium", "high"]
TAGS = ["home", "work", "idea"]
_owners = itertools.count()

TASKS = st.lists(
    st.fixed_dictionaries(
        {
            "status": st.sampled_from(STATUSES),
            "priority": st.sampled_from(PRIORITIES),
            "tags": st.sets(st.sampled_from(TAGS), max_size=2).map(sorted),
            "expired": st.booleans(),
            "description": st.sampled_from(["", "x" * 300, "\U0001f600" * 100]),
            "second": st.integers(0, 5),  # few distinct createdAt: ties are ordered by id
        }
    ),
    max_size=40,
)
FILTERS = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(STATUSES),
        "priority": st.sampled_from(PRIORITIES),
        "tag": st.sampled_from(TAGS),
    },
)


@pytest.fixture
def codec_store(dynamodb: Any, table_name: str) -> DynamoTaskStore:
    return DynamoTaskStore(dynamodb, table_name, CursorCodec([b"k" * 32]))


@settings(
    max_examples=int(os.environ.get("LIST_PROPERTY_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(tasks=TASKS, filters=FILTERS, data=st.data())
def test_every_walk_lists_each_matching_task_once_within_its_budgets(
    codec_store: DynamoTaskStore,
    queries: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    tasks: list[dict[str, Any]],
    filters: dict[str, str],
    data: st.DataObject,
) -> None:
    limit = data.draw(st.integers(1, 8), label="limit")
    budget = data.draw(st.integers(limit + 1, limit + 10), label="items read per request")
    byte_budget = data.draw(st.none() | st.integers(200, 3000), label="page bytes")
    monkeypatch.setattr(codec_store.pager, "max_items", budget)
    owner = f"owner-{next(_owners)}"
    created = []
    for number, spec in enumerate(tasks):
        task = new_task(
            f"t{number:03d}",
            created=f"2026-01-01T00:00:0{spec['second']}.000000Z",
            status=spec["status"],
            priority=spec["priority"],
            tags=spec["tags"],
            description=spec["description"],
            expireAt=NOW - 1 if spec["expired"] else NOW + 60,
        )
        assert codec_store.create(owner, task, NOW)
        created.append(task)
    expected = [
        t["id"]
        for t in sorted(created, key=lambda t: (t["createdAt"], t["id"]), reverse=True)
        if t["expireAt"] > NOW
        and t["status"] == filters.get("status", t["status"])
        and t["priority"] == filters.get("priority", t["priority"])
        and ("tag" not in filters or filters["tag"] in t["tags"])
    ]
    page_bytes = None if byte_budget is None else PageBytes(byte_budget, encoding.lambda_weight)

    listed: list[str] = []
    cursor = None
    for _ in range(len(created) + 2):
        queries.clear()
        page = codec_store.list_page(owner, ListFilters(**filters), limit, cursor, NOW, page_bytes)
        assert len(page.items) <= limit
        assert 1 <= len(queries) <= store.MAX_QUERIES_PER_PAGE
        assert sum(q["read"] for q in queries) <= budget
        if page_bytes is not None and len(page.items) > 1:
            assert sum(map(page_bytes.weigh, page.items)) <= byte_budget
        listed += [t["id"] for t in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    else:
        pytest.fail("the walk did not end")
    assert listed == expected
