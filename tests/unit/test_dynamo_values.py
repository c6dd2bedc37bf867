"""The store's fast path for attribute values writes exactly what boto3's TypeSerializer
writes, and rejects what it rejects (it is a shortcut, never a second definition)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.core import dynamo

_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.text(max_size=20)
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.binary(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(min_size=1, max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)


def _boto3(value: Any) -> dict[str, Any] | type[Exception]:
    try:
        return TypeSerializer().serialize(value)
    except Exception as error:  # the kind of error is what is compared
        return type(error)


def _assert_same_as_boto3(value: Any) -> None:
    expected = _boto3(value)
    if isinstance(expected, type):
        with pytest.raises(expected):
            dynamo.serialize(value)
    else:
        assert dynamo.serialize(value) == expected


@given(_VALUES)
def test_every_value_serializes_as_type_serializer_does(value: Any) -> None:
    _assert_same_as_boto3(value)


@pytest.mark.parametrize(
    "value",
    [10**38, -(10**38), 10**38 - 1, True, False, 0, "", [], ["a", 1, None], Decimal("1.5")],
)
def test_the_edges_of_the_fast_path(value: Any) -> None:
    _assert_same_as_boto3(value)


def test_a_number_past_38_digits_is_still_refused() -> None:
    with pytest.raises(Exception, match=r"Inexact|Rounded"):
        dynamo.serialize(10**38 + 1)


_NUMBERS = st.one_of(
    st.integers(min_value=-(10**37), max_value=10**37).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
    st.sampled_from(["1E+3", "-0", "0.0", "1.50", "12345678901234567890123456789012345678"]),
)
_ATTRIBUTES = st.recursive(
    st.builds(lambda s: {"S": s}, st.text(max_size=10))
    | st.builds(lambda n: {"N": n}, _NUMBERS)
    | st.just({"NULL": True})
    | st.builds(lambda b: {"BOOL": b}, st.booleans())
    | st.builds(lambda b: {"B": b}, st.binary(max_size=4))
    | st.builds(lambda ss: {"SS": ss}, st.lists(st.text(max_size=3), min_size=1, unique=True)),
    lambda inner: (
        st.builds(lambda items: {"L": items}, st.lists(inner, max_size=3))
        | st.builds(lambda m: {"M": m}, st.dictionaries(st.text(max_size=3), inner, max_size=3))
    ),
    max_leaves=10,
)


@given(_ATTRIBUTES)
def test_every_attribute_reads_as_type_deserializer_then_plain_do(attribute: Any) -> None:
    from boto3.dynamodb.types import TypeDeserializer

    expected = dynamo._plain(TypeDeserializer().deserialize(attribute))
    # repr tells 1 from 1.0 and True from 1, which == does not
    assert repr(dynamo._plain_value(attribute)) == repr(expected)
