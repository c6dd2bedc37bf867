"""Least privilege: each deployed stage's policy grants exactly the AWS actions the deployed
code calls (DynamoDB on that stage's table and its indexes, Secrets Manager on that
stage's cursor secret), plus writing its logs and traces, and nothing on "*" but X-Ray."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import boto3
import pytest

from infra.stages import stage as deployed_stage
from tests.conftest import PROJECT_DIR

#: The services the deployed code calls through a ``_client`` attribute.
SERVICES = ("dynamodb", "secretsmanager")
#: IAM authorises each action inside a transaction as the single-item action it is.
TRANSACTION_ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
#: Only table.py's development helpers (auto-provisioned local stages) may call these.
DEVELOPMENT_ONLY = {"dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:UpdateTimeToLive"}
#: Writing logs and traces: not calls the code makes, but what running in Lambda needs.
RUNTIME_ACTIONS = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}


def _api_actions() -> dict[str, str]:
    """boto3 method name -> IAM action, for every service the code may call."""
    actions: dict[str, str] = {}
    for service in SERVICES:
        mapping = boto3.client(service, region_name="us-east-1").meta.method_to_api_mapping
        for method, operation in mapping.items():
            actions.setdefault(method, f"{service}:{operation}")
    return actions


def operations_in(path: Path) -> set[str]:
    """The IAM actions a module's calls need, from every ``<...>._client.<method>(...)``,
    with a transaction counted as the item actions it contains."""
    actions = _api_actions()
    operations: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        if isinstance(owner, ast.Attribute) and owner.attr == "_client":
            operations.add(actions[node.func.attr])
        if node.func.attr == "transact_write_items":
            for key in ast.walk(node):
                if isinstance(key, ast.Constant) and key.value in TRANSACTION_ITEM_ACTIONS:
                    operations.add(f"dynamodb:{TRANSACTION_ITEM_ACTIONS[key.value]}")
    operations.discard("dynamodb:TransactWriteItems")
    return operations


def deployed_operations() -> set[str]:
    modules = [PROJECT_DIR / "app.py", *sorted((PROJECT_DIR / "chalicelib").rglob("*.py"))]
    found: set[str] = set()
    for module in modules:
        # table.py: create and describe, for local development only. writer.py: the
        # stream consumer's requests, which its own function makes.
        if module.name not in {"table.py", "writer.py"}:
            found |= operations_in(module)
    return found


def test_the_derivation_finds_what_the_code_calls() -> None:
    assert deployed_operations() == {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:Query",
        "secretsmanager:GetSecretValue",
    }
    assert operations_in(PROJECT_DIR / "chalicelib" / "table.py") <= DEVELOPMENT_ONLY


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_stage_policy_grants_exactly_what_the_code_calls(name: str) -> None:
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    assert config["stages"][name]["autogen_policy"] is False
    stage = deployed_stage(name)
    expected_resources = {
        "dynamodb": sorted(
            [
                f"arn:aws:dynamodb:*:*:table/{stage.table_name}",
                f"arn:aws:dynamodb:*:*:table/{stage.table_name}/index/*",
            ]
        ),
        # Secrets Manager appends six random characters to a secret's name in its ARN.
        "secretsmanager": [f"arn:aws:secretsmanager:*:*:secret:{stage.secret_name}-??????"],
        "logs": [f"arn:aws:logs:*:*:log-group:{stage.function_log_group}:*"],
        "xray": ["*"],  # X-Ray has no resource-level permissions
    }
    granted: set[str] = set()
    for statement in stage.policy()["Statement"]:
        actions, resources = _as_list(statement["Action"]), _as_list(statement["Resource"])
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in actions), "no wildcard actions"
        services = {action.split(":")[0] for action in actions}
        assert len(services) == 1, "one service per statement, scoped to its resources"
        assert sorted(resources) == expected_resources[services.pop()]
        granted |= set(actions)
    assert granted == deployed_operations() | RUNTIME_ACTIONS
