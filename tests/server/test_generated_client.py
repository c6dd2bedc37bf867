"""A Python client generated from the served document, used as its users would use it.

openapi-python-client (pinned in requirements-dev.txt) generates a package from the
/openapi.json that a real `chalice local` serves; the tests import it and talk to that
server through it alone. Generated clients send a request property's ``default`` whenever
the caller leaves the field out, so a ``default`` in the merge-patch schema reset fields
on every PATCH (issue 18). These tests fail on such a document.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import PROJECT_DIR
from tests.local_server import LocalServer, running_local_server
from tools import dev_token

#: Starts another program (a server, a CLI or a browser): not in `make check`.
pytestmark = pytest.mark.external

GENERATOR = str(Path(sys.executable).parent / "openapi-python-client")
PACKAGE = "task_api_client"


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with running_local_server(tmp_path_factory.mktemp("generated-client")) as server:
        yield server


@pytest.fixture(scope="module")
def generated(local_server: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The generated package, importable as ``task_api_client`` while the module runs."""
    out = tmp_path_factory.mktemp("generated")
    config = out / "config.json"  # JSON is YAML. No post hooks: ruff would only reformat.
    config.write_text(json.dumps({"package_name_override": PACKAGE, "post_hooks": []}))
    command = [GENERATOR, "generate", "--url", f"{local_server.base_url}/openapi.json"]
    command += ["--meta", "none", "--output-path", str(out / PACKAGE), "--config", str(config)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    # A warning means a part of the API the generated client leaves out.
    assert "warning" not in output.lower(), output
    sys.path.insert(0, str(out))
    try:
        yield _Generated(local_server)
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


class _Generated:
    """The generated package's modules, and a client of it signed in as alice."""

    def __init__(self, server: LocalServer) -> None:
        package = importlib.import_module(PACKAGE)
        self.models = importlib.import_module(f"{PACKAGE}.models")
        self.types = importlib.import_module(f"{PACKAGE}.types")
        # The document's security scheme: the raw ID token in Authorization, no prefix.
        self.client = package.AuthenticatedClient(
            base_url=server.base_url, token=dev_token.mint("alice"), prefix=""
        )

    def operation(self, name: str) -> ModuleType:
        return importlib.import_module(f"{PACKAGE}.api.tasks.{name}")


def test_a_one_field_patch_leaves_every_other_field_unchanged(generated: _Generated) -> None:
    models, client = generated.models, generated.client
    in_a_year = int(time.time()) + 365 * 86_400
    created = generated.operation("create_task").sync(
        client=client,
        body=models.TaskInput(
            title="before",
            description="keep this",
            status=models.TaskInputStatus.IN_PROGRESS,
            priority=models.TaskInputPriority.HIGH,
            tags=["errands", "home"],
            due_date="2030-01-31",
            expire_at=in_a_year,
        ),
    )
    assert isinstance(created, models.Task), created
    before = created.to_dict()
    # Every field differs from its default, so a client that sends defaults would show.
    assert (before["status"], before["priority"]) == ("in_progress", "high")
    assert before["description"] == "keep this"

    patched = generated.operation("patch_task").sync(
        created.id, client=client, body=models.TaskPatch(title="after")
    )
    assert isinstance(patched, models.Task), patched
    read = generated.operation("get_task").sync(created.id, client=client)
    assert isinstance(read, models.Task), read

    after = read.to_dict()
    assert after == patched.to_dict()
    assert after["title"] == "after"
    assert after["version"] == before["version"] + 1
    changed = {"title", "updatedAt", "version"}
    unchanged = {k: v for k, v in before.items() if k not in changed}
    assert {k: v for k, v in after.items() if k not in changed} == unchanged


def test_a_patch_with_null_resets_the_field_as_the_document_says(generated: _Generated) -> None:
    """The other half of a merge patch: null, sent explicitly, resets to the value that
    the schema's ``x-null-resets-to`` names."""
    models, client = generated.models, generated.client
    created = generated.operation("create_task").sync(
        client=client,
        body=models.TaskInput(title="t", priority=models.TaskInputPriority.URGENT, tags=["x"]),
    )
    assert isinstance(created, models.Task), created
    patched = generated.operation("patch_task").sync(
        created.id, client=client, body=models.TaskPatch(priority=None, tags=None)
    )
    assert isinstance(patched, models.Task), patched
    document = json.loads((PROJECT_DIR / "openapi.json").read_text())
    properties = document["components"]["schemas"]["TaskPatch"]["properties"]
    assert patched.to_dict()["priority"] == properties["priority"]["x-null-resets-to"]
    assert patched.to_dict()["tags"] == properties["tags"]["x-null-resets-to"]
    assert patched.to_dict()["title"] == "t"
