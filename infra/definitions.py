"""The supporting resources, defined once in neutral form.

``cloudformation.py`` and ``terraform.py`` render these facts in their own syntax; neither
holds a setting of its own. The table itself comes from ``chalicelib.table``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from chalicelib.table import TABLE_DEFINITION, TTL_ATTRIBUTE  # noqa: F401  (re-exported)
from chalicelib.web import (
    CORS_EXPOSE_HEADERS,
    GATEWAY_PROBLEM,
    GATEWAY_PROBLEM_TITLE,
    PROBLEM_JSON,
)

# --- identity -----------------------------------------------------------------------------

#: Sign-in by e-mail; Cognito's ``sub`` (a UUID) is the task owner, never the e-mail.
PASSWORD_MIN_LENGTH = 12
TEMPORARY_PASSWORD_DAYS = 7
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
GATEWAY_PROBLEM_TEMPLATE = (
    '{"type":"' + GATEWAY_PROBLEM + '",'
    '"title":"' + GATEWAY_PROBLEM_TITLE + '",'
    '"detail":$context.error.messageString,'
    '"code":"$context.error.responseType",'
    '"requestId":"$context.requestId"}'
)
GATEWAY_RESPONSE_TYPES = ("DEFAULT_4XX", "DEFAULT_5XX")


def gateway_response_headers(cors_origin: str) -> dict[str, str]:
    """Header values as API Gateway wants them: static values in single quotes."""
    headers = {"Content-Type": PROBLEM_JSON}
    if cors_origin:
        headers |= {
            "Access-Control-Allow-Origin": cors_origin,
            "Access-Control-Expose-Headers": ",".join(CORS_EXPOSE_HEADERS),
            "Vary": "Origin",
        }
    return {name: f"'{value}'" for name, value in headers.items()}


# --- alarms -------------------------------------------------------------------------------

#: Operations whose throttling the table alarm sums: those the API calls.
TABLE_OPERATIONS = ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "TransactWriteItems")


@dataclass(frozen=True)
class Alarm:
    """A CloudWatch alarm on one metric of the API, the function or the table."""

    key: str  # logical name, and the alarm name's suffix
    description: str
    namespace: str
    metric: str
    subject: str  # "api", "function" or "table": which dimensions
    statistic: str  # "Sum", "Average", or a percentile such as "p99"
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float

    @property
    def percentile(self) -> bool:
        return self.statistic.startswith("p")


ALARMS = (
    Alarm(
        key="Api5xxRate",
        description="More than 1% of API requests failed with a 5xx in 3 of 5 minutes",
        namespace="AWS/ApiGateway",
        metric="5XXError",
        subject="api",
        statistic="Average",  # 5XXError is 0 or 1 per request: its average is the rate
        period=60,
        evaluation_periods=5,
        datapoints_to_alarm=3,
        threshold=0.01,
    ),
    Alarm(
        key="ApiLatencyP99",
        description="API p99 latency above 2 seconds in 2 of 3 five-minute periods",
        namespace="AWS/ApiGateway",
        metric="Latency",
        subject="api",
        statistic="p99",
        period=300,
        evaluation_periods=3,
        datapoints_to_alarm=2,
        threshold=2000,
    ),
    Alarm(
        key="LambdaErrors",
        description="The API handler raised errors (unhandled exceptions, time-outs)",
        namespace="AWS/Lambda",
        metric="Errors",
        subject="function",
        statistic="Sum",
        period=300,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        threshold=0,
    ),
    Alarm(
        key="LambdaThrottles",
        description="Invocations of the API handler were throttled",
        namespace="AWS/Lambda",
        metric="Throttles",
        subject="function",
        statistic="Sum",
        period=300,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        threshold=0,
    ),
    Alarm(
        key="TableThrottledRequests",
        description="DynamoDB throttled requests to the tasks table",
        namespace="AWS/DynamoDB",
        metric="ThrottledRequests",
        subject="table",  # summed over TABLE_OPERATIONS with metric math
        statistic="Sum",
        period=300,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        threshold=0,
    ),
)

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
    "table": {
        "CKV_AWS_119": "Encrypted with the AWS-managed KMS key (aws/dynamodb); a customer "
        "key adds a key policy to manage and per-request KMS cost",
    },
    "secret": {
        "CKV_AWS_149": "Read only by this account's function; the AWS-managed key "
        "(aws/secretsmanager) encrypts it",
        "CKV2_AWS_57": "Rotated by hand (prepend a new key, drop the old one a day later: "
        "README); a rotation Lambda would be one more function to run for a key that only "
        "signs list cursors",
    },
    "log_group": {
        "CKV_AWS_158": "Logs hold no secrets or task contents; CloudWatch Logs encrypts "
        "them at rest with an AWS key",
        "CKV_AWS_338": "Retention is set per stage (14 days dev, 90 prod), not a year",
    },
    "user_pool": {},
    "topic": {},
}


#: Which resources each group of accepted findings applies to, by CloudFormation logical
#: id and by Terraform address (``*`` matches any name).
FINDING_GROUPS_CLOUDFORMATION = {
    "APIHandler": "function",
    "RestAPI": "rest_api",
    "TasksTable": "table",
    "CursorSecret": "secret",
    "ApiHandlerLogGroup": "log_group",
    "ApiAccessLogGroup": "log_group",
}
FINDING_GROUPS_TERRAFORM = {
    "aws_lambda_function.api_handler": "function",
    "aws_api_gateway_rest_api.rest_api": "rest_api",
    "aws_api_gateway_stage.api": "rest_api",
    "aws_api_gateway_method_settings.all": "rest_api",
    "aws_dynamodb_table.tasks": "table",
    "aws_secretsmanager_secret.cursor": "secret",
    "aws_cloudwatch_log_group.*": "log_group",
    "aws_cognito_user_pool.tasks": "user_pool",
    "aws_sns_topic.alarms": "topic",
}


def accepted_findings(group: str, reserved_concurrency: int | None) -> dict[str, str]:
    """A group's accepted findings on a stage: a stage that reserves concurrency does not
    need the reserved-concurrency exception."""
    findings = ACCEPTED_FINDINGS.get(group, {})
    if group == "function" and reserved_concurrency:
        findings = {k: v for k, v in findings.items() if k != "CKV_AWS_115"}
    return findings
