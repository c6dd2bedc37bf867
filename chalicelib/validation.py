"""Validation derived from ``chalicelib.schema``.

jsonschema does the checking; this module only turns its errors into one short,
value-free message per field (never echoing input back) and adds the rules JSON
Schema cannot state (``expireAt`` in the future). jsonschema is imported on first
use so that reads never pay for it at cold start.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any

from chalicelib import schema
from chalicelib.errors import FieldError, ValidationFailed

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
    schema.TASK_ID_PATTERN: (
        "must be 1-128 characters of A-Za-z0-9._~- starting with a letter or digit"
    ),
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


#: What each check validates against: the schemas the API document publishes, as they are.
_SCHEMAS = {
    "task": schema.TASK_INPUT_SCHEMA,
    "patch": schema.TASK_PATCH_SCHEMA,
    "list": schema.LIST_PARAMETERS_SCHEMA,
}


@functools.cache
def _validator(root: str) -> Any:
    """Build (once) the validator for a request body or the list parameters."""
    import jsonschema

    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date")(_is_full_date)
    checker.checks("date-time")(_is_date_time)
    return jsonschema.Draft202012Validator(_SCHEMAS[root], format_checker=checker)


def _pointer(path: Any) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def _describe(error: Any) -> list[tuple[str, str]]:
    """(pointer, message) pairs for one jsonschema error."""
    pointer = _pointer(error.absolute_path)
    kind, rule = error.validator, error.validator_value
    if kind == "additionalProperties":
        known = error.schema.get("properties", {})
        return [
            (f"{pointer}/{name}", "is not a known field")
            for name in error.instance
            if name not in known
        ]
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


def _check(root: str, document: Any) -> list[FieldError]:
    found: dict[str, str] = {}
    errors = sorted(_validator(root).iter_errors(document), key=lambda e: list(e.absolute_path))
    for error in errors:
        for pointer, message in _describe(error):
            found.setdefault(pointer, message)  # one message per field is enough
    return [FieldError(pointer=p, detail=m) for p, m in sorted(found.items())]


_EXPIRED = "must be in the future"


def only_expired(invalid: ValidationFailed) -> bool:
    """Whether the one thing wrong is an ``expireAt`` that has passed."""
    return all(e.pointer == "/expireAt" and e.detail == _EXPIRED for e in invalid.errors)


def _check_expiry(body: dict[str, Any], now: dt.datetime, errors: list[FieldError]) -> None:
    """Runs after the schema check, so a valid expireAt is null or an integral number
    (JSON Schema counts 4102444800.0 as an integer)."""
    expire_at = body.get("expireAt")
    if expire_at is None or any(e.pointer == "/expireAt" for e in errors):
        return
    if expire_at <= now.timestamp():
        errors.append(FieldError(pointer="/expireAt", detail=_EXPIRED))


def validate_task(body: dict[str, Any], now: dt.datetime) -> None:
    """A full task, as POST and PUT take it. Raises ValidationFailed listing every error."""
    errors = _check("task", body)
    _check_expiry(body, now, errors)
    if errors:
        raise ValidationFailed(errors)


def validate_patch(patch: dict[str, Any], now: dt.datetime) -> None:
    """A JSON Merge Patch: any subset of fields; null resets an optional field."""
    errors = _check("patch", patch)
    _check_expiry(patch, now, errors)
    if errors:
        raise ValidationFailed(errors)


def validate_task_id(task_id: str) -> None:
    """The id in the path: a plain regex match, so reads never import jsonschema."""
    if not re.fullmatch(schema.TASK_ID_PATTERN, task_id):
        message = _PATTERN_MESSAGES[schema.TASK_ID_PATTERN]
        raise ValidationFailed([FieldError(parameter="id", detail=message)])


_LIMIT_DIGITS = re.compile(r"[0-9]{1,9}")


def validate_list_parameters(raw: dict[str, str | list[str]]) -> dict[str, Any]:
    """GET /tasks query parameters (strings; a list when repeated) to typed values with
    defaults applied. Every bad parameter is reported at once."""
    repeated = sorted(name for name, value in raw.items() if isinstance(value, list))
    params: dict[str, Any] = {k: v for k, v in raw.items() if k not in repeated}
    if isinstance(params.get("limit"), str) and _LIMIT_DIGITS.fullmatch(params["limit"]):
        params["limit"] = int(params["limit"])
    errors = [FieldError(parameter=name, detail="must be given once") for name in repeated]
    errors += [
        FieldError(
            parameter=error.pointer.lstrip("/").split("/")[0],
            detail="is not a known parameter"
            if error.detail == "is not a known field"
            else error.detail,
        )
        for error in _check("list", params)
    ]
    if errors:
        raise ValidationFailed(errors)
    return {"limit": schema.LIST_PARAMETERS["limit"]["default"], **params}
