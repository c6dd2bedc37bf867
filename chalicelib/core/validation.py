"""Validation against a resource's JSON Schemas (``chalicelib.core.schema``).

jsonschema does the checking; this module only turns its errors into one short,
value-free message per field (never echoing input back), and bounds what a rejection
costs. Rules JSON Schema cannot state are the services'. jsonschema is imported on first
use so that reads never pay for it at cold start.
"""

from __future__ import annotations

import datetime as dt
import functools
import heapq
import re
from typing import Any

from chalicelib.core import encoding, record, schema
from chalicelib.core.errors import MAX_FIELD_ERRORS, FieldError, ValidationFailed

_RFC3339_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
_RFC3339_FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "array": "an array",
    "object": "an object",
    "boolean": "a boolean",
    "null": "null",
}
_PATTERN_MESSAGES = {
    schema.NOT_BLANK_PATTERN: "must not be blank",
    record.ID_PATTERN: "must be 1-128 characters of A-Za-z0-9._~- starting with a letter or digit",
}
_DATE_MESSAGE = "must be an RFC 3339 full-date (2025-01-31) or date-time (2025-01-31T17:00:00Z)"


def _rfc3339_checker(shape: re.Pattern[str], parse: Any) -> Any:
    """A format check: the RFC 3339 shape, then a real calendar date and time."""

    def check(value: object) -> bool:
        if not isinstance(value, str):
            return True  # format applies to strings only; "type" reports the rest
        if not shape.fullmatch(value):
            return False
        try:
            parse(value)
        except ValueError:
            return False
        return True

    return check


_is_full_date = _rfc3339_checker(_RFC3339_FULL_DATE, dt.date.fromisoformat)
_is_date_time = _rfc3339_checker(
    _RFC3339_DATE_TIME, lambda v: dt.datetime.fromisoformat(v.upper().replace("Z", "+00:00"))
)


def _canonical(value: Any) -> Any:
    """A hashable stand-in with JSON Schema's equality: 1 equals 1.0, true is not 1, and
    an object's key order does not matter. Bodies are at most ``MAX_BODY_DEPTH`` deep
    (``chalicelib.core.http``), so the recursion is bounded."""
    if isinstance(value, bool) or value is None:
        return ("literal", value)
    if isinstance(value, int | float):
        return ("number", value)  # 1 == 1.0 and hash(1) == hash(1.0)
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, list):
        return ("array", tuple(_canonical(item) for item in value))
    return ("object", frozenset((key, _canonical(item)) for key, item in value.items()))


def _too_long(schema_: dict[str, Any], instance: Any) -> bool:
    return isinstance(instance, list) and len(instance) > schema_.get("maxItems", len(instance))


def _unique_items(validator: Any, unique: bool, instance: Any, schema_: dict[str, Any]) -> Any:
    """uniqueItems in linear time. jsonschema's own is quadratic for items it cannot sort
    (thousands of mixed items kept a core busy for seconds), and an array over maxItems
    is rejected by maxItems alone."""
    from jsonschema import ValidationError

    if not unique or not isinstance(instance, list) or _too_long(schema_, instance):
        return
    seen: set[Any] = set()
    for item in instance:
        key = _canonical(item)
        if key in seen:
            yield ValidationError("has non-unique elements")
            return
        seen.add(key)


def _items_within_bounds(items_keyword: Any) -> Any:
    """Check the items of an array only when it is within maxItems: a rejected array of
    thousands of items then costs one error, not one per item."""

    def items(validator: Any, items_schema: Any, instance: Any, schema_: dict[str, Any]) -> Any:
        if _too_long(schema_, instance):
            return
        yield from items_keyword(validator, items_schema, instance, schema_)

    return items


def _additional_properties(
    validator: Any, allowed: Any, instance: Any, schema_: dict[str, Any]
) -> Any:
    """additionalProperties: false, as one error whatever the number of unknown names
    (``_describe`` lists them). jsonschema's own sorts them all into its message."""
    from jsonschema import ValidationError

    known = schema_.get("properties", {})
    if allowed is False and isinstance(instance, dict) and any(k not in known for k in instance):
        yield ValidationError("has unknown properties")


def _max_items(validator: Any, limit: int, instance: Any, schema_: dict[str, Any]) -> Any:
    """maxItems, without jsonschema's message, which spells out the whole array."""
    from jsonschema import ValidationError

    if isinstance(instance, list) and len(instance) > limit:
        yield ValidationError("is too long")


@functools.cache
def _validator(json_schema: SchemaCheck) -> Any:
    """Build (once per schema) the validator for a request body or query parameters."""
    import jsonschema

    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date")(_is_full_date)
    checker.checks("date-time")(_is_date_time)
    base = jsonschema.Draft202012Validator
    # types-jsonschema leaves validators.extend untyped.
    bounded = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
        base,
        {
            "uniqueItems": _unique_items,
            "items": _items_within_bounds(base.VALIDATORS["items"]),
            "additionalProperties": _additional_properties,
            "maxItems": _max_items,
        },
    )
    return bounded(json_schema.document, format_checker=checker)


def _token(name: object) -> str:
    return str(name).replace("~", "~0").replace("/", "~1")


def _pointer(path: Any) -> str:
    return "".join("/" + _token(part) for part in path)


#: An unknown field or parameter is named in a problem only when its name is this short (as
#: written there, in UTF-8): the names are the caller's, and a problem stays a few KB.
MAX_NAME_SHOWN_BYTES = 64
_UNSHOWN_FIELD = "has an unknown field whose name is too long to show"


def _shown(name: str) -> bool:
    return len(encoding.dumps(name).encode("utf-8")) - 2 <= MAX_NAME_SHOWN_BYTES


def _unknown_fields(error: Any) -> tuple[dict[str, str], int]:
    """An object's unknown fields: the first MAX_FIELD_ERRORS by name, described (one
    pointer stands for every name too long to show), and how many there are in all."""
    pointer = _pointer(error.absolute_path)
    known = error.schema.get("properties", {})
    unknown = [name for name in error.instance if name not in known]
    described = {
        f"{pointer}/{_token(name)}" if _shown(name) else pointer: (
            "is not a known field" if _shown(name) else _UNSHOWN_FIELD
        )
        for name in heapq.nsmallest(MAX_FIELD_ERRORS, unknown)
    }
    return described, len(unknown)


def _describe(error: Any) -> list[tuple[str, str]]:
    """(pointer, message) pairs for one jsonschema error."""
    pointer = _pointer(error.absolute_path)
    kind, rule = error.validator, error.validator_value
    if kind == "required":
        missing = [name for name in rule if name not in error.instance]
        return [(f"{pointer}/{name}", "is required") for name in missing]
    if kind == "type":
        types = [rule] if isinstance(rule, str) else rule
        message = "must be " + " or ".join(_TYPE_NAMES.get(t, t) for t in types)
    elif kind == "enum":
        message = "must be one of: " + ", ".join(str(v) for v in rule if v is not None)
    elif kind == "minLength":
        message = "must not be empty" if rule == 1 else f"must be at least {rule} characters"
    elif kind == "maxLength":
        message = f"must be at most {rule} characters"
    elif kind == "pattern":
        message = _PATTERN_MESSAGES.get(rule, "has an invalid format")
    elif kind == "maxItems":
        message = f"must have at most {rule} items"
    elif kind == "uniqueItems":
        message = "must not contain duplicates"
    elif kind == "minimum":
        message = f"must be at least {rule}"
    elif kind == "maximum":
        message = f"must be at most {rule}"
    elif kind in ("anyOf", "format"):
        message = _DATE_MESSAGE
    else:
        message = "is invalid"
    return [(pointer, message)]


def _check(json_schema: SchemaCheck, document: Any) -> tuple[dict[str, str], int]:
    """Every invalid field's pointer and message (unknown fields: the first
    MAX_FIELD_ERRORS), and how many invalid values there are in all."""
    found: dict[str, str] = {}
    unknown: dict[str, str] = {}
    unknown_count = 0
    errors = _validator(json_schema).iter_errors(document)
    for error in sorted(errors, key=lambda e: list(e.absolute_path)):
        if error.validator == "additionalProperties":
            described, count = _unknown_fields(error)
            unknown |= described
            unknown_count += count
            continue
        for pointer, message in _describe(error):
            found.setdefault(pointer, message)  # one message per field is enough
    return unknown | found, len(found) + unknown_count


def failed(found: dict[str, str], total: int, location: str = "pointer") -> ValidationFailed:
    """The first MAX_FIELD_ERRORS of ``found`` by location, and the count of all."""
    first = heapq.nsmallest(MAX_FIELD_ERRORS, found.items())
    return ValidationFailed([FieldError(**{location: k}, detail=m) for k, m in first], total)


class SchemaCheck:
    """A JSON Schema a request is checked against: the one the API document publishes."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def check(self, document: Any) -> tuple[dict[str, str], int]:
        """Each invalid value's JSON pointer and message, and how many there are in all
        (more than are listed when a body has thousands of unknown fields)."""
        return _check(self, document)


def invalid_id(resource_id: str, parameter: str = record.ID) -> FieldError | None:
    """What is wrong with an id in the path, named as ``parameter``; None when nothing. A
    plain regex match, so reads never import jsonschema."""
    if re.fullmatch(record.ID_PATTERN, resource_id):
        return None
    return FieldError(parameter=parameter, detail=_PATTERN_MESSAGES[record.ID_PATTERN])


def validate_id(resource_id: str) -> None:
    """An id in the path."""
    invalid = invalid_id(resource_id)
    if invalid is not None:
        raise ValidationFailed([invalid])


_INTEGER_DIGITS = re.compile(r"[0-9]{1,9}")


def validate_parameters(parameters: SchemaCheck, raw: dict[str, str | list[str]]) -> dict[str, Any]:
    """Query parameters (strings; a list when repeated) to typed values with defaults
    applied. Every bad parameter is reported at once."""
    known: dict[str, Any] = parameters.document["properties"]
    repeated = {name for name, value in raw.items() if isinstance(value, list)}
    unknown = {name for name in raw if name not in known}
    params: dict[str, Any] = {k: v for k, v in raw.items() if k not in repeated | unknown}
    for name, value in params.items():
        if known[name].get("type") == "integer" and _INTEGER_DIGITS.fullmatch(value):
            params[name] = int(value)
    found = {
        _parameter(name): "is not a known parameter"
        for name in heapq.nsmallest(MAX_FIELD_ERRORS, unknown)
    }
    found |= {name: "must be given once" for name in repeated - unknown}
    invalid, invalid_count = parameters.check(params)  # known names only: "/limit" and such
    found |= {pointer.removeprefix("/"): message for pointer, message in invalid.items()}
    if found:
        total = len(unknown) + len(repeated - unknown) + invalid_count
        raise failed(found, total, location="parameter")
    defaults = {name: spec["default"] for name, spec in known.items() if "default" in spec}
    return {**defaults, **params}


def _parameter(name: str) -> str:
    """A parameter's name as a problem shows it: shortened when it is too long to show."""
    if _shown(name):
        return name
    return name[: MAX_NAME_SHOWN_BYTES // 4] + "…"
