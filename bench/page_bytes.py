"""The largest list page: 100 tasks of the largest valid size, written in emoji.

Why: Lambda refuses a function result over 6 MB, and API Gateway turns that into a 502.
The python3.11 runtime writes the result with non-ASCII characters escaped, so an emoji
weighs 12 bytes there (``\\ud83d\\ude00``) although it is 4 on the wire. With 100 such
tasks, ``GET /tasks?limit=100`` once returned 13,470,541 bytes. A page now ends early,
with a cursor, before its tasks pass ``chalicelib.core.encoding.PAGE_BUDGET_BYTES``.

The tasks are created through the API (so each is valid) and listed through
``chalice.test.Client``. The page's weight in Lambda is measured here, not taken from the
app: the result as Chalice hands it to the runtime (status, headers, body), written as
the runtime writes it (``json.dumps``, non-ASCII escaped).

    .venv/bin/python -m bench.page_bytes
"""

from __future__ import annotations

import json
import sys
import time
import urllib.parse
from typing import Any

from bench import operations
from chalicelib.core.encoding import LAMBDA_RESULT_LIMIT_BYTES, PAGE_BUDGET_BYTES
from chalicelib.table import create_table
from chalicelib.tasks.schema import FIELDS, LIST_PARAMETERS, MAX_EPOCH_SECONDS, PRIORITIES, STATUSES
from tools import dynamodb_local

OWNER = "owner-emoji"
#: Emoji outside the Basic Multilingual Plane: 4 bytes in UTF-8, 12 as \u escapes.
FIRST_EMOJI = 0x1F600
LARGEST_PAGE = LIST_PARAMETERS["limit"]["maximum"]


def largest_task(number: int | None = None) -> dict[str, Any]:
    """A schema-valid task at every maximum: each string at its longest, written in a
    character outside the BMP (4 bytes in UTF-8, 12 as a JSON escape). ``number``, if
    given, starts the title, to tell such tasks apart."""
    astral = chr(FIRST_EMOJI)
    tags = FIELDS["tags"]
    prefix = "" if number is None else f"{number:03d}"
    return {
        "title": prefix + astral * (FIELDS["title"]["maxLength"] - len(prefix)),
        "description": astral * FIELDS["description"]["maxLength"],
        "status": max(STATUSES, key=len),
        "priority": max(PRIORITIES, key=len),
        "dueDate": "2030-01-31T17:00:00.000000+01:00",
        "tags": [
            f"{i:02d}" + astral * (tags["items"]["maxLength"] - 2) for i in range(tags["maxItems"])
        ],
        "expireAt": MAX_EPOCH_SECONDS,
    }


def lambda_result_bytes(call: operations.Call) -> int:
    """The response as the python3.11 runtime returns it to Lambda: Chalice's result
    (status, headers, body as a string) through ``json.dumps``, non-ASCII escaped."""
    result = {
        "statusCode": call.status,
        "headers": call.headers,
        "multiValueHeaders": {},
        "body": call.raw.decode("utf-8"),
        "isBase64Encoded": False,
    }
    return len(json.dumps(result).encode())


def measure(bench: operations.Bench) -> dict[str, Any]:
    """Create the tasks, then walk ``GET /tasks?limit=100``: every page's size on the
    wire and in Lambda, and every task seen exactly once."""
    started = time.perf_counter()
    created = []
    for number in range(LARGEST_PAGE):
        body = json.dumps(largest_task(number), ensure_ascii=False).encode()  # UTF-8: smaller
        call = bench.send("POST", "/tasks", OWNER, body)
        if call.status != 201:
            raise AssertionError(f"creating a largest task: {call.status} {call.body}")
        created.append(call.body["id"])
    pages: list[dict[str, Any]] = []
    seen: list[str] = []
    query = f"/tasks?limit={LARGEST_PAGE}"
    while True:
        call = bench.call("GET", query, OWNER)
        if call.status != 200:
            raise AssertionError(f"GET {query} -> {call.status}: {call.body!r:.300}")
        seen += [task["id"] for task in call.body["items"]]
        pages.append(
            {
                "tasks": len(call.body["items"]),
                "wire_bytes": len(call.raw),
                "lambda_bytes": lambda_result_bytes(call),
                "requests": call.cost["requests"],
                "read_units": call.cost["read_units"],
            }
        )
        cursor = call.body["nextCursor"]
        if cursor is None:
            break
        if len(pages) > LARGEST_PAGE:
            raise AssertionError("the walk does not end")
        query = f"/tasks?limit={LARGEST_PAGE}&cursor={urllib.parse.quote(cursor)}"
    if sorted(seen) != sorted(created) or len(seen) != len(set(seen)):
        raise AssertionError("the walk did not return every task exactly once")
    largest = max(pages, key=lambda page: page["lambda_bytes"])
    return {
        "tasks": len(created),
        "task_request_bytes": len(json.dumps(largest_task(0)).encode()),
        "pages": pages,
        "largest": largest,
        "limit_bytes": LAMBDA_RESULT_LIMIT_BYTES,
        "page_budget_bytes": PAGE_BUDGET_BYTES,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    del argv
    with dynamodb_local.running() as server:
        create_table(server.client(), operations.stage_table())
        with operations.app_on(server.endpoint_url) as bench:  # its stdout is discarded
            result = measure(bench)
    for page in result["pages"]:
        print(
            f"{page['tasks']} tasks: {page['wire_bytes']:,} bytes on the wire, "
            f"{page['lambda_bytes']:,} in Lambda's result ({page['requests']} request(s), "
            f"{page['read_units']:g} RCU)"
        )
    print(f"Lambda's limit: {result['limit_bytes']:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
