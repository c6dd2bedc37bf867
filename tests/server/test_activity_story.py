"""The whole story, as a new user tries it on `make run`'s server (and on DynamoDB Local): a
task created, edited, completed and deleted, with comments added and edited. The history and
the feed tell it in order with the changed fields, and after the DELETE the comments are gone
(removed by the stream consumer) while the history remains."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.local_server import ENGINES, LocalServer, server_on

#: Starts another program (a server, a CLI or a browser): not in `make check`.
pytestmark = pytest.mark.external
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture(scope="module", params=ENGINES)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalServer]:
    with server_on(request.param, tmp_path_factory.mktemp("story")) as running:
        yield running


def ok(server: LocalServer, method: str, path: str, body: Any = None, **headers: str) -> Any:
    status, returned, document = server.request(method, path, body, headers or None)
    assert 200 <= status < 300, (method, path, status, document)
    return returned, document


def test_history_and_feed_tell_the_whole_story(server: LocalServer) -> None:
    _, task = ok(server, "POST", "/tasks", {"title": "Plan the trip"})
    path = f"/tasks/{task['id']}"
    ok(server, "PATCH", path, {"title": "Plan the trip to Lisbon"}, **MERGE_PATCH)
    headers, comment = ok(server, "POST", f"{path}/comments", {"body": "Flights first"})
    comment_path = f"{path}/comments/{comment['id']}"
    ok(
        server,
        "PATCH",
        comment_path,
        {"body": "Flights, then hotels"},
        **MERGE_PATCH,
        **{"If-Match": headers["ETag"]},
    )
    ok(server, "PATCH", path, {"status": "completed"}, **MERGE_PATCH)
    _, listed = ok(server, "GET", f"{path}/comments")
    assert [c["body"] for c in listed["items"]] == ["Flights, then hotels"]

    ok(server, "DELETE", path)
    _, story = ok(server, "GET", f"{path}/activity")  # the server catches up before reading
    assert [e["type"] for e in story["items"]] == [
        "deleted",
        "updated",
        "commented",
        "updated",
        "created",
    ]
    assert story["items"][1]["changes"] == {"status": {"from": "new", "to": "completed"}}
    assert story["items"][3]["changes"] == {
        "title": {"from": "Plan the trip", "to": "Plan the trip to Lisbon"}
    }
    assert story["items"][2]["commentId"] == comment["id"]
    _, feed = ok(server, "GET", "/activity")
    assert [e["id"] for e in feed["items"]][:5] == [e["id"] for e in story["items"]]

    # The task is gone; its comments too, removed by the consumer after the DELETE.
    assert server.request("GET", path)[0] == 404
    assert server.request("GET", comment_path)[0] == 404
    ok(server, "PUT", path, {"title": "Plan the trip, again"})  # the same id, a new task
    deadline = time.monotonic() + 5
    while True:
        _, comments = ok(server, "GET", f"{path}/comments")
        if comments["items"] == [] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert comments["items"] == []  # the old task's comments never come back
