"""Stage settings: the embedded default, an explicit endpoint, and deployed stages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws
from moto.server import ThreadedMotoServer

from app import app
from chalicelib import runtime
from chalicelib.runtime import Settings
from chalicelib.table import create_table
from tests.conftest import PROJECT_DIR
from tests.engines.test_telemetry import run_as_lambda
from tools import dev_token


def post_task(client: Client, title: str = "t") -> Any:
    headers = {"Content-Type": "application/json", "Authorization": dev_token.mint("alice")}
    return client.http.post("/tasks", headers=headers, body=json.dumps({"title": title}))


@pytest.fixture
def fresh_runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TASKS_CURSOR_SECRETS", "s" * 32)  # what the infrastructure provides
    runtime.reset()
    yield
    runtime.reset()


def test_settings_read_the_stage_environment() -> None:
    settings = Settings.from_environ(
        {
            "TASKS_TABLE_NAME": "t1",
            "TASKS_AUTO_PROVISION": "true",
            "DYNAMODB_ENDPOINT_URL": "http://127.0.0.1:8001",
            "AWS_REGION": "eu-west-1",
        }
    )
    assert settings == Settings("t1", "http://127.0.0.1:8001", "eu-west-1", True)


def test_settings_defaults() -> None:
    settings = Settings.from_environ({"TASKS_TABLE_NAME": "t1"})
    assert settings == Settings("t1", None, "us-east-1", False)
    other = Settings.from_environ(
        {"TASKS_TABLE_NAME": "t", "AWS_ENDPOINT_URL_DYNAMODB": "http://x"}
    )
    assert other.endpoint_url == "http://x"


def test_cursor_secrets_are_a_comma_separated_list() -> None:
    settings = Settings.from_environ({"TASKS_TABLE_NAME": "t", "TASKS_CURSOR_SECRETS": "a, b,"})
    assert settings.cursor_secrets == (b"a", b"b")


def test_deployed_stage_without_cursor_secret_fails_closed(
    fresh_runtime: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TASKS_CURSOR_SECRETS")
    with mock_aws():
        create_table(boto3.client("dynamodb", region_name="us-east-1"), "task-api-dev-tasks")
        client = Client(app, stage_name="dev", project_dir=str(PROJECT_DIR))
        assert post_task(client).status_code == 500


def test_short_cursor_secret_is_refused(
    fresh_runtime: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKS_CURSOR_SECRETS", "too-short")
    with mock_aws():
        create_table(boto3.client("dynamodb", region_name="us-east-1"), "task-api-dev-tasks")
        client = Client(app, stage_name="dev", project_dir=str(PROJECT_DIR))
        assert post_task(client).status_code == 500


def test_settings_require_a_table_name() -> None:
    with pytest.raises(RuntimeError, match="TASKS_TABLE_NAME"):
        Settings.from_environ({})


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_deployed_stage_uses_its_configured_table(stage: str, fresh_runtime: None) -> None:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_table(dynamodb, f"task-api-{stage}-tasks")
        client = Client(app, stage_name=stage, project_dir=str(PROJECT_DIR))
        assert post_task(client).status_code == 201
        items = dynamodb.scan(TableName=f"task-api-{stage}-tasks")["Items"]
        assert len(items) == 1


def test_deployed_stage_never_creates_tables(fresh_runtime: None) -> None:
    with mock_aws():
        client = Client(app, stage_name="dev", project_dir=str(PROJECT_DIR))
        reply = post_task(client)
        assert reply.status_code == 500
        assert reply.headers["Content-Type"] == "application/problem+json"
        assert boto3.client("dynamodb", region_name="us-east-1").list_tables()["TableNames"] == []


def test_auto_provision_is_refused_inside_lambda(
    fresh_runtime: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "task-api-dev")
    with mock_aws():
        client = Client(app, stage_name="local", project_dir=str(PROJECT_DIR))
        assert post_task(client).status_code == 500
        assert boto3.client("dynamodb", region_name="us-east-1").list_tables()["TableNames"] == []


def test_local_stage_with_endpoint_creates_the_table_there(
    fresh_runtime: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DYNAMODB_ENDPOINT_URL: real HTTP to that endpoint, no credentials needed."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        monkeypatch.setenv("DYNAMODB_ENDPOINT_URL", endpoint)
        client = Client(app, stage_name="local", project_dir=str(PROJECT_DIR))
        assert post_task(client, "over http").status_code == 201
        direct = boto3.client(
            "dynamodb",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        assert direct.list_tables()["TableNames"] == ["tasks-local"]
        items = direct.scan(TableName="tasks-local")["Items"]
        assert [i["title"]["S"] for i in items] == ["over http"]
    finally:
        server.stop()


def test_without_a_registered_embedded_engine_a_development_stage_says_why(
    fresh_runtime: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lambda never registers the embedded engine (it lives in devserver/, which is not
    packaged): a stage that would need it fails with the reason, not with an import error."""
    monkeypatch.setattr(runtime, "_embedded_engine", None)
    monkeypatch.delenv("DYNAMODB_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("TASKS_AUTO_PROVISION", "true")
    monkeypatch.setenv("TASKS_TABLE_NAME", "tasks-local")
    with pytest.raises(RuntimeError, match="needs the embedded engine"):
        runtime.shared()


def test_the_embedded_engine_patch_still_finds_what_it_wraps() -> None:
    """devserver.embedded serialises requests by wrapping botocore's private
    ``BaseClient._make_api_call``: an upgrade that renames it must fail here, not quietly
    let two chalice local threads pass one If-Match."""
    from botocore.client import BaseClient

    from devserver.embedded import EmbeddedDynamoDB

    assert callable(BaseClient._make_api_call)
    client = boto3.client("dynamodb", region_name="us-east-1")
    original = client._make_api_call
    EmbeddedDynamoDB().adapt(client)
    assert client._make_api_call is not original


def test_prime_builds_the_container_s_client_once(
    monkeypatch: pytest.MonkeyPatch, fresh_runtime: None
) -> None:
    built: list[Settings] = []
    monkeypatch.setattr(runtime, "_build", lambda settings: built.append(settings) or "shared")
    monkeypatch.setenv("TASKS_TABLE_NAME", "primed")
    monkeypatch.setenv("TASKS_CURSOR_SECRETS", "s" * 32)
    runtime.prime()
    assert [s.table_name for s in built] == ["primed"]
    assert runtime.shared() == "shared"  # the first request finds it built
    assert len(built) == 1


def test_a_failure_at_init_is_logged_and_left_to_the_first_request(
    monkeypatch: pytest.MonkeyPatch, fresh_runtime: None, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[int] = []

    def failing(settings: Settings) -> Any:
        attempts.append(1)
        raise RuntimeError("no credentials yet")

    monkeypatch.setattr(runtime, "_build", failing)
    monkeypatch.setenv("TASKS_TABLE_NAME", "primed")
    runtime.prime()  # does not raise: the init phase must not fail the container
    assert "first request will retry" in caplog.text
    with pytest.raises(RuntimeError, match="no credentials yet"):
        runtime.shared()
    assert len(attempts) == 2


def _stage_variables(in_lambda: bool) -> dict[str, str]:
    """A stage's variables for a fresh interpreter that imports the app, as Lambda or not."""
    return {
        "TASKS_TABLE_NAME": "primed",
        "TASKS_CURSOR_SECRETS": "s" * 32,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "POWERTOOLS_TRACE_DISABLED": "true",
        **({"AWS_LAMBDA_FUNCTION_NAME": "task-api-dev"} if in_lambda else {}),
    }


@pytest.mark.external
@pytest.mark.parametrize("in_lambda", [True, False])
def test_importing_the_app_primes_only_inside_lambda(in_lambda: bool) -> None:
    """In Lambda the init phase builds the client; chalice local and the tests (which load
    chalice.local) and a plain import never do."""
    script = "import app\nfrom chalicelib import runtime\nprint(runtime._shared is not None)\n"
    done = run_as_lambda(script, _stage_variables(in_lambda))
    assert done.stdout.strip().splitlines()[-1] == str(in_lambda)


@pytest.mark.external
@pytest.mark.parametrize("in_lambda", [True, False])
def test_lambda_s_init_runs_without_collections_then_freezes_what_it_made(
    in_lambda: bool,
) -> None:
    """Collection is back on once init is done; what init made is frozen (Lambda only)."""
    script = "import gc, app\nprint(gc.isenabled(), gc.get_freeze_count() > 1000)\n"
    done = run_as_lambda(script, _stage_variables(in_lambda))
    assert done.stdout.strip().splitlines()[-1] == f"True {in_lambda}"
