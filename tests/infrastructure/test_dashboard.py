"""The stage's CloudWatch dashboard, in both package formats: every metric it draws is one
the app writes or AWS publishes for the stage's own resources, every alarm is on it, and
the stack says where to find it."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib import telemetry
from infra import cloudformation, definitions, package, tfjson
from infra.stages import PROJECT_DIR, Stage, stage

#: Packages with the Chalice CLI, another program: not in `make check`.
pytestmark = pytest.mark.external

STAGES = ("dev", "prod")
REGION = "REGION"  # what each format's region reference stands for here

#: What AWS publishes for the stage's resources: namespace -> metric -> the dimension sets
#: it comes with. Written from AWS's documentation, not from the code under test:
#: Lambda, https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
#: (every function metric by FunctionName; by version or alias with Resource, and
#: ExecutedVersion for an alias's invocations); DynamoDB,
#: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/metrics-dimensions.html;
#: SQS, https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html
_LAMBDA_SETS = (
    frozenset({"FunctionName"}),
    frozenset({"FunctionName", "Resource"}),
    frozenset({"FunctionName", "Resource", "ExecutedVersion"}),
)
_TABLE = (frozenset({"TableName"}), frozenset({"TableName", "GlobalSecondaryIndexName"}))
_TABLE_OPERATION = (frozenset({"TableName", "Operation"}),)
_QUEUE = (frozenset({"QueueName"}),)
AWS_PUBLISHES: dict[str, dict[str, tuple[frozenset[str], ...]]] = {
    "AWS/Lambda": {
        name: _LAMBDA_SETS
        for name in (
            "Invocations",
            "Errors",
            "Throttles",
            "Duration",
            "ConcurrentExecutions",
            "IteratorAge",
            "DeadLetterErrors",
            "DestinationDeliveryFailures",
        )
    },
    "AWS/DynamoDB": {
        "ConsumedReadCapacityUnits": _TABLE,
        "ConsumedWriteCapacityUnits": _TABLE,
        "SuccessfulRequestLatency": _TABLE_OPERATION,
        "ThrottledRequests": _TABLE_OPERATION,
        "SystemErrors": _TABLE_OPERATION,
        "ReturnedItemCount": _TABLE_OPERATION,
    },
    "AWS/SQS": {
        name: _QUEUE
        for name in (
            "ApproximateNumberOfMessagesVisible",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateAgeOfOldestMessage",
            "NumberOfMessagesSent",
            "NumberOfMessagesReceived",
            "NumberOfMessagesDeleted",
        )
    },
}
#: Which of the stage's resources each AWS dimension names.
RESOURCE_DIMENSIONS = ("FunctionName", "TableName", "QueueName")

Emitted = set[tuple[str, str, frozenset[str]]]


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """``make package`` for both stages, once."""
    root = tmp_path_factory.mktemp("build")
    return {name: package.package(name, root) for name in STAGES}


def emitted_metrics(capsys: pytest.CaptureFixture[str], namespace: str) -> Emitted:
    """(namespace, metric, dimension set) of each metric the app writes in EMF: a request
    that called DynamoDB, as the stage records it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(telemetry.NAMESPACE_ENV, namespace)
        patch.setenv(telemetry.FUNCTION_VERSION_ENV, "7")  # a published version, as released
        patch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
        capsys.readouterr()
        tally = telemetry._Tally(requests=2, measured=True, read_units=1.0, write_units=1.0)
        telemetry._publish("/tasks/{task_id}", "PUT", 200, 12.5, tally, None)
        printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    return {
        (directive["Namespace"], metric["Name"], frozenset(dimensions))
        for document in printed
        for directive in document["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
        for dimensions in directive["Dimensions"]
    }


# --- each format's dashboard, with its references resolved ----------------------------------


def _resolver(pattern: str, resolve: Callable[[str], Any]) -> Callable[[Any], Any]:
    """Replace each reference (a whole string matching ``pattern``) in a JSON value."""

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            match = re.fullmatch(pattern, node)
            return resolve(match.group(1)) if match else node
        if isinstance(node, list):
            return [walk(item) for item in node]
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        return node

    return walk


def cfn_dashboard(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The SAM template's dashboard: its name, and its body with each ``Fn::Sub`` variable
    resolved to the name of the resource it refers to."""
    resources = template["Resources"]
    (dashboard,) = [r for r in resources.values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    text, variables = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    names = {"AWS::Lambda::Function": "FunctionName", "AWS::Serverless::Function": "FunctionName"}
    names |= {"AWS::DynamoDB::Table": "TableName", "AWS::CloudWatch::Alarm": "AlarmName"}

    def resolve(name: str) -> Any:
        if name == "AWS::Region":
            return REGION
        if name.endswith(".Arn"):
            alarm = resources[name.removesuffix(".Arn")]
            return {"alarm": alarm["Properties"][names[alarm["Type"]]]}
        intrinsic = variables[name]
        if isinstance(intrinsic, str):  # the support stack names the functions as literals
            return intrinsic
        if "Ref" in intrinsic:
            target = resources[intrinsic["Ref"]]
            return target["Properties"][names[target["Type"]]]
        logical_id, attribute = intrinsic["Fn::GetAtt"]
        assert attribute == "QueueName"
        return resources[logical_id]["Properties"]["QueueName"]

    return dashboard["Properties"]["DashboardName"], _resolver(r"\$\{([^}]+)\}", resolve)(
        json.loads(text)
    )


def tf_dashboard(merged: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The Terraform configuration's dashboard: its name, and its body (``jsonencode`` of a
    JSON expression) with each reference resolved to the name of the resource it names."""
    resources = merged["resource"]
    (dashboard,) = resources["aws_cloudwatch_dashboard"].values()
    expression = dashboard["dashboard_body"]
    assert expression.startswith("${jsonencode(")
    assert expression.endswith(")}")

    def resolve(reference: str) -> Any:
        if reference == "data.aws_region.chalice.name":
            assert "chalice" in merged["data"]["aws_region"]
            return REGION
        type_, name, attribute = reference.split(".")
        block = resources[type_][name]
        if type_ == "aws_cloudwatch_metric_alarm":
            assert attribute == "arn"
            return {"alarm": block["alarm_name"]}
        return block[attribute]

    body = json.loads(expression.removeprefix("${jsonencode(").removesuffix(")}"))
    return dashboard["dashboard_name"], _resolver(r"\$\{([^}]+)\}", resolve)(body)


def dashboards(packaged: dict[str, tuple[Path, Path]], name: str) -> dict[str, Any]:
    cfn_dir, tf_dir = packaged[name]
    merged, errors = tfjson.load(tf_dir)
    assert errors == []
    return {
        "sam": cfn_dashboard(json.loads((cfn_dir / "sam.json").read_text())),
        "support": cfn_dashboard(cloudformation.support_template(stage(name))),
        "terraform": tf_dashboard(merged),
    }


# --- the check ----------------------------------------------------------------------------

_SEARCH = re.compile(r"SEARCH\('\{([^}]*)\} MetricName=\"([^\"]+)\"', '(\w+)', (\d+)\)")


def _series(body: dict[str, Any]) -> Iterator[tuple[str, list[Any]]]:
    for widget in body["widgets"]:
        if widget["type"] == "metric":
            for line in widget["properties"]["metrics"]:
                yield widget["properties"]["title"], line


def problems(body: dict[str, Any], target: Stage, emitted: Emitted) -> list[str]:
    """What on the dashboard CloudWatch would draw as nothing: a metric neither the app
    writes nor AWS publishes, a dimension that names another stage's resource, a widget
    without its region, an expression on a query id the widget lacks."""
    found: list[str] = []
    own = {
        "FunctionName": {target.function_name, target.consumer_function_name},
        "TableName": {target.table_name},
        "QueueName": {target.failure_queue_name},
    }
    for widget in body["widgets"]:
        if widget["type"] != "metric":
            continue
        properties = widget["properties"]
        if properties.get("region") != REGION:
            found.append(f"{properties['title']}: no region")
        ids = [line[-1]["id"] for line in properties["metrics"]]
        if len(ids) != len(set(ids)) or not all(re.fullmatch(r"[a-z]\w*", i) for i in ids):
            found.append(f"{properties['title']}: query ids {ids}")
    for title, line in _series(body):
        options = line[-1]
        if "expression" in options:
            search = _SEARCH.fullmatch(options["expression"])
            if search is None:  # metric math on the widget's other queries
                words = re.findall(r"\b([a-z]\w*)\b(?!\s*\()", options["expression"])
                queries = {other[-1]["id"] for t, other in _series(body) if t == title}
                found += [f"{title}: {word} is no query" for word in words if word not in queries]
                continue
            schema = [part.strip('"') for part in search.group(1).split(",")]
            metric = (schema[0], search.group(2), frozenset(schema[1:]))
            if metric not in emitted:
                found.append(f"{title}: the app writes no {metric}")
            continue
        namespace, name, *pairs = line[:-1]
        dimensions = dict(zip(pairs[::2], pairs[1::2], strict=True))
        if namespace == target.metrics_namespace:
            if (namespace, name, frozenset(dimensions)) not in emitted:
                found.append(f"{title}: the app writes no {name} by {sorted(dimensions)}")
            continue
        published = AWS_PUBLISHES.get(namespace, {}).get(name, ())
        if frozenset(dimensions) not in published:
            found.append(f"{title}: AWS publishes no {namespace} {name} by {sorted(dimensions)}")
        for key in RESOURCE_DIMENSIONS:
            if key in dimensions and dimensions[key] not in own[key]:
                found.append(f"{title}: {key} {dimensions[key]} is not the stage's")
    return found


def alarm_names(body: dict[str, Any]) -> list[str]:
    return [
        arn["alarm"]
        for widget in body["widgets"]
        if widget["type"] == "alarm"
        for arn in widget["properties"]["alarms"]
    ]


# --- the tests ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", STAGES)
def test_every_metric_is_written_by_the_app_or_published_by_aws(
    packaged: Any, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    target = stage(name)
    emitted = emitted_metrics(capsys, target.metrics_namespace)
    views = dashboards(packaged, name)
    for path, (dashboard_name, body) in views.items():
        assert dashboard_name == f"task-api-{name}", path
        assert problems(body, target, emitted) == [], path
    # The same dashboard on both packaged paths, resolved to the same names; chalice
    # deploy's is the same without the release's alarms and widgets.
    assert views["sam"][1] == views["terraform"][1]
    support_titles = [w["properties"].get("title") for w in views["support"][1]["widgets"]]
    release_titles = [w.title for w in definitions.version_widgets()]
    assert [w["properties"].get("title") for w in views["sam"][1]["widgets"]] == (
        support_titles[:1] + release_titles + support_titles[1:]
    )


@pytest.mark.parametrize("name", STAGES)
def test_the_dashboard_shows_the_stage_s_own_resources(packaged: Any, name: str) -> None:
    """Each of the stage's function, consumer, table and queue, and nothing else's; the app's
    metrics from the stage's namespace."""
    target = stage(name)
    body = dashboards(packaged, name)["terraform"][1]
    seen: dict[str, set[str]] = {}
    namespaces = set()
    for _, line in _series(body):
        if "expression" in line[-1]:
            search = _SEARCH.fullmatch(line[-1]["expression"])
            if search:
                namespaces.add(search.group(1).split(",")[0].strip('"'))
            continue
        namespaces.add(line[0])
        pairs = line[2:-1]
        for key, value in zip(pairs[::2], pairs[1::2], strict=True):
            seen.setdefault(key, set()).add(value)
    assert seen["FunctionName"] == {target.function_name, target.consumer_function_name}
    assert seen["TableName"] == {target.table_name}
    assert seen["QueueName"] == {target.failure_queue_name}
    assert namespaces == {f"task-api/{name}", "AWS/Lambda", "AWS/DynamoDB", "AWS/SQS"}


def test_the_dashboard_covers_what_the_issue_asks_for(packaged: Any) -> None:
    """Requests and status classes per route, latency p50 and p99, the table's requests and
    capacity, the functions' errors, throttles, concurrency and duration, the consumer's
    iterator age and the failure queue."""
    body = dashboards(packaged, "dev")["terraform"][1]
    drawn, per_route = set(), set()
    for _, line in _series(body):
        search = _SEARCH.fullmatch(line[-1].get("expression", ""))
        if search and telemetry.ROUTE in search.group(1).split(","):
            per_route.add((search.group(2), search.group(3)))
        elif "expression" not in line[-1]:
            drawn.add((line[1], line[-1]["stat"]))
    assert {
        ("Requests", "Sum"),  # by route, method and status class
        ("Latency", "p99"),
        ("DynamoDBRequests", "Sum"),
        ("ConsumedReadCapacity", "Sum"),
        ("ConsumedWriteCapacity", "Sum"),
    } <= per_route
    assert {
        ("Requests", "Sum"),  # by status class, all routes
        ("Latency", "p50"),
        ("Latency", "p99"),
        ("SuccessfulRequestLatency", "SampleCount"),  # the table's requests
        ("ConsumedReadCapacityUnits", "Sum"),
        ("ConsumedWriteCapacityUnits", "Sum"),
        ("ThrottledRequests", "Sum"),
        ("Errors", "Sum"),
        ("Throttles", "Sum"),
        ("ConcurrentExecutions", "Maximum"),
        ("Duration", "p50"),
        ("Duration", "p99"),
        ("IteratorAge", "Maximum"),
        ("ApproximateNumberOfMessagesVisible", "Maximum"),
    } <= drawn


@pytest.mark.parametrize("name", STAGES)
def test_every_alarm_is_on_the_dashboard(packaged: Any, name: str) -> None:
    template = json.loads((packaged[name][0] / "sam.json").read_text())
    cfn_alarms = {
        r["Properties"]["AlarmName"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    merged, _ = tfjson.load(packaged[name][1])
    tf_alarms = {
        a["alarm_name"] for a in merged["resource"]["aws_cloudwatch_metric_alarm"].values()
    }
    expected = {
        f"task-api-{name}-{spec.key}" for spec in (*definitions.ALARMS, *definitions.CANARY_ALARMS)
    }
    assert cfn_alarms == tf_alarms == expected
    for path, (_, body) in dashboards(packaged, name).items():
        names = alarm_names(body)
        # chalice deploy's stage has no canary, nor its alarms.
        shown = (
            expected
            if path != "support"
            else expected - {f"task-api-{name}-{spec.key}" for spec in definitions.CANARY_ALARMS}
        )
        assert sorted(names) == sorted(shown), path
        assert body["widgets"][0]["type"] == "alarm", "the alarms come first"


@pytest.mark.parametrize("name", STAGES)
def test_the_outputs_give_the_dashboard_s_url(packaged: Any, name: str) -> None:
    url = "https://{r}.console.aws.amazon.com/cloudwatch/home?region={r}#dashboards:name={n}"
    template = json.loads((packaged[name][0] / "sam.json").read_text())
    (logical_id,) = [
        k for k, r in template["Resources"].items() if r["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    assert template["Outputs"]["DashboardURL"] == {
        "Value": {"Fn::Sub": url.format(r="${AWS::Region}", n="${" + logical_id + "}")}
    }
    assert (
        cloudformation.support_template(stage(name))["Outputs"]["DashboardURL"]
        == (template["Outputs"]["DashboardURL"])
    )
    merged, _ = tfjson.load(packaged[name][1])
    (address,) = merged["resource"]["aws_cloudwatch_dashboard"]
    assert merged["output"]["DashboardURL"] == {
        "value": url.format(
            r="${data.aws_region.chalice.name}",
            n="${aws_cloudwatch_dashboard." + address + ".dashboard_name}",
        )
    }


def test_the_check_catches_planted_mistakes(
    packaged: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """A misspelled metric, a misspelled app metric in a SEARCH, a dimension AWS does not
    publish the metric by, another stage's table and an expression on a missing query."""
    target = stage("dev")
    emitted = emitted_metrics(capsys, target.metrics_namespace)
    _, body = dashboards(packaged, "dev")["terraform"]
    text = json.dumps(body)
    plants = {
        '"ConcurrentExecutions"': '"ConcurrentExecution"',
        'MetricName=\\"DynamoDBRequests\\"': 'MetricName=\\"DynamoDBRequest\\"',
        '"ConsumedReadCapacityUnits", "TableName"': '"ConsumedReadCapacityUnits", "Table"',
        '"task-api-dev-tasks", {"id": "write"': '"task-api-prod-tasks", {"id": "write"',
        "FILL(m5xx,0) /": "FILL(m6xx,0) /",
    }
    for planted, (old, new) in enumerate(plants.items()):
        assert old in text, old
        broken = json.loads(text.replace(old, new))
        assert len(problems(broken, target, emitted)) >= 1, (planted, old)
    found = problems(
        json.loads(text.replace('"ConcurrentExecutions"', '"ConcurrentExecution"')), target, emitted
    )
    assert (
        found
        == [
            "Lambda concurrent executions (maximum), API and consumer: AWS publishes no AWS/Lambda "
            "ConcurrentExecution by ['FunctionName']"
        ]
        * 2
    )


def test_the_canary_s_widgets_come_right_after_the_alarms(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hook the canary's version metrics go into: whatever it returns is drawn."""
    version = definitions.Graph(
        "New version: errors",
        (dataclasses.replace(definitions.FUNCTION_ERRORS, label="new version"),),
    )
    monkeypatch.setattr(definitions, "version_widgets", lambda: (version,))
    refs = {ref: ref.name for ref in definitions.Ref} | {definitions.Ref.APP_NAMESPACE: "ns"}
    body = definitions.dashboard_body(refs, REGION, lambda spec: spec.key, release=True)
    assert body["widgets"][0]["type"] == "alarm"
    assert body["widgets"][1]["properties"]["title"] == "New version: errors"
    without = definitions.dashboard_body(refs, REGION, lambda spec: spec.key)
    assert "New version: errors" not in json.dumps(without)  # chalice deploy's stage


def test_the_operations_docs_describe_every_widget() -> None:
    """docs/operations/dashboard.md has one row per widget, by its title, in order."""
    page = PROJECT_DIR / "docs" / "operations" / "dashboard.md"
    rows = re.findall(r"^\| \*\*(.+?)\*\* \|", page.read_text(), flags=re.M)
    assert rows == [widget.title for widget in definitions.dashboard_widgets(release=True)]
