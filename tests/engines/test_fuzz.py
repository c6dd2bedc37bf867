"""Bad input, fuzzed with hypothesis: bodies, headers, path ids and query parameters.

Whatever arrives: never a 5xx, never a stack trace, every error a well-formed problem
document of a few KB, and a rejected request never changes what is stored. The strategies
reach what once gave a 500 or kept a core busy: long lists of entity tags in If-Match and
If-None-Match, numbers beyond a 64-bit float (``expireAt: 1e400``), arrays of thousands of
mixed items, thousands of keys, deep nesting. Every property runs on moto and on AWS's
DynamoDB Local: only the real engine refuses a condition expression of more than 300
operators. The example counts are bounded for CI; ``make fuzz`` runs many more, and
``make check``, the inner loop, fewer.
"""

from __future__ import annotations

import json
import os
import random
import string
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from bench.rejection_cost import MAX_PROBLEM_BYTES
from chalicelib.tasks.schema import FIELDS, PRIORITIES, STATUSES
from tests.conftest import ENGINES, LOCAL_TABLE, Api, engine_endpoint, serving_api
from tools import dev_token, dynamodb_local

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "check", max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "deep", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

EXISTING_ID = "fuzz-target"


@dataclass
class Fuzzed:
    """The app, and a client of the engine it stores in (to see what a request changed)."""

    api: Api
    engine: Any

    def stored(self) -> list[dict[str, Any]]:
        items = self.engine.scan(TableName=LOCAL_TABLE, ConsistentRead=True)["Items"]
        return sorted(items, key=json.dumps)


@pytest.fixture(scope="module", params=ENGINES)
def fuzzed(request: pytest.FixtureRequest) -> Iterator[Fuzzed]:
    """One app per engine for the whole module: the properties hold whatever state it
    has reached."""
    endpoint = engine_endpoint(request)
    with serving_api(endpoint) as api:
        reply = api.put(f"/tasks/{EXISTING_ID}", {"title": "keep me", "tags": ["a"]})
        assert reply.status == 201
        engine = (
            boto3.client("dynamodb", region_name="us-east-1")
            if endpoint is None
            else dynamodb_local.client(endpoint)
        )
        yield Fuzzed(api, engine)


def assert_well_formed(reply: Any) -> None:
    """No 5xx, no trace; an error is a problem document of a few KB whose status is the
    response's."""
    assert reply.status < 500, reply.body[:2000]
    text = reply.body.decode("utf-8", "replace")
    assert "Traceback" not in text
    assert 'File "' not in text
    if reply.status >= 400:
        assert reply.header("Content-Type") == "application/problem+json", reply.body[:2000]
        assert len(reply.body) <= MAX_PROBLEM_BYTES, f"a problem of {len(reply.body)} bytes"
        problem = json.loads(reply.body)
        assert isinstance(problem.get("type"), str)
        assert isinstance(problem.get("title"), str)
        assert isinstance(problem.get("detail"), str)
        assert problem.get("status", reply.status) == reply.status
        for error in problem.get("errors", []):
            assert set(error) - {"detail"} <= {"pointer", "parameter", "header"}


def describe(value: Any, room: int = 300) -> str:
    """A request's headers or body, cut to ``room`` characters with its length: the
    failure report shows it (this hypothesis, under pytest, prints a failing example's
    arguments blank)."""
    text = repr(value)
    return text if len(text) <= room else f"{text[:room]}... ({len(text):,} characters)"


def send_and_check(
    fuzzed: Fuzzed, method: str, path: str, body: Any, headers: dict[str, str]
) -> None:
    """Send one request and check the properties."""
    note(f"{method} {path} {describe(headers)} body {describe(body)}")
    before = fuzzed.stored()
    reply = fuzzed.api.request(method, path, body=body, headers=headers)
    assert_well_formed(reply)
    if reply.status >= 400:
        assert fuzzed.stored() == before, f"{method} {path} -> {reply.status} changed stored data"


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


class Raw(str):
    """JSON text written as it is: numbers ``json.dumps`` cannot write (1e400, 4,000
    digits), and arrays, objects and nesting too large to draw item by item."""


def to_json(value: Any) -> str:
    """``json.dumps``, with ``Raw`` values written as they are."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(map(to_json, value)) + "]"
    return json.dumps(value)


#: Numbers at and beyond the edges: infinite as a float (1e400), the largest finite
#: floats, an integral float (4102444800.0), negative zero, integers of hundreds to
#: thousands of digits (Python refuses to parse more than 4,300).
EXTREME_NUMBERS = st.one_of(
    st.sampled_from(
        [
            *("1e400", "-1e400", "1E400", "2e308", "1e308", "-1e308", "1.7976931348623157e308"),
            *("4102444800.0", "4102444800e0", "-0.0", "0.0", "1e-400", "5e-324", "-1"),
        ]
    ),
    st.integers(300, 5000).map(lambda digits: "1" + "0" * digits),
    st.integers(300, 5000).map(lambda digits: "-" + "9" * digits),
).map(Raw)


def _item(kind: str, i: int) -> str:
    """Item ``i`` of a huge array: a number, a string, an array, an object or a literal."""
    if kind == "mixed":
        kind = ("number", "string", "array", "object", "literal")[i % 5]
    return {
        "number": str(i),
        "string": json.dumps(str(i)),
        "array": f"[{i}]",
        "object": f'{{"k":{i}}}',
        "literal": ("true", "false", "null")[i % 3],
        "duplicate": ('"x"', "0", "[]", "{}")[i % 4],
    }[kind]


def huge_array(count: int, kind: str, tail: str) -> Raw:
    """``count`` items of a ``kind``, then ``tail``: ``[0,1,...,6999,"x"]`` once kept a
    core busy for 23 s (jsonschema's uniqueItems is quadratic for items it cannot sort)."""
    return Raw("[" + ",".join([*(_item(kind, i) for i in range(count)), tail]) + "]")


HUGE_ARRAYS = st.builds(
    huge_array,
    count=st.integers(1_000, 8_000),
    kind=st.sampled_from(["mixed", "number", "string", "array", "object", "duplicate"]),
    tail=st.sampled_from(['"x"', "0", "[]", '{"k":0}', "1e400"]),
)


def nested(depth: int, kind: str) -> Raw:
    """A value nested ``depth`` levels deep: arrays or objects."""
    if kind == "arrays":
        return Raw("[" * depth + "0" + "]" * depth)
    return Raw('{"a":' * depth + "0" + "}" * depth)


DEEP_VALUES = st.builds(
    nested, depth=st.integers(10, 5_000), kind=st.sampled_from(["arrays", "objects"])
)
#: Long strings of plain, blank or escaped characters (an emoji as a surrogate pair, a
#: lone surrogate, NUL), up to past the body limit.
LONG_STRINGS = st.builds(
    lambda length, unit: Raw('"' + unit * length + '"'),
    length=st.integers(1_000, 40_000),
    unit=st.sampled_from(["x", " ", "\\u00e9", "\\ud83d\\ude00", "\\ud800", "\\u0000"]),
)
HOSTILE_VALUES = EXTREME_NUMBERS | HUGE_ARRAYS | DEEP_VALUES | LONG_STRINGS
#: Field values a task accepts, so that requests also get past validation to the store.
VALID_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "title": st.text(string.ascii_letters + string.digits, min_size=1, max_size=20),
    "description": st.text(max_size=40),
    "status": st.sampled_from(STATUSES),
    "priority": st.sampled_from(PRIORITIES),
    "dueDate": st.none() | st.just("2030-01-31") | st.just("2030-01-31T17:00:00Z"),
    "tags": st.lists(st.text(string.ascii_lowercase, min_size=1, max_size=8), max_size=3),
    "expireAt": st.none() | st.integers(4_102_444_800, 4_102_444_900),
}
WRITABLE = [name for name in VALID_VALUES if name != "title"]
VALID_TASKS = st.fixed_dictionaries(
    {"title": VALID_VALUES["title"]},
    optional={name: VALID_VALUES[name] for name in WRITABLE},
)
#: Tasks with an extreme number where a number goes (or anywhere else).
NUMERIC_TASKS = st.fixed_dictionaries(
    {"title": VALID_VALUES["title"] | EXTREME_NUMBERS, "expireAt": EXTREME_NUMBERS},
    optional={
        name: VALID_VALUES[name] | EXTREME_NUMBERS for name in WRITABLE if name != "expireAt"
    },
)
#: Tasks with huge, deep or extreme values in any field, or an unknown one.
HOSTILE_TASKS = st.fixed_dictionaries(
    {},
    optional={
        "title": VALID_VALUES["title"] | HOSTILE_VALUES,
        **{name: VALID_VALUES[name] | HOSTILE_VALUES for name in WRITABLE},
        "tags": HUGE_ARRAYS,
        "unknown": HOSTILE_VALUES,
    },
)
#: Thousands of keys: unknown ones, each a problem of its own before the list was capped.
MANY_KEYS = st.builds(
    lambda count, length: Raw(
        '{"title":"x",' + ",".join(f'"{i:0{length}d}":0' for i in range(count)) + "}"
    ),
    count=st.integers(100, 20_000),
    length=st.sampled_from([1, 8, 200]),
)
HOSTILE_BODIES = st.one_of(HOSTILE_TASKS.map(to_json), MANY_KEYS)
BODIES = st.one_of(
    TASKISH.map(json.dumps),
    JSON_VALUES.map(json.dumps),
    st.binary(max_size=200),
    st.text(max_size=200),
    VALID_TASKS.map(to_json),
    NUMERIC_TASKS.map(to_json),
    HOSTILE_BODIES,
)


def entity_tags(count: int, seed: int, weak: str, separator: str) -> str:
    """``count`` entity tags in the API's own format, ``"<version>.<20 digits>"``: strong,
    weak (``W/``) or some of each. 75 or more strong ones in one condition once passed
    DynamoDB's 300 operators: a 500."""
    rng = random.Random(seed)
    tags = []
    for _ in range(count):
        tag = f'"{rng.randrange(1, 10**6)}.{rng.randrange(10**20):020d}"'
        if weak == "all" or (weak == "some" and rng.random() < 0.5):
            tag = "W/" + tag
        tags.append(tag)
    return separator.join(tags)


ENTITY_TAG_LISTS = st.builds(
    entity_tags,
    count=st.integers(50, 200),
    seed=st.integers(0, 2**32 - 1),
    weak=st.sampled_from(["none", "some", "all"]),
    separator=st.sampled_from([", ", ",", " ,\t"]),
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
        "If-Match": HEADER_TEXT
        | st.just('"1.20260101000000000000"')
        | st.just("*")
        | ENTITY_TAG_LISTS,
        "If-None-Match": HEADER_TEXT | st.just("*") | ENTITY_TAG_LISTS,
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
    fuzzed: Fuzzed, method: str, body: Any, headers: dict[str, str], task_id: str
) -> None:
    path = "/tasks" if method == "POST" else f"/tasks/{task_id}"
    send_and_check(fuzzed, method, path, body, headers)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(method=st.sampled_from(["GET", "DELETE"]), headers=HEADERS, task_id=PATH_IDS)
def test_any_id_and_headers_on_a_read_or_delete(
    fuzzed: Fuzzed, method: str, headers: dict[str, str], task_id: str
) -> None:
    if method == "DELETE" and task_id == EXISTING_ID and not headers.get("If-Match"):
        headers = {**headers, "If-Match": '"1.20000101000000000000"'}  # keep the target
    send_and_check(fuzzed, method, f"/tasks/{task_id}", None, headers)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(query=QUERY, headers=HEADERS)
def test_any_query_on_the_list(
    fuzzed: Fuzzed, query: dict[str, str], headers: dict[str, str]
) -> None:
    from urllib.parse import urlencode

    send_and_check(fuzzed, "GET", f"/tasks?{urlencode(query)}", None, headers)


CONTENT_TYPE = {"POST": "application/json", "PUT": "application/json"}
CONTENT_TYPE["PATCH"] = "application/merge-patch+json"


def write_path(method: str) -> str:
    """POST creates; PUT and PATCH go to the target, which exists, so that a valid
    request gets all the way to DynamoDB's condition."""
    return "/tasks" if method == "POST" else f"/tasks/{EXISTING_ID}"


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    method=st.sampled_from(["PUT", "PATCH", "DELETE", "GET"]),
    header=st.sampled_from(["If-Match", "If-None-Match"]),
    tags=ENTITY_TAG_LISTS,
    body=VALID_TASKS,
)
def test_long_entity_tag_lists_on_a_valid_request(
    fuzzed: Fuzzed, method: str, header: str, tags: str, body: dict[str, Any]
) -> None:
    """50 to 200 entity tags in a condition header of a request that is otherwise valid,
    on the target that exists: its own outcome or a clear 4xx."""
    if method == "DELETE":
        header = "If-Match"  # the one DELETE reads; none of these tags is the target's
    headers = {header: tags}
    payload = None
    if method in CONTENT_TYPE:
        headers["Content-Type"] = CONTENT_TYPE[method]
        payload = to_json(body)
    send_and_check(fuzzed, method, f"/tasks/{EXISTING_ID}", payload, headers)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(method=st.sampled_from(["POST", "PUT", "PATCH"]), body=NUMERIC_TASKS)
def test_extreme_numbers_in_a_task(fuzzed: Fuzzed, method: str, body: dict[str, Any]) -> None:
    """1e400, the largest floats, thousands of digits, -0.0 in expireAt (and elsewhere):
    POST, PUT and PATCH answer alike, with the task or a 400."""
    headers = {"Content-Type": CONTENT_TYPE[method]}
    send_and_check(fuzzed, method, write_path(method), to_json(body), headers)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(method=st.sampled_from(["POST", "PUT", "PATCH"]), body=HOSTILE_BODIES)
def test_hostile_bodies_are_answered_with_a_small_problem(
    fuzzed: Fuzzed, method: str, body: str
) -> None:
    """Thousands of mixed items, thousands of keys, deep nesting, long strings: answered
    (almost always with a 400) with a problem of a few KB. How long that takes is a
    benchmark's question, not a test's: ``make bench`` holds the slowest rejection to 20
    times a normal create (``bench/rejection_cost.py``)."""
    headers = {"Content-Type": CONTENT_TYPE[method]}
    send_and_check(fuzzed, method, write_path(method), body, headers)
