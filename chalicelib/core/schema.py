"""JSON Schema builders (draft 2020-12, the dialect of OpenAPI 3.1) shared by every resource.

A resource defines its fields once (``chalicelib.core.record.record_fields``); the schemas
of what the API returns and of what POST, PUT and PATCH accept are derived here, so
validation and the API document read the same rules.
"""

from __future__ import annotations

import copy
import json
from typing import Any

DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: Not blank: some character outside JSON Schema's whitespace (ECMA-262 \s), spelled out so
#: that Python's re (whose \s also takes \x1c-\x1f and \x85) reads it the same way.
NOT_BLANK_PATTERN = r"[^\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"

#: A server field in a request: any value is accepted and ignored, so that a resource read
#: with GET can be edited and sent back with PUT. (Not marked readOnly: OpenAPI tools
#: take readOnly in a request schema to mean "must not be sent".)
_IGNORED: dict[str, Any] = {"description": "Set by the server; any value sent is ignored."}


def server_fields(fields: dict[str, dict[str, Any]]) -> frozenset[str]:
    """Fields the server sets; sent in a request body they are ignored."""
    return frozenset(name for name, spec in fields.items() if spec.get("readOnly"))


def writable(body: dict[str, Any], server: frozenset[str]) -> dict[str, Any]:
    """A request body without the server's fields: sent, they are ignored, so that a record
    read with GET can be edited and sent back."""
    return {name: value for name, value in body.items() if name not in server}


def defaults(fields: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Fields a client may write, with the default an omitted (or, in a patch, null) one
    takes."""
    server = server_fields(fields)
    return {name: spec.get("default") for name, spec in fields.items() if name not in server}


def integer_fields(fields: dict[str, dict[str, Any]]) -> tuple[str, ...]:
    """Fields whose values are integers: DynamoDB returns every number as a Decimal."""
    return tuple(name for name, spec in fields.items() if "integer" in _types(spec))


def _types(spec: dict[str, Any]) -> list[str]:
    return spec["type"] if isinstance(spec.get("type"), list) else [spec.get("type", "")]


def output_schema(title: str, fields: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A resource as the API returns it: every field, always present."""
    return {
        "$schema": DIALECT,
        "title": title,
        "type": "object",
        "additionalProperties": False,
        "required": list(fields),
        "properties": fields,
    }


def input_schema(
    title: str, fields: dict[str, dict[str, Any]], required: frozenset[str]
) -> dict[str, Any]:
    """What POST and PUT accept: the writable fields, ``required`` required, nothing
    unknown."""
    server = server_fields(fields)
    return {
        "$schema": DIALECT,
        "title": title,
        "type": "object",
        "additionalProperties": False,
        "required": sorted(required),
        "properties": {name: _IGNORED if name in server else spec for name, spec in fields.items()},
    }


def _nullable(spec: dict[str, Any]) -> dict[str, Any]:
    """The same rule, with null also allowed (a merge patch resets a field with null)."""
    types = _types(spec)
    nullable = {**spec, "type": [*dict.fromkeys([*types, "null"])]}
    if "enum" in spec:
        nullable["enum"] = [*spec["enum"], None]
    return nullable


def _resettable(spec: dict[str, Any]) -> dict[str, Any]:
    """A merge patch's optional field: its rule or null, and no ``default``. In a patch an
    absent field stays unchanged, but generated clients send a property's ``default``
    whenever the caller leaves it out (openapi-python-client does), so a ``default`` here
    would reset the field on every patch. What null resets it to is said in words and in
    ``x-null-resets-to``; validation ignores both."""
    resets_to = copy.deepcopy(spec.get("default"))
    reset = "null clears it" if resets_to is None else f"null resets it to {json.dumps(resets_to)}"
    words = f"Left out, it stays unchanged; {reset}."
    described = {
        **spec,
        "description": f"{spec['description']} {words}" if "description" in spec else words,
    }
    patched = {k: v for k, v in _nullable(described).items() if k != "default"}
    return {**patched, "x-null-resets-to": resets_to}


def patch_schema(
    title: str, fields: dict[str, dict[str, Any]], required: frozenset[str]
) -> dict[str, Any]:
    """What PATCH accepts (JSON Merge Patch, RFC 7396): any subset; null resets an optional
    field to its default, and a required field cannot be reset."""
    server = server_fields(fields)
    return {
        "$schema": DIALECT,
        "title": title,
        "type": "object",
        "additionalProperties": False,
        "properties": {
            name: _IGNORED if name in server else (spec if name in required else _resettable(spec))
            for name, spec in fields.items()
        },
    }


def parameters_schema(title: str, parameters: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Query parameters as one object, so that one validator checks them all at once."""
    return {
        "$schema": DIALECT,
        "title": title,
        "type": "object",
        "properties": parameters,
        "additionalProperties": False,
    }
