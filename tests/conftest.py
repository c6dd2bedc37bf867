"""Shared fixtures: the app through chalice.test.Client on moto, and a bare table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from app import app
from chalicelib import runtime
from chalicelib.table import create_table

PROJECT_DIR = Path(__file__).resolve().parent.parent


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


class Api:
    """A thin JSON wrapper over Chalice's test client."""

    def __init__(self, client: Client) -> None:
        self._http = client.http

    def request(
        self,
        method: str,
        path: str,
        json_body: Any = None,
        *,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body)
            headers.setdefault("Content-Type", "application/json")
        response = self._http.request(method, path, headers=headers, body=body or b"")
        return Reply(response.status_code, dict(response.headers), response.body)

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json_body: Any = None, **kwargs: Any) -> Reply:
        return self.request("POST", path, json_body, **kwargs)

    def put(self, path: str, json_body: Any = None, **kwargs: Any) -> Reply:
        return self.request("PUT", path, json_body, **kwargs)

    def patch(self, path: str, json_body: Any = None, **kwargs: Any) -> Reply:
        headers = {"Content-Type": "application/merge-patch+json", **kwargs.pop("headers", {})}
        return self.request("PATCH", path, json_body, headers=headers, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Reply:
        return self.request("DELETE", path, **kwargs)

    def create(self, **fields: Any) -> dict[str, Any]:
        reply = self.post("/tasks", {"title": "a task", **fields})
        assert reply.status == 201, reply.body
        return reply.json


@pytest.fixture
def api() -> Iterator[Api]:
    """The app as stage ``local`` serves it: the embedded emulator, the table created."""
    with mock_aws():  # no test can ever reach real AWS
        runtime.reset()
        try:
            yield Api(Client(app, stage_name="local", project_dir=str(PROJECT_DIR)))
        finally:
            runtime.reset()


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture
def table_name(dynamodb: Any) -> str:
    create_table(dynamodb, "tasks-test")
    return "tasks-test"
