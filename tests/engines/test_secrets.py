"""Cursor secrets from Secrets Manager: what deployed stages use instead of a value in
their environment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from app import app
from chalicelib import runtime
from chalicelib.secrets import SecretsManagerSecrets, parse_secrets
from chalicelib.table import create_table
from tests.conftest import PROJECT_DIR
from tools import dev_token

AUTH = {"Authorization": dev_token.mint("alice")}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def secretsmanager() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def test_the_value_is_a_comma_separated_list_signing_secret_first() -> None:
    assert parse_secrets(" new-secret , old-secret,") == (b"new-secret", b"old-secret")


def test_the_secret_is_read_once_and_re_read_after_the_refresh_period(
    secretsmanager: Any,
) -> None:
    arn = secretsmanager.create_secret(Name="c", SecretString="a" * 32)["ARN"]
    clock = FakeClock()
    secrets = SecretsManagerSecrets(lambda: secretsmanager, arn, refresh_seconds=300, clock=clock)
    assert secrets() == (b"a" * 32,)
    secretsmanager.put_secret_value(SecretId=arn, SecretString=f"{'b' * 32},{'a' * 32}")
    clock.now += 299
    assert secrets() == (b"a" * 32,), "cached within the refresh period"
    clock.now += 1
    assert secrets() == (b"b" * 32, b"a" * 32), "a rotation reaches a running container"


def test_a_failed_re_read_keeps_the_cached_secret(secretsmanager: Any) -> None:
    arn = secretsmanager.create_secret(Name="c", SecretString="a" * 32)["ARN"]
    clock = FakeClock()
    secrets = SecretsManagerSecrets(lambda: secretsmanager, arn, refresh_seconds=300, clock=clock)
    assert secrets() == (b"a" * 32,)
    secretsmanager.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    clock.now += 301
    assert secrets() == (b"a" * 32,)


def test_a_first_read_that_fails_raises(secretsmanager: Any) -> None:
    secrets = SecretsManagerSecrets(lambda: secretsmanager, "missing")
    with pytest.raises(secretsmanager.exceptions.ResourceNotFoundException):
        secrets()


@pytest.fixture
def deployed_stage(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Client, Any, str]]:
    """The dev stage as its infrastructure configures it: a table and a secret's ARN."""
    monkeypatch.delenv("TASKS_CURSOR_SECRETS", raising=False)
    runtime.reset()
    with mock_aws():
        create_table(boto3.client("dynamodb", region_name="us-east-1"), "task-api-dev-tasks")
        secrets = boto3.client("secretsmanager", region_name="us-east-1")
        arn = secrets.create_secret(Name="task-api/dev/cursor-secrets", SecretString="k" * 64)[
            "ARN"
        ]
        monkeypatch.setenv("TASKS_CURSOR_SECRET_ARN", arn)
        yield Client(app, stage_name="dev", project_dir=str(PROJECT_DIR)), secrets, arn
    runtime.reset()


def test_a_deployed_stage_pages_with_the_secret_it_names(
    deployed_stage: tuple[Client, Any, str],
) -> None:
    client, _, _ = deployed_stage
    headers = {**AUTH, "Content-Type": "application/json"}
    for title in ("one", "two", "three"):
        response = client.http.post("/tasks", headers=headers, body=json.dumps({"title": title}))
        assert response.status_code == 201
    first = client.http.get("/tasks?limit=2", headers=AUTH).json_body
    cursor = first["nextCursor"]
    second = client.http.get(f"/tasks?limit=2&cursor={cursor}", headers=AUTH).json_body
    titles = [t["title"] for t in first["items"] + second["items"]]
    assert titles == ["three", "two", "one"]
    assert second["nextCursor"] is None


def test_cursors_signed_with_a_dropped_secret_are_refused(
    deployed_stage: tuple[Client, Any, str],
) -> None:
    client, secrets, arn = deployed_stage
    headers = {**AUTH, "Content-Type": "application/json"}
    for title in ("one", "two"):
        client.http.post("/tasks", headers=headers, body=json.dumps({"title": title}))
    cursor = client.http.get("/tasks?limit=1", headers=AUTH).json_body["nextCursor"]
    # Rotating to a new secret *without* keeping the old one invalidates old cursors:
    secrets.put_secret_value(SecretId=arn, SecretString="n" * 64)
    runtime.reset()  # a new container reads the new value
    response = client.http.get(f"/tasks?limit=1&cursor={cursor}", headers=AUTH)
    assert response.status_code == 400
    assert response.json_body["errors"][0]["parameter"] == "cursor"
