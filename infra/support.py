"""The supporting stack for ``chalice deploy`` (``make support``, ``deploy``, ``teardown``).

``chalice deploy`` creates the functions, their roles, the REST API and the stream
consumer's event source mapping, nothing else. This module creates the rest (table, user
pool and client, cursor secret, log groups, the stream's failure queue, alarms) as one
CloudFormation stack from ``infra.cloudformation.support_template`` and writes the names
and ARNs it needs into the stage's ``.chalice/config.json`` (the table's stream ARN among
them, which the app reads for its consumer's decorator; and the Powertools layer, which the
stack resolves in its region, as the stage's ``layers``), so that
``chalice deploy --stage <stage>`` then works as it is. After each deploy, ``api-settings``
applies what Chalice cannot express: to the deployed API stage, throttling, access logs,
tracing, and the gateway's problem+json error responses; to the consumer's event source
mapping, its failure settings (``infra.definitions.stream_failure_settings``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError
from chalice.config import Config

from infra import definitions as d
from infra.cloudformation import (
    FAILURE_QUEUE_ARN_OUTPUT,
    POWERTOOLS_LAYER,
    STREAM_ARN_OUTPUT,
    support_template,
)
from infra.stages import (
    CONFIG_FILE,
    CONSUMER_EVENT_SOURCE,
    DEPLOY_ONLY_SETTINGS,
    DEPLOY_ONLY_VARIABLES,
    DEPLOYED_STAGES,
    LAYERS_SETTING,
    STREAM_ARN_VARIABLE,
    Stage,
    stage,
)

#: Stack output -> the stage variable that carries it.
CONFIG_FROM_OUTPUTS = {
    "TasksTableName": "TASKS_TABLE_NAME",
    "UserPoolArn": "COGNITO_USER_POOL_ARN",
    "UserPoolClientId": "COGNITO_USER_POOL_CLIENT_ID",
    "CursorSecretArn": "TASKS_CURSOR_SECRET_ARN",
    STREAM_ARN_OUTPUT: STREAM_ARN_VARIABLE,
}
_NO_CHANGES = "No updates are to be performed"
#: States in which Lambda refuses to update a mapping (ResourceInUseException): right after
#: ``chalice deploy`` created it, it is ``Creating`` for a few seconds.
MAPPING_BUSY_STATES = ("Creating", "Updating", "Enabling", "Disabling")
MAPPING_WAIT_ATTEMPTS = 60
MAPPING_WAIT_SECONDS = 2.0


def stack_outputs(cloudformation: Any, name: str) -> dict[str, str]:
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _stack_exists(cloudformation: Any, name: str) -> bool:
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            return False
        raise
    return bool(stacks) and stacks[0]["StackStatus"] != "DELETE_COMPLETE"


def deploy_support(
    cloudformation: Any, target: Stage, alarm_email: str = "", config_file: Path = CONFIG_FILE
) -> dict[str, str]:
    """Create or update the stage's supporting stack, then point the stage's config at it
    and at the Powertools layer the stack resolved."""
    d.require_runtime(Config.create().lambda_python_version)  # what chalice deploy will use
    name = target.support_stack_name
    arguments = {
        "StackName": name,
        "TemplateBody": json.dumps(support_template(target), separators=(",", ":")),
        "Parameters": [{"ParameterKey": "AlarmEmail", "ParameterValue": alarm_email}],
        "Capabilities": ["CAPABILITY_IAM"],
        "Tags": [{"Key": "app", "Value": target.app_name}, {"Key": "stage", "Value": target.name}],
    }
    waiter = "stack_update_complete"
    if not _stack_exists(cloudformation, name):
        cloudformation.create_stack(**arguments, OnFailure="DELETE")
        waiter = "stack_create_complete"
    else:
        try:
            cloudformation.update_stack(**arguments)
        except ClientError as error:
            if _NO_CHANGES not in str(error):
                raise
            waiter = ""
    if waiter:
        print(f"Waiting for stack {name} ...", file=sys.stderr)
        cloudformation.get_waiter(waiter).wait(
            StackName=name, WaiterConfig={"Delay": 10, "MaxAttempts": 180}
        )
    outputs = stack_outputs(cloudformation, name)
    write_stage_config(
        target.name,
        {v: outputs[k] for k, v in CONFIG_FROM_OUTPUTS.items()},
        config_file,
        settings={LAYERS_SETTING: [outputs[POWERTOOLS_LAYER]]},
    )
    return outputs


def write_stage_config(
    stage_name: str,
    variables: dict[str, str | None],
    config_file: Path = CONFIG_FILE,
    *,
    settings: dict[str, Any] | None = None,
) -> None:
    """Set (or, with None, remove) environment variables of one stage in config.json,
    and likewise the stage's own ``settings`` (Chalice's keys, such as its layers)."""
    config = json.loads(config_file.read_text())
    stage_config = config["stages"][stage_name]
    _update(stage_config.setdefault("environment_variables", {}), variables)
    _update(stage_config, settings or {})
    config_file.write_text(json.dumps(config, indent=2) + "\n")


def _update(target: dict[str, Any], changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value


def teardown_support(cloudformation: Any, target: Stage, config_file: Path = CONFIG_FILE) -> None:
    """Delete the supporting stack. On protected stages (prod) the table and the user pool
    are retained by the stack's deletion policy: users' data is never deleted here."""
    name = target.support_stack_name
    if _stack_exists(cloudformation, name):
        cloudformation.delete_stack(StackName=name)
        print(f"Waiting for stack {name} to be deleted ...", file=sys.stderr)
        cloudformation.get_waiter("stack_delete_complete").wait(
            StackName=name, WaiterConfig={"Delay": 10, "MaxAttempts": 180}
        )
    write_stage_config(
        target.name,
        dict.fromkeys(DEPLOY_ONLY_VARIABLES),
        config_file,
        settings=dict.fromkeys(DEPLOY_ONLY_SETTINGS),
    )


def _deployed(stage_name: str, chalice_dir: Path) -> tuple[Path, list[dict[str, Any]]]:
    """What ``chalice deploy`` recorded for the stage."""
    record = chalice_dir / "deployed" / f"{stage_name}.json"
    if not record.exists():
        raise SystemExit(f"{record} not found: run chalice deploy --stage {stage_name} first")
    return record, json.loads(record.read_text())["resources"]


def deployed_rest_api_id(stage_name: str, chalice_dir: Path = CONFIG_FILE.parent) -> str:
    """The REST API that ``chalice deploy`` recorded for the stage."""
    record, resources = _deployed(stage_name, chalice_dir)
    for resource in resources:
        if resource.get("resource_type") == "rest_api":
            return resource["rest_api_id"]
    raise SystemExit(f"{record} records no REST API")


def deployed_event_source_uuid(stage_name: str, chalice_dir: Path = CONFIG_FILE.parent) -> str:
    """The consumer's event source mapping that ``chalice deploy`` recorded for the stage."""
    record, resources = _deployed(stage_name, chalice_dir)
    for resource in resources:
        if resource.get("name") == CONSUMER_EVENT_SOURCE:
            return resource["event_uuid"]
    raise SystemExit(f"{record} records no {CONSUMER_EVENT_SOURCE}")


def _settling(error: ClientError) -> bool:
    """Lambda refuses while a mapping is busy, or until IAM shows it the role's new rights
    (a deploy that has just granted the consumer sqs:SendMessage): both pass."""
    code = error.response["Error"]["Code"]
    message = error.response["Error"].get("Message", "")
    if code == "ResourceInUseException":
        return True
    return code == "InvalidParameterValueException" and "role does not have permissions" in message


def apply_stream_settings(
    lambda_client: Any,
    event_uuid: str,
    stream_arn: str,
    failure_queue_arn: str,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """The failure settings Chalice's decorator cannot express, on the mapping
    ``chalice deploy`` made: refused if it reads another stream than the stack's table's (a
    deploy before ``make support`` wrote TASKS_STREAM_ARN). Run after every deploy: a
    deploy that replaces the mapping (a new stream) makes it without them."""
    for _ in range(MAPPING_WAIT_ATTEMPTS):
        mapping = lambda_client.get_event_source_mapping(UUID=event_uuid)
        if mapping["State"] not in MAPPING_BUSY_STATES:
            break
        sleep(MAPPING_WAIT_SECONDS)
    else:
        raise SystemExit(f"event source mapping {event_uuid} stayed {mapping['State']}")
    if mapping["EventSourceArn"] != stream_arn:
        raise SystemExit(
            f"event source mapping {event_uuid} reads {mapping['EventSourceArn']}, not the "
            f"table's stream {stream_arn}: run make support, then chalice deploy again"
        )
    settings = d.stream_failure_settings(failure_queue_arn)
    for _ in range(MAPPING_WAIT_ATTEMPTS):
        try:
            response: dict[str, Any] = lambda_client.update_event_source_mapping(
                UUID=event_uuid, **settings
            )
            return response
        except ClientError as error:
            if not _settling(error):
                raise
        sleep(MAPPING_WAIT_SECONDS)
    raise SystemExit(f"event source mapping {event_uuid} could not be updated")


def apply_api_settings(
    apigateway: Any, target: Stage, rest_api_id: str, access_log_arn: str
) -> None:
    """Throttling, access logs, tracing and the problem+json gateway responses, on the
    stage ``chalice deploy`` made. Run after every deploy: a deploy replaces the API's
    definition, gateway responses included."""
    for response_type, response in d.gateway_responses_extension(target.cors_origin).items():
        apigateway.put_gateway_response(
            restApiId=rest_api_id,
            responseType=response_type,
            responseParameters=response["responseParameters"],
            responseTemplates=response["responseTemplates"],
        )
    # Gateway responses take effect with the next deployment of the stage.
    apigateway.create_deployment(
        restApiId=rest_api_id,
        stageName=target.api_stage,
        description="Gateway responses (infra.support api-settings)",
    )
    tuning = target.tuning
    patches = [
        ("/*/*/throttling/rateLimit", str(tuning.throttle_rate_limit)),
        ("/*/*/throttling/burstLimit", str(tuning.throttle_burst_limit)),
        ("/*/*/metrics/enabled", "true"),
        ("/*/*/logging/loglevel", "OFF"),
        ("/tracingEnabled", "true"),
        ("/accessLogSettings/destinationArn", access_log_arn.removesuffix(":*")),
        ("/accessLogSettings/format", d.ACCESS_LOG_FORMAT),
    ]
    apigateway.update_stage(
        restApiId=rest_api_id,
        stageName=target.api_stage,
        patchOperations=[{"op": "replace", "path": p, "value": v} for p, v in patches],
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "command",
        choices=["deploy", "api-settings", "outputs", "teardown"],
        help="api-settings: after each chalice deploy, the API stage's settings and the "
        "stream consumer's failure settings",
    )
    parser.add_argument("--stage", required=True, choices=DEPLOYED_STAGES)
    parser.add_argument("--alarm-email", default="", help="subscribed to the alarm topic")
    args = parser.parse_args(argv)
    target = stage(args.stage)
    cloudformation = boto3.client("cloudformation")
    if args.command == "deploy":
        outputs = deploy_support(cloudformation, target, args.alarm_email)
        print(json.dumps(outputs, indent=2))
        print(f"Wrote the stage's resource names to {CONFIG_FILE}", file=sys.stderr)
    elif args.command == "outputs":
        print(json.dumps(stack_outputs(cloudformation, target.support_stack_name), indent=2))
    elif args.command == "api-settings":
        outputs = stack_outputs(cloudformation, target.support_stack_name)
        rest_api_id = deployed_rest_api_id(target.name)
        apply_api_settings(
            boto3.client("apigateway"), target, rest_api_id, outputs["AccessLogGroupArn"]
        )
        print(f"Applied stage settings to REST API {rest_api_id}", file=sys.stderr)
        event_uuid = deployed_event_source_uuid(target.name)
        apply_stream_settings(
            boto3.client("lambda"),
            event_uuid,
            outputs[STREAM_ARN_OUTPUT],
            outputs[FAILURE_QUEUE_ARN_OUTPUT],
        )
        print(f"Applied failure settings to event source mapping {event_uuid}", file=sys.stderr)
    else:
        teardown_support(cloudformation, target)
        print(f"Deleted stack {target.support_stack_name}", file=sys.stderr)


if __name__ == "__main__":
    main()
