"""Identity and owner isolation: no request may read, change, list or detect another
owner's task (OWASP API1)."""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from app import app
from chalicelib import identity, runtime
from chalicelib.core.errors import AnonymousModeRefused, AudienceUnconfigured, Unauthenticated
from chalicelib.table import create_table
from tests.conftest import PROJECT_DIR, Api
from tools import dev_token


@pytest.fixture
def users(api: Api) -> tuple[Api, Api, Api]:
    return api.as_user("alice"), api.as_user("bob"), api.as_user("carol")


#: What is served without a token: health, the API document, the web page and its files.
PUBLIC_PATHS = {"/", "/health", "/openapi.json", "/ui/{name}"}


def test_every_tasks_route_uses_the_cognito_authorizer_and_health_none() -> None:
    for path, methods in app.routes.items():
        for method, entry in methods.items():
            if path not in PUBLIC_PATHS:
                assert entry.authorizer is not None, (method, path)
                assert entry.authorizer.name == "TasksUserPool"
            else:
                assert entry.authorizer is None, (method, path)


def test_another_owners_task_is_404_on_every_single_task_route(users: Any) -> None:
    alice, bob, _ = users
    task = alice.create(title="alice's secret")
    path = f"/tasks/{task['id']}"
    etag = alice.get(path).header("ETag")
    assert bob.get(path).status == 404
    assert bob.get(path, headers={"If-None-Match": etag}).status == 404
    assert bob.patch(path, {"title": "mine now"}).status == 404
    assert bob.patch(path, {"title": "mine now"}, headers={"If-Match": etag}).status == 404
    assert bob.patch(path, {}).status == 404
    assert bob.delete(path).status == 404
    assert bob.delete(path, headers={"If-Match": "*"}).status == 404
    assert bob.put(path, {"title": "x"}, headers={"If-Match": etag}).status == 412
    assert bob.put(path, {"title": "x"}, headers={"If-Match": "*"}).status == 412
    assert alice.get(path).json == task


def test_the_same_id_names_a_task_per_owner(users: Any) -> None:
    alice, bob, carol = users
    assert alice.put("/tasks/shared", {"title": "alice"}).status == 201
    assert bob.put("/tasks/shared", {"title": "bob"}).status == 201
    assert (
        bob.put("/tasks/shared", {"title": "bob again"}, headers={"If-None-Match": "*"}).status
        == 412
    )
    assert (
        carol.put("/tasks/shared", {"title": "carol"}, headers={"If-None-Match": "*"}).status == 201
    )
    assert alice.get("/tasks/shared").json["title"] == "alice"
    assert alice.get("/tasks/shared").json["version"] == 1
    assert bob.get("/tasks/shared").json["title"] == "bob"
    bob.delete("/tasks/shared")
    assert alice.get("/tasks/shared").status == 200
    assert carol.get("/tasks/shared").status == 200


def test_lists_hold_only_the_callers_tasks(users: Any) -> None:
    alice, bob, carol = users
    mine = {name: [] for name in ("alice", "bob", "carol")}
    for i in range(6):
        for name, user in (("alice", alice), ("bob", bob)):
            mine[name].append(user.create(title=f"{name} {i}", tags=["shared-tag"])["id"])
    for name, user in (("alice", alice), ("bob", bob), ("carol", carol)):
        for query in ("", "?status=new", "?tag=shared-tag", "?priority=medium"):
            listed = user.get(f"/tasks{query}").json["items"]
            assert sorted(t["id"] for t in listed) == sorted(mine[name]), (name, query)


def test_cursors_are_per_owner(users: Any) -> None:
    alice, bob, _ = users
    for i in range(3):
        alice.create(title=f"a{i}")
        bob.create(title=f"b{i}")
    cursor = alice.get("/tasks?limit=1").json["nextCursor"]
    reply = bob.get(f"/tasks?limit=1&cursor={cursor}")
    assert reply.status == 400
    assert reply.json["errors"][0]["parameter"] == "cursor"
    assert alice.get(f"/tasks?limit=1&cursor={cursor}").status == 200


def test_idempotency_keys_are_per_owner(users: Any) -> None:
    alice, bob, _ = users
    body = {"title": "same body"}
    first = alice.post("/tasks", body, headers={"Idempotency-Key": "k"})
    other = bob.post("/tasks", body, headers={"Idempotency-Key": "k"})
    assert other.status == 201
    assert other.json["id"] != first.json["id"]
    assert bob.get(f"/tasks/{first.json['id']}").status == 404
    different = bob.post("/tasks", {"title": "bob's other"}, headers={"Idempotency-Key": "k"})
    assert different.status == 422
    assert alice.post("/tasks", body, headers={"Idempotency-Key": "k"}).json == first.json


def test_owner_is_never_taken_from_the_request_nor_returned(users: Any) -> None:
    alice, bob, _ = users
    reply = alice.post("/tasks", {"title": "t", "owner": "bob"})
    assert reply.status == 400
    assert reply.json["errors"] == [{"pointer": "/owner", "detail": "is not a known field"}]
    assert alice.patch("/tasks/x", {"owner": "bob"}).status in (400, 404)
    assert bob.get("/tasks?owner=alice").status == 400
    task = alice.create()
    assert "owner" not in task
    assert dev_token.subject("alice") not in json.dumps(task)


def test_anonymous_local_requests_act_as_one_local_owner(api: Api, users: Any) -> None:
    alice, _, _ = users
    anonymous = api.create(title="anonymous")
    assert api.get(f"/tasks/{anonymous['id']}").status == 200
    assert alice.get(f"/tasks/{anonymous['id']}").status == 404
    assert [t["id"] for t in api.get("/tasks").json["items"]] == [anonymous["id"]]


@pytest.mark.parametrize(
    "token",
    [
        dev_token.mint("alice", sub=" "),  # no usable sub
        "header.eyJzdWIiOiJ4In0.signature",  # a token chalice local passes on without claims
    ],
)
def test_a_token_without_a_usable_sub_is_401_even_locally(app_only: Api, token: str) -> None:
    reply = app_only.get("/tasks", headers={"Authorization": token})
    assert reply.status == 401
    assert reply.header("WWW-Authenticate")


@pytest.fixture
def dev_stage(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("TASKS_CURSOR_SECRETS", "s" * 32)
    runtime.reset()
    with mock_aws():
        create_table(boto3.client("dynamodb", region_name="us-east-1"), "task-api-dev-tasks")
        yield Api(Client(app, stage_name="dev", project_dir=str(PROJECT_DIR)))
    runtime.reset()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/tasks"),
        ("POST", "/tasks"),
        ("GET", "/tasks/x"),
        ("PUT", "/tasks/x"),
        ("PATCH", "/tasks/x"),
        ("DELETE", "/tasks/x"),
    ],
)
def test_a_stage_that_requires_identity_answers_401_without_claims(
    dev_stage: Api, method: str, path: str
) -> None:
    body = {"title": "t"} if method in ("POST", "PUT", "PATCH") else None
    reply = dev_stage.request(method, path, body)
    assert reply.status == 401
    assert reply.header("Content-Type") == "application/problem+json"
    assert reply.json["status"] == 401
    assert reply.header("WWW-Authenticate").startswith("Bearer")


def test_a_stage_that_requires_identity_serves_verified_owners(dev_stage: Api) -> None:
    alice = dev_stage.as_user("alice")
    task = alice.create()
    assert alice.get(f"/tasks/{task['id']}").status == 200
    assert dev_stage.as_user("bob").get(f"/tasks/{task['id']}").status == 404
    assert dev_stage.get("/health").status == 200


def test_anonymous_mode_refuses_to_serve_inside_lambda(
    app_only: Api, monkeypatch: pytest.MonkeyPatch, dynamodb_calls: list[str]
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "task-api-dev")
    reply = app_only.get("/tasks")
    assert reply.status == 500
    assert reply.header("Content-Type") == "application/problem+json"
    assert "refuses" in reply.json["detail"]
    assert dynamodb_calls == []


def test_owner_rules() -> None:
    anonymous = {"TASKS_ALLOW_ANONYMOUS": "true"}
    assert identity.owner({"sub": "abc-123"}, True, {}) == "abc-123"
    assert identity.owner({"sub": "abc-123"}, True, anonymous) == "abc-123"
    assert identity.owner(None, False, anonymous) == identity.LOCAL_OWNER
    with pytest.raises(Unauthenticated):
        identity.owner(None, False, {})
    with pytest.raises(Unauthenticated):
        identity.owner(None, True, anonymous)  # a token that yielded no claims
    with pytest.raises(Unauthenticated):
        identity.owner({"cognito:username": "x"}, True, anonymous)
    with pytest.raises(Unauthenticated):
        identity.owner({"sub": "has space"}, True, {})
    with pytest.raises(AnonymousModeRefused):
        identity.owner(None, False, {**anonymous, "AWS_LAMBDA_FUNCTION_NAME": "f"})


def test_user_pool_arns_come_from_the_stage() -> None:
    arn = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_abc"
    assert identity.user_pool_arns({"COGNITO_USER_POOL_ARN": arn}) == [arn]
    assert identity.user_pool_arns({}) == [identity.PLACEHOLDER_USER_POOL_ARN]


def test_dev_tokens_are_unsigned_and_stable() -> None:
    token = dev_token.mint("alice")
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert header["alg"] == "none"
    assert token.endswith(".")
    assert claims["sub"] == dev_token.subject("alice")
    assert claims["cognito:username"] == "alice"
    assert dev_token.subject("alice") != dev_token.subject("bob")


@pytest.fixture
def stage_with_client(monkeypatch: pytest.MonkeyPatch, dev_stage: Api) -> Api:
    """The dev stage as deployed: it names its own app client (every deploy path writes
    COGNITO_USER_POOL_CLIENT_ID from the same definitions that create the client)."""
    monkeypatch.setenv("COGNITO_USER_POOL_CLIENT_ID", "web-client-1")
    return dev_stage


def _token(**claims: Any) -> str:
    """An unsigned token with exactly these claims (the test client does not verify)."""
    raw = json.dumps({"cognito:username": "mallory", **claims}).encode()
    payload = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return f"eyJhbGciOiJub25lIn0.{payload}."


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"token_use": "id", "aud": "another-client"}, id="other-client"),
        pytest.param({"token_use": "access", "client_id": "web-client-1"}, id="access-token"),
        pytest.param({"token_use": "access", "aud": "web-client-1"}, id="access-with-aud"),
        pytest.param({"aud": "web-client-1"}, id="no-token-use"),
        pytest.param({"token_use": "id"}, id="no-aud"),
        pytest.param({"token_use": "id", "aud": ["web-client-1"]}, id="aud-list"),
    ],
)
def test_a_deployed_stage_accepts_only_id_tokens_of_its_own_clients(
    stage_with_client: Api, claims: dict[str, Any], dynamodb_calls: list[str]
) -> None:
    mallory = {"Authorization": _token(sub="mallory-sub", **claims)}
    reply = stage_with_client.get("/tasks", headers=mallory)
    assert reply.status == 401, reply.body
    assert reply.header("WWW-Authenticate").startswith("Bearer")
    assert dynamodb_calls == []


def test_an_id_token_of_the_stage_s_own_client_is_served(stage_with_client: Api) -> None:
    own = {"Authorization": _token(sub="alice-sub", token_use="id", aud="web-client-1")}
    assert stage_with_client.post("/tasks", {"title": "t"}, headers=own).status == 201
    assert stage_with_client.get("/tasks", headers=own).json["count"] == 1


def test_inside_lambda_a_stage_without_its_client_refuses_to_serve(
    dev_stage: Api, monkeypatch: pytest.MonkeyPatch, dynamodb_calls: list[str]
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "task-api-dev")
    monkeypatch.delenv("COGNITO_USER_POOL_CLIENT_ID", raising=False)
    token = {"Authorization": _token(sub="alice-sub", token_use="id", aud="anything")}
    reply = dev_stage.get("/tasks", headers=token)
    assert reply.status == 500
    assert "refuses" in reply.json["detail"]
    assert dynamodb_calls == []


def test_token_rules() -> None:
    own = {"COGNITO_USER_POOL_CLIENT_ID": "c1"}
    id_token = {"sub": "s", "token_use": "id", "aud": "c1"}
    assert identity.owner(id_token, True, own) == "s"
    assert identity.owner({**id_token, "aud": "c2"}, True, {}) == "s"  # locally: no client
    with pytest.raises(Unauthenticated):
        identity.owner({**id_token, "aud": "c2"}, True, own)
    with pytest.raises(Unauthenticated):
        identity.owner({**id_token, "token_use": "access"}, True, own)
    with pytest.raises(AudienceUnconfigured):
        identity.owner(id_token, True, {"AWS_LAMBDA_FUNCTION_NAME": "f"})
    assert identity.token_audiences({"COGNITO_USER_POOL_CLIENT_ID": " c1 , c2 "}) == {"c1", "c2"}
