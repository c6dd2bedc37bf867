"""CodeDeploy's pre-traffic hook: before a new version of the API takes any traffic, it runs a
short task flow against that version, invoked directly with API Gateway's event shape, and
tells CodeDeploy whether to go on. A failure stops the release before any user sees the
version; the alias stays where it was.

The events carry the claims API Gateway's Cognito authorizer would pass, for a subject of
the hook's own (``release-smoke``) and the stage's own app client: owner isolation keeps
its task apart from every user's, and the flow deletes what it creates. Deployed as its own
function from the same package (``infra`` adds it to both formats); ``chalice deploy``,
which replaces the function at once, has none.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.core.record import ID

log = logging.getLogger("task-api.release")

#: The version under test: the qualified ARN each deploy path writes into the environment.
NEW_VERSION_ENV = "TASKS_NEW_VERSION_ARN"
AUDIENCE_ENV = "COGNITO_USER_POOL_CLIENT_ID"
SMOKE_SUBJECT = "release-smoke"
#: An API Gateway event in, the function's response out.
Invoke = Callable[[dict[str, Any]], dict[str, Any]]
#: A proxy response's keys (API Gateway's, not a record's fields).
STATUS_CODE, RESPONSE_BODY = "statusCode", "body"


@dataclass(frozen=True)
class Step:
    """One request of the flow: ``{id}`` in the path is the task the flow created."""

    method: str
    resource: str
    expected: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] | None = None


FLOW = (
    Step("GET", "/health", 200),
    Step("POST", "/tasks", 201, {"title": "Release check", "tags": ["release"]}),
    Step("GET", "/tasks/{task_id}", 200),
    Step(
        "PATCH",
        "/tasks/{task_id}",
        200,
        {"status": "completed"},
        {"Content-Type": "application/merge-patch+json"},
    ),
    Step("GET", "/tasks", 200),
    Step("DELETE", "/tasks/{task_id}", 204),
    Step("GET", "/tasks/{task_id}", 404),
)


def api_event(step: Step, task_id: str | None, audience: str) -> dict[str, Any]:
    """The event API Gateway would send for ``step``, from an authorised caller."""
    path = step.resource.replace("{task_id}", task_id or "")
    headers = {"Accept": "application/json", **(step.headers or {})}
    if step.body is not None:
        headers.setdefault("Content-Type", "application/json")
    claims = {"sub": SMOKE_SUBJECT, "aud": audience, "token_use": "id"}
    return {
        "resource": step.resource,
        "path": path,
        "httpMethod": step.method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"task_id": task_id} if "{task_id}" in step.resource else None,
        "stageVariables": None,
        "body": None if step.body is None else json.dumps(step.body),
        "isBase64Encoded": False,
        "requestContext": {
            "resourcePath": step.resource,
            "httpMethod": step.method,
            "path": f"/api{path}",
            "requestId": f"release-check-{uuid.uuid4()}",
            "identity": {"sourceIp": "127.0.0.1"},
            "authorizer": {"claims": claims},
        },
    }


def run_flow(invoke: Invoke, audience: str) -> list[str]:
    """Each step in order; the failures, as sentences (none: the version may take traffic).
    A step that fails ends the flow: what follows needs it."""
    task_id: str | None = None
    for step in FLOW:
        try:
            response = invoke(api_event(step, task_id, audience))
        except Exception as error:  # an invocation that fails is the version failing
            return [f"{step.method} {step.resource}: the invocation failed: {error}"]
        status = response.get(STATUS_CODE)
        if status != step.expected:
            body = str(response.get(RESPONSE_BODY, ""))[:300]
            return [f"{step.method} {step.resource}: {status}, expected {step.expected}: {body}"]
        if step.method == "POST":
            task_id = json.loads(response[RESPONSE_BODY])[ID]
    return []


def invoking(lambda_client: Any, qualified_arn: str) -> Invoke:
    """Invoke the version itself, synchronously: an unhandled error is a failure too."""

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        reply = lambda_client.invoke(FunctionName=qualified_arn, Payload=json.dumps(event))
        payload = json.loads(reply["Payload"].read())
        if reply.get("FunctionError"):
            raise RuntimeError(f"{reply['FunctionError']}: {payload}")
        return dict(payload)

    return invoke


def check(event: dict[str, Any], lambda_client: Any, codedeploy: Any) -> str:
    """Run the flow on the new version and report it to CodeDeploy; returns the status."""
    failures = run_flow(
        invoking(lambda_client, os.environ[NEW_VERSION_ENV]), os.environ.get(AUDIENCE_ENV, "")
    )
    for failure in failures:
        log.error("Release check failed: %s", failure)
    status = "Failed" if failures else "Succeeded"
    codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=event["DeploymentId"],
        lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status=status,
    )
    return status


def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    """The hook's Lambda entry point."""
    import boto3  # in Lambda's runtime; imported here so tests pass their own clients

    logging.basicConfig(level=logging.INFO)
    return {"status": check(event, boto3.client("lambda"), boto3.client("codedeploy"))}
