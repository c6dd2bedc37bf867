"""The HTTP layer's helpers: request bodies, task responses, ETags and problem documents.

Everything about headers, status codes and RFC 9457 problem details lives here (and
in the thin routes of app.py); the service below raises domain errors only.
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
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from chalice.app import CORSConfig, Request, Response

from chalicelib import encoding, identity
from chalicelib.conditions import Match, matches
from chalicelib.errors import (
    MAX_FIELD_ERRORS,
    FieldError,
    IdempotencyConflict,
    IdempotencyKeyReused,
    InvalidCursor,
    PreconditionFailed,
    StageMisconfigured,
    StoreUnavailable,
    TaskApiError,
    TaskNotFound,
    Unauthenticated,
    ValidationFailed,
)
from chalicelib.headers import REQUEST_ID_HEADER, client_request_id, etag

log = logging.getLogger("task-api.web")

PROBLEM_JSON = "application/problem+json"
#: Seconds a client should wait before retrying a request that met a passing condition
#: (a key in use, DynamoDB throttling or unreachable).
RETRY_AFTER_SECONDS = 1
#: Room for the largest valid task even with every character \u-escaped (about 140 KB).
MAX_BODY_BYTES = 256 * 1024
#: Arrays and objects in a request body nest at most this deep (a task needs 2).
MAX_BODY_DEPTH = 32
#: A problem document lists at most this many invalid values; its detail counts the rest.
MAX_PROBLEM_ERRORS = MAX_FIELD_ERRORS
#: On every API response: per-user data is never stored by caches, and never sniffed.
#: (The web page and its assets set their own Cache-Control; nosniff is theirs too.)
SECURITY_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}

VALIDATION_PROBLEM = "urn:task-api:problem:validation-error"
MALFORMED_BODY_PROBLEM = "urn:task-api:problem:malformed-body"
#: Rendered by API Gateway itself for its own errors (see infra/definitions.py).
GATEWAY_PROBLEM = "urn:task-api:problem:gateway"
GATEWAY_PROBLEM_TITLE = "Rejected by the API gateway"
#: A problem's ``instance``: this occurrence, named by the request's X-Request-Id.
INSTANCE_PREFIX = "urn:task-api:request:"


class HttpProblem(Exception):
    """An error the HTTP layer itself detects (body too large, malformed JSON, ...)."""

    def __init__(self, status: int, detail: str, problem_type: str = "about:blank") -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.problem_type = problem_type


def problem(
    status: int,
    detail: str,
    problem_type: str = "about:blank",
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """An RFC 9457 problem document. With type about:blank the title is the status phrase."""
    title = HTTPStatus(status).phrase if problem_type == "about:blank" else _TITLES[problem_type]
    body = {"type": problem_type, "title": title, "status": status, "detail": detail, **extensions}
    return Response(
        body=body, status_code=status, headers={**(headers or {}), "Content-Type": PROBLEM_JSON}
    )


_TITLES = {
    VALIDATION_PROBLEM: "The request body or parameters are invalid",
    MALFORMED_BODY_PROBLEM: "Malformed request body",
}


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
    """The identity every task operation is scoped to: never the body, path or query."""
    authorizer = (getattr(request, "context", None) or {}).get("authorizer") or {}
    sent_credentials = bool(request.headers.get("Authorization"))
    return identity.owner(authorizer.get("claims"), sent_credentials)


def caller(request: Request) -> str | None:
    """The owner when the request has one (for the request's log line); never raises."""
    try:
        return owner(request)
    except TaskApiError:
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
    """The request body as a JSON object, or an HttpProblem saying why not. Every check
    here, and every later one, costs time linear in the body's size."""
    raw = request.raw_body or b""
    if isinstance(raw, str):  # Chalice passes bytes; its type admits a str
        raw = raw.encode("utf-8")
    if len(raw) > MAX_BODY_BYTES:
        raise HttpProblem(413, f"The request body must be at most {MAX_BODY_BYTES} bytes.")
    try:
        body = json.loads(
            raw.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float
        )
    except RecursionError:
        raise HttpProblem(400, _TOO_DEEP, MALFORMED_BODY_PROBLEM) from None
    except _NumberOutOfRange:
        detail = "The request body has a number beyond the range of a 64-bit float."
        raise HttpProblem(400, detail, MALFORMED_BODY_PROBLEM) from None
    except (UnicodeError, ValueError):
        raise HttpProblem(400, _NOT_JSON, MALFORMED_BODY_PROBLEM) from None
    if _nests_deeper_than(body, MAX_BODY_DEPTH):
        raise HttpProblem(400, _TOO_DEEP, MALFORMED_BODY_PROBLEM)
    try:
        # "\ud800" parses to a lone surrogate, which no store can encode as UTF-8. Only a
        # \u escape can make one (UTF-8 cannot encode surrogates), so look for one first.
        if _SURROGATE_ESCAPE.search(raw):
            json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeError:
        raise HttpProblem(400, _NOT_JSON, MALFORMED_BODY_PROBLEM) from None
    if not isinstance(body, dict):
        raise HttpProblem(400, "The request body must be a JSON object.", MALFORMED_BODY_PROBLEM)
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


def task_response(task: dict[str, Any], request: Request, status: int = 200) -> Response:
    headers: dict[str, str | list[str]] = {"ETag": etag(task)}
    if status == 201:
        headers["Location"] = f"{base_path(request)}/tasks/{task['id']}"
    return Response(body=task, status_code=status, headers=headers)


def read_response(task: dict[str, Any], request: Request, if_none_match: Match | None) -> Response:
    """GET: 304 with the ETag and no body when If-None-Match matches, else 200."""
    if if_none_match is not None and matches(task, if_none_match):
        return Response(body="", status_code=304, headers={"ETag": etag(task)})
    return task_response(task, request)


def query_parameters(request: Request) -> dict[str, str | list[str]]:
    """The query string: a string per parameter, a list for one given more than once."""
    params = request.query_params
    if not params:
        return {}
    return {
        name: values[0] if len(values := params.getlist(name)) == 1 else values for name in params
    }


def page_response(page: Any, request: Request) -> Response:
    """A list page; with a next page, also an RFC 8288 Link to it (same query, new cursor)."""
    body = {"items": page.items, "count": len(page.items), "nextCursor": page.next_cursor}
    headers: dict[str, str | list[str]] = {}
    if page.next_cursor is not None:
        params = [(k, v) for k, v in (request.query_params or {}).items() if k != "cursor"]
        query = urllib.parse.urlencode([*params, ("cursor", page.next_cursor)])
        headers["Link"] = f'<{base_path(request)}{request.path}?{query}>; rel="next"'
    return Response(body=body, headers=headers)


def no_content() -> Response:
    return Response(body="", status_code=204)


def _validation_problem(invalid: ValidationFailed) -> Response:
    """A 400 listing at most MAX_PROBLEM_ERRORS of the invalid values, and counting the rest,
    so that no problem document grows with the request."""
    listed, total = invalid.errors, invalid.total
    if total > len(listed):
        detail = (
            f"{total} invalid values; errors lists the first {len(listed)} "
            f"({total - len(listed)} more not listed)."
        )
    else:
        detail = f"{total} invalid value(s): see errors."
    return problem(400, detail, VALIDATION_PROBLEM, errors=[e.to_dict() for e in listed])


def _problem_for(error: TaskApiError) -> Response:
    if isinstance(error, ValidationFailed):
        return _validation_problem(error)
    if isinstance(error, InvalidCursor):
        errors = [FieldError(parameter="cursor", detail=error.reason).to_dict()]
        return problem(400, str(error), VALIDATION_PROBLEM, errors=errors)
    if isinstance(error, TaskNotFound):
        return problem(404, str(error))
    if isinstance(error, Unauthenticated):
        detail = "Send a Cognito ID token of this API's user pool in the Authorization header."
        return problem(401, detail, headers={"WWW-Authenticate": 'Bearer realm="tasks"'})
    if isinstance(error, StageMisconfigured):
        log.error("%s: refusing to serve", error.reason)
        return problem(500, "This deployment is misconfigured; it refuses to serve.")
    if isinstance(error, PreconditionFailed):
        detail = f"{error} GET the task for its current ETag."
        return problem(412, detail)
    if isinstance(error, IdempotencyKeyReused):
        detail = "This Idempotency-Key was already used with a different request body."
        return problem(422, detail)
    if isinstance(error, StoreUnavailable):
        log.warning("Task store unavailable: %s", error.reason)
        detail = (
            f"The task store is busy or unreachable; retry after {RETRY_AFTER_SECONDS} second(s)."
        )
        retry_after = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return problem(503, detail, headers=retry_after)
    if isinstance(error, IdempotencyConflict):
        detail = "A request with this Idempotency-Key is in progress; retry shortly."
        return problem(409, detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    raise error


def internal_error(exc_info: bool = True) -> Response:
    """A 500 that shows no internals; the log has the exception, next to the request's id."""
    log.error("Unhandled error", exc_info=exc_info)
    detail = "An unexpected error occurred. Quote the X-Request-Id when reporting it."
    return problem(500, detail)


def api_view(app: Any) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Wrap a route so that every error leaves as a problem document, never a trace."""

    def decorate(view: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            try:
                return view(*args, **kwargs)
            except HttpProblem as error:
                return problem(error.status, error.detail, error.problem_type)
            except TaskApiError as error:
                return _problem_for(error)
            except Exception:
                return internal_error()

        return wrapper

    return decorate


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


def problem_middleware(event: Request, get_response: Callable[[Request], Response]) -> Response:
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
