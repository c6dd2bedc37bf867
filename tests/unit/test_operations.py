"""A resource is a package of its own: a Blueprint whose routes declare their operations. Here
a resource that exists only in this test is registered on an app of its own, with no change
to the core, and its errors and its API document come out as the task resource's do."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chalice.app import Chalice, Response
from chalice.test import Client

from chalicelib.core import http, openapi
from chalicelib.core.errors import NotFound, PreconditionFailed, ValidationFailed
from chalicelib.core.operations import (
    STORED_DATA_ERRORS,
    ApiBlueprint,
    Components,
    Tag,
    declaration,
)

NOTE_SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}}}


def _components() -> Components:
    return Components(
        tags=(Tag("notes", "A resource of this test."),),
        schemas={"Note": NOTE_SCHEMA},
        parameters={"note_id": openapi.path_parameter("note_id", {"type": "string"}, "n1")},
        responses={"Note": openapi.json_response("The note.", "Note")},
    )


notes = ApiBlueprint(__name__, components=_components, tag="notes")


@notes.route("/notes/{note_id}", methods=["GET"], content_types=["*/*"])
@notes.operation(
    "Read a note",
    "A note, or a problem.",
    responses={200: "Note"},
    errors=(*STORED_DATA_ERRORS, NotFound),
)
def get_note(note_id: str) -> Response:
    if note_id == "missing":
        raise NotFound("note", note_id)
    if note_id == "broken":
        raise RuntimeError("a bug, never shown to the caller")
    return Response(body={"text": note_id})


def _app() -> Chalice:
    app = Chalice(app_name="notes")
    app.register_blueprint(notes)
    return app


def test_a_resource_blueprint_answers_its_errors_as_problem_documents() -> None:
    with Client(_app()) as client:
        found = client.http.get("/notes/n1")
        missing = client.http.get("/notes/missing")
        broken = client.http.get("/notes/broken")
    assert (found.status_code, json.loads(found.body)) == (200, {"text": "n1"})
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == http.PROBLEM_JSON
    assert json.loads(missing.body)["detail"] == "No note with id 'missing'."
    assert broken.status_code == 500
    assert "a bug" not in broken.body.decode()


def test_a_resource_blueprint_documents_itself_in_the_api_document() -> None:
    document = openapi.document(_app().routes)
    operation = document["paths"]["/notes/{note_id}"]["get"]
    assert operation["summary"] == "Read a note"
    assert operation["tags"] == ["notes"]
    assert operation["parameters"][0] == {"$ref": "#/components/parameters/note_id"}
    statuses = {int(status) for status in operation["responses"]}
    assert statuses == {200, *(error.status for error in (*STORED_DATA_ERRORS, NotFound))}
    assert operation["responses"]["404"] == {"$ref": "#/components/responses/NotFound"}
    assert document["components"]["schemas"]["Note"] == NOTE_SCHEMA
    assert document["tags"] == [{"name": "notes", "description": "A resource of this test."}]


def test_each_error_carries_its_own_status_type_and_title() -> None:
    for error, status in [
        (NotFound("note", "n1"), 404),
        (PreconditionFailed("note", "n1"), 412),
        (ValidationFailed([]), 400),
    ]:
        response = http.problem_for(error)
        body: dict[str, Any] = response.body
        assert (response.status_code, body["status"]) == (status, status)
        assert (body["type"], body["title"]) == (error.problem_type, error.title)


def test_a_name_two_resources_define_is_refused() -> None:
    # Another group (another callable) that defines the same component names.
    clashing = ApiBlueprint(__name__, components=lambda: _components(), tag="notes")

    @clashing.route("/other-notes", methods=["GET"], content_types=["*/*"])
    @clashing.operation("Other notes", "Also defines Note.", responses={200: "Note"}, errors=())
    def other_notes() -> Response:
        return Response(body={})

    app = _app()
    app.register_blueprint(clashing)
    with pytest.raises(ValueError, match="defined twice"):
        openapi.document(app.routes)


def test_a_route_without_a_declaration_has_none() -> None:
    def undeclared() -> None:
        return None

    with pytest.raises(LookupError, match="undeclared"):
        declaration(undeclared)
    assert declaration(get_note).summary == "Read a note"
