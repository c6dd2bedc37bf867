"""CloudFormation for the deployed stages, rendered from ``infra.definitions``.

Two templates share the same resources:

- ``sam_merge_template``: merged by ``chalice package --merge-template`` into Chalice's SAM
  template, so one stack holds the API and everything it needs;
- ``support_template``: a stack of its own for ``chalice deploy``, which creates the API
  itself (see ``infra.support``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from chalice.utils import to_cfn_resource_name

from infra import definitions as d
from infra.stages import CONSUMER, CONSUMER_EVENT_SOURCE, Stage

Template = dict[str, Any]

#: The support stack's parameter and output that carry the Powertools layer's ARN.
POWERTOOLS_LAYER = "PowertoolsLayerArn"
#: Chalice's body is Swagger 2.0. Any ``OpenApiVersion`` stops SAM from adding a second,
#: unconfigured stage named ``Stage``; "2.0" is the one that describes the body as it is.
OPEN_API_VERSION = "2.0"
#: On protected stages, what a stack deletion keeps. ``RetainExceptOnCreate``: kept, except
#: when the stack operation that created it fails and rolls back, so a failed first create
#: leaves nothing behind to block the next one (UpdateReplacePolicy has no such value).
RETAINED = {"DeletionPolicy": "RetainExceptOnCreate", "UpdateReplacePolicy": "Retain"}
DELETED = {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"}
#: Chalice's logical ids for the stream consumer and its DynamoDB event in the SAM template.
CONSUMER_FUNCTION = to_cfn_resource_name(CONSUMER)
CONSUMER_EVENT = to_cfn_resource_name(CONSUMER_EVENT_SOURCE)
#: The failure queue, and the outputs ``infra.support`` reads for ``chalice deploy``.
FAILURE_QUEUE = "StreamFailureQueue"
STREAM_ARN_OUTPUT = "TasksStreamArn"
FAILURE_QUEUE_ARN_OUTPUT = "StreamFailureQueueArn"
#: The stage's dashboard.
DASHBOARD = "Dashboard"


def _ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def _arn(name: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [name, "Arn"]}


def _tags(stage: Stage) -> list[dict[str, str]]:
    return [{"Key": "app", "Value": stage.app_name}, {"Key": "stage", "Value": stage.name}]


def _kept(stage: Stage, resource: Template) -> Template:
    """Data a user stored survives the stack on protected stages."""
    return {**resource, **(RETAINED if stage.tuning.protect_data else DELETED)}


def tasks_table(stage: Stage) -> Template:
    properties = copy.deepcopy(d.TABLE_DEFINITION)
    stream = properties.pop("StreamSpecification")  # CreateTable's shape; CloudFormation's:
    properties |= {
        "StreamSpecification": {"StreamViewType": stream["StreamViewType"]},
        "TableName": stage.table_name,
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {"SSEEnabled": True},  # KMS with the AWS-managed key
        "TimeToLiveSpecification": {"AttributeName": d.TTL_ATTRIBUTE, "Enabled": True},
        "DeletionProtectionEnabled": stage.tuning.protect_data,
        "Tags": _tags(stage),
    }
    return _kept(stage, {"Type": "AWS::DynamoDB::Table", "Properties": properties})


def user_pool(stage: Stage) -> Template:
    return _kept(
        stage,
        {
            "Type": "AWS::Cognito::UserPool",
            "Properties": {
                "UserPoolName": stage.prefix,
                "UsernameAttributes": ["email"],
                "AutoVerifiedAttributes": ["email"],
                "UsernameConfiguration": {"CaseSensitive": False},
                "AdminCreateUserConfig": {
                    "AllowAdminCreateUserOnly": not stage.tuning.allow_self_sign_up
                },
                "Policies": {
                    "PasswordPolicy": {
                        "MinimumLength": d.PASSWORD_MIN_LENGTH,
                        "RequireLowercase": d.PASSWORD_REQUIRES_CHARACTER_CLASSES,
                        "RequireUppercase": d.PASSWORD_REQUIRES_CHARACTER_CLASSES,
                        "RequireNumbers": d.PASSWORD_REQUIRES_CHARACTER_CLASSES,
                        "RequireSymbols": d.PASSWORD_REQUIRES_CHARACTER_CLASSES,
                        "TemporaryPasswordValidityDays": d.TEMPORARY_PASSWORD_DAYS,
                    }
                },
                "MfaConfiguration": d.MFA_CONFIGURATION,
                "EnabledMfas": ["SOFTWARE_TOKEN_MFA"],
                "AccountRecoverySetting": {
                    "RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]
                },
                "DeletionProtection": "ACTIVE" if stage.tuning.protect_data else "INACTIVE",
                "UserPoolTags": {"app": stage.app_name, "stage": stage.name},
            },
        },
    )


def user_pool_client(stage: Stage) -> Template:
    return {
        "Type": "AWS::Cognito::UserPoolClient",
        "Properties": {
            "UserPoolId": _ref("TasksUserPool"),
            "ClientName": f"{stage.prefix}-web",
            "GenerateSecret": False,
            "ExplicitAuthFlows": list(d.CLIENT_AUTH_FLOWS),
            "PreventUserExistenceErrors": "ENABLED",
            "EnableTokenRevocation": True,
            "IdTokenValidity": d.ID_TOKEN_MINUTES,
            "AccessTokenValidity": d.ACCESS_TOKEN_MINUTES,
            "RefreshTokenValidity": d.REFRESH_TOKEN_DAYS,
            "TokenValidityUnits": {
                "IdToken": "minutes",
                "AccessToken": "minutes",
                "RefreshToken": "days",
            },
            "SupportedIdentityProviders": ["COGNITO"],
        },
    }


def cursor_secret(stage: Stage) -> Template:
    return {
        "Type": "AWS::SecretsManager::Secret",
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Properties": {
            "Name": stage.secret_name,
            "Description": "List cursor HMAC keys: comma-separated, the signing key first",
            "GenerateSecretString": {
                "PasswordLength": d.SECRET_LENGTH,
                "ExcludePunctuation": True,
                "IncludeSpace": False,
            },
            "Tags": _tags(stage),
        },
    }


def log_group(stage: Stage, name: str) -> Template:
    return _kept(
        stage,
        {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": name,
                "RetentionInDays": stage.tuning.log_retention_days,
                "Tags": _tags(stage),
            },
        },
    )


def topic_key(stage: Stage) -> dict[str, Template]:
    """The alarm topic's customer-managed key, whose policy lets the publishers use it."""
    account_root = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
    return {
        "AlarmTopicKey": {
            "Type": "AWS::KMS::Key",
            "Properties": {
                "Description": f"{stage.prefix}: encrypts the alarm topic",
                "EnableKeyRotation": True,
                "PendingWindowInDays": d.TOPIC_KEY_DELETION_DAYS,
                "KeyPolicy": d.topic_key_policy(account_root, _ref("AWS::AccountId")),
                "Tags": _tags(stage),
            },
        },
        "AlarmTopicKeyAlias": {
            "Type": "AWS::KMS::Alias",
            "Properties": {
                "AliasName": stage.alarm_topic_key_alias,
                "TargetKeyId": _ref("AlarmTopicKey"),
            },
        },
    }


def api_gateway_account() -> dict[str, Template]:
    """API Gateway writes access logs only once the account (per region) names a role
    for it. The role is retained: other APIs in the account may rely on it."""
    return {
        "ApiGatewayCloudWatchRole": {
            "Type": "AWS::IAM::Role",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "apigateway.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "ManagedPolicyArns": [
                    {
                        "Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/"
                        "AmazonAPIGatewayPushToCloudWatchLogs"
                    }
                ],
            },
        },
        "ApiGatewayAccount": {
            "Type": "AWS::ApiGateway::Account",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {"CloudWatchRoleArn": _arn("ApiGatewayCloudWatchRole")},
        },
    }


def _metric(metric: d.Metric, refs: Mapping[d.Ref, Any]) -> Template:
    return {
        "Namespace": d.resolve(metric.namespace, refs),
        "MetricName": metric.name,
        "Dimensions": [
            {"Name": name, "Value": d.resolve(value, refs)} for name, value in metric.dimensions
        ],
    }


def alarm(stage: Stage, spec: d.Alarm, refs: Mapping[d.Ref, Any]) -> Template:
    """One alarm of ``infra.definitions.ALARMS``: a single metric, or metric queries whose
    expression alone returns data."""
    properties: Template = {
        "AlarmName": f"{stage.prefix}-{spec.key}",
        "AlarmDescription": spec.description,
        "ActionsEnabled": True,
        "AlarmActions": [_ref("AlarmTopic")],
        "OKActions": [_ref("AlarmTopic")],
        "TreatMissingData": "notBreaching",
        "EvaluationPeriods": spec.evaluation_periods,
        "DatapointsToAlarm": spec.datapoints_to_alarm,
        "Threshold": spec.threshold,
        "ComparisonOperator": "GreaterThanThreshold",
    }
    if spec.expression is None:
        (metric,) = spec.metrics
        statistic_key = "ExtendedStatistic" if metric.percentile else "Statistic"
        properties |= _metric(metric, refs)
        properties |= {"Period": spec.period, statistic_key: metric.statistic}
    else:
        properties["Metrics"] = [
            {
                "Id": metric.id,
                "ReturnData": False,
                "MetricStat": {
                    "Metric": _metric(metric, refs),
                    "Period": spec.period,
                    "Stat": metric.statistic,
                },
            }
            for metric in spec.metrics
        ] + [
            {
                "Id": spec.expression.id,
                "Label": spec.expression.label,
                "ReturnData": True,
                "Expression": spec.expression.text,
            }
        ]
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": properties}


def _alarm_id(spec: d.Alarm) -> str:
    return f"{spec.key}Alarm"


def dashboard(stage: Stage, refs: Mapping[d.Ref, Any], release: bool) -> Template:
    """The stage's dashboard (``infra.definitions.dashboard_widgets``). Its body is one JSON
    string: ``Fn::Sub`` puts in the names of the stack's own function, consumer, table and
    queue (variables), the region and each alarm's ARN."""
    variables = {ref: ref.name.title().replace("_", "") for ref in d.Ref}
    placeholders: dict[d.Ref, Any] = {ref: f"${{{name}}}" for ref, name in variables.items()}
    placeholders[d.Ref.APP_NAMESPACE] = refs[d.Ref.APP_NAMESPACE]  # a literal: SEARCH reads it
    body = json.dumps(
        d.dashboard_body(
            placeholders,
            "${AWS::Region}",
            lambda spec: f"${{{_alarm_id(spec)}.Arn}}",
            release,
        ),
        separators=(",", ":"),
    )
    used = {
        name: refs[ref]
        for ref, name in variables.items()
        if ref is not d.Ref.APP_NAMESPACE and f"${{{name}}}" in body
    }
    return {
        "Type": "AWS::CloudWatch::Dashboard",
        "Properties": {
            "DashboardName": stage.dashboard_name,
            "DashboardBody": {"Fn::Sub": [body, used]},
        },
    }


def failure_queue(stage: Stage) -> Template:
    """Where the consumer's event source mapping sends what it gives up on: the place of
    each record in the stream, kept 14 days, encrypted with SQS's own key (the consumer
    needs no KMS rights to send)."""
    return {
        "Type": "AWS::SQS::Queue",
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Properties": {
            "QueueName": stage.failure_queue_name,
            "MessageRetentionPeriod": d.FAILURE_QUEUE_RETENTION_SECONDS,
            "SqsManagedSseEnabled": True,
            "Tags": _tags(stage),
        },
    }


def _supporting(stage: Stage, *, function: Any, consumer: Any, release: bool = False) -> Template:
    """Everything but the API and the functions, as a template fragment. ``function`` and
    ``consumer`` are how the template names the API's and the stream consumer's functions
    (the alarms' dimensions)."""
    resources: Template = {
        "TasksTable": tasks_table(stage),
        "TasksUserPool": user_pool(stage),
        "TasksUserPoolClient": user_pool_client(stage),
        "CursorSecret": cursor_secret(stage),
        "ApiHandlerLogGroup": log_group(stage, stage.function_log_group),
        "ConsumerLogGroup": log_group(stage, stage.consumer_log_group),
        FAILURE_QUEUE: failure_queue(stage),
        "ApiAccessLogGroup": {
            **log_group(stage, stage.access_log_group),
            "DependsOn": ["ApiGatewayAccount"],  # so the stage that logs here comes after
        },
        **api_gateway_account(),
        **topic_key(stage),
        "AlarmTopic": {
            "Type": "AWS::SNS::Topic",
            "Properties": {
                "TopicName": stage.alarm_topic_name,
                "KmsMasterKeyId": _arn("AlarmTopicKey"),
                "Tags": _tags(stage),
            },
        },
        "AlarmEmailSubscription": {
            "Type": "AWS::SNS::Subscription",
            "Condition": "HasAlarmEmail",
            "Properties": {
                "TopicArn": _ref("AlarmTopic"),
                "Protocol": "email",
                "Endpoint": _ref("AlarmEmail"),
            },
        },
    }
    refs = {
        d.Ref.FUNCTION: function,
        d.Ref.CONSUMER: consumer,
        d.Ref.TABLE: _ref("TasksTable"),
        d.Ref.FAILURE_QUEUE: {"Fn::GetAtt": [FAILURE_QUEUE, "QueueName"]},
        d.Ref.APP_NAMESPACE: stage.metrics_namespace,
    }
    for spec in d.ALARMS:
        resources[_alarm_id(spec)] = alarm(stage, spec, refs)
    resources[DASHBOARD] = dashboard(stage, refs, release)
    return {
        "Parameters": {
            "AlarmEmail": {
                "Type": "String",
                "Default": "",
                "Description": "E-mail address subscribed to the alarm topic (optional)",
            }
        },
        "Conditions": {"HasAlarmEmail": {"Fn::Not": [{"Fn::Equals": [_ref("AlarmEmail"), ""]}]}},
        "Resources": resources,
        "Outputs": {
            "TasksTableName": {"Value": _ref("TasksTable")},
            STREAM_ARN_OUTPUT: {"Value": {"Fn::GetAtt": ["TasksTable", "StreamArn"]}},
            FAILURE_QUEUE_ARN_OUTPUT: {"Value": _arn(FAILURE_QUEUE)},
            "UserPoolId": {"Value": _ref("TasksUserPool")},
            "UserPoolArn": {"Value": _arn("TasksUserPool")},
            "UserPoolClientId": {"Value": _ref("TasksUserPoolClient")},
            "CursorSecretArn": {"Value": _ref("CursorSecret")},
            "AlarmTopicArn": {"Value": _ref("AlarmTopic")},
            "AlarmTopicKeyArn": {"Value": _arn("AlarmTopicKey")},
            "AccessLogGroupArn": {"Value": _arn("ApiAccessLogGroup")},
            d.DASHBOARD_URL_OUTPUT: {
                "Value": {
                    "Fn::Sub": d.DASHBOARD_URL.format(
                        region="${AWS::Region}", name=f"${{{DASHBOARD}}}"
                    )
                }
            },
        },
    }


def consumer_function(stage: Stage, layers: list[str]) -> Template:
    """What the merge adds to Chalice's consumer: the name ``chalice deploy`` gives it, its
    log group, and its DynamoDB event on the stack's own table's stream (Chalice writes the
    placeholder ARN the app reads at packaging time) with the failure settings Chalice's
    decorator cannot express. SAM turns the event into an ``AWS::Lambda::EventSourceMapping``."""
    return {
        "FunctionName": stage.consumer_function_name,
        "Tracing": "Active",
        "Layers": layers,
        "LoggingConfig": {"LogGroup": _ref("ConsumerLogGroup"), "LogFormat": "Text"},
        # The shared runtime wants a cursor secret's source; it reads the secret only to
        # sign a page's cursor, which the consumer never does (its role cannot read it).
        "Environment": {
            "Variables": {
                "TASKS_TABLE_NAME": _ref("TasksTable"),
                "TASKS_CURSOR_SECRET_ARN": _ref("CursorSecret"),
            }
        },
        "Events": {
            CONSUMER_EVENT: {
                "Properties": {
                    "Stream": {"Fn::GetAtt": ["TasksTable", "StreamArn"]},
                    **d.stream_failure_settings(_arn(FAILURE_QUEUE)),
                }
            }
        },
    }


#: SAM's names for what ``AutoPublishAlias`` makes: the alias (its documented logical id,
#: which cfn-lint resolves in ``Fn::Sub``, unlike ``APIHandler.Alias``), the version just
#: published, and its number.
API_ALIAS = f"APIHandlerAlias{d.ALIAS}"
NEW_VERSION = {"Ref": "APIHandler.Version"}
NEW_VERSION_NUMBER = {"Fn::GetAtt": ["APIHandler.Version", "Version"]}


def canary(stage: Stage, resources: Template) -> Template:
    """The API handler's release: SAM publishes a version on each change (``AutoPublishAlias``)
    and CodeDeploy moves the alias to it by the stage's configuration, after the pre-traffic
    hook, rolling back when an alarm on that version fires. Adds those alarms to
    ``resources``; returns the function's properties."""
    refs = {
        d.Ref.FUNCTION: _ref("APIHandler"),
        d.Ref.VERSION: NEW_VERSION_NUMBER,
        d.Ref.FUNCTION_ALIAS: {"Fn::Sub": f"${{APIHandler}}:{d.ALIAS}"},
        d.Ref.APP_NAMESPACE: stage.metrics_namespace,
    }
    for spec in d.CANARY_ALARMS:
        resources[f"{spec.key}Alarm"] = alarm(stage, spec, refs)
    resources[PRE_TRAFFIC_HOOK] = pre_traffic_hook(stage)
    resources["HookLogGroup"] = log_group(stage, stage.hook_log_group)
    return {
        "AutoPublishAlias": d.ALIAS,
        "DeploymentPreference": {
            "Type": stage.tuning.release.configuration,
            "Alarms": [_ref(f"{spec.key}Alarm") for spec in d.CANARY_ALARMS],
            "Hooks": {"PreTraffic": _ref(PRE_TRAFFIC_HOOK)},
        },
    }


PRE_TRAFFIC_HOOK = "PreTrafficHook"
#: Where Chalice's SAM template finds the package, for every function in it.
CODE_URI = "./deployment.zip"
HOOK_HANDLER = "chalicelib.release.hook.handler"


def pre_traffic_hook(stage: Stage) -> Template:
    """The hook (``chalicelib.release.hook``), from the API's own package: it may invoke the
    API's versions and report to CodeDeploy, nothing else."""
    return {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "FunctionName": stage.pre_traffic_hook_name,
            "CodeUri": CODE_URI,
            "Handler": HOOK_HANDLER,
            "Runtime": d.LAMBDA_RUNTIME,
            "Architectures": [d.LAMBDA_ARCHITECTURE],
            "MemorySize": stage.memory_size,
            "Timeout": 120,
            "Tracing": "Active",
            "LoggingConfig": {"LogGroup": _ref("HookLogGroup"), "LogFormat": "Text"},
            "Environment": {
                "Variables": {
                    "TASKS_NEW_VERSION_ARN": NEW_VERSION,
                    "COGNITO_USER_POOL_CLIENT_ID": _ref("TasksUserPoolClient"),
                }
            },
            "Policies": [
                {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "lambda:InvokeFunction",
                            "Resource": {"Fn::Sub": "${APIHandler.Arn}:*"},
                        },
                        {
                            "Effect": "Allow",
                            "Action": "codedeploy:PutLifecycleEventHookExecutionStatus",
                            "Resource": {
                                "Fn::Sub": "arn:${AWS::Partition}:codedeploy:${AWS::Region}:"
                                "${AWS::AccountId}:deploymentgroup:"
                                "${ServerlessDeploymentApplication}/*"
                            },
                        },
                    ]
                }
            ],
        },
    }


def invoking_the_alias(template: Template) -> Template:
    """Chalice's API invokes the unqualified function (``${APIHandler.Arn}``), which would
    keep every request on the newest code whatever CodeDeploy does: each integration
    invokes the alias instead."""
    text = json.dumps(template)
    unqualified = "/functions/${APIHandler.Arn}/invocations"
    if unqualified not in text:
        raise ValueError("Chalice's API no longer names ${APIHandler.Arn}: check the rewrite")
    return json.loads(text.replace(unqualified, f"/functions/${{{API_ALIAS}}}/invocations"))


def _accept_findings(stage: Stage, resources: Template) -> None:
    for name, group in d.FINDING_GROUPS_CLOUDFORMATION.items():
        findings = d.accepted_findings(group, stage)
        if name in resources and findings:
            skips = [{"id": check, "comment": reason} for check, reason in findings.items()]
            resources[name]["Metadata"] = {"checkov": {"skip": skips}}


def sam_merge_template(stage: Stage) -> Template:
    """What ``chalice package --merge-template`` adds to, and changes in, Chalice's SAM
    template. Dicts merge key by key; lists and scalars replace Chalice's."""
    template = _supporting(
        stage, function=_ref("APIHandler"), consumer=_ref(CONSUMER_FUNCTION), release=True
    )
    resources = template["Resources"]
    # Resolved when the stack is deployed, in its region.
    layers = [f"{{{{resolve:ssm:{d.POWERTOOLS_LAYER_PARAMETER}}}}}"]
    function: Template = {
        "FunctionName": stage.function_name,
        "Tracing": "Active",
        "Layers": layers,
        "LoggingConfig": {"LogGroup": _ref("ApiHandlerLogGroup"), "LogFormat": "Text"},
        "Environment": {
            "Variables": {
                "TASKS_TABLE_NAME": _ref("TasksTable"),
                "TASKS_CURSOR_SECRET_ARN": _ref("CursorSecret"),
                "COGNITO_USER_POOL_ARN": _arn("TasksUserPool"),
                "COGNITO_USER_POOL_CLIENT_ID": _ref("TasksUserPoolClient"),
            }
        },
    }
    # Reserved concurrency: Chalice writes the stage's reserved_concurrency itself.
    resources["APIHandler"] = {"Properties": {**function, **canary(stage, resources)}}
    resources[CONSUMER_FUNCTION] = {
        # Its stream mapping invokes the alias too; it takes a new version at once.
        "Properties": {**consumer_function(stage, layers), "AutoPublishAlias": d.ALIAS}
    }
    # API Gateway may invoke the alias, which is what it calls (``invoking_the_alias``).
    resources["APIHandlerInvokePermission"] = {"Properties": {"FunctionName": _ref(API_ALIAS)}}
    gateway_responses = {
        response_type: {
            "ResponseParameters": {
                "Headers": d.gateway_response_headers(stage.cors_origin, response_type)
            },
            "ResponseTemplates": {"application/json": d.GATEWAY_PROBLEM_TEMPLATE},
        }
        for response_type in d.GATEWAY_RESPONSE_TYPES
    }
    resources["RestAPI"] = {
        "Properties": {
            "OpenApiVersion": OPEN_API_VERSION,
            "TracingEnabled": True,
            "AccessLogSetting": {
                "DestinationArn": _arn("ApiAccessLogGroup"),
                "Format": d.ACCESS_LOG_FORMAT,
            },
            "MethodSettings": [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingRateLimit": stage.tuning.throttle_rate_limit,
                    "ThrottlingBurstLimit": stage.tuning.throttle_burst_limit,
                    "MetricsEnabled": True,
                    "DataTraceEnabled": False,
                    # Execution logs would go to a group no stack manages, kept forever;
                    # the access log has one line per request instead.
                    "LoggingLevel": "OFF",
                }
            ],
            "GatewayResponses": gateway_responses,
            "DefinitionBody": {
                "info": {"title": stage.prefix},
                "securityDefinitions": {
                    "TasksUserPool": {
                        "x-amazon-apigateway-authorizer": {"providerARNs": [_arn("TasksUserPool")]}
                    }
                },
            },
        }
    }
    _accept_findings(stage, resources)
    return template


def support_template(stage: Stage) -> Template:
    """The supporting resources as a stack of their own, for ``chalice deploy``, which
    names the function ``<app>-<stage>``. The stack also resolves the Powertools layer's
    ARN in its region, for ``infra.support`` to hand to Chalice (an output)."""
    template = _supporting(
        stage, function=stage.function_name, consumer=stage.consumer_function_name
    )
    _accept_findings(stage, template["Resources"])
    template["Parameters"][POWERTOOLS_LAYER] = {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": d.POWERTOOLS_LAYER_PARAMETER,
        "Description": "AWS's public SSM parameter holding the ARN of the Powertools for "
        f"AWS Lambda layer, version {d.POWERTOOLS_VERSION}",
    }
    template["Outputs"][POWERTOOLS_LAYER] = {"Value": _ref(POWERTOOLS_LAYER)}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"{stage.prefix}: table, users, cursor secret, logs, the stream's "
        "failure queue, alarms and the Powertools layer's ARN for chalice deploy",
        **template,
    }


#: How CloudFormation identifies each type of retained resource for an import.
IMPORT_IDENTIFIERS = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Cognito::UserPool": "UserPoolId",
}
#: The user pool's id is AWS's, not ours: docs/deploying/teardown.md shows how to fill it in.
USER_POOL_ID_PLACEHOLDER = "USER_POOL_ID"


def adoption(stage: Stage) -> tuple[Template, list[dict[str, Any]]]:
    """What a protected stage's stack deletion retains, as a template and the
    ``--resources-to-import`` list of a CloudFormation IMPORT change set: the first step of
    creating the stage again with its data (docs/deploying/teardown.md, "Creating prod
    again"). The same for the SAM stack and the support stack, which define these resources
    alike."""
    resources = _supporting(
        stage, function=stage.function_name, consumer=stage.consumer_function_name
    )["Resources"]
    kept = {
        name: {key: value for key, value in resource.items() if key != "DependsOn"}
        for name, resource in resources.items()
        if resource.get("DeletionPolicy") == RETAINED["DeletionPolicy"]
    }
    to_import = []
    for name, resource in kept.items():
        key = IMPORT_IDENTIFIERS[resource["Type"]]
        identifier = resource["Properties"].get(key, USER_POOL_ID_PLACEHOLDER)
        to_import.append(
            {
                "ResourceType": resource["Type"],
                "LogicalResourceId": name,
                "ResourceIdentifier": {key: identifier},
            }
        )
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"{stage.prefix}: the resources a deleted stack retained, to import",
        "Resources": kept,
    }
    return template, to_import
