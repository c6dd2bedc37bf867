"""What the browser tests share: Chromium, a server's task helpers and screenshots.

Playwright cannot download its own browser on our machines, so the tests drive Debian's
Chromium (``apt-get install -y chromium``; CI installs it). Elsewhere, set
``TASKS_CHROMIUM`` to a Chromium or Chrome binary, or run ``playwright install chromium``.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.conftest import PROJECT_DIR
from tests.local_server import LocalServer

#: The launch arguments checked on these machines (see ../shared/NOTES.md).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Screenshots of the page's main states; git ignores the folder.
SCREENSHOTS = PROJECT_DIR / "test-results" / "screenshots"


def chromium_executable() -> str | None:
    """A system Chromium, or None to let Playwright use the browser it installed."""
    override = os.environ.get("TASKS_CHROMIUM")
    if override:
        return override
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def launch_args() -> dict[str, Any]:
    executable = chromium_executable()
    return {"args": CHROMIUM_ARGS, **({"executable_path": executable} if executable else {})}


def screenshot(page: Page, name: str) -> Path:
    """Save the page as test-results/screenshots/<name>.png (a test artefact)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    assert path.stat().st_size > 1000, path
    return path


# --- the server's tasks, through the API ---------------------------------------------------


def all_tasks(server: LocalServer, headers: dict[str, str] | None = None) -> list[dict]:
    """Every task the caller has, newest first, following nextCursor."""
    tasks, cursor = [], None
    while True:
        path = "/tasks?limit=100" + (f"&cursor={cursor}" if cursor else "")
        status, _, body = server.request("GET", path, headers=headers)
        assert status == 200, body
        tasks += body["items"]
        cursor = body["nextCursor"]
        if cursor is None:
            return tasks


def delete_all_tasks(server: LocalServer, headers: dict[str, str] | None = None) -> None:
    for task in all_tasks(server, headers):
        status, _, body = server.request("DELETE", f"/tasks/{task['id']}", headers=headers)
        assert status == 204, body


def create_task(server: LocalServer, headers: dict[str, str] | None = None, **fields: Any) -> dict:
    status, _, body = server.request("POST", "/tasks", fields, headers=headers)
    assert status == 201, body
    return body


# --- the page --------------------------------------------------------------------------------

LIST_READY = re.compile(r"^(Showing \d+ tasks?|No tasks|No matching tasks)")


def wait_for_list(page: Page) -> None:
    expect(page.locator("#list-status")).to_have_text(LIST_READY)


def open_page(page: Page, url: str) -> None:
    page.goto(url)
    wait_for_list(page)


def new_task_form(page: Page) -> Locator:
    return page.get_by_role("region", name="New task")


def task_item(page: Page, title: str) -> Locator:
    heading = page.get_by_role("heading", name=title, exact=True)
    return page.locator("#task-list > li").filter(has=heading)


def task_titles(page: Page) -> Locator:
    return page.locator("#task-list .task-title")


def add_task(page: Page, title: str, **fields: str) -> None:
    """Fill the new-task form and submit it; waits until the task is listed."""
    form = new_task_form(page)
    form.get_by_label("Title").fill(title)
    labels = {"description": "Description", "due": "Due date", "tags": "Tags"}
    for name, value in fields.items():
        if name == "priority":
            form.get_by_label("Priority").select_option(value)
        else:
            form.get_by_label(labels[name]).fill(value)
    form.get_by_role("button", name="Add task").click()
    expect(task_item(page, title)).to_have_count(1)


# --- the task dialog's comments and history ------------------------------------------------


def wait_for_discussion(dialog: Locator) -> None:
    """Until the dialog's comments and history have loaded (each list is busy meanwhile)."""
    for name in ("#comment-list", "#history-list"):
        expect(dialog.locator(name)).not_to_have_attribute("aria-busy", "true")


def open_task_dialog(page: Page, title: str) -> Locator:
    """Open a listed task's dialog and wait for its comments and history."""
    task_item(page, title).get_by_role("button", name="Edit").click()
    dialog = page.get_by_role("dialog", name="Edit task")
    expect(dialog).to_be_visible()
    wait_for_discussion(dialog)
    return dialog


def comment_items(dialog: Locator) -> Locator:
    return dialog.locator("#comment-list > li")


def comment_item(dialog: Locator, body: str) -> Locator:
    return comment_items(dialog).filter(has=dialog.page.get_by_text(body, exact=True))


def history_entries(dialog: Locator) -> Locator:
    return dialog.locator("#history-list > li")
