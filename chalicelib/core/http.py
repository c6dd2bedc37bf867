"""The HTTP layer shared by every resource: problem documents, request bodies, responses,
ETags, request ids and CORS.

Everything about headers, status codes and RFC 9457 problem details lives here and in the
resources' thin routes; services raise ``chalicelib.core.errors`` only, and
``problem_for`` is the one place that writes them as problems.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import re
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from chalice.app import CORSConfig, Request, Response

from chalicelib import identity
from chalicelib.core import encoding
from chalicelib.core.conditions import Match, matches
from chalicelib.core.errors import (
    MAX_FIELD_ERRORS,
    ApiError,
    ContentTooLarge,
    InternalError,
    MalformedBody,
)
from chalicelib.core.headers import REQUEST_ID_HEADER, client_request_id, etag
from chalicelib.core.paging import CURSOR, Page
from chalicelib.core.record import ID, Record

log = logging.getLogger("task-api.http")

PROBLEM_JSON = "application/problem+json"
#: What routes accept: a JSON body; a merge patch (RFC 7396), or plain JSON, for PATCH; and
#: for GET and DELETE, which read no body, any Content-Type a client library adds.
JSON = ["application/json"]
MERGE_PATCH = ["application/merge-patch+json", "application/json"]
NO_BODY = ["*/*"]
#: Room for the largest valid task even with every character \u-escaped (about 140 KB).
MAX_BODY_BYTES = 256 * 1024
#: Arrays and objects in a request body nest at most this deep (a task needs 2).
MAX_BODY_DEPTH = 32
#: A problem document lists at most this many invalid values; its detail counts the rest.
MAX_PROBLEM_ERRORS = MAX_FIELD_ERRORS
#: On every API response: per-user data is never stored by caches, and never sniffed.
#: (The web page and its assets set their own Cache-Control; nosniff is theirs too.)
SECURITY_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}

#: A problem's ``instance``: this occurrence, named by the request's X-Request-Id.
INSTANCE_PREFIX = "urn:task-api:request:"


def problem(
    status: int,
    detail: str,
    problem_type: str = "about:blank",
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """An RFC 9457 problem document. With type about:blank the title is the status phrase."""
    body = {
        "type": problem_type,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extensions,
    }
    return Response(
        body=body, status_code=status, headers={**(headers or {}), "Content-Type": PROBLEM_JSON}
    )


def problem_for(error: ApiError) -> Response:
    """The one mapping from an error to its problem document: the error carries it all."""
    error.report(log)
    return problem(
        error.status,
        error.detail,
        error.problem_type,
        error.title,
        error.headers(),
        **error.extensions(),
    )


def internal_error(exc_info: bool = True) -> Response:
    """A 500 that shows no internals; the log has the exception, next to the request's id."""
    log.error("Unhandled error", exc_info=exc_info)
    return problem_for(InternalError())


#: Request headers browsers may send, and response headers their scripts may read.
CORS_ALLOW_HEADERS = ["If-Match", "If-None-Match", "Idempotency-Key", "X-Request-Id"]
CORS_EXPOSE_HEADERS = ["ETag", "Location", "Link", "Retry-After", "X-Request-Id"]
#: Seconds a browser may reuse a preflight's answer.
CORS_MAX_AGE = 600
#: The stage setting: the one origin browsers may call the API from.
CORS_ORIGIN_VARIABLE = "TASKS_CORS_ALLOW_ORIGIN"
#: Its value for "any page served from this machine" (http(s)://localhost, 127.0.0.1 or
#: [::1], any port): the local stage's. Only ``chalice local`` and the test client honour
#: it (``devserver/local_gateway.py`` echoes such an Origin); anywhere else it allows no
#: origin at all, so a deployed stage configured with it is same-origin only.
LOOPBACK_ORIGINS = "loopback"


def cors(environ: Any = None) -> CORSConfig | bool:
    """The stage's CORS policy, read when Chalice imports the app (it sets the stage's
    variables first). One allowed origin per stage; unset means same-origin only, and so
    does ``loopback``, whose origins the local gateway alone allows, request by request."""
    origin = (os.environ if environ is None else environ).get(CORS_ORIGIN_VARIABLE, "").strip()
    if not origin or origin.lower() == LOOPBACK_ORIGINS:
        return False
    return CORSConfig(
        allow_origin=origin,
        allow_headers=CORS_ALLOW_HEADERS,
        expose_headers=CORS_EXPOSE_HEADERS,
        max_age=CORS_MAX_AGE,
    )


@dataclass(frozen=True)
class RequestIds:
    """``gateway``: API Gateway's id of the request (its access log's ``requestId``).
    ``correlation``: the id the response carries in X-Request-Id and a problem's
    ``instance``: the caller's own when well-formed, otherwise the gateway's."""

    gateway: str
    correlation: str


def request_ids(request: Request) -> RequestIds:
    """Without API Gateway (chalice local, tests), the Lambda context's per-request id
    stands in for the gateway's."""
    context = getattr(request, "context", None) or {}
    lambda_context = getattr(request, "lambda_context", None)
    gateway = str(
        context.get("requestId") or getattr(lambda_context, "aws_request_id", "") or uuid.uuid4()
    )
    return RequestIds(gateway, client_request_id(request) or gateway)


def identify(response: Response, correlation_id: str) -> Response:
    """Every response carries X-Request-Id; a problem also names its occurrence with it."""
    response.headers = {**(response.headers or {}), REQUEST_ID_HEADER: correlation_id}
    content_type = next((v for k, v in response.headers.items() if k.lower() == "content-type"), "")
    if content_type == PROBLEM_JSON and isinstance(response.body, dict):
        response.body = {**response.body, "instance": INSTANCE_PREFIX + correlation_id}
    return response


def owner(request: Request) -> str:
    """The identity every operation on stored data is scoped to: never the body, path or
    query."""
    authorizer = (getattr(request, "context", None) or {}).get("authorizer") or {}
    sent_credentials = bool(request.headers.get("Authorization"))
    return identity.owner(authorizer.get("claims"), sent_credentials)


def caller(request: Request) -> str | None:
    """The owner when the request has one (for the request's log line); never raises."""
    try:
        return owner(request)
    except ApiError:
        return None


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_NOT_JSON = "The request body is not valid JSON (UTF-8, no NaN, no lone surrogates)."
_TOO_DEEP = f"The request body nests arrays and objects more than {MAX_BODY_DEPTH} deep."


class _NumberOutOfRange(ValueError):
    """A JSON number beyond a 64-bit float (1e400): Python would make it infinity."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise _NumberOutOfRange(text)
    return number


def _nests_deeper_than(document: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` deep (a scalar is 0 deep). Level
    by level, keeping only containers: linear, and no recursion."""
    level = [document] if isinstance(document, dict | list) else []
    for _ in range(limit):
        level = [
            child
            for node in level
            for child in (node.values() if type(node) is dict else node)
            if type(child) is dict or type(child) is list
        ]
        if not level:
            return False
    return bool(level)


def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or a MalformedBody saying why not. Every check
    here, and every later one, costs time linear in the body's size."""
    raw = request.raw_body or b""
    if isinstance(raw, str):  # Chalice passes bytes; its type admits a str
        raw = raw.encode("utf-8")
    if len(raw) > MAX_BODY_BYTES:
        raise ContentTooLarge(f"The request body must be at most {MAX_BODY_BYTES} bytes.")
    try:
        body = json.loads(
            raw.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float
        )
    except RecursionError:
        raise MalformedBody(_TOO_DEEP) from None
    except _NumberOutOfRange:
        detail = "The request body has a number beyond the range of a 64-bit float."
        raise MalformedBody(detail) from None
    except (UnicodeError, ValueError):
        raise MalformedBody(_NOT_JSON) from None
    if _nests_deeper_than(body, MAX_BODY_DEPTH):
        raise MalformedBody(_TOO_DEEP)
    try:
        # "\ud800" parses to a lone surrogate, which no store can encode as UTF-8. Only a
        # \u escape can make one (UTF-8 cannot encode surrogates), so look for one first.
        if _SURROGATE_ESCAPE.search(raw):
            json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeError:
        raise MalformedBody(_NOT_JSON) from None
    if not isinstance(body, dict):
        raise MalformedBody("The request body must be a JSON object.")
    return body


def base_path(request: Request) -> str:
    """The prefix API Gateway strips before routing: "/api" for stage "api", "" locally.

    ``request.path`` is the route template (``/tasks/{task_id}``), so the prefix is the
    request's full path less as many trailing segments as the template has.
    """
    full_path = (getattr(request, "context", None) or {}).get("path") or ""
    route_segments = len([s for s in (request.path or "").split("/") if s])
    segments = full_path.rstrip("/").split("/")
    return "/".join(segments[: max(len(segments) - route_segments, 0)]).rstrip("/")


def _full_path(request: Request) -> str:
    """The path the client asked for, stage prefix included: ``request.path`` is the route's
    template (``/tasks/{task_id}/activity``)."""
    path: str | None = (getattr(request, "context", None) or {}).get("path")
    if path:
        return path
    return (request.path or "").format(**(request.uri_params or {}))


def record_response(current: Record, status: int = 200) -> Response:
    """A record as the body, its version as the ETag."""
    return Response(body=current, status_code=status, headers={"ETag": etag(current)})


def created(current: Record, request: Request, collection: str) -> Response:
    """201: the record, and its URL path in Location (``collection`` is where it lives,
    such as ``/tasks``)."""
    response = record_response(current, status=201)
    response.headers["Location"] = f"{base_path(request)}{collection}/{current[ID]}"
    return response


def read_response(current: Record, if_none_match: Match | None) -> Response:
    """GET: 304 with the ETag and no body when If-None-Match matches, else 200."""
    if if_none_match is not None and matches(current, if_none_match):
        return Response(body="", status_code=304, headers={"ETag": etag(current)})
    return record_response(current)


def query_parameters(request: Request) -> dict[str, str | list[str]]:
    """The query string: a string per parameter, a list for one given more than once."""
    params = request.query_params
    if not params:
        return {}
    return {
        name: values[0] if len(values := params.getlist(name)) == 1 else values for name in params
    }


def page_response(page: Page[Any], request: Request) -> Response:
    """A list page; with a next page, also an RFC 8288 Link to it (same query, new cursor)."""
    body = {"items": page.items, "count": len(page.items), "nextCursor": page.next_cursor}
    headers: dict[str, str | list[str]] = {}
    if page.next_cursor is not None:
        params = [(k, v) for k, v in (request.query_params or {}).items() if k != CURSOR]
        query = urllib.parse.urlencode([*params, (CURSOR, page.next_cursor)])
        headers["Link"] = f'<{_full_path(request)}?{query}>; rel="next"'
    return Response(body=body, headers=headers)


def no_content() -> Response:
    return Response(body="", status_code=204)


def answering_problems(view: Callable[..., Response]) -> Callable[..., Response]:
    """Wrap a route so that every error leaves as a problem document, never a trace."""

    @functools.wraps(view)
    def answer(*args: Any, **kwargs: Any) -> Response:
        try:
            return view(*args, **kwargs)
        except ApiError as error:
            return problem_for(error)
        except Exception:
            return internal_error()

    return answer


def finish_response(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Every response, the last step: the security headers, and a JSON body written as
    UTF-8 (Chalice would escape each non-ASCII character, an emoji as 12 bytes)."""
    response = get_response(event)
    headers = dict(response.headers or {})
    names = {name.lower() for name in headers}
    headers.update(
        {name: value for name, value in SECURITY_HEADERS.items() if name.lower() not in names}
    )
    response.headers = headers
    if isinstance(response.body, dict | list):
        response.body = encoding.dumps(response.body)
    return response


def chalice_errors_as_problems(
    event: Request, get_response: Callable[[Request], Response]
) -> Response:
    """Rewrite Chalice's own errors ({"Code", "Message"}: 400, 405, 415, 500) as problems."""
    response = get_response(event)
    body = response.body
    if response.status_code < 400 or not (isinstance(body, dict) and "Code" in body):
        return response
    headers = {
        k: v if isinstance(v, str) else ", ".join(v)
        for k, v in response.headers.items()
        if k.lower() != "content-type"
    }
    if response.status_code >= 500:
        return internal_error(exc_info=False)  # Chalice logged the trace
    return problem(response.status_code, str(body.get("Message", "")), headers=headers)
