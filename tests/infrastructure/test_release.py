"""``make release`` and ``make rollback`` (infra.release) against stubbed AWS APIs: botocore's
Stubber checks each call's name and parameters, in order, and answers as Lambda and
CodeDeploy would. A call the test did not expect, or one left unmade, fails the test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from infra import release
from infra.stages import stage

TARGET = release.Target.of(stage("prod"))
FUNCTION = "task-api-prod"
CONSUMER = "task-api-prod-record_activity"


@pytest.fixture
def aws() -> Iterator[tuple[Any, Stubber, Any, Stubber]]:
    session = boto3.Session(
        aws_access_key_id="stub", aws_secret_access_key="stub", region_name="us-east-1"
    )
    lambda_client, codedeploy = session.client("lambda"), session.client("codedeploy")
    with Stubber(lambda_client) as lambdas, Stubber(codedeploy) as deploys:
        yield lambda_client, lambdas, codedeploy, deploys
        lambdas.assert_no_pending_responses()
        deploys.assert_no_pending_responses()


def alias(
    lambdas: Stubber,
    version: int,
    description: str = "",
    function: str = FUNCTION,
    shifting_to: int | None = None,
) -> None:
    answer: dict[str, Any] = {
        "Name": "live",
        "FunctionVersion": str(version),
        "Description": description,
    }
    if shifting_to is not None:  # a deployment in progress: the new version's weight
        answer["RoutingConfig"] = {"AdditionalVersionWeights": {str(shifting_to): 0.1}}
    lambdas.add_response("get_alias", answer, {"FunctionName": function, "Name": "live"})


def versions(lambdas: Stubber, *numbers: int, function: str = FUNCTION) -> None:
    listed = [{"Version": "$LATEST"}] + [{"Version": str(n)} for n in numbers]
    lambdas.add_response(
        "list_versions_by_function", {"Versions": listed}, {"FunctionName": function}
    )


def deleted(lambdas: Stubber, function: str, *numbers: int) -> tuple[str, ...]:
    """Expect these versions' deletion, in order; the names ``Outcome.pruned`` gives them."""
    for number in numbers:
        lambdas.add_response(
            "delete_function", {}, {"FunctionName": function, "Qualifier": str(number)}
        )
    return tuple(f"{function}:{number}" for number in numbers)


def deployment(deploys: Stubber, current: int, new: int) -> None:
    expected = {
        "applicationName": "task-api-prod-release",
        "deploymentGroupName": "task-api-prod-api",
        "revision": {
            "revisionType": "AppSpecContent",
            "appSpecContent": {"content": release.app_spec(TARGET, current, new)},
        },
        "description": f"{FUNCTION}: live from version {current} to {new}",
    }
    deploys.add_response("create_deployment", {"deploymentId": "d-1"}, expected)


def status(deploys: Stubber, state: str, **info: Any) -> None:
    deploys.add_response(
        "get_deployment",
        {"deploymentInfo": {"deploymentId": "d-1", "status": state, **info}},
        {"deploymentId": "d-1"},
    )


def run_release(aws: tuple[Any, Stubber, Any, Stubber], **options: Any) -> release.Outcome:
    lambda_client, _, codedeploy, _ = aws
    sleeps: list[float] = []
    outcome = release.release(
        lambda_client, codedeploy, TARGET, sleep=sleeps.append, poll_seconds=15, **options
    )
    return outcome


def test_the_app_spec_moves_the_alias_after_the_hook() -> None:
    spec = json.loads(release.app_spec(TARGET, 7, 8))
    ((name, resource),) = spec["Resources"][0].items()
    assert name == FUNCTION
    assert resource["Properties"] == {
        "Name": FUNCTION,
        "Alias": "live",
        "CurrentVersion": "7",
        "TargetVersion": "8",
    }
    assert spec["Hooks"] == [{"BeforeAllowTraffic": "CodeDeployHook_task-api-prod-pre-traffic"}]


def test_a_successful_release_waits_for_codedeploy_and_prunes_old_versions(aws: Any) -> None:
    _, lambdas, _, deploys = aws
    alias(lambdas, 7)
    versions(lambdas, *range(1, 9))
    deployment(deploys, 7, 8)
    status(deploys, "InProgress")
    status(deploys, "Succeeded")
    alias(lambdas, 8)
    versions(lambdas, *range(1, 9))
    api = deleted(lambdas, FUNCTION, 1, 2, 3)  # keeps the newest 5: 4 to 8
    alias(lambdas, 8, function=CONSUMER)
    versions(lambdas, *range(1, 9), function=CONSUMER)
    consumer = deleted(lambdas, CONSUMER, 1, 2, 3)
    outcome = run_release(aws)
    assert outcome.ok
    assert outcome.pruned == api + consumer
    assert outcome.pruned[0] == "task-api-prod:1"
    assert "Released version 8" in outcome.message


def test_a_release_an_alarm_stopped_is_reported_as_rolled_back(aws: Any) -> None:
    _, lambdas, _, deploys = aws
    alias(lambdas, 7)
    versions(lambdas, 6, 7, 8)
    deployment(deploys, 7, 8)
    status(deploys, "InProgress")
    status(
        deploys,
        "Stopped",
        errorInformation={"code": "ALARM_ACTIVE", "message": "ServerErrorRateOfVersion in ALARM"},
        rollbackInfo={"rollbackMessage": "Automatic rollback triggered by an alarm"},
    )
    outcome = run_release(aws)
    assert not outcome.ok
    assert "ALARM_ACTIVE" in outcome.message
    assert "live stays at version 7" in outcome.message
    assert outcome.pruned == ()  # nothing deleted after a failure


def test_a_failed_pre_traffic_hook_fails_the_release(aws: Any) -> None:
    _, lambdas, _, deploys = aws
    alias(lambdas, 3)
    versions(lambdas, 3, 4)
    deployment(deploys, 3, 4)
    status(
        deploys,
        "Failed",
        errorInformation={"code": "HOOK_EXECUTION_FAILURE", "message": "smoke: POST /tasks 500"},
    )
    outcome = run_release(aws)
    assert not outcome.ok
    assert "HOOK_EXECUTION_FAILURE: smoke: POST /tasks 500" in outcome.message


def test_nothing_new_is_not_a_deployment(aws: Any) -> None:
    """CodeDeploy fails a deployment whose target is the current version."""
    _, lambdas, _, _ = aws
    alias(lambdas, 5)
    versions(lambdas, 4, 5)
    for function in (FUNCTION, CONSUMER):  # fewer than 5 versions: nothing to delete
        alias(lambdas, 5, function=function)
        versions(lambdas, 4, 5, function=function)
    outcome = run_release(aws)
    assert outcome.ok
    assert outcome.message.startswith("Nothing to release: live is already version 5.")


def test_nothing_new_prunes_both_functions_sparing_what_their_aliases_use(aws: Any) -> None:
    """A SAM stage's CloudFormation has released already: this is what prunes its versions.
    The aliases' versions survive however old, and so does one a deployment shifts to."""
    _, lambdas, _, _ = aws
    alias(lambdas, 12)
    versions(lambdas, *range(1, 13))
    alias(lambdas, 12, shifting_to=3)  # a deployment started meanwhile
    versions(lambdas, *range(1, 13))
    api = deleted(lambdas, FUNCTION, 1, 2, 4, 5, 6, 7)  # keeps 3, and the newest 5: 8 to 12
    alias(lambdas, 4, function=CONSUMER, shifting_to=2)
    versions(lambdas, *range(1, 11), function=CONSUMER)
    consumer = deleted(lambdas, CONSUMER, 1, 3, 5)  # keeps 2, 4, and 6 to 10
    outcome = run_release(aws)
    assert outcome.ok
    assert outcome.pruned == api + consumer
    assert "Pruned 9 old versions" in outcome.message


def test_a_failed_or_refused_release_prunes_nothing(aws: Any) -> None:
    """The versions are the evidence of what went wrong: the stubs expect no deletion."""
    _, lambdas, _, deploys = aws
    alias(lambdas, 11)
    versions(lambdas, *range(1, 13))
    deployment(deploys, 11, 12)
    status(deploys, "Failed", errorInformation={"code": "HOOK_EXECUTION_FAILURE"})
    failed = run_release(aws)
    alias(lambdas, 11, "rolled back from version 12")
    versions(lambdas, *range(1, 13))
    refused = run_release(aws)
    assert not failed.ok
    assert not refused.ok
    assert failed.pruned == refused.pruned == ()


def test_a_release_keeps_every_version_when_there_are_fewer_than_keep(aws: Any) -> None:
    _, lambdas, _, deploys = aws
    alias(lambdas, 2)
    versions(lambdas, 1, 2, 3)
    deployment(deploys, 2, 3)
    status(deploys, "Succeeded")
    alias(lambdas, 3)
    versions(lambdas, 1, 2, 3)
    alias(lambdas, 2, function=CONSUMER)
    versions(lambdas, 1, 2, function=CONSUMER)
    outcome = run_release(aws)
    assert TARGET.keep_versions > 3
    assert outcome.ok
    assert outcome.pruned == ()


def test_a_rolled_back_version_is_not_released_again_by_accident(aws: Any) -> None:
    _, lambdas, _, deploys = aws
    alias(lambdas, 4, "rolled back from version 5")
    versions(lambdas, 4, 5)
    assert not run_release(aws).ok
    alias(lambdas, 4, "rolled back from version 5")
    versions(lambdas, 4, 5)
    deployment(deploys, 4, 5)
    status(deploys, "Succeeded")
    lambdas.add_response(
        "update_alias", {}, {"FunctionName": FUNCTION, "Name": "live", "Description": ""}
    )
    for function in (FUNCTION, CONSUMER):
        alias(lambdas, 5, function=function)
        versions(lambdas, 4, 5, function=function)
    assert run_release(aws, again=True).ok


def test_a_release_still_running_when_the_wait_ends_is_not_a_success(aws: Any) -> None:
    _, lambdas, _, deploys = aws
    alias(lambdas, 1)
    versions(lambdas, 1, 2)
    deployment(deploys, 1, 2)
    status(deploys, "InProgress")
    status(deploys, "InProgress")
    outcome = run_release(aws, wait_seconds=15)
    assert not outcome.ok
    assert "still InProgress" in outcome.message


def rollback_listing(deploys: Stubber, active: list[str]) -> None:
    deploys.add_response(
        "list_deployments",
        {"deployments": active},
        {
            "applicationName": "task-api-prod-release",
            "deploymentGroupName": "task-api-prod-api",
            "includeOnlyStatuses": release.ACTIVE,
        },
    )


def alias_moved(lambdas: Stubber, to: int, rolled_back_from: int) -> None:
    lambdas.add_response(
        "update_alias",
        {},
        {
            "FunctionName": FUNCTION,
            "Name": "live",
            "FunctionVersion": str(to),
            "Description": f"rolled back from version {rolled_back_from}",
            "RoutingConfig": {"AdditionalVersionWeights": {}},
        },
    )


def test_a_manual_rollback_moves_the_alias_to_the_version_before_at_once(aws: Any) -> None:
    lambda_client, lambdas, codedeploy, deploys = aws
    rollback_listing(deploys, [])
    alias(lambdas, 8)
    versions(lambdas, 5, 7, 8, 9)  # 9: published, never released
    alias_moved(lambdas, 7, rolled_back_from=8)
    outcome = release.rollback(lambda_client, codedeploy, TARGET)
    assert outcome.ok
    assert outcome.message == "live moved from version 8 back to 7."


def test_a_rollback_during_a_release_stops_it_with_codedeploys_own_rollback(aws: Any) -> None:
    lambda_client, _, codedeploy, deploys = aws
    rollback_listing(deploys, ["d-1"])
    deploys.add_response(
        "stop_deployment",
        {"status": "Pending"},
        {"deploymentId": "d-1", "autoRollbackEnabled": True},
    )
    outcome = release.rollback(lambda_client, codedeploy, TARGET)
    assert outcome.ok
    assert "Stopped d-1" in outcome.message


def test_a_rollback_with_no_earlier_version_fails(aws: Any) -> None:
    lambda_client, lambdas, codedeploy, deploys = aws
    rollback_listing(deploys, [])
    alias(lambdas, 1)
    versions(lambdas, 1)
    outcome = release.rollback(lambda_client, codedeploy, TARGET)
    assert not outcome.ok


def test_a_rollback_on_a_sam_stage_moves_the_alias_without_terraforms_group(aws: Any) -> None:
    """SAM names its own CodeDeploy application, so ours does not exist there."""
    lambda_client, lambdas, codedeploy, deploys = aws
    deploys.add_client_error(
        "list_deployments", service_error_code="ApplicationDoesNotExistException"
    )
    alias(lambdas, 3)
    versions(lambdas, 2, 3)
    alias_moved(lambdas, 2, rolled_back_from=3)
    outcome = release.rollback(lambda_client, codedeploy, TARGET)
    assert outcome.ok
    assert outcome.message == "live moved from version 3 back to 2."
