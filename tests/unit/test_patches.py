"""Each private internal of a third-party library that the project relies on is listed in
devserver/patches.py, and is still there, with the parameters it is called with."""

from __future__ import annotations

import importlib
import inspect
import re
from typing import Any

import pytest

from devserver import patches
from tests.conftest import PROJECT_DIR

#: Private names reached through these third-party objects must be in the list.
_PRIVATE_ACCESS = re.compile(r"\b(local\.[A-Z]\w*|BaseClient)\.(_[a-z]\w*)")
_OURS = {"_task_api_patched"}  # the marker install() sets: ours, not the library's


def resolve(module: str, dotted: str) -> Any:
    target: Any = importlib.import_module(module)
    for part in dotted.split("."):
        target = getattr(target, part)
    return target


@pytest.mark.parametrize("internal", patches.INTERNALS, ids=lambda i: i.attribute)
def test_each_private_internal_is_still_what_we_rely_on(internal: patches.Internal) -> None:
    key = f"{internal.module}:{internal.attribute}"
    owner, _, name = internal.attribute.rpartition(".")
    if internal.parameters is not None:
        target = patches.ORIGINALS.get(key) or resolve(internal.module, internal.attribute)
        assert tuple(inspect.signature(target).parameters) == internal.parameters, key
    elif owner and not hasattr(resolve(internal.module, owner), name):
        # An instance attribute: the class's __init__ must still set it.
        init = resolve(internal.module, owner).__init__
        assert f"self.{name} =" in inspect.getsource(init), key
    else:
        assert isinstance(resolve(internal.module, internal.attribute), str), key


def test_the_patched_originals_were_recorded_before_they_were_replaced() -> None:
    """install() ran (the app is imported under chalice.local) and kept each original."""
    assert patches.ORIGINALS, "devserver.local_gateway.install() recorded nothing"
    for key, original in patches.ORIGINALS.items():
        module, attribute = key.split(":")
        if module != "chalice.local":
            continue  # the tests' own wrappers come and go with their fixtures
        assert (module, attribute) in {(i.module, i.attribute) for i in patches.INTERNALS}
        assert original is not resolve(module, attribute), f"{key}: not replaced"


def test_every_private_access_in_our_code_is_listed() -> None:
    listed = {i.attribute.rsplit(".", 1)[-1] for i in patches.INTERNALS}
    found: dict[str, str] = {}
    for path in [
        *sorted((PROJECT_DIR / "devserver").glob("*.py")),
        *sorted((PROJECT_DIR / "tests").glob("*.py")),
    ]:
        for owner, name in _PRIVATE_ACCESS.findall(path.read_text()):
            found.setdefault(name, f"{path.name}: {owner}.{name}")
    unlisted = {name: where for name, where in found.items() if name not in listed | _OURS}
    assert unlisted == {}
    assert found, "the scan found nothing: its pattern no longer matches the code"
