"""GET /tasks: owner-scoped pages, filters, order, signed cursors, expiry, Query only."""

from __future__ import annotations

import base64
import itertools
import random
import urllib.parse
from typing import Any

import pytest

from chalicelib.core import encoding
from chalicelib.core.cursor import CursorCodec
from chalicelib.core.errors import InvalidCursor
from chalicelib.core.paging import PageBytes
from chalicelib.tasks.store import DynamoTaskStore, ListFilters
from tests.conftest import Api, Clock, largest_task, new_task

STATUSES = ["new", "in_progress", "completed", "cancelled"]
PRIORITIES = ["low", "medium", "high", "urgent"]
TAGS = ["home", "work", "errand", "idea"]


def seed(api: Api, count: int) -> list[dict[str, Any]]:
    """Tasks with varied status, priority and tags, created in a known order."""
    rng = random.Random(count)
    created = []
    for i in range(count):
        body = {
            "title": f"task {i}",
            "status": rng.choice(STATUSES),
            "priority": rng.choice(PRIORITIES),
            "tags": rng.sample(TAGS, rng.randint(0, 2)),
        }
        reply = api.put(f"/tasks/t{i:04d}", body)
        assert reply.status == 201
        created.append(reply.json)
    return created


def newest_first(tasks: list[dict[str, Any]]) -> list[str]:
    return [t["id"] for t in sorted(tasks, key=lambda t: (t["createdAt"], t["id"]), reverse=True)]


#: Filters that DynamoDB applies after reading (filter expressions): a page filtered by one
#: of these may end short, even empty, when its read budget runs out first.
FILTERED_AFTER_READING = frozenset({"priority", "tag"})


def walk(
    api: Api, query: str = "", limit: int = 25, *, full_pages: bool | None = None
) -> list[dict[str, Any]]:
    """Follow nextCursor to the end, checking the page invariants on the way: no page holds
    more than ``limit`` tasks, and unless a page may end early (a filter applied after
    reading; ``full_pages=False`` for pages cut by their byte budget), every page but the
    last is full."""
    pages, cursor = [], None
    filtered = bool(FILTERED_AFTER_READING & dict(urllib.parse.parse_qsl(query)).keys())
    short_pages_allowed = filtered if full_pages is None else not full_pages
    while True:
        params = dict(urllib.parse.parse_qsl(query))
        params["limit"] = str(limit)
        if cursor:
            params["cursor"] = cursor
        reply = api.get("/tasks?" + urllib.parse.urlencode(params))
        assert reply.status == 200, reply.body
        page = reply.json
        assert page["count"] == len(page["items"]) <= limit
        pages.append(page)
        cursor = page["nextCursor"]
        if cursor is None:
            assert reply.header("Link") is None
            break
        if not short_pages_allowed:
            assert page["count"] == limit, "every page but the last is full"
        link = reply.header("Link")
        assert link.endswith('>; rel="next"')
        target = urllib.parse.urlsplit(link[1 : link.index(">")])
        assert target.path == "/tasks"
        linked = dict(urllib.parse.parse_qsl(target.query))
        assert linked == {**params, "cursor": cursor}
        assert len(pages) < 1000
    if not short_pages_allowed and (len(pages) > 1 or pages[0]["count"]):
        assert pages[-1]["count"] > 0, "the last page is empty only when the result is"
    return [task for page in pages for task in page["items"]]


def test_default_limit_is_25(api: Api, clock: Clock) -> None:
    seed(api, 30)
    page = api.get("/tasks").json
    assert page["count"] == 25
    assert page["nextCursor"]


def test_exactly_limit_tasks_fit_one_page_without_a_next(api: Api, clock: Clock) -> None:
    seed(api, 7)
    reply = api.get("/tasks?limit=7")
    assert reply.json["count"] == 7
    assert reply.json["nextCursor"] is None
    assert reply.header("Link") is None


def test_empty_list(api: Api) -> None:
    assert api.get("/tasks").json == {"items": [], "count": 0, "nextCursor": None}


def test_order_is_stable_while_tasks_change(api: Api, clock: Clock) -> None:
    seed(api, 12)
    first = api.get("/tasks?limit=5").json
    api.patch("/tasks/t0011", {"title": "edited after the first page"})
    api.put("/tasks/t0003", {"title": "replaced, keeps its place"})
    rest = walk(api, limit=5)
    assert [t["id"] for t in rest] == [f"t{i:04d}" for i in reversed(range(12))]
    assert [t["id"] for t in first["items"]] == [f"t{i:04d}" for i in range(11, 6, -1)]


def test_status_change_moves_a_task_between_status_lists(api: Api, clock: Clock) -> None:
    api.put("/tasks/a", {"title": "a"})
    api.patch("/tasks/a", {"status": "completed"})
    assert [t["id"] for t in walk(api, "status=completed")] == ["a"]
    assert walk(api, "status=new") == []


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("limit=1.5", "limit"),
        ("limit=", "limit"),
        ("limit=99999999999999999999", "limit"),
        ("status=done", "status"),
        ("status=", "status"),
        ("priority=critical", "priority"),
        ("tag=", "tag"),
        ("tag=" + "x" * 51, "tag"),
        ("cursor=", "cursor"),
        ("sort=title", "sort"),
        ("status=new&status=completed", "status"),
    ],
)
def test_bad_query_parameter_is_400_naming_it(app_only: Api, query: str, parameter: str) -> None:
    reply = app_only.get(f"/tasks?{query}")
    assert reply.status == 400
    assert reply.header("Content-Type") == "application/problem+json"
    assert [e["parameter"] for e in reply.json["errors"]] == [parameter]


def test_every_bad_parameter_is_listed(app_only: Api) -> None:
    reply = app_only.get("/tasks?limit=0&status=x&priority=y")
    assert reply.status == 400
    assert sorted(e["parameter"] for e in reply.json["errors"]) == ["limit", "priority", "status"]
    reply = app_only.get("/tasks?limit=0&sort=title&status=new&status=completed")
    assert reply.status == 400
    assert sorted(e["parameter"] for e in reply.json["errors"]) == ["limit", "sort", "status"]


def _next_cursor(api: Api, query: str = "") -> str:
    cursor = api.get(f"/tasks?limit=2&{query}").json["nextCursor"]
    assert cursor
    return cursor


def _tamper(cursor: str) -> str:
    payload, mac = cursor.split(".")
    raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raw[len(raw) // 2] ^= 1
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode() + "." + mac


@pytest.mark.parametrize(
    "make_cursor",
    [
        pytest.param(lambda api: "garbage", id="garbage"),
        pytest.param(lambda api: "a.b.c", id="three-parts"),
        pytest.param(lambda api: "!!!.???", id="not-base64"),
        pytest.param(lambda api: "x" * 2000, id="too-long"),
        pytest.param(lambda api: _tamper(_next_cursor(api)), id="tampered"),
        pytest.param(lambda api: _next_cursor(api).split(".")[0] + ".AAAA", id="bad-mac"),
        pytest.param(
            lambda api: CursorCodec([b"a different secret, 32 bytes long"]).encode(
                {"createdAt": "2030-01-01T00:00:00.000000Z", "id": "x"}, "local\x00\x00\x00", 0
            ),
            id="forged",
        ),
    ],
)
def test_bad_cursor_is_400(api: Api, clock: Clock, make_cursor: Any) -> None:
    seed(api, 5)
    reply = api.get("/tasks?limit=2&cursor=" + urllib.parse.quote(make_cursor(api)))
    assert reply.status == 400
    assert reply.json["errors"][0]["parameter"] == "cursor"


def test_cursor_for_other_filters_is_400(api: Api, clock: Clock) -> None:
    seed(api, 40)
    cursor = _next_cursor(api, "priority=high")
    for query in ("", "priority=low", "status=new&priority=high", "priority=high&tag=work"):
        reply = api.get(f"/tasks?{query}&cursor={cursor}")
        assert reply.status == 400, query
        assert reply.json["errors"][0]["parameter"] == "cursor"
    assert api.get(f"/tasks?priority=high&cursor={cursor}").status == 200


def test_expired_cursor_is_400(api: Api, clock: Clock) -> None:
    seed(api, 5)
    cursor = _next_cursor(api)
    clock.advance(hours=23)
    assert api.get(f"/tasks?limit=2&cursor={cursor}").status == 200
    clock.advance(hours=1, seconds=1)
    reply = api.get(f"/tasks?limit=2&cursor={cursor}")
    assert reply.status == 400
    assert "expired" in reply.json["errors"][0]["detail"]


def test_cursor_reveals_no_key_schema(api: Api, clock: Clock) -> None:
    seed(api, 5)
    payload = _next_cursor(api).split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    for internal in ("pk", "sk", "listSk", "statusPk", "OWNER#", "TASK#", "local"):
        assert internal not in decoded


def test_cursor_of_another_owner_is_refused(dynamodb: Any, table_name: str) -> None:
    store = DynamoTaskStore(dynamodb, table_name, CursorCodec([b"k" * 32]))
    for owner, i in itertools.product(("alice", "bob"), range(3)):
        task = new_task(f"t{i}", created=f"2026-01-0{i + 1}T00:00:00.000000Z")
        store.create(owner, task, 0)
    alice_cursor = store.list_page("alice", ListFilters(), 1, None, 0).next_cursor
    with pytest.raises(InvalidCursor):
        store.list_page("bob", ListFilters(), 1, alice_cursor, 0)
    assert [t["id"] for t in store.list_page("alice", ListFilters(), 5, alice_cursor, 0).items] == [
        "t1",
        "t0",
    ]


def test_rotated_secret_still_verifies_old_cursors() -> None:
    old = CursorCodec([b"o" * 32])
    rotated = CursorCodec([b"n" * 32, b"o" * 32])
    cursor = old.encode({"createdAt": "c", "id": "i"}, "binding", 100)
    assert rotated.decode(cursor, "binding", 100) == {"createdAt": "c", "id": "i"}
    with pytest.raises(InvalidCursor):
        CursorCodec([b"n" * 32]).decode(cursor, "binding", 100)


def test_task_that_expires_during_the_test_disappears(api: Api, clock: Clock) -> None:
    api.put("/tasks/keep", {"title": "keep"})
    api.put("/tasks/soon", {"title": "soon", "expireAt": clock.epoch + 60})
    assert api.get("/tasks/soon").status == 200
    assert [t["id"] for t in walk(api)] == ["soon", "keep"]
    clock.advance(seconds=61)
    assert api.get("/tasks/soon").status == 404
    assert [t["id"] for t in walk(api)] == ["keep"]
    # The expired task is read but filtered out: a full page cannot tell whether more follow.
    assert walk(api, "status=new", limit=1, full_pages=False) == [api.get("/tasks/keep").json]
    assert api.patch("/tasks/soon", {"title": "revive?"}).status == 404
    assert api.delete("/tasks/soon").status == 404


def test_put_on_an_expired_task_creates_a_new_one(api: Api, clock: Clock) -> None:
    old = api.put("/tasks/again", {"title": "old", "expireAt": clock.epoch + 10}).json
    api.patch("/tasks/again", {"priority": "high"})
    clock.advance(seconds=11)
    reply = api.put("/tasks/again", {"title": "new"})
    assert reply.status == 201
    task = reply.json
    assert task["version"] == 1
    assert task["createdAt"] > old["createdAt"]
    assert task["priority"] == "medium"
    assert task["expireAt"] is None
    assert [t["id"] for t in walk(api)] == ["again"]


def test_expired_tasks_never_leave_a_page_short(api: Api, clock: Clock) -> None:
    for i in range(10):
        expire = {"expireAt": clock.epoch + 5} if i % 2 else {}
        api.put(f"/tasks/t{i}", {"title": "t", **expire})
    clock.advance(seconds=6)
    page = api.get("/tasks?limit=5").json
    assert [t["id"] for t in page["items"]] == ["t8", "t6", "t4", "t2", "t0"]
    assert page["nextCursor"] is None


def test_a_page_is_one_query_and_never_a_scan(
    api: Api, clock: Clock, dynamodb_calls: list[str]
) -> None:
    seed(api, 60)
    for query in ("limit=20", "limit=5&status=new"):
        dynamodb_calls.clear()
        page = api.get(f"/tasks?{query}").json
        assert dynamodb_calls == ["Query"], query
        assert page["nextCursor"], "the seed has more than one page of each"
        dynamodb_calls.clear()
        api.get(f"/tasks?{query}&cursor={page['nextCursor']}")
        assert dynamodb_calls == ["Query"], query
    dynamodb_calls.clear()
    walk(api, "tag=idea", limit=7)
    walk(api, "priority=low", limit=3)
    assert dynamodb_calls
    assert set(dynamodb_calls) == {"Query"}


# --- every list request has a fixed read budget, and a byte budget -----------------------------


def test_an_unfiltered_page_of_visible_tasks_is_one_query_of_limit_plus_one(
    api: Api, clock: Clock, queries: list[dict[str, Any]]
) -> None:
    seed(api, 30)
    queries.clear()
    assert api.get("/tasks?limit=10").json["count"] == 10
    assert queries == [{"limit": 11, "read": 11}]


def test_a_page_of_large_tasks_ends_early_within_its_byte_budget(api: Api, clock: Clock) -> None:
    """100 of the largest tasks, written in emoji, made one page of 13.5 MB on main: twice
    what Lambda can return (a 502 deployed)."""
    created = [api.post("/tasks", largest_task(i)).json for i in range(12)]
    reply = api.get("/tasks?limit=100")
    page = reply.json
    weights = [encoding.lambda_weight(task) for task in page["items"]]
    assert 0 < page["count"] < len(created)
    assert page["nextCursor"]
    assert sum(weights) <= encoding.PAGE_BUDGET_BYTES < sum(weights) + weights[0]
    assert encoding.lambda_weight(page) < encoding.LAMBDA_RESULT_LIMIT_BYTES
    assert "\U0001f600".encode() in reply.body, "UTF-8 on the wire, not \\u escapes"
    assert b"\\ud83d" not in reply.body
    assert len(reply.body) < sum(weights) / 2
    assert walk(api, limit=100, full_pages=False) == sorted(
        created, key=lambda t: (t["createdAt"], t["id"]), reverse=True
    )


def test_page_bytes_keep_at_least_one_task() -> None:
    budget = PageBytes(10, len)
    assert budget.fitting(["x" * 100, "y"]) == ["x" * 100]
    assert budget.fitting(["aaaa", "bbbb", "cccc"]) == ["aaaa", "bbbb"]
    assert budget.fitting([]) == []
