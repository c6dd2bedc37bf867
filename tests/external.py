"""Which tests start another program, and the guard that keeps that list true.

`make check`, the inner loop, runs only the tests that need no other program: no server,
no DynamoDB Local (Java), no browser, no Terraform, npm or fresh interpreter. The others
carry the ``external`` marker: set by hand on a module or a test, and added here to every
test on DynamoDB Local, in a browser, or using a fixture marked with ``@starts_a_process``
(a module's server, say, which only its first test would be seen starting). A test without
the marker that starts a process fails, naming the marker, so the inner loop stays fast.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

#: pytest-playwright's fixtures: a test that asks for one runs in a browser.
BROWSER_FIXTURES = {"browser", "context", "page", "new_context"}
_UNMARKED = pytest.StashKey[list[str]]()
_running: pytest.Item | None = None  # the test now in setup, call or teardown
_Fixture = TypeVar("_Fixture", bound=Callable[..., Any])


def starts_a_process(fixture: _Fixture) -> _Fixture:
    """Mark a fixture function (below ``@pytest.fixture``): every test using it is external."""
    fixture.starts_a_process = True  # type: ignore[attr-defined]
    return fixture


def _uses_a_process_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(
        getattr(definition.func, "starts_a_process", False)
        for definitions in info.name2fixturedefs.values()
        for definition in definitions
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "external: starts another program (a server, DynamoDB Local, a browser, Terraform, "
        "npm, an interpreter); `make check` deselects these with -m 'not external'",
    )
    original = subprocess.Popen.__init__

    def guarded(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        item = _running
        if item is not None and item.get_closest_marker("external") is None:
            item.stash.setdefault(_UNMARKED, []).append(str(args)[:200])
        original(self, args, *rest, **kwargs)

    subprocess.Popen.__init__ = guarded  # type: ignore[method-assign]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A test that runs for minutes goes first: on the last worker to start it, it would end
    # the run alone (`make test` also lets idle workers take queued tests: --dist worksteal).
    items.sort(key=lambda item: item.get_closest_marker("runs_for_minutes") is None)
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if (
            item.get_closest_marker("dynamodb_local")
            or names & BROWSER_FIXTURES
            or "dynamodb_local_endpoint" in names
            or _uses_a_process_fixture(item)
        ):
            item.add_marker(pytest.mark.external)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    global _running
    _running = item
    try:
        return (yield)
    finally:
        _running = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    result = yield
    started = item.stash.get(_UNMARKED, [])
    if started:
        pytest.fail(
            f"started {len(started)} process(es) without the `external` marker, which "
            f"`make check` relies on: mark the test or its module (first: {started[0]})",
            pytrace=False,
        )
    return result
