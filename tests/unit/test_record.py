"""The task's record type and the one schema agree, and no module outside the schema and its
record type names a field with a string literal: a field is defined once."""

from __future__ import annotations

import ast
import types
import typing
from pathlib import Path

from chalicelib.activity import schema as activity
from chalicelib.activity.record import Event
from chalicelib.core import record
from chalicelib.table import TTL_ATTRIBUTE
from chalicelib.tasks import schema
from chalicelib.tasks.record import Task
from tests.conftest import PROJECT_DIR

#: JSON Schema's type for each Python type a record field may have.
JSON_TYPES: dict[object, str] = {str: "string", int: "integer", list: "array", type(None): "null"}
#: Where field names are defined: the schemas, the record types, and the table (whose TTL
#: attribute is the field ``expireAt``, checked below).
DEFINITIONS = {
    "chalicelib/tasks/schema.py",
    "chalicelib/tasks/record.py",
    "chalicelib/core/record.py",
    "chalicelib/table.py",
}


def _json_types(annotation: object) -> set[str]:
    if isinstance(annotation, types.UnionType):
        return {t for arm in typing.get_args(annotation) for t in _json_types(arm)}
    return {JSON_TYPES[typing.get_origin(annotation) or annotation]}


def test_the_task_record_has_exactly_the_schemas_fields_with_their_types() -> None:
    hints = typing.get_type_hints(Task)
    assert set(hints) == set(schema.FIELDS)
    for name, annotation in hints.items():
        declared = schema.FIELDS[name]["type"]
        assert _json_types(annotation) == set(
            declared if isinstance(declared, list) else [declared]
        ), name
    assert Task.__required_keys__ == frozenset(schema.FIELDS)  # every field, always present


def test_an_activity_event_has_exactly_its_schemas_fields_with_their_types() -> None:
    hints = typing.get_type_hints(Event)
    assert set(hints) == set(activity.FIELDS)
    assert Event.__required_keys__ == frozenset(activity.REQUIRED_FIELDS)
    for name in ("id", "taskId", "type", "at", "version"):
        declared = activity.FIELDS[name]["type"]
        assert _json_types(hints[name]) == {declared}, name


def test_every_record_shares_the_core_fields() -> None:
    core = typing.get_type_hints(record.Record)
    assert core.items() <= typing.get_type_hints(Task).items()
    assert {record.ID, record.CREATED_AT, record.UPDATED_AT, record.VERSION} == set(core)


def test_the_expiry_field_is_the_tables_ttl_attribute() -> None:
    assert schema.EXPIRE_AT == TTL_ATTRIBUTE
    assert schema.EXPIRE_AT in schema.INTEGER_FIELDS


#: Fields named like JSON Schema's annotation keywords, and the modules that build JSON
#: Schemas and the API document, where those strings are the keywords.
SCHEMA_KEYWORDS = {"description", "title"}
SCHEMA_BUILDERS = ("chalicelib/core/schema.py", "chalicelib/core/openapi.py", "document.py")


def _field_names() -> set[str]:
    return set(schema.FIELDS) | set(schema.LIST_PARAMETERS)


def _field_literals(path: Path) -> list[str]:
    """Where a module reads a record by a field's literal name: ``x["dueDate"]``,
    ``x.get("status")``, ``"tags" in x``, or any mention of a camelCase field (which is no
    JSON Schema, OpenAPI or log keyword). Dict keys of documents (problems, log lines, the
    API document) are not field access, so ``{"status": 400}`` is allowed."""
    names = _field_names()
    if str(path).endswith(SCHEMA_BUILDERS):
        names -= SCHEMA_KEYWORDS
    camel = {name for name in names if name != name.lower()}
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        literal = None
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            literal = node.slice.value
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"get", "pop", "setdefault"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            literal = node.args[0].value
        elif isinstance(node, ast.Compare) and isinstance(node.left, ast.Constant):
            literal = node.left.value
        elif isinstance(node, ast.Constant) and node.value in camel:
            literal = node.value
        if literal in names:
            found.append(f"{path.relative_to(PROJECT_DIR)}:{node.lineno}: {literal!r}")
    return found


def test_no_module_names_a_field_by_a_string_literal() -> None:
    modules = [PROJECT_DIR / "app.py", *sorted((PROJECT_DIR / "chalicelib").rglob("*.py"))]
    checked = [m for m in modules if str(m.relative_to(PROJECT_DIR)) not in DEFINITIONS]
    assert len(checked) > 20
    assert [hit for module in checked for hit in _field_literals(module)] == []


def test_the_literal_check_finds_what_it_looks_for(tmp_path: Path) -> None:
    planted = PROJECT_DIR / "build" / "planted_literals.py"
    planted.parent.mkdir(exist_ok=True)
    planted.write_text(
        'def f(task, body):\n    a = task["status"]\n    b = body.get("priority")\n'
        '    c = "tags" in body\n    d = {"createdAt": 1}\n    return {"status": 400}\n'
    )
    try:
        hits = [hit.rsplit(": ", 1)[1] for hit in _field_literals(planted)]
    finally:
        planted.unlink()
    assert hits == ["'status'", "'priority'", "'tags'", "'createdAt'"]
