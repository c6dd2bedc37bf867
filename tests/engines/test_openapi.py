"""The API document: served, committed, valid OpenAPI 3.1, and made from the code's own
definitions (routes, schemas, header syntax), so that it cannot drift from them."""

from __future__ import annotations

import copy
import html
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from chalice.test import Client
from openapi_spec_validator import validate

from app import app
from chalicelib.core import headers, openapi, validation
from chalicelib.core.errors import RETRY_AFTER_SECONDS
from chalicelib.core.http import (
    CORS_EXPOSE_HEADERS,
    MAX_BODY_BYTES,
    MAX_PROBLEM_ERRORS,
    SECURITY_HEADERS,
)
from chalicelib.core.operations import Operation, declaration
from chalicelib.tasks import schema, service
from devserver import stream_poller
from tests.conftest import PROJECT_DIR, Api, serving_api
from tests.docs import build_site
from tests.local_server import running_local_server
from tools import openapi as openapi_tool

COMMITTED = json.loads((PROJECT_DIR / "openapi.json").read_text())
#: The paths that need a token: every route that reads stored data.
TOKEN_PATHS = tuple(
    path for path, methods in app.routes.items() if any(e.authorizer for e in methods.values())
)


@pytest.fixture(scope="module")
def local_document() -> Iterator[dict[str, Any]]:
    with serving_api() as api:
        reply = api.get("/openapi.json")
        assert reply.status == 200
        yield reply.json


def component(document: dict[str, Any], name: str) -> dict[str, Any]:
    """A schema component as a standalone JSON Schema that resolves the document's $refs."""
    return {**document, "$ref": f"#/components/schemas/{name}"}


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method.upper(), operation


# --- the served and committed documents -------------------------------------------


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_committed_copy_is_what_a_deployed_stage_serves(stage: str) -> None:
    assert openapi_tool.served(stage) == COMMITTED


def test_the_check_command_catches_a_stale_copy(tmp_path: Any, monkeypatch: Any) -> None:
    stale = copy.deepcopy(COMMITTED)
    stale["paths"]["/tasks"]["get"]["summary"] = "something else"
    copy_path = tmp_path / "openapi.json"
    copy_path.write_text(openapi_tool.render(stale))
    monkeypatch.setattr(openapi_tool, "COMMITTED", copy_path)
    assert openapi_tool.main(["--check"]) == 1
    monkeypatch.setattr(openapi_tool, "COMMITTED", tmp_path / "written.json")
    assert openapi_tool.main([]) == 0
    assert openapi_tool.main(["--check"]) == 0


def test_the_local_stage_differs_only_in_admitting_requests_without_a_token(
    local_document: dict[str, Any],
) -> None:
    assert local_document["info"]["description"].startswith(COMMITTED["info"]["description"])
    expected = copy.deepcopy(COMMITTED)
    assert {"/tasks", "/tasks/{task_id}"} <= set(TOKEN_PATHS)
    for path in TOKEN_PATHS:
        for operation in expected["paths"][path].values():
            operation["security"] = [{openapi.SECURITY_SCHEME: []}, {}]
    expected["info"]["description"] = local_document["info"]["description"]
    assert local_document == expected


@pytest.mark.parametrize("which", ["committed", "local"])
def test_the_document_is_valid_openapi_3_1(which: str, local_document: dict[str, Any]) -> None:
    document = COMMITTED if which == "committed" else local_document
    assert document["openapi"] == "3.1.0"
    validate(document)  # openapi-spec-validator; raises on any violation


def test_serving_the_document_needs_no_token_in_a_deployed_stage() -> None:
    with Client(app, stage_name="dev", project_dir=str(PROJECT_DIR)) as client:
        assert client.http.get("/tasks").status_code == 401
        assert client.http.get("/openapi.json").status_code == 200


# --- made from the code's definitions ----------------------------------------------


def test_every_route_is_documented_with_its_methods_and_nothing_else() -> None:
    routes = {(path, method) for path, methods in app.routes.items() for method in methods}
    documented = {(path, method) for path, method, _ in operations(COMMITTED)}
    assert documented == routes
    for methods in app.routes.values():
        for entry in methods.values():  # each route declares its own operation
            assert isinstance(declaration(entry.view_function), Operation)
    operation_ids = [operation["operationId"] for *_, operation in operations(COMMITTED)]
    assert len(operation_ids) == len(set(operation_ids))


def test_an_undocumented_route_cannot_be_served() -> None:
    routes = copy.copy(app.routes)
    extra = copy.copy(routes["/health"]["GET"])

    def undocumented() -> dict[str, str]:
        return {}

    extra.view_function = undocumented
    routes["/extra"] = {"GET": extra}
    with pytest.raises(LookupError, match="undocumented"):
        openapi.document(routes)


def test_request_media_types_and_security_come_from_the_route_table() -> None:
    for path, method, operation in operations(COMMITTED):
        entry = app.routes[path][method]
        if "requestBody" in operation:
            assert list(operation["requestBody"]["content"]) == entry.content_types
        if entry.authorizer is None:
            assert operation["security"] == []
        else:
            assert "security" not in operation  # the document's default: the token
    assert COMMITTED["security"] == [{openapi.SECURITY_SCHEME: []}]
    scheme = COMMITTED["components"]["securitySchemes"][openapi.SECURITY_SCHEME]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")


@pytest.mark.parametrize(
    ("component_name", "definition", "validator_root"),
    [
        ("Task", schema.TASK_SCHEMA, None),
        ("TaskInput", schema.TASK_INPUT_SCHEMA, service._INPUT),
        ("TaskPatch", schema.TASK_PATCH_SCHEMA, service._PATCH),
    ],
)
def test_body_schemas_are_the_definitions_validation_uses(
    component_name: str, definition: dict[str, Any], validator_root: validation.SchemaCheck | None
) -> None:
    documented = COMMITTED["components"]["schemas"][component_name]
    assert documented == {k: v for k, v in definition.items() if k != "$schema"}
    if validator_root is not None:
        assert validation._validator(validator_root).schema is definition


def test_query_parameters_are_the_list_parameter_definitions() -> None:
    parameters = COMMITTED["components"]["parameters"]
    for name, spec in schema.LIST_PARAMETERS.items():
        documented = parameters[name]
        assert (documented["in"], documented["required"]) == ("query", False)
        assert {**documented["schema"], "description": documented["description"]} == spec
    list_operation = COMMITTED["paths"]["/tasks"]["get"]
    refs = [p["$ref"].rsplit("/", 1)[1] for p in list_operation["parameters"]]
    assert refs == [*schema.LIST_PARAMETERS, "X-Request-Id"]
    assert validation._validator(service._LIST).schema is schema.LIST_PARAMETERS_SCHEMA


def test_header_syntax_is_the_pattern_the_code_parses_with() -> None:
    parameters = COMMITTED["components"]["parameters"]
    for name, pattern in [
        ("If-Match", headers.CONDITION_PATTERN),
        ("If-None-Match", headers.CONDITION_PATTERN),
        ("Idempotency-Key", headers.IDEMPOTENCY_KEY_PATTERN),
    ]:
        assert parameters[name]["in"] == "header"
        assert parameters[name]["schema"]["pattern"] == f"^(?:{pattern})$"
        for example in parameters[name]["schema"]["examples"]:
            assert re.fullmatch(pattern, example)
    etag_pattern = COMMITTED["components"]["headers"]["ETag"]["schema"]["pattern"]
    assert etag_pattern == f"^(?:{headers.ETAG_PATTERN})$"
    request_id = COMMITTED["components"]["headers"]["X-Request-Id"]
    assert request_id["schema"]["pattern"] == f"^(?:{headers.REQUEST_ID_PATTERN})$"
    assert request_id["required"] is True
    responses = COMMITTED["components"]["responses"].values()
    assert all("X-Request-Id" in response["headers"] for response in responses)


HEADER_VALUES = [
    ("If-Match", '"1.20260101000000000000"', True),
    ("If-Match", ' W/"x" ,\t"y" ', True),
    ("If-Match", "*", True),
    ("If-Match", "0", False),
    ("If-Match", '"a", *', False),
    ("If-Match", '"é"', False),
    # At most MAX_ENTITY_TAGS tags, in the document's pattern as in the API (schemathesis
    # once generated 21 that the pattern allowed and the API refused).
    ("If-Match", ", ".join(['"1.20260101000000000000"'] * headers.MAX_ENTITY_TAGS), True),
    ("If-Match", ", ".join(['"1.20260101000000000000"'] * (headers.MAX_ENTITY_TAGS + 1)), False),
    ("Idempotency-Key", "order-42", True),
    ("Idempotency-Key", '"quoted \\" key"', False),  # a space is not visible ASCII
    ("Idempotency-Key", '"quoted\\"key"', True),
    ("Idempotency-Key", '"unterminated', False),
    ("Idempotency-Key", "x" * 256, False),
]


def agree_on_header_value(api: Api, name: str, value: str, valid: bool) -> None:
    documented = COMMITTED["components"]["parameters"][name]["schema"]
    assert jsonschema.Draft202012Validator(documented).is_valid(value) is valid
    if name == "If-Match":
        task = api.create()
        reply = api.patch(f"/tasks/{task['id']}", {}, headers={name: value})
    else:
        reply = api.post("/tasks", {"title": "t"}, headers={name: value})
    assert (reply.status != 400) is valid, reply.body


#: An invalid Idempotency-Key is refused before the store; every other case writes.
REJECTED_BEFORE_THE_STORE = [c for c in HEADER_VALUES if c[0] == "Idempotency-Key" and not c[2]]


@pytest.mark.parametrize(
    ("name", "value", "valid"), [c for c in HEADER_VALUES if c not in REJECTED_BEFORE_THE_STORE]
)
def test_the_document_and_the_api_agree_on_header_values(
    api: Api, name: str, value: str, valid: bool
) -> None:
    agree_on_header_value(api, name, value, valid)


@pytest.mark.parametrize(("name", "value", "valid"), REJECTED_BEFORE_THE_STORE)
def test_the_document_and_the_api_agree_on_rejected_header_values(
    app_only: Api, name: str, value: str, valid: bool
) -> None:
    agree_on_header_value(app_only, name, value, valid)


# --- safe for generated clients ------------------------------------------------------


def request_defaults(document: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Every ``default`` a client reads for a request, in request bodies and parameters
    (through $refs), with where: ``Schema/property/...`` or ``parameter/...``."""

    def walk(node: Any, where: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
        if isinstance(node, list):
            for item in node:
                yield from walk(item, where)
        if not isinstance(node, dict):
            return
        if "$ref" in node:
            _, _, kind, name = node["$ref"].split("/")
            yield from walk(document["components"][kind][name], (name,))
        if "default" in node:
            yield "/".join(where), node["default"]
        for key, value in node.items():
            named = key == "properties" or where[-1:] == ("properties",)  # a property's name
            yield from walk(value, (*where, key) if named else where)

    for *_, operation in operations(document):
        yield from walk(operation.get("parameters", []), ())
        yield from walk(operation.get("requestBody", {}), ())


def test_a_patch_schema_has_no_default_and_says_what_null_resets_to() -> None:
    """Absence in a merge patch means "unchanged": a ``default`` there is sent by generated
    clients for every field left out, and resets it (issue 18). What null resets a field
    to is said in words and in ``x-null-resets-to``."""
    defaults = dict(request_defaults(COMMITTED))
    assert not [where for where in defaults if where.startswith("TaskPatch")]
    properties = COMMITTED["components"]["schemas"]["TaskPatch"]["properties"]
    for name, default in schema.DEFAULTS.items():
        if name in schema.REQUIRED_FIELDS:
            assert "null" not in json.dumps(properties[name].get("type"))
            continue
        assert properties[name]["x-null-resets-to"] == default
        reset = "null clears it" if default is None else f"null resets it to {json.dumps(default)}"
        assert f"Left out, it stays unchanged; {reset}." in properties[name]["description"]


def test_every_request_default_is_what_the_api_applies_in_its_absence(api: Api) -> None:
    """Where a request schema or parameter keeps a ``default`` (POST and PUT bodies, the
    page size), a client that sends it gets what leaving it out gets."""
    defaults = dict(request_defaults(COMMITTED))
    body_defaults = {
        w.rsplit("/", 1)[1]: v for w, v in defaults.items() if w.startswith("TaskInput/")
    }
    assert set(defaults) == {f"TaskInput/properties/{name}" for name in body_defaults} | {
        "limit",
        "ActivityLimit",
    }
    created = api.post("/tasks", {"title": "defaults"}).json
    replaced = api.put("/tasks/defaults", {"title": "defaults"}).json
    for task in (created, replaced):
        assert {name: task[name] for name in body_defaults} == body_defaults
    explicit = api.post("/tasks", {"title": "defaults", **body_defaults}).json
    assert {name: explicit[name] for name in body_defaults} == body_defaults
    for i in range(defaults["limit"]):  # one more than a page, with the tasks above
        api.create(title=f"t{i}")
    page = api.get("/tasks").json
    assert page["count"] == defaults["limit"]
    assert page["nextCursor"] is not None
    stream_poller.drain()  # every task's created event: more than a page of them too
    feed = api.get("/activity").json
    assert feed["count"] == defaults["ActivityLimit"]
    assert feed["nextCursor"] is not None


def test_array_sizes_are_the_limits_the_api_applies() -> None:
    schemas = COMMITTED["components"]["schemas"]
    page_size = schema.LIST_PARAMETERS["limit"]["maximum"]
    assert schemas["TaskPage"]["properties"]["items"]["maxItems"] == page_size
    assert schemas["TaskPage"]["properties"]["count"]["maximum"] == page_size
    cursor = schemas["TaskPage"]["properties"]["nextCursor"]
    assert cursor["maxLength"] == schema.LIST_PARAMETERS["cursor"]["maxLength"]
    assert schemas["Problem"]["properties"]["errors"]["maxItems"] == MAX_PROBLEM_ERRORS


def test_every_response_declares_the_security_and_cors_headers() -> None:
    """From the constants the app sends them by: ``web.SECURITY_HEADERS`` (required) on
    every response but the page and its files, whose Cache-Control is their own; and the
    stage's CORS headers (present only where the stage allows an origin)."""
    declared = COMMITTED["components"]["headers"]
    for name, value in SECURITY_HEADERS.items():
        assert declared[name]["required"] is True
        assert declared[name]["schema"]["const"] == value
    expose = declared["Access-Control-Expose-Headers"]["schema"]["const"]
    assert expose.split(",") == CORS_EXPOSE_HEADERS
    content_responses = {"WebPage", "WebAsset", "ContentNotModified"}
    for response_name, response in COMMITTED["components"]["responses"].items():
        refs = {name: ref["$ref"].rsplit("/", 1)[1] for name, ref in response["headers"].items()}
        for name in ("Access-Control-Allow-Origin", "Access-Control-Expose-Headers", "Vary"):
            assert refs[name] == name, response_name
            assert "required" not in declared[name]
        assert refs["X-Content-Type-Options"] == "X-Content-Type-Options"
        own = "ContentCacheControl" if response_name in content_responses else "Cache-Control"
        assert refs["Cache-Control"] == own, response_name


def test_every_retry_after_is_declared_required_with_its_value() -> None:
    """409 and 503 from the app, 429 from the gateway's throttling: each says when to retry."""
    responses = COMMITTED["components"]["responses"]
    for name in ("IdempotencyConflict", "TooManyRequests", "ServiceUnavailable"):
        assert responses[name]["headers"]["Retry-After"] == {
            "$ref": "#/components/headers/Retry-After"
        }
    retry_after = COMMITTED["components"]["headers"]["Retry-After"]
    assert retry_after["required"] is True
    assert jsonschema.Draft202012Validator(retry_after["schema"]).is_valid(RETRY_AFTER_SECONDS)


@pytest.mark.external
def test_cors_headers_on_the_wire_are_the_declared_ones(tmp_path: Path) -> None:
    """`chalice local` (the local stage allows a front end on another loopback port): a
    response to such a page carries the declared CORS headers, with declared values."""
    declared = COMMITTED["components"]["headers"]
    with running_local_server(tmp_path) as server:
        for path in ("/health", "/tasks"):
            _, sent, _ = server.request("GET", path, headers={"Origin": "http://localhost:5173"})
            for name in ("Access-Control-Allow-Origin", "Access-Control-Expose-Headers"):
                assert name in sent, (path, name)
            for name in ("Access-Control-Allow-Origin", "Access-Control-Expose-Headers", "Vary"):
                if name in sent:
                    validator = jsonschema.Draft202012Validator(declared[name]["schema"])
                    assert validator.is_valid(sent[name]), (path, name, sent[name])


# --- every documented response, as the API really sends it --------------------------


def conforms(document: dict[str, Any], path: str, method: str, reply: Any) -> None:
    """The reply's status is documented for the operation; its body and headers match."""
    responses = document["paths"][path][method.lower()]["responses"]
    assert str(reply.status) in responses, f"{reply.status} is not documented"
    name = responses[str(reply.status)]["$ref"].rsplit("/", 1)[1]
    response = document["components"]["responses"][name]
    content = response.get("content")
    if content is None:
        assert reply.body in (b"", None)
    else:
        # API Gateway and chalice local default to JSON; the test client adds nothing.
        media_type = reply.header("Content-Type") or "application/json"
        assert media_type in content
        body_schema = {**document, **content[media_type]["schema"]}
        jsonschema.Draft202012Validator(body_schema).validate(reply.json)
    for header_name, ref in response.get("headers", {}).items():
        header = document["components"]["headers"][ref["$ref"].rsplit("/", 1)[1]]
        value = reply.header(header_name)
        if header.get("required") or header_name in ("ETag", "Location", "WWW-Authenticate"):
            assert value is not None, f"{header_name} missing"
        if value is not None:
            typed = int(value) if header["schema"].get("type") == "integer" else value
            assert jsonschema.Draft202012Validator(header["schema"]).is_valid(typed), (
                header_name,
                value,
            )


def test_every_response_the_api_gives_is_documented_and_conforms(api: Api) -> None:
    task = api.create(title="documented", tags=["x"], expireAt=4102444800)
    path = f"/tasks/{task['id']}"
    etag = api.get(path).header("ETag")
    stale = '"1.20000101000000000000"'
    api.post("/tasks", {"title": "a"}, headers={"Idempotency-Key": "k1"})
    exchanges = [
        ("/health", "GET", api.get("/health")),
        ("/openapi.json", "GET", api.get("/openapi.json")),
        ("/tasks", "GET", api.get("/tasks?limit=1")),
        ("/tasks", "GET", api.get("/tasks?limit=0")),
        ("/tasks", "GET", api.get("/tasks?cursor=forged")),
        ("/tasks", "POST", api.post("/tasks", {"title": "t"})),
        ("/tasks", "POST", api.post("/tasks", {"title": ""})),
        ("/tasks", "POST", api.post("/tasks", {"title": "t", **TOO_MANY_UNKNOWN_KEYS})),
        ("/tasks", "POST", api.post("/tasks", body="[", headers={"Content-Type": JSON})),
        (
            "/tasks",
            "POST",
            api.post("/tasks", body="x" * (MAX_BODY_BYTES + 1), headers={"Content-Type": JSON}),
        ),
        ("/tasks", "POST", api.post("/tasks", body="t", headers={"Content-Type": "text/plain"})),
        ("/tasks", "POST", api.post("/tasks", {"title": "b"}, headers={"Idempotency-Key": "k1"})),
        ("/tasks", "GET", api.as_user("nobody").get("/tasks", headers={"Authorization": NO_SUB})),
        ("/tasks/{task_id}", "GET", api.get(path)),
        ("/tasks/{task_id}", "GET", api.get(path, headers={"If-None-Match": etag})),
        ("/tasks/{task_id}", "GET", api.get("/tasks/missing")),
        ("/tasks/{task_id}", "GET", api.get("/tasks/-bad-id")),
        ("/tasks/{task_id}", "PATCH", api.patch(path, {"priority": "high"})),
        ("/tasks/{task_id}", "PATCH", api.patch(path, {"status": "x"})),
        ("/tasks/{task_id}", "PATCH", api.patch(path, {}, headers={"If-Match": stale})),
        ("/tasks/{task_id}", "PATCH", api.patch("/tasks/missing", {"title": "t"})),
        ("/tasks/{task_id}", "PUT", api.put("/tasks/new-one", {"title": "t"})),
        ("/tasks/{task_id}", "PUT", api.put("/tasks/new-one", {"title": "u"})),
        ("/tasks/{task_id}", "PUT", api.put(path, {"title": "t"}, headers={"If-Match": stale})),
        ("/tasks/{task_id}", "DELETE", api.delete(path, headers={"If-Match": stale})),
        ("/tasks/{task_id}", "DELETE", api.delete(path)),
        ("/tasks/{task_id}", "DELETE", api.delete(path)),
    ]
    statuses = set()
    for documented_path, method, reply in exchanges:
        conforms(COMMITTED, documented_path, method, reply)
        statuses.add(reply.status)
    assert statuses == {200, 201, 204, 304, 400, 401, 404, 412, 413, 415, 422}


JSON = "application/json"
#: More invalid values than a problem lists (Problem.errors' maxItems).
TOO_MANY_UNKNOWN_KEYS = {f"unknown{i}": i for i in range(MAX_PROBLEM_ERRORS + 10)}
#: A token whose claims carry no sub: the app's own 401 (deployed, the gateway's).
NO_SUB = "e30.eyJjb2duaXRvOnVzZXJuYW1lIjoibm9ib2R5In0.x"


def test_an_unexpected_error_is_a_documented_500(app_only: Api, monkeypatch: Any) -> None:
    from chalicelib.tasks import service as tasks

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(tasks.TaskService, "get", broken)
    reply = app_only.get("/tasks/any")
    assert reply.status == 500
    conforms(COMMITTED, "/tasks/{task_id}", "GET", reply)
    assert "boom" not in reply.body.decode()


# --- cost ---------------------------------------------------------------------------


@pytest.mark.external
def test_importing_the_app_loads_neither_the_document_builder_nor_jsonschema() -> None:
    """Cold start: the document is built on its first request, jsonschema on the first
    write. Measured, not timed: which modules the import loads."""
    probe = (
        "import sys, app; "
        "print(sorted(m for m in "
        "('chalicelib.core.openapi', 'jsonschema', 'devserver.local_gateway')"
        " if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_DIR, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# --- the documentation site's API reference --------------------------------------------


def rendered_operations(reference: str) -> dict[tuple[str, str], tuple[str, list[str]]]:
    """Each operation the built reference page shows: (method, path) -> its summary and the
    status codes of its response tabs, read from the page's HTML."""
    found = {}
    sections = re.split(r"(?=<h[1-3][ >])", reference)
    for section in sections:
        heading = re.match(r"<h3[^>]*>(.*?)</h3>", section, flags=re.S)
        if heading is None:
            continue
        title = html.unescape(re.sub(r"<[^>]+>", "", heading[1])).replace("\N{PILCROW SIGN}", "")
        operation = re.fullmatch(r"(GET|PUT|POST|PATCH|DELETE|HEAD|OPTIONS) (/\S*)", title.strip())
        if operation is None:
            continue
        summary = re.search(r"</h3>\s*<p>(.*?)</p>", section, flags=re.S)
        statuses = re.findall(r"<label for=\"__tabbed_[^\"]+\">(\d{3}) ", section)
        found[operation[1], operation[2]] = (
            html.unescape(summary[1]) if summary else "",
            sorted(statuses),
        )
    return found


@pytest.mark.external  # mkdocs builds the site in a fresh interpreter
def test_the_docs_api_reference_shows_every_operation_of_the_document(tmp_path: Path) -> None:
    """The site's API reference is openapi.json rendered when the site is built: each
    operation with its summary and status codes, and no other, so that the documentation
    cannot drift from the contract."""
    result = build_site(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    reference = (tmp_path / "api" / "reference" / "index.html").read_text()
    documented = {
        (method, path): (operation["summary"], sorted(operation["responses"]))
        for path, method, operation in operations(COMMITTED)
    }
    assert rendered_operations(reference) == documented


def test_request_body_examples_are_accepted_by_the_api(api: Api) -> None:
    """API clients prefill bodies from these examples: they must be valid requests."""
    task = api.create()
    targets = {"/tasks": "/tasks", "/tasks/{task_id}": f"/tasks/{task['id']}"}
    for path, method, operation in operations(COMMITTED):
        for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
            headers = {"Content-Type": media_type}
            body = json.dumps(media["example"])
            reply = api.request(method, targets[path], body=body, headers=headers)
            assert reply.status in (200, 201), (method, path, media_type, reply.body)
