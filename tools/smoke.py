"""Smoke test: the whole task flow against any running Task API, local or deployed.

    python -m tools.smoke http://127.0.0.1:8000
    python -m tools.smoke "$URL" --token "$TOKEN"          # a deployed stage
    make smoke URL=... TOKEN=...

Create (with an Idempotency-Key, and its replay), read (and a 304), update (PATCH with
If-Match, a stale If-Match refused, PUT), list (two pages, following nextCursor), delete,
and a validation error. Every body is checked against the API's own document, fetched
from the same URL. The first deviation stops the run with exit status 1, after the
tasks it created are deleted. It needs only the standard library and jsonschema.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any


class Deviation(Exception):
    """The API did something the contract does not allow."""


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class Smoke:
    base_url: str
    token: str | None = None
    timeout: float = 15.0
    steps: int = 0
    created: list[str] = field(default_factory=list)
    document: dict[str, Any] = field(default_factory=dict)

    def url(self, path: str) -> str:
        """``path`` below the base URL; a Location or Link path resolves against its origin."""
        if path.startswith(("http://", "https://")):
            return path
        base = urllib.parse.urlsplit(self.base_url)
        base_path = base.path.rstrip("/")
        if base_path and path.startswith(base_path + "/"):
            path = path[len(base_path) :]
        return f"{base.scheme}://{base.netloc}{base_path}{path}"

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url(path), data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", content_type)
        if self.token:
            request.add_header("Authorization", self.token)
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, raw = response.status, response.read()
                reply_headers = dict(response.headers.items())
        except urllib.error.HTTPError as error:
            status, raw, reply_headers = error.code, error.read(), dict(error.headers.items())
        except (urllib.error.URLError, TimeoutError) as error:
            raise Deviation(f"{method} {path}: no response ({error})") from None
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            raise Deviation(f"{method} {path}: the body is not JSON: {raw[:200]!r}") from None
        return Reply(status, {k.lower(): v for k, v in reply_headers.items()}, parsed)

    def expect(
        self, reply: Reply, status: int, what: str, schema: str | None = None
    ) -> dict[str, Any]:
        """One step: the status, the media type and the body's documented schema."""
        self.steps += 1
        if reply.status != status:
            raise Deviation(f"{what}: expected {status}, got {reply.status}: {reply.body}")
        content_type = reply.headers.get("content-type", "")
        if status >= 400 and not content_type.startswith("application/problem+json"):
            raise Deviation(f"{what}: a problem document must be application/problem+json")
        if schema is not None:
            self.conforms(reply.body, schema, what)
        print(f"ok  {what} -> {status}")
        return reply.body if isinstance(reply.body, dict) else {}

    def conforms(self, body: Any, component: str, what: str) -> None:
        import jsonschema

        schema = {**self.document, "$ref": f"#/components/schemas/{component}"}
        errors = list(jsonschema.Draft202012Validator(schema).iter_errors(body))
        if errors:
            first = errors[0]
            where = "/".join(map(str, first.absolute_path))
            raise Deviation(f"{what}: body breaks {component} at /{where}: {first.message}")

    def same(self, actual: Any, expected: Any, what: str) -> None:
        if actual != expected:
            raise Deviation(f"{what}: expected {expected!r}, got {actual!r}")

    def header(self, reply: Reply, name: str, what: str) -> str:
        value = reply.headers.get(name.lower())
        if not value:
            raise Deviation(f"{what}: no {name} header")
        return value

    def run(self) -> None:
        health = self.call("GET", "/health")
        self.same(self.expect(health, 200, "GET /health"), {"status": "ok"}, "GET /health")
        document = self.call("GET", "/openapi.json")
        self.document = self.expect(document, 200, "GET /openapi.json")
        self.same(self.document.get("openapi", "")[:4], "3.1.", "the document's version")

        run = uuid.uuid4().hex[:12]
        tag = f"smoke-{run}"
        first = {"title": f"Smoke test {run}", "priority": "high", "tags": [tag]}
        key = {"Idempotency-Key": f"smoke-{run}"}
        created = self.call("POST", "/tasks", first, key)
        task = self.expect(created, 201, "POST /tasks", "Task")
        self.created.append(task["id"])
        location = self.header(created, "Location", "POST /tasks")
        etag = self.header(created, "ETag", "POST /tasks")
        self.same(task["title"], first["title"], "the created title")

        replay = self.call("POST", "/tasks", first, key)
        self.same(
            self.expect(replay, 201, "POST /tasks again, same Idempotency-Key", "Task"),
            task,
            "the replayed task",
        )

        read = self.call("GET", location)
        self.same(self.expect(read, 200, "GET the task", "Task"), task, "the task read back")
        self.same(self.header(read, "ETag", "GET the task"), etag, "the ETag read back")
        not_modified = self.call("GET", location, headers={"If-None-Match": etag})
        self.expect(not_modified, 304, "GET the task with If-None-Match")

        merge_patch = "application/merge-patch+json"
        patched_reply = self.call(
            "PATCH", location, {"status": "in_progress"}, {"If-Match": etag}, merge_patch
        )
        patched = self.expect(patched_reply, 200, "PATCH with If-Match", "Task")
        self.same((patched["status"], patched["version"]), ("in_progress", 2), "the patch")
        stale = self.call("PATCH", location, {"status": "completed"}, {"If-Match": etag})
        self.expect(stale, 412, "PATCH with a stale If-Match", "Problem")

        new_etag = self.header(patched_reply, "ETag", "PATCH with If-Match")
        replacement = {"title": f"Smoke test {run}, replaced", "tags": [tag]}
        replaced_reply = self.call("PUT", location, replacement, {"If-Match": new_etag})
        replaced = self.expect(replaced_reply, 200, "PUT with If-Match", "Task")
        self.same(
            (replaced["title"], replaced["status"], replaced["version"]),
            (replacement["title"], "new", 3),
            "the replacement",
        )

        second = self.expect(
            self.call("POST", "/tasks", {"title": f"Smoke test {run}, second", "tags": [tag]}),
            201,
            "POST a second task",
            "Task",
        )
        self.created.append(second["id"])
        self.walk_list(tag, {task["id"], second["id"]})

        invalid = self.call("POST", "/tasks", {"title": ""})
        problem = self.expect(invalid, 400, "POST an invalid task", "ValidationProblem")
        self.same(problem["errors"][0].get("pointer"), "/title", "the invalid field")

        final_etag = self.header(replaced_reply, "ETag", "PUT with If-Match")
        deleted = self.call("DELETE", location, headers={"If-Match": final_etag})
        self.expect(deleted, 204, "DELETE with If-Match")
        self.created.remove(task["id"])
        self.expect(self.call("DELETE", f"/tasks/{second['id']}"), 204, "DELETE the second")
        self.created.remove(second["id"])
        self.expect(self.call("GET", location), 404, "GET the deleted task", "Problem")
        self.history(location)

    def history(self, location: str) -> None:
        """The deleted task's history, written from the table's stream: deployed it may
        trail the writes by a second or so, so it is read until it is whole (10 s at most)."""
        expected = ["deleted", "updated", "updated", "created"]  # PUT, then PATCH
        deadline = time.monotonic() + 10
        while True:
            reply = self.call("GET", f"{location}/activity")
            page = self.expect(reply, 200, "GET the deleted task's history", "ActivityPage")
            types = [event["type"] for event in page["items"]]
            if types == expected or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.same(types, expected, "the deleted task's history, newest first")

    def walk_list(self, tag: str, expected_ids: set[str]) -> None:
        """Newest first, one task per page, following nextCursor until it ends."""
        seen: list[str] = []
        path = f"/tasks?{urllib.parse.urlencode({'tag': tag, 'limit': 1})}"
        for page_number in range(1, 10):
            reply = self.call("GET", path)
            page = self.expect(reply, 200, f"GET /tasks page {page_number}", "TaskPage")
            seen += [item["id"] for item in page["items"]]
            if page["nextCursor"] is None:
                break
            link = self.header(reply, "Link", f"GET /tasks page {page_number}")
            path = link.split(">", 1)[0].lstrip("<")
        self.same(sorted(seen), sorted(expected_ids), "the tasks listed with the run's tag")
        self.same(len(seen), len(set(seen)), "tasks listed once each")

    def clean_up(self) -> None:
        for task_id in list(self.created):
            with contextlib.suppress(Deviation):
                self.call("DELETE", f"/tasks/{task_id}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url", help="e.g. http://127.0.0.1:8000 or the EndpointURL output")
    parser.add_argument(
        "--token",
        default=os.environ.get("TASKS_TOKEN"),
        help="a Cognito ID token, sent as Authorization (default: $TASKS_TOKEN)",
    )
    args = parser.parse_args(argv)
    smoke = Smoke(args.base_url.rstrip("/"), args.token)
    try:
        smoke.run()
    except Deviation as deviation:
        print(f"FAIL {deviation}", file=sys.stderr)
        smoke.clean_up()
        return 1
    print(f"smoke test passed: {smoke.steps} steps against {smoke.base_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
