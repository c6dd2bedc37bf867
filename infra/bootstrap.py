"""``make bootstrap``: the one-time CloudFormation template that lets GitHub Actions deploy
(``.github/workflows/deploy.yml``) with no long-lived key anywhere.

Writes ``build/bootstrap/bootstrap.json``, a stack with:

- GitHub's OIDC provider (or, with ``ExistingOidcProviderArn``, the account's own: an
  account has at most one per URL);
- a **plan role**, trusted only for this repository's pull requests, that reads what
  ``terraform plan`` refreshes and the state, and writes nothing but the state's lock files;
- a **deploy role per stage**, trusted only for jobs in this repository's GitHub environment
  of that name, with the rights ``terraform apply``, ``make release``, ``make rollback`` and
  the smoke test's user need on that stage's resources (their names, from ``infra.stages``);
- a **permissions boundary per stage**: the deploy role creates and changes roles only with
  it attached, so no role it writes reaches beyond what the stage's functions use;
- the **Terraform state bucket**: versioned, encrypted, private, TLS only, one key per stage
  (``state_key``), locked with S3's own conditional writes (``use_lockfile``).

Every name comes from here or from ``infra.stages``: the workflow derives the same ones from
two repository variables (the account id and the region), and a test holds them equal.

    .venv/bin/python -m infra.bootstrap [--out build/bootstrap/bootstrap.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from infra.stages import DEPLOYED_STAGES, PROJECT_DIR, Stage, load_config, stage

Template = dict[str, Any]

OUTPUT = PROJECT_DIR / "build" / "bootstrap" / "bootstrap.json"

#: GitHub's OIDC issuer, and the audience configure-aws-credentials asks for.
OIDC_HOST = "token.actions.githubusercontent.com"
OIDC_AUDIENCE = "sts.amazonaws.com"
#: The token's ``sub`` for a pull request's jobs (with no environment) and for a job in a
#: GitHub environment: what each role's trust pins, after ``repo:<owner>/<repo>:``.
PULL_REQUEST_SUBJECT = "pull_request"
ENVIRONMENT_SUBJECT = "environment:{stage}"

#: Parameters of the stack.
OWNER = "GitHubOwner"
REPOSITORY = "GitHubRepository"
EXISTING_PROVIDER = "ExistingOidcProviderArn"
CREATE_PROVIDER = "CreateOidcProvider"

#: Logical ids.
PROVIDER = "GitHubOidcProvider"
STATE_BUCKET = "TerraformStateBucket"
STATE_BUCKET_POLICY = "TerraformStateBucketPolicy"
PLAN_ROLE = "PlanRole"

#: AWS's account that publishes the Powertools layers the functions use (the ARN itself is
#: read from AWS's public SSM parameter at apply time, ``infra.definitions``).
POWERTOOLS_LAYER_ACCOUNT = "017000801446"

_ARN = "arn:${AWS::Partition}"
_REGIONAL = "${AWS::Region}:${AWS::AccountId}"


def app_name() -> str:
    name: str = load_config()["app_name"]
    return name


def plan_role_name(app: str) -> str:
    return f"{app}-github-plan"


def deploy_role_name(target: Stage) -> str:
    """Outside the stage's ``<app>-<stage>-*`` names on purpose: the role may change the
    stage's roles, never itself."""
    return f"{target.app_name}-github-deploy-{target.name}"


def deploy_role_id(target: Stage) -> str:
    return f"DeployRole{target.name.capitalize()}"


def boundary_name(target: Stage) -> str:
    """The stage's permissions boundary: outside ``<app>-<stage>-*`` too, and a managed
    policy the deploy role cannot change."""
    return f"{target.app_name}-github-boundary-{target.name}"


def boundary_id(target: Stage) -> str:
    return f"Boundary{target.name.capitalize()}"


def state_bucket_name(app: str, account_id: str, region: str) -> str:
    """Bucket names are global: the account and region make it this account's."""
    return f"{app}-tfstate-{account_id}-{region}"


def state_key(target: Stage) -> str:
    """One state per stage; its lock file is ``<key>.tflock`` beside it."""
    return f"{target.name}/terraform.tfstate"


def _sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def _allow(sid: str, actions: list[str], resources: list[Any], **condition: Any) -> Template:
    statement: Template = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement


def _trust(subject: str) -> Template:
    """Only GitHub's tokens for this repository, with this subject and STS's audience."""
    provider = {"Fn::If": [CREATE_PROVIDER, {"Ref": PROVIDER}, {"Ref": EXISTING_PROVIDER}]}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{OIDC_HOST}:aud": OIDC_AUDIENCE,
                        f"{OIDC_HOST}:sub": _sub(f"repo:${{{OWNER}}}/${{{REPOSITORY}}}:{subject}"),
                    }
                },
            }
        ],
    }


def _bucket_arn() -> dict[str, list[str]]:
    return {"Fn::GetAtt": [STATE_BUCKET, "Arn"]}


def _state_objects(pattern: str) -> dict[str, str]:
    return _sub(f"${{{STATE_BUCKET}.Arn}}/{pattern}")


class Names:
    """ARNs of one stage's resources, by the names ``infra.stages`` gives them."""

    def __init__(self, target: Stage) -> None:
        prefix = target.prefix
        self.functions = [
            _sub(f"{_ARN}:lambda:{_REGIONAL}:function:{name}{qualifier}")
            for name in (target.function_name, f"{prefix}-*", target.pre_traffic_hook_name)
            for qualifier in ("", ":*")
        ]
        self.consumer = _sub(f"{_ARN}:lambda:{_REGIONAL}:function:{target.consumer_function_name}*")
        self.roles = [_sub(f"{_ARN}:iam::${{AWS::AccountId}}:role/{prefix}-*")]
        table = f"{_ARN}:dynamodb:{_REGIONAL}:table/{target.table_name}"
        self.table = [_sub(table), _sub(f"{table}/*")]
        self.secret = [_sub(f"{_ARN}:secretsmanager:{_REGIONAL}:secret:{target.secret_name}-*")]
        self.log_groups = [
            _sub(f"{_ARN}:logs:{_REGIONAL}:log-group:{name}{tail}")
            for name in (
                target.function_log_group,
                f"/aws/lambda/{prefix}-*",
                target.hook_log_group,
                target.access_log_group,
            )
            for tail in ("", ":*")
        ]
        self.queue = [_sub(f"{_ARN}:sqs:{_REGIONAL}:{target.failure_queue_name}")]
        topic = f"{_ARN}:sns:{_REGIONAL}:{target.alarm_topic_name}"
        self.topic = [_sub(topic), _sub(f"{topic}:*")]  # and its subscriptions
        self.key_alias = [_sub(f"{_ARN}:kms:{_REGIONAL}:{target.alarm_topic_key_alias}")]
        self.alarms = [_sub(f"{_ARN}:cloudwatch:{_REGIONAL}:alarm:{prefix}-*")]
        self.dashboard = [
            _sub(f"{_ARN}:cloudwatch::${{AWS::AccountId}}:dashboard/{target.dashboard_name}")
        ]
        application = target.codedeploy_application_name
        self.application = [_sub(f"{_ARN}:codedeploy:{_REGIONAL}:application:{application}")]
        self.deployment_group = [
            _sub(
                f"{_ARN}:codedeploy:{_REGIONAL}:deploymentgroup:"
                f"{application}/{target.deployment_group_name}"
            )
        ]
        self.state = [_state_objects(f"{target.name}/*")]
        self.tags = {f"aws:ResourceTag/{k}": v for k, v in _tags(target).items()}
        self.request_tags = {f"aws:RequestTag/{k}": v for k, v in _tags(target).items()}


def _tags(target: Stage) -> dict[str, str]:
    """The tags every stage resource carries (``infra.terraform``): what scopes the
    resources whose ARNs hold a generated id instead of a name."""
    return {"app": target.app_name, "stage": target.name}


#: The REST API's ARN holds the id API Gateway generates, and Chalice's API carries no tags,
#: so no name or tag can scope it: the deploy roles may manage REST APIs in their region.
REST_APIS = [
    _sub(f"{_ARN}:apigateway:${{AWS::Region}}::/restapis"),
    _sub(f"{_ARN}:apigateway:${{AWS::Region}}::/restapis/*"),
    _sub(f"{_ARN}:apigateway:${{AWS::Region}}::/tags/*"),
]
#: Public, read-only: AWS's SSM parameter naming the layer, and the layer itself.
POWERTOOLS = {
    "parameter": _sub(f"{_ARN}:ssm:${{AWS::Region}}::parameter/aws/service/powertools/*"),
    "layer": _sub(
        f"{_ARN}:lambda:${{AWS::Region}}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
        "AWSLambdaPowertoolsPythonV3-*:*"
    ),
}
#: ``logs:DescribeLogGroups`` is authorized on every log group of the region (it lists
#: names and settings, no events): how Terraform reads a log group back.
LOG_GROUP_LISTING = [_sub(f"{_ARN}:logs:{_REGIONAL}:log-group:*")]
#: CodeDeploy's predefined deployment configurations (``CodeDeployDefault.*``).
DEPLOYMENT_CONFIGS = [_sub(f"{_ARN}:codedeploy:{_REGIONAL}:deploymentconfig:*")]

#: Actions with no resource-level permissions at all (IAM's service authorization
#: reference lists no resource type for them): only "*" is possible.
UNSCOPABLE_READS = [
    "secretsmanager:GetRandomPassword",  # the ephemeral cursor secret's value
    "kms:ListAliases",
    "lambda:ListEventSourceMappings",
    "sqs:ListQueues",
]


def _reads(names: Names) -> list[Template]:
    """What ``terraform plan`` refreshes for one stage: read actions on its resources."""
    return [
        _allow(
            "LambdaRead",
            ["lambda:Get*", "lambda:List*"],
            [*names.functions, POWERTOOLS["layer"]],
        ),
        _allow("IamRead", ["iam:GetRole", "iam:GetRolePolicy", "iam:List*"], names.roles),
        _allow("TableRead", ["dynamodb:Describe*", "dynamodb:ListTagsOfResource"], names.table),
        _allow(
            "SecretRead",
            ["secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy"],
            names.secret,
        ),
        _allow("LogsRead", ["logs:Describe*", "logs:ListTags*"], names.log_groups),
        _allow(
            "QueueRead",
            ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ListQueueTags"],
            names.queue,
        ),
        _allow(
            "TopicRead",
            ["sns:GetTopicAttributes", "sns:GetSubscriptionAttributes", "sns:ListTagsForResource"],
            names.topic,
        ),
        _allow(
            "AlarmsRead",
            ["cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource", "cloudwatch:Get*"],
            [*names.alarms, *names.dashboard],
        ),
        _allow(
            "ReleaseRead",
            ["codedeploy:Get*", "codedeploy:List*"],
            [*names.application, *names.deployment_group, *DEPLOYMENT_CONFIGS],
        ),
    ]


def _tagged_reads(tags: dict[str, Any]) -> list[Template]:
    """User pools and KMS keys have generated ids: their stage's tags scope them."""
    return [
        _allow(
            "UserPoolRead",
            ["cognito-idp:Describe*", "cognito-idp:Get*", "cognito-idp:List*"],
            [_sub(f"{_ARN}:cognito-idp:{_REGIONAL}:userpool/*")],
            StringEquals=tags,
        ),
        _allow(
            "KeyRead",
            ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:List*"],
            [_sub(f"{_ARN}:kms:{_REGIONAL}:key/*")],
            StringEquals=tags,
        ),
    ]


def _common_reads() -> list[Template]:
    return [
        _allow("RestApiRead", ["apigateway:GET"], REST_APIS),
        _allow("PowertoolsParameter", ["ssm:GetParameter"], [POWERTOOLS["parameter"]]),
        _allow("LogGroupListing", ["logs:DescribeLogGroups"], LOG_GROUP_LISTING),
        _allow("Unscopable", UNSCOPABLE_READS, ["*"]),
    ]


def plan_policy(app: str) -> Template:
    """Reads of every stage (a pull request plans dev and prod), the state, and the lock
    files only: ``use_lockfile`` writes ``<key>.tflock`` during a plan too."""
    statements: list[Template] = [
        _allow("StateList", ["s3:ListBucket"], [_bucket_arn()]),
        _allow("StateRead", ["s3:GetObject"], [_state_objects("*")]),
        _allow("StateLock", ["s3:PutObject", "s3:DeleteObject"], [_state_objects("*.tflock")]),
        *_common_reads(),
    ]
    for name in DEPLOYED_STAGES:
        target = stage(name)
        names = Names(target)
        # The refresh of the secret's version reads it (the provider's GetSecretValue), though
        # the value is write-only in Terraform: the cursor HMAC keys, nothing else.
        suffix = name.capitalize()
        statements += [
            s | {"Sid": s["Sid"] + suffix} for s in _reads(names) + _tagged_reads(names.tags)
        ]
        statements.append(
            _allow(f"SecretVersionRead{suffix}", ["secretsmanager:GetSecretValue"], names.secret)
        )
    return {"Version": "2012-10-17", "Statement": statements}


def deploy_policy(target: Stage) -> Template:
    """``terraform apply`` of the stage, ``make release`` / ``make rollback`` and the smoke
    test's user: every write scoped to the stage's names, or to its tags where the ARN holds
    a generated id."""
    names = Names(target)
    pass_to = ["lambda.amazonaws.com", "codedeploy.amazonaws.com"]
    statements = [
        _allow(
            "StateList",
            ["s3:ListBucket"],
            [_bucket_arn()],
            StringLike={"s3:prefix": [f"{target.name}/*"]},
        ),
        _allow("State", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], names.state),
        *_reads(names),
        *_tagged_reads(names.tags),
        *_common_reads(),
        _allow(
            "Functions",
            [
                "lambda:CreateFunction",
                "lambda:DeleteFunction",
                "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration",
                "lambda:PublishVersion",
                "lambda:CreateAlias",
                "lambda:UpdateAlias",
                "lambda:DeleteAlias",
                "lambda:AddPermission",
                "lambda:RemovePermission",
                "lambda:PutFunctionConcurrency",
                "lambda:DeleteFunctionConcurrency",
                "lambda:TagResource",
                "lambda:UntagResource",
                "lambda:InvokeFunction",  # the pre-traffic hook's own test call, none other
            ],
            names.functions,
        ),
        # Event source mappings are named by a generated UUID; the consumer's ARN scopes them.
        _allow(
            "ConsumerMapping",
            [
                "lambda:CreateEventSourceMapping",
                "lambda:GetEventSourceMapping",
                "lambda:UpdateEventSourceMapping",
                "lambda:DeleteEventSourceMapping",
            ],
            ["*"],
            ArnLike={"lambda:FunctionArn": names.consumer},
        ),
        _allow("PowertoolsLayer", ["lambda:GetLayerVersion"], [POWERTOOLS["layer"]]),
        # A role the deploy role writes a policy into is bounded by the stage's boundary, or
        # it could grant itself anything through a function it creates and invokes.
        _allow(
            "BoundedRoles",
            [
                "iam:CreateRole",
                "iam:PutRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:PutRolePermissionsBoundary",
            ],
            names.roles,
            StringEquals={"iam:PermissionsBoundary": {"Ref": boundary_id(target)}},
        ),
        _allow(
            "Roles",
            [
                "iam:DeleteRole",
                "iam:UpdateRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
            ],
            names.roles,
        ),
        # Only the stage's own roles, and only to the services that run them.
        _allow(
            "PassStageRoles",
            ["iam:PassRole"],
            names.roles,
            StringEquals={"iam:PassedToService": pass_to},
        ),
        _allow(
            "Table",
            [
                "dynamodb:CreateTable",
                "dynamodb:DeleteTable",
                "dynamodb:UpdateTable",
                "dynamodb:UpdateTimeToLive",
                "dynamodb:UpdateContinuousBackups",
                "dynamodb:TagResource",
                "dynamodb:UntagResource",
            ],
            names.table,
        ),
        _allow(
            "Secret",
            [
                "secretsmanager:CreateSecret",
                "secretsmanager:DeleteSecret",
                "secretsmanager:UpdateSecret",
                "secretsmanager:PutSecretValue",
                "secretsmanager:GetSecretValue",  # the provider's refresh of the version
                "secretsmanager:TagResource",
                "secretsmanager:UntagResource",
            ],
            names.secret,
        ),
        _allow(
            "Logs",
            [
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:PutRetentionPolicy",
                "logs:DeleteRetentionPolicy",
                "logs:TagResource",
                "logs:UntagResource",
                "logs:TagLogGroup",
                "logs:UntagLogGroup",
            ],
            names.log_groups,
        ),
        _allow(
            "Queue",
            [
                "sqs:CreateQueue",
                "sqs:DeleteQueue",
                "sqs:SetQueueAttributes",
                "sqs:TagQueue",
                "sqs:UntagQueue",
            ],
            names.queue,
        ),
        _allow(
            "Topic",
            [
                "sns:CreateTopic",
                "sns:DeleteTopic",
                "sns:SetTopicAttributes",
                "sns:Subscribe",
                "sns:Unsubscribe",
                "sns:SetSubscriptionAttributes",
                "sns:TagResource",
                "sns:UntagResource",
            ],
            names.topic,
        ),
        _allow(
            "AlarmsAndDashboard",
            [
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:DeleteAlarms",
                "cloudwatch:TagResource",
                "cloudwatch:UntagResource",
                "cloudwatch:PutDashboard",
                "cloudwatch:DeleteDashboards",
            ],
            [*names.alarms, *names.dashboard],
        ),
        _allow(
            "Release",
            [
                "codedeploy:CreateApplication",
                "codedeploy:DeleteApplication",
                "codedeploy:UpdateApplication",
                "codedeploy:RegisterApplicationRevision",
                "codedeploy:CreateDeploymentGroup",
                "codedeploy:DeleteDeploymentGroup",
                "codedeploy:UpdateDeploymentGroup",
                "codedeploy:CreateDeployment",
                "codedeploy:StopDeployment",
                "codedeploy:TagResource",
                "codedeploy:UntagResource",
            ],
            [*names.application, *names.deployment_group],
        ),
        # REST APIs have generated ids and no tags (REST_APIS).
        _allow(
            "RestApis",
            ["apigateway:POST", "apigateway:PUT", "apigateway:PATCH", "apigateway:DELETE"],
            REST_APIS,
        ),
        # The user pool: created with the stage's tags, then managed (and the smoke test's
        # user created and deleted) only while it carries them.
        _allow(
            "UserPoolCreate",
            ["cognito-idp:CreateUserPool", "cognito-idp:TagResource"],
            # CreateUserPool names no resource type (no pool exists yet): "*", but only
            # with the stage's tags in the request, as KMS's CreateKey below.
            ["*"],
            StringEquals=names.request_tags,
        ),
        _allow(
            "UserPool",
            [
                "cognito-idp:UpdateUserPool",
                "cognito-idp:DeleteUserPool",
                "cognito-idp:SetUserPoolMfaConfig",
                "cognito-idp:CreateUserPoolClient",
                "cognito-idp:UpdateUserPoolClient",
                "cognito-idp:DeleteUserPoolClient",
                "cognito-idp:UntagResource",
                "cognito-idp:AdminCreateUser",
                "cognito-idp:AdminSetUserPassword",
                "cognito-idp:AdminDeleteUser",
            ],
            [_sub(f"{_ARN}:cognito-idp:{_REGIONAL}:userpool/*")],
            StringEquals=names.tags,
        ),
        # The alarm topic's key: created with the stage's tags, then managed while it has them.
        _allow(
            "KeyCreate",
            ["kms:CreateKey", "kms:TagResource"],
            ["*"],
            StringEquals=names.request_tags,
        ),
        _allow(
            "Key",
            [
                "kms:PutKeyPolicy",
                "kms:EnableKeyRotation",
                "kms:UpdateKeyDescription",
                "kms:ScheduleKeyDeletion",
                "kms:UntagResource",
                "kms:CreateAlias",
                "kms:DeleteAlias",
                "kms:UpdateAlias",
            ],
            [_sub(f"{_ARN}:kms:{_REGIONAL}:key/*")],
            StringEquals=names.tags,
        ),
        _allow(
            "KeyAlias", ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"], names.key_alias
        ),
    ]
    return {"Version": "2012-10-17", "Statement": statements}


#: DynamoDB's item and stream reads and writes: never the table's own settings.
TABLE_DATA = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:Query",
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
]


def boundary_policy(target: Stage) -> Template:
    """The most any role of the stage can do, whatever policy is written into it: what its
    functions, its pre-traffic hook and CodeDeploy use, on the stage's own resources. The
    roles' policies grant less; a test holds every one of them inside this."""
    names = Names(target)
    return {
        "Version": "2012-10-17",
        "Statement": [
            _allow("TableData", TABLE_DATA, names.table),
            _allow("CursorSecret", ["secretsmanager:GetSecretValue"], names.secret),
            _allow("FailureQueue", ["sqs:SendMessage"], names.queue),
            _allow("Logs", ["logs:CreateLogStream", "logs:PutLogEvents"], names.log_groups),
            _allow("Tracing", ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"]),
            # The hook invokes the new version; CodeDeploy invokes the hook and moves the alias.
            _allow(
                "Release",
                [
                    "lambda:InvokeFunction",
                    "lambda:GetAlias",
                    "lambda:UpdateAlias",
                    "lambda:GetProvisionedConcurrencyConfig",
                ],
                names.functions,
            ),
            _allow(
                "ReleaseStatus",
                ["codedeploy:PutLifecycleEventHookExecutionStatus"],
                names.deployment_group,
            ),
            _allow("ReleaseAlarms", ["cloudwatch:DescribeAlarms"], names.alarms),
        ],
    }


def _role(name: Any, subject: str, policy_name: str, policy: Template, about: str) -> Template:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": name,
            "Description": about,
            "AssumeRolePolicyDocument": _trust(subject),
            "MaxSessionDuration": 3600,
            "Policies": [{"PolicyName": policy_name, "PolicyDocument": policy}],
        },
    }


def state_bucket(app: str) -> dict[str, Template]:
    bucket = {
        "Type": "AWS::S3::Bucket",
        # The state outlives the stack: deleting the stack must not lose every stage's state.
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BucketName": _sub(state_bucket_name(app, "${AWS::AccountId}", "${AWS::Region}")),
            "VersioningConfiguration": {"Status": "Enabled"},
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {
                        "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"},
                        "BucketKeyEnabled": True,
                    }
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            # Old state versions are history, not backups forever.
            "LifecycleConfiguration": {
                "Rules": [
                    {
                        "Id": "old-state-versions",
                        "Status": "Enabled",
                        "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                    }
                ]
            },
        },
        "Metadata": {
            "checkov": {
                "skip": [
                    {
                        "id": "CKV_AWS_18",
                        "comment": "Access logs of a state bucket would need a second bucket "
                        "per account; CloudTrail records who read or wrote the state.",
                    }
                ]
            }
        },
    }
    policy = {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": {"Ref": STATE_BUCKET},
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "TlsOnly",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [_bucket_arn(), _state_objects("*")],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            },
        },
    }
    return {STATE_BUCKET: bucket, STATE_BUCKET_POLICY: policy}


def template() -> Template:
    app = app_name()
    resources: Template = {
        PROVIDER: {
            "Type": "AWS::IAM::OIDCProvider",
            "Condition": CREATE_PROVIDER,
            "Properties": {"Url": f"https://{OIDC_HOST}", "ClientIdList": [OIDC_AUDIENCE]},
        },
        **state_bucket(app),
        PLAN_ROLE: _role(
            plan_role_name(app),
            PULL_REQUEST_SUBJECT,
            "terraform-plan",
            plan_policy(app),
            "GitHub Actions: terraform plan of every stage, on this repository's pull requests",
        ),
    }
    outputs: Template = {
        "PlanRoleArn": {"Value": {"Fn::GetAtt": [PLAN_ROLE, "Arn"]}},
        "StateBucketName": {"Value": {"Ref": STATE_BUCKET}},
    }
    for name in DEPLOYED_STAGES:
        target = stage(name)
        resources[boundary_id(target)] = {
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {
                "ManagedPolicyName": boundary_name(target),
                "Description": f"Permissions boundary of every role of {target.prefix} that "
                "the pipeline creates",
                "PolicyDocument": boundary_policy(target),
            },
        }
        outputs[f"{boundary_id(target)}Arn"] = {"Value": {"Ref": boundary_id(target)}}
        resources[deploy_role_id(target)] = _role(
            deploy_role_name(target),
            ENVIRONMENT_SUBJECT.format(stage=name),
            f"deploy-{name}",
            deploy_policy(target),
            f"GitHub Actions: terraform apply and release of {target.prefix}, in the "
            f"repository's {name} environment",
        )
        outputs[f"{deploy_role_id(target)}Arn"] = {
            "Value": {"Fn::GetAtt": [deploy_role_id(target), "Arn"]}
        }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"{app}: GitHub Actions' OIDC roles and the Terraform state bucket "
        "(one-time bootstrap; infra/bootstrap.py)",
        "Parameters": {
            OWNER: {"Type": "String", "Description": "GitHub owner (user or organization)"},
            REPOSITORY: {"Type": "String", "Description": "GitHub repository name"},
            EXISTING_PROVIDER: {
                "Type": "String",
                "Default": "",
                "Description": "ARN of the account's GitHub OIDC provider, if it has one "
                "already (an account has at most one); empty creates it",
            },
        },
        "Conditions": {CREATE_PROVIDER: {"Fn::Equals": [{"Ref": EXISTING_PROVIDER}, ""]}},
        "Resources": resources,
        "Outputs": outputs,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(template(), indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
