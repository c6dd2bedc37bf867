"""The activity service: a task's history and the owner's feed, read-only. The history of a
deleted task still answers, until its retention ends; one that never existed is a 404."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.activity import schema
from chalicelib.activity.record import Event
from chalicelib.activity.store import ActivityStore
from chalicelib.core import clock, validation
from chalicelib.core.clock import Clock, utc_now
from chalicelib.core.errors import NotFound
from chalicelib.core.paging import CURSOR, LIMIT, Page
from chalicelib.tasks.schema import RESOURCE as TASK

_LIST = validation.SchemaCheck(schema.LIST_PARAMETERS_SCHEMA)
#: Whether the owner has a visible task with that id, at ``now`` (epoch seconds).
TaskExists = Callable[[str, str, int], bool]


class ActivityService:
    def __init__(
        self,
        store: ActivityStore,
        task_exists: TaskExists,
        clock: Clock = utc_now,
        catch_up: Callable[[], None] = lambda: None,
    ) -> None:
        """``catch_up`` runs before each read: where the change stream is read locally, it
        lets the history catch up first (``runtime.catch_up``)."""
        self._store = store
        self._task_exists = task_exists
        self._clock = clock
        self._catch_up = catch_up

    def history(
        self, owner: str, task_id: str, parameters: dict[str, str | list[str]]
    ) -> Page[Event]:
        """One page of a task's events, newest first. An empty first page is a 404 unless
        the task exists (its first event may not be written yet): a second request then."""
        validation.validate_id(task_id)
        params = validation.validate_parameters(_LIST, parameters)
        self._catch_up()
        now = clock.epoch(self._clock())
        page = self._store.history(owner, task_id, params[LIMIT], params.get(CURSOR), now)
        if (
            not page.items
            and params.get(CURSOR) is None
            and not self._task_exists(owner, task_id, now)
        ):
            raise NotFound(TASK, task_id)
        return page

    def feed(self, owner: str, parameters: dict[str, str | list[str]]) -> Page[Event]:
        """One page of every event of the owner's tasks, newest first."""
        params = validation.validate_parameters(_LIST, parameters)
        self._catch_up()
        now = clock.epoch(self._clock())
        return self._store.feed(owner, params[LIMIT], params.get(CURSOR), now)
