"""Concurrent writers with real threads against a real `chalice local` server.

chalice local serves each request on its own thread (with a thread-local
current_request), so these requests really overlap inside the app and the store. They
run on the embedded emulator and on AWS's DynamoDB Local, the real engine's semantics.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.local_server import ENGINES, LocalServer, server_on

#: Starts another program (a server, a CLI or a browser): not in `make check`.
pytestmark = pytest.mark.external

WRITERS = 12


@pytest.fixture(scope="module", params=ENGINES)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalServer]:
    with server_on(request.param, tmp_path_factory.mktemp("concurrency")) as running:
        yield running


def send(server: LocalServer, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    request = urllib.request.Request(
        server.base_url + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def at_once(count: int, call: Any) -> list[Any]:
    """Run ``call(i)`` on ``count`` threads released together by a barrier."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        results[i] = call(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_parallel_if_match_updates_have_exactly_one_winner(
    server: LocalServer, method: str
) -> None:
    task_id = f"race-{method.lower()}"
    status, created = send(server, "PUT", f"/tasks/{task_id}", {"title": "v1"}, {})
    assert status == 201
    etag = f'"1.{"".join(c for c in created["createdAt"] if c.isdigit())}"'

    results = at_once(
        WRITERS,
        lambda i: send(
            server, method, f"/tasks/{task_id}", {"title": f"writer {i}"}, {"If-Match": etag}
        ),
    )
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [412] * (WRITERS - 1)
    winner = next(body for status, body in results if status == 200)
    _, current = send(server, "GET", f"/tasks/{task_id}", None, {})
    assert current["version"] == 2
    assert current["title"] == winner["title"]


def test_parallel_posts_with_one_idempotency_key_create_one_task(server: LocalServer) -> None:
    body = {"title": "exactly once", "tags": ["concurrency"]}
    results = at_once(
        WRITERS,
        lambda i: send(server, "POST", "/tasks", body, {"Idempotency-Key": "one-key"}),
    )
    assert {status for status, _ in results} <= {201, 409}
    ids = {body["id"] for status, body in results if status == 201}
    assert len(ids) == 1
    _, page = send(server, "GET", "/tasks?tag=concurrency&limit=100", None, {})
    assert [task["id"] for task in page["items"]] == list(ids)


def test_parallel_creates_all_land(server: LocalServer) -> None:
    results = at_once(
        WRITERS,
        lambda i: send(server, "PUT", f"/tasks/many-{i}", {"title": "t", "tags": ["many"]}, {}),
    )
    assert [status for status, _ in results] == [201] * WRITERS
    _, page = send(server, "GET", "/tasks?tag=many&limit=100", None, {})
    assert sorted(t["id"] for t in page["items"]) == sorted(f"many-{i}" for i in range(WRITERS))
