"""The packaged stacks, checked two ways.

Structurally, offline: references, versions and settings of both formats, cfn-lint on the
CloudFormation templates, and aws-sam-translator on the SAM templates (what SAM would
deploy). And with the real tools: ``terraform init`` (from a local filesystem mirror of the
AWS provider, no network) and ``terraform validate`` on each stage's Terraform and on the
account's piece. Without Terraform or the mirror those tests skip, loudly; under CI=true
they fail."""

from __future__ import annotations

import ast
import dataclasses
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice.test import Client
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from app import app
from chalicelib import telemetry
from chalicelib.activity import routes as activity_routes
from chalicelib.core.errors import GATEWAY_PROBLEM, RETRY_AFTER_SECONDS
from chalicelib.core.http import SECURITY_HEADERS
from chalicelib.table import TABLE_DEFINITION, TTL_ATTRIBUTE
from devserver import patches
from infra import (
    cloudformation,
    definitions,
    package,
    release,
    stages,
    terraform,
    tfjson,
    tfvalidate,
)
from infra.stages import stage
from tests.conftest import PROJECT_DIR, _in_ci
from tools import pins as pins_of

#: Starts another program (a server, a CLI or a browser): not in `make check`.
pytestmark = pytest.mark.external

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


def account_dir(packaged: dict[str, tuple[Path, Path]]) -> Path:
    """The account's piece, which ``package.package`` writes next to the stages."""
    return packaged["dev"][1].parent.parent / "account" / "terraform"


def support(name: str) -> dict[str, Any]:
    """The ``chalice deploy`` path's supporting stack."""
    return cloudformation.support_template(stage(name))


#: Every CloudFormation template a stage can be deployed with: the SAM package's and the
#: support stack's (``chalice deploy``).
CFN_PATHS = ("sam", "support")


def cfn_template(packaged: dict[str, tuple[Path, Path]], path: str, name: str) -> dict[str, Any]:
    return sam(packaged, name) if path == "sam" else support(name)


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


@pytest.mark.parametrize("name", [*STAGES, "account"])
def test_versions_admit_terraform_1_11_and_aws_provider_5(packaged: Any, name: str) -> None:
    """Terraform 1.11: write-only arguments (the cursor secret). AWS provider 5.88: the
    secret version's ``secret_string_wo``; before 6.0, which drops the deployment's
    ``stage_name`` that Chalice's block still declares."""
    directory = account_dir(packaged) if name == "account" else packaged[name][1]
    merged, errors = tfjson.load(directory)
    assert errors == []
    settings = merged["terraform"]
    for version in ("1.11.0", "1.11.4", "1.13.4", "1.14.0"):
        assert admits(settings["required_version"], version), version
    assert not admits(settings["required_version"], "1.10.5")
    aws = settings["required_providers"]["aws"]
    assert aws["source"] == "hashicorp/aws"
    for version in ("5.88.0", "5.100.0"):  # 5.100.0: the mirror terraform validate uses
        assert admits(aws["version"], version)
    for version in ("4.67.0", "5.87.0", "6.0.0"):
        assert not admits(aws["version"], version)


@pytest.mark.parametrize("name", STAGES)
def test_only_the_aws_provider_is_needed(packaged: Any, name: str) -> None:
    """Nothing needs hashicorp/null or hashicorp/random, which an offline mirror (this
    machine's) lacks: the cursor secret comes from the AWS provider itself."""
    merged = merged_terraform(packaged, name)
    assert set(merged["terraform"]["required_providers"]) == {"aws"}
    for kind in tfjson.TWO_LABELS:
        for type_ in merged.get(kind, {}):
            assert type_.startswith("aws_"), f"{kind} {type_} needs another provider"
    assert "null_data_source" not in json.dumps(merged)
    assert "random_password" not in merged.get("resource", {})


# --- references ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", STAGES)
def test_every_terraform_reference_resolves(packaged: Any, name: str) -> None:
    merged = merged_terraform(packaged, name)
    found = {ref for _, ref in tfjson.references(merged)}
    assert {
        "aws_cognito_user_pool.tasks",
        "aws_dynamodb_table.tasks",
        "local.chalice_api_swagger",
        "local.api_body",
        "ephemeral.aws_secretsmanager_random_password.cursor_secret",
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
    # A new deployment whenever the body changes: Chalice's routes or the gateway responses.
    assert deployment["triggers"]["redeployment"] == "${sha1(local.api_body)}"
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
    pins = pins_of.closure(pins_of.layers(), "requirements-dev.txt")
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
            f"chalicelib/site/static/{n}" for n in ("index.html", "app.js", "app.css", "icon.svg")
        }
        assert web_files <= entries, sorted(web_files - entries)


#: What Lambda has of Chalice: the runtime module that Chalice packages with the app.
CHALICE_RUNTIME = {"chalice", "chalice.app"}


@pytest.mark.parametrize("name", STAGES)
def test_the_deployment_package_holds_the_app_and_no_development_module(
    packaged: Any, name: str
) -> None:
    """deployment.zip holds app.py and chalicelib/ exactly as the repository has them, and the
    requirements' packages; nothing of devserver/, tools/, tests/, bench/ or infra/."""
    chalicelib = {
        path.relative_to(PROJECT_DIR).as_posix()
        for path in (PROJECT_DIR / "chalicelib").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    for directory in packaged[name]:
        with zipfile.ZipFile(directory / "deployment.zip") as archive:
            entries = {e for e in archive.namelist() if not e.endswith("/")}
        sources = {e for e in entries if "/__pycache__/" not in f"/{e}"}
        project = {e for e in sources if e == "app.py" or e.startswith("chalicelib/")}
        assert project == {"app.py"} | chalicelib, sorted(project ^ ({"app.py"} | chalicelib))
        top = {entry.split("/")[0] for entry in entries}
        assert top & {"devserver", "tools", "tests", "bench", "infra"} == set(), top
    # Nothing that ships imports development-only code at module level or lazily.
    for module in ["app.py", *sorted(m for m in chalicelib if m.endswith(".py"))]:
        tree = ast.parse((PROJECT_DIR / module).read_text())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                # `from chalice import local` imports the module chalice.local.
                imported |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        shipped = {
            m
            for m in imported
            if m.split(".")[0] in {"moto", "devserver", "tests"}
            or (
                m.startswith("chalice.")
                and m.split(".")[1].islower()  # a module, not a class such as chalice.Chalice
                and ".".join(m.split(".")[:2]) not in CHALICE_RUNTIME
            )
        }
        # app.py imports devserver only under chalice.local, which Lambda never loads.
        allowed = CHALICE_RUNTIME | (
            {
                "devserver",
                "devserver.embedded",
                "devserver.local_gateway",
                "devserver.stream_poller",
            }
            if module == "app.py"
            else set()
        )
        assert shipped <= allowed, (module, shipped - allowed)


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
    stream = TABLE_DEFINITION["StreamSpecification"]
    for key, value in TABLE_DEFINITION.items():
        if key != "StreamSpecification":  # CloudFormation's shape has no StreamEnabled
            assert props[key] == value
    assert stream["StreamEnabled"] is True
    assert props["StreamSpecification"] == {"StreamViewType": stream["StreamViewType"]}
    assert props["TableName"] == stage(name).table_name
    assert props["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["DeletionProtectionEnabled"] is protected
    assert table["DeletionPolicy"] == ("RetainExceptOnCreate" if protected else "Delete")

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
    assert (tf["stream_enabled"], tf["stream_view_type"]) == (True, stream["StreamViewType"])
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
    merged = merged_terraform(packaged, name)
    version = merged["resource"]["aws_secretsmanager_secret_version"]["cursor"]
    # Write-only: sent when the version is created, never in the state or a plan.
    assert version["secret_string_wo"] == (
        "${ephemeral.aws_secretsmanager_random_password.cursor_secret.random_password}"
    )
    assert version["secret_string_wo_version"] == 1
    assert "secret_string" not in version
    generated = merged["ephemeral"]["aws_secretsmanager_random_password"]["cursor_secret"]
    assert generated["password_length"] == definitions.SECRET_LENGTH >= 32
    assert generated["exclude_punctuation"] is True  # no commas: the value is a list
    assert generated["include_space"] is False


@pytest.mark.parametrize("name", STAGES)
def test_log_groups_have_the_stage_s_retention(packaged: Any, name: str) -> None:
    days = stage(name).tuning.log_retention_days
    groups = _cfn_of_type(sam(packaged, name), "AWS::Logs::LogGroup")
    assert {g["Properties"]["LogGroupName"] for g in groups.values()} == {
        stage(name).function_log_group,
        stage(name).consumer_log_group,
        stage(name).hook_log_group,
        stage(name).access_log_group,
    }
    assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {days}
    function = sam(packaged, name)["Resources"]["APIHandler"]["Properties"]
    assert function["LoggingConfig"]["LogGroup"] == {"Ref": "ApiHandlerLogGroup"}
    consumer = sam(packaged, name)["Resources"]["RecordActivity"]["Properties"]
    assert consumer["LoggingConfig"]["LogGroup"] == {"Ref": "ConsumerLogGroup"}
    tf = merged_terraform(packaged, name)["resource"]["aws_cloudwatch_log_group"]
    assert {g["retention_in_days"] for g in tf.values()} == {days}
    assert tf["record_activity"]["name"] == stage(name).consumer_log_group


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


def tf_gateway_responses(packaged: Any, name: str) -> dict[str, Any]:
    """The gateway responses Terraform puts into the API's body, as API Gateway reads them
    (Terraform unescapes its ``$${`` when it evaluates the local)."""
    merged = merged_terraform(packaged, name)
    extension = merged["locals"]["api_gateway_responses"]["x-amazon-apigateway-gateway-responses"]
    return json.loads(json.dumps(extension).replace("$${", "${").replace("%%{", "%{"))


def sam_gateway_responses(template: dict[str, Any]) -> dict[str, Any]:
    """SAM's ``GatewayResponses`` in the body's form (``gatewayresponse.header.<name>``)."""
    return {
        response_type: {
            "responseParameters": {
                f"gatewayresponse.header.{header}": value
                for header, value in response["ResponseParameters"]["Headers"].items()
            },
            "responseTemplates": response["ResponseTemplates"],
        }
        for response_type, response in template["Resources"]["RestAPI"]["Properties"][
            "GatewayResponses"
        ].items()
    }


@pytest.mark.parametrize("name", STAGES)
def test_gateway_errors_are_problem_documents_browsers_can_read(packaged: Any, name: str) -> None:
    """The same responses on the SAM and Terraform paths (and ``chalice deploy``'s, which
    applies ``gateway_responses_extension``: tests/infrastructure/test_support_stack.py)."""
    origin = stage(name).cors_origin
    responses = sam_gateway_responses(sam(packaged, name))
    assert tf_gateway_responses(packaged, name) == responses
    assert responses == definitions.gateway_responses_extension(origin)
    assert set(responses) == {"DEFAULT_4XX", "DEFAULT_5XX", "THROTTLED"}
    for response in responses.values():
        headers = {
            name.removeprefix("gatewayresponse.header."): value
            for name, value in response["responseParameters"].items()
        }
        assert headers["Access-Control-Allow-Origin"] == f"'{origin}'"
        assert "ETag" in headers["Access-Control-Expose-Headers"]
        assert headers["Content-Type"] == "'application/problem+json'"
        # A context variable, bare: API Gateway sends the request id, not this text.
        assert headers["X-Request-Id"] == "context.requestId"
        template = response["responseTemplates"]["application/json"]
        assert template == definitions.GATEWAY_PROBLEM_TEMPLATE
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


@pytest.mark.parametrize("name", STAGES)
def test_gateway_errors_carry_the_api_s_security_headers(packaged: Any, name: str) -> None:
    """Like the app's own responses: never cached, never sniffed. A throttled request (429)
    says when to retry, as the app's 429 does and the API document declares."""
    for responses in (
        sam_gateway_responses(sam(packaged, name)),
        tf_gateway_responses(packaged, name),
    ):
        for response_type, response in responses.items():
            parameters = response["responseParameters"]
            for header, value in SECURITY_HEADERS.items():
                assert parameters[f"gatewayresponse.header.{header}"] == f"'{value}'"
            retry_after = parameters.get("gatewayresponse.header.Retry-After")
            if response_type == "THROTTLED":
                assert retry_after == f"'{RETRY_AFTER_SECONDS}'"
            else:
                assert retry_after is None, response_type
    assert SECURITY_HEADERS == {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@pytest.mark.parametrize("name", STAGES)
def test_terraform_puts_the_gateway_responses_into_the_api_body(packaged: Any, name: str) -> None:
    """Not beside it: with the provider's default ``put_rest_api_mode = overwrite``, importing
    a changed body deletes gateway responses managed as separate resources, and the next
    deployment captures the API without them."""
    merged = merged_terraform(packaged, name)
    resources = merged["resource"]
    assert "aws_api_gateway_gateway_response" not in resources
    rest_api = resources["aws_api_gateway_rest_api"]["rest_api"]
    assert rest_api["body"] == "${local.api_body}"
    assert rest_api.get("put_rest_api_mode", "overwrite") == "overwrite"
    assert merged["locals"]["api_body"] == (
        "${jsonencode(merge(jsondecode(local.chalice_api_swagger), local.api_gateway_responses))}"
    )
    # What that expression evaluates to: Chalice's swagger plus the one extension.
    swagger = json.loads(merged["locals"]["chalice_api_swagger"])
    assert "x-amazon-apigateway-gateway-responses" not in swagger
    assert set(merged["locals"]["api_gateway_responses"]) == {
        "x-amazon-apigateway-gateway-responses"
    }
    chalice_tf = json.loads((packaged[name][1] / "chalice.tf.json").read_text())
    assert chalice_tf["resource"]["aws_api_gateway_rest_api"]["rest_api"]["body"] == (
        "${local.chalice_api_swagger}"
    ), "chalice.tf.json itself is Chalice's"
    # A stage applied with an earlier package forgets its separate responses rather than
    # deleting them, which could run after the body's import and undo it.
    forgotten = {r["from"] for r in merged["removed"] if r["lifecycle"] == {"destroy": False}}
    assert {
        f"aws_api_gateway_gateway_response.{t.lower()}" for t in ("DEFAULT_4XX", "DEFAULT_5XX")
    } <= forgotten


def test_terraform_literals_survive_template_evaluation() -> None:
    assert terraform.literal({"a": ["${x}", "%{if}", "$context.requestId"]}) == {
        "a": ["$${x}", "%%{if}", "$context.requestId"]
    }


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
        "StreamFailures",
        "StreamIteratorAge",
    }
    # And the canary's, on a version (test_the_version_alarms_watch_the_version_...).
    keys |= {spec.key for spec in definitions.CANARY_ALARMS}
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
    patches.reset_telemetry()
    try:
        capsys.readouterr()
        response = Client(app, stage_name="dev", project_dir=str(PROJECT_DIR)).http.get("/health")
        printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    finally:
        patches.reset_telemetry()
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
    wanted = {
        "EndpointURL",
        "TasksTableName",
        "UserPoolId",
        "UserPoolClientId",
        "TasksStreamArn",
        "StreamFailureQueueArn",
    }
    assert wanted <= set(sam(packaged, name)["Outputs"])
    assert wanted <= set(merged_terraform(packaged, name)["output"])


def test_reserved_concurrency_is_defined_once_and_reaches_every_path(packaged: Any) -> None:
    """Chalice's own ``reserved_concurrency`` in ``.chalice/config.json``: ``chalice deploy``
    applies it, and ``chalice package`` writes it into both formats. No renderer sets it a
    second time."""
    config = json.loads(stages.CONFIG_FILE.read_text())["stages"]
    assert config["prod"]["reserved_concurrency"] == 100
    assert "reserved_concurrency" not in config["dev"]
    assert not hasattr(stages.TUNING["prod"], "reserved_concurrency")
    for name in STAGES:
        expected = config[name].get("reserved_concurrency")
        assert stage(name).reserved_concurrency == expected
        function = sam(packaged, name)["Resources"]["APIHandler"]["Properties"]
        assert function.get("ReservedConcurrentExecutions") == expected
        tf = merged_terraform(packaged, name)["resource"]["aws_lambda_function"]["api_handler"]
        assert tf.get("reserved_concurrent_executions") == expected
        merge = cloudformation.sam_merge_template(stage(name))["Resources"]["APIHandler"]
        assert "ReservedConcurrentExecutions" not in merge["Properties"]
        override = terraform.override_file(stage(name), {})
        assert "reserved_concurrent_executions" not in json.dumps(override)
        # checkov's CKV_AWS_115 (no reserved concurrency) is accepted where there is none.
        accepted = definitions.accepted_findings("function", stage(name))
        assert ("CKV_AWS_115" in accepted) is (expected is None)
        # The consumer's own setting, else the stage's (Chalice's lookup order): prod's
        # consumer reserves 10, not the API's 100.
        own = config[name]["lambda_functions"]["record_activity"].get("reserved_concurrency")
        consumer_expected = expected if own is None else own
        assert stage(name).consumer_reserved_concurrency == consumer_expected
        consumer = sam(packaged, name)["Resources"]["RecordActivity"]["Properties"]
        assert consumer.get("ReservedConcurrentExecutions") == consumer_expected
        tf_consumer = merged_terraform(packaged, name)["resource"]["aws_lambda_function"][
            "record_activity"
        ]
        assert tf_consumer.get("reserved_concurrent_executions") == consumer_expected
        accepted = definitions.accepted_findings("consumer", stage(name))
        assert ("CKV_AWS_115" in accepted) is (consumer_expected is None)
    assert stage("prod").consumer_reserved_concurrency == 10


def test_every_deployed_function_has_the_memory_its_stage_sets(packaged: Any) -> None:
    """``lambda_memory_size`` in ``.chalice/config.json``, once per function and stage:
    ``chalice deploy`` applies it, ``chalice package`` writes it into both formats, and the
    pre-traffic hook, which runs the API's code, takes the API's. Lambda's default of
    128 MB would give the function about 7% of a CPU."""
    config = json.loads(stages.CONFIG_FILE.read_text())["stages"]
    for name in STAGES:
        api = config[name][stages.MEMORY_SIZE_SETTING]
        consumer = config[name]["lambda_functions"]["record_activity"][stages.MEMORY_SIZE_SETTING]
        assert (stage(name).memory_size, stage(name).consumer_memory_size) == (api, consumer)
        assert min(api, consumer) > 128
        resources = sam(packaged, name)["Resources"]
        functions = merged_terraform(packaged, name)["resource"]["aws_lambda_function"]
        assert {
            "APIHandler": resources["APIHandler"]["Properties"]["MemorySize"],
            "RecordActivity": resources["RecordActivity"]["Properties"]["MemorySize"],
            "PreTrafficHook": resources["PreTrafficHook"]["Properties"]["MemorySize"],
            "api_handler": functions["api_handler"]["memory_size"],
            "record_activity": functions["record_activity"]["memory_size"],
            "pre_traffic_hook": functions["pre_traffic_hook"]["memory_size"],
        } == {
            "APIHandler": api,
            "RecordActivity": consumer,
            "PreTrafficHook": api,
            "api_handler": api,
            "record_activity": consumer,
            "pre_traffic_hook": api,
        }
    unset = json.loads(stages.CONFIG_FILE.read_text())
    del unset["stages"]["dev"][stages.MEMORY_SIZE_SETTING]
    with pytest.raises(KeyError):  # a stage without it is refused, not defaulted
        stage("dev", unset)


def test_prod_protects_users(packaged: Any) -> None:
    prod = sam(packaged, "prod")["Resources"]
    assert prod["TasksUserPool"]["Properties"]["DeletionProtection"] == "ACTIVE"
    dev = sam(packaged, "dev")["Resources"]
    assert dev["TasksUserPool"]["Properties"]["DeletionProtection"] == "INACTIVE"


#: What a protected stage keeps when its stack is deleted: users' data and the logs.
KEPT = (
    "TasksTable",
    "TasksUserPool",
    "ApiHandlerLogGroup",
    "ConsumerLogGroup",
    "ApiAccessLogGroup",
)


@pytest.mark.parametrize("path", CFN_PATHS)
def test_prod_keeps_data_on_deletion_but_not_after_a_failed_first_create(
    packaged: Any, path: str
) -> None:
    """``RetainExceptOnCreate``: a deleted stack leaves the table, the users and the logs; a
    first create that fails and rolls back deletes them too, so that their fixed names do not
    block the next create. Replacing one keeps the old (UpdateReplacePolicy has no
    RetainExceptOnCreate)."""
    prod = cfn_template(packaged, path, "prod")["Resources"]
    dev = cfn_template(packaged, path, "dev")["Resources"]
    for key in KEPT:
        assert prod[key]["DeletionPolicy"] == "RetainExceptOnCreate", key
        assert prod[key]["UpdateReplacePolicy"] == "Retain", key
        assert (dev[key]["DeletionPolicy"], dev[key]["UpdateReplacePolicy"]) == ("Delete", "Delete")
    retained = {k for k, v in prod.items() if v.get("DeletionPolicy") == "Retain"}
    # Only the account's API Gateway setting and its role, which other APIs rely on.
    assert retained == {"ApiGatewayAccount", "ApiGatewayCloudWatchRole"}


def test_prod_writes_an_import_of_what_a_deleted_stack_kept(packaged: Any) -> None:
    """``adopt.json`` + ``adopt-resources.json``: a CloudFormation IMPORT change set that
    creates the stack again around its retained table, users and logs."""
    out = packaged["prod"][0]
    template = json.loads((out / package.ADOPT_TEMPLATE).read_text())
    to_import = json.loads((out / package.ADOPT_RESOURCES).read_text())
    assert set(template["Resources"]) == set(KEPT)
    for path in CFN_PATHS:
        resources = cfn_template(packaged, path, "prod")["Resources"]
        for key in KEPT:
            expected = {
                k: v for k, v in resources[key].items() if k not in ("DependsOn", "Metadata")
            }
            adopted = {k: v for k, v in template["Resources"][key].items() if k != "Metadata"}
            assert adopted == expected, (path, key)
    prod = stage("prod")
    assert {r["LogicalResourceId"]: r["ResourceIdentifier"] for r in to_import} == {
        "TasksTable": {"TableName": prod.table_name},
        "TasksUserPool": {"UserPoolId": "USER_POOL_ID"},  # see docs/deploying/teardown.md
        "ApiHandlerLogGroup": {"LogGroupName": prod.function_log_group},
        "ConsumerLogGroup": {"LogGroupName": prod.consumer_log_group},
        "ApiAccessLogGroup": {"LogGroupName": prod.access_log_group},
    }
    assert {r["ResourceType"] for r in to_import} == {
        template["Resources"][r["LogicalResourceId"]]["Type"] for r in to_import
    }
    assert not (packaged["dev"][0] / package.ADOPT_TEMPLATE).exists(), "dev retains nothing"


@pytest.mark.parametrize("name", STAGES)
def test_terraform_keeps_prod_data_from_destroy(packaged: Any, name: str) -> None:
    resources = merged_terraform(packaged, name)["resource"]
    for block in (
        resources["aws_dynamodb_table"]["tasks"],
        resources["aws_cognito_user_pool"]["tasks"],
    ):
        assert ("lifecycle" in block) is stage(name).tuning.protect_data
        if "lifecycle" in block:
            assert block["lifecycle"] == {"prevent_destroy": True}


# --- sign-up, passwords and the app client ------------------------------------------------


def _cfn_pool(packaged: Any, path: str, name: str) -> dict[str, Any]:
    return cfn_template(packaged, path, name)["Resources"]["TasksUserPool"]["Properties"]


@pytest.mark.parametrize("name", STAGES)
def test_sign_up_is_closed_on_every_path(packaged: Any, name: str) -> None:
    """Only an administrator creates users (admin-create-user): the page publishes the app
    client id, and with self sign-up open anyone could create an account and use the API."""
    assert stage(name).tuning.allow_self_sign_up is False
    for path in CFN_PATHS:
        config = _cfn_pool(packaged, path, name)["AdminCreateUserConfig"]
        assert config["AllowAdminCreateUserOnly"] is True, path
    pool = merged_terraform(packaged, name)["resource"]["aws_cognito_user_pool"]["tasks"]
    assert pool["admin_create_user_config"] == {"allow_admin_create_user_only": True}


def test_the_per_stage_setting_opens_sign_up() -> None:
    """``Tuning.allow_self_sign_up`` opens it, on every path."""
    opened = dataclasses.replace(
        stage("dev"), tuning=dataclasses.replace(stages.TUNING["dev"], allow_self_sign_up=True)
    )
    for template in (
        cloudformation.sam_merge_template(opened),
        cloudformation.support_template(opened),
    ):
        pool = template["Resources"]["TasksUserPool"]["Properties"]
        assert pool["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": False}
    pool = terraform.supporting_file(opened)["resource"]["aws_cognito_user_pool"]["tasks"]
    assert pool["admin_create_user_config"] == {"allow_admin_create_user_only": False}


@pytest.mark.parametrize("name", STAGES)
def test_the_client_never_says_whether_a_user_exists(packaged: Any, name: str) -> None:
    for path in CFN_PATHS:
        client = cfn_template(packaged, path, name)["Resources"]["TasksUserPoolClient"]
        assert client["Properties"]["PreventUserExistenceErrors"] == "ENABLED", path
    client = merged_terraform(packaged, name)["resource"]["aws_cognito_user_pool_client"]["web"]
    assert client["prevent_user_existence_errors"] == "ENABLED"


@pytest.mark.parametrize("name", STAGES)
def test_passwords_follow_nist_sp_800_63b(packaged: Any, name: str) -> None:
    """At least 15 characters (a password is the only factor unless a user adds TOTP) and no
    composition rules (NIST SP 800-63B-4, 3.1.1.2); TOTP MFA optional, no SMS."""
    for path in CFN_PATHS:
        pool = _cfn_pool(packaged, path, name)
        policy = pool["Policies"]["PasswordPolicy"]
        assert policy["MinimumLength"] == 15
        rules = ("RequireLowercase", "RequireUppercase", "RequireNumbers", "RequireSymbols")
        assert [policy[rule] for rule in rules] == [False] * 4
        assert (pool["MfaConfiguration"], pool["EnabledMfas"]) == (
            "OPTIONAL",
            ["SOFTWARE_TOKEN_MFA"],
        )
    pool = merged_terraform(packaged, name)["resource"]["aws_cognito_user_pool"]["tasks"]
    policy = pool["password_policy"]
    assert policy["minimum_length"] == 15
    rules = ("require_lowercase", "require_uppercase", "require_numbers", "require_symbols")
    assert [policy[rule] for rule in rules] == [False] * 4
    assert pool["mfa_configuration"] == "OPTIONAL"
    assert pool["software_token_mfa_configuration"] == {"enabled": True}


# --- the alarm topic's key ----------------------------------------------------------------


def _statements(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {statement["Sid"]: statement for statement in policy["Statement"]}


@pytest.mark.parametrize("name", STAGES)
def test_cloudwatch_may_use_the_alarm_topic_key(packaged: Any, name: str) -> None:
    """A customer-managed key whose policy grants CloudWatch what an encrypted topic needs:
    ``alias/aws/sns`` cannot, and alarms would never notify anyone."""
    assert [p.service for p in definitions.TOPIC_PUBLISHERS] == ["cloudwatch.amazonaws.com"]
    for path in CFN_PATHS:
        resources = cfn_template(packaged, path, name)["Resources"]
        topic = resources["AlarmTopic"]["Properties"]
        assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": ["AlarmTopicKey", "Arn"]}
        key = resources["AlarmTopicKey"]["Properties"]
        assert key["EnableKeyRotation"] is True
        statements = _statements(key["KeyPolicy"])
        assert statements["AccountAdministersTheKey"]["Principal"] == {
            "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
        }
        assert statements["AccountAdministersTheKey"]["Action"] == "kms:*"
        publish = statements["PublishCloudwatch"]
        assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
        assert publish["Action"] == ["kms:GenerateDataKey*", "kms:Decrypt"]
        assert publish["Condition"] == {
            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
        }
        alias = resources["AlarmTopicKeyAlias"]["Properties"]
        assert alias == {
            "AliasName": f"alias/task-api-{name}-alarms",
            "TargetKeyId": {"Ref": "AlarmTopicKey"},
        }
        assert "alias/aws/sns" not in json.dumps(resources)

    resources = merged_terraform(packaged, name)["resource"]
    assert resources["aws_sns_topic"]["alarms"]["kms_master_key_id"] == (
        "${aws_kms_key.alarm_topic.arn}"
    )
    key = resources["aws_kms_key"]["alarm_topic"]
    assert key["enable_key_rotation"] is True
    statements = _statements(json.loads(key["policy"]))
    account = "${data.aws_caller_identity.chalice.account_id}"
    assert statements["AccountAdministersTheKey"]["Principal"] == {
        "AWS": f"arn:${{data.aws_partition.chalice.partition}}:iam::{account}:root"
    }
    publish = statements["PublishCloudwatch"]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert publish["Action"] == ["kms:GenerateDataKey*", "kms:Decrypt"]
    assert publish["Condition"] == {"StringEquals": {"aws:SourceAccount": account}}
    assert resources["aws_kms_alias"]["alarm_topic"] == {
        "name": f"alias/task-api-{name}-alarms",
        "target_key_id": "${aws_kms_key.alarm_topic.key_id}",
    }


def test_a_later_publisher_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each entry of ``TOPIC_PUBLISHERS`` gets its statement; one that cannot be scoped by
    ``aws:SourceAccount`` gets none of that condition."""
    monkeypatch.setattr(
        definitions,
        "TOPIC_PUBLISHERS",
        (
            *definitions.TOPIC_PUBLISHERS,
            definitions.TopicPublisher("events.amazonaws.com", source_account_condition=False),
        ),
    )
    statements = _statements(definitions.topic_key_policy("root", "123"))
    assert statements["PublishEvents"]["Principal"] == {"Service": "events.amazonaws.com"}
    assert "Condition" not in statements["PublishEvents"]
    assert set(statements) == {"AccountAdministersTheKey", "PublishCloudwatch", "PublishEvents"}


# --- one API stage on the SAM path --------------------------------------------------------


def sam_translated(packaged: Any, name: str) -> dict[str, Any]:
    """What SAM's transform makes of the package: aws-sam-translator, offline. The code's
    local path becomes an S3 location, as ``aws cloudformation package`` makes it."""
    template = sam(packaged, name)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":  # the API's and the consumer's
            resource["Properties"]["CodeUri"] = "s3://bucket/deployment.zip"
    translator = Translator(
        {}, Parser(), boto_session=boto3.session.Session(region_name="us-east-1")
    )
    return translator.translate(
        template, {"AWS::AccountId": "123456789012"}, get_managed_policy_map=lambda: {}
    )


@pytest.mark.parametrize("name", STAGES)
def test_sam_makes_exactly_the_configured_stage(packaged: Any, name: str) -> None:
    """Without ``OpenApiVersion`` SAM adds a stage named ``Stage``, with no throttling,
    access log or tracing. Chalice's body is Swagger 2.0, and stays so."""
    resources = sam_translated(packaged, name)["Resources"]
    stages_made = [
        r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGateway::Stage"
    ]
    assert [s["StageName"] for s in stages_made] == [stage(name).api_stage] == ["api"]
    deployments = [
        r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGateway::Deployment"
    ]
    assert len(deployments) == 1
    assert "StageName" not in deployments[0], "a deployment's StageName makes another stage"
    assert "Stage" not in json.dumps(deployments)
    (api_stage,) = stages_made
    assert api_stage["TracingEnabled"] is True
    assert api_stage["MethodSettings"][0]["ThrottlingRateLimit"] == (
        stage(name).tuning.throttle_rate_limit
    )
    (rest_api,) = [r for r in resources.values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    body = rest_api["Properties"]["Body"]
    assert body["swagger"] == "2.0"
    assert "openapi" not in body
    assert set(body["x-amazon-apigateway-gateway-responses"]) == set(
        definitions.GATEWAY_RESPONSE_TYPES
    )


# --- the account's API Gateway setting ----------------------------------------------------


@pytest.mark.parametrize("name", STAGES)
def test_no_terraform_stage_manages_the_account_setting(packaged: Any, name: str) -> None:
    """One setting per account and region: two stages managing it undid each other, and
    destroying one deleted the role the setting named. Stages deployed by an earlier
    package forget those blocks without destroying them (``removed``)."""
    merged = merged_terraform(packaged, name)
    resources = merged["resource"]
    assert "aws_api_gateway_account" not in resources
    assert "api_gateway_cloudwatch" not in resources["aws_iam_role"]  # the function's only
    assert "aws_iam_role_policy_attachment" not in resources
    assert "depends_on" not in resources["aws_api_gateway_stage"]["api"]
    forgotten = [r["from"] for r in merged["removed"] if r["lifecycle"] == {"destroy": False}]
    assert {
        "aws_api_gateway_account.this",
        "aws_iam_role_policy_attachment.api_gateway_cloudwatch",
        "aws_iam_role.api_gateway_cloudwatch",
    } <= set(forgotten)


def test_the_account_piece_sets_the_role_once(packaged: Any) -> None:
    merged, errors = tfjson.load(account_dir(packaged))
    assert errors == []
    assert tfjson.unresolved_references(merged) == []
    resources = merged["resource"]
    assert list(resources["aws_api_gateway_account"]) == ["this"]
    account = resources["aws_api_gateway_account"]["this"]
    assert account["cloudwatch_role_arn"] == "${aws_iam_role.api_gateway_cloudwatch.arn}"
    role = resources["aws_iam_role"]["api_gateway_cloudwatch"]
    assert role["lifecycle"] == {"prevent_destroy": True}
    assert json.loads(role["assume_role_policy"])["Statement"][0]["Principal"] == {
        "Service": "apigateway.amazonaws.com"
    }
    attachment = resources["aws_iam_role_policy_attachment"]["api_gateway_cloudwatch"]
    assert attachment["policy_arn"].endswith(
        ":iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
    )
    assert set(merged["terraform"]["required_providers"]) == {"aws"}
    assert "stage" not in json.dumps(merged).lower(), "no stage's: one per account"


# --- Chalice's null_data_source -----------------------------------------------------------


@pytest.mark.parametrize("name", STAGES)
def test_chalice_tf_json_loses_its_null_data_source_and_nothing_else(
    packaged: Any, name: str
) -> None:
    """The two automated changes to what Chalice generates: the null data source goes, and
    the API invokes the alias (test_terraform_releases_the_api_through_codedeploy)."""
    original = json.loads(package.chalice_original(packaged[name][1].parent).read_text())
    packaged_tf = json.loads((packaged[name][1] / "chalice.tf.json").read_text())
    assert original["data"]["null_data_source"] == {
        "chalice": {"inputs": {"app": "task-api", "stage": name}}
    }
    assert original["terraform"]["required_providers"]["null"] == {"version": ">= 2, < 4"}
    expected = json.loads(
        json.dumps(original).replace(terraform.UNQUALIFIED_INVOKE_ARN, terraform.ALIAS_INVOKE_ARN)
    )
    del expected["data"]["null_data_source"]
    del expected["terraform"]["required_providers"]["null"]
    assert packaged_tf == expected
    assert terraform.UNQUALIFIED_INVOKE_ARN in json.dumps(original)
    assert "null" not in json.dumps(packaged_tf["terraform"])
    assert "null_data_source" not in json.dumps(packaged_tf)


def test_the_null_data_source_is_kept_if_anything_reads_it(packaged: Any) -> None:
    original = json.loads(package.chalice_original(packaged["dev"][1].parent).read_text())
    original["output"]["Reader"] = {"value": "${data.null_data_source.chalice.outputs}"}
    with pytest.raises(ValueError, match="beyond the block that is removed"):
        terraform.without_null_provider(original)


# --- the stream consumer ------------------------------------------------------------------

#: The failure settings, written out: the definitions are checked against these.
FAILURE_SETTINGS = {
    "FunctionResponseTypes": ["ReportBatchItemFailures"],
    "BisectBatchOnFunctionError": True,
    "MaximumRetryAttempts": 5,
    "MaximumRecordAgeInSeconds": 3600,
}
TF_FAILURE_SETTINGS = {
    "function_response_types": ["ReportBatchItemFailures"],
    "bisect_batch_on_function_error": True,
    "maximum_retry_attempts": 5,
    "maximum_record_age_in_seconds": 3600,
}
#: Chalice's logical id of the consumer's DynamoDB event, and its Terraform block's name.
SAM_EVENT = "RecordActivityDynamodbEventSource"
TF_MAPPING = "record_activity-dynamodb-event-source"


def test_the_app_registers_the_consumer_the_infrastructure_expects() -> None:
    """One DynamoDB event handler, ``record_activity``, on the placeholder ARN when
    TASKS_STREAM_ARN is unset (packaging), from the trim horizon: the packages replace the
    ARN and add what the decorator cannot say."""
    (source,) = [s for s in app.event_sources if type(s).__name__ == "DynamoDBEventConfig"]
    assert source.name == stages.CONSUMER == "record_activity"
    assert source.stream_arn == activity_routes.PLACEHOLDER_STREAM_ARN
    assert source.starting_position == "TRIM_HORIZON"
    assert stages.CONSUMER_EVENT_SOURCE == TF_MAPPING
    assert cloudformation.CONSUMER_EVENT == SAM_EVENT
    assert activity_routes.STREAM_ARN_VARIABLE in stages.DEPLOY_ONLY_VARIABLES
    settings = definitions.stream_failure_settings("QUEUE")
    assert settings == FAILURE_SETTINGS | {
        "DestinationConfig": {"OnFailure": {"Destination": "QUEUE"}}
    }
    # Bounded: well within the stream's 24 hours, so a skipped record can still be read.
    assert definitions.MAXIMUM_RECORD_AGE_SECONDS < 24 * 3600


@pytest.mark.parametrize("name", STAGES)
def test_sam_maps_the_consumer_to_the_table_s_stream_with_every_failure_setting(
    packaged: Any, name: str
) -> None:
    template = sam(packaged, name)
    assert activity_routes.PLACEHOLDER_STREAM_ARN not in json.dumps(template)
    function = template["Resources"]["RecordActivity"]["Properties"]
    assert function["FunctionName"] == stage(name).consumer_function_name
    variables = function["Environment"]["Variables"]
    assert variables["TASKS_TABLE_NAME"] == {"Ref": "TasksTable"}
    assert variables["TASKS_CURSOR_SECRET_ARN"] == {"Ref": "CursorSecret"}
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == stage(name).metrics_namespace
    assert "COGNITO_USER_POOL_ARN" not in variables, "the API's, not the consumer's"
    assert function["Tracing"] == "Active"
    assert function["LoggingConfig"]["LogGroup"] == {"Ref": "ConsumerLogGroup"}
    assert function["Handler"].endswith(".record_activity")
    event = function["Events"][SAM_EVENT]
    assert event["Type"] == "DynamoDB"
    assert event["Properties"] == FAILURE_SETTINGS | {
        "Stream": {"Fn::GetAtt": ["TasksTable", "StreamArn"]},
        "StartingPosition": "TRIM_HORIZON",
        "BatchSize": 100,
        "MaximumBatchingWindowInSeconds": 0,
        "DestinationConfig": {
            "OnFailure": {"Destination": {"Fn::GetAtt": ["StreamFailureQueue", "Arn"]}}
        },
    }
    # What SAM deploys: one mapping, with all of it, and no policy SAM would add.
    resources = sam_translated(packaged, name)["Resources"]
    (mapping,) = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
    ]
    assert mapping["FunctionName"] == {"Ref": "RecordActivityAliaslive"}  # its alias, as the API's
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["TasksTable", "StreamArn"]}
    assert {k: mapping[k] for k in FAILURE_SETTINGS} == FAILURE_SETTINGS
    assert mapping["DestinationConfig"] == event["Properties"]["DestinationConfig"]
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    role = resources["RecordActivityRole"]["Properties"]
    assert "ManagedPolicyArns" not in role
    assert [p["PolicyDocument"] for p in role["Policies"]] == [stage(name).consumer_policy()]


@pytest.mark.parametrize("name", STAGES)
def test_terraform_maps_the_consumer_to_the_table_s_stream_with_every_failure_setting(
    packaged: Any, name: str
) -> None:
    merged = merged_terraform(packaged, name)
    assert activity_routes.PLACEHOLDER_STREAM_ARN not in json.dumps(merged)
    chalice_tf = json.loads((packaged[name][1] / "chalice.tf.json").read_text())
    chalice_mapping = chalice_tf["resource"]["aws_lambda_event_source_mapping"][TF_MAPPING]
    # Chalice writes the placeholder; the override names the table's stream.
    assert chalice_mapping["event_source_arn"] == activity_routes.PLACEHOLDER_STREAM_ARN
    (mapping,) = merged["resource"]["aws_lambda_event_source_mapping"].values()
    assert mapping == TF_FAILURE_SETTINGS | {
        "event_source_arn": "${aws_dynamodb_table.tasks.stream_arn}",
        "function_name": "${aws_lambda_alias.record_activity_live.arn}",  # its alias
        "starting_position": "TRIM_HORIZON",
        "batch_size": 100,
        "maximum_batching_window_in_seconds": 0,
        "destination_config": {
            "on_failure": {"destination_arn": "${aws_sqs_queue.stream_failures.arn}"}
        },
    }
    function = merged["resource"]["aws_lambda_function"]["record_activity"]
    assert function["function_name"] == stage(name).consumer_function_name
    variables = function["environment"]["variables"]
    assert variables["TASKS_TABLE_NAME"] == "${aws_dynamodb_table.tasks.name}"
    assert variables["TASKS_CURSOR_SECRET_ARN"] == "${aws_secretsmanager_secret.cursor.arn}"
    assert "COGNITO_USER_POOL_ARN" not in variables, "the API's, not the consumer's"
    assert function["tracing_config"] == {"mode": "Active"}
    assert function["layers"] == ["${data.aws_ssm_parameter.powertools_layer.value}"]
    assert function["role"] == "${aws_iam_role.record_activity_role.arn}"
    policy = merged["resource"]["aws_iam_role_policy"]["record_activity_role"]
    assert json.loads(policy["policy"]) == stage(name).consumer_policy()
    api_policy = merged["resource"]["aws_iam_role_policy"]["api_handler_role"]
    assert json.loads(api_policy["policy"]) == stage(name).policy()


@pytest.mark.parametrize("name", STAGES)
def test_each_function_has_its_own_role_and_policy(packaged: Any, name: str) -> None:
    """Chalice's per-function ``iam_policy_file`` (the stage's ``lambda_functions``): the
    consumer's role never carries the API's policy, nor the API's the consumer's."""
    resources = sam(packaged, name)["Resources"]
    roles = {
        function: resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]
        for function in ("APIHandler", "RecordActivity")
    }
    assert roles == {"APIHandler": "ApiHandlerRole", "RecordActivity": "RecordActivityRole"}
    policies = {
        function: [p["PolicyDocument"] for p in resources[role]["Properties"]["Policies"]]
        for function, role in roles.items()
    }
    assert policies == {
        "APIHandler": [stage(name).policy()],
        "RecordActivity": [stage(name).consumer_policy()],
    }
    assert stage(name).policy() != stage(name).consumer_policy()


@pytest.mark.parametrize("name", STAGES)
def test_the_failure_queue_is_encrypted_and_keeps_14_days(packaged: Any, name: str) -> None:
    for path in CFN_PATHS:
        queue = cfn_template(packaged, path, name)["Resources"]["StreamFailureQueue"]
        assert queue["Type"] == "AWS::SQS::Queue"
        assert queue["Properties"]["QueueName"] == stage(name).failure_queue_name
        assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
    tf = merged_terraform(packaged, name)["resource"]["aws_sqs_queue"]["stream_failures"]
    assert tf["name"] == stage(name).failure_queue_name
    assert tf["message_retention_seconds"] == 14 * 24 * 3600
    assert tf["sqs_managed_sse_enabled"] is True


def _stream_alarms(packaged: Any, name: str) -> list[tuple[str, dict[str, Any]]]:
    """The two stream alarms of each template, in the form both formats share."""
    views = []
    for path in CFN_PATHS:
        resources = cfn_template(packaged, path, name)["Resources"]
        for key in ("StreamFailures", "StreamIteratorAge"):
            props = resources[f"{key}Alarm"]["Properties"]
            assert props["AlarmActions"] == props["OKActions"] == [{"Ref": "AlarmTopic"}]
            views.append((f"{path} {key}", _cfn_alarm(props)))
    tf = merged_terraform(packaged, name)["resource"]["aws_cloudwatch_metric_alarm"]
    for key in ("stream_failures", "stream_iterator_age"):
        assert tf[key]["alarm_actions"] == ["${aws_sns_topic.alarms.arn}"]
        views.append((f"terraform {key}", _tf_alarm(tf[key])))
    return views


@pytest.mark.parametrize("name", STAGES)
def test_alarms_on_the_failure_queue_and_the_consumer_s_iterator_age(
    packaged: Any, name: str
) -> None:
    """Any message on the failure queue; the consumer more than 5 minutes behind in 3 of 5
    minutes. On each path, the dimension names that path's queue and function."""
    queue = {"Fn::GetAtt": ["StreamFailureQueue", "QueueName"]}
    dimensions = {
        "sam StreamFailures": {"QueueName": queue},
        "support StreamFailures": {"QueueName": queue},
        "terraform stream_failures": {"QueueName": "${aws_sqs_queue.stream_failures.name}"},
        "sam StreamIteratorAge": {"FunctionName": {"Ref": "RecordActivity"}},
        "support StreamIteratorAge": {"FunctionName": stage(name).consumer_function_name},
        "terraform stream_iterator_age": {
            "FunctionName": "${aws_lambda_function.record_activity.function_name}"
        },
    }
    views = dict(_stream_alarms(packaged, name))
    assert set(views) == set(dimensions)
    common = {"missing": "notBreaching", "comparison": "GreaterThanThreshold"}
    for label, view in views.items():
        if "ailures" in label:
            assert view == common | {
                "threshold": 0,
                "datapoints": (1, 1),
                "metric": (
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    dimensions[label],
                    "Maximum",
                    300,
                ),
            }, label
        else:
            assert view == common | {
                "threshold": 300000,
                "datapoints": (3, 5),
                "metric": ("AWS/Lambda", "IteratorAge", dimensions[label], "Maximum", 60),
            }, label
    # Well before the record age at which the mapping gives up.
    assert definitions.MAXIMUM_RECORD_AGE_SECONDS * 1000 > 300000


# --- terraform init and validate, with the real CLI and provider --------------------------


def require_terraform() -> tfvalidate.Tools:
    """Terraform and the provider mirror: CI must have them (fail), elsewhere skip loudly."""
    tools = tfvalidate.find_tools()
    if isinstance(tools, str):
        if _in_ci():
            pytest.fail(tools + " and CI must run it")
        pytest.skip(tools)
    return tools


def test_terraform_validates_every_package_offline(packaged: Any, tmp_path: Path) -> None:
    """``terraform init -backend=false`` from the mirror (no network, no other provider),
    then ``terraform validate``: no error and no warning, for both stages and the account."""
    tools = require_terraform()
    directories = {name: packaged[name][1] for name in STAGES} | {"account": account_dir(packaged)}
    results = tfvalidate.validate_all(directories, tools, tmp_path)
    assert [r.label for r in results] == ["dev", "prod", "account"]
    for result in results:
        assert result.errors == [], result.label
        assert result.warnings == [], result.label
    # Validation ran on copies: the packages hold no lock file or .terraform of its making.
    for directory in directories.values():
        assert not (directory / ".terraform").exists()
        assert not (directory / ".terraform.lock.hcl").exists()


def test_terraform_validate_catches_a_planted_mistake(packaged: Any, tmp_path: Path) -> None:
    """The check can fail: an attribute the provider does not have."""
    tools = require_terraform()
    broken = tmp_path / "broken"
    shutil.copytree(account_dir(packaged), broken)
    document = json.loads((broken / package.ACCOUNT_FILE).read_text())
    document["resource"]["aws_api_gateway_account"]["this"]["no_such_argument"] = True
    (broken / package.ACCOUNT_FILE).write_text(json.dumps(document))
    (result,) = tfvalidate.validate_all({"broken": broken}, tools, tmp_path / "work")
    assert any("no_such_argument" in error for error in result.errors), result.errors


@pytest.mark.parametrize("name", STAGES)
def test_accepted_checkov_findings_carry_their_reasons(packaged: Any, name: str) -> None:
    resources = sam(packaged, name)["Resources"]
    skips = resources["APIHandler"]["Metadata"]["checkov"]["skip"]
    assert all(len(skip["comment"]) > 20 for skip in skips)
    assert "CKV_AWS_116" in {skip["id"] for skip in skips}


def test_cfn_lint_finds_nothing(packaged: Any, tmp_path: Path) -> None:
    """Zero errors and zero warnings, with no rule ignored."""
    templates = [str(packaged[name][0] / "sam.json") for name in STAGES]
    templates.append(str(packaged["prod"][0] / package.ADOPT_TEMPLATE))
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
        "TASKS_STREAM_ARN",
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


def test_a_deployed_stage_set_to_loopback_allows_no_origin_at_the_gateway() -> None:
    """``loopback`` only means something under chalice local: deployed, it is no origin."""
    config = stages.load_config()
    config["stages"]["dev"]["environment_variables"]["TASKS_CORS_ALLOW_ORIGIN"] = "loopback"
    target = stage("dev", config)
    assert target.cors_origin == ""
    headers = definitions.gateway_response_headers(target.cors_origin, "DEFAULT_4XX")
    assert not any(name.startswith("Access-Control") for name in headers)


# --- canary releases on the SAM path ------------------------------------------------------


def _integration_uris(body: dict[str, Any]) -> list[Any]:
    return [
        method["x-amazon-apigateway-integration"]["uri"]
        for methods in body["paths"].values()
        for method in methods.values()
        if isinstance(method, dict) and "uri" in method.get("x-amazon-apigateway-integration", {})
    ]


@pytest.mark.parametrize("name", STAGES)
def test_sam_releases_the_api_through_codedeploy_on_its_alias(packaged: Any, name: str) -> None:
    """What SAM makes of the package: every caller invokes the ``live`` alias, and
    CodeDeploy moves it by the stage's configuration, after the hook, rolling back on the
    version's own alarms."""
    resources = sam_translated(packaged, name)["Resources"]
    (group,) = [r for r in resources.values() if r["Type"] == "AWS::CodeDeploy::DeploymentGroup"]
    properties = group["Properties"]
    assert properties["DeploymentConfigName"]["Fn::Sub"][1] == {
        "ConfigName": stage(name).tuning.release.configuration
    }
    assert [a["Name"] for a in properties["AlarmConfiguration"]["Alarms"]] == [
        {"Ref": f"{spec.key}Alarm"} for spec in definitions.CANARY_ALARMS
    ]
    assert {"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"} <= set(
        properties["AutoRollbackConfiguration"]["Events"]
    )
    aliases = {k: r for k, r in resources.items() if r["Type"] == "AWS::Lambda::Alias"}
    assert set(aliases) == {"APIHandlerAliaslive", "RecordActivityAliaslive"}
    update = aliases["APIHandlerAliaslive"]["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    assert update["BeforeAllowTrafficHook"] == {"Ref": "PreTrafficHook"}
    hook = resources["PreTrafficHook"]["Properties"]
    assert hook["FunctionName"].startswith("CodeDeployHook_")  # what SAM's role may invoke
    assert hook["Handler"] == "chalicelib.release.hook.handler"
    (rest_api,) = [r for r in resources.values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    uris = _integration_uris(rest_api["Properties"]["Body"])
    assert len(uris) >= 10
    assert all("${APIHandlerAliaslive}/invocations" in uri["Fn::Sub"] for uri in uris)
    permissions = [r for r in resources.values() if r["Type"] == "AWS::Lambda::Permission"]
    assert [p["Properties"]["FunctionName"] for p in permissions] == [
        {"Ref": "APIHandlerAliaslive"}
    ]
    (mapping,) = [r for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert mapping["Properties"]["FunctionName"] == {"Ref": "RecordActivityAliaslive"}


@pytest.mark.parametrize("name", STAGES)
def test_the_version_alarms_watch_the_version_just_published(packaged: Any, name: str) -> None:
    resources = sam_translated(packaged, name)["Resources"]
    (version,) = [k for k, r in resources.items() if k.startswith("APIHandlerVersion")]
    errors = resources["VersionLambdaErrorsAlarm"]["Properties"]["Dimensions"]
    assert {"Name": "ExecutedVersion", "Value": {"Fn::GetAtt": [version, "Version"]}} in errors
    assert {"Name": "Resource", "Value": {"Fn::Sub": "${APIHandler}:live"}} in errors
    rate = resources["VersionServerErrorRateAlarm"]["Properties"]["Metrics"]
    for query in rate[:-1]:
        dimensions = query["MetricStat"]["Metric"]["Dimensions"]
        assert {
            "Name": telemetry.FUNCTION_VERSION,
            "Value": {"Fn::GetAtt": [version, "Version"]},
        } in dimensions


def _rate(alarm: definitions.Alarm, requests: dict[str, float]) -> float:
    """An alarm's metric math, evaluated on one minute's requests by status class."""
    assert alarm.expression is not None
    text = alarm.expression.text
    for metric in alarm.metrics:
        status = dict(metric.dimensions)[telemetry.STATUS_CLASS]
        text = text.replace(f"FILL({metric.id},0)", repr(requests.get(str(status), 0.0)))
    return float(eval(text, {"__builtins__": {}}))  # only numbers and + / ( ) are left


def test_a_canary_failing_5_percent_trips_its_alarm_and_not_the_apis() -> None:
    """10% of 1,000 requests a minute on the new version, 5% of those answered 5xx."""
    (api_rate,) = [a for a in definitions.ALARMS if a.key == "ServerErrorRate"]
    (version_rate,) = [a for a in definitions.CANARY_ALARMS if a.key == "VersionServerErrorRate"]
    canary = {"2xx": 95.0, "5xx": 5.0}
    whole = {"2xx": 995.0, "5xx": 5.0}
    assert _rate(version_rate, canary) == 0.05 > version_rate.threshold
    assert _rate(api_rate, whole) == 0.005 < api_rate.threshold
    assert _rate(version_rate, {"2xx": 100.0}) == 0 <= version_rate.threshold


@pytest.mark.parametrize("name", STAGES)
def test_terraform_releases_the_api_through_codedeploy_on_its_alias(
    packaged: Any, name: str
) -> None:
    """Each apply publishes a version; the API and the stream invoke aliases; Terraform sets
    the API's alias once and leaves it to CodeDeploy (``make release``), whose group rolls
    back on the version's own alarms."""
    merged = merged_terraform(packaged, name)
    resources = merged["resource"]
    functions = resources["aws_lambda_function"]
    assert functions["api_handler"]["publish"] is True
    assert functions["record_activity"]["publish"] is True
    api_alias = resources["aws_lambda_alias"]["api_handler_live"]
    assert api_alias["name"] == "live"
    assert set(api_alias["lifecycle"]["ignore_changes"]) == {"function_version", "routing_config"}
    consumer_alias = resources["aws_lambda_alias"]["record_activity_live"]
    assert "lifecycle" not in consumer_alias  # the consumer takes each version at once
    body = merged["locals"]["chalice_api_swagger"]
    assert terraform.UNQUALIFIED_INVOKE_ARN not in body
    assert body.count(terraform.ALIAS_INVOKE_ARN) >= 10
    assert resources["aws_lambda_permission"]["rest_api_invoke"]["qualifier"] == "live"
    group = resources["aws_codedeploy_deployment_group"]["api"]
    target = stage(name)
    assert group["deployment_group_name"] == release.Target.of(target).deployment_group
    assert (
        resources["aws_codedeploy_app"]["release"]["name"] == release.Target.of(target).application
    )
    assert group["deployment_config_name"] == target.tuning.release.codedeploy_config_name
    assert group["alarm_configuration"]["alarms"] == [
        f"{target.prefix}-{spec.key}" for spec in definitions.CANARY_ALARMS
    ]
    assert {"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"} <= set(
        group["auto_rollback_configuration"]["events"]
    )
    hook = functions["pre_traffic_hook"]
    assert hook["function_name"] == release.Target.of(target).pre_traffic_hook
    assert hook["environment"]["variables"]["TASKS_NEW_VERSION_ARN"] == (
        "${aws_lambda_function.api_handler.qualified_arn}"
    )
    version_errors = resources["aws_cloudwatch_metric_alarm"]["version_lambda_errors"]
    assert version_errors["dimensions"]["ExecutedVersion"] == (
        "${aws_lambda_function.api_handler.version}"
    )
    assert version_errors["dimensions"]["Resource"].endswith(":live")
