"""Task API: the routes. Each parses the request, calls the service once and responds."""

from __future__ import annotations

import sys
from typing import Any

from chalice.app import Chalice, CognitoUserPoolAuthorizer, ConvertToMiddleware, Request, Response

from chalicelib import headers, identity, telemetry, web
from chalicelib.runtime import task_service

if "chalice.local" in sys.modules:  # chalice local, tests and the CLI; never inside Lambda
    from devserver import embedded, local_gateway  # development only: not in deployment.zip

    local_gateway.install()
    embedded.install()

app = Chalice(app_name=telemetry.SERVICE, configure_logs=False)  # Powertools logs
app.debug = False  # never return stack traces, in any stage
# Outermost first: Lambda context in the logs, the X-Ray segment, the security headers and
# the body as UTF-8 JSON, then per request X-Request-Id, the log line and the metrics;
# innermost, Chalice's errors as problems.
app.register_middleware(ConvertToMiddleware(telemetry.inject_lambda_context), "http")
app.register_middleware(ConvertToMiddleware(telemetry.capture_lambda_handler), "http")
app.register_middleware(web.finish_response, "http")
app.register_middleware(telemetry.observe_request, "http")
app.register_middleware(web.problem_middleware, "http")
app.api.cors = web.cors()  # per stage; must be set before the routes below

#: API Gateway verifies the ID token; the app takes the owner from its claims.
cognito = CognitoUserPoolAuthorizer("TasksUserPool", provider_arns=identity.user_pool_arns())


def current_request() -> Request:
    """The request being served: Chalice sets it before it calls a route."""
    request = app.current_request
    if request is None:
        raise RuntimeError("a route ran outside a request")
    return request


JSON = ["application/json"]
MERGE_PATCH = ["application/merge-patch+json", "application/json"]
#: GET and DELETE read no body, so any Content-Type a client library adds is harmless.
NO_BODY = ["*/*"]


@app.route("/health", methods=["GET"], content_types=NO_BODY)
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.route("/openapi.json", methods=["GET"], content_types=NO_BODY)
def openapi_document() -> dict[str, Any]:
    from chalicelib import openapi  # imported on first request, not at cold start

    return openapi.served(app.routes, identity.anonymous_allowed())


@app.route("/", methods=["GET"], content_types=NO_BODY)
def web_page() -> Response:
    from chalicelib import webpage  # not imported by API-only containers

    return webpage.page(current_request())


@app.route("/ui/{name}", methods=["GET"], content_types=NO_BODY)
def web_asset(name: str) -> Response:
    from chalicelib import webpage

    return webpage.asset(current_request(), name)


# Each route reads the caller first (401 before anything else), then the request,
# then calls the service once.


@app.route("/tasks", methods=["GET"], content_types=NO_BODY, authorizer=cognito)
@web.api_view(app)
def list_tasks() -> Response:
    request = current_request()
    owner, params = web.owner(request), web.query_parameters(request)
    return web.page_response(task_service().list(owner, params), request)


@app.route("/tasks", methods=["POST"], content_types=JSON, authorizer=cognito)
@web.api_view(app)
def create_task() -> Response:
    request = current_request()
    owner, body = web.owner(request), web.json_object(request)
    task = task_service().create(owner, body, headers.idempotency_key(request))
    return web.task_response(task, request, status=201)


@app.route("/tasks/{task_id}", methods=["GET"], content_types=NO_BODY, authorizer=cognito)
@web.api_view(app)
def get_task(task_id: str) -> Response:
    request = current_request()
    owner, if_none_match = web.owner(request), headers.if_none_match(request)
    return web.read_response(task_service().get(owner, task_id), request, if_none_match)


@app.route("/tasks/{task_id}", methods=["PUT"], content_types=JSON, authorizer=cognito)
@web.api_view(app)
def replace_task(task_id: str) -> Response:
    request = current_request()
    owner, body = web.owner(request), web.json_object(request)
    task, created = task_service().replace(owner, task_id, body, headers.preconditions(request))
    return web.task_response(task, request, status=201 if created else 200)


@app.route("/tasks/{task_id}", methods=["PATCH"], content_types=MERGE_PATCH, authorizer=cognito)
@web.api_view(app)
def patch_task(task_id: str) -> Response:
    request = current_request()
    owner, body, if_match = web.owner(request), web.json_object(request), headers.if_match(request)
    return web.task_response(task_service().patch(owner, task_id, body, if_match), request)


@app.route("/tasks/{task_id}", methods=["DELETE"], content_types=NO_BODY, authorizer=cognito)
@web.api_view(app)
def delete_task(task_id: str) -> Response:
    request = current_request()
    owner, if_match = web.owner(request), headers.if_match(request)
    task_service().delete(owner, task_id, if_match)
    return web.no_content()
