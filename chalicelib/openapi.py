"""The OpenAPI 3.1 document, built from the app's route table and ``chalicelib.schema``.

Nothing here restates a rule. Paths, methods, request media types and which routes need
a token come from Chalice's route table. Bodies and parameters are the schemas that
validation uses. Header syntax is the patterns that ``chalicelib.headers`` parses with.
What is written here is only what a reader needs around them: summaries and the
responses each operation can give. Importing this module costs nothing at cold start:
app.py imports it when /openapi.json is first requested.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from chalicelib import headers, schema, web, webpage

API_VERSION = "0.1.0"
SECURITY_SCHEME = "CognitoIdToken"

_SCHEMAS = "#/components/schemas/"
_PARAMETERS = "#/components/parameters/"
_RESPONSES = "#/components/responses/"
_HEADERS = "#/components/headers/"


@dataclass(frozen=True)
class Operation:
    """What the route table cannot tell: words, parameters, body schema, responses."""

    summary: str
    description: str
    tag: str = "tasks"
    parameters: tuple[str, ...] = ()
    body: str | None = None
    responses: dict[str, str] = field(default_factory=dict)


#: Responses every task operation can give.
_TASK_ERRORS = {"400": "BadRequest", "401": "Unauthorized", "429": "TooManyRequests"}
_SERVER_ERROR = {"500": "InternalError", "503": "ServiceUnavailable"}
_BODY_ERRORS = {"413": "ContentTooLarge", "415": "UnsupportedMediaType"}
#: Responses the routes without a token can give too: the stage's throttling covers every
#: route, and any route can fail unexpectedly.
_PUBLIC_ERRORS = {"429": "TooManyRequests", "500": "InternalError"}

#: One entry per view function of app.py, keyed by its name.
OPERATIONS: dict[str, Operation] = {
    "health": Operation(
        summary="Health check",
        description="Answers without a token and without touching DynamoDB.",
        tag="service",
        responses={"200": "Health", **_PUBLIC_ERRORS},
    ),
    "openapi_document": Operation(
        summary="This API document",
        description="The OpenAPI 3.1 document of this API, served without a token.",
        tag="service",
        responses={"200": "OpenApiDocument", **_PUBLIC_ERRORS},
    ),
    "web_page": Operation(
        summary="The web page",
        description=(
            "A task manager for the browser, served without a token; where the stage needs "
            "one, the page signs its user in with Cognito. Its script and stylesheet come "
            "from `/ui/{name}`."
        ),
        tag="web",
        parameters=("ContentIfNoneMatch",),
        responses={"200": "WebPage", "304": "ContentNotModified", **_PUBLIC_ERRORS},
    ),
    "web_asset": Operation(
        summary="A file of the web page",
        description=(
            "The page's script, stylesheet and icon, named by a fingerprint of their "
            "content, so they may be cached for a year."
        ),
        tag="web",
        parameters=("name", "ContentIfNoneMatch"),
        responses={
            "200": "WebAsset",
            "304": "ContentNotModified",
            "404": "AssetNotFound",
            **_PUBLIC_ERRORS,
        },
    ),
    "list_tasks": Operation(
        summary="List tasks",
        description=(
            "The caller's tasks, newest first, one page at a time. Filters combine; the "
            'next page is `nextCursor`, also sent as a `Link: rel="next"` header.'
        ),
        parameters=("limit", "cursor", "status", "priority", "tag"),
        responses={"200": "TaskPage", **_TASK_ERRORS, **_SERVER_ERROR},
    ),
    "create_task": Operation(
        summary="Create a task",
        description=(
            "Creates a task with a generated id. With an `Idempotency-Key`, a repeat of the "
            "same request within 24 hours returns the task the first one created, and "
            "creates nothing."
        ),
        parameters=("Idempotency-Key",),
        body="TaskInput",
        responses={
            "201": "TaskCreated",
            **_TASK_ERRORS,
            "409": "IdempotencyConflict",
            **_BODY_ERRORS,
            "422": "IdempotencyKeyReused",
            **_SERVER_ERROR,
        },
    ),
    "get_task": Operation(
        summary="Read a task",
        description="With `If-None-Match` holding the current ETag, 304 and no body.",
        parameters=("task_id", "If-None-Match"),
        responses={
            "200": "Task",
            "304": "NotModified",
            **_TASK_ERRORS,
            "404": "NotFound",
            **_SERVER_ERROR,
        },
    ),
    "replace_task": Operation(
        summary="Create or replace a task at this id",
        description=(
            "Replaces every writable field: an omitted one takes its default. Creates the "
            "task (201) when the id is free. `If-Match` makes it replace-only and "
            "`If-None-Match: *` create-only."
        ),
        parameters=("task_id", "If-Match", "If-None-Match"),
        body="TaskInput",
        responses={
            "200": "Task",
            "201": "TaskCreated",
            **_TASK_ERRORS,
            "412": "PreconditionFailed",
            **_BODY_ERRORS,
            **_SERVER_ERROR,
        },
    ),
    "patch_task": Operation(
        summary="Change some fields of a task",
        description=(
            "A JSON Merge Patch (RFC 7396): the fields sent change, null resets an optional "
            "field to its default. `If-Match` makes the change conditional."
        ),
        parameters=("task_id", "If-Match"),
        body="TaskPatch",
        responses={
            "200": "Task",
            **_TASK_ERRORS,
            "404": "NotFound",
            "412": "PreconditionFailed",
            **_BODY_ERRORS,
            **_SERVER_ERROR,
        },
    ),
    "delete_task": Operation(
        summary="Delete a task",
        description="`If-Match` makes the deletion conditional.",
        parameters=("task_id", "If-Match"),
        responses={
            "204": "NoContent",
            **_TASK_ERRORS,
            "404": "NotFound",
            "412": "PreconditionFailed",
            **_SERVER_ERROR,
        },
    ),
}


def _ref(prefix: str, name: str) -> dict[str, str]:
    return {"$ref": prefix + name}


def _component(json_schema: dict[str, Any]) -> dict[str, Any]:
    """A standalone schema as a component: the dialect is the document's own."""
    return {k: v for k, v in copy.deepcopy(json_schema).items() if k != "$schema"}


def _anchored(pattern: str) -> str:
    """JSON Schema patterns match anywhere; the Python code uses fullmatch."""
    return f"^(?:{pattern})$"


def _schemas() -> dict[str, Any]:
    field_error = {
        "type": "object",
        "description": "One invalid input: exactly one of pointer, parameter or header says where.",
        "required": ["detail"],
        "minProperties": 2,
        "maxProperties": 2,
        "properties": {
            "pointer": {
                "type": "string",
                "format": "json-pointer",
                "description": "JSON Pointer into the request body.",
            },
            "parameter": {"type": "string", "description": "Query or path parameter."},
            "header": {"type": "string", "description": "Request header."},
            "detail": {"type": "string", "description": "What is wrong; never the value."},
        },
        "additionalProperties": False,
    }
    problem = {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": ["type", "title", "detail", "instance"],
        "properties": {
            "type": {
                "type": "string",
                "format": "uri-reference",
                "description": (
                    f"`about:blank` (the title is the status phrase), `{web.VALIDATION_PROBLEM}`,"
                    f" `{web.MALFORMED_BODY_PROBLEM}` or, from API Gateway itself when "
                    f"deployed, `{web.GATEWAY_PROBLEM}`."
                ),
            },
            "title": {"type": "string"},
            "status": {"type": "integer", "format": "int32", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "instance": {
                "type": "string",
                "format": "uri-reference",
                # The prefix has no regex metacharacters, so it stands for itself.
                "pattern": _anchored(web.INSTANCE_PREFIX + headers.REQUEST_ID_PATTERN),
                "description": (
                    "This occurrence: the request's X-Request-Id after "
                    f"`{web.INSTANCE_PREFIX}`. Quote it when reporting a problem."
                ),
            },
            "code": {"type": "string", "description": "API Gateway's error type, deployed."},
            "errors": {
                "type": "array",
                "items": _ref(_SCHEMAS, "FieldError"),
                "maxItems": web.MAX_PROBLEM_ERRORS,
                "description": (
                    f"At most {web.MAX_PROBLEM_ERRORS}; when there were more, `detail` says "
                    "how many."
                ),
            },
        },
    }
    validation_problem = {
        "allOf": [_ref(_SCHEMAS, "Problem")],
        "description": "Every invalid value of the request at once.",
        "required": ["errors"],
        "properties": {
            "type": {"const": web.VALIDATION_PROBLEM},
            "status": {"const": 400},
            "errors": {"minItems": 1},
        },
    }
    # A page holds at most `limit` tasks, and its cursor is one the `cursor` parameter takes.
    page_size = schema.LIST_PARAMETERS["limit"]["maximum"]
    page = {
        "type": "object",
        "required": ["items", "count", "nextCursor"],
        "additionalProperties": False,
        "properties": {
            "items": {"type": "array", "items": _ref(_SCHEMAS, "Task"), "maxItems": page_size},
            "count": {
                "type": "integer",
                "format": "int32",
                "minimum": 0,
                "maximum": page_size,
                "description": "len(items)",
            },
            "nextCursor": {
                "type": ["string", "null"],
                "maxLength": schema.LIST_PARAMETERS["cursor"]["maxLength"],
                "description": "Pass as `cursor`, with the same filters, for the next page.",
            },
        },
    }
    return {
        "Task": _component(schema.TASK_SCHEMA),
        "TaskInput": _component(schema.TASK_INPUT_SCHEMA),
        "TaskPatch": _component(schema.TASK_PATCH_SCHEMA),
        "TaskPage": page,
        "Problem": problem,
        "ValidationProblem": validation_problem,
        "FieldError": field_error,
    }


def _header_parameter(
    name: str, pattern: str, description: str, examples: list[str]
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": {"type": "string", "pattern": _anchored(pattern), "examples": examples},
    }


#: What an ETag of this API looks like: version 3 of a task created 2026-11-23.
_EXAMPLE_ETAG = headers.etag({"version": 3, "createdAt": "2026-11-23T10:46:49.134891Z"})


def _parameters() -> dict[str, Any]:
    query = {
        name: {
            "name": name,
            "in": "query",
            "required": False,
            "description": spec.get("description", ""),
            "schema": {k: v for k, v in spec.items() if k != "description"},
        }
        for name, spec in schema.LIST_PARAMETERS.items()
    }
    conditions = (
        f"An ETag from this API, a comma-separated list of at most {headers.MAX_ENTITY_TAGS} "
        'of them, or "*". '
    )
    return {
        "task_id": {
            "name": "task_id",
            "in": "path",
            "required": True,
            "description": schema.TASK_ID_SCHEMA["description"],
            "schema": {k: v for k, v in schema.TASK_ID_SCHEMA.items() if k != "description"},
            "example": "buy-milk",
        },
        "name": {
            "name": "name",
            "in": "path",
            "required": True,
            "description": "The name the page uses: stem, content fingerprint, suffix.",
            "schema": {"type": "string"},
            "example": "app.3f9c2a1b0d4e.js",
        },
        **query,
        "ContentIfNoneMatch": {
            "name": "If-None-Match",
            "in": "header",
            "required": False,
            "description": (
                "The page's or file's ETag from an earlier response: 304 when it is still "
                "current (weak comparison). Any other value is ignored."
            ),
            "schema": {"type": "string"},
        },
        "If-Match": _header_parameter(
            "If-Match",
            headers.CONDITION_PATTERN,
            conditions + "The request applies only if the task's current ETag matches "
            '(strong comparison; "*": if the task exists); otherwise 412.',
            [_EXAMPLE_ETAG],
        ),
        "If-None-Match": _header_parameter(
            "If-None-Match",
            headers.CONDITION_PATTERN,
            conditions + "GET: 304 when the current ETag matches (weak comparison). "
            'PUT: "*" makes it create-only (412 if the task exists).',
            [_EXAMPLE_ETAG, "*"],
        ),
        "Idempotency-Key": _header_parameter(
            "Idempotency-Key",
            headers.IDEMPOTENCY_KEY_PATTERN,
            "1-255 visible ASCII characters, bare or quoted. A retry with the same key and "
            "body within 24 hours returns the first response's task; the same key with "
            "another body is 422.",
            ["order-42-attempt-1"],
        ),
        headers.REQUEST_ID_HEADER: {
            "name": headers.REQUEST_ID_HEADER,
            "in": "header",
            "required": False,
            "description": (
                "Your id for this request, for correlating logs. Echoed in the response's "
                f"X-Request-Id when it matches `{_anchored(headers.REQUEST_ID_PATTERN)}`; "
                "any other value is ignored (never an error) and the server's id is used."
            ),
            # Any value is accepted, so the schema does not restrict it: the pattern above
            # decides only whether it is echoed.
            "schema": {"type": "string", "examples": ["checkout-7f3a2c"]},
        },
    }


def _response_headers() -> dict[str, Any]:
    def header(description: str, json_schema: dict[str, Any]) -> dict[str, Any]:
        return {"description": description, "schema": json_schema}

    return {
        "ETag": header(
            "The task's current version; send it back in If-Match or If-None-Match.",
            {"type": "string", "pattern": _anchored(headers.ETAG_PATTERN)},
        ),
        "Location": header(
            "The new task's URL path.", {"type": "string", "format": "uri-reference"}
        ),
        "Link": header(
            'RFC 8288 link to the next page: `<...>; rel="next"`; absent on the last page.',
            {"type": "string"},
        ),
        "Retry-After": {
            **header(
                "Seconds to wait before retrying.",
                {
                    "type": "integer",
                    "format": "int32",
                    "minimum": 0,
                    "maximum": web.RETRY_AFTER_SECONDS,
                },
            ),
            "required": True,
        },
        "ContentETag": header(
            "A fingerprint of the page or file; send it back in If-None-Match.",
            {"type": "string", "pattern": '^"[0-9a-f]{12}"$'},
        ),
        "ContentCacheControl": {
            **header(
                f"How long browsers may keep it: `{webpage.REVALIDATE}` for the page (it "
                f"embeds the stage's settings), `{webpage.IMMUTABLE}` for a file (its name "
                "changes with its content).",
                {"type": "string", "enum": [webpage.REVALIDATE, webpage.IMMUTABLE]},
            ),
            "required": True,
        },
        **_security_headers(),
        **_cors_headers(),
        "Content-Security-Policy": header(
            "Scripts and styles from this origin only, no inline code, Trusted Types.",
            {"type": "string"},
        ),
        "WWW-Authenticate": header("The authentication scheme: Bearer.", {"type": "string"}),
        headers.REQUEST_ID_HEADER: {
            **header(
                "This request's id: yours when you sent a well-formed X-Request-Id, otherwise "
                "API Gateway's request id. The server's log lines and a problem's `instance` "
                "carry the same id.",
                {"type": "string", "pattern": _anchored(headers.REQUEST_ID_PATTERN)},
            ),
            "required": True,
        },
    }


def _security_headers() -> dict[str, Any]:
    """``web.SECURITY_HEADERS``, on every response (the page and its files set their own
    Cache-Control, ``ContentCacheControl``)."""
    why = {
        "Cache-Control": "No cache, shared or private, stores an API response (per-user data).",
        "X-Content-Type-Options": "Browsers never guess another content type than the one sent.",
    }
    return {
        name: {
            "description": f"`{value}`. {why[name]}",
            "schema": {"type": "string", "const": value},
            "required": True,
        }
        for name, value in web.SECURITY_HEADERS.items()
    }


_WHEN_CORS = (
    "Present when the stage allows an origin (`TASKS_CORS_ALLOW_ORIGIN`) and, on the local "
    "stage, when the request's Origin is a loopback one. "
)


def _cors_headers() -> dict[str, Any]:
    """What a browser reads of the stage's CORS policy on an actual response (``web.cors``;
    on the local stage, ``devserver.local_gateway``). Every route shares the policy."""
    return {
        "Access-Control-Allow-Origin": {
            "description": _WHEN_CORS + "The origin whose pages may read the response.",
            "schema": {"type": "string", "examples": ["https://tasks.example.com"]},
        },
        "Access-Control-Expose-Headers": {
            "description": _WHEN_CORS + "The response headers those pages' scripts may read.",
            "schema": {"type": "string", "const": ",".join(web.CORS_EXPOSE_HEADERS)},
        },
        "Vary": {
            "description": (
                "`Origin`, where the stage allows an origin and the response is the local "
                "stage's (its CORS headers depend on the request's Origin) or API Gateway's "
                "own error."
            ),
            "schema": {"type": "string", "examples": ["Origin"]},
        },
    }


#: Response headers every response can carry, whichever route or layer (app or gateway)
#: answers.
_EVERY_RESPONSE = (headers.REQUEST_ID_HEADER, *_cors_headers(), "X-Content-Type-Options")


def _response(
    description: str, media_type: str, schema_name: str, *header_names: str
) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {media_type: {"schema": _ref(_SCHEMAS, schema_name)}},
    }
    if header_names:
        response["headers"] = {name: _ref(_HEADERS, name) for name in header_names}
    return response


def _problem_response(description: str, *header_names: str) -> dict[str, Any]:
    return _response(description, web.PROBLEM_JSON, "Problem", *header_names)


def _json_response(description: str, schema_name: str, *header_names: str) -> dict[str, Any]:
    return _response(description, "application/json", schema_name, *header_names)


def _content_response(
    description: str, media_types: list[str], *header_names: str
) -> dict[str, Any]:
    """A page or file: text, with its fingerprint ETag."""
    return {
        "description": description,
        "content": {media_type: {"schema": {"type": "string"}} for media_type in media_types},
        "headers": {
            "ETag": _ref(_HEADERS, "ContentETag"),
            "Cache-Control": _ref(_HEADERS, "ContentCacheControl"),
            **{name: _ref(_HEADERS, name) for name in header_names},
        },
    }


def _responses() -> dict[str, Any]:
    """Every response, success or problem, from the app or from the gateway, carries
    X-Request-Id, the security headers and, where the stage allows an origin, its CORS
    headers. Only the page and its files have a Cache-Control of their own."""
    responses = _response_bodies()
    for response in responses.values():
        response["headers"] = {
            **response.get("headers", {}),
            **{name: _ref(_HEADERS, name) for name in _EVERY_RESPONSE},
        }
        response["headers"].setdefault("Cache-Control", _ref(_HEADERS, "Cache-Control"))
    return responses


def _response_bodies() -> dict[str, Any]:
    bad_request = _problem_response(
        "The request body or parameters are invalid (`errors` lists each), or the body is "
        "not a JSON object."
    )
    bad_request["content"][web.PROBLEM_JSON]["schema"] = {
        "anyOf": [_ref(_SCHEMAS, "ValidationProblem"), _ref(_SCHEMAS, "Problem")]
    }
    return {
        "Health": {
            "description": "The service is up.",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["status"],
                        "properties": {"status": {"const": "ok"}},
                    }
                }
            },
        },
        "OpenApiDocument": {
            "description": "This document.",
            "content": {
                "application/json": {
                    "schema": {"type": "object", "required": ["openapi", "info", "paths"]}
                }
            },
        },
        "WebPage": _content_response("The page.", ["text/html"], "Content-Security-Policy"),
        "WebAsset": _content_response(
            "The file.", sorted({t.split(";")[0] for t in webpage.CONTENT_TYPES.values()})
        ),
        "ContentNotModified": {
            "description": "Unchanged since the ETag sent.",
            "headers": {
                "ETag": _ref(_HEADERS, "ContentETag"),
                "Cache-Control": _ref(_HEADERS, "ContentCacheControl"),
            },
        },
        "AssetNotFound": _problem_response("No file by this name (fingerprint included)."),
        "Task": _json_response("The task.", "Task", "ETag"),
        "TaskCreated": _json_response("The task, created.", "Task", "ETag", "Location"),
        "TaskPage": _json_response("One page of tasks.", "TaskPage", "Link"),
        "NotModified": {
            "description": "The task has not changed since the ETag sent.",
            "headers": {"ETag": _ref(_HEADERS, "ETag")},
        },
        "NoContent": {"description": "Deleted."},
        "BadRequest": bad_request,
        "Unauthorized": _problem_response(
            "No valid ID token of this API's user pool. Deployed, API Gateway answers a "
            "missing or invalid token itself (type `" + web.GATEWAY_PROBLEM + "`).",
            "WWW-Authenticate",
        ),
        "NotFound": _problem_response("The caller has no task with this id."),
        "IdempotencyConflict": _problem_response(
            "A request with this Idempotency-Key is still in progress; retry shortly.",
            "Retry-After",
        ),
        "PreconditionFailed": _problem_response(
            "If-Match or If-None-Match does not hold: GET the task for its current ETag."
        ),
        "ContentTooLarge": _problem_response(
            f"The request body is larger than {web.MAX_BODY_BYTES} bytes."
        ),
        "UnsupportedMediaType": _problem_response("The body's Content-Type is not accepted."),
        "IdempotencyKeyReused": _problem_response(
            "This Idempotency-Key was already used with a different request body."
        ),
        "TooManyRequests": _problem_response(
            "Deployed only: the stage's throttling limit was reached (API Gateway). Retry "
            "after `Retry-After` seconds.",
            "Retry-After",
        ),
        "InternalError": _problem_response("An unexpected error; quote the X-Request-Id."),
        "ServiceUnavailable": _problem_response(
            "DynamoDB throttled every retry or could not be reached in time. Nothing was "
            "changed; retry after `Retry-After` seconds.",
            "Retry-After",
        ),
    }


#: A valid request body of each kind, for readers and for the bodies API clients prefill.
_BODY_EXAMPLES = {
    "TaskInput": {
        "title": "Buy milk",
        "priority": "high",
        "dueDate": "2030-01-31",
        "tags": ["errands"],
    },
    "TaskPatch": {"status": "in_progress", "dueDate": None},
}


def _operation_id(view_name: str) -> str:
    first, *rest = view_name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def _operation(entry: Any, anonymous: bool) -> dict[str, Any]:
    spec = OPERATIONS[entry.view_name]
    operation: dict[str, Any] = {
        "operationId": _operation_id(entry.view_name),
        "summary": spec.summary,
        "description": spec.description,
        "tags": [spec.tag],
    }
    operation["parameters"] = [
        _ref(_PARAMETERS, name) for name in (*spec.parameters, headers.REQUEST_ID_HEADER)
    ]
    if spec.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {
                media_type: {"schema": _ref(_SCHEMAS, spec.body)}
                for media_type in entry.content_types
            },
        }
    if spec.body is not None:
        for media in operation["requestBody"]["content"].values():
            media["example"] = _BODY_EXAMPLES[spec.body]
    operation["responses"] = {
        status: _ref(_RESPONSES, name) for status, name in sorted(spec.responses.items())
    }
    if entry.authorizer is None:
        operation["security"] = []
    elif anonymous:
        operation["security"] = [{SECURITY_SCHEME: []}, {}]
    return operation


_DESCRIPTION = """\
A REST JSON API for tasks (to-do items) on AWS Chalice and Amazon DynamoDB.

Every task belongs to the caller: the owner is the `sub` of the Cognito ID token sent \
in `Authorization`, never a value in the body, path or query. Errors are RFC 9457 \
problem documents. Writes can be made conditional with ETags, creation idempotent with \
`Idempotency-Key`, and lists are paged with an opaque cursor."""

_ANONYMOUS_NOTE = """

This document was served by a stage that admits requests without a token (the `local` \
stage of `chalice local`): they act as the fixed owner `local`. Deployed stages require \
the token."""


def document(routes: dict[str, dict[str, Any]], anonymous: bool = False) -> dict[str, Any]:
    """The document for Chalice's route table. ``anonymous``: the stage admits requests
    without a token, so task operations list "no token" as an alternative."""
    paths: dict[str, Any] = {}
    for path, methods in sorted(routes.items()):
        paths[path] = {
            method.lower(): _operation(entry, anonymous) for method, entry in methods.items()
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Task API",
            "version": API_VERSION,
            "description": _DESCRIPTION + (_ANONYMOUS_NOTE if anonymous else ""),
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [
            {
                "url": "{baseUrl}",
                "description": "Local: `make run`. Deployed: the stack's EndpointURL output.",
                # Public: the API serves callers on the internet (OWASP API9, inventory).
                "x-internal": False,
                "variables": {
                    "baseUrl": {
                        "default": "http://127.0.0.1:8000",
                        "description": (
                            "For example https://abc123.execute-api.eu-west-1.amazonaws.com/api"
                        ),
                    }
                },
            }
        ],
        "tags": [
            {"name": "tasks", "description": "The caller's tasks."},
            {"name": "web", "description": "The web page and its files; no token."},
            {"name": "service", "description": "Health and this document; no token."},
        ],
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "parameters": _parameters(),
            "headers": _response_headers(),
            "responses": _responses(),
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": (
                        "A Cognito ID token of this API's user pool, without a `Bearer` "
                        "prefix. API Gateway verifies it; the owner is its `sub`."
                    ),
                    "x-amazon-apigateway-authtype": "cognito_user_pools",
                }
            },
        },
        "security": [{SECURITY_SCHEME: []}],
    }


_SERVED: dict[bool, dict[str, Any]] = {}


def served(routes: dict[str, dict[str, Any]], anonymous: bool) -> dict[str, Any]:
    """The document, built once per container: the routes never change after import."""
    if anonymous not in _SERVED:
        _SERVED[anonymous] = document(routes, anonymous)
    return _SERVED[anonymous]
