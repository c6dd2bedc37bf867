"""Task API: the routes. Each parses the request, calls the service once and responds."""

from __future__ import annotations

import logging

from chalice import Chalice, Response

from chalicelib import web
from chalicelib.runtime import task_service

app = Chalice(app_name="task-api")
app.debug = False  # never return stack traces, in any stage
app.log.setLevel(logging.INFO)
app.register_middleware(web.problem_middleware, "http")

JSON = ["application/json"]
MERGE_PATCH = ["application/merge-patch+json", "application/json"]


@app.route("/health", methods=["GET"])
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.route("/tasks", methods=["GET"])
@web.api_view(app)
def list_tasks() -> Response:
    request = app.current_request
    page = task_service().list(web.owner(request), web.query_parameters(request))
    return web.page_response(page, request)


@app.route("/tasks", methods=["POST"], content_types=JSON)
@web.api_view(app)
def create_task() -> Response:
    request = app.current_request
    body, key = web.json_object(request), web.idempotency_key(request)
    task = task_service().create(web.owner(request), body, key)
    return web.task_response(task, request, status=201)


@app.route("/tasks/{task_id}", methods=["GET"])
@web.api_view(app)
def get_task(task_id: str) -> Response:
    request = app.current_request
    return web.read_response(task_service().get(web.owner(request), task_id), request)


@app.route("/tasks/{task_id}", methods=["PUT"], content_types=JSON)
@web.api_view(app)
def replace_task(task_id: str) -> Response:
    request = app.current_request
    body, preconditions = web.json_object(request), web.preconditions(request)
    task, created = task_service().replace(web.owner(request), task_id, body, preconditions)
    return web.task_response(task, request, status=201 if created else 200)


@app.route("/tasks/{task_id}", methods=["PATCH"], content_types=MERGE_PATCH)
@web.api_view(app)
def patch_task(task_id: str) -> Response:
    request = app.current_request
    body, if_match = web.json_object(request), web.preconditions(request).if_match
    task = task_service().patch(web.owner(request), task_id, body, if_match)
    return web.task_response(task, request)


@app.route("/tasks/{task_id}", methods=["DELETE"])
@web.api_view(app)
def delete_task(task_id: str) -> Response:
    request = app.current_request
    task_service().delete(web.owner(request), task_id, web.preconditions(request).if_match)
    return web.no_content()
