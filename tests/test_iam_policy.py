"""Least privilege: each deployed stage's policy grants exactly the DynamoDB actions the
deployed code calls, on that stage's table and its indexes, and nothing on "*"."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import boto3
import pytest

from tests.conftest import PROJECT_DIR

#: IAM authorises each action inside a transaction as the single-item action it is.
TRANSACTION_ITEM_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem"}
#: Only table.py's development helpers (auto-provisioned local stages) may call these.
DEVELOPMENT_ONLY = {"CreateTable", "DescribeTable", "UpdateTimeToLive"}


def dynamodb_operations_in(path: Path) -> set[str]:
    """The DynamoDB API operations a module calls as ``<...>._client.<method>(...)``,
    with a transaction counted as the item actions it contains."""
    api_names = boto3.client("dynamodb", region_name="us-east-1").meta.method_to_api_mapping
    tree = ast.parse(path.read_text())
    operations: set[str] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        if isinstance(owner, ast.Attribute) and owner.attr == "_client":
            operations.add(api_names[node.func.attr])
        if node.func.attr == "transact_write_items":
            for key in ast.walk(node):
                if isinstance(key, ast.Constant) and key.value in TRANSACTION_ITEM_ACTIONS:
                    operations.add(TRANSACTION_ITEM_ACTIONS[key.value])
    operations.discard("TransactWriteItems")
    return operations


def deployed_dynamodb_operations() -> set[str]:
    modules = [PROJECT_DIR / "app.py", *sorted((PROJECT_DIR / "chalicelib").glob("*.py"))]
    found: set[str] = set()
    for module in modules:
        if module.name != "table.py":  # create/describe: local development only
            found |= dynamodb_operations_in(module)
    return found


def test_the_derivation_finds_what_the_store_calls() -> None:
    assert deployed_dynamodb_operations() == {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
    }
    assert dynamodb_operations_in(PROJECT_DIR / "chalicelib" / "table.py") <= DEVELOPMENT_ONLY


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_stage_policy_grants_exactly_what_the_code_calls(stage: str) -> None:
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    settings = config["stages"][stage]
    assert settings["autogen_policy"] is False
    policy = json.loads((PROJECT_DIR / ".chalice" / settings["iam_policy_file"]).read_text())
    table = settings["environment_variables"]["TASKS_TABLE_NAME"]
    dynamodb_actions: set[str] = set()
    for statement in policy["Statement"]:
        actions = statement["Action"]
        actions = [actions] if isinstance(actions, str) else actions
        resources = statement["Resource"]
        resources = [resources] if isinstance(resources, str) else resources
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in actions), "no wildcard actions"
        assert "*" not in resources
        dynamo = [a for a in actions if a.startswith("dynamodb:")]
        if dynamo:
            assert sorted(resources) == sorted(
                [
                    f"arn:aws:dynamodb:*:*:table/{table}",
                    f"arn:aws:dynamodb:*:*:table/{table}/index/*",
                ]
            )
            dynamodb_actions |= {a.removeprefix("dynamodb:") for a in dynamo}
    assert dynamodb_actions == deployed_dynamodb_operations()
