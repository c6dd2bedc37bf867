"""The HTTP layer's helpers: request bodies, task responses, ETags and problem documents.

Everything about headers, status codes and RFC 9457 problem details lives here (and
in the thin routes of app.py); the service below raises domain errors only.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from chalice import CORSConfig, Response
from chalice.app import Request

from chalicelib import identity
from chalicelib.conditions import Match, matches
from chalicelib.errors import (
    AnonymousModeRefused,
    FieldError,
    IdempotencyConflict,
    IdempotencyKeyReused,
    InvalidCursor,
    PreconditionFailed,
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


def cors(environ: Any = None) -> CORSConfig | bool:
    """The stage's CORS policy, read when Chalice imports the app (it sets the stage's
    variables first). One allowed origin per stage; unset means same-origin only."""
    origin = (os.environ if environ is None else environ).get("TASKS_CORS_ALLOW_ORIGIN", "")
    if not origin.strip():
        return False
    return CORSConfig(
        allow_origin=origin.strip(),
        allow_headers=CORS_ALLOW_HEADERS,
        expose_headers=CORS_EXPOSE_HEADERS,
        max_age=600,
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


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or an HttpProblem saying why not."""
    raw = request.raw_body or b""
    if len(raw) > MAX_BODY_BYTES:
        raise HttpProblem(413, f"The request body must be at most {MAX_BODY_BYTES} bytes.")
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        # "\ud800" parses to a lone surrogate, which no store can encode as UTF-8.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (UnicodeError, ValueError, RecursionError):
        detail = "The request body is not valid JSON (UTF-8, no NaN, no lone surrogates)."
        raise HttpProblem(400, detail, MALFORMED_BODY_PROBLEM) from None
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
    headers = {"ETag": etag(task)}
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
    params = request.query_params or {}
    return {
        name: values[0] if len(values := params.getlist(name)) == 1 else values for name in params
    }


def page_response(page: Any, request: Request) -> Response:
    """A list page; with a next page, also an RFC 8288 Link to it (same query, new cursor)."""
    body = {"items": page.items, "count": len(page.items), "nextCursor": page.next_cursor}
    headers = {}
    if page.next_cursor is not None:
        params = [(k, v) for k, v in (request.query_params or {}).items() if k != "cursor"]
        query = urllib.parse.urlencode([*params, ("cursor", page.next_cursor)])
        headers["Link"] = f'<{base_path(request)}{request.path}?{query}>; rel="next"'
    return Response(body=body, headers=headers)


def no_content() -> Response:
    return Response(body="", status_code=204)


def _problem_for(error: TaskApiError) -> Response:
    if isinstance(error, ValidationFailed):
        detail = f"{len(error.errors)} invalid value(s): see errors."
        errors = [e.to_dict() for e in error.errors]
        return problem(400, detail, VALIDATION_PROBLEM, errors=errors)
    if isinstance(error, InvalidCursor):
        errors = [FieldError(parameter="cursor", detail=error.reason).to_dict()]
        return problem(400, str(error), VALIDATION_PROBLEM, errors=errors)
    if isinstance(error, TaskNotFound):
        return problem(404, str(error))
    if isinstance(error, Unauthenticated):
        detail = "Send a Cognito ID token of this API's user pool in the Authorization header."
        return problem(401, detail, headers={"WWW-Authenticate": 'Bearer realm="tasks"'})
    if isinstance(error, AnonymousModeRefused):
        log.error("TASKS_ALLOW_ANONYMOUS is set inside Lambda: refusing to serve")
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


def problem_middleware(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Rewrite Chalice's own errors ({"Code", "Message"}: 400, 405, 415, 500) as problems."""
    response = get_response(event)
    body = response.body
    if response.status_code < 400 or not (isinstance(body, dict) and "Code" in body):
        return response
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-type"}
    if response.status_code >= 500:
        return internal_error(exc_info=False)  # Chalice logged the trace
    return problem(response.status_code, str(body.get("Message", "")), headers=headers)
