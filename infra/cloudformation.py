"""CloudFormation for the deployed stages, rendered from ``infra.definitions``.

Two templates share the same resources:

- ``sam_merge_template``: merged by ``chalice package --merge-template`` into Chalice's SAM
  template, so one stack holds the API and everything it needs;
- ``support_template``: a stack of its own for ``chalice deploy``, which creates the API
  itself (see ``infra.support``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from infra import definitions as d
from infra.stages import Stage

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


def _supporting(stage: Stage, *, function: Any) -> Template:
    """Everything but the API and its function, as a template fragment. ``function`` is
    how the template names the function (the alarms' dimension)."""
    resources: Template = {
        "TasksTable": tasks_table(stage),
        "TasksUserPool": user_pool(stage),
        "TasksUserPoolClient": user_pool_client(stage),
        "CursorSecret": cursor_secret(stage),
        "ApiHandlerLogGroup": log_group(stage, stage.function_log_group),
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
        d.Ref.TABLE: _ref("TasksTable"),
        d.Ref.APP_NAMESPACE: stage.metrics_namespace,
    }
    for spec in d.ALARMS:
        resources[f"{spec.key}Alarm"] = alarm(stage, spec, refs)
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
            "UserPoolId": {"Value": _ref("TasksUserPool")},
            "UserPoolArn": {"Value": _arn("TasksUserPool")},
            "UserPoolClientId": {"Value": _ref("TasksUserPoolClient")},
            "CursorSecretArn": {"Value": _ref("CursorSecret")},
            "AlarmTopicArn": {"Value": _ref("AlarmTopic")},
            "AlarmTopicKeyArn": {"Value": _arn("AlarmTopicKey")},
            "AccessLogGroupArn": {"Value": _arn("ApiAccessLogGroup")},
        },
    }


def _accept_findings(stage: Stage, resources: Template) -> None:
    for name, group in d.FINDING_GROUPS_CLOUDFORMATION.items():
        findings = d.accepted_findings(group, stage.reserved_concurrency)
        if name in resources and findings:
            skips = [{"id": check, "comment": reason} for check, reason in findings.items()]
            resources[name]["Metadata"] = {"checkov": {"skip": skips}}


def sam_merge_template(stage: Stage) -> Template:
    """What ``chalice package --merge-template`` adds to, and changes in, Chalice's SAM
    template. Dicts merge key by key; lists and scalars replace Chalice's."""
    template = _supporting(stage, function=_ref("APIHandler"))
    resources = template["Resources"]
    function: Template = {
        "FunctionName": stage.function_name,
        "Tracing": "Active",
        # Resolved when the stack is deployed, in its region.
        "Layers": [f"{{{{resolve:ssm:{d.POWERTOOLS_LAYER_PARAMETER}}}}}"],
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
    resources["APIHandler"] = {"Properties": function}
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
    template = _supporting(stage, function=stage.function_name)
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
        "Description": f"{stage.prefix}: table, users, cursor secret, logs, alarms and the "
        "Powertools layer's ARN for chalice deploy",
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
    resources = _supporting(stage, function=stage.function_name)["Resources"]
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
