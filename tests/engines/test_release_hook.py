"""The pre-traffic hook (chalicelib.release.hook): its flow against the app itself, invoked
as Lambda invokes it with the events the hook builds, on both engines; and what it tells
CodeDeploy, with a stubbed CodeDeploy."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from app import app
from chalicelib import runtime
from chalicelib.release import hook
from tests.conftest import PROJECT_DIR, Api

AUDIENCE = "stage-web-client"


class Context:
    function_name = "task-api-prod"
    function_version = "8"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:task-api-prod:8"
    aws_request_id = "hook-1"

    def get_remaining_time_in_millis(self) -> int:
        return 20000


def the_app(event: dict[str, Any]) -> dict[str, Any]:
    return dict(app(event, Context()))


@pytest.fixture
def stage_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """The local stage's environment, as Lambda would set it for the function, except that
    it accepts ID tokens of its own app client only, as a deployed stage does."""
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    for variables in (
        config.get("environment_variables", {}),
        config["stages"]["local"].get("environment_variables", {}),
    ):
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
    monkeypatch.setenv(hook.AUDIENCE_ENV, AUDIENCE)


def test_the_flow_passes_on_a_working_version(api: Api, stage_client: None) -> None:
    assert hook.run_flow(the_app, AUDIENCE) == []
    # It worked as its own owner, and left nothing behind.
    shared = runtime.shared()
    left = shared.client.query(
        TableName=shared.table_name,
        KeyConditionExpression="pk = :owner",
        ExpressionAttributeValues={":owner": {"S": f"OWNER#{hook.SMOKE_SUBJECT}"}},
    )
    assert [item["sk"]["S"] for item in left["Items"]] == []
    assert api.get("/tasks").json["items"] == []  # nothing is the local user's either


def test_a_version_that_refuses_the_stages_callers_fails_the_flow(
    app_only: Api, stage_client: None
) -> None:
    failures = hook.run_flow(the_app, "another-client")
    assert len(failures) == 1
    assert failures[0].startswith("POST /tasks: 401, expected 201")


def test_a_broken_step_stops_the_flow_at_once(api: Api, stage_client: None) -> None:
    calls: list[str] = []

    def half_broken(event: dict[str, Any]) -> dict[str, Any]:
        calls.append(f"{event['httpMethod']} {event['resource']}")
        response = the_app(event)
        if event["httpMethod"] == "PATCH":
            return {**response, "statusCode": 500, "body": '{"title": "boom"}'}
        return response

    (failure,) = hook.run_flow(half_broken, AUDIENCE)
    assert failure == 'PATCH /tasks/{task_id}: 500, expected 200: {"title": "boom"}'
    assert calls[-1] == "PATCH /tasks/{task_id}"


def _clients() -> tuple[Any, Any]:
    session = boto3.Session(
        aws_access_key_id="stub", aws_secret_access_key="stub", region_name="us-east-1"
    )
    return session.client("lambda"), session.client("codedeploy")


@pytest.mark.parametrize(
    ("function_error", "status"), [(None, "Succeeded"), ("Unhandled", "Failed")]
)
def test_the_hook_invokes_the_new_version_and_reports_to_codedeploy(
    monkeypatch: pytest.MonkeyPatch, function_error: str | None, status: str
) -> None:
    """Every step invokes the qualified ARN; a function error fails the release."""
    version = "arn:aws:lambda:us-east-1:123456789012:function:task-api-prod:8"
    monkeypatch.setenv(hook.NEW_VERSION_ENV, version)
    monkeypatch.setenv(hook.AUDIENCE_ENV, AUDIENCE)
    lambda_client, codedeploy = _clients()
    steps = hook.FLOW[:1] if function_error else hook.FLOW
    with Stubber(lambda_client) as lambdas, Stubber(codedeploy) as deploys:
        for step in steps:
            expected = {"FunctionName": version, "Payload": ANY}
            body = json.dumps({"id": "t-1"}) if step.method == "POST" else "{}"
            reply: dict[str, Any] = {
                "StatusCode": 200,
                "Payload": io.BytesIO(
                    json.dumps({"statusCode": step.expected, "body": body}).encode()
                ),
            }
            if function_error:
                reply["FunctionError"] = function_error
            lambdas.add_response("invoke", reply, expected)
        deploys.add_response(
            "put_lifecycle_event_hook_execution_status",
            {"lifecycleEventHookExecutionId": "hook-exec-1"},
            {
                "deploymentId": "d-1",
                "lifecycleEventHookExecutionId": "hook-exec-1",
                "status": status,
            },
        )
        event = {"DeploymentId": "d-1", "LifecycleEventHookExecutionId": "hook-exec-1"}
        assert hook.check(event, lambda_client, codedeploy) == status
        lambdas.assert_no_pending_responses()
        deploys.assert_no_pending_responses()
