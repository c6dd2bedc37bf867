"""The deploy pipeline (issue 22): the bootstrap stack (``infra.bootstrap``) and
``.github/workflows/deploy.yml``, which must agree on every name.

The template is checked as data: cfn-lint and checkov find nothing; each role trusts only
GitHub's tokens for this repository with its one subject and STS's audience; the state bucket
is versioned, encrypted, private and TLS only; each deploy role's rights reach only its own
stage's names (the few exceptions an API forces are listed and conditioned). The checks are
shown to fail on planted mistakes. The workflow's structural checks shared with ci.yml are in
test_github_ci.py; here is what only deploy.yml has.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from moto.iam.access_control import IAMPolicy, PermissionResult

from infra import bootstrap, package, scan, terraform
from infra.stages import DEPLOYED_STAGES, Stage, stage
from tests.conftest import PROJECT_DIR
from tools import workflows

#: Runs cfn-lint, checkov and chalice package: not in `make check`.
pytestmark = pytest.mark.external

DEPLOY = workflows.WORKFLOWS / "deploy.yml"
CONFIGURE_CREDENTIALS = "aws-actions/configure-aws-credentials@"
STAGES = list(DEPLOYED_STAGES)
PERMITTED = PermissionResult.PERMITTED


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return bootstrap.template()


def resources(template: dict[str, Any], type_: str) -> dict[str, Any]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == type_}


def text(value: Any) -> str:
    """A resource or condition value as the text it becomes (``Fn::Sub`` unwrapped)."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        return str(value["Fn::Sub"])
    return json.dumps(value) if not isinstance(value, str) else value


# --- the checks, as functions that list problems (so they can be shown to fail) -------------


def trust_problems(role: dict[str, Any], subject: str) -> list[str]:
    statements = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    problems = [] if len(statements) == 1 else [f"{len(statements)} trust statements"]
    for statement in statements:
        condition = statement.get("Condition", {})
        equals = condition.get("StringEquals", {})
        if statement["Action"] != "sts:AssumeRoleWithWebIdentity":
            problems.append(f"action {statement['Action']}")
        if set(condition) != {"StringEquals"}:  # no StringLike: no wildcard subject
            problems.append(f"conditions {sorted(condition)}")
        if equals.get(f"{bootstrap.OIDC_HOST}:aud") != bootstrap.OIDC_AUDIENCE:
            problems.append("audience not pinned")
        wanted = f"repo:${{{bootstrap.OWNER}}}/${{{bootstrap.REPOSITORY}}}:{subject}"
        if text(equals.get(f"{bootstrap.OIDC_HOST}:sub")) != wanted:
            problems.append(f"subject {equals.get(f'{bootstrap.OIDC_HOST}:sub')}")
        federated = statement["Principal"].get("Federated", {})
        if federated != {
            "Fn::If": [
                bootstrap.CREATE_PROVIDER,
                {"Ref": bootstrap.PROVIDER},
                {"Ref": bootstrap.EXISTING_PROVIDER},
            ]
        }:
            problems.append(f"principal {statement['Principal']}")
    return problems


def stage_patterns(target: Stage) -> list[str]:
    """What may follow the last separator of an ARN a stage's deploy role may write to."""
    return [
        target.prefix,
        target.pre_traffic_hook_name,
        target.table_name,
        target.secret_name,
        target.alarm_topic_key_alias,
        f"/aws/lambda/{target.prefix}",
        target.hook_log_group,
        target.access_log_group,
        f"{target.name}/",  # its state key
    ]


#: Resources not named by a stage, each with why (infra/bootstrap.py says so beside them).
UNNAMED = {
    *map(text, bootstrap.REST_APIS),  # generated ids, no tags
    *map(text, bootstrap.DEPLOYMENT_CONFIGS),  # AWS's predefined configurations, read only
    *map(text, bootstrap.POWERTOOLS.values()),  # AWS's public layer and its parameter
    *map(text, bootstrap.LOG_GROUP_LISTING),  # logs:DescribeLogGroups only (asserted)
}


STATE_BUCKET_ARN = json.dumps({"Fn::GetAtt": [bootstrap.STATE_BUCKET, "Arn"]})


def scope_problems(policy: dict[str, Any], target: Stage) -> list[str]:
    """Every resource names the stage, or is tag-conditioned to it, or is one of UNNAMED;
    "*" only for actions with no resource type or under a condition; nothing of another
    stage; PassRole only to the stage's roles, for the services that run them."""
    others = [stage(name) for name in STAGES if name != target.name]
    tags = {"aws:ResourceTag/stage": target.name, "aws:ResourceTag/app": target.app_name}
    request_tags = {k.replace("Resource", "Request"): v for k, v in tags.items()}
    problems = []
    for statement in policy["Statement"]:
        sid, condition = statement["Sid"], statement.get("Condition", {})
        if statement["Effect"] != "Allow" or "NotAction" in statement:
            problems.append(f"{sid}: only plain Allow statements")
        if any(a == "*" or a.endswith(":*") for a in statement["Action"]):
            problems.append(f"{sid}: a whole service's actions")
        tagged = condition.get("StringEquals") in (tags, request_tags)
        for resource in map(text, statement["Resource"]):
            if any(other.prefix in resource or f"{other.name}/" in resource for other in others):
                problems.append(f"{sid}: another stage's {resource}")
            elif resource == "*":
                if not condition and set(statement["Action"]) - set(bootstrap.UNSCOPABLE_READS):
                    problems.append(f"{sid}: '*' with no condition")
            elif resource in UNNAMED or (resource.endswith(":userpool/*") and tagged):
                continue
            elif resource.endswith(":key/*") and not tagged:
                problems.append(f"{sid}: KMS keys without the stage's tags")
            elif resource.endswith(":key/*"):
                continue
            elif resource.endswith(":userpool/*"):
                problems.append(f"{sid}: user pools without the stage's tags")
            elif resource == STATE_BUCKET_ARN:
                prefixes = condition.get("StringLike", {}).get("s3:prefix")
                if statement["Action"] != ["s3:ListBucket"] or prefixes != [f"{target.name}/*"]:
                    problems.append(f"{sid}: more than listing the stage's state")
            elif not any(pattern in resource for pattern in stage_patterns(target)):
                problems.append(f"{sid}: {resource} is not {target.name}'s")
        listing = set(map(text, bootstrap.LOG_GROUP_LISTING))
        listed = listing & set(map(text, statement["Resource"]))
        if listed and statement["Action"] != ["logs:DescribeLogGroups"]:
            problems.append(f"{sid}: more than listing every log group")
        if "iam:PassRole" in statement["Action"]:
            passed = condition.get("StringEquals", {}).get("iam:PassedToService")
            if statement["Action"] != ["iam:PassRole"] or not passed:
                problems.append(f"{sid}: PassRole without iam:PassedToService")
    return problems


def deploy_role(template: dict[str, Any], target: Stage) -> dict[str, Any]:
    role: dict[str, Any] = template["Resources"][bootstrap.deploy_role_id(target)]
    return role


def policy(role: dict[str, Any]) -> dict[str, Any]:
    (inline,) = role["Properties"]["Policies"]
    document: dict[str, Any] = inline["PolicyDocument"]
    return document


# --- the template ------------------------------------------------------------------------


def test_make_bootstrap_writes_the_template(tmp_path: Path) -> None:
    out = tmp_path / "bootstrap.json"
    bootstrap.main(["--out", str(out)])
    assert json.loads(out.read_text()) == bootstrap.template()
    recipe = (PROJECT_DIR / "Makefile").read_text().split("\nbootstrap:", 1)[1].split("\n\n", 1)[0]
    assert "$(BIN)/python -m infra.bootstrap" in recipe


def test_cfn_lint_finds_nothing(template: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "bootstrap.json"
    path.write_text(json.dumps(template))
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    done = subprocess.run(
        [str(cfn_lint), "--format", "parseable", str(path)], capture_output=True, text=True
    )
    assert done.stdout == "", done.stdout + done.stderr
    assert done.returncode == 0, done.stderr


def test_checkov_finds_nothing(template: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "bootstrap.json").write_text(json.dumps(template, indent=1))
    command = [str(scan.ensure_checkov()), "--skip-download", "-o", "json"]
    command += ["--framework", "cloudformation", "-f", "bootstrap.json"]
    done = subprocess.run(
        command,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=scan.TIMEOUT_SECONDS,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    report = json.loads(done.stdout)
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == [], failed
    assert report["summary"]["passed"] > 20  # it read the template
    skipped = report["results"]["skipped_checks"]
    assert all(len(c["check_result"]["suppress_comment"]) > 40 for c in skipped)


def test_the_oidc_provider_is_github_s_or_the_account_s_own(template: dict[str, Any]) -> None:
    provider = template["Resources"][bootstrap.PROVIDER]
    assert provider["Properties"] == {
        "Url": "https://token.actions.githubusercontent.com",
        "ClientIdList": ["sts.amazonaws.com"],
    }
    assert provider["Condition"] == bootstrap.CREATE_PROVIDER
    assert template["Conditions"][bootstrap.CREATE_PROVIDER] == {
        "Fn::Equals": [{"Ref": bootstrap.EXISTING_PROVIDER}, ""]
    }
    assert set(template["Parameters"]) == {
        bootstrap.OWNER,
        bootstrap.REPOSITORY,
        bootstrap.EXISTING_PROVIDER,
    }


def test_each_role_trusts_only_its_subject_in_this_repository(template: dict[str, Any]) -> None:
    roles = resources(template, "AWS::IAM::Role")
    assert set(roles) == {bootstrap.PLAN_ROLE, *(f"DeployRole{n.capitalize()}" for n in STAGES)}
    assert trust_problems(roles[bootstrap.PLAN_ROLE], "pull_request") == []
    for name in STAGES:
        assert trust_problems(deploy_role(template, stage(name)), f"environment:{name}") == []


@pytest.mark.parametrize(
    ("change", "found"),
    [
        (lambda c: c.update({"StringLike": c.pop("StringEquals")}), "conditions"),
        (lambda c: c["StringEquals"].pop(f"{bootstrap.OIDC_HOST}:aud"), "audience"),
        (
            lambda c: c["StringEquals"].update(
                {f"{bootstrap.OIDC_HOST}:sub": {"Fn::Sub": "repo:${GitHubOwner}/*"}}
            ),
            "subject",
        ),
    ],
    ids=["wildcard", "no-audience", "any-subject"],
)
def test_the_trust_check_fails_on_a_planted_mistake(
    template: dict[str, Any], change: Any, found: str
) -> None:
    role = copy.deepcopy(deploy_role(template, stage("prod")))
    change(role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Condition"])
    assert any(found in problem for problem in trust_problems(role, "environment:prod"))
    # And prod's role is not dev's.
    assert trust_problems(deploy_role(template, stage("prod")), "environment:dev")


def test_the_state_bucket_is_locked_down(template: dict[str, Any]) -> None:
    bucket = template["Resources"][bootstrap.STATE_BUCKET]
    props = bucket["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"aws:kms", "AES256"}
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert bucket["DeletionPolicy"] == "Retain"  # every stage's state outlives the stack
    assert text(props["BucketName"]) == bootstrap.state_bucket_name(
        "task-api", "${AWS::AccountId}", "${AWS::Region}"
    )
    policy = template["Resources"][bootstrap.STATE_BUCKET_POLICY]["Properties"]
    assert policy["Bucket"] == {"Ref": bootstrap.STATE_BUCKET}
    (deny,) = policy["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Principal"] == "*"
    assert deny["Action"] == "s3:*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert [text(r) for r in deny["Resource"]] == [
        STATE_BUCKET_ARN,
        "${TerraformStateBucket.Arn}/*",
    ]


def test_outputs_name_the_roles_and_the_bucket(template: dict[str, Any]) -> None:
    assert set(template["Outputs"]) == {
        "PlanRoleArn",
        "StateBucketName",
        *(f"{bootstrap.deploy_role_id(stage(n))}Arn" for n in STAGES),
        *(f"{bootstrap.boundary_id(stage(n))}Arn" for n in STAGES),
    }


@pytest.mark.parametrize("name", STAGES)
def test_each_deploy_role_reaches_only_its_stage(template: dict[str, Any], name: str) -> None:
    target = stage(name)
    role = deploy_role(template, target)
    assert scope_problems(policy(role), target) == []
    # It may change the stage's roles (<app>-<stage>-*), and so must not be one of them.
    name_pattern = re.compile(re.escape(target.prefix) + "-")
    assert not name_pattern.match(role["Properties"]["RoleName"])
    assert role["Properties"]["RoleName"] == bootstrap.deploy_role_name(target)
    actions = {a for s in policy(role)["Statement"] for a in s["Action"]}
    # What make release / make rollback call (infra/release.py), and the smoke test's user.
    needed = [
        "codedeploy:CreateDeployment",
        "codedeploy:StopDeployment",
        "codedeploy:GetDeployment",
        "codedeploy:ListDeployments",
        "lambda:GetAlias",
        "lambda:UpdateAlias",
        "lambda:ListVersionsByFunction",
        "lambda:DeleteFunction",
        "cognito-idp:AdminCreateUser",
        "cognito-idp:AdminSetUserPassword",
        "cognito-idp:AdminDeleteUser",
    ]
    assert [a for a in needed if not any(fnmatch.fnmatchcase(a, p) for p in actions)] == []
    assert not any(a.startswith("iam:Attach") for a in actions)  # no managed policy, ever


def test_state_access_is_per_stage(template: dict[str, Any]) -> None:
    for name in STAGES:
        statements = {s["Sid"]: s for s in policy(deploy_role(template, stage(name)))["Statement"]}
        assert [text(r) for r in statements["State"]["Resource"]] == [
            f"${{TerraformStateBucket.Arn}}/{name}/*"
        ]
        assert bootstrap.state_key(stage(name)).startswith(f"{name}/")
    plan = {s["Sid"]: s for s in policy(template["Resources"][bootstrap.PLAN_ROLE])["Statement"]}
    writes = [s for s in plan.values() if any(a.startswith("s3:Put") for a in s["Action"])]
    assert [[text(r) for r in s["Resource"]] for s in writes] == [
        ["${TerraformStateBucket.Arn}/*.tflock"]  # only the lock files
    ]


@pytest.mark.parametrize(
    ("plant", "found"),
    [
        ("other stage", "another stage"),
        ("any table", "is not dev's"),
        ("pass any role", "PassRole"),
        ("untagged key", "KMS keys"),
        ("bare star", "'*' with no condition"),
        ("write every log group", "more than listing"),
    ],
)
def test_the_scope_check_fails_on_a_planted_mistake(
    template: dict[str, Any], plant: str, found: str
) -> None:
    dev = stage("dev")
    document = copy.deepcopy(policy(deploy_role(template, dev)))
    statements = {s["Sid"]: s for s in document["Statement"]}
    if plant == "other stage":
        statements["Table"]["Resource"].append({"Fn::Sub": "arn:table/task-api-prod-tasks"})
    elif plant == "any table":
        statements["Table"]["Resource"] = [{"Fn::Sub": "arn:dynamodb:table/*"}]
    elif plant == "pass any role":
        del statements["PassStageRoles"]["Condition"]
    elif plant == "untagged key":
        del statements["Key"]["Condition"]
    elif plant == "write every log group":
        statements["LogGroupListing"]["Action"].append("logs:DeleteLogGroup")
    else:
        statements["Table"]["Resource"] = ["*"]
    assert any(found in problem for problem in scope_problems(document, dev))


def test_the_plan_role_writes_nothing_but_lock_files(template: dict[str, Any]) -> None:
    statements = policy(template["Resources"][bootstrap.PLAN_ROLE])["Statement"]
    read = re.compile(r":(Get|List|Describe)[A-Za-z*]*$|^apigateway:GET$")
    for statement in statements:
        if statement["Sid"] == "StateLock":
            continue
        assert all(read.search(a) for a in statement["Action"]), statement


# --- the permissions boundary ----------------------------------------------------------------

ACCOUNT, REGION = "111122223333", "eu-west-1"
PSEUDO = {"${AWS::Partition}": "aws", "${AWS::Region}": REGION, "${AWS::AccountId}": ACCOUNT}


def boundary_arn(target: Stage) -> str:
    return f"arn:aws:iam::{ACCOUNT}:policy/{bootstrap.boundary_name(target)}"


def rendered(value: Any) -> Any:
    """A bootstrap policy as CloudFormation makes it in ACCOUNT and REGION: ``Fn::Sub``
    substituted, a boundary's ``Ref`` its ARN."""
    if isinstance(value, list):
        return [rendered(v) for v in value]
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        text_ = value["Fn::Sub"]
        for name, example in PSEUDO.items():
            text_ = text_.replace(name, example)
        return text_
    if isinstance(value, dict) and set(value) == {"Ref"}:
        (target,) = [stage(n) for n in STAGES if bootstrap.boundary_id(stage(n)) == value["Ref"]]
        return boundary_arn(target)
    if isinstance(value, dict):
        return {k: rendered(v) for k, v in value.items()}
    return value


def evaluator(document: dict[str, Any]) -> IAMPolicy:
    """moto's evaluation of an IAM policy: actions, resource wildcards and conditions."""
    return IAMPolicy(json.dumps(rendered(document)))


def terraform_references(target: Stage) -> dict[str, str]:
    """The values of the interpolations in the package's role policies, in ACCOUNT/REGION."""
    arn = f"arn:aws:{{}}:{REGION}:{ACCOUNT}:{{}}"
    return {
        "${data.aws_partition.chalice.partition}": "aws",
        "${data.aws_region.chalice.name}": REGION,
        "${data.aws_caller_identity.chalice.account_id}": ACCOUNT,
        "${aws_lambda_function.api_handler.arn}": arn.format(
            "lambda", f"function:{target.function_name}"
        ),
        f"${{aws_lambda_function.{terraform.PRE_TRAFFIC_HOOK}.arn}}": arn.format(
            "lambda", f"function:{target.pre_traffic_hook_name}"
        ),
        f"${{aws_cloudwatch_log_group.{terraform.PRE_TRAFFIC_HOOK}.arn}}": arn.format(
            "logs", f"log-group:{target.hook_log_group}"
        ),
    }


def granted(policy_text: str, target: Stage) -> list[tuple[str, str]]:
    """Each (action, resource) a package's role policy grants, as an ARN in ACCOUNT/REGION:
    its references resolved, its region and account wildcards filled in (the role can only
    reach its own account), a secret's random suffix made up."""
    for reference, value in terraform_references(target).items():
        policy_text = policy_text.replace(reference, value)
    assert "${" not in policy_text, f"a reference this test cannot resolve: {policy_text}"
    pairs = []
    for statement in json.loads(policy_text)["Statement"]:
        assert statement["Effect"] == "Allow"
        resources = statement["Resource"]
        for resource in [resources] if isinstance(resources, str) else resources:
            concrete = re.sub(r"^(arn:aws:[a-z-]+):\*:\*:", rf"\1:{REGION}:{ACCOUNT}:", resource)
            concrete = concrete.replace("??????", "AbCdEf")
            pairs += [(action, concrete) for action in statement["Action"]]
    return pairs


def package_roles(directory: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """Every ``aws_iam_role`` of a Terraform package with its override merged in, and every
    role policy's text."""
    roles: dict[str, Any] = {}
    policies: dict[str, str] = {}
    for path in sorted(directory.glob("*.tf.json")):
        blocks = json.loads(path.read_text()).get("resource", {})
        for name, role in blocks.get("aws_iam_role", {}).items():
            roles[name] = roles.get(name, {}) | role
        for name, role_policy in blocks.get("aws_iam_role_policy", {}).items():
            if "policy" in role_policy:
                policies[f"{path.name}:{name}"] = role_policy["policy"]
    return roles, policies


@pytest.fixture(scope="module")
def terraform_packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("packages")
    return {name: package.package_terraform(stage(name), root / name) for name in STAGES}


@pytest.mark.parametrize("name", STAGES)
def test_every_role_the_package_makes_is_bounded(
    terraform_packages: dict[str, Path], name: str
) -> None:
    roles, _ = package_roles(terraform_packages[name])
    assert len(roles) >= 4  # the two functions', the hook's and CodeDeploy's
    unbounded = [
        n for n, r in roles.items() if r.get("permissions_boundary") != terraform.BOUNDARY_REFERENCE
    ]
    assert unbounded == []
    variable = json.loads((terraform_packages[name] / "task_api.tf.json").read_text())["variable"]
    assert variable[terraform.PERMISSIONS_BOUNDARY]["default"] is None  # unset: no boundary


@pytest.mark.parametrize("name", STAGES)
def test_the_boundary_holds_every_permission_the_package_grants(
    template: dict[str, Any], terraform_packages: dict[str, Path], name: str
) -> None:
    """A permission outside the boundary would be denied in AWS, silently to Terraform."""
    target = stage(name)
    boundary = template["Resources"][bootstrap.boundary_id(target)]["Properties"]
    assert boundary["ManagedPolicyName"] == bootstrap.boundary_name(target)
    ceiling = evaluator(boundary["PolicyDocument"])
    _, policies = package_roles(terraform_packages[name])
    pairs = [(k, *pair) for k, text_ in policies.items() for pair in granted(text_, target)]
    assert len(policies) >= 4
    assert len(pairs) > 20
    outside = [p for p in pairs if ceiling.is_action_permitted(p[1], p[2]) != PERMITTED]
    assert outside == []
    # ... and nothing of the other stage, nor any table's settings, nor IAM.
    for other in (stage(n) for n in STAGES if n != name):
        table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{other.table_name}"
        assert ceiling.is_action_permitted("dynamodb:GetItem", table) != PERMITTED
    own_table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{target.table_name}"
    assert ceiling.is_action_permitted("dynamodb:DeleteTable", own_table) != PERMITTED
    assert ceiling.is_action_permitted("iam:CreateRole", "*") != PERMITTED


@pytest.mark.parametrize("name", STAGES)
def test_the_deploy_role_writes_roles_only_with_the_boundary(
    template: dict[str, Any], name: str
) -> None:
    target = stage(name)
    deploy = evaluator(policy(deploy_role(template, target)))
    role = f"arn:aws:iam::{ACCOUNT}:role/{target.prefix}-anything"
    own = {"iam:PermissionsBoundary": boundary_arn(target)}
    for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:PutRolePermissionsBoundary"):
        assert deploy.is_action_permitted(action, role, incoming_condition_values=own) == (
            PERMITTED
        )
        for other in (stage(n) for n in STAGES if n != name):
            elsewhere = {"iam:PermissionsBoundary": boundary_arn(other)}
            assert deploy.is_action_permitted(action, role, None, elsewhere) != PERMITTED
    assert deploy.is_action_permitted("iam:DeleteRolePermissionsBoundary", role) != PERMITTED
    # With no boundary in the request, StringEquals is false in AWS (moto lets a missing key
    # pass, so this part is checked on the statements): every statement that lets a role's
    # policy be written demands the boundary, with no "IfExists".
    writes = {"iam:CreateRole", "iam:PutRolePolicy", "iam:PutRolePermissionsBoundary"}
    for statement in rendered(policy(deploy_role(template, target)))["Statement"]:
        if writes & {a for a in statement["Action"] if fnmatch.fnmatchcase(a, "iam:*")} or any(
            a in ("*", "iam:*") or a.startswith("iam:Attach") for a in statement["Action"]
        ):
            assert statement["Condition"] == {"StringEquals": own}, statement["Sid"]
    # Nor may it change its own boundary, nor its own role.
    boundary = boundary_arn(target)
    for action in ("iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:SetDefaultPolicyVersion"):
        assert deploy.is_action_permitted(action, boundary, None, own) != PERMITTED
    itself = f"arn:aws:iam::{ACCOUNT}:role/{bootstrap.deploy_role_name(target)}"
    assert deploy.is_action_permitted("iam:PutRolePolicy", itself, None, own) != PERMITTED


# --- the backend ---------------------------------------------------------------------------


def test_terraform_can_lock_state_in_s3() -> None:
    minimum = tuple(int(p) for p in terraform.REQUIRED_VERSION.split(">=")[1].strip().split("."))
    assert minimum >= (1, 10)  # use_lockfile
    block = terraform.backend_file("bucket", "dev/terraform.tfstate")["terraform"]["backend"]
    assert block == {
        "s3": {
            "bucket": "bucket",
            "key": "dev/terraform.tfstate",
            "encrypt": True,
            "use_lockfile": True,
        }
    }


def test_a_backend_is_packaged_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = stage("dev")
    monkeypatch.setenv(terraform.STATE_BUCKET_ENV, "the-bucket")
    out = package.package_terraform(target, tmp_path)
    written = json.loads((out / terraform.BACKEND_FILE).read_text())
    assert (
        written["terraform"]
        == terraform.backend_file("the-bucket", bootstrap.state_key(target))["terraform"]
    )
    monkeypatch.delenv(terraform.STATE_BUCKET_ENV)
    package.package_terraform(target, tmp_path)
    assert not (out / terraform.BACKEND_FILE).exists()  # a stale one is gone too
    # A backend file of the user's own is theirs: packaging keeps it.
    own = '{"terraform": {"backend": {"local": {"path": "../state"}}}}'
    (out / terraform.BACKEND_FILE).write_text(own)
    package.package_terraform(target, tmp_path)
    assert (out / terraform.BACKEND_FILE).read_text() == own


# --- deploy.yml ------------------------------------------------------------------------------


def load_deploy() -> dict[str, Any]:
    document = yaml.safe_load(DEPLOY.read_text())
    assert isinstance(document, dict)
    return document


def credentials_step(job: dict[str, Any]) -> dict[str, Any] | None:
    found = [s for s in job["steps"] if s.get("uses", "").startswith(CONFIGURE_CREDENTIALS)]
    assert len(found) <= 1
    return found[0] if found else None


VARS = {"${{ vars.AWS_ACCOUNT_ID }}": "111122223333", "${{ vars.AWS_REGION }}": "eu-west-1"}


def with_vars(value: str) -> str:
    for expression, example in VARS.items():
        value = value.replace(expression, example)
    return value


def test_the_workflow_uses_the_bootstrap_s_names() -> None:
    workflow = load_deploy()
    assert with_vars(workflow["env"][terraform.STATE_BUCKET_ENV]) == (
        bootstrap.state_bucket_name(bootstrap.app_name(), *VARS.values())
    )
    roles = {
        name: with_vars(step["with"]["role-to-assume"])
        for name, job in workflow["jobs"].items()
        if (step := credentials_step(job))
    }
    account = "arn:aws:iam::111122223333:role/"
    assert roles == {
        "plan": account + bootstrap.plan_role_name(bootstrap.app_name()),
        **{name: account + bootstrap.deploy_role_name(stage(name)) for name in STAGES},
    }
    boundaries = {
        name: with_vars(job["env"]["TF_VAR_" + terraform.PERMISSIONS_BOUNDARY])
        for name, job in workflow["jobs"].items()
    }
    matrix = boundaries.pop("plan")
    assert {
        n: matrix.replace("${{ matrix.stage }}", n).replace(VARS["${{ vars.AWS_ACCOUNT_ID }}"], "")
        for n in STAGES
    } == {n: f"arn:aws:iam:::policy/{bootstrap.boundary_name(stage(n))}" for n in STAGES}
    assert boundaries == {
        n: f"arn:aws:iam::111122223333:policy/{bootstrap.boundary_name(stage(n))}" for n in STAGES
    }
    for job in workflow["jobs"].values():
        if step := credentials_step(job):
            assert step["with"]["aws-region"] == "${{ vars.AWS_REGION }}"
            assert set(step["with"]) == {"role-to-assume", "aws-region"}  # no keys


def test_every_job_reads_the_repository_and_nothing_more() -> None:
    """``id-token`` only where a role is assumed: test_github_ci.py checks it for every
    workflow; here, nothing else is granted (no comment on the pull request: the summary)."""
    for name, job in load_deploy()["jobs"].items():
        assert set(job["permissions"]) == {"contents", "id-token"}, name
        assert job["permissions"]["contents"] == "read", name


def test_environments_match_the_trust_subjects() -> None:
    jobs = load_deploy()["jobs"]
    # A pull request's token says pull_request only while its job has no environment.
    assert "environment" not in jobs["plan"]
    assert "pull_request" in jobs["plan"]["if"]
    assert jobs["plan"]["strategy"]["matrix"]["stage"] == STAGES
    assert jobs["dev"]["environment"] == "dev"
    assert jobs["prod"]["environment"] == "prod"
    assert jobs["prod"]["needs"] == "dev"
    for name in STAGES:
        assert "push" in jobs[name]["if"]
    # Off until the repository variables exist; prod follows dev (needs).
    assert "vars.AWS_ACCOUNT_ID != ''" in jobs["plan"]["if"]
    assert "vars.AWS_ACCOUNT_ID != ''" in jobs["dev"]["if"]


def test_releases_never_overlap_or_stop_halfway() -> None:
    jobs = load_deploy()["jobs"]
    groups = {}
    for name, job in jobs.items():
        assert job["concurrency"]["cancel-in-progress"] is False, name
        groups[name] = job["concurrency"]["group"]
    assert groups["dev"] == "deploy-dev"
    assert groups["prod"] == "deploy-prod"
    assert "${{ matrix.stage }}" in groups["plan"]


def test_the_steps_are_the_makefile_s() -> None:
    jobs = load_deploy()["jobs"]

    def runs(job: str) -> str:
        return "\n".join(s.get("run", "") for s in jobs[job]["steps"])

    for job in jobs:
        assert 'make package STAGE="$STAGE"' in runs(job)
        # Packaged before the credentials exist.
        names = [s.get("name") or s.get("uses", "") for s in jobs[job]["steps"]]
        assert names.index("make package") < next(
            i for i, n in enumerate(names) if n.startswith(CONFIGURE_CREDENTIALS)
        )
    assert "terraform plan" in runs("plan")
    assert "$GITHUB_STEP_SUMMARY" in runs("plan")
    for name in STAGES:
        assert "terraform apply -auto-approve" in runs(name)
        assert jobs[name]["env"]["STAGE"] == name
        assert 'make release STAGE="$STAGE"' in runs(name)
    assert 'TASKS_TOKEN="$TOKEN" make smoke URL=' in runs("dev")  # never on a command line
    assert "admin-delete-user" in runs("dev").split("trap", 1)[1].splitlines()[0]
