"""Least privilege: each deployed stage gives each function a policy that grants exactly the
AWS actions its code calls, on that stage's resources, plus writing its logs and traces,
and nothing on "*" but X-Ray.

- The API's function (``.chalice/policy-<stage>.json``): DynamoDB on the stage's table and
  its indexes, Secrets Manager on the stage's cursor secret. Its actions are derived from
  every deployed module but ``chalicelib/activity/writer.py`` (the consumer's) and
  ``chalicelib/table.py`` (local development).
- The stream consumer (the stage's ``lambda_functions``, ``record_activity``): the DynamoDB
  actions of ``chalicelib/activity/writer.py`` alone, on the table; reading the table's
  stream, as Lambda's event source mapping needs; sending to the stage's failure queue."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable
from pathlib import Path

import boto3
import pytest

from infra import definitions
from infra.stages import CONSUMER, FUNCTION_SETTINGS, POLICY_FILE_SETTING, Stage
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
#: What Lambda's event source mapping needs of the function's role to read a DynamoDB
#: stream (AWS's AWSLambdaDynamoDBExecutionRole, scoped here to the table's streams).
STREAM_ACTIONS = {
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
}
#: What the mapping's on-failure destination needs: the queue is encrypted with SQS's own
#: key, so no KMS action.
FAILURE_QUEUE_ACTIONS = {"sqs:SendMessage"}

TABLE_MODULE = PROJECT_DIR / "chalicelib" / "table.py"
ACTIVITY = PROJECT_DIR / "chalicelib" / "activity"
#: Every DynamoDB call the stream consumer makes, and only the consumer's.
WRITER_MODULE = ACTIVITY / "writer.py"
CONSUMER_MODULE = ACTIVITY / "consumer.py"
#: CodeDeploy's pre-traffic hook: its clients are named for their services.
HOOK_MODULE = PROJECT_DIR / "chalicelib" / "release" / "hook.py"
HOOK_CLIENTS = {"lambda_client": "lambda", "codedeploy": "codedeploy"}
#: Where IAM's action is not the API operation's name.
IAM_ACTION_OF = {"lambda:Invoke": "lambda:InvokeFunction"}


def _api_actions() -> dict[str, str]:
    """boto3 method name -> IAM action, for every service the code may call."""
    actions: dict[str, str] = {}
    for service in SERVICES:
        mapping = boto3.client(service, region_name="us-east-1").meta.method_to_api_mapping
        for method, operation in mapping.items():
            actions.setdefault(method, f"{service}:{operation}")
    return actions


def _calls(path: Path) -> Iterable[ast.Call]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            yield node


def operations_in(path: Path) -> set[str]:
    """The IAM actions a module's calls need, from every ``<...>._client.<method>(...)``,
    with a transaction counted as the item actions it contains."""
    actions = _api_actions()
    operations: set[str] = set()
    for node in _calls(path):
        assert isinstance(node.func, ast.Attribute)
        owner = node.func.value
        if isinstance(owner, ast.Attribute) and owner.attr == "_client":
            operations.add(actions[node.func.attr])
        if node.func.attr == "transact_write_items":
            for key in ast.walk(node):
                if isinstance(key, ast.Constant) and key.value in TRANSACTION_ITEM_ACTIONS:
                    operations.add(f"dynamodb:{TRANSACTION_ITEM_ACTIONS[key.value]}")
    operations.discard("dynamodb:TransactWriteItems")
    return operations


def reads_an_index(path: Path) -> bool:
    """Whether a module's calls name an index (then the grant covers the table's indexes)."""
    return any(keyword.arg == "IndexName" for node in _calls(path) for keyword in node.keywords)


def api_modules() -> list[Path]:
    """What the API's function calls: everything deployed but the consumer's writer, the
    release hook (a function of its own) and the development helpers."""
    modules = [PROJECT_DIR / "app.py", *sorted((PROJECT_DIR / "chalicelib").rglob("*.py"))]
    return [
        module for module in modules if module not in (TABLE_MODULE, WRITER_MODULE, HOOK_MODULE)
    ]


def api_operations() -> set[str]:
    found: set[str] = set()
    for module in api_modules():
        found |= operations_in(module)
    return found


def consumer_operations() -> set[str]:
    return operations_in(WRITER_MODULE)


def test_the_derivation_finds_what_the_code_calls() -> None:
    assert api_operations() == {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:Query",
        "secretsmanager:GetSecretValue",
    }
    assert operations_in(TABLE_MODULE) <= DEVELOPMENT_ONLY
    # The consumer writes history: items on the table, never anything else.
    assert {a.split(":")[0] for a in consumer_operations()} == {"dynamodb"}
    assert not consumer_operations() & (DEVELOPMENT_ONLY | {"dynamodb:Scan"})


def test_writer_py_holds_every_call_the_consumer_makes() -> None:
    """The premise of deriving the consumer's policy from writer.py alone: the consumer
    dispatches over a writer and calls no AWS API itself."""
    assert WRITER_MODULE.exists()
    assert CONSUMER_MODULE.exists()
    assert operations_in(CONSUMER_MODULE) == set()
    assert WRITER_MODULE not in api_modules()


def test_the_table_alarm_watches_every_operation_the_code_calls() -> None:
    """``TableThrottledRequests`` sums the table's throttling over these operations: one the
    API or the consumer calls but the alarm leaves out would throttle unnoticed."""
    # A ConditionCheck exists only inside a transaction: its throttling is the transaction's,
    # which the alarm counts under TransactWriteItems.
    transaction_only = {f"dynamodb:{TRANSACTION_ITEM_ACTIONS['ConditionCheck']}"}
    called = {
        action.removeprefix("dynamodb:")
        for action in (api_operations() | consumer_operations()) - transaction_only
        if action.startswith("dynamodb:")
    }
    assert called <= set(definitions.TABLE_OPERATIONS)
    assert "TransactWriteItems" in definitions.TABLE_OPERATIONS


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def granted(policy: dict[str, object], expected: dict[frozenset[str], list[str]]) -> set[str]:
    """The actions a policy grants, each statement checked against ``expected``: the
    resources of the one kind of grant (a set of actions) it belongs to."""
    actions_granted: set[str] = set()
    statements = policy["Statement"]
    assert isinstance(statements, list)
    for statement in statements:
        actions, resources = _as_list(statement["Action"]), _as_list(statement["Resource"])
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in actions), "no wildcard actions"
        assert len({action.split(":")[0] for action in actions}) == 1, "one service each"
        kinds = [kind for kind in expected if set(actions) <= kind]
        assert len(kinds) == 1, f"{actions} are no one kind of grant"
        assert sorted(resources) == sorted(expected[kinds[0]]), actions
        actions_granted |= set(actions)
    return actions_granted


def _runtime(log_group: str) -> dict[frozenset[str], list[str]]:
    return {
        frozenset({"logs:CreateLogStream", "logs:PutLogEvents"}): [
            f"arn:aws:logs:*:*:log-group:{log_group}:*"
        ],
        # X-Ray has no resource-level permissions.
        frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords"}): ["*"],
    }


def _table(stage: Stage, *, indexes: bool) -> list[str]:
    table = f"arn:aws:dynamodb:*:*:table/{stage.table_name}"
    return [table, f"{table}/index/*"] if indexes else [table]


def api_grants(stage: Stage) -> dict[frozenset[str], list[str]]:
    operations = api_operations()
    return {
        frozenset(a for a in operations if a.startswith("dynamodb:")): _table(stage, indexes=True),
        # Secrets Manager appends six random characters to a secret's name in its ARN.
        frozenset(a for a in operations if a.startswith("secretsmanager:")): [
            f"arn:aws:secretsmanager:*:*:secret:{stage.secret_name}-??????"
        ],
        **_runtime(stage.function_log_group),
    }


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_the_api_s_policy_grants_exactly_what_its_code_calls(name: str) -> None:
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    assert config["stages"][name]["autogen_policy"] is False
    stage = deployed_stage(name)
    operations = api_operations()
    actions = granted(stage.policy(), api_grants(stage))
    assert actions == operations | RUNTIME_ACTIONS
    # Never the consumer's: the stream, the failure queue, or a write only it makes.
    assert not actions & (STREAM_ACTIONS | FAILURE_QUEUE_ACTIONS)
    assert not actions & (consumer_operations() - operations)


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_the_consumer_s_policy_grants_exactly_what_writer_py_calls(name: str) -> None:
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    own = config["stages"][name][FUNCTION_SETTINGS][CONSUMER]
    assert own[POLICY_FILE_SETTING] != config["stages"][name][POLICY_FILE_SETTING]
    stage = deployed_stage(name)
    operations = consumer_operations()
    expected = {
        frozenset(operations): _table(stage, indexes=reads_an_index(WRITER_MODULE)),
        frozenset(STREAM_ACTIONS): [f"arn:aws:dynamodb:*:*:table/{stage.table_name}/stream/*"],
        frozenset(FAILURE_QUEUE_ACTIONS): [f"arn:aws:sqs:*:*:{stage.failure_queue_name}"],
        **_runtime(stage.consumer_log_group),
    }
    actions = granted(stage.consumer_policy(), expected)
    assert actions == operations | STREAM_ACTIONS | FAILURE_QUEUE_ACTIONS | RUNTIME_ACTIONS
    assert not any(action.startswith("secretsmanager:") for action in actions)


def test_the_check_catches_a_stream_right_on_the_api_s_policy() -> None:
    stage = deployed_stage("dev")
    policy = stage.policy()
    assert granted(policy, api_grants(stage))
    table_statement = next(s for s in policy["Statement"] if s["Sid"] == "TaskTable")
    table_statement["Action"].append("dynamodb:GetRecords")
    with pytest.raises(AssertionError, match="no one kind of grant"):
        granted(policy, api_grants(stage))


def hook_operations() -> set[str]:
    """The IAM actions of every ``lambda_client.<method>`` and ``codedeploy.<method>`` call
    in the hook's module."""
    found: set[str] = set()
    for node in _calls(HOOK_MODULE):
        assert isinstance(node.func, ast.Attribute)
        owner = node.func.value
        if isinstance(owner, ast.Name) and owner.id in HOOK_CLIENTS:
            service = HOOK_CLIENTS[owner.id]
            mapping = boto3.client(service, region_name="us-east-1").meta.method_to_api_mapping
            operation = f"{service}:{mapping[node.func.attr]}"
            found.add(IAM_ACTION_OF.get(operation, operation))
    return found


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_the_pre_traffic_hook_may_do_exactly_what_its_code_calls(name: str) -> None:
    """Invoke the API's own versions and report to CodeDeploy: nothing on "*"."""
    from infra import cloudformation

    hook = cloudformation.pre_traffic_hook(deployed_stage(name))["Properties"]
    (policy,) = hook["Policies"]
    granted_actions = {statement["Action"] for statement in policy["Statement"]}
    assert (
        granted_actions
        == hook_operations()
        == {
            "lambda:InvokeFunction",
            "codedeploy:PutLifecycleEventHookExecutionStatus",
        }
    )
    resources = {statement["Action"]: statement["Resource"] for statement in policy["Statement"]}
    assert resources["lambda:InvokeFunction"] == {"Fn::Sub": "${APIHandler.Arn}:*"}
    assert "*" not in json.dumps(resources).replace(":*", "").replace("/*", "")
