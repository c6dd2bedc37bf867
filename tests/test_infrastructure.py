"""The packaged stacks, checked structurally: Terraform providers cannot be downloaded
here, so nothing can ``terraform validate``; these tests check what validate and plan
would, offline (references, versions, settings), and run cfn-lint on the SAM templates."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib import telemetry
from chalicelib.table import TABLE_DEFINITION, TTL_ATTRIBUTE
from chalicelib.web import GATEWAY_PROBLEM
from infra import cloudformation, definitions, package, stages, terraform, tfjson
from infra.stages import stage
from tests.conftest import PROJECT_DIR

STAGES = ("dev", "prod")


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """``make package`` for both stages, once."""
    root = tmp_path_factory.mktemp("build")
    return {name: package.package(name, root) for name in STAGES}


def sam(packaged: dict[str, tuple[Path, Path]], name: str) -> dict[str, Any]:
    return json.loads((packaged[name][0] / "sam.json").read_text())


def merged_terraform(packaged: dict[str, tuple[Path, Path]], name: str) -> dict[str, Any]:
    merged, errors = tfjson.load(packaged[name][1])
    assert errors == []
    return merged


# --- the version constraints ---------------------------------------------------------------


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def admits(constraint: str, version: str) -> bool:
    """Terraform's constraint syntax, for the operators we use."""
    checks = {
        ">=": lambda a, b: a >= b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        "<": lambda a, b: a < b,
        "=": lambda a, b: a == b,
    }
    wanted = _version(version)
    for clause in constraint.split(","):
        match = re.fullmatch(r"\s*(>=|<=|>|<|=)\s*([\d.]+)\s*", clause)
        assert match, f"unexpected constraint {clause!r}"
        op, bound = match.group(1), _version(match.group(2))
        length = max(len(wanted), len(bound))
        padded = (v + (0,) * (length - len(v)) for v in (wanted, bound))
        if not checks[op](*padded):
            return False
    return True


def test_the_constraint_check_itself() -> None:
    assert admits(">= 1.5.0", "1.14.0")
    assert not admits(">= 0.12.26, < 1.4.0", "1.5.0")
    assert admits(">= 5.32, < 6.0", "5.100.0")
    assert not admits(">= 5.32, < 6.0", "6.0.0")


@pytest.mark.parametrize("name", STAGES)
def test_versions_admit_today_s_terraform_and_aws_provider_5(packaged: Any, name: str) -> None:
    settings = merged_terraform(packaged, name)["terraform"]
    for version in ("1.5.0", "1.9.8", "1.13.4", "1.14.0"):
        assert admits(settings["required_version"], version), version
    assert not admits(settings["required_version"], "1.4.6")
    aws = settings["required_providers"]["aws"]
    assert aws["source"] == "hashicorp/aws"
    for version in ("5.32.0", "5.100.0"):
        assert admits(aws["version"], version)
    for version in ("4.67.0", "5.31.0", "6.0.0"):  # 5.32: Lambda logging_config
        assert not admits(aws["version"], version)
    for provider in ("null", "random"):
        assert settings["required_providers"][provider]["source"] == f"hashicorp/{provider}"


# --- references ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", STAGES)
def test_every_terraform_reference_resolves(packaged: Any, name: str) -> None:
    merged = merged_terraform(packaged, name)
    found = {ref for _, ref in tfjson.references(merged)}
    assert {
        "aws_cognito_user_pool.tasks",
        "aws_dynamodb_table.tasks",
        "local.chalice_api_swagger",
    } <= found
    assert tfjson.unresolved_references(merged) == []


def test_the_reference_check_catches_planted_mistakes(packaged: Any, tmp_path: Path) -> None:
    source = packaged["dev"][1]
    for file in source.glob("*.tf.json"):
        (tmp_path / file.name).write_text(file.read_text())
    override = json.loads((tmp_path / "task_api_override.tf.json").read_text())
    function = override["resource"]["aws_lambda_function"]["api_handler"]
    function["environment"]["variables"]["TASKS_TABLE_NAME"] = "${aws_dynamodb_table.typo.name}"
    override["resource"]["aws_s3_bucket"] = {"undeclared": {"bucket": "x"}}
    (tmp_path / "task_api_override.tf.json").write_text(json.dumps(override))
    merged, errors = tfjson.load(tmp_path)
    assert errors == [
        "task_api_override.tf.json: overrides undeclared resource aws_s3_bucket.undeclared"
    ]
    unresolved = tfjson.unresolved_references(merged)
    assert len(unresolved) == 1
    assert unresolved[0].startswith("aws_dynamodb_table.typo at ")


def test_interpolations_skip_literal_dollar_braces() -> None:
    assert list(tfjson.interpolations("a ${x.y} $${not.this} ${f(a.b, {c = 1})}")) == [
        "x.y",
        "f(a.b, {c = 1})",
    ]


# --- Chalice's blocks, changed by the override ---------------------------------------------


@pytest.mark.parametrize("name", STAGES)
def test_no_deprecated_stage_name_and_a_real_stage(packaged: Any, name: str) -> None:
    merged = merged_terraform(packaged, name)
    resources = merged["resource"]
    deployment = resources["aws_api_gateway_deployment"]["rest_api"]
    assert deployment["stage_name"] is None
    assert deployment["stage_description"] is None
    assert "local.chalice_api_swagger" in deployment["triggers"]["redeployment"]
    assert "aws_api_gateway_gateway_response.default_4xx" in deployment["triggers"]["redeployment"]
    assert merged["data"]["null_data_source"]["chalice"]["count"] == 0
    api_stage = resources["aws_api_gateway_stage"]["api"]
    assert api_stage["deployment_id"] == "${aws_api_gateway_deployment.rest_api.id}"
    assert api_stage["stage_name"] == stage(name).api_stage
    assert api_stage["xray_tracing_enabled"] is True
    assert api_stage["access_log_settings"]["destination_arn"] == (
        "${aws_cloudwatch_log_group.api_access.arn}"
    )
    assert json.loads(api_stage["access_log_settings"]["format"])["status"] == "$context.status"
    assert merged["output"]["EndpointURL"]["value"] == "${aws_api_gateway_stage.api.invoke_url}"


@pytest.mark.parametrize("name", STAGES)
def test_the_function_gets_its_resources_through_the_environment(packaged: Any, name: str) -> None:
    merged = merged_terraform(packaged, name)
    function = merged["resource"]["aws_lambda_function"]["api_handler"]
    variables = function["environment"]["variables"]
    assert variables["TASKS_TABLE_NAME"] == "${aws_dynamodb_table.tasks.name}"
    assert variables["TASKS_CURSOR_SECRET_ARN"] == "${aws_secretsmanager_secret.cursor.arn}"
    assert variables["COGNITO_USER_POOL_ARN"] == "${aws_cognito_user_pool.tasks.arn}"
    # The sign-in page's client: the web client Terraform creates in the same stack.
    assert variables["COGNITO_USER_POOL_CLIENT_ID"] == "${aws_cognito_user_pool_client.web.id}"
    assert "aws_cognito_user_pool_client.web" in {r for _, r in tfjson.references(merged)}
    assert variables["TASKS_CORS_ALLOW_ORIGIN"] == stage(name).cors_origin
    assert "TASKS_CURSOR_SECRETS" not in variables, "never a secret value in the environment"
    assert function["tracing_config"] == {"mode": "Active"}
    assert function["logging_config"]["log_group"] == "${aws_cloudwatch_log_group.api_handler.name}"
    swagger = json.loads(merged["locals"]["chalice_api_swagger"])
    authorizer = swagger["securityDefinitions"]["TasksUserPool"]["x-amazon-apigateway-authorizer"]
    assert authorizer["providerARNs"] == ["${aws_cognito_user_pool.tasks.arn}"]


# --- the Powertools layer ------------------------------------------------------------------

LAYER_PARAMETER = "/aws/service/powertools/python/x86_64/python3.11/3.37.0"


def test_the_layer_is_the_pinned_version_for_the_packaged_runtime(packaged: Any) -> None:
    """The layer serves the version the tests run, built for the function's Python."""
    pins = {}
    for line in (PROJECT_DIR / "requirements-dev.txt").read_text().splitlines():
        if match := re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)", line.strip()):
            pins[match.group(1).lower()] = match.group(2)
    assert pins["aws-lambda-powertools"] == definitions.POWERTOOLS_VERSION
    function = sam(packaged, "dev")["Resources"]["APIHandler"]["Properties"]
    assert function["Runtime"] == definitions.LAMBDA_RUNTIME
    assert function["Architectures"] == [definitions.LAMBDA_ARCHITECTURE]
    chalice_tf = json.loads((packaged["dev"][1] / "chalice.tf.json").read_text())
    assert chalice_tf["resource"]["aws_lambda_function"]["api_handler"]["runtime"] == (
        definitions.LAMBDA_RUNTIME
    )
    assert definitions.POWERTOOLS_LAYER_PARAMETER == LAYER_PARAMETER
    with pytest.raises(
        SystemExit, match=r"for python3\.12, but the Powertools layer is for python3\.11"
    ):
        definitions.require_runtime("python3.12")


@pytest.mark.parametrize("name", STAGES)
def test_powertools_comes_from_the_layer_in_both_formats(packaged: Any, name: str) -> None:
    function = sam(packaged, name)["Resources"]["APIHandler"]["Properties"]
    assert function["Layers"] == ["{{resolve:ssm:" + LAYER_PARAMETER + "}}"]
    merged = merged_terraform(packaged, name)
    assert merged["data"]["aws_ssm_parameter"]["powertools_layer"] == {"name": LAYER_PARAMETER}
    tf_function = merged["resource"]["aws_lambda_function"]["api_handler"]
    assert tf_function["layers"] == ["${data.aws_ssm_parameter.powertools_layer.value}"]
    assert "data.aws_ssm_parameter.powertools_layer" in {r for _, r in tfjson.references(merged)}
    for directory in packaged[name]:
        with zipfile.ZipFile(directory / "deployment.zip") as archive:
            entries = set(archive.namelist())
        top = {entry.split("/")[0] for entry in entries}
        assert "aws_lambda_powertools" not in top, "Powertools belongs to the layer"
        assert "botocore" not in top
        # The web page's files: without them GET / fails and its assets are 404s.
        web_files = {
            f"chalicelib/static/{n}" for n in ("index.html", "app.js", "app.css", "icon.svg")
        }
        assert web_files <= entries, sorted(web_files - entries)


def test_what_make_support_writes_never_reaches_a_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``make support`` writes the layer's ARN and the stack's resource names (user pool,
    client, cursor secret) into the stage; each package has its own."""
    written = "arn:aws:lambda:eu-west-1:123456789012:layer:Written-by-make-support:1"
    variables = {name: f"written-by-make-support-{name}" for name in stages.DEPLOY_ONLY_VARIABLES}
    config = json.loads(stages.CONFIG_FILE.read_text())
    config["stages"]["dev"][stages.LAYERS_SETTING] = [written]
    config["stages"]["dev"]["environment_variables"].update(variables)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    monkeypatch.setattr(stages, "CONFIG_FILE", config_file)
    sam_dir, terraform_dir = package.package("dev", tmp_path / "build")
    for project in sam_dir.parent.glob(".project-*"):
        packaged_stage = json.loads((project / ".chalice" / "config.json").read_text())
        assert stages.LAYERS_SETTING not in packaged_stage["stages"]["dev"]
        environment = packaged_stage["stages"]["dev"]["environment_variables"]
        assert not set(variables.values()) & set(environment.values())
    # Only the ARN is read at packaging time (the authorizer); the client id, per request.
    terraform_project = sam_dir.parent / ".project-terraform" / ".chalice" / "config.json"
    terraform_environment = json.loads(terraform_project.read_text())["stages"]["dev"][
        "environment_variables"
    ]
    assert terraform_environment["COGNITO_USER_POOL_ARN"] == terraform.USER_POOL_ARN_REFERENCE
    assert "COGNITO_USER_POOL_CLIENT_ID" not in terraform_environment
    packages = [
        (terraform_dir / "chalice.tf.json").read_text(),
        (terraform_dir / "task_api_override.tf.json").read_text(),
        (sam_dir / "sam.json").read_text(),
    ]
    for text in packages:
        assert written not in text
        assert not any(value in text for value in variables.values())
    override = json.loads(packages[1])
    function = override["resource"]["aws_lambda_function"]["api_handler"]
    assert function["environment"]["variables"]["COGNITO_USER_POOL_CLIENT_ID"] == (
        terraform.USER_POOL_CLIENT_ID_REFERENCE
    )


# --- the supporting resources, in both formats ---------------------------------------------


def _cfn_of_type(template: dict[str, Any], type_: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v.get("Type") == type_}


@pytest.mark.parametrize("name", STAGES)
def test_the_table_comes_from_the_single_definition(packaged: Any, name: str) -> None:
    protected = stage(name).tuning.protect_data
    table = sam(packaged, name)["Resources"]["TasksTable"]
    props = table["Properties"]
    for key, value in TABLE_DEFINITION.items():
        assert props[key] == value
    assert props["TableName"] == stage(name).table_name
    assert props["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["DeletionProtectionEnabled"] is protected
    assert table["DeletionPolicy"] == ("Retain" if protected else "Delete")

    tf = merged_terraform(packaged, name)["resource"]["aws_dynamodb_table"]["tasks"]
    assert tf["name"] == stage(name).table_name
    assert tf["billing_mode"] == TABLE_DEFINITION["BillingMode"] == "PAY_PER_REQUEST"
    assert {(a["name"], a["type"]) for a in tf["attribute"]} == {
        (a["AttributeName"], a["AttributeType"]) for a in TABLE_DEFINITION["AttributeDefinitions"]
    }
    assert [(tf["hash_key"], tf["range_key"])] == [
        tuple(k["AttributeName"] for k in TABLE_DEFINITION["KeySchema"])
    ]
    assert {i["name"]: (i["hash_key"], i["range_key"]) for i in tf["global_secondary_index"]} == {
        i["IndexName"]: tuple(k["AttributeName"] for k in i["KeySchema"])
        for i in TABLE_DEFINITION["GlobalSecondaryIndexes"]
    }
    assert tf["ttl"] == {"attribute_name": TTL_ATTRIBUTE, "enabled": True}
    assert tf["point_in_time_recovery"] == {"enabled": True}
    assert tf["server_side_encryption"]["enabled"] is True
    assert tf["deletion_protection_enabled"] is protected
    assert ("lifecycle" in tf) is protected


@pytest.mark.parametrize("name", STAGES)
def test_the_authorizer_uses_the_stack_s_own_user_pool(packaged: Any, name: str) -> None:
    template = sam(packaged, name)
    assert _cfn_of_type(template, "AWS::Cognito::UserPool").keys() == {"TasksUserPool"}
    client = template["Resources"]["TasksUserPoolClient"]["Properties"]
    assert client["UserPoolId"] == {"Ref": "TasksUserPool"}
    assert client["GenerateSecret"] is False
    body = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    authorizer = body["securityDefinitions"]["TasksUserPool"]["x-amazon-apigateway-authorizer"]
    assert authorizer["providerARNs"] == [{"Fn::GetAtt": ["TasksUserPool", "Arn"]}]
    assert "PLACEHOLDER" not in json.dumps(template)
    secured = [op for path in body["paths"].values() for op in path.values() if "security" in op]
    assert len(secured) >= 6  # every /tasks route
    variables = template["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert variables["TASKS_TABLE_NAME"] == {"Ref": "TasksTable"}
    assert variables["TASKS_CURSOR_SECRET_ARN"] == {"Ref": "CursorSecret"}
    assert variables["COGNITO_USER_POOL_ARN"] == {"Fn::GetAtt": ["TasksUserPool", "Arn"]}
    # The sign-in page's client: the stack's own client, the one the outputs name.
    assert variables["COGNITO_USER_POOL_CLIENT_ID"] == {"Ref": "TasksUserPoolClient"}
    assert (
        variables["COGNITO_USER_POOL_CLIENT_ID"] == template["Outputs"]["UserPoolClientId"]["Value"]
    )
    assert "TASKS_CURSOR_SECRETS" not in variables


@pytest.mark.parametrize("name", STAGES)
def test_the_cursor_secret_is_generated_never_committed(packaged: Any, name: str) -> None:
    secret = sam(packaged, name)["Resources"]["CursorSecret"]["Properties"]
    generate = secret["GenerateSecretString"]
    assert generate["PasswordLength"] >= 32
    assert generate["ExcludePunctuation"] is True
    assert "SecretString" not in secret
    resources = merged_terraform(packaged, name)["resource"]
    version = resources["aws_secretsmanager_secret_version"]["cursor"]
    assert version["secret_string"] == "${random_password.cursor_secret.result}"
    assert resources["random_password"]["cursor_secret"]["special"] is False  # no commas


@pytest.mark.parametrize("name", STAGES)
def test_log_groups_have_the_stage_s_retention(packaged: Any, name: str) -> None:
    days = stage(name).tuning.log_retention_days
    groups = _cfn_of_type(sam(packaged, name), "AWS::Logs::LogGroup")
    assert {g["Properties"]["LogGroupName"] for g in groups.values()} == {
        stage(name).function_log_group,
        stage(name).access_log_group,
    }
    assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {days}
    function = sam(packaged, name)["Resources"]["APIHandler"]["Properties"]
    assert function["LoggingConfig"]["LogGroup"] == {"Ref": "ApiHandlerLogGroup"}
    tf = merged_terraform(packaged, name)["resource"]["aws_cloudwatch_log_group"]
    assert {g["retention_in_days"] for g in tf.values()} == {days}


@pytest.mark.parametrize("name", STAGES)
def test_stage_throttling_tracing_and_access_logs(packaged: Any, name: str) -> None:
    tuning = stage(name).tuning
    api = sam(packaged, name)["Resources"]["RestAPI"]["Properties"]
    assert api["TracingEnabled"] is True
    assert api["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    (settings,) = api["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == tuning.throttle_rate_limit
    assert settings["ThrottlingBurstLimit"] == tuning.throttle_burst_limit
    tf = merged_terraform(packaged, name)["resource"]["aws_api_gateway_method_settings"]["all"]
    assert tf["method_path"] == "*/*"
    assert tf["settings"]["throttling_rate_limit"] == tuning.throttle_rate_limit
    assert tf["settings"]["throttling_burst_limit"] == tuning.throttle_burst_limit


@pytest.mark.parametrize("name", STAGES)
def test_gateway_errors_are_problem_documents_browsers_can_read(packaged: Any, name: str) -> None:
    origin = stage(name).cors_origin
    responses = sam(packaged, name)["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]
    tf = merged_terraform(packaged, name)["resource"]["aws_api_gateway_gateway_response"]
    assert set(responses) == {"DEFAULT_4XX", "DEFAULT_5XX"}
    assert {r["response_type"] for r in tf.values()} == {"DEFAULT_4XX", "DEFAULT_5XX"}
    for response in responses.values():
        headers = response["ResponseParameters"]["Headers"]
        assert headers["Access-Control-Allow-Origin"] == f"'{origin}'"
        assert "ETag" in headers["Access-Control-Expose-Headers"]
        assert headers["Content-Type"] == "'application/problem+json'"
        # A context variable, bare: API Gateway sends the request id, not this text.
        assert headers["X-Request-Id"] == "context.requestId"
        template = response["ResponseTemplates"]["application/json"]
        # What API Gateway renders for a missing token: valid JSON, a problem document.
        rendered = json.loads(
            template.replace("$context.error.messageString", '"Unauthorized"')
            .replace("$context.error.responseType", "UNAUTHORIZED")
            .replace("$context.requestId", "r-1")
        )
        assert rendered["type"] == GATEWAY_PROBLEM
        assert rendered["detail"] == "Unauthorized"
        assert rendered["instance"] == "urn:task-api:request:r-1"
        assert "requestId" not in rendered
    for response in tf.values():
        parameters = response["response_parameters"]
        assert parameters["gatewayresponse.header.Access-Control-Allow-Origin"] == f"'{origin}'"
        assert parameters["gatewayresponse.header.X-Request-Id"] == "context.requestId"
        assert response["response_templates"]["application/json"] == (
            definitions.GATEWAY_PROBLEM_TEMPLATE
        )


def _cfn_alarm(props: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation alarm in a form both formats share: each metric as
    (namespace, name, dimensions, statistic, period), by query id."""

    def metric(m: dict[str, Any], statistic: str, period: int) -> tuple[Any, ...]:
        dimensions = {d["Name"]: d["Value"] for d in m["Dimensions"]}
        return m["Namespace"], m["MetricName"], dimensions, statistic, period

    view = {
        "threshold": props["Threshold"],
        "datapoints": (props["DatapointsToAlarm"], props["EvaluationPeriods"]),
        "missing": props["TreatMissingData"],
        "comparison": props["ComparisonOperator"],
    }
    if "Metrics" not in props:
        statistic = props.get("ExtendedStatistic") or props["Statistic"]
        return view | {"metric": metric(props, statistic, props["Period"])}
    stats = [q for q in props["Metrics"] if "MetricStat" in q]
    assert all(q["ReturnData"] is False for q in stats), "only the expression returns data"
    (expression,) = [q for q in props["Metrics"] if "Expression" in q]
    assert expression["ReturnData"] is True
    return view | {
        "queries": {
            q["Id"]: metric(
                q["MetricStat"]["Metric"], q["MetricStat"]["Stat"], q["MetricStat"]["Period"]
            )
            for q in stats
        },
        "expression": expression["Expression"],
    }


def _tf_alarm(block: dict[str, Any]) -> dict[str, Any]:
    """A Terraform alarm in the same form as ``_cfn_alarm``."""

    def metric(m: dict[str, Any], statistic: str, period: int) -> tuple[Any, ...]:
        return m["namespace"], m["metric_name"], m["dimensions"], statistic, period

    view = {
        "threshold": block["threshold"],
        "datapoints": (block["datapoints_to_alarm"], block["evaluation_periods"]),
        "missing": block["treat_missing_data"],
        "comparison": block["comparison_operator"],
    }
    if "metric_query" not in block:
        statistic = block.get("extended_statistic") or block["statistic"]
        return view | {"metric": metric(block, statistic, block["period"])}
    stats = [q for q in block["metric_query"] if "metric" in q]
    assert all(q["return_data"] is False for q in stats), "only the expression returns data"
    (expression,) = [q for q in block["metric_query"] if "expression" in q]
    assert expression["return_data"] is True
    return view | {
        "queries": {
            q["id"]: metric(q["metric"], q["metric"]["stat"], q["metric"]["period"]) for q in stats
        },
        "expression": expression["expression"],
    }


def expected_app_alarms(namespace: str) -> dict[str, dict[str, Any]]:
    """The two alarms on the app's own EMF metrics, written out."""
    requests = {
        f"m{status}": (
            namespace,
            "Requests",
            {"service": "task-api", "StatusClass": status},
            "Sum",
            60,
        )
        for status in ("2xx", "3xx", "4xx", "5xx")
    }
    common = {"missing": "notBreaching", "comparison": "GreaterThanThreshold"}
    return {
        "ServerErrorRate": common
        | {
            "threshold": 0.01,
            "datapoints": (3, 5),
            "queries": requests,
            "expression": "FILL(m5xx,0) / (FILL(m2xx,0)+FILL(m3xx,0)+FILL(m4xx,0)+FILL(m5xx,0))",
        },
        "LatencyP99": common
        | {
            "threshold": 1000,
            "datapoints": (2, 3),
            "metric": (
                namespace,
                "Latency",
                {"service": "task-api", "StatusClass": "2xx"},
                "p99",
                300,
            ),
        },
    }


@pytest.mark.parametrize("name", STAGES)
def test_alarms_for_errors_latency_throttles_notify_a_topic(packaged: Any, name: str) -> None:
    namespace = f"task-api/{name}"
    template = sam(packaged, name)
    alarms = {
        k.removesuffix("Alarm"): v["Properties"]
        for k, v in _cfn_of_type(template, "AWS::CloudWatch::Alarm").items()
    }
    tf = merged_terraform(packaged, name)["resource"]
    tf_alarms = tf["aws_cloudwatch_metric_alarm"]
    keys = {
        "ServerErrorRate",
        "LatencyP99",
        "LambdaErrors",
        "LambdaThrottles",
        "TableThrottledRequests",
    }
    assert set(alarms) == keys
    assert set(tf_alarms) == {terraform._snake(key) for key in keys}
    assert "AWS/ApiGateway" not in json.dumps(alarms) + json.dumps(tf_alarms)

    for key, expected in expected_app_alarms(namespace).items():
        assert _cfn_alarm(alarms[key]) == expected, key
        assert _tf_alarm(tf_alarms[terraform._snake(key)]) == expected, key
    # The alarms watch the namespace the function is told to write to, in both formats.
    variables = template["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == namespace
    function = tf["aws_lambda_function"]["api_handler"]
    assert function["environment"]["variables"]["POWERTOOLS_METRICS_NAMESPACE"] == namespace

    # The others, unchanged: on the function, and on the table summed over its operations.
    errors = _cfn_alarm(alarms["LambdaErrors"])["metric"]
    assert errors == ("AWS/Lambda", "Errors", {"FunctionName": {"Ref": "APIHandler"}}, "Sum", 300)
    tf_throttles = _tf_alarm(tf_alarms["lambda_throttles"])["metric"]
    assert tf_throttles[:3] == (
        "AWS/Lambda",
        "Throttles",
        {"FunctionName": "${aws_lambda_function.api_handler.function_name}"},
    )
    for view in (
        _cfn_alarm(alarms["TableThrottledRequests"]),
        _tf_alarm(tf_alarms["table_throttled_requests"]),
    ):
        assert view["expression"] == "SUM(METRICS())"
        assert {q[2]["Operation"] for q in view["queries"].values()} == set(
            definitions.TABLE_OPERATIONS
        )
        assert {q[:2] for q in view["queries"].values()} == {("AWS/DynamoDB", "ThrottledRequests")}

    for key, props in alarms.items():
        assert props["AlarmActions"] == props["OKActions"] == [{"Ref": "AlarmTopic"}]
        assert props["AlarmName"] == f"task-api-{name}-{key}"
    assert all(a["alarm_actions"] == ["${aws_sns_topic.alarms.arn}"] for a in tf_alarms.values())
    assert tf["aws_sns_topic_subscription"]["alarm_email"]["count"].startswith("${var.alarm_email")


def test_the_alarms_watch_what_the_app_writes(capsys: pytest.CaptureFixture[str]) -> None:
    """A request to the dev stage writes, in EMF, each metric an alarm on the app's own
    metrics watches: same namespace, metric name and dimension set."""
    dev = stage("dev")
    telemetry.reset()
    try:
        capsys.readouterr()
        response = Client(app, stage_name="dev", project_dir=str(PROJECT_DIR)).http.get("/health")
        printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    finally:
        telemetry.reset()
    assert response.status_code == 200
    written = {
        (directive["Namespace"], metric["Name"], frozenset(dimensions))
        for document in printed
        if "_aws" in document
        for directive in document["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
        for dimensions in directive["Dimensions"]
    }
    watched = {
        (dev.metrics_namespace, metric.name, frozenset(name for name, _ in metric.dimensions))
        for alarm in definitions.ALARMS
        for metric in alarm.metrics
        if metric.namespace is definitions.Ref.APP_NAMESPACE
    }
    assert watched == {
        ("task-api/dev", "Requests", frozenset({"service", "StatusClass"})),
        ("task-api/dev", "Latency", frozenset({"service", "StatusClass"})),
    }
    assert watched <= written


@pytest.mark.parametrize("name", STAGES)
def test_outputs_name_the_url_table_pool_and_client(packaged: Any, name: str) -> None:
    wanted = {"EndpointURL", "TasksTableName", "UserPoolId", "UserPoolClientId"}
    assert wanted <= set(sam(packaged, name)["Outputs"])
    assert wanted <= set(merged_terraform(packaged, name)["output"])


def test_prod_reserves_concurrency_and_protects_users(packaged: Any) -> None:
    prod = sam(packaged, "prod")["Resources"]
    assert prod["APIHandler"]["Properties"]["ReservedConcurrentExecutions"] == (
        stage("prod").tuning.reserved_concurrency
    )
    assert prod["TasksUserPool"]["Properties"]["DeletionProtection"] == "ACTIVE"
    dev = sam(packaged, "dev")["Resources"]
    assert "ReservedConcurrentExecutions" not in dev["APIHandler"]["Properties"]


@pytest.mark.parametrize("name", STAGES)
def test_accepted_checkov_findings_carry_their_reasons(packaged: Any, name: str) -> None:
    resources = sam(packaged, name)["Resources"]
    skips = resources["APIHandler"]["Metadata"]["checkov"]["skip"]
    assert all(len(skip["comment"]) > 20 for skip in skips)
    assert "CKV_AWS_116" in {skip["id"] for skip in skips}


def test_cfn_lint_finds_nothing(packaged: Any, tmp_path: Path) -> None:
    """Zero errors and zero warnings, with no rule ignored."""
    templates = [str(packaged[name][0] / "sam.json") for name in STAGES]
    for name in STAGES:
        support = tmp_path / f"support-{name}.json"
        support.write_text(json.dumps(cloudformation.support_template(stage(name))))
        templates.append(str(support))
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(cfn_lint), "--format", "parseable", *templates], capture_output=True, text=True
    )
    assert result.stdout == "", result.stdout + result.stderr
    assert result.returncode == 0, result.stderr


def test_terraform_helpers_match_the_definitions() -> None:
    assert terraform.USER_POOL_ARN_REFERENCE.startswith("${aws_cognito_user_pool.tasks")
    assert terraform.USER_POOL_CLIENT_ID_REFERENCE == "${aws_cognito_user_pool_client.web.id}"
    assert set(package.DEPLOY_ONLY_VARIABLES) == {
        "COGNITO_USER_POOL_ARN",
        "COGNITO_USER_POOL_CLIENT_ID",
        "TASKS_CURSOR_SECRET_ARN",
    }


def test_packaging_again_keeps_what_users_added(tmp_path: Path) -> None:
    """Terraform state and an import block may live next to the generated files."""
    dev = stage("dev")
    out = package.package_terraform(dev, tmp_path)
    (out / "terraform.tfstate").write_text("{}")
    (out / "task_api.tf.json").write_text("stale")
    package.package_terraform(dev, tmp_path)
    assert (out / "terraform.tfstate").read_text() == "{}"
    assert json.loads((out / "task_api.tf.json").read_text())["resource"]
