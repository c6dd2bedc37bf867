"""The OpenAPI 3.1 document, built from Chalice's route table and each route's declaration.

Nothing here restates a rule. Paths, methods, request media types and which routes need
a token come from Chalice's route table. Each operation's words, parameters, body and
responses come from its route's declaration (``chalicelib.core.operations``); schemas are
the ones validation uses, and header syntax the patterns ``chalicelib.core.headers``
parses with. What this module adds is what every resource shares: problem documents,
conditional and idempotency headers, request ids, security and CORS headers. Importing
it costs nothing at cold start: the document is built when it is first requested.
"""

from __future__ import annotations

import copy
from typing import Any

from chalice.app import RouteEntry

from chalicelib.core import errors, headers, http
from chalicelib.core.errors import ApiError, ValidationFailed
from chalicelib.core.operations import Components, Operation, declaration
from chalicelib.core.record import Record

API_VERSION = "0.1.0"
SECURITY_SCHEME = "CognitoIdToken"

SCHEMAS = "#/components/schemas/"
PARAMETERS = "#/components/parameters/"
RESPONSES = "#/components/responses/"
HEADERS = "#/components/headers/"


def ref(prefix: str, name: str) -> dict[str, str]:
    return {"$ref": prefix + name}


def component(json_schema: dict[str, Any]) -> dict[str, Any]:
    """A standalone schema as a component: the dialect is the document's own."""
    return {k: v for k, v in copy.deepcopy(json_schema).items() if k != "$schema"}


def anchored(pattern: str) -> str:
    """JSON Schema patterns match anywhere; the Python code uses fullmatch."""
    return f"^(?:{pattern})$"


def query_parameters(parameters: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Query parameters as components, from the JSON Schemas validation checks them with."""
    return {
        name: {
            "name": name,
            "in": "query",
            "required": False,
            "description": spec.get("description", ""),
            "schema": {k: v for k, v in spec.items() if k != "description"},
        }
        for name, spec in parameters.items()
    }


def path_parameter(name: str, json_schema: dict[str, Any], example: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": json_schema.get("description", ""),
        "schema": {k: v for k, v in json_schema.items() if k != "description"},
        "example": example,
    }


def response(
    description: str, media_type: str, schema_name: str, *header_names: str
) -> dict[str, Any]:
    described: dict[str, Any] = {
        "description": description,
        "content": {media_type: {"schema": ref(SCHEMAS, schema_name)}},
    }
    if header_names:
        described["headers"] = {name: ref(HEADERS, name) for name in header_names}
    return described


def json_response(description: str, schema_name: str, *header_names: str) -> dict[str, Any]:
    return response(description, "application/json", schema_name, *header_names)


def problem_response(description: str, *header_names: str) -> dict[str, Any]:
    return response(description, http.PROBLEM_JSON, "Problem", *header_names)


def page_schema(item_schema: str, maximum: int, cursor: dict[str, Any]) -> dict[str, Any]:
    """A list page: at most ``maximum`` items, and a cursor the ``cursor`` parameter takes."""
    return {
        "type": "object",
        "required": ["items", "count", "nextCursor"],
        "additionalProperties": False,
        "properties": {
            "items": {"type": "array", "items": ref(SCHEMAS, item_schema), "maxItems": maximum},
            "count": {
                "type": "integer",
                "format": "int32",
                "minimum": 0,
                "maximum": maximum,
                "description": "len(items)",
            },
            "nextCursor": {
                "type": ["string", "null"],
                "maxLength": cursor["maxLength"],
                "description": "Pass as `cursor`, with the same filters, for the next page.",
            },
        },
    }


# --- what every resource shares ---------------------------------------------------------


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
                    "`about:blank` (the title is the status phrase), "
                    f"`{errors.VALIDATION_PROBLEM}`, `{errors.MALFORMED_BODY_PROBLEM}` or, "
                    "from API Gateway itself when "
                    f"deployed, `{errors.GATEWAY_PROBLEM}`."
                ),
            },
            "title": {"type": "string"},
            "status": {"type": "integer", "format": "int32", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "instance": {
                "type": "string",
                "format": "uri-reference",
                # The prefix has no regex metacharacters, so it stands for itself.
                "pattern": anchored(http.INSTANCE_PREFIX + headers.REQUEST_ID_PATTERN),
                "description": (
                    "This occurrence: the request's X-Request-Id after "
                    f"`{http.INSTANCE_PREFIX}`. Quote it when reporting a problem."
                ),
            },
            "code": {"type": "string", "description": "API Gateway's error type, deployed."},
            "errors": {
                "type": "array",
                "items": ref(SCHEMAS, "FieldError"),
                "maxItems": http.MAX_PROBLEM_ERRORS,
                "description": (
                    f"At most {http.MAX_PROBLEM_ERRORS}; when there were more, `detail` says "
                    "how many."
                ),
            },
        },
    }
    validation_problem = {
        "allOf": [ref(SCHEMAS, "Problem")],
        "description": "Every invalid value of the request at once.",
        "required": ["errors"],
        "properties": {
            "type": {"const": errors.VALIDATION_PROBLEM},
            "status": {"const": ValidationFailed.status},
            "errors": {"minItems": 1},
        },
    }
    return {"Problem": problem, "ValidationProblem": validation_problem, "FieldError": field_error}


def _header_parameter(
    name: str, pattern: str, description: str, examples: list[str]
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": {"type": "string", "pattern": anchored(pattern), "examples": examples},
    }


#: What an ETag of this API looks like: version 3 of a record created 2026-11-23.
_EXAMPLE_ETAG = headers.etag(
    Record(id="example", version=3, createdAt="2026-11-23T10:46:49.134891Z", updatedAt="")
)


def _parameters() -> dict[str, Any]:
    conditions = (
        f"An ETag from this API, a comma-separated list of at most {headers.MAX_ENTITY_TAGS} "
        'of them, or "*". '
    )
    return {
        "If-Match": _header_parameter(
            "If-Match",
            headers.CONDITION_PATTERN,
            conditions + "The request applies only if the current ETag matches "
            '(strong comparison; "*": if it exists); otherwise 412.',
            [_EXAMPLE_ETAG],
        ),
        "If-None-Match": _header_parameter(
            "If-None-Match",
            headers.CONDITION_PATTERN,
            conditions + "GET: 304 when the current ETag matches (weak comparison). "
            'PUT: "*" makes it create-only (412 if it exists).',
            [_EXAMPLE_ETAG, "*"],
        ),
        headers.REQUEST_ID_HEADER: {
            "name": headers.REQUEST_ID_HEADER,
            "in": "header",
            "required": False,
            "description": (
                "Your id for this request, for correlating logs. Echoed in the response's "
                f"X-Request-Id when it matches `{anchored(headers.REQUEST_ID_PATTERN)}`; "
                "any other value is ignored (never an error) and the server's id is used."
            ),
            # Any value is accepted, so the schema does not restrict it: the pattern above
            # decides only whether it is echoed.
            "schema": {"type": "string", "examples": ["checkout-7f3a2c"]},
        },
    }


def idempotency_key_parameter(window_seconds: int) -> dict[str, Any]:
    """Idempotency-Key, for a resource that remembers keys for ``window_seconds``."""
    hours = window_seconds // 3600
    return _header_parameter(
        "Idempotency-Key",
        headers.IDEMPOTENCY_KEY_PATTERN,
        "1-255 visible ASCII characters, bare or quoted. A retry with the same key and "
        f"body within {hours} hours returns the first response's result; the same key with "
        "another body is 422.",
        ["order-42-attempt-1"],
    )


def _response_headers() -> dict[str, Any]:
    def header(description: str, json_schema: dict[str, Any]) -> dict[str, Any]:
        return {"description": description, "schema": json_schema}

    return {
        "ETag": header(
            "The current version; send it back in If-Match or If-None-Match.",
            {"type": "string", "pattern": anchored(headers.ETAG_PATTERN)},
        ),
        "Location": header(
            "The new resource's URL path.", {"type": "string", "format": "uri-reference"}
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
                    "maximum": errors.RETRY_AFTER_SECONDS,
                },
            ),
            "required": True,
        },
        **_security_headers(),
        **_cors_headers(),
        "WWW-Authenticate": header("The authentication scheme: Bearer.", {"type": "string"}),
        headers.REQUEST_ID_HEADER: {
            **header(
                "This request's id: yours when you sent a well-formed X-Request-Id, otherwise "
                "API Gateway's request id. The server's log lines and a problem's `instance` "
                "carry the same id.",
                {"type": "string", "pattern": anchored(headers.REQUEST_ID_PATTERN)},
            ),
            "required": True,
        },
    }


def _security_headers() -> dict[str, Any]:
    """``http.SECURITY_HEADERS``, on every response (the page and its files set their own
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
        for name, value in http.SECURITY_HEADERS.items()
    }


_WHEN_CORS = (
    "Present when the stage allows an origin (`TASKS_CORS_ALLOW_ORIGIN`) and, on the local "
    "stage, when the request's Origin is a loopback one. "
)


_WHEN_CORS = (
    "Present when the stage allows an origin (`TASKS_CORS_ALLOW_ORIGIN`) and, on the local "
    "stage, when the request's Origin is a loopback one. "
)


def _cors_headers() -> dict[str, Any]:
    """What a browser reads of the stage's CORS policy on an actual response (``http.cors``;
    on the local stage, ``devserver.local_gateway``). Every route shares the policy."""
    return {
        "Access-Control-Allow-Origin": {
            "description": _WHEN_CORS + "The origin whose pages may read the response.",
            "schema": {"type": "string", "examples": ["https://tasks.example.com"]},
        },
        "Access-Control-Expose-Headers": {
            "description": _WHEN_CORS + "The response headers those pages' scripts may read.",
            "schema": {"type": "string", "const": ",".join(http.CORS_EXPOSE_HEADERS)},
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

#: Every error a route can declare, each documented by its response.
_ERRORS: tuple[type[ApiError], ...] = (
    errors.ValidationFailed,
    errors.Unauthenticated,
    errors.NotFound,
    errors.IdempotencyConflict,
    errors.PreconditionFailed,
    errors.ContentTooLarge,
    errors.UnsupportedMediaType,
    errors.IdempotencyKeyReused,
    errors.Throttled,
    errors.InternalError,
    errors.StoreUnavailable,
)


def _problem_responses() -> dict[str, Any]:
    """One response per error: its meaning, and the headers the error adds."""
    responses: dict[str, Any] = {}
    for error in _ERRORS:
        header_names = ["Retry-After"] if error.retry_after is not None else []
        if error is errors.Unauthenticated:
            header_names.append("WWW-Authenticate")
        responses[error.response] = problem_response(error.meaning, *header_names)
    if errors.ContentTooLarge.response in responses:
        responses[errors.ContentTooLarge.response]["description"] = (
            f"The request body is larger than {http.MAX_BODY_BYTES} bytes."
        )
    bad_request = responses[ValidationFailed.response]["content"][http.PROBLEM_JSON]
    bad_request["schema"] = {"anyOf": [ref(SCHEMAS, "ValidationProblem"), ref(SCHEMAS, "Problem")]}
    return responses


def _responses(bodies: dict[str, Any]) -> dict[str, Any]:
    """Every response, success or problem, from the app or from the gateway, carries
    X-Request-Id, the security headers and, where the stage allows an origin, its CORS
    headers. Only the page and its files have a Cache-Control of their own."""
    responses = copy.deepcopy(bodies)
    for described in responses.values():
        described["headers"] = {
            **described.get("headers", {}),
            **{name: ref(HEADERS, name) for name in _EVERY_RESPONSE},
        }
        described["headers"].setdefault("Cache-Control", ref(HEADERS, "Cache-Control"))
    return responses


def _shared_responses() -> dict[str, Any]:
    return {
        "NotModified": {
            "description": "Unchanged since the ETag sent.",
            "headers": {"ETag": ref(HEADERS, "ETag")},
        },
        "NoContent": {"description": "Deleted."},
        **_problem_responses(),
    }


# --- the document -----------------------------------------------------------------------


def _operation_id(view_name: str) -> str:
    first, *rest = view_name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def _operation(
    entry: RouteEntry, declared: Operation, examples: dict[str, Any], anonymous: bool
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": _operation_id(entry.view_name),
        "summary": declared.summary,
        "description": declared.description,
        "tags": [declared.tag],
        "parameters": [
            ref(PARAMETERS, name)
            for name in (*entry.view_args, *declared.parameters, headers.REQUEST_ID_HEADER)
        ],
    }
    if declared.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {
                media_type: {
                    "schema": ref(SCHEMAS, declared.body),
                    "example": examples[declared.body],
                }
                for media_type in entry.content_types
            },
        }
    operation["responses"] = {
        str(status): ref(RESPONSES, name) for status, name in sorted(declared.statuses().items())
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


def _merged(parts: list[Components]) -> dict[str, Any]:
    """Each group's components after the shared ones; a name defined twice is a mistake."""
    merged: dict[str, dict[str, Any]] = {
        "schemas": _schemas(),
        "parameters": _parameters(),
        "headers": _response_headers(),
        "responses": _shared_responses(),
        "examples": {},
    }
    for part in parts:
        for kind in merged:
            additions = getattr(part, kind)
            clash = merged[kind].keys() & additions.keys()
            if clash:
                raise ValueError(f"{kind} defined twice: {sorted(clash)}")
            merged[kind].update(additions)
    return merged


def document(routes: dict[str, dict[str, RouteEntry]], anonymous: bool = False) -> dict[str, Any]:
    """The document for Chalice's route table. ``anonymous``: the stage admits requests
    without a token, so operations that need one list "no token" as an alternative."""
    declared = {
        (path, method): declaration(entry.view_function)
        for path, methods in routes.items()
        for method, entry in methods.items()
    }
    groups = list(dict.fromkeys(operation.components for operation in declared.values()))
    parts = [build() for build in groups]
    merged = _merged(parts)
    paths: dict[str, Any] = {}
    for path, methods in sorted(routes.items()):
        paths[path] = {
            method.lower(): _operation(entry, declared[path, method], merged["examples"], anonymous)
            for method, entry in methods.items()
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
            {"name": tag.name, "description": tag.description}
            for part in parts
            for tag in part.tags
        ],
        "paths": paths,
        "components": {
            "schemas": merged["schemas"],
            "parameters": merged["parameters"],
            "headers": merged["headers"],
            "responses": _responses(merged["responses"]),
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


def served(routes: dict[str, dict[str, RouteEntry]], anonymous: bool) -> dict[str, Any]:
    """The document, built once per container: the routes never change after import."""
    if anonymous not in _SERVED:
        _SERVED[anonymous] = document(routes, anonymous)
    return _SERVED[anonymous]
