"""Bad input, fuzzed with hypothesis: bodies, headers, path ids and query parameters.

Whatever arrives: never a 5xx, never a stack trace, every error a well-formed problem
document, and a rejected request never changes what is stored. The example counts are
bounded for CI; ``HYPOTHESIS_PROFILE=deep make test`` (or ``pytest tests/test_fuzz.py``)
runs many more.
"""

from __future__ import annotations

import json
import os
import string
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.schema import FIELDS
from tests.conftest import LOCAL_TABLE, Api, serving_api
from tools import dev_token

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "deep", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

EXISTING_ID = "fuzz-target"


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[Api]:
    """One app for the whole module: the properties hold whatever state it has reached."""
    with serving_api() as api:
        reply = api.put(f"/tasks/{EXISTING_ID}", {"title": "keep me", "tags": ["a"]})
        assert reply.status == 201
        yield api


def stored() -> list[dict[str, Any]]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    return sorted(client.scan(TableName=LOCAL_TABLE)["Items"], key=json.dumps)


def assert_well_formed(reply: Any) -> None:
    """No 5xx, no trace; an error is a problem document whose status is the response's."""
    assert reply.status < 500, reply.body
    text = reply.body.decode("utf-8", "replace")
    assert "Traceback" not in text
    assert 'File "' not in text
    if reply.status >= 400:
        assert reply.header("Content-Type") == "application/problem+json", reply.body
        problem = json.loads(reply.body)
        assert isinstance(problem.get("type"), str)
        assert isinstance(problem.get("title"), str)
        assert isinstance(problem.get("detail"), str)
        assert problem.get("status", reply.status) == reply.status
        for error in problem.get("errors", []):
            assert set(error) - {"detail"} <= {"pointer", "parameter", "header"}


def send_and_check(api: Api, method: str, path: str, body: Any, headers: dict[str, str]) -> None:
    before = stored()
    reply = api.request(method, path, body=body, headers=headers)
    assert_well_formed(reply)
    if reply.status >= 400:
        assert stored() == before, f"{method} {path} -> {reply.status} changed stored data"


# --- strategies ------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
FIELD_NAMES = st.sampled_from([*FIELDS, "owner"]) | st.text(max_size=12)
TASKISH = st.dictionaries(FIELD_NAMES, JSON_VALUES, max_size=6)
BODIES = st.one_of(
    TASKISH.map(json.dumps),
    JSON_VALUES.map(json.dumps),
    st.binary(max_size=200),
    st.text(max_size=200),
)
HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)
CONTENT_TYPES = (
    st.sampled_from(
        [
            "application/json",
            "application/merge-patch+json",
            "text/plain",
            "application/xml",
            "application/json; charset=utf-8",
            "",
        ]
    )
    | HEADER_TEXT
)
TOKENS = st.one_of(
    st.just(dev_token.mint("fuzzer")),
    HEADER_TEXT,
    st.builds(lambda a, b, c: f"{a}.{b}.{c}", HEADER_TEXT, HEADER_TEXT, HEADER_TEXT),
)
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "Content-Type": CONTENT_TYPES,
        "If-Match": HEADER_TEXT | st.just('"1.20260101000000000000"') | st.just("*"),
        "If-None-Match": HEADER_TEXT | st.just("*"),
        "Idempotency-Key": HEADER_TEXT,
        "Authorization": TOKENS,
    },
)
PATH_IDS = st.one_of(
    st.just(EXISTING_ID),
    st.text(alphabet=string.ascii_letters + string.digits + "._~-", min_size=1, max_size=140),
    st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters="/?#%"),
        min_size=1,
        max_size=20,
    ),
)
QUERY = st.dictionaries(
    st.sampled_from(["limit", "cursor", "status", "priority", "tag", "sort", "owner"]),
    st.text(alphabet=string.ascii_letters + string.digits + "-_.~", max_size=30),
    max_size=4,
)


# --- properties ------------------------------------------------------------------------


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    method=st.sampled_from(["POST", "PUT", "PATCH"]), body=BODIES, headers=HEADERS, task_id=PATH_IDS
)
def test_any_body_and_headers_on_a_write(
    fuzzed: Api, method: str, body: Any, headers: dict[str, str], task_id: str
) -> None:
    path = "/tasks" if method == "POST" else f"/tasks/{task_id}"
    send_and_check(fuzzed, method, path, body, headers)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(method=st.sampled_from(["GET", "DELETE"]), headers=HEADERS, task_id=PATH_IDS)
def test_any_id_and_headers_on_a_read_or_delete(
    fuzzed: Api, method: str, headers: dict[str, str], task_id: str
) -> None:
    if method == "DELETE" and task_id == EXISTING_ID and not headers.get("If-Match"):
        headers = {**headers, "If-Match": '"1.20000101000000000000"'}  # keep the target
    send_and_check(fuzzed, method, f"/tasks/{task_id}", None, headers)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(query=QUERY, headers=HEADERS)
def test_any_query_on_the_list(fuzzed: Api, query: dict[str, str], headers: dict[str, str]) -> None:
    from urllib.parse import urlencode

    send_and_check(fuzzed, "GET", f"/tasks?{urlencode(query)}", None, headers)
