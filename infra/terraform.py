"""Terraform for the deployed stages, rendered from ``infra.definitions``.

``chalice package --pkg-format terraform`` writes ``chalice.tf.json``; it is never edited.
Next to it go two files Terraform reads with it:

- ``task_api.tf.json``: the supporting resources (new blocks);
- ``task_api_override.tf.json``: changes to Chalice's blocks. Terraform merges
  ``*_override.tf.json`` files into the blocks they name: this lifts Chalice's version
  pins, replaces the deprecated ``stage_name`` deployment with an ``aws_api_gateway_stage``
  and wires the function to the table, the secret, the log group and the Powertools layer.
"""

from __future__ import annotations

import json
import re
from typing import Any

from infra import definitions as d
from infra.stages import Stage

Block = dict[str, Any]

#: Today's Terraform and AWS provider 5.x (5.32 added Lambda ``logging_config``; 6.0 drops
#: the deployment ``stage_name`` that Chalice's own block still declares, set to null here).
REQUIRED_VERSION = ">= 1.5.0"
REQUIRED_PROVIDERS = {
    "aws": {"source": "hashicorp/aws", "version": ">= 5.32, < 6.0"},
    "null": {"source": "hashicorp/null", "version": ">= 3.2, < 4.0"},
    "random": {"source": "hashicorp/random", "version": ">= 3.5, < 4.0"},
}

#: The Powertools layer's ARN, read from AWS's public SSM parameter (``supporting_file``).
POWERTOOLS_LAYER_REFERENCE = "${data.aws_ssm_parameter.powertools_layer.value}"

#: What the swagger's authorizer names as its user pool while packaging for Terraform.
USER_POOL_ARN_REFERENCE = "${aws_cognito_user_pool.tasks.arn}"

#: The web sign-in client's id, read by the app per request (never at packaging time).
USER_POOL_CLIENT_ID_REFERENCE = "${aws_cognito_user_pool_client.web.id}"


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _tags(stage: Stage) -> dict[str, str]:
    return {"app": stage.app_name, "stage": stage.name}


def tasks_table(stage: Stage) -> Block:
    definition = d.TABLE_DEFINITION
    keys = {k["KeyType"]: k["AttributeName"] for k in definition["KeySchema"]}
    indexes = []
    for index in definition["GlobalSecondaryIndexes"]:
        index_keys = {k["KeyType"]: k["AttributeName"] for k in index["KeySchema"]}
        indexes.append(
            {
                "name": index["IndexName"],
                "hash_key": index_keys["HASH"],
                "range_key": index_keys["RANGE"],
                "projection_type": index["Projection"]["ProjectionType"],
            }
        )
    block: Block = {
        "name": stage.table_name,
        "billing_mode": definition["BillingMode"],
        "hash_key": keys["HASH"],
        "range_key": keys["RANGE"],
        "attribute": [
            {"name": a["AttributeName"], "type": a["AttributeType"]}
            for a in definition["AttributeDefinitions"]
        ],
        "global_secondary_index": indexes,
        "ttl": {"attribute_name": d.TTL_ATTRIBUTE, "enabled": True},
        "point_in_time_recovery": {"enabled": True},
        "server_side_encryption": {"enabled": True},  # KMS with the AWS-managed key
        "deletion_protection_enabled": stage.tuning.protect_data,
        "tags": _tags(stage),
    }
    if stage.tuning.protect_data:
        block["lifecycle"] = {"prevent_destroy": True}
    return block


def user_pool(stage: Stage) -> Block:
    block: Block = {
        "name": stage.prefix,
        "username_attributes": ["email"],
        "auto_verified_attributes": ["email"],
        "username_configuration": {"case_sensitive": False},
        "password_policy": {
            "minimum_length": d.PASSWORD_MIN_LENGTH,
            "require_lowercase": True,
            "require_uppercase": True,
            "require_numbers": True,
            "require_symbols": False,
            "temporary_password_validity_days": d.TEMPORARY_PASSWORD_DAYS,
        },
        "mfa_configuration": "OPTIONAL",
        "software_token_mfa_configuration": {"enabled": True},
        "account_recovery_setting": {
            "recovery_mechanism": [{"name": "verified_email", "priority": 1}]
        },
        "deletion_protection": "ACTIVE" if stage.tuning.protect_data else "INACTIVE",
        "tags": _tags(stage),
    }
    if stage.tuning.protect_data:
        block["lifecycle"] = {"prevent_destroy": True}
    return block


def user_pool_client(stage: Stage) -> Block:
    return {
        "name": f"{stage.prefix}-web",
        "user_pool_id": "${aws_cognito_user_pool.tasks.id}",
        "generate_secret": False,
        "explicit_auth_flows": list(d.CLIENT_AUTH_FLOWS),
        "prevent_user_existence_errors": "ENABLED",
        "enable_token_revocation": True,
        "id_token_validity": d.ID_TOKEN_MINUTES,
        "access_token_validity": d.ACCESS_TOKEN_MINUTES,
        "refresh_token_validity": d.REFRESH_TOKEN_DAYS,
        "token_validity_units": {
            "id_token": "minutes",
            "access_token": "minutes",
            "refresh_token": "days",
        },
        "supported_identity_providers": ["COGNITO"],
    }


def _log_group(stage: Stage, name: str) -> Block:
    return {
        "name": name,
        "retention_in_days": stage.tuning.log_retention_days,
        "tags": _tags(stage),
    }


#: How this format names what ``infra.definitions.Ref`` stands for (the namespace aside).
_REFS = {
    d.Ref.FUNCTION: "${aws_lambda_function.api_handler.function_name}",
    d.Ref.TABLE: "${aws_dynamodb_table.tasks.name}",
}


def _metric(metric: d.Metric, refs: dict[d.Ref, str]) -> Block:
    return {
        "namespace": d.resolve(metric.namespace, refs),
        "metric_name": metric.name,
        "dimensions": {name: d.resolve(value, refs) for name, value in metric.dimensions},
    }


def _alarm(stage: Stage, spec: d.Alarm) -> Block:
    """One alarm of ``infra.definitions.ALARMS``: a single metric, or metric queries whose
    expression alone returns data."""
    refs = _REFS | {d.Ref.APP_NAMESPACE: stage.metrics_namespace}
    block: Block = {
        "alarm_name": f"{stage.prefix}-{spec.key}",
        "alarm_description": spec.description,
        "actions_enabled": True,
        "alarm_actions": ["${aws_sns_topic.alarms.arn}"],
        "ok_actions": ["${aws_sns_topic.alarms.arn}"],
        "treat_missing_data": "notBreaching",
        "evaluation_periods": spec.evaluation_periods,
        "datapoints_to_alarm": spec.datapoints_to_alarm,
        "threshold": spec.threshold,
        "comparison_operator": "GreaterThanThreshold",
    }
    if spec.expression is None:
        (metric,) = spec.metrics
        block |= _metric(metric, refs) | {"period": spec.period}
        block["extended_statistic" if metric.percentile else "statistic"] = metric.statistic
        return block
    block["metric_query"] = [
        {
            "id": metric.id,
            "return_data": False,
            "metric": _metric(metric, refs) | {"period": spec.period, "stat": metric.statistic},
        }
        for metric in spec.metrics
    ] + [
        {
            "id": spec.expression.id,
            "label": spec.expression.label,
            "return_data": True,
            "expression": spec.expression.text,
        }
    ]
    return block


def _gateway_response(stage: Stage, response_type: str) -> Block:
    headers = d.gateway_response_headers(stage.cors_origin)
    return {
        "rest_api_id": "${aws_api_gateway_rest_api.rest_api.id}",
        "response_type": response_type,
        "response_templates": {"application/json": d.GATEWAY_PROBLEM_TEMPLATE},
        "response_parameters": {
            f"gatewayresponse.header.{name}": value for name, value in headers.items()
        },
    }


def _assume_role(service: str) -> str:
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def supporting_file(stage: Stage) -> Block:
    """``task_api.tf.json``: the resources Chalice does not make."""
    responses = {rt.lower(): _gateway_response(stage, rt) for rt in d.GATEWAY_RESPONSE_TYPES}
    secret_recovery_days = 7 if stage.tuning.protect_data else 0
    return {
        "//": f"Generated by infra/package.py for stage {stage.name}; do not edit.",
        "variable": {
            "alarm_email": {
                "type": "string",
                "default": "",
                "description": "E-mail address subscribed to the alarm topic (optional)",
            }
        },
        "data": {
            # AWS's public parameter: the layer's ARN in the provider's region.
            "aws_ssm_parameter": {"powertools_layer": {"name": d.POWERTOOLS_LAYER_PARAMETER}}
        },
        "resource": {
            "aws_dynamodb_table": {"tasks": tasks_table(stage)},
            "aws_cognito_user_pool": {"tasks": user_pool(stage)},
            "aws_cognito_user_pool_client": {"web": user_pool_client(stage)},
            "random_password": {"cursor_secret": {"length": d.SECRET_LENGTH, "special": False}},
            "aws_secretsmanager_secret": {
                "cursor": {
                    "name": stage.secret_name,
                    "description": "List cursor HMAC keys: comma-separated, signing key first",
                    "recovery_window_in_days": secret_recovery_days,
                    "tags": _tags(stage),
                }
            },
            "aws_secretsmanager_secret_version": {
                "cursor": {
                    "secret_id": "${aws_secretsmanager_secret.cursor.id}",
                    "secret_string": "${random_password.cursor_secret.result}",
                    # Rotation happens outside Terraform (README): never undo it.
                    "lifecycle": {"ignore_changes": ["secret_string"]},
                }
            },
            "aws_cloudwatch_log_group": {
                "api_handler": _log_group(stage, stage.function_log_group),
                "api_access": _log_group(stage, stage.access_log_group),
            },
            "aws_iam_role": {
                "api_gateway_cloudwatch": {
                    "name_prefix": f"{stage.prefix}-apigw-logs-",
                    "assume_role_policy": _assume_role("apigateway.amazonaws.com"),
                }
            },
            "aws_iam_role_policy_attachment": {
                "api_gateway_cloudwatch": {
                    "role": "${aws_iam_role.api_gateway_cloudwatch.name}",
                    "policy_arn": "arn:${data.aws_partition.chalice.partition}:iam::aws:"
                    "policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
                }
            },
            "aws_api_gateway_account": {
                "this": {"cloudwatch_role_arn": "${aws_iam_role.api_gateway_cloudwatch.arn}"}
            },
            "aws_api_gateway_stage": {
                "api": {
                    "rest_api_id": "${aws_api_gateway_rest_api.rest_api.id}",
                    "deployment_id": "${aws_api_gateway_deployment.rest_api.id}",
                    "stage_name": stage.api_stage,
                    "xray_tracing_enabled": True,
                    "access_log_settings": {
                        "destination_arn": "${aws_cloudwatch_log_group.api_access.arn}",
                        "format": d.ACCESS_LOG_FORMAT,
                    },
                    "tags": _tags(stage),
                    "depends_on": ["aws_api_gateway_account.this"],
                }
            },
            "aws_api_gateway_method_settings": {
                "all": {
                    "rest_api_id": "${aws_api_gateway_rest_api.rest_api.id}",
                    "stage_name": "${aws_api_gateway_stage.api.stage_name}",
                    "method_path": "*/*",
                    "settings": {
                        "throttling_rate_limit": stage.tuning.throttle_rate_limit,
                        "throttling_burst_limit": stage.tuning.throttle_burst_limit,
                        "metrics_enabled": True,
                        "logging_level": "OFF",
                        "data_trace_enabled": False,
                    },
                }
            },
            "aws_api_gateway_gateway_response": responses,
            "aws_sns_topic": {
                "alarms": {
                    "name": stage.alarm_topic_name,
                    "kms_master_key_id": "alias/aws/sns",
                    "tags": _tags(stage),
                }
            },
            "aws_sns_topic_subscription": {
                "alarm_email": {
                    "count": '${var.alarm_email == "" ? 0 : 1}',
                    "topic_arn": "${aws_sns_topic.alarms.arn}",
                    "protocol": "email",
                    "endpoint": "${var.alarm_email}",
                }
            },
            "aws_cloudwatch_metric_alarm": {
                _snake(spec.key): _alarm(stage, spec) for spec in d.ALARMS
            },
        },
        "output": {
            "TasksTableName": {"value": "${aws_dynamodb_table.tasks.name}"},
            "UserPoolId": {"value": "${aws_cognito_user_pool.tasks.id}"},
            "UserPoolArn": {"value": "${aws_cognito_user_pool.tasks.arn}"},
            "UserPoolClientId": {"value": USER_POOL_CLIENT_ID_REFERENCE},
            "CursorSecretArn": {"value": "${aws_secretsmanager_secret.cursor.arn}"},
            "AlarmTopicArn": {"value": "${aws_sns_topic.alarms.arn}"},
        },
    }


def override_file(stage: Stage, environment: dict[str, str]) -> Block:
    """``task_api_override.tf.json``: changes to the blocks in ``chalice.tf.json``."""
    redeploy_on = ", ".join(
        ["local.chalice_api_swagger"]
        + [
            f"jsonencode(aws_api_gateway_gateway_response.{rt.lower()})"
            for rt in d.GATEWAY_RESPONSE_TYPES
        ]
    )
    function: Block = {
        # Replaced whole: the stage's variables, with the names of what Terraform made.
        "environment": {
            "variables": {
                **environment,
                "TASKS_TABLE_NAME": "${aws_dynamodb_table.tasks.name}",
                "TASKS_CURSOR_SECRET_ARN": "${aws_secretsmanager_secret.cursor.arn}",
                "COGNITO_USER_POOL_ARN": USER_POOL_ARN_REFERENCE,
                "COGNITO_USER_POOL_CLIENT_ID": USER_POOL_CLIENT_ID_REFERENCE,
            }
        },
        "tracing_config": {"mode": "Active"},
        "layers": [POWERTOOLS_LAYER_REFERENCE],
        "logging_config": {
            "log_format": "Text",
            "log_group": "${aws_cloudwatch_log_group.api_handler.name}",
        },
    }
    if stage.tuning.reserved_concurrency:
        function["reserved_concurrent_executions"] = stage.tuning.reserved_concurrency
    return {
        "//": f"Generated by infra/package.py for stage {stage.name}; do not edit. Terraform "
        "merges it into the blocks of chalice.tf.json.",
        "terraform": {
            "required_version": REQUIRED_VERSION,
            "required_providers": REQUIRED_PROVIDERS,
        },
        # Unused by anything; an override cannot delete a block, only switch it off.
        "data": {"null_data_source": {"chalice": {"count": 0}}},
        "resource": {
            "aws_api_gateway_rest_api": {"rest_api": {"name": stage.prefix}},
            "aws_api_gateway_deployment": {
                "rest_api": {
                    "stage_name": None,  # deprecated; aws_api_gateway_stage.api instead
                    "stage_description": None,
                    "triggers": {"redeployment": f'${{sha1(join(",", [{redeploy_on}]))}}'},
                }
            },
            "aws_lambda_function": {"api_handler": function},
        },
        "output": {"EndpointURL": {"value": "${aws_api_gateway_stage.api.invoke_url}"}},
    }
