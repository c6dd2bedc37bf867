"""``python -m infra.release release|rollback --stage <stage>``: move a packaged stage's
traffic to the version just published, through CodeDeploy, or back at once.

Terraform publishes a new version of the API's function on each apply (``publish = true``)
but never moves the ``live`` alias, which API Gateway and every event source invoke:
CodeDeploy does, by the stage's deployment configuration (prod: a canary), and rolls back
by itself when a version alarm fires or the pre-traffic hook fails. ``release`` starts that
deployment, waits for it, reports how it ended, and prunes old versions of both functions
(the stream consumer's alias follows each apply by itself, so nothing else prunes its
versions). ``rollback`` stops a deployment in progress (CodeDeploy then moves the alias
back), or else points the alias at the version before the current one at once
(docs/operations/runbook.md).

CodeDeploy refuses a deployment whose target is the alias's current version, so a release
with nothing new says so and only prunes: on a SAM stage CloudFormation has released
already, and this is what prunes its versions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import boto3

from infra.definitions import ALIAS
from infra.stages import DEPLOYED_STAGES, Stage, stage

#: CodeDeploy's final states of a deployment.
FINAL = ("Succeeded", "Failed", "Stopped")
#: The states ``rollback`` stops: a deployment that may still move traffic.
ACTIVE = ["Created", "Queued", "InProgress", "Baking", "Ready"]
POLL_SECONDS = 15
#: A canary of 10% for 5 minutes, the hook and CodeDeploy's own overhead fit well inside.
WAIT_SECONDS = 30 * 60


@dataclass(frozen=True)
class Target:
    """What a stage's release moves: its function's alias, by its CodeDeploy group; and the
    stream consumer, whose versions it prunes too."""

    function: str
    consumer: str
    alias: str
    application: str
    deployment_group: str
    pre_traffic_hook: str
    keep_versions: int

    @classmethod
    def of(cls, deployed: Stage) -> Target:
        return cls(
            function=deployed.function_name,
            consumer=deployed.consumer_function_name,
            alias=ALIAS,
            application=deployed.codedeploy_application_name,
            deployment_group=deployed.deployment_group_name,
            pre_traffic_hook=deployed.pre_traffic_hook_name,
            keep_versions=deployed.tuning.release.keep_versions,
        )

    @property
    def functions(self) -> tuple[str, str]:
        """Both functions each apply publishes a version of, under the same alias name."""
        return (self.function, self.consumer)


@dataclass(frozen=True)
class Outcome:
    """How a release or rollback ended: ``ok`` decides the exit status."""

    ok: bool
    message: str
    deployment_id: str | None = None
    #: ``<function>:<version>`` of each version deleted.
    pruned: tuple[str, ...] = ()


def _published(lambda_client: Any, function: str) -> list[int]:
    """The function's published version numbers, oldest first ($LATEST is not one)."""
    versions: list[int] = []
    for page in lambda_client.get_paginator("list_versions_by_function").paginate(
        FunctionName=function
    ):
        versions += [int(v["Version"]) for v in page["Versions"] if v["Version"].isdigit()]
    return sorted(versions)


def _rolled_back_from(version: int) -> str:
    return f"rolled back from version {version}"


def app_spec(target: Target, current: int, new: int) -> str:
    """CodeDeploy's AppSpec for a Lambda deployment: move ``alias`` from ``current`` to
    ``new``, after the hook has tried ``new``."""
    resource = {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Name": target.function,
            "Alias": target.alias,
            "CurrentVersion": str(current),
            "TargetVersion": str(new),
        },
    }
    return json.dumps(
        {
            "version": 0.0,
            "Resources": [{target.function: resource}],
            "Hooks": [{"BeforeAllowTraffic": target.pre_traffic_hook}],
        }
    )


def _wait(
    codedeploy: Any,
    deployment_id: str,
    sleep: Callable[[float], None],
    poll_seconds: float,
    wait_seconds: float,
) -> dict[str, Any]:
    """The deployment's description once it is final, or when the wait runs out."""
    waited = 0.0
    while True:
        info: dict[str, Any] = codedeploy.get_deployment(deploymentId=deployment_id)[
            "deploymentInfo"
        ]
        if info["status"] in FINAL or waited >= wait_seconds:
            return info
        sleep(poll_seconds)
        waited += poll_seconds


def _why(info: dict[str, Any]) -> str:
    error = info.get("errorInformation") or {}
    rollback = info.get("rollbackInfo") or {}
    reasons = [
        f"{error.get('code')}: {error.get('message')}" if error else "",
        rollback.get("rollbackMessage", ""),
    ]
    return "; ".join(reason for reason in reasons if reason) or "no reason given"


def _in_use(alias: dict[str, Any]) -> set[int]:
    """The versions an alias sends traffic to: its own, and the one a deployment in progress
    is shifting to (its routing's additional weight)."""
    weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    return {int(v) for v in (alias["FunctionVersion"], *weights) if v.isdigit()}


def prune(lambda_client: Any, function: str, keep: int, protected: Iterable[int]) -> list[str]:
    """Delete all but the newest ``keep`` published versions, never one in ``protected``
    (the alias's versions)."""
    versions = _published(lambda_client, function)
    spared = set(versions[max(len(versions) - keep, 0) :]) | set(protected)
    pruned = []
    for version in versions:
        if version not in spared:
            lambda_client.delete_function(FunctionName=function, Qualifier=str(version))
            pruned.append(f"{function}:{version}")
    return pruned


def prune_all(lambda_client: Any, target: Target) -> tuple[str, ...]:
    """Prune both functions around what each alias uses now: read just before, so that a
    deployment started meanwhile keeps its versions."""
    pruned: list[str] = []
    for function in target.functions:
        alias = lambda_client.get_alias(FunctionName=function, Name=target.alias)
        pruned += prune(lambda_client, function, target.keep_versions, _in_use(alias))
    return tuple(pruned)


def release(
    lambda_client: Any,
    codedeploy: Any,
    target: Target,
    *,
    sleep: Callable[[float], None] = time.sleep,
    poll_seconds: float = POLL_SECONDS,
    wait_seconds: float = WAIT_SECONDS,
    again: bool = False,
) -> Outcome:
    """Deploy the newest published version to the alias and wait for the outcome. A version
    ``rollback`` moved the alias away from is not released again unless ``again``."""
    alias = lambda_client.get_alias(FunctionName=target.function, Name=target.alias)
    current = int(alias["FunctionVersion"])
    newest = _published(lambda_client, target.function)[-1]
    if newest == current:
        pruned = prune_all(lambda_client, target)
        message = (
            f"Nothing to release: {target.alias} is already version {current}. Pruned "
            f"{len(pruned)} old versions, keeping the newest {target.keep_versions} of each "
            "function."
        )
        return Outcome(True, message, pruned=pruned)
    if alias.get("Description") == _rolled_back_from(newest) and not again:
        return Outcome(
            False,
            f"Version {newest} was rolled back: publish a new version (terraform apply), or "
            "release it again on purpose (--again).",
        )
    deployment_id = codedeploy.create_deployment(
        applicationName=target.application,
        deploymentGroupName=target.deployment_group,
        revision={
            "revisionType": "AppSpecContent",
            "appSpecContent": {"content": app_spec(target, current, newest)},
        },
        description=f"{target.function}: {target.alias} from version {current} to {newest}",
    )["deploymentId"]
    info = _wait(codedeploy, deployment_id, sleep, poll_seconds, wait_seconds)
    status = info["status"]
    if status == "Succeeded":
        if alias.get("Description"):  # a rollback's mark, about an older version now
            lambda_client.update_alias(
                FunctionName=target.function, Name=target.alias, Description=""
            )
        pruned = prune_all(lambda_client, target)
        message = f"Released version {newest} ({deployment_id}); {target.alias} was {current}."
        return Outcome(True, message, deployment_id, pruned)
    # No pruning from here on (nor on the refusal above): the versions are the evidence.
    if status in FINAL:
        message = (
            f"Release of version {newest} {status.lower()} ({deployment_id}): {_why(info)}. "
            f"{target.alias} stays at version {current}."
        )
        return Outcome(False, message, deployment_id)
    message = (
        f"Release of version {newest} ({deployment_id}) is still {status} after "
        f"{wait_seconds:g} s: watch it in CodeDeploy, or `make rollback`."
    )
    return Outcome(False, message, deployment_id)


def rollback(lambda_client: Any, codedeploy: Any, target: Target) -> Outcome:
    """Stop a deployment in progress (CodeDeploy moves the alias back itself), or point the
    alias at the newest version before its current one."""
    try:
        active = codedeploy.list_deployments(
            applicationName=target.application,
            deploymentGroupName=target.deployment_group,
            includeOnlyStatuses=ACTIVE,
        )["deployments"]
    except (
        codedeploy.exceptions.ApplicationDoesNotExistException,
        codedeploy.exceptions.DeploymentGroupDoesNotExistException,
    ):
        # A SAM stage: CloudFormation names its CodeDeploy application and stops its own
        # deployments (by cancelling the stack update); the alias can still move back.
        active = []
    if active:
        for deployment_id in active:
            codedeploy.stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=True)
        return Outcome(True, f"Stopped {', '.join(active)}; CodeDeploy rolls the alias back.")
    current = int(
        lambda_client.get_alias(FunctionName=target.function, Name=target.alias)["FunctionVersion"]
    )
    earlier = [v for v in _published(lambda_client, target.function) if v < current]
    if not earlier:
        return Outcome(False, f"No version before {current} to roll back to.")
    previous = earlier[-1]
    lambda_client.update_alias(
        FunctionName=target.function,
        Name=target.alias,
        FunctionVersion=str(previous),
        Description=_rolled_back_from(current),  # so that release does not bring it back
        RoutingConfig={"AdditionalVersionWeights": {}},
    )
    return Outcome(True, f"{target.alias} moved from version {current} back to {previous}.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.release", description=__doc__)
    parser.add_argument("action", choices=("release", "rollback"))
    parser.add_argument("--stage", required=True, choices=DEPLOYED_STAGES)
    parser.add_argument(
        "--again", action="store_true", help="release a version that was rolled back"
    )
    args = parser.parse_args(argv)
    target = Target.of(stage(args.stage))
    lambda_client, codedeploy = boto3.client("lambda"), boto3.client("codedeploy")
    if args.action == "release":
        outcome = release(lambda_client, codedeploy, target, again=args.again)
    else:
        outcome = rollback(lambda_client, codedeploy, target)
    print(outcome.message)
    if outcome.pruned:
        print(f"Pruned versions: {', '.join(outcome.pruned)}")
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
