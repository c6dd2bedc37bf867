"""ETag, If-Match and If-None-Match (RFC 9110 §13), each one DynamoDB request."""

from __future__ import annotations

import pytest

from chalicelib.core.headers import MAX_ENTITY_TAGS
from tests.conftest import Api


def create(api: Api, task_id: str = "t1", **fields: object) -> tuple[dict, str]:
    reply = api.put(f"/tasks/{task_id}", {"title": "t", **fields})
    assert reply.status == 201
    return reply.json, reply.header("ETag")


def test_every_task_response_carries_the_same_etag(api: Api) -> None:
    _, etag = create(api)
    assert api.get("/tasks/t1").header("ETag") == etag
    patched = api.patch("/tasks/t1", {"title": "u"}, headers={"If-Match": etag})
    assert patched.header("ETag") != etag
    assert api.get("/tasks/t1").header("ETag") == patched.header("ETag")
    replaced = api.put("/tasks/t1", {"title": "v"}, headers={"If-Match": patched.header("ETag")})
    assert api.get("/tasks/t1").header("ETag") == replaced.header("ETag")


@pytest.mark.parametrize(
    "header", ["{etag}", "W/{etag}", '"other", {etag}', "*", '"x", W/{etag}, "y"']
)
def test_get_with_matching_if_none_match_is_304(api: Api, header: str) -> None:
    _, etag = create(api)
    reply = api.get("/tasks/t1", headers={"If-None-Match": header.format(etag=etag)})
    assert reply.status == 304
    assert reply.body == b""
    assert reply.header("ETag") == etag


@pytest.mark.parametrize("header", ['"1.00000000000000000000"', 'W/"nope"', '"nope", "1.2"'])
def test_get_with_other_if_none_match_is_200(api: Api, header: str) -> None:
    task, etag = create(api)
    reply = api.get("/tasks/t1", headers={"If-None-Match": header})
    assert reply.status == 200
    assert reply.json == task
    assert reply.header("ETag") == etag


def test_get_if_none_match_after_a_change_is_200(api: Api) -> None:
    _, etag = create(api)
    api.patch("/tasks/t1", {"title": "changed"})
    reply = api.get("/tasks/t1", headers={"If-None-Match": etag})
    assert reply.status == 200
    assert reply.json["title"] == "changed"


def test_if_none_match_on_a_missing_task_is_404(api: Api) -> None:
    assert api.get("/tasks/nope", headers={"If-None-Match": "*"}).status == 404


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_matching_if_match_succeeds(api: Api, method: str) -> None:
    _, etag = create(api)
    body = {"title": "new"} if method != "DELETE" else None
    headers = {"If-Match": etag}
    if method == "PATCH":
        headers["Content-Type"] = "application/merge-patch+json"
    reply = api.request(method, "/tasks/t1", body, headers=headers)
    assert reply.status == (204 if method == "DELETE" else 200)


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize(
    "stale", ["previous", 'W/"{etag}"-weak', "unknown", "recreated"], ids=lambda s: s
)
def test_stale_if_match_is_412_and_changes_nothing(api: Api, method: str, stale: str) -> None:
    first, first_etag = create(api)
    if stale == "previous":
        current = api.patch("/tasks/t1", {"priority": "high"})
        header = first_etag
    elif stale == "recreated":  # same id and version, another incarnation
        api.delete("/tasks/t1")
        current = api.put("/tasks/t1", {"title": "t"})
        assert current.json["version"] == first["version"]
        header = first_etag
    elif stale.startswith("W/"):  # If-Match uses the strong comparison
        current = api.get("/tasks/t1")
        header = f"W/{first_etag}"
    else:
        current = api.get("/tasks/t1")
        header = '"not-an-etag-of-ours"'
    before = api.get("/tasks/t1").json
    body = {"title": "lost update"} if method != "DELETE" else None
    reply = api.request(method, "/tasks/t1", body, headers={"If-Match": header})
    assert reply.status == 412, reply.body
    assert reply.header("Content-Type") == "application/problem+json"
    assert reply.json["status"] == 412
    assert api.get("/tasks/t1").json == before
    assert api.get("/tasks/t1").header("ETag") == current.header("ETag")


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
@pytest.mark.parametrize("header", ['"1.20260101000000000000"', "*"])
def test_if_match_on_a_missing_task_is_404_for_patch_and_delete(
    api: Api, method: str, header: str
) -> None:
    body = {"title": "x"} if method == "PATCH" else None
    reply = api.request(method, "/tasks/missing", body, headers={"If-Match": header})
    assert reply.status == 404


@pytest.mark.parametrize("header", ['"1.20260101000000000000"', "*"])
def test_put_with_if_match_on_a_missing_task_is_412_and_creates_nothing(
    api: Api, header: str
) -> None:
    reply = api.put("/tasks/missing", {"title": "x"}, headers={"If-Match": header})
    assert reply.status == 412
    assert api.get("/tasks/missing").status == 404


def test_if_match_star_matches_any_current_task(api: Api) -> None:
    create(api)
    api.patch("/tasks/t1", {"priority": "low"})
    reply = api.put("/tasks/t1", {"title": "replaced"}, headers={"If-Match": "*"})
    assert reply.status == 200
    assert reply.json["version"] == 3


def test_if_match_list_matches_any_of_its_tags(api: Api) -> None:
    _, etag = create(api)
    header = f'"1.20000101000000000000", W/{etag}, {etag}'
    assert api.patch("/tasks/t1", {"title": "ok"}, headers={"If-Match": header}).status == 200


def test_put_if_none_match_star_creates_only(api: Api) -> None:
    reply = api.put("/tasks/new", {"title": "first"}, headers={"If-None-Match": "*"})
    assert reply.status == 201
    again = api.put("/tasks/new", {"title": "second"}, headers={"If-None-Match": "*"})
    assert again.status == 412
    assert api.get("/tasks/new").json == reply.json


def test_put_if_none_match_tag_refuses_that_version(api: Api) -> None:
    _, etag = create(api)
    assert api.put("/tasks/t1", {"title": "x"}, headers={"If-None-Match": etag}).status == 412
    api.patch("/tasks/t1", {"priority": "low"})
    assert api.put("/tasks/t1", {"title": "x"}, headers={"If-None-Match": etag}).status == 200


def test_empty_patch_checks_if_match_too(api: Api) -> None:
    _, etag = create(api)
    api.patch("/tasks/t1", {"priority": "low"})
    assert api.patch("/tasks/t1", {}, headers={"If-Match": etag}).status == 412
    current = api.get("/tasks/t1").header("ETag")
    assert api.patch("/tasks/t1", {}, headers={"If-Match": current}).status == 200


@pytest.mark.parametrize("value", ["abc", '"unterminated', "W/abc", '"a" "b"', '"a",,x'])
@pytest.mark.parametrize("header", ["If-Match", "If-None-Match"])
def test_malformed_precondition_header_is_400(api: Api, header: str, value: str) -> None:
    create(api)
    reply = api.put("/tasks/t1", {"title": "x"}, headers={header: value})
    assert reply.status == 400
    assert reply.json["errors"] == [{"header": header, "detail": reply.json["errors"][0]["detail"]}]
    assert api.get("/tasks/t1").json["title"] == "t"


def test_expired_task_with_if_match(api: Api, clock) -> None:
    _, etag = create(api, expireAt=clock.epoch + 10)
    clock.advance(seconds=11)
    assert api.patch("/tasks/t1", {"title": "x"}, headers={"If-Match": etag}).status == 404
    assert api.delete("/tasks/t1", headers={"If-Match": etag}).status == 404
    assert api.put("/tasks/t1", {"title": "x"}, headers={"If-Match": etag}).status == 412
    created = api.put("/tasks/t1", {"title": "x"}, headers={"If-None-Match": "*"})
    assert created.status == 201
    assert created.json["version"] == 1


OPERATIONS = {
    "create": ("POST", "/tasks", {"title": "n"}, {}),
    "create with Idempotency-Key": ("POST", "/tasks", {"title": "n"}, {"Idempotency-Key": "k1"}),
    "replay Idempotency-Key": ("POST", "/tasks", {"title": "n"}, {"Idempotency-Key": "k0"}),
    "read": ("GET", "/tasks/t1", None, {}),
    "conditional read (304)": ("GET", "/tasks/t1", None, {"If-None-Match": "{etag}"}),
    "replace": ("PUT", "/tasks/t1", {"title": "r"}, {}),
    "replace with If-Match": ("PUT", "/tasks/t1", {"title": "r"}, {"If-Match": "{etag}"}),
    "replace with stale If-Match": ("PUT", "/tasks/t1", {"title": "r"}, {"If-Match": '"1.2"'}),
    "create with If-None-Match": ("PUT", "/tasks/t2", {"title": "r"}, {"If-None-Match": "*"}),
    "create at id": ("PUT", "/tasks/t3", {"title": "r"}, {}),
    "patch": ("PATCH", "/tasks/t1", {"title": "p"}, {}),
    "patch with If-Match": ("PATCH", "/tasks/t1", {"title": "p"}, {"If-Match": "{etag}"}),
    "patch with stale If-Match": ("PATCH", "/tasks/t1", {"title": "p"}, {"If-Match": '"1.2"'}),
    "patch missing": ("PATCH", "/tasks/none", {"title": "p"}, {}),
    "delete": ("DELETE", "/tasks/t1", None, {}),
    "delete with If-Match": ("DELETE", "/tasks/t1", None, {"If-Match": "{etag}"}),
    "delete missing": ("DELETE", "/tasks/none", None, {}),
}


@pytest.mark.parametrize("operation", OPERATIONS)
def test_each_operation_is_one_dynamodb_request(
    api: Api, dynamodb_calls: list[str], operation: str
) -> None:
    method, path, body, headers = OPERATIONS[operation]
    _, etag = create(api)
    api.post("/tasks", {"title": "n"}, headers={"Idempotency-Key": "k0"})
    headers = {k: v.format(etag=etag) for k, v in headers.items()}
    if method == "PATCH":
        headers["Content-Type"] = "application/merge-patch+json"
    dynamodb_calls.clear()
    reply = api.request(method, path, body, headers=headers)
    assert reply.status < 500
    assert len(dynamodb_calls) == 1, dynamodb_calls
    assert dynamodb_calls[0] in {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "TransactWriteItems",
    }


def test_if_match_with_if_none_match_star_can_never_hold(api: Api) -> None:
    _, etag = create(api)
    both = {"If-Match": etag, "If-None-Match": "*"}
    assert api.put("/tasks/t1", {"title": "x"}, headers=both).status == 412
    assert api.put("/tasks/missing", {"title": "x"}, headers=both).status == 412
    assert api.get("/tasks/missing").status == 404


def test_malformed_if_none_match_is_400_even_for_a_missing_task(app_only: Api) -> None:
    reply = app_only.get("/tasks/missing", headers={"If-None-Match": "abc"})
    assert reply.status == 400
    assert reply.json["errors"][0]["header"] == "If-None-Match"


def _tags(count: int, current: str | None = None) -> str:
    """``count`` entity tags of this API's form, none current unless ``current`` is given
    (it is then the last, where DynamoDB's expression would meet it last)."""
    tags = [f'"{v}.20000101000000{v:06d}"' for v in range(1, count + 1)]
    if current is not None:
        tags[-1] = current
    return ", ".join(tags)


@pytest.mark.parametrize("count", [MAX_ENTITY_TAGS + 1, 75, 300])
@pytest.mark.parametrize(
    ("method", "header"),
    [
        ("PATCH", "If-Match"),
        ("DELETE", "If-Match"),
        ("PUT", "If-Match"),
        ("PUT", "If-None-Match"),
        ("GET", "If-None-Match"),
    ],
)
def test_too_many_entity_tags_are_a_400_not_a_500(
    api: Api, method: str, header: str, count: int, dynamodb_calls: list[str]
) -> None:
    """75 tags made DynamoDB refuse the condition expression (over 300 operators): a 500."""
    create(api)
    dynamodb_calls.clear()
    body = {"title": "x"} if method in ("PUT", "PATCH") else None
    reply = api.request(method, "/tasks/t1", body, headers={header: _tags(count)})
    assert reply.status == 400, reply.body
    assert reply.json["errors"] == [
        {"header": header, "detail": f"must list at most {MAX_ENTITY_TAGS} entity tags"}
    ]
    assert dynamodb_calls == []
    assert api.get("/tasks/t1").json["title"] == "t"


@pytest.mark.parametrize("method", ["PATCH", "PUT", "DELETE"])
def test_the_most_entity_tags_allowed_still_match(api: Api, method: str) -> None:
    _, etag = create(api)
    body = {"title": "x"} if method in ("PUT", "PATCH") else None
    stale = _tags(MAX_ENTITY_TAGS)
    assert api.request(method, "/tasks/t1", body, headers={"If-Match": stale}).status == 412
    matching = _tags(MAX_ENTITY_TAGS, current=etag)
    reply = api.request(method, "/tasks/t1", body, headers={"If-Match": matching})
    assert reply.status == (204 if method == "DELETE" else 200), reply.body
