"""The supporting resources, defined once in neutral form.

``cloudformation.py`` and ``terraform.py`` render these facts in their own syntax; neither
holds a setting of its own. The table itself comes from ``chalicelib.table``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, Protocol

from chalicelib import telemetry
from chalicelib.core.errors import GATEWAY_PROBLEM, GATEWAY_PROBLEM_TITLE, RETRY_AFTER_SECONDS
from chalicelib.core.headers import REQUEST_ID_HEADER
from chalicelib.core.http import (
    CORS_EXPOSE_HEADERS,
    INSTANCE_PREFIX,
    PROBLEM_JSON,
    SECURITY_HEADERS,
)
from chalicelib.table import TABLE_DEFINITION, TTL_ATTRIBUTE  # noqa: F401  (re-exported)

# --- identity -----------------------------------------------------------------------------

#: Sign-in by e-mail; Cognito's ``sub`` (a UUID) is the task owner, never the e-mail.
#: NIST SP 800-63B-4, section 3.1.1.2: a password that is the only factor (MFA is optional
#: here) has at least 15 characters, and no composition rules (upper case, digits...): they
#: make passwords predictable, not strong. Cognito accepts up to 256 characters.
PASSWORD_MIN_LENGTH = 15
PASSWORD_REQUIRES_CHARACTER_CLASSES = False
TEMPORARY_PASSWORD_DAYS = 7
#: Users may add TOTP (an authenticator app); the web page answers its challenge. Not SMS:
#: NIST restricts it (SIM swaps), and it needs an SNS role and a spending limit. Not
#: required: the page cannot walk a user through MFA setup (MFA_SETUP).
MFA_CONFIGURATION = "OPTIONAL"
#: The web client is public (a browser or a CLI): no secret, SRP or password sign-in,
#: one-hour ID tokens (the API accepts ID tokens) and 30-day refresh tokens.
CLIENT_AUTH_FLOWS = ("ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")
ID_TOKEN_MINUTES = 60
ACCESS_TOKEN_MINUTES = 60
REFRESH_TOKEN_DAYS = 30

# --- cursor secret ------------------------------------------------------------------------

#: 64 random letters and digits: comma-free, because the value is a comma-separated list
#: (add the new secret in front to rotate: "new,old").
SECRET_LENGTH = 64

# --- API Gateway --------------------------------------------------------------------------

#: One JSON object per request in the access log.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "requestTime": "$context.requestTimeEpoch",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationStatus": "$context.integration.status",
    "errorType": "$context.error.responseType",
    "xrayTraceId": "$context.xrayTraceId",
}
ACCESS_LOG_FORMAT = json.dumps(ACCESS_LOG_FIELDS, separators=(",", ":"))

#: The body of the gateway's own errors (no route, missing or bad token, throttled, too
#: large): a problem document like the app's. ``messageString`` is already a JSON string.
#: The gateway's request id names the occurrence, as X-Request-Id does (below).
GATEWAY_PROBLEM_TEMPLATE = (
    '{"type":"' + GATEWAY_PROBLEM + '",'
    '"title":"' + GATEWAY_PROBLEM_TITLE + '",'
    '"detail":$context.error.messageString,'
    '"code":"$context.error.responseType",'
    '"instance":"' + INSTANCE_PREFIX + '$context.requestId"}'
)
#: THROTTLED (429: stage throttling) has a response of its own, so that it can say when to
#: retry; it would otherwise get DEFAULT_4XX's. QUOTA_EXCEEDED needs none: it comes only from
#: usage plans, and the API has none (no API keys).
GATEWAY_RESPONSE_TYPES = ("DEFAULT_4XX", "DEFAULT_5XX", "THROTTLED")
#: The responses that send ``Retry-After``, as the app's own 429 and 503 do.
RETRY_AFTER_RESPONSE_TYPES = ("THROTTLED",)


def gateway_response_headers(cors_origin: str, response_type: str) -> dict[str, str]:
    """Header values as API Gateway wants them: static values in single quotes, context
    variables bare. Every gateway error carries the app's security headers and its request
    id, as the app's responses do."""
    headers = {"Content-Type": PROBLEM_JSON, **SECURITY_HEADERS}
    if response_type in RETRY_AFTER_RESPONSE_TYPES:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if cors_origin:
        headers |= {
            "Access-Control-Allow-Origin": cors_origin,
            "Access-Control-Expose-Headers": ",".join(CORS_EXPOSE_HEADERS),
            "Vary": "Origin",
        }
    return {name: f"'{value}'" for name, value in headers.items()} | {
        REQUEST_ID_HEADER: "context.requestId"
    }


def gateway_responses_extension(cors_origin: str) -> dict[str, Any]:
    """The gateway responses as the API definition's own
    ``x-amazon-apigateway-gateway-responses``: part of the body, so that importing the body
    can never drop them (SAM renders its ``GatewayResponses`` into the same extension)."""
    return {
        response_type: {
            "responseParameters": {
                f"gatewayresponse.header.{name}": value
                for name, value in gateway_response_headers(cors_origin, response_type).items()
            },
            "responseTemplates": {"application/json": GATEWAY_PROBLEM_TEMPLATE},
        }
        for response_type in GATEWAY_RESPONSE_TYPES
    }


# --- Powertools layer ---------------------------------------------------------------------

#: Powertools for AWS Lambda reaches the function as AWS's published layer, not in the
#: package (requirements.txt): the same version as the pin in requirements-local.txt, which
#: the tests and ``chalice local`` run (a test compares the two).
POWERTOOLS_VERSION = "3.37.0"
#: The layer holds compiled dependencies, so it must match the function's runtime. Chalice
#: packages for the Python that runs it (the venv's); ``infra.package`` and
#: ``infra.support`` refuse any other (``require_runtime``).
LAMBDA_RUNTIME = "python3.11"
LAMBDA_ARCHITECTURE = "x86_64"  # Chalice's default; the config sets no other
#: AWS publishes each layer version's ARN, per region, as a public SSM parameter: each
#: format resolves it at deploy time, so no account or region is written down here.
POWERTOOLS_LAYER_PARAMETER = (
    f"/aws/service/powertools/python/{LAMBDA_ARCHITECTURE}/{LAMBDA_RUNTIME}/{POWERTOOLS_VERSION}"
)


def require_runtime(runtime: str) -> None:
    """Stop before a function meets a Powertools layer built for another Python."""
    if runtime != LAMBDA_RUNTIME:
        raise SystemExit(
            f"Chalice builds the function for {runtime}, but the Powertools layer is for "
            f"{LAMBDA_RUNTIME}: run with Python {LAMBDA_RUNTIME.removeprefix('python')}, or change "
            "LAMBDA_RUNTIME in infra/definitions.py"
        )


# --- the stream consumer ------------------------------------------------------------------

#: What Chalice's ``on_dynamodb_record`` cannot say about the consumer's event source
#: mapping, so that a record that always fails never blocks its shard: failures reported
#: per record (the handler's ``batchItemFailures``), a failing batch split in two until the
#: bad record stands alone, a bounded number of retries and a bounded age, after which the
#: mapping sends the record's place in the stream (not its data) to the failure queue.
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"
MAXIMUM_RETRY_ATTEMPTS = 5
#: Well under the stream's 24 hours, so what is given up on can still be read again from
#: the stream when it is redriven (docs/operations/runbook.md).
MAXIMUM_RECORD_AGE_SECONDS = 60 * 60
#: SQS's longest: a record's place in the stream outlives the record itself (24 hours), but
#: says which records were skipped.
FAILURE_QUEUE_RETENTION_SECONDS = 14 * 24 * 60 * 60


def stream_failure_settings(failure_queue_arn: Any) -> dict[str, Any]:
    """The consumer mapping's failure settings, in the shape the Lambda API,
    ``AWS::Lambda::EventSourceMapping`` and SAM's DynamoDB event share, given how a format
    names the failure queue's ARN. The starting position is the decorator's own."""
    return {
        "FunctionResponseTypes": [REPORT_BATCH_ITEM_FAILURES],
        "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": MAXIMUM_RETRY_ATTEMPTS,
        "MaximumRecordAgeInSeconds": MAXIMUM_RECORD_AGE_SECONDS,
        "DestinationConfig": {"OnFailure": {"Destination": failure_queue_arn}},
    }


# --- the alarm topic's key ----------------------------------------------------------------


@dataclass(frozen=True)
class TopicPublisher:
    """An AWS service that publishes to the encrypted alarm topic. SNS uses the topic's key
    on the publisher's behalf, so the key policy must grant the service
    ``TOPIC_KEY_PUBLISH_ACTIONS``; an AWS-managed key (``alias/aws/sns``) cannot."""

    service: str
    #: Scope the grant to this account with ``aws:SourceAccount`` (confused-deputy
    #: protection). Only for a service whose KMS requests carry the key, as AWS documents
    #: for CloudWatch; a service that sends none would be refused, silently.
    source_account_condition: bool = True


#: Every service that publishes to the alarm topic: CloudWatch, for the alarms. Another
#: publisher (EventBridge, CodeDeploy) is one more line here.
TOPIC_PUBLISHERS = (TopicPublisher("cloudwatch.amazonaws.com"),)
TOPIC_KEY_PUBLISH_ACTIONS = ("kms:GenerateDataKey*", "kms:Decrypt")
#: The key encrypts messages in flight only; nothing needs it once it is scheduled for
#: deletion, so the shortest window KMS allows.
TOPIC_KEY_DELETION_DAYS = 7


def topic_key_policy(account_root: Any, account_id: Any) -> dict[str, Any]:
    """The alarm topic key's policy, given how a format names the account's root principal
    and the account id: the account administers the key (through IAM, as with any key's
    default policy), and each publisher may use it for the topic."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "AccountAdministersTheKey",
            "Effect": "Allow",
            "Principal": {"AWS": account_root},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    for publisher in TOPIC_PUBLISHERS:
        statement: dict[str, Any] = {
            "Sid": "Publish" + publisher.service.split(".")[0].title(),
            "Effect": "Allow",
            "Principal": {"Service": publisher.service},
            "Action": list(TOPIC_KEY_PUBLISH_ACTIONS),
            "Resource": "*",
        }
        if publisher.source_account_condition:
            statement["Condition"] = {"StringEquals": {"aws:SourceAccount": account_id}}
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


# --- alarms -------------------------------------------------------------------------------

#: Operations whose throttling the table alarm sums: those the API and the stream consumer
#: call (tests/unit/test_iam_policy.py derives them from the code).
TABLE_OPERATIONS = (
    "GetItem",
    "BatchGetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "TransactWriteItems",
    "BatchWriteItem",
)


class Ref(Enum):
    """A value each format knows by its own name: ``cloudformation.py`` and
    ``terraform.py`` resolve these, and every other value is literal."""

    FUNCTION = "function"  # the API handler's function name
    CONSUMER = "consumer"  # the stream consumer's function name
    TABLE = "table"  # the tasks table's name
    FAILURE_QUEUE = "failure queue"  # the stream consumer's failure queue's name
    APP_NAMESPACE = "app namespace"  # the stage's EMF namespace (Stage.metrics_namespace)
    VERSION = "version"  # the API handler's newest published version (a canary's target)
    FUNCTION_ALIAS = "function alias"  # ``<the API handler's name>:<ALIAS>``


Value = str | Ref


def resolve(value: Value, refs: Mapping[Ref, Any]) -> Any:
    """A literal as it is, a reference as the format at hand names it."""
    return refs[value] if isinstance(value, Ref) else value


@dataclass(frozen=True)
class Metric:
    """One statistic of one CloudWatch metric: a query ``id`` when an alarm has several
    (CloudWatch wants it to start with a lowercase letter)."""

    id: str
    namespace: Value
    name: str
    dimensions: tuple[tuple[str, Value], ...]
    statistic: str  # "Sum", "Maximum", or a percentile such as "p99"
    label: str = ""  # how a dashboard names the series (CloudWatch's default when empty)

    @property
    def percentile(self) -> bool:
        return self.statistic.startswith("p")


@dataclass(frozen=True)
class Expression:
    """Metric math over an alarm's metrics: the one series the alarm compares."""

    id: str
    label: str
    text: str


@dataclass(frozen=True)
class Alarm:
    """A CloudWatch alarm: on one metric, or on an expression over several. It fires when
    the value exceeds ``threshold`` in ``datapoints_to_alarm`` of ``evaluation_periods``
    periods; no data (no traffic) is not breaching."""

    key: str  # logical name, and the alarm name's suffix
    description: str
    metrics: tuple[Metric, ...]
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    expression: Expression | None = None  # None: the alarm's single metric


def _by_status_class(status: str) -> tuple[tuple[str, Value], ...]:
    """The app's EMF dimension set for alarms: one status class across all routes."""
    return ((telemetry.SERVICE_DIMENSION, telemetry.SERVICE), (telemetry.STATUS_CLASS, status))


def _requests(status: str) -> Metric:
    return Metric(
        id=f"m{status}",
        namespace=Ref.APP_NAMESPACE,
        name=telemetry.REQUESTS,
        dimensions=_by_status_class(status),
        statistic="Sum",
    )


def _function(id_: str, name: str, function: Ref = Ref.FUNCTION, statistic: str = "Sum") -> Metric:
    return Metric(
        id=id_,
        namespace="AWS/Lambda",
        name=name,
        dimensions=(("FunctionName", function),),
        statistic=statistic,
    )


def _filled(status: str) -> str:
    """A class's request count in metric math: 0, not missing, in a minute with requests
    but none of this class."""
    return f"FILL({_requests(status).id},0)"


#: The metrics the alarms watch, by name: the dashboard draws the same ones.
REQUESTS_BY_STATUS_CLASS = tuple(_requests(status) for status in telemetry.STATUS_CLASSES)
LATENCY_P99 = Metric(
    id="latency",
    namespace=Ref.APP_NAMESPACE,
    name=telemetry.LATENCY,
    dimensions=_by_status_class("2xx"),
    statistic="p99",
)
FUNCTION_ERRORS = _function("errors", "Errors")
FUNCTION_THROTTLES = _function("throttles", "Throttles")
TABLE_THROTTLED_REQUESTS = tuple(
    Metric(
        id=f"m{index}",
        namespace="AWS/DynamoDB",
        name="ThrottledRequests",
        dimensions=(("TableName", Ref.TABLE), ("Operation", operation)),
        statistic="Sum",
    )
    for index, operation in enumerate(TABLE_OPERATIONS)
)
FAILURE_QUEUE_VISIBLE = Metric(
    id="visible",
    namespace="AWS/SQS",
    name="ApproximateNumberOfMessagesVisible",
    dimensions=(("QueueName", Ref.FAILURE_QUEUE),),
    statistic="Maximum",
)
CONSUMER_ITERATOR_AGE = _function("age", "IteratorAge", Ref.CONSUMER, "Maximum")

ALARMS = (
    Alarm(
        key="ServerErrorRate",
        description="More than 1% of API requests were answered with a 5xx in 3 of 5 minutes",
        metrics=REQUESTS_BY_STATUS_CLASS,
        expression=Expression(
            id="rate",
            label="5xx share of requests",
            text=f"{_filled('5xx')} / ({'+'.join(map(_filled, telemetry.STATUS_CLASSES))})",
        ),
        period=60,
        evaluation_periods=5,
        datapoints_to_alarm=3,
        threshold=0.01,
    ),
    Alarm(
        key="LatencyP99",
        description="p99 latency of successful API requests above 1 second in 2 of 3 "
        "five-minute periods",
        metrics=(LATENCY_P99,),
        period=300,
        evaluation_periods=3,
        datapoints_to_alarm=2,
        threshold=1000,  # milliseconds, the unit the app records
    ),
    Alarm(
        key="LambdaErrors",
        description="The API handler raised errors (unhandled exceptions, time-outs)",
        metrics=(FUNCTION_ERRORS,),
        period=300,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        threshold=0,
    ),
    Alarm(
        key="LambdaThrottles",
        description="Invocations of the API handler were throttled",
        metrics=(FUNCTION_THROTTLES,),
        period=300,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        threshold=0,
    ),
    Alarm(
        key="TableThrottledRequests",
        description="DynamoDB throttled requests to the tasks table",
        metrics=TABLE_THROTTLED_REQUESTS,
        expression=Expression(id="total", label="ThrottledRequests", text="SUM(METRICS())"),
        period=300,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        threshold=0,
    ),
    Alarm(
        key="StreamFailures",
        description="The stream consumer gave up on records: their places in the stream are "
        "on the failure queue (docs/operations/runbook.md)",
        metrics=(FAILURE_QUEUE_VISIBLE,),
        period=300,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        threshold=0,
    ),
    Alarm(
        key="StreamIteratorAge",
        description="The stream consumer lags: its oldest record was over 5 minutes old in 3 "
        "of 5 minutes (records are given up on at 1 hour)",
        metrics=(CONSUMER_ITERATOR_AGE,),
        period=60,
        evaluation_periods=5,
        datapoints_to_alarm=3,
        threshold=5 * 60 * 1000,  # milliseconds, IteratorAge's unit
    ),
)

# --- canary releases ----------------------------------------------------------------------

#: The alias API Gateway, the stream and every other caller invoke; CodeDeploy moves it.
ALIAS = "live"


def _version_requests(status: str) -> Metric:
    """The newest version's own requests of a status class (telemetry's version set)."""
    return Metric(
        id=f"v{status}",
        namespace=Ref.APP_NAMESPACE,
        name=telemetry.REQUESTS,
        dimensions=(
            (telemetry.SERVICE_DIMENSION, telemetry.SERVICE),
            (telemetry.FUNCTION_VERSION, Ref.VERSION),
            (telemetry.STATUS_CLASS, status),
        ),
        statistic="Sum",
    )


def _version_filled(status: str) -> str:
    return f"FILL({_version_requests(status).id},0)"


#: What a release watches: the new version alone. A whole-API rate cannot see a canary:
#: with 10% of traffic on a version failing 5% of its requests, the API's 5xx share is 0.5%,
#: under ServerErrorRate's 1%, while this alarm sees 5% (five times its threshold).
CANARY_ALARMS = (
    Alarm(
        key="VersionServerErrorRate",
        description="More than 1% of the newest version's requests were answered with a 5xx "
        "in 2 of 3 minutes: a release in progress rolls back",
        metrics=tuple(_version_requests(status) for status in telemetry.STATUS_CLASSES),
        expression=Expression(
            id="rate",
            label="5xx share of the version's requests",
            text=f"{_version_filled('5xx')} / "
            f"({'+'.join(map(_version_filled, telemetry.STATUS_CLASSES))})",
        ),
        period=60,
        evaluation_periods=3,
        datapoints_to_alarm=2,
        threshold=0.01,
    ),
    Alarm(
        key="VersionLambdaErrors",
        description="The newest version raised errors through the alias (unhandled "
        "exceptions, time-outs): a release in progress rolls back",
        metrics=(
            Metric(
                id="errors",
                namespace="AWS/Lambda",
                name="Errors",
                dimensions=(
                    ("FunctionName", Ref.FUNCTION),
                    ("Resource", Ref.FUNCTION_ALIAS),
                    ("ExecutedVersion", Ref.VERSION),
                ),
                statistic="Sum",
            ),
        ),
        period=60,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        threshold=0,
    ),
)


@dataclass(frozen=True)
class Release:
    """How a stage's new version takes traffic: CodeDeploy's deployment configuration (SAM
    names it without the ``CodeDeployDefault.Lambda`` prefix), and how many published
    versions ``make release`` keeps."""

    configuration: str
    keep_versions: int = 5

    @property
    def codedeploy_config_name(self) -> str:
        return f"CodeDeployDefault.Lambda{self.configuration}"


ALL_AT_ONCE = Release("AllAtOnce")

# --- the dashboard ------------------------------------------------------------------------

#: The output, in both formats, that gives the dashboard's address.
DASHBOARD_URL_OUTPUT = "DashboardURL"
#: The console's address of a dashboard: each format fills in its region and name.
DASHBOARD_URL = (
    "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards:name={name}"
)
#: CloudWatch's grid: 24 columns; a widget's height in rows.
DASHBOARD_COLUMNS = 24
WIDGET_HEIGHT = 6
#: The app's EMF dimension sets per route (``chalicelib.telemetry._publish``): a request's
#: count and latency by route, method and status class; its DynamoDB cost by route and method.
ROUTE_STATUS_DIMENSIONS = (
    telemetry.ROUTE,
    telemetry.METHOD,
    telemetry.STATUS_CLASS,
    telemetry.SERVICE_DIMENSION,
)
ROUTE_DIMENSIONS = (telemetry.ROUTE, telemetry.METHOD, telemetry.SERVICE_DIMENSION)


def _schema_name(name: str) -> str:
    """A namespace or dimension name in a SEARCH schema: quoted unless letters and digits
    (``task-api/dev`` needs the quotes)."""
    return name if re.fullmatch(r"[A-Za-z0-9]+", name) else f'"{name}"'


@dataclass(frozen=True)
class Search:
    """Every series of one app metric with exactly one EMF dimension set, whatever its
    values: one line per route and method (and status class). No route is listed here, so a
    new route shows up by itself; the metric and dimension names are telemetry's."""

    id: str
    name: str
    dimensions: tuple[str, ...]
    statistic: str

    def expression(self, namespace: str, period: int) -> str:
        schema = ",".join(_schema_name(part) for part in (namespace, *self.dimensions))
        return f"SEARCH('{{{schema}}} MetricName=\"{self.name}\"', '{self.statistic}', {period})"


Line = Metric | Search | Expression


@dataclass(frozen=True)
class Graph:
    """A time series widget."""

    title: str
    lines: tuple[Line, ...]
    #: Metrics an expression of ``lines`` reads, not drawn themselves.
    inputs: tuple[Metric, ...] = ()
    period: int = 60
    stacked: bool = False
    #: The threshold of the alarm the graph shows, drawn as a horizontal line.
    alarm: Alarm | None = None
    width: int = 12


@dataclass(frozen=True)
class AlarmStatus:
    """The state of each alarm, in one widget: the first place to look."""

    title: str
    alarms: tuple[Alarm, ...]
    width: int = DASHBOARD_COLUMNS


Widget = Graph | AlarmStatus


def alarm_named(key: str) -> Alarm:
    (spec,) = [spec for spec in ALARMS if spec.key == key]
    return spec


def _alarm_graph(key: str, title: str, lines: tuple[Line, ...] = ()) -> Graph:
    """What an alarm compares, with its threshold: its expression (its metrics as inputs)
    or its single metric, unless ``lines`` draws more (such as another percentile)."""
    spec = alarm_named(key)
    if spec.expression is not None:
        return Graph(title, lines or (spec.expression,), spec.metrics, spec.period, alarm=spec)
    return Graph(title, lines or spec.metrics, period=spec.period, alarm=spec)


def _per_function(metric: str, statistic: str, id_: str) -> tuple[Metric, Metric]:
    """One metric of AWS/Lambda, for the API's function and for the stream consumer."""
    return (
        replace(_function(f"{id_}Api", metric, Ref.FUNCTION, statistic), label=f"API {metric}"),
        replace(
            _function(f"{id_}Consumer", metric, Ref.CONSUMER, statistic),
            label=f"consumer {metric}",
        ),
    )


#: The app's EMF dimension set per published version (``chalicelib.telemetry._publish``).
VERSION_STATUS_DIMENSIONS = (
    telemetry.SERVICE_DIMENSION,
    telemetry.FUNCTION_VERSION,
    telemetry.STATUS_CLASS,
)


def version_widgets() -> tuple[Widget, ...]:
    """The canary's widgets, on the packaged paths: every version's requests by status class,
    so that during a release the new version's answers show beside the old one's."""
    return (
        Graph(
            "Releases: requests by version and status class",
            (Search("versions", telemetry.REQUESTS, VERSION_STATUS_DIMENSIONS, "Sum"),),
            width=DASHBOARD_COLUMNS,
        ),
    )


def dashboard_widgets(release: bool = False) -> tuple[Widget, ...]:
    """The stage's dashboard, in the order to read it in an incident
    (docs/operations/dashboard.md): alarms, the API's answers, its latency, the
    functions, the table, the stream. ``release``: a packaged stage, whose canary has alarms
    and widgets of its own (``chalice deploy`` replaces the function at once)."""
    latency_p50 = replace(LATENCY_P99, id="p50", statistic="p50", label="p50")
    return (
        AlarmStatus("Alarms", (*ALARMS, *CANARY_ALARMS) if release else ALARMS),
        *(version_widgets() if release else ()),
        Graph(
            "Requests by status class (all routes)",
            tuple(
                replace(metric, label=status)
                for metric, status in zip(
                    REQUESTS_BY_STATUS_CLASS, telemetry.STATUS_CLASSES, strict=True
                )
            ),
            stacked=True,
        ),
        _alarm_graph("ServerErrorRate", "5xx share of requests (ServerErrorRate)"),
        Graph(
            "Requests by route, method and status class",
            (Search("routes", telemetry.REQUESTS, ROUTE_STATUS_DIMENSIONS, "Sum"),),
        ),
        _alarm_graph(
            "LatencyP99",
            "Latency of 2xx answers, ms: p50 and p99 (LatencyP99)",
            (latency_p50, replace(LATENCY_P99, label="p99")),
        ),
        Graph(
            "Latency p99 by route, method and status class, ms",
            (Search("routes", telemetry.LATENCY, ROUTE_STATUS_DIMENSIONS, "p99"),),
            period=300,
        ),
        Graph(
            "Lambda errors and throttles, API and consumer",
            (
                replace(FUNCTION_ERRORS, label="API Errors"),
                replace(FUNCTION_THROTTLES, label="API Throttles"),
                _per_function("Errors", "Sum", "errors")[1],
                _per_function("Throttles", "Sum", "throttles")[1],
            ),
        ),
        Graph(
            "Lambda concurrent executions (maximum), API and consumer",
            _per_function("ConcurrentExecutions", "Maximum", "concurrency"),
        ),
        Graph(
            "Lambda duration, ms: p50 and p99, API and consumer",
            (
                *_per_function("Duration", "p50", "p50"),
                *_per_function("Duration", "p99", "p99"),
            ),
            period=300,
        ),
        Graph(
            "Table: requests by operation",
            tuple(
                Metric(
                    f"op{index}",
                    "AWS/DynamoDB",
                    "SuccessfulRequestLatency",
                    (("TableName", Ref.TABLE), ("Operation", operation)),
                    "SampleCount",
                    label=operation,
                )
                for index, operation in enumerate(TABLE_OPERATIONS)
            ),
            stacked=True,
        ),
        Graph(
            "Table: consumed capacity units",
            tuple(
                Metric(id_, "AWS/DynamoDB", name, (("TableName", Ref.TABLE),), "Sum", label)
                for id_, name, label in (
                    ("read", "ConsumedReadCapacityUnits", "read"),
                    ("write", "ConsumedWriteCapacityUnits", "write"),
                )
            ),
        ),
        _alarm_graph(
            "TableThrottledRequests", "Table: throttled requests (TableThrottledRequests)"
        ),
        Graph(
            "DynamoDB requests by route and method (the app's count)",
            (Search("routes", telemetry.DYNAMODB_REQUESTS, ROUTE_DIMENSIONS, "Sum"),),
        ),
        Graph(
            "Consumed capacity by route and method (the app's count)",
            tuple(
                Search(id_, name, ROUTE_DIMENSIONS, "Sum")
                for id_, name in (
                    ("reads", telemetry.CONSUMED_READ_CAPACITY),
                    ("writes", telemetry.CONSUMED_WRITE_CAPACITY),
                )
            ),
        ),
        _alarm_graph("StreamIteratorAge", "Stream consumer: iterator age, ms (StreamIteratorAge)"),
        _alarm_graph("StreamFailures", "Failure queue: records given up on (StreamFailures)"),
    )


def _line(line: Line, refs: Mapping[Ref, Any], period: int, visible: bool = True) -> list[Any]:
    """A line of a graph in the dashboard body's ``metrics`` array."""
    if isinstance(line, Search):
        return [{"expression": line.expression(refs[Ref.APP_NAMESPACE], period), "id": line.id}]
    if isinstance(line, Expression):
        return [{"expression": line.text, "id": line.id, "label": line.label}]
    options: dict[str, Any] = {"id": line.id, "stat": line.statistic}
    if line.label:
        options["label"] = line.label
    if not visible:
        options["visible"] = False
    dimensions = [part for name, value in line.dimensions for part in (name, resolve(value, refs))]
    return [resolve(line.namespace, refs), line.name, *dimensions, options]


def dashboard_body(
    refs: Mapping[Ref, Any],
    region: Any,
    alarm_arn: Callable[[Alarm], Any],
    release: bool = False,
) -> dict[str, Any]:
    """The dashboard's body (CloudWatch's dashboard body structure), given how a format
    names the references, the region and each alarm's ARN. The namespace must be the
    literal name: SEARCH expressions hold it in their text."""
    if not isinstance(refs[Ref.APP_NAMESPACE], str):
        raise TypeError("the app's namespace must be a literal: SEARCH expressions hold it")
    widgets: list[dict[str, Any]] = []
    x = y = 0
    for widget in dashboard_widgets(release):
        if x + widget.width > DASHBOARD_COLUMNS:
            x, y = 0, y + WIDGET_HEIGHT
        place = {"x": x, "y": y, "width": widget.width, "height": WIDGET_HEIGHT}
        x += widget.width
        if isinstance(widget, AlarmStatus):
            properties: dict[str, Any] = {
                "title": widget.title,
                "alarms": [alarm_arn(spec) for spec in widget.alarms],
            }
            widgets.append({"type": "alarm", **place, "properties": properties})
            continue
        properties = {
            "title": widget.title,
            "region": region,
            "view": "timeSeries",
            "stacked": widget.stacked,
            "period": widget.period,
            "metrics": [_line(line, refs, widget.period) for line in widget.lines]
            + [_line(metric, refs, widget.period, visible=False) for metric in widget.inputs],
        }
        if widget.alarm is not None:
            properties["annotations"] = {
                "horizontal": [
                    {"label": f"{widget.alarm.key} threshold", "value": widget.alarm.threshold}
                ]
            }
        widgets.append({"type": "metric", **place, "properties": properties})
    return {"widgets": widgets}


# --- accepted checkov findings ------------------------------------------------------------

#: Findings we accept, by the resource they concern, each with its reason. Both formats
#: carry them: CloudFormation as resource Metadata, Terraform through ``infra.scan``.
ACCEPTED_FINDINGS: dict[str, dict[str, str]] = {
    "function": {
        "CKV_AWS_116": "Invoked synchronously by API Gateway; a dead-letter queue only "
        "receives failed asynchronous invocations",
        "CKV_AWS_117": "Calls only AWS endpoints (DynamoDB, Secrets Manager); a VPC would "
        "add NAT cost and cold-start time and protect nothing",
        "CKV_AWS_173": "The environment holds names and ARNs, no secrets (the cursor secret "
        "is read from Secrets Manager); Lambda encrypts it at rest with an AWS key",
        "CKV_AWS_272": "The package is built and deployed by the same pipeline; code signing "
        "needs a signing profile this template cannot assume",
        "CKV_AWS_115": "dev only: stage throttling caps load; prod reserves concurrency",
    },
    "rest_api": {
        "CKV_AWS_120": "Responses are per user and conditional (ETag); caching them at the "
        "gateway would serve one owner's tasks to another",
        "CKV_AWS_225": "Same as CKV_AWS_120: no response caching for per-user data",
        "CKV2_AWS_29": "WAF is an account-level choice with its own cost; stage throttling "
        "and Cognito authorisation protect the API. Attach a web ACL to the stage if needed",
        "CKV2_AWS_51": "Clients are browsers and scripts with Cognito tokens, not mutual TLS "
        "peers; the backend is Lambda, which needs no client certificate",
        "CKV_AWS_237": "Replacing the REST API gives it a new id and URL in any order; the "
        "deployment, replaced on every change, has create_before_destroy",
        "CKV2_AWS_4": "Execution logging is off on purpose: it writes to a log group no stack "
        "manages, kept forever; the access log has one line per request",
    },
    "hook": {
        "CKV_AWS_116": "Invoked synchronously by CodeDeploy once per release; CodeDeploy "
        "fails the release when it does not answer, so a dead-letter queue adds nothing",
        "CKV_AWS_117": "Calls only AWS endpoints (Lambda, CodeDeploy); a VPC would add NAT "
        "cost and protect nothing",
        "CKV_AWS_173": "The environment holds a version ARN and the app client id, no "
        "secrets; Lambda encrypts it at rest with an AWS key",
        "CKV_AWS_272": "The package is built and deployed by the same pipeline; code signing "
        "needs a signing profile this template cannot assume",
        "CKV_AWS_115": "Runs once per release, one invocation at a time",
    },
    "consumer": {
        "CKV_AWS_116": "Invoked synchronously by the stream's event source mapping; what it "
        "gives up on goes to the mapping's on-failure destination (the failure queue), which a "
        "function dead-letter queue would never receive",
        "CKV_AWS_117": "Calls only AWS endpoints (DynamoDB, its stream, SQS); a VPC would add "
        "NAT cost and protect nothing",
        "CKV_AWS_173": "The environment holds names, no secrets; Lambda encrypts it at rest "
        "with an AWS key",
        "CKV_AWS_272": "The package is built and deployed by the same pipeline; code signing "
        "needs a signing profile this template cannot assume",
        "CKV_AWS_115": "dev only: the stream's shards bound its concurrency; prod reserves some",
    },
    "table": {
        "CKV_AWS_119": "Encrypted with the AWS-managed KMS key (aws/dynamodb); a customer "
        "key adds a key policy to manage and per-request KMS cost",
    },
    "secret": {
        "CKV_AWS_149": "Read only by this account's function; the AWS-managed key "
        "(aws/secretsmanager) encrypts it",
        "CKV2_AWS_57": "Rotated by hand (prepend a new key, drop the old one a day later: "
        "docs/security.md); a rotation Lambda would be one more function to run for a key that "
        "only signs list cursors",
    },
    "log_group": {
        "CKV_AWS_158": "Logs hold no secrets or task contents; CloudWatch Logs encrypts "
        "them at rest with an AWS key",
        "CKV_AWS_338": "Retention is set per stage (14 days dev, 90 prod), not a year",
    },
    "user_pool": {},
    "topic": {},
    "queue": {
        "CKV_AWS_27": "Encrypted at rest with SQS-managed keys (SqsManagedSseEnabled), which "
        "the consumer can send to with no KMS rights; checkov's CloudFormation check only "
        "recognises KmsMasterKeyId (its Terraform check accepts SQS-managed keys)",
    },
}


#: Which resources each group of accepted findings applies to, by CloudFormation logical
#: id and by Terraform address (``*`` matches any name).
FINDING_GROUPS_CLOUDFORMATION = {
    "APIHandler": "function",
    "RecordActivity": "consumer",
    "PreTrafficHook": "hook",
    "HookLogGroup": "log_group",
    "RestAPI": "rest_api",
    "TasksTable": "table",
    "CursorSecret": "secret",
    "ApiHandlerLogGroup": "log_group",
    "ApiAccessLogGroup": "log_group",
    "ConsumerLogGroup": "log_group",
    "StreamFailureQueue": "queue",
}
FINDING_GROUPS_TERRAFORM = {
    "aws_lambda_function.api_handler": "function",
    "aws_lambda_function.record_activity": "consumer",
    "aws_lambda_function.pre_traffic_hook": "hook",
    "aws_api_gateway_rest_api.rest_api": "rest_api",
    "aws_api_gateway_stage.api": "rest_api",
    "aws_api_gateway_method_settings.all": "rest_api",
    "aws_dynamodb_table.tasks": "table",
    "aws_secretsmanager_secret.cursor": "secret",
    "aws_cloudwatch_log_group.*": "log_group",
    "aws_cognito_user_pool.tasks": "user_pool",
    "aws_sns_topic.alarms": "topic",
    "aws_sqs_queue.stream_failures": "queue",
}


class Concurrency(Protocol):
    """What a stage reserves for each function (``infra.stages.Stage``)."""

    @property
    def reserved_concurrency(self) -> int | None: ...

    @property
    def consumer_reserved_concurrency(self) -> int | None: ...


def accepted_findings(group: str, stage: Concurrency) -> dict[str, str]:
    """A group's accepted findings on a stage: a function whose concurrency the stage
    reserves does not need the reserved-concurrency exception."""
    findings = ACCEPTED_FINDINGS.get(group, {})
    reserved = {
        "function": stage.reserved_concurrency,
        "consumer": stage.consumer_reserved_concurrency,
    }
    if reserved.get(group):
        findings = {k: v for k, v in findings.items() if k != "CKV_AWS_115"}
    return findings
