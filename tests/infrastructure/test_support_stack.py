"""The ``chalice deploy`` path: the supporting stack, the stage config it writes, and the
stage settings applied to the deployed API."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import ANY, Stubber
from chalice.awsclient import TypedAWSClient
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ssm.models import Parameter, ssm_backends

from chalicelib.activity import routes as activity_routes
from chalicelib.core.errors import RETRY_AFTER_SECONDS
from infra import definitions, support
from infra.stages import CONFIG_FILE, CONSUMER_EVENT_SOURCE, DEPLOY_ONLY_VARIABLES, stage
from tests.conftest import PROJECT_DIR

LAYER_ARN = (
    "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-x86_64:1"
)

OUTPUTS = {
    "TasksTableName": "task-api-dev-tasks",
    "UserPoolId": "us-east-1_abc",
    "UserPoolArn": "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_abc",
    "UserPoolClientId": "client123",
    "CursorSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:"
    "task-api/dev/cursor-secrets-AbCdEf",
    "AlarmTopicArn": "arn:aws:sns:us-east-1:123456789012:task-api-dev-alarms",
    "AccessLogGroupArn": "arn:aws:logs:us-east-1:123456789012:log-group:"
    "/aws/apigateway/task-api-dev/access:*",
    "PowertoolsLayerArn": LAYER_ARN,
    "TasksStreamArn": "arn:aws:dynamodb:us-east-1:123456789012:table/task-api-dev-tasks/"
    "stream/2026-11-23T00:00:00.000",
    "StreamFailureQueueArn": "arn:aws:sqs:us-east-1:123456789012:task-api-dev-stream-failures",
}
STACK = "task-api-dev-support"


def _stack(status: str, outputs: dict[str, str] | None = None) -> dict[str, Any]:
    stack: dict[str, Any] = {
        "StackName": STACK,
        "CreationTime": "2026-11-23T00:00:00Z",
        "StackStatus": status,
    }
    if outputs:
        stack["Outputs"] = [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]
    return {"Stacks": [stack]}


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    copy = tmp_path / "config.json"
    shutil.copy(CONFIG_FILE, copy)
    return copy


@pytest.fixture
def cloudformation() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("cloudformation", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _missing(stubber: Stubber) -> None:
    stubber.add_client_error(
        "describe_stacks",
        "ValidationError",
        f"Stack with id {STACK} does not exist",
        expected_params={"StackName": STACK},
    )


def test_first_deploy_creates_the_stack_and_writes_the_stage_config(
    cloudformation: tuple[Any, Stubber], config_file: Path
) -> None:
    client, stubber = cloudformation
    _missing(stubber)
    stubber.add_response(
        "create_stack",
        {"StackId": "id"},
        {
            "StackName": STACK,
            "TemplateBody": ANY,
            "Parameters": [{"ParameterKey": "AlarmEmail", "ParameterValue": "ops@example.com"}],
            "Capabilities": ["CAPABILITY_IAM"],
            "Tags": ANY,
            "OnFailure": "DELETE",
        },
    )
    stubber.add_response("describe_stacks", _stack("CREATE_COMPLETE"))  # the waiter
    stubber.add_response("describe_stacks", _stack("CREATE_COMPLETE", OUTPUTS))
    outputs = support.deploy_support(client, stage("dev"), "ops@example.com", config_file)
    assert outputs == OUTPUTS
    environment = json.loads(config_file.read_text())["stages"]["dev"]["environment_variables"]
    assert environment["TASKS_TABLE_NAME"] == OUTPUTS["TasksTableName"]
    assert environment["COGNITO_USER_POOL_ARN"] == OUTPUTS["UserPoolArn"]
    assert environment["COGNITO_USER_POOL_CLIENT_ID"] == OUTPUTS["UserPoolClientId"]
    assert environment["TASKS_CURSOR_SECRET_ARN"] == OUTPUTS["CursorSecretArn"]
    # Read by the app at import, for its consumer's decorator: chalice deploy maps it.
    assert environment["TASKS_STREAM_ARN"] == OUTPUTS["TasksStreamArn"]
    assert environment["TASKS_CORS_ALLOW_ORIGIN"], "the stage's own settings are kept"
    assert "TASKS_CURSOR_SECRETS" not in environment, "never a secret value in the config"
    # The layer is Chalice's own stage setting, not a variable of the function.
    dev = json.loads(config_file.read_text())["stages"]["dev"]
    assert dev["layers"] == [LAYER_ARN]
    assert LAYER_ARN not in environment.values()
    assert dev["lambda_timeout"] == 25, "the stage's other settings are kept"


def test_a_second_deploy_updates_and_tolerates_no_changes(
    cloudformation: tuple[Any, Stubber], config_file: Path
) -> None:
    client, stubber = cloudformation
    stubber.add_response("describe_stacks", _stack("CREATE_COMPLETE", OUTPUTS))
    stubber.add_client_error("update_stack", "ValidationError", "No updates are to be performed.")
    stubber.add_response("describe_stacks", _stack("CREATE_COMPLETE", OUTPUTS))
    assert support.deploy_support(client, stage("dev"), "", config_file) == OUTPUTS


def test_a_failed_update_is_not_swallowed(
    cloudformation: tuple[Any, Stubber], config_file: Path
) -> None:
    client, stubber = cloudformation
    stubber.add_response("describe_stacks", _stack("CREATE_COMPLETE", OUTPUTS))
    stubber.add_client_error("update_stack", "ValidationError", "Template format error")
    before = config_file.read_text()
    with pytest.raises(support.ClientError, match="Template format error"):
        support.deploy_support(client, stage("dev"), "", config_file)
    assert config_file.read_text() == before


def test_teardown_deletes_the_stack_and_forgets_its_arns(
    cloudformation: tuple[Any, Stubber], config_file: Path
) -> None:
    client, stubber = cloudformation
    written = {name: "x" for name in DEPLOY_ONLY_VARIABLES}
    support.write_stage_config("dev", written, config_file, settings={"layers": [LAYER_ARN]})
    assert json.loads(config_file.read_text())["stages"]["dev"]["layers"] == [LAYER_ARN]
    stubber.add_response("describe_stacks", _stack("CREATE_COMPLETE"))
    stubber.add_response("delete_stack", {}, {"StackName": STACK})
    stubber.add_client_error("describe_stacks", "ValidationError", "does not exist")  # waiter
    support.teardown_support(client, stage("dev"), config_file)
    dev = json.loads(config_file.read_text())["stages"]["dev"]
    assert "COGNITO_USER_POOL_ARN" not in dev["environment_variables"]
    assert "COGNITO_USER_POOL_CLIENT_ID" not in dev["environment_variables"]
    assert not set(written) & set(dev["environment_variables"])
    assert dev["environment_variables"]["TASKS_TABLE_NAME"] == "task-api-dev-tasks"
    assert "layers" not in dev
    assert dev["xray"] is True, "the stage's own settings are kept"


def test_the_support_template_names_what_chalice_deploy_creates() -> None:
    dev = stage("dev")
    template = support.support_template(dev)
    resources = template["Resources"]
    assert (
        resources["ApiHandlerLogGroup"]["Properties"]["LogGroupName"] == "/aws/lambda/task-api-dev"
    )
    alarms = {
        k: v["Properties"] for k, v in resources.items() if v["Type"] == "AWS::CloudWatch::Alarm"
    }
    function_alarm = alarms["LambdaErrorsAlarm"]
    assert function_alarm["Dimensions"] == [{"Name": "FunctionName", "Value": "task-api-dev"}]
    assert set(support.CONFIG_FROM_OUTPUTS) <= set(template["Outputs"])
    assert support.CONFIG_FROM_OUTPUTS["UserPoolClientId"] == "COGNITO_USER_POOL_CLIENT_ID"
    assert template["Outputs"]["UserPoolClientId"] == {"Value": {"Ref": "TasksUserPoolClient"}}
    # Every deploy-only variable is written by make support (and so removed by teardown).
    assert set(support.CONFIG_FROM_OUTPUTS.values()) >= set(DEPLOY_ONLY_VARIABLES)


def test_the_support_stack_alarms_on_the_app_s_own_metrics() -> None:
    """``chalice deploy`` writes the same EMF metrics: the same alarms, in its namespace."""
    alarms = support.support_template(stage("dev"))["Resources"]
    error_rate = alarms["ServerErrorRateAlarm"]["Properties"]
    assert "Namespace" not in error_rate, "metric math, not a single metric"
    queries = {q["Id"]: q for q in error_rate["Metrics"]}
    assert set(queries) == {"m2xx", "m3xx", "m4xx", "m5xx", "rate"}
    assert queries["rate"]["Expression"] == (
        "FILL(m5xx,0) / (FILL(m2xx,0)+FILL(m3xx,0)+FILL(m4xx,0)+FILL(m5xx,0))"
    )
    assert [q["Id"] for q in error_rate["Metrics"] if q["ReturnData"]] == ["rate"]
    assert queries["m4xx"]["MetricStat"] == {
        "Metric": {
            "Namespace": "task-api/dev",
            "MetricName": "Requests",
            "Dimensions": [
                {"Name": "service", "Value": "task-api"},
                {"Name": "StatusClass", "Value": "4xx"},
            ],
        },
        "Period": 60,
        "Stat": "Sum",
    }
    assert (error_rate["Threshold"], error_rate["DatapointsToAlarm"]) == (0.01, 3)
    assert error_rate["EvaluationPeriods"] == 5
    latency = alarms["LatencyP99Alarm"]["Properties"]
    assert (latency["Namespace"], latency["MetricName"]) == ("task-api/dev", "Latency")
    assert latency["Dimensions"] == [
        {"Name": "service", "Value": "task-api"},
        {"Name": "StatusClass", "Value": "2xx"},
    ]
    assert (latency["ExtendedStatistic"], latency["Period"], latency["Threshold"]) == (
        "p99",
        300,
        1000,
    )
    assert (latency["DatapointsToAlarm"], latency["EvaluationPeriods"]) == (2, 3)
    assert latency["TreatMissingData"] == error_rate["TreatMissingData"] == "notBreaching"
    prod = support.support_template(stage("prod"))["Resources"]["LatencyP99Alarm"]
    assert prod["Properties"]["Namespace"] == "task-api/prod"


def test_the_support_stack_resolves_the_powertools_layer() -> None:
    template = support.support_template(stage("dev"))
    assert template["Parameters"]["PowertoolsLayerArn"] == {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": "/aws/service/powertools/python/x86_64/python3.11/3.37.0",
        "Description": ANY,
    }
    assert template["Outputs"]["PowertoolsLayerArn"] == {"Value": {"Ref": "PowertoolsLayerArn"}}


def publish_layer_parameter(region: str = "us-east-1") -> None:
    """Put AWS's public layer parameter into moto's SSM. Like AWS, moto refuses
    PutParameter on names under /aws/, so it goes into moto's store directly."""
    name = definitions.POWERTOOLS_LAYER_PARAMETER
    backend = ssm_backends[DEFAULT_ACCOUNT_ID][region]
    backend._parameters[name].append(
        Parameter(
            account_id=DEFAULT_ACCOUNT_ID,
            name=name,
            value=LAYER_ARN,
            parameter_type="String",
            description=None,
            allowed_pattern=None,
            keyid=None,
            last_modified_date=dt.datetime.now(dt.UTC),
            version=1,
            data_type="text",
        )
    )


def test_deploy_writes_the_layer_the_stack_resolved_and_teardown_removes_it(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On moto: the stack resolves the public parameter, deploy hands the ARN to Chalice
    as the stage's ``layers``, teardown takes it away. moto's CloudFormation cannot make a
    user pool, so the stack here is the real template's layer parameter and output (and
    its alarm topic and the topic's key), and only the layer is read back."""
    full = support.support_template(stage("dev"))
    topic = ("AlarmTopic", "AlarmTopicKey", "AlarmTopicKeyAlias")
    resources = {name: copy.deepcopy(full["Resources"][name]) for name in topic}
    # moto's KMS reads a CloudFormation key's tags in the KMS API's shape (TagKey), not
    # CloudFormation's (Key): without them here.
    del resources["AlarmTopicKey"]["Properties"]["Tags"]
    layer_only = {
        "Parameters": {"PowertoolsLayerArn": full["Parameters"]["PowertoolsLayerArn"]},
        "Resources": resources,
        "Outputs": {"PowertoolsLayerArn": full["Outputs"]["PowertoolsLayerArn"]},
    }
    monkeypatch.setattr(support, "support_template", lambda target: layer_only)
    monkeypatch.setattr(support, "CONFIG_FROM_OUTPUTS", {})
    with mock_aws():
        publish_layer_parameter()
        client = boto3.client("cloudformation", region_name="us-east-1")
        outputs = support.deploy_support(client, stage("dev"), "", config_file)
        assert outputs == {"PowertoolsLayerArn": LAYER_ARN}
        assert json.loads(config_file.read_text())["stages"]["dev"]["layers"] == [LAYER_ARN]
        support.teardown_support(client, stage("dev"), config_file)
        assert client.list_stacks(StackStatusFilter=["CREATE_COMPLETE"])["StackSummaries"] == []
    config = json.loads(config_file.read_text())
    assert "layers" not in config["stages"]["dev"]
    assert config == json.loads(CONFIG_FILE.read_text()), "back to the committed config"


def test_the_deployed_rest_api_is_read_from_chalice_s_record(tmp_path: Path) -> None:
    (tmp_path / "deployed").mkdir()
    record = {
        "resources": [
            {"name": "api_handler", "resource_type": "lambda_function", "lambda_arn": "arn"},
            {"name": "rest_api", "resource_type": "rest_api", "rest_api_id": "abc123"},
        ]
    }
    (tmp_path / "deployed" / "dev.json").write_text(json.dumps(record))
    assert support.deployed_rest_api_id("dev", tmp_path) == "abc123"
    with pytest.raises(SystemExit, match="chalice deploy --stage prod"):
        support.deployed_rest_api_id("prod", tmp_path)


def test_api_settings_reach_the_deployed_stage() -> None:
    dev = stage("dev")
    with mock_aws():
        apigateway = boto3.client("apigateway", region_name="us-east-1")
        api = apigateway.create_rest_api(name="task-api")["id"]
        root = apigateway.get_resources(restApiId=api)["items"][0]["id"]
        apigateway.put_method(
            restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE"
        )
        apigateway.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
        apigateway.create_deployment(restApiId=api, stageName=dev.api_stage)
        support.apply_api_settings(apigateway, dev, api, OUTPUTS["AccessLogGroupArn"])

        deployed = apigateway.get_stage(restApiId=api, stageName=dev.api_stage)
        assert deployed["tracingEnabled"] is True
        assert deployed["accessLogSettings"]["destinationArn"] == OUTPUTS[
            "AccessLogGroupArn"
        ].removesuffix(":*")
        assert json.loads(deployed["accessLogSettings"]["format"])["requestId"] == (
            "$context.requestId"
        )
        settings = deployed["methodSettings"]["*/*"]
        assert settings["throttlingRateLimit"] == dev.tuning.throttle_rate_limit
        assert settings["throttlingBurstLimit"] == dev.tuning.throttle_burst_limit
        assert definitions.GATEWAY_RESPONSE_TYPES == ("DEFAULT_4XX", "DEFAULT_5XX", "THROTTLED")
        for response_type in definitions.GATEWAY_RESPONSE_TYPES:
            response = apigateway.get_gateway_response(restApiId=api, responseType=response_type)
            headers = response["responseParameters"]
            assert headers["gatewayresponse.header.Content-Type"] == "'application/problem+json'"
            assert headers["gatewayresponse.header.Access-Control-Allow-Origin"] == (
                f"'{dev.cors_origin}'"
            )
            assert headers["gatewayresponse.header.X-Request-Id"] == "context.requestId"
            # The app's security headers, and when to retry a throttled request.
            assert headers["gatewayresponse.header.Cache-Control"] == "'no-store'"
            assert headers["gatewayresponse.header.X-Content-Type-Options"] == "'nosniff'"
            retry_after = headers.get("gatewayresponse.header.Retry-After")
            assert retry_after == (
                f"'{RETRY_AFTER_SECONDS}'" if response_type == "THROTTLED" else None
            )
            template = response["responseTemplates"]["application/json"]
            assert '"type":"urn:task-api:problem:gateway"' in template
            assert '"instance":"urn:task-api:request:$context.requestId"' in template
        assert len(apigateway.get_deployments(restApiId=api)["items"]) == 2


def test_the_committed_config_holds_no_account_specific_values() -> None:
    """What ``make support`` writes belongs to the user's account, not to the repo."""
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    for name in ("dev", "prod"):
        environment = config["stages"][name]["environment_variables"]
        assert not set(environment) & {
            "COGNITO_USER_POOL_ARN",
            "COGNITO_USER_POOL_CLIENT_ID",
            "TASKS_CURSOR_SECRET_ARN",
        }
        assert not set(environment) & set(DEPLOY_ONLY_VARIABLES)
        assert not any("arn:aws" in value for value in environment.values())
        assert "layers" not in config["stages"][name]


# --- the stream consumer's event source mapping -------------------------------------------


MAPPING_UUID = "f8ea4880-b19e-4872-8ae9-393f62aecdac"


def _deployed_record(chalice_dir: Path, event_uuid: str, stream_arn: str) -> None:
    """``.chalice/deployed/dev.json`` as ``chalice deploy`` writes it for the consumer."""
    (chalice_dir / "deployed").mkdir(exist_ok=True)
    record = {
        "schema_version": "2.0",
        "resources": [
            {"name": "rest_api", "resource_type": "rest_api", "rest_api_id": "abc123"},
            {
                "name": CONSUMER_EVENT_SOURCE,
                "resource_type": "dynamodb_event",
                "stream_arn": stream_arn,
                "event_uuid": event_uuid,
                "lambda_arn": "arn:aws:lambda:us-east-1:123456789012:function:"
                "task-api-dev-record_activity",
            },
        ],
    }
    (chalice_dir / "deployed" / "dev.json").write_text(json.dumps(record))


def test_the_mapping_is_read_from_chalice_s_record(tmp_path: Path) -> None:
    _deployed_record(tmp_path, MAPPING_UUID, OUTPUTS["TasksStreamArn"])
    assert support.deployed_event_source_uuid("dev", tmp_path) == MAPPING_UUID
    with pytest.raises(SystemExit, match="chalice deploy --stage prod"):
        support.deployed_event_source_uuid("prod", tmp_path)
    (tmp_path / "deployed" / "dev.json").write_text(json.dumps({"resources": []}))
    with pytest.raises(SystemExit, match="records no record_activity-dynamodb-event-source"):
        support.deployed_event_source_uuid("dev", tmp_path)


def test_the_support_stack_gives_chalice_deploy_the_stream_and_the_queue(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On moto, the whole ``chalice deploy`` path of the consumer: the support stack (its
    table with the stream and its failure queue, from the real template) writes the stream's
    ARN into the stage; Chalice's own client maps the function to it as ``chalice deploy``
    does (batch size and starting position only); ``api-settings`` then adds the failure
    settings to that mapping."""
    full = support.support_template(stage("dev"))
    kept = ("TasksTable", "StreamFailureQueue")
    outputs = ("TasksTableName", "TasksStreamArn", "StreamFailureQueueArn", "PowertoolsLayerArn")
    template = {
        "Parameters": {"PowertoolsLayerArn": full["Parameters"]["PowertoolsLayerArn"]},
        "Resources": {name: copy.deepcopy(full["Resources"][name]) for name in kept},
        "Outputs": {name: full["Outputs"][name] for name in outputs},
    }
    monkeypatch.setattr(support, "support_template", lambda target: template)
    monkeypatch.setattr(
        support,
        "CONFIG_FROM_OUTPUTS",
        {k: v for k, v in support.CONFIG_FROM_OUTPUTS.items() if k in outputs},
    )
    with mock_aws():
        publish_layer_parameter()
        session = boto3.session.Session(region_name="us-east-1")
        stack = support.deploy_support(
            session.client("cloudformation"), stage("dev"), "", config_file
        )
        environment = json.loads(config_file.read_text())["stages"]["dev"]["environment_variables"]
        stream_arn = environment["TASKS_STREAM_ARN"]
        assert stream_arn == stack["TasksStreamArn"]
        assert stream_arn.startswith(
            "arn:aws:dynamodb:us-east-1:123456789012:table/task-api-dev-tasks/stream/"
        )
        assert stack["StreamFailureQueueArn"].endswith(":task-api-dev-stream-failures")

        # chalice deploy: the function, then the mapping from the decorator's arguments.
        role = session.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")
        session.client("lambda").create_function(
            FunctionName=stage("dev").consumer_function_name,
            Runtime="python3.11",
            Role=role["Role"]["Arn"],
            Handler="chalicelib.activity.consumer.record_activity",
            Code={"ZipFile": _zip()},
        )
        chalice_session = botocore.session.get_session()
        chalice_session.set_config_variable("region", "us-east-1")
        event_uuid = TypedAWSClient(chalice_session).create_lambda_event_source(
            event_source_arn=stream_arn,
            function_name=stage("dev").consumer_function_name,
            batch_size=100,
            starting_position="TRIM_HORIZON",
        )
        lambda_client = session.client("lambda")
        before = lambda_client.get_event_source_mapping(UUID=event_uuid)
        assert "DestinationConfig" not in before or not before["DestinationConfig"].get("OnFailure")

        support.apply_stream_settings(
            lambda_client, event_uuid, stack["TasksStreamArn"], stack["StreamFailureQueueArn"]
        )
        mapping = lambda_client.get_event_source_mapping(UUID=event_uuid)
    assert mapping["EventSourceArn"] == stream_arn
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert mapping["BatchSize"] == 100
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["MaximumRetryAttempts"] == definitions.MAXIMUM_RETRY_ATTEMPTS == 5
    assert mapping["MaximumRecordAgeInSeconds"] == definitions.MAXIMUM_RECORD_AGE_SECONDS == 3600
    assert mapping["DestinationConfig"] == {
        "OnFailure": {"Destination": stack["StreamFailureQueueArn"]}
    }


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    return buffer.getvalue()


@pytest.fixture
def lambda_stub() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("lambda", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _mapping(state: str, stream_arn: str = OUTPUTS["TasksStreamArn"]) -> dict[str, Any]:
    return {"UUID": MAPPING_UUID, "State": state, "EventSourceArn": stream_arn}


def test_the_settings_wait_for_a_mapping_chalice_just_created(
    lambda_stub: tuple[Any, Stubber],
) -> None:
    """Lambda refuses to update a mapping that is still ``Creating`` (ResourceInUse)."""
    client, stubber = lambda_stub
    for state in ("Creating", "Creating", "Enabled"):
        stubber.add_response("get_event_source_mapping", _mapping(state), {"UUID": MAPPING_UUID})
    stubber.add_response(
        "update_event_source_mapping",
        _mapping("Updating"),
        {
            "UUID": MAPPING_UUID,
            **definitions.stream_failure_settings(OUTPUTS["StreamFailureQueueArn"]),
        },
    )
    slept: list[float] = []
    support.apply_stream_settings(
        client,
        MAPPING_UUID,
        OUTPUTS["TasksStreamArn"],
        OUTPUTS["StreamFailureQueueArn"],
        sleep=slept.append,
    )
    assert slept == [support.MAPPING_WAIT_SECONDS] * 2


def test_the_settings_wait_until_iam_shows_lambda_the_new_rights(
    lambda_stub: tuple[Any, Stubber],
) -> None:
    """A deploy that has just granted the consumer sqs:SendMessage: Lambda checks the role
    when the destination is set, and IAM is eventually consistent."""
    client, stubber = lambda_stub
    stubber.add_response("get_event_source_mapping", _mapping("Enabled"), {"UUID": MAPPING_UUID})
    stubber.add_client_error(
        "update_event_source_mapping",
        "InvalidParameterValueException",
        "The provided execution role does not have permissions to call SendMessage on SQS",
    )
    stubber.add_response("update_event_source_mapping", _mapping("Updating"))
    slept: list[float] = []
    support.apply_stream_settings(
        client,
        MAPPING_UUID,
        OUTPUTS["TasksStreamArn"],
        OUTPUTS["StreamFailureQueueArn"],
        sleep=slept.append,
    )
    assert slept == [support.MAPPING_WAIT_SECONDS]


def test_other_errors_of_the_settings_are_not_swallowed(
    lambda_stub: tuple[Any, Stubber],
) -> None:
    client, stubber = lambda_stub
    stubber.add_response("get_event_source_mapping", _mapping("Enabled"), {"UUID": MAPPING_UUID})
    stubber.add_client_error(
        "update_event_source_mapping", "InvalidParameterValueException", "MaximumRetryAttempts"
    )
    with pytest.raises(support.ClientError, match="MaximumRetryAttempts"):
        support.apply_stream_settings(
            client, MAPPING_UUID, OUTPUTS["TasksStreamArn"], OUTPUTS["StreamFailureQueueArn"]
        )


def test_a_mapping_on_another_stream_is_refused(lambda_stub: tuple[Any, Stubber]) -> None:
    """A deploy made before ``make support`` wrote TASKS_STREAM_ARN maps the placeholder:
    the settings say so instead of dressing up the wrong mapping."""
    client, stubber = lambda_stub
    other = activity_routes.PLACEHOLDER_STREAM_ARN
    stubber.add_response(
        "get_event_source_mapping", _mapping("Enabled", other), {"UUID": MAPPING_UUID}
    )
    with pytest.raises(SystemExit, match="run make support, then chalice deploy again"):
        support.apply_stream_settings(
            client, MAPPING_UUID, OUTPUTS["TasksStreamArn"], OUTPUTS["StreamFailureQueueArn"]
        )


def test_the_support_stack_alarms_on_the_stream() -> None:
    """``chalice deploy`` names the consumer ``task-api-<stage>-record_activity``: the alarm
    watches that function, and the stack's own queue."""
    resources = support.support_template(stage("dev"))["Resources"]
    age = resources["StreamIteratorAgeAlarm"]["Properties"]
    assert age["Dimensions"] == [{"Name": "FunctionName", "Value": "task-api-dev-record_activity"}]
    assert (age["MetricName"], age["Statistic"], age["Threshold"]) == (
        "IteratorAge",
        "Maximum",
        300000,
    )
    depth = resources["StreamFailuresAlarm"]["Properties"]
    assert depth["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["StreamFailureQueue", "QueueName"]}}
    ]
    assert (depth["MetricName"], depth["Threshold"]) == ("ApproximateNumberOfMessagesVisible", 0)
    assert resources["ConsumerLogGroup"]["Properties"]["LogGroupName"] == (
        "/aws/lambda/task-api-dev-record_activity"
    )
