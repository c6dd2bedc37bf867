"""Bad input: every rule of the task schema, and every error as an RFC 9457 problem."""

from __future__ import annotations

import json
import time

import pytest

from chalicelib.core import validation
from chalicelib.core.http import INSTANCE_PREFIX, MAX_BODY_BYTES, MAX_BODY_DEPTH, MAX_PROBLEM_ERRORS
from tests.conftest import Api, largest_task

PROBLEM_JSON = "application/problem+json"
FUTURE = 4102444800  # 2100-01-01


def assert_problem(reply, status: int) -> dict:
    assert reply.status == status, reply.body
    assert reply.header("Content-Type") == PROBLEM_JSON
    problem = reply.json
    assert problem["status"] == status
    for member in ("type", "title", "detail"):
        assert isinstance(problem[member], str)
        assert problem[member]
    return problem


INVALID_FIELDS = [
    ({"title": ""}, "/title", "must not be empty"),
    ({"title": "   "}, "/title", "must not be blank"),
    ({"title": "\u3000\t\ufeff"}, "/title", "must not be blank"),
    ({"title": "x" * 201}, "/title", "must be at most 200 characters"),
    ({"title": 5}, "/title", "must be a string"),
    ({"description": "x" * 10_001}, "/description", "must be at most 10000 characters"),
    ({"description": None}, "/description", "must be a string"),
    ({"status": "done"}, "/status", "must be one of: new, in_progress, completed, cancelled"),
    ({"priority": "critical"}, "/priority", "must be one of: low, medium, high, urgent"),
    ({"dueDate": "tomorrow"}, "/dueDate", "RFC 3339"),
    ({"dueDate": "2025-02-30"}, "/dueDate", "RFC 3339"),
    ({"dueDate": "2025-01-01T10:00:00"}, "/dueDate", "RFC 3339"),
    ({"dueDate": "2025-01-01 10:00:00Z"}, "/dueDate", "RFC 3339"),
    ({"dueDate": 20250101}, "/dueDate", "must be a string or null"),
    ({"tags": "a"}, "/tags", "must be an array"),
    ({"tags": ["a", "a"]}, "/tags", "must not contain duplicates"),
    ({"tags": [f"t{i}" for i in range(21)]}, "/tags", "must have at most 20 items"),
    ({"tags": ["ok", ""]}, "/tags/1", "must not be empty"),
    ({"tags": ["x" * 51]}, "/tags/0", "must be at most 50 characters"),
    ({"tags": [1]}, "/tags/0", "must be a string"),
    ({"expireAt": "soon"}, "/expireAt", "must be an integer or null"),
    ({"expireAt": 1.5}, "/expireAt", "must be an integer or null"),
    ({"expireAt": True}, "/expireAt", "must be an integer or null"),
    ({"expireAt": 1000}, "/expireAt", "must be in the future"),
    ({"expireAt": 10**13}, "/expireAt", "must be at most 253402300799"),
    ({"owner": "someone"}, "/owner", "is not a known field"),
]


@pytest.mark.parametrize(("fields", "pointer", "detail"), INVALID_FIELDS)
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_invalid_field_is_400_naming_it_and_writes_nothing(
    api: Api, method: str, fields: dict, pointer: str, detail: str
) -> None:
    body = {"title": "valid", **fields}
    path = "/tasks" if method == "POST" else "/tasks/target"
    problem = assert_problem(api.request(method, path, body), 400)
    assert problem["errors"] == [{"pointer": pointer, "detail": problem["errors"][0]["detail"]}]
    assert detail in problem["errors"][0]["detail"]
    assert api.get("/tasks").json["count"] == 0


# In a patch, null on an optional field means "reset to default", so it is valid there.
INVALID_PATCHES = [case for case in INVALID_FIELDS if None not in case[0].values()]


@pytest.mark.parametrize(("fields", "pointer", "detail"), INVALID_PATCHES)
def test_invalid_patch_is_400_and_changes_nothing(
    api: Api, fields: dict, pointer: str, detail: str
) -> None:
    task = api.create()
    problem = assert_problem(api.patch(f"/tasks/{task['id']}", fields), 400)
    assert [e["pointer"] for e in problem["errors"]] == [pointer]
    assert detail in problem["errors"][0]["detail"]
    assert api.get(f"/tasks/{task['id']}").json == task


def test_every_invalid_field_is_listed_at_once(app_only: Api) -> None:
    body = {
        "title": "",
        "status": "nope",
        "priority": 1,
        "tags": ["a", "a"],
        "dueDate": "someday",
        "expireAt": -1,
        "colour": "red",
        "size": 3,
    }
    problem = assert_problem(app_only.post("/tasks", body), 400)
    pointers = [e["pointer"] for e in problem["errors"]]
    assert pointers == sorted(
        ["/title", "/status", "/priority", "/tags", "/dueDate", "/expireAt", "/colour", "/size"]
    )
    assert all(e["detail"] for e in problem["errors"])


def test_missing_title_is_required(app_only: Api) -> None:
    problem = assert_problem(app_only.post("/tasks", {}), 400)
    assert problem["errors"] == [{"pointer": "/title", "detail": "is required"}]


def test_messages_do_not_echo_input(app_only: Api) -> None:
    secret = "<script>" + "s" * 300
    problem = assert_problem(app_only.post("/tasks", {"title": secret, "status": secret}), 400)
    assert "<script>" not in str(problem)


@pytest.mark.parametrize(
    "value",
    ["2030-12-31", "2030-12-31T23:59:59Z", "2030-12-31T23:59:59.123+05:30", "2030-12-31t10:00:00z"],
)
def test_valid_due_dates_are_accepted(api: Api, value: str) -> None:
    assert api.create(dueDate=value)["dueDate"] == value


def test_integral_float_expire_at_is_an_integer(api: Api) -> None:
    task = api.create(expireAt=4102444800.0)
    assert task["expireAt"] == 4102444800
    assert isinstance(task["expireAt"], int)
    patched = api.patch(f"/tasks/{task['id']}", {"expireAt": 4102444801.0}).json
    assert patched["expireAt"] == 4102444801
    problem = assert_problem(api.post("/tasks", {"title": "t", "expireAt": 1.0}), 400)
    assert problem["errors"] == [{"pointer": "/expireAt", "detail": "must be in the future"}]


def test_boundary_values_are_accepted(api: Api) -> None:
    task = api.create(
        title="x" * 200,
        description="d" * 10_000,
        tags=[f"{i:02d}" + "t" * 48 for i in range(20)],
        expireAt=int(time.time()) + 60,
    )
    assert len(task["title"]) == 200
    assert len(task["tags"]) == 20


@pytest.mark.parametrize(
    "task_id", ["-starts-with-dash", ".dot", "has space", "x" * 129, "semi;colon", "é"]
)
def test_invalid_path_id_is_400(api: Api, task_id: str) -> None:
    from urllib.parse import quote

    problem = assert_problem(api.put(f"/tasks/{quote(task_id)}", {"title": "t"}), 400)
    assert problem["errors"][0]["parameter"] == "id"
    assert api.get("/tasks").json["count"] == 0


@pytest.mark.parametrize("task_id", ["a", "A.b_c~d-e", "9" * 128])
def test_valid_path_ids(api: Api, task_id: str) -> None:
    assert api.put(f"/tasks/{task_id}", {"title": "t"}).status == 201
    assert api.get(f"/tasks/{task_id}").json["id"] == task_id


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_invalid_id_on_other_routes_is_400(app_only: Api, method: str) -> None:
    body = {} if method == "PATCH" else None
    problem = assert_problem(app_only.request(method, "/tasks/-bad", body), 400)
    assert problem["errors"][0]["parameter"] == "id"


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"",
        b'{"title": NaN}',
        b'{"title": Infinity}',
        b'{"title": "a",}',
        b"\xff\xfe",
        b'{"title": "\\ud800"}',  # a lone surrogate: valid JSON text, not encodable
        b'{"tags": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",  # nesting past the recursion limit
    ],
)
def test_malformed_json_is_400(app_only: Api, raw: bytes) -> None:
    reply = app_only.post("/tasks", body=raw, headers={"Content-Type": "application/json"})
    assert_problem(reply, 400)


@pytest.mark.parametrize("raw", [b"[]", b'"title"', b"42", b"null", b'[{"title": "a"}]'])
def test_json_that_is_not_an_object_is_400(app_only: Api, raw: bytes) -> None:
    for method, path in (("POST", "/tasks"), ("PUT", "/tasks/x")):
        reply = app_only.request(
            method, path, body=raw, headers={"Content-Type": "application/json"}
        )
        assert "JSON object" in assert_problem(reply, 400)["detail"]


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/tasks"), ("PUT", "/tasks/x"), ("PATCH", "/tasks/x")]
)
@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data"])
def test_other_content_types_are_415(
    app_only: Api, method: str, path: str, content_type: str
) -> None:
    reply = app_only.request(
        method, path, body=b'{"title": "t"}', headers={"Content-Type": content_type}
    )
    assert_problem(reply, 415)


def test_json_with_charset_is_accepted(api: Api) -> None:
    reply = api.post(
        "/tasks",
        body=b'{"title": "t"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert reply.status == 201


def test_body_over_the_limit_is_413(api: Api) -> None:
    body = b'{"title": "t", "description": "' + b"x" * MAX_BODY_BYTES + b'"}'
    assert_problem(api.post("/tasks", body=body, headers={"Content-Type": "application/json"}), 413)
    assert api.get("/tasks").json["count"] == 0


def test_body_of_exactly_the_limit_is_not_413(app_only: Api) -> None:
    body = b'{"title": "t", "pad": "' + b"x" * (MAX_BODY_BYTES - 25) + b'"}'
    assert len(body) == MAX_BODY_BYTES
    reply = app_only.post("/tasks", body=body, headers={"Content-Type": "application/json"})
    assert reply.status == 400  # the unknown field, not the size


def test_the_largest_valid_task_fits_under_the_limit_even_fully_escaped(api: Api) -> None:
    """A schema-valid body must never be refused for its size: every string at its
    maximum length, every character outside the BMP, JSON-escaped as \\ud83d\\ude00."""
    largest = largest_task()
    body = json.dumps(largest, ensure_ascii=True).encode()
    assert len(body) <= MAX_BODY_BYTES
    reply = api.post("/tasks", body=body, headers={"Content-Type": "application/json"})
    assert reply.status == 201, reply.body
    assert reply.json["description"] == largest["description"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PATCH", "/tasks", {"GET", "POST"}),
        ("DELETE", "/tasks", {"GET", "POST"}),
        ("POST", "/tasks/x", {"GET", "PUT", "PATCH", "DELETE"}),
        ("POST", "/health", {"GET"}),
    ],
)
def test_unsupported_method_is_405_with_allow(
    app_only: Api, method: str, path: str, allowed: set[str]
) -> None:
    reply = app_only.request(method, path)
    assert_problem(reply, 405)
    assert {m.strip() for m in reply.header("Allow").split(",")} == allowed


def test_unexpected_failure_is_500_problem_without_internals(
    app_only: Api, monkeypatch, capsys
) -> None:
    from chalicelib.tasks import store

    def explode(*args, **kwargs):
        raise RuntimeError("table secret-table-name is on fire")

    app_only.get("/health")
    monkeypatch.setattr(store.DynamoTaskStore, "get", explode)
    reply = app_only.get("/tasks/some-id")
    problem = assert_problem(reply, 500)
    assert "secret" not in reply.body.decode()
    assert "Traceback" not in reply.body.decode()
    request_id = reply.header("X-Request-Id")
    assert problem["instance"] == INSTANCE_PREFIX + request_id
    # The local stage logs readable lines; the traceback follows the error's line.
    out = capsys.readouterr().out
    error_line = next(line for line in out.splitlines() if "Unhandled error" in line)
    assert f"correlation_id={request_id}" in error_line
    assert "RuntimeError: table secret-table-name is on fire" in out.split(error_line, 1)[1]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/tasks"), ("GET", "/tasks/x"), ("DELETE", "/tasks/x"), ("GET", "/health")],
)
def test_routes_without_a_body_ignore_content_type(api: Api, method: str, path: str) -> None:
    api.put("/tasks/x", {"title": "t"})
    reply = api.request(method, path, headers={"Content-Type": "text/plain"})
    assert reply.status in (200, 204)


@pytest.mark.parametrize("title", ["\x1f", "\x85", "a "])
def test_blank_means_what_the_document_says_not_pythons_wider_whitespace(
    api: Api, title: str
) -> None:
    """JSON Schema's \\s (ECMA-262) does not cover \\x1c-\\x1f or \\x85; Python's does.
    The API follows the document, so a title of one of those is not blank."""
    assert api.post("/tasks", {"title": title}).status == 201


# --- rejecting costs time linear in the body, and answers in a few KB ------------------------


def test_a_huge_mixed_tags_array_is_one_error_not_one_per_item(app_only: Api) -> None:
    """jsonschema's uniqueItems was quadratic for items it cannot sort (7,000 mixed items
    took 23 s); an array over maxItems is now rejected by maxItems alone."""
    body = {"title": "x", "tags": [*range(7000), "x", [1], {"a": 1}, None, 1.5]}
    for method, path in (("POST", "/tasks"), ("PUT", "/tasks/x"), ("PATCH", "/tasks/x")):
        problem = assert_problem(app_only.request(method, path, body), 400)
        assert problem["errors"] == [{"pointer": "/tags", "detail": "must have at most 20 items"}]


@pytest.mark.parametrize(
    "tags",
    [
        pytest.param(["a", "b", "a"], id="strings"),
        pytest.param([1, 1.0], id="one-and-one-point-zero"),
        pytest.param([{"a": 1, "b": 2}, {"b": 2, "a": 1}], id="objects-in-any-key-order"),
        pytest.param([[1, "x"], [1.0, "x"]], id="arrays"),
    ],
)
def test_duplicates_are_found_with_json_schema_equality(app_only: Api, tags: list) -> None:
    problem = assert_problem(app_only.post("/tasks", {"title": "x", "tags": tags}), 400)
    assert {"pointer": "/tags", "detail": "must not contain duplicates"} in problem["errors"]


@pytest.mark.parametrize(
    "tags", [[1, True], [0, False], [None, False], ["1", 1], [{"a": 1}, {"a": 1, "b": 1}]]
)
def test_values_json_schema_tells_apart_are_not_duplicates(app_only: Api, tags: list) -> None:
    problem = assert_problem(app_only.post("/tasks", {"title": "x", "tags": tags}), 400)
    assert all(e["detail"] != "must not contain duplicates" for e in problem["errors"])


def test_a_problem_lists_at_most_50_errors_and_counts_the_rest(app_only: Api) -> None:
    unknown = {f"k{i:05d}": 1 for i in range(20_000)}  # about 240 KB
    body = json.dumps({"title": "x", **unknown}).encode()
    assert len(body) <= MAX_BODY_BYTES
    for method, path in (("POST", "/tasks"), ("PUT", "/tasks/x"), ("PATCH", "/tasks/x")):
        reply = app_only.request(
            method, path, body=body, headers={"Content-Type": "application/json"}
        )
        problem = assert_problem(reply, 400)
        assert len(problem["errors"]) == MAX_PROBLEM_ERRORS
        assert problem["errors"][0] == {"pointer": "/k00000", "detail": "is not a known field"}
        assert "20000 invalid values" in problem["detail"]
        assert "19950 more" in problem["detail"]
        assert len(reply.body) < 8 * 1024


def test_a_problem_with_few_errors_lists_them_all(app_only: Api) -> None:
    body = {"title": "", **{f"k{i}": 1 for i in range(MAX_PROBLEM_ERRORS - 1)}}
    problem = assert_problem(app_only.post("/tasks", body), 400)
    assert len(problem["errors"]) == MAX_PROBLEM_ERRORS
    assert problem["detail"] == f"{MAX_PROBLEM_ERRORS} invalid value(s): see errors."


def test_a_number_beyond_a_double_is_400_before_any_conversion(api: Api) -> None:
    """expireAt: 1e400 on POST was a 500: it was converted (int(inf)) before validation.
    (One table for every case: each one costs a table on DynamoDB Local otherwise.)"""
    for number in (b"1e400", b"-1e400", b"1E+999", b"123.4e5000"):
        for method, path in (("POST", "/tasks"), ("PUT", "/tasks/x"), ("PATCH", "/tasks/x")):
            case = (method, number)
            body = b'{"title": "x", "expireAt": ' + number + b"}"
            headers = {"Content-Type": "application/json"}
            reply = api.request(method, path, body=body, headers=headers)
            assert reply.status == 400, case
            assert "64-bit float" in assert_problem(reply, 400)["detail"], case
            assert api.get("/tasks").json["count"] == 0, case


def test_a_huge_integral_expire_at_is_a_400_naming_the_field(app_only: Api) -> None:
    for value in (b"1e308", b"1" + b"0" * 4000, b"-1e308", b"4102444800.0e100"):
        body = b'{"title": "x", "expireAt": ' + value + b"}"
        headers = {"Content-Type": "application/json"}
        for key in (None, "k-" + value[:20].decode()):
            sent = {**headers, **({"Idempotency-Key": key} if key else {})}
            reply = app_only.post("/tasks", body=body, headers=sent)
            problem = assert_problem(reply, 400)
            assert [e["pointer"] for e in problem["errors"]] == ["/expireAt"], value


def test_a_body_nested_deeper_than_the_limit_is_400(app_only: Api) -> None:
    deep = {"title": "x", "tags": json.loads("[" * (MAX_BODY_DEPTH) + "]" * (MAX_BODY_DEPTH))}
    reply = app_only.post("/tasks", deep)
    assert f"more than {MAX_BODY_DEPTH} deep" in assert_problem(reply, 400)["detail"]
    allowed = {
        "title": "x",
        "tags": json.loads("[" * (MAX_BODY_DEPTH - 1) + "]" * (MAX_BODY_DEPTH - 1)),
    }
    reply = app_only.post("/tasks", allowed)
    assert [e["pointer"] for e in assert_problem(reply, 400)["errors"]] == ["/tags/0"]


def test_json_schema_equality_keys() -> None:
    assert validation._canonical(1) == validation._canonical(1.0)
    assert validation._canonical(True) != validation._canonical(1)
    assert validation._canonical(None) != validation._canonical(False)
    assert validation._canonical({"a": [1, {"b": 2}]}) == validation._canonical(
        {"a": [1.0, {"b": 2}]}
    )
    assert validation._canonical("1") != validation._canonical(1)


@pytest.mark.parametrize(
    "keys",
    [
        pytest.param([f"{i:06d}" + "k" * 994 for i in range(250)], id="1000-character-names"),
        pytest.param(["k" * (MAX_BODY_BYTES - 100)], id="one-name-filling-the-body"),
        pytest.param([f"{i:03d}" + "\x01" * 60 for i in range(300)], id="escaped-characters"),
        pytest.param([f"{i:03d}" + "\U0001f600" * 60 for i in range(300)], id="emoji"),
    ],
)
def test_names_too_long_to_show_keep_the_problem_small(app_only: Api, keys: list[str]) -> None:
    """Each error names its field, and unknown names are the caller's: a 1,000-character
    name in each of 50 errors made a 52 KB problem."""
    body = json.dumps({"title": "x", **dict.fromkeys(keys, 0)}).encode()
    reply = app_only.post("/tasks", body=body, headers={"Content-Type": "application/json"})
    problem = assert_problem(reply, 400)
    assert {"pointer": "", "detail": "has an unknown field whose name is too long to show"} in (
        problem["errors"]
    )
    assert str(len(keys)) in problem["detail"] or len(keys) == 1
    assert len(reply.body) < 8 * 1024


def test_a_name_just_short_enough_is_shown_as_a_json_pointer(app_only: Api) -> None:
    shown = "a/b~c" + "x" * (validation.MAX_NAME_SHOWN_BYTES - 7)
    problem = assert_problem(app_only.post("/tasks", {"title": "x", shown: 1}), 400)
    assert problem["errors"] == [
        {
            "pointer": "/" + shown.replace("~", "~0").replace("/", "~1"),
            "detail": "is not a known field",
        }
    ]


def test_unknown_query_parameters_are_counted_and_long_names_shortened(app_only: Api) -> None:
    query = "&".join(f"p{i:04d}{'q' * 200}=1" for i in range(100))
    reply = app_only.get(f"/tasks?{query}&limit=0")
    problem = assert_problem(reply, 400)
    assert len(problem["errors"]) == MAX_PROBLEM_ERRORS
    assert "101 invalid values" in problem["detail"]
    assert all(
        len(e["parameter"].encode()) <= validation.MAX_NAME_SHOWN_BYTES for e in problem["errors"]
    )
    assert len(reply.body) < 8 * 1024


@pytest.mark.parametrize("expire_at", ["soon", 1000, None])
def test_the_expiry_rule_sees_every_error_not_only_those_listed(
    app_only: Api, expire_at: object
) -> None:
    """Unknown fields that sort before /expireAt push its schema error past the first 50;
    the rule that expireAt be in the future must still know it is not a number (a 500
    once: '<=' between str and float)."""
    body = {"title": "x", "expireAt": expire_at, **{f"a{i:02d}": 1 for i in range(60)}}
    for method, path in (("POST", "/tasks"), ("PUT", "/tasks/x"), ("PATCH", "/tasks/x")):
        problem = assert_problem(app_only.request(method, path, body), 400)
        assert len(problem["errors"]) == MAX_PROBLEM_ERRORS
        expected = 60 if expire_at is None else 61
        assert problem["detail"].startswith(f"{expected} invalid values")
