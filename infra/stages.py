"""What differs between deployed stages, and the names every format derives from it.

The app's own settings stay in ``.chalice/config.json`` (table name, CORS origin, IAM
policy file); this module reads them from there rather than repeating them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.activity.routes import STREAM_ARN_VARIABLE
from chalicelib.core.http import CORS_ORIGIN_VARIABLE, LOOPBACK_ORIGINS
from chalicelib.telemetry import NAMESPACE_ENV, SERVICE
from infra.definitions import ALL_AT_ONCE, Release

PROJECT_DIR = Path(__file__).resolve().parent.parent
CONFIG_FILE = PROJECT_DIR / ".chalice" / "config.json"
DEPLOYED_STAGES = ("dev", "prod")
#: Stage variables ``infra.support`` writes for ``chalice deploy``: account-specific, never
#: committed, and replaced by each package with references to its own resources.
DEPLOY_ONLY_VARIABLES = (
    "TASKS_CURSOR_SECRET_ARN",
    "COGNITO_USER_POOL_ARN",
    "COGNITO_USER_POOL_CLIENT_ID",
    STREAM_ARN_VARIABLE,  # the consumer's stream: each package names its table's own
)
#: Chalice's own stage setting for the function's layers (not an environment variable).
LAYERS_SETTING = "layers"
#: Stage settings it writes likewise: the Powertools layer's ARN, which each package
#: resolves for itself.
DEPLOY_ONLY_SETTINGS = (LAYERS_SETTING,)
#: Chalice's stage setting for the function's reserved concurrency: the one definition.
RESERVED_CONCURRENCY_SETTING = "reserved_concurrency"
#: Chalice's name for the stream consumer's function (``record_activity`` in
#: ``chalicelib.activity.consumer``): the key of its own settings under the stage's
#: ``lambda_functions`` (its IAM policy file), and the suffix of its deployed name.
CONSUMER = "record_activity"
#: Chalice's name for the consumer's event source mapping: the Terraform block's name and
#: the entry of ``.chalice/deployed/<stage>.json`` that holds the mapping's UUID.
CONSUMER_EVENT_SOURCE = f"{CONSUMER}-dynamodb-event-source"
#: Chalice's stage setting for the functions' memory (MB), which also sets their share of
#: CPU: every deployed stage sets it for the API, and for the consumer under its own
#: ``lambda_functions`` entry (BENCHMARKS.md, Memory sizes, says why each).
MEMORY_SIZE_SETTING = "lambda_memory_size"
#: Chalice's per-function settings of a stage, and the one that names a policy file.
FUNCTION_SETTINGS = "lambda_functions"
POLICY_FILE_SETTING = "iam_policy_file"


@dataclass(frozen=True)
class Tuning:
    """Operational settings that are not the app's business."""

    log_retention_days: int
    throttle_rate_limit: int  # steady requests per second for the whole stage
    throttle_burst_limit: int
    protect_data: bool  # deletion protection, and keep table and users on stack deletion
    #: Anyone who knows the app client id (the web page publishes it) may create an account
    #: with Cognito's SignUp and use the API. Off: only an administrator creates users
    #: (``admin-create-user``). docs/security.md, "Users, sign-up and passwords" says what
    #: opening it costs.
    allow_self_sign_up: bool = False
    #: How a packaged stage's new version takes traffic (``make release``). ``chalice
    #: deploy`` always replaces the function at once.
    release: Release = ALL_AT_ONCE
    #: The warm p99 that the stage's memory size (``lambda_memory_size``) is chosen for:
    #: the cheapest size whose slowest operation of the typical mix meets it, in process
    #: (``python -m bench.cost bench/results.json --target-p99 <ms>``; BENCHMARKS.md).
    p99_target_ms: float = 100.0


TUNING: dict[str, Tuning] = {
    "dev": Tuning(
        log_retention_days=14,
        throttle_rate_limit=20,
        throttle_burst_limit=40,
        protect_data=False,
    ),
    "prod": Tuning(
        log_retention_days=90,
        throttle_rate_limit=200,
        throttle_burst_limit=400,
        protect_data=True,
        release=Release("Canary10Percent5Minutes"),
        p99_target_ms=25.0,
    ),
}


@dataclass(frozen=True)
class Stage:
    """A deployed stage: its tuning, and the names of everything it owns."""

    name: str
    app_name: str
    api_stage: str  # API Gateway stage, the first segment of every URL path
    environment: dict[str, str]
    policy_file: Path
    tuning: Tuning
    #: The consumer's own policy (the stage's ``lambda_functions``), never the API's.
    consumer_policy_file: Path
    #: Chalice's ``lambda_memory_size`` of the API's function (and the pre-traffic hook's,
    #: which runs the same code), and the consumer's own.
    memory_size: int
    consumer_memory_size: int
    #: Chalice's own ``reserved_concurrency`` stage setting in ``.chalice/config.json``, which
    #: ``chalice deploy`` applies and ``chalice package`` writes into both formats. None:
    #: the function shares the account's unreserved pool.
    reserved_concurrency: int | None = None
    #: The consumer's: its own setting in ``lambda_functions``, else the stage's (Chalice
    #: looks a function's setting up there first).
    consumer_reserved_concurrency: int | None = None

    @property
    def prefix(self) -> str:
        return f"{self.app_name}-{self.name}"

    @property
    def table_name(self) -> str:
        return self.environment["TASKS_TABLE_NAME"]

    @property
    def cors_origin(self) -> str:
        """The one origin the gateway's own responses allow: none for the development-only
        ``loopback`` setting, which the app also treats as no origin outside chalice local."""
        origin = self.environment.get(CORS_ORIGIN_VARIABLE, "").strip()
        return "" if origin.lower() == LOOPBACK_ORIGINS else origin

    @property
    def metrics_namespace(self) -> str:
        """Where the app writes its EMF metrics, with the app's own fallback
        (``chalicelib.telemetry``): the alarms must watch exactly that."""
        return self.environment.get(NAMESPACE_ENV) or SERVICE

    @property
    def function_name(self) -> str:
        return self.prefix  # Chalice's name for the API handler, on every path

    @property
    def function_log_group(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def consumer_function_name(self) -> str:
        """Chalice's name for the consumer on ``chalice deploy`` and in Terraform; the SAM
        template is given the same."""
        return f"{self.prefix}-{CONSUMER}"

    @property
    def consumer_log_group(self) -> str:
        return f"/aws/lambda/{self.consumer_function_name}"

    @property
    def pre_traffic_hook_name(self) -> str:
        """CodeDeploy's pre-traffic hook on the packaged paths. SAM's CodeDeploy role may
        invoke only functions whose names start with ``CodeDeployHook_``."""
        return f"CodeDeployHook_{self.prefix}-pre-traffic"

    @property
    def codedeploy_application_name(self) -> str:
        """Terraform's CodeDeploy application (SAM names its own)."""
        return f"{self.prefix}-release"

    @property
    def deployment_group_name(self) -> str:
        return f"{self.prefix}-api"

    @property
    def hook_log_group(self) -> str:
        return f"/aws/lambda/{self.pre_traffic_hook_name}"

    @property
    def failure_queue_name(self) -> str:
        """Where the consumer's event source mapping sends what it gives up on."""
        return f"{self.prefix}-stream-failures"

    @property
    def access_log_group(self) -> str:
        return f"/aws/apigateway/{self.prefix}/access"

    @property
    def secret_name(self) -> str:
        return f"{self.app_name}/{self.name}/cursor-secrets"

    @property
    def alarm_topic_name(self) -> str:
        return f"{self.prefix}-alarms"

    @property
    def alarm_topic_key_alias(self) -> str:
        return f"alias/{self.prefix}-alarms"

    @property
    def dashboard_name(self) -> str:
        """The stage's CloudWatch dashboard (letters, digits, ``-`` and ``_`` only)."""
        return self.prefix

    @property
    def support_stack_name(self) -> str:
        return f"{self.prefix}-support"

    def policy(self) -> dict[str, Any]:
        return json.loads(self.policy_file.read_text())

    def consumer_policy(self) -> dict[str, Any]:
        return json.loads(self.consumer_policy_file.read_text())


def load_config() -> dict[str, Any]:
    return json.loads(CONFIG_FILE.read_text())


def stage(name: str, config: dict[str, Any] | None = None) -> Stage:
    if name not in DEPLOYED_STAGES:
        raise ValueError(f"unknown deployed stage {name!r}; expected one of {DEPLOYED_STAGES}")
    config = load_config() if config is None else config
    settings = config["stages"][name]
    consumer = settings[FUNCTION_SETTINGS][CONSUMER]
    reserved_concurrency = settings.get(RESERVED_CONCURRENCY_SETTING)
    return Stage(
        name=name,
        app_name=config["app_name"],
        api_stage=config.get("api_gateway_stage", "api"),
        environment=dict(settings.get("environment_variables", {})),
        policy_file=CONFIG_FILE.parent / settings[POLICY_FILE_SETTING],
        tuning=TUNING[name],
        consumer_policy_file=CONFIG_FILE.parent / consumer[POLICY_FILE_SETTING],
        memory_size=settings[MEMORY_SIZE_SETTING],
        consumer_memory_size=consumer[MEMORY_SIZE_SETTING],
        reserved_concurrency=reserved_concurrency,
        consumer_reserved_concurrency=consumer.get(
            RESERVED_CONCURRENCY_SETTING, reserved_concurrency
        ),
    )
