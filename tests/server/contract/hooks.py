"""Schemathesis hooks: the two rules of this API that no JSON Schema can state.

Schemathesis generates "positive" requests from the document and expects them to be
accepted. Two values can match their schema and still be wrong, so these hooks keep
generated requests from depending on them. Every check still runs on every request.

- ``expireAt`` must be in the future when written; the schema can only bound it.
- A list ``cursor`` must be one this API issued (it is signed); the schema can only
  say "a string". Cursors the API did issue are recorded and kept.

One more works around schemathesis 4.32 itself. Its coverage phase generates header
values from letters and digits only, so it finds no valid value for a pattern such as
If-Match's (quoted entity tags). It then seeds an invalid one into its "default
positive" case, which the API rightly rejects. A positive case keeps only header values
that match the document.
"""

from __future__ import annotations

import time
from typing import Any

import schemathesis

_issued_cursors: set[str] = set()
#: Generated expireAt values in the past move this far ahead of now (one day).
_AHEAD_SECONDS = 86_400


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    """Remember every nextCursor the API hands out, so later requests may use it."""
    try:
        body = response.json()
    except ValueError:
        return
    if isinstance(body, dict) and isinstance(body.get("nextCursor"), str):
        _issued_cursors.add(body["nextCursor"])


def _drop_invalid_headers(context: Any, case: Any) -> None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not case.headers:
        return
    for parameter in context.operation.iter_parameters():
        name = parameter.name
        in_case = parameter.location == "header" and name in case.headers
        if in_case and not parameter.is_valid(case.headers[name]):
            del case.headers[name]


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    _drop_invalid_headers(context, case)
    body = case.body
    if isinstance(body, dict):
        expire_at = body.get("expireAt")
        is_number = isinstance(expire_at, int | float) and not isinstance(expire_at, bool)
        if is_number and 1 <= expire_at <= time.time():
            body["expireAt"] = int(time.time()) + _AHEAD_SECONDS + int(expire_at) % 1000
    query = case.query
    if isinstance(query, dict):
        cursor = query.get("cursor")
        if isinstance(cursor, str) and cursor and cursor not in _issued_cursors:
            del query["cursor"]
    return case
