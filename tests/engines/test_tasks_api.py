"""The CRUD contract over HTTP: every route, status code and header."""

from __future__ import annotations

import re
import uuid

from chalicelib.core.http import MAX_BODY_BYTES
from tests.conftest import Api

TASK_FIELDS = {
    "id",
    "title",
    "description",
    "status",
    "priority",
    "dueDate",
    "tags",
    "expireAt",
    "createdAt",
    "updatedAt",
    "version",
}
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def test_health_is_ok(app_only: Api) -> None:
    reply = app_only.get("/health")
    assert reply.status == 200
    assert reply.json == {"status": "ok"}


def test_create_returns_201_with_defaults_location_and_etag(api: Api) -> None:
    reply = api.post("/tasks", {"title": "Buy milk"})
    assert reply.status == 201
    task = reply.json
    assert set(task) == TASK_FIELDS
    assert uuid.UUID(task["id"]).version == 4
    assert task["title"] == "Buy milk"
    assert task["description"] == ""
    assert task["status"] == "new"
    assert task["priority"] == "medium"
    assert task["dueDate"] is None
    assert task["tags"] == []
    assert task["expireAt"] is None
    assert task["version"] == 1
    assert RFC3339_UTC.match(task["createdAt"])
    assert task["updatedAt"] == task["createdAt"]
    assert reply.header("Location") == f"/tasks/{task['id']}"
    assert reply.header("ETag")


def test_create_stores_every_field(api: Api) -> None:
    fields = {
        "title": "Ship it",
        "description": "all of it",
        "status": "in_progress",
        "priority": "urgent",
        "dueDate": "2030-01-31T17:00:00+01:00",
        "tags": ["work", "release"],
        "expireAt": 4102444800,
    }
    created = api.create(**fields)
    fetched = api.get(f"/tasks/{created['id']}").json
    for name, value in fields.items():
        assert created[name] == value
        assert fetched[name] == value


def test_create_generates_distinct_ids(api: Api) -> None:
    ids = {api.create()["id"] for _ in range(5)}
    assert len(ids) == 5


def test_server_managed_fields_in_body_are_ignored(api: Api) -> None:
    reply = api.post(
        "/tasks",
        {
            "title": "t",
            "id": "chosen",
            "version": 99,
            "createdAt": "2000-01-01T00:00:00Z",
            "updatedAt": "2000-01-01T00:00:00Z",
        },
    )
    assert reply.status == 201
    task = reply.json
    assert task["id"] != "chosen"
    assert task["version"] == 1
    assert not task["createdAt"].startswith("2000")


def test_get_returns_task_with_same_etag_as_create(api: Api) -> None:
    created = api.post("/tasks", {"title": "t"})
    reply = api.get(f"/tasks/{created.json['id']}")
    assert reply.status == 200
    assert reply.json == created.json
    assert reply.header("ETag") == created.header("ETag")


def test_get_missing_task_is_404_problem(api: Api) -> None:
    reply = api.get("/tasks/nope")
    assert reply.status == 404
    assert reply.header("Content-Type") == "application/problem+json"
    assert reply.json["status"] == 404


def test_put_creates_at_client_chosen_id(api: Api) -> None:
    reply = api.put("/tasks/buy-milk", {"title": "Buy milk", "tags": ["home"]})
    assert reply.status == 201
    assert reply.header("Location") == "/tasks/buy-milk"
    assert reply.json["id"] == "buy-milk"
    assert reply.json["version"] == 1
    assert reply.json["tags"] == ["home"]
    assert api.get("/tasks/buy-milk").json == reply.json


def test_put_replaces_resets_omitted_fields_and_keeps_created_at(api: Api) -> None:
    first = api.put("/tasks/t1", {"title": "one", "priority": "high", "tags": ["x"]}).json
    reply = api.put("/tasks/t1", {"title": "two"})
    assert reply.status == 200
    assert reply.header("Location") is None
    task = reply.json
    assert task["title"] == "two"
    assert task["priority"] == "medium"
    assert task["tags"] == []
    assert task["version"] == 2
    assert task["createdAt"] == first["createdAt"]
    assert task["updatedAt"] > first["updatedAt"]


def test_put_path_id_wins_over_body_id(api: Api) -> None:
    reply = api.put("/tasks/path-id", {"title": "t", "id": "body-id"})
    assert reply.status == 201
    assert reply.json["id"] == "path-id"
    assert api.get("/tasks/body-id").status == 404


def test_get_edit_put_round_trip(api: Api) -> None:
    task = api.create(title="before", tags=["a"])
    task["title"] = "after"
    reply = api.put(f"/tasks/{task['id']}", task)
    assert reply.status == 200
    assert reply.json["title"] == "after"
    assert reply.json["tags"] == ["a"]
    assert reply.json["version"] == 2


def test_put_requires_title(api: Api) -> None:
    reply = api.put("/tasks/t1", {"description": "no title"})
    assert reply.status == 400
    assert {"pointer": "/title", "detail": "is required"} in reply.json["errors"]
    assert api.get("/tasks/t1").status == 404


def test_patch_changes_only_given_fields(api: Api) -> None:
    task = api.create(title="t", priority="high", tags=["a"])
    reply = api.patch(f"/tasks/{task['id']}", {"status": "completed"})
    assert reply.status == 200
    patched = reply.json
    assert patched["status"] == "completed"
    assert patched["priority"] == "high"
    assert patched["tags"] == ["a"]
    assert patched["version"] == 2
    assert patched["createdAt"] == task["createdAt"]
    assert reply.header("ETag") == api.get(f"/tasks/{task['id']}").header("ETag")


def test_patch_accepts_application_json(api: Api) -> None:
    task = api.create()
    reply = api.request(
        "PATCH",
        f"/tasks/{task['id']}",
        {"title": "renamed"},
        headers={"Content-Type": "application/json"},
    )
    assert reply.status == 200
    assert reply.json["title"] == "renamed"


def test_patch_null_resets_optional_fields_to_defaults(api: Api) -> None:
    task = api.create(
        description="d",
        status="in_progress",
        priority="low",
        dueDate="2030-01-01",
        tags=["x"],
        expireAt=4102444800,
    )
    nulls = dict.fromkeys(
        ["description", "status", "priority", "dueDate", "tags", "expireAt"], None
    )
    reply = api.patch(f"/tasks/{task['id']}", nulls)
    assert reply.status == 200
    patched = reply.json
    assert patched["description"] == ""
    assert patched["status"] == "new"
    assert patched["priority"] == "medium"
    assert patched["dueDate"] is None
    assert patched["tags"] == []
    assert patched["expireAt"] is None
    assert api.get(f"/tasks/{task['id']}").json == patched


def test_patch_title_null_is_400_and_changes_nothing(api: Api) -> None:
    task = api.create(title="keep")
    reply = api.patch(f"/tasks/{task['id']}", {"title": None, "priority": "high"})
    assert reply.status == 400
    assert reply.json["errors"] == [{"pointer": "/title", "detail": "must be a string"}]
    assert api.get(f"/tasks/{task['id']}").json == task


def test_patch_missing_task_is_404_and_creates_nothing(api: Api) -> None:
    reply = api.patch("/tasks/ghost", {"title": "boo"})
    assert reply.status == 404
    assert api.get("/tasks/ghost").status == 404
    assert api.get("/tasks").json["count"] == 0


def test_empty_patch_changes_nothing(api: Api) -> None:
    task = api.create()
    reply = api.patch(f"/tasks/{task['id']}", {})
    assert reply.status == 200
    assert reply.json == task
    assert api.patch("/tasks/ghost", {}).status == 404


def test_patch_ignores_server_managed_fields(api: Api) -> None:
    task = api.create()
    reply = api.patch(f"/tasks/{task['id']}", {"version": 50, "createdAt": "x", "title": "n"})
    assert reply.status == 200
    assert reply.json["version"] == 2
    assert reply.json["createdAt"] == task["createdAt"]


def test_every_change_increments_version_and_etag(api: Api) -> None:
    task = api.create()
    path = f"/tasks/{task['id']}"
    etags = {api.get(path).header("ETag")}
    for change in ({"title": "a"}, {"priority": "low"}, {"tags": ["z"]}):
        reply = api.patch(path, change)
        etags.add(reply.header("ETag"))
    reply = api.put(path, {"title": "final"})
    etags.add(reply.header("ETag"))
    assert reply.json["version"] == 5
    assert len(etags) == 5


def test_etag_is_strong_and_never_repeats_for_a_recreated_task(api: Api) -> None:
    first = api.put("/tasks/again", {"title": "t"})
    etag = first.header("ETag")
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert not etag.startswith("W/")
    assert api.delete("/tasks/again").status == 204
    second = api.put("/tasks/again", {"title": "t"})
    assert second.json["version"] == 1
    assert second.header("ETag") != etag


def test_delete_returns_204_then_404(api: Api) -> None:
    task = api.create()
    reply = api.delete(f"/tasks/{task['id']}")
    assert reply.status == 204
    assert reply.body == b""
    assert api.get(f"/tasks/{task['id']}").status == 404
    assert api.delete(f"/tasks/{task['id']}").status == 404


def test_list_returns_all_tasks_newest_first(api: Api) -> None:
    ids = [api.create(title=f"t{i}")["id"] for i in range(4)]
    reply = api.get("/tasks")
    assert reply.status == 200
    page = reply.json
    assert page["count"] == 4
    assert page["nextCursor"] is None
    assert [t["id"] for t in page["items"]] == list(reversed(ids))
    assert all(set(t) == TASK_FIELDS for t in page["items"])


def test_list_reflects_updates_and_deletes(api: Api) -> None:
    keep = api.create(title="keep")
    gone = api.create(title="gone")
    api.patch(f"/tasks/{keep['id']}", {"status": "completed"})
    api.delete(f"/tasks/{gone['id']}")
    items = api.get("/tasks").json["items"]
    assert [(t["id"], t["status"]) for t in items] == [(keep["id"], "completed")]


def test_list_empty(api: Api) -> None:
    assert api.get("/tasks").json == {"items": [], "count": 0, "nextCursor": None}


def test_list_never_drops_tasks_past_one_megabyte(api: Api) -> None:
    """A single Query returns at most 1 MB; 100 pages of 9 KB tasks must all come back."""
    description = "x" * 9_000
    for i in range(130):  # ~1.2 MB of tasks
        api.put(f"/tasks/t{i:03d}", {"title": f"t{i}", "description": description})
    page = api.get("/tasks?limit=100").json
    assert page["count"] == 100
    rest = api.get(f"/tasks?limit=100&cursor={page['nextCursor']}").json
    assert rest["count"] == 30
    assert rest["nextCursor"] is None
    assert len({t["id"] for t in page["items"] + rest["items"]}) == 130


def test_location_keeps_the_stage_prefix_api_gateway_strips() -> None:
    from types import SimpleNamespace

    from chalicelib.core import http as web

    task = {"id": "t1", "version": 1, "createdAt": "2026-01-01T00:00:00.000000Z"}
    deployed = SimpleNamespace(path="/tasks", context={"path": "/api/tasks"})
    assert web.created(task, deployed, "/tasks").headers["Location"] == "/api/tasks/t1"
    put = SimpleNamespace(path="/tasks/{task_id}", context={"path": "/v1/tasks/t1"})
    assert web.created(task, put, "/tasks").headers["Location"] == "/v1/tasks/t1"
    local = SimpleNamespace(path="/tasks", context={"path": "/tasks"})
    assert web.created(task, local, "/tasks").headers["Location"] == "/tasks/t1"
    local_put = SimpleNamespace(path="/tasks/{task_id}", context={"path": "/tasks/t1"})
    assert web.created(task, local_put, "/tasks").headers["Location"] == "/tasks/t1"
    no_context = SimpleNamespace(path="/tasks", context={})
    assert web.created(task, no_context, "/tasks").headers["Location"] == "/tasks/t1"


def test_every_api_response_says_no_store_and_nosniff(api: Api) -> None:
    """Per-user data must never be kept by a shared or browser cache, nor sniffed."""
    created = api.post("/tasks", {"title": "t"})
    etag = created.header("ETag")
    task = f"/tasks/{created.json['id']}"
    replies = {
        "201": created,
        "200 list": api.get("/tasks"),
        "200 get": api.get(task),
        "304": api.get(task, headers={"If-None-Match": etag}),
        "200 patch": api.patch(task, {"title": "u"}),
        "400": api.post("/tasks", {"title": ""}),
        "404": api.get("/tasks/missing"),
        "405": api.request("PATCH", "/tasks"),
        "412": api.delete(task, headers={"If-Match": etag}),
        "413": api.post("/tasks", body=b"x" * (MAX_BODY_BYTES + 1)),
        "415": api.post("/tasks", body=b"{}", headers={"Content-Type": "text/plain"}),
        "204": api.delete(task),
        "health": api.get("/health"),
        "document": api.get("/openapi.json"),
    }
    for name, reply in replies.items():
        assert reply.header("Cache-Control") == "no-store", name
        assert reply.header("X-Content-Type-Options") == "nosniff", name
    page = api.get("/")
    assert page.header("Cache-Control") == "no-cache", "the web page keeps its own caching"
    assert page.header("X-Content-Type-Options") == "nosniff"


def test_bodies_are_utf_8_not_escaped(api: Api) -> None:
    """Chalice escaped every non-ASCII character (an emoji cost 12 bytes, not 4)."""
    title = "Café ☕ \U0001f600 \u2028"
    reply = api.post("/tasks", {"title": title})
    assert title.encode() in reply.body
    assert b"\\u" not in reply.body
    assert reply.json["title"] == title
    listed = api.get("/tasks")
    assert title.encode() in listed.body
    assert listed.json["items"][0]["title"] == title
    problem = api.post("/tasks", {"title": "t", "tâche": 1})
    assert "/tâche".encode() in problem.body
