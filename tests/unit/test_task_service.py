"""The task service's rules, through its constructor seam: an in-memory store, a clock
moved by hand and deterministic ids. No DynamoDB, no app, no server: a failure here names
a rule of the service, not a request or a table."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from typing import Any, cast

import pytest

from chalicelib.core.clock import utc_timestamp
from chalicelib.core.conditions import ANY, Match, Preconditions, Version, matches
from chalicelib.core.errors import (
    FieldError,
    IdempotencyKeyReused,
    InvalidCursor,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
)
from chalicelib.core.outcomes import Refused, Remembered
from chalicelib.core.paging import CURSOR, LIMIT, Page, PageBytes
from chalicelib.tasks.record import Task, is_visible
from chalicelib.tasks.schema import (
    CREATED_AT,
    DEFAULTS,
    DESCRIPTION,
    DUE_DATE,
    EXPIRE_AT,
    FIELDS,
    ID,
    LIST_PARAMETERS,
    PRIORITY,
    STATUS,
    TAG,
    TAGS,
    TITLE,
    UPDATED_AT,
    VERSION,
    default_for,
)
from chalicelib.tasks.service import IDEMPOTENCY_WINDOW_SECONDS, MAX_ID_ATTEMPTS, TaskService
from chalicelib.tasks.store import ListFilters, TaskStore
from tests.conftest import Clock

ALICE, BOB = "alice", "bob"
START = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def _copied(task: Task | None) -> Task | None:
    """What a store hands out is the caller's: DynamoDB returns a fresh item each time."""
    return copy.deepcopy(task)


def _task(values: dict[str, Any]) -> Task:
    """A task with every field of the schema, in its order (a missing one is a KeyError)."""
    return cast(Task, {name: values[name] for name in FIELDS})


def _position(task: Task) -> tuple[str, str]:
    return task[CREATED_AT], task[ID]


class FakeTaskStore:
    """``TaskStore`` in memory, deciding nothing, as ``DynamoTaskStore`` behaves: owners
    are isolated, an expired task is invisible (though kept until overwritten, as before
    TTL sweeps it), conditional writes report ``Refused(current)``. Every call is recorded,
    so tests can count the requests an operation costs."""

    def __init__(self) -> None:
        self.tasks: dict[tuple[str, str], Task] = {}
        self.keys: dict[tuple[str, str], tuple[int, Remembered]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    @property
    def methods(self) -> list[str]:
        """The names of the methods called, in order."""
        return [method for method, _ in self.calls]

    def _called(self, method: str, **arguments: Any) -> None:
        self.calls.append((method, arguments))

    def _visible(self, owner: str, task_id: str, now: int) -> Task | None:
        task = self.tasks.get((owner, task_id))
        return task if task is not None and is_visible(task, now) else None

    def _refused(self, owner: str, task_id: str) -> Refused:
        return Refused(_copied(self.tasks.get((owner, task_id))))

    def _put(self, owner: str, task: Task) -> Task:
        self.tasks[owner, task[ID]] = copy.deepcopy(task)
        return copy.deepcopy(task)

    def get(self, owner: str, task_id: str, now: int) -> Task | None:
        self._called("get", owner=owner, task_id=task_id, now=now)
        return _copied(self._visible(owner, task_id, now))

    def create(self, owner: str, task: Task, now: int) -> bool:
        self._called("create", owner=owner, task=task, now=now)
        if self._visible(owner, task[ID], now) is not None:
            return False
        self._put(owner, task)
        return True

    def create_idempotent(
        self, owner: str, task: Task, key: str, request_hash: str, now: int, remember_until: int
    ) -> Task | Remembered | None:
        self._called("create_idempotent", owner=owner, task=task, key=key, now=now)
        held = self.remembered_at(owner, key, now)
        if held is not None:
            return held
        if (owner, task[ID]) in self.tasks:  # as DynamoTaskStore: even an expired one
            return None
        self.keys[owner, key] = (remember_until, Remembered(request_hash, copy.deepcopy(task)))
        return self._put(owner, task)

    def remembered_at(self, owner: str, key: str, now: int) -> Remembered | None:
        """``remembered`` without recording a call."""
        held = self.keys.get((owner, key))
        return copy.deepcopy(held[1]) if held is not None and held[0] > now else None

    def remembered(self, owner: str, key: str, now: int) -> Remembered | None:
        self._called("remembered", owner=owner, key=key, now=now)
        return self.remembered_at(owner, key, now)

    def upsert(
        self,
        owner: str,
        task_id: str,
        fields: dict[str, Any],
        now: int,
        stamp: str,
        preconditions: Preconditions,
    ) -> Task | Refused:
        self._called("upsert", owner=owner, task_id=task_id, fields=fields, now=now)
        stored = self.tasks.get((owner, task_id))
        current = self._visible(owner, task_id, now)
        if preconditions.if_match is not None:
            holds = matches(current, preconditions.if_match)
        else:
            holds = stored is None or current is not None
        if preconditions.if_none_match is not None and matches(
            current, preconditions.if_none_match
        ):
            holds = False
        if not holds:
            return self._refused(owner, task_id)
        created_at, version = stamp, 0
        if current is not None:
            created_at, version = current[CREATED_AT], current[VERSION]
        replaced = {**fields, ID: task_id, CREATED_AT: created_at, UPDATED_AT: stamp}
        return self._put(owner, _task({**replaced, VERSION: version + 1}))

    def update(
        self,
        owner: str,
        task_id: str,
        changes: dict[str, Any],
        now: int,
        stamp: str,
        if_match: Match | None,
    ) -> Task | Refused:
        self._called("update", owner=owner, task_id=task_id, changes=changes, if_match=if_match)
        current = self._visible(owner, task_id, now)
        if current is None or (if_match is not None and not matches(current, if_match)):
            return self._refused(owner, task_id)
        removed = {name: default_for(name) for name, value in changes.items() if value is None}
        changed = {**current, **changes, **removed, UPDATED_AT: stamp}
        return self._put(owner, _task({**changed, VERSION: current[VERSION] + 1}))

    def delete(self, owner: str, task_id: str, now: int, if_match: Match | None) -> Refused | None:
        self._called("delete", owner=owner, task_id=task_id, if_match=if_match)
        current = self._visible(owner, task_id, now)
        if current is None or (if_match is not None and not matches(current, if_match)):
            return self._refused(owner, task_id)
        del self.tasks[owner, task_id]
        return None

    def list_page(
        self,
        owner: str,
        filters: ListFilters,
        limit: int,
        cursor: str | None,
        now: int,
        page_bytes: PageBytes[Task] | None = None,
    ) -> Page[Task]:
        """The cursor is the last task's position, "createdAt id" (neither has a space)."""
        self._called("list_page", owner=owner, filters=filters, limit=limit, cursor=cursor, now=now)
        tasks = sorted(
            (
                task
                for (holder, _), task in self.tasks.items()
                if holder == owner
                and is_visible(task, now)
                and (not filters.status or task[STATUS] == filters.status)
                and (not filters.priority or task[PRIORITY] == filters.priority)
                and (not filters.tag or filters.tag in task[TAGS])
            ),
            key=_position,
            reverse=True,
        )
        if cursor is not None:
            created_at, _, task_id = cursor.partition(" ")
            if not task_id:
                raise InvalidCursor("is malformed")
            tasks = [task for task in tasks if _position(task) < (created_at, task_id)]
        candidates = tasks[:limit]
        records = page_bytes.fitting(candidates) if page_bytes else candidates
        following = " ".join(_position(records[-1])) if len(records) < len(tasks) else None
        return Page(copy.deepcopy(records), following)


_TYPED: TaskStore = FakeTaskStore()  # mypy: the fake states the protocol it keeps


class Ids:
    """``new_id``: the given ids in turn, then task-1, task-2, ..."""

    def __init__(self, *first: str) -> None:
        self.queue = list(first)
        self.count = 0

    def __call__(self) -> str:
        if self.queue:
            return self.queue.pop(0)
        self.count += 1
        return f"task-{self.count}"


@pytest.fixture
def store() -> FakeTaskStore:
    return FakeTaskStore()


@pytest.fixture
def clock() -> Clock:
    """The service's clock, at a fixed start (overrides conftest's, which sets runtime's)."""
    fake = Clock()
    fake.now = START
    return fake


@pytest.fixture
def ids() -> Ids:
    return Ids()


@pytest.fixture
def service(store: FakeTaskStore, clock: Clock, ids: Ids) -> TaskService:
    return TaskService(store, clock=clock, new_id=ids)


@pytest.fixture
def made(service: TaskService, store: FakeTaskStore) -> Callable[..., Task]:
    """Create a task for ALICE and forget the calls it cost."""

    def make(**fields: Any) -> Task:
        task = service.create(ALICE, {TITLE: "Existing", **fields})
        store.calls.clear()
        return task

    return make


def stamp(clock: Clock) -> str:
    """The timestamp of the clock's last reading."""
    return utc_timestamp(clock.now)


def stale(task: Task) -> tuple[Version, ...]:
    """An If-Match naming the version before ``task``'s."""
    return (Version(task[VERSION] - 1, task[CREATED_AT]),)


def current(task: Task) -> tuple[Version, ...]:
    return (Version.of(task),)


def only_error(invalid: pytest.ExceptionInfo[ValidationFailed]) -> FieldError:
    assert len(invalid.value.errors) == 1, invalid.value.errors
    return invalid.value.errors[0]


# Create


def test_create_applies_defaults_a_new_id_and_the_clocks_time_at_version_1(
    service: TaskService, store: FakeTaskStore, clock: Clock
) -> None:
    task = service.create(ALICE, {TITLE: "Write tests"})
    now = stamp(clock)
    assert task == {
        **DEFAULTS,
        ID: "task-1",
        TITLE: "Write tests",
        CREATED_AT: now,
        UPDATED_AT: now,
        VERSION: 1,
    }
    assert store.methods == ["create"]
    assert store.tasks[ALICE, "task-1"] == task


def test_create_ignores_server_fields_in_the_body(service: TaskService, clock: Clock) -> None:
    body = {TITLE: "t", ID: "chosen", VERSION: 7, CREATED_AT: "2000-01-01T00:00:00.000000Z"}
    task = service.create(ALICE, {**body, UPDATED_AT: "2000-01-01T00:00:00.000000Z"})
    assert (task[ID], task[VERSION]) == ("task-1", 1)
    assert task[CREATED_AT] == task[UPDATED_AT] == stamp(clock)


def test_create_validates_against_the_schema_without_a_store_call(
    service: TaskService, store: FakeTaskStore
) -> None:
    with pytest.raises(ValidationFailed) as invalid:
        service.create(ALICE, {TITLE: "t", STATUS: "someday"})
    assert only_error(invalid).pointer == f"/{STATUS}"
    assert store.calls == []


@pytest.mark.parametrize("seconds_ahead", [0, -1])
def test_create_refuses_an_expire_at_that_is_not_in_the_future(
    service: TaskService, store: FakeTaskStore, clock: Clock, seconds_ahead: int
) -> None:
    with pytest.raises(ValidationFailed) as invalid:
        service.create(ALICE, {TITLE: "t", EXPIRE_AT: clock.epoch + seconds_ahead})
    assert only_error(invalid) == FieldError(
        pointer=f"/{EXPIRE_AT}", detail="must be in the future"
    )
    assert store.calls == []


def test_create_accepts_an_expire_at_one_second_ahead(service: TaskService, clock: Clock) -> None:
    assert service.create(ALICE, {TITLE: "t", EXPIRE_AT: clock.epoch + 1})[VERSION] == 1


def test_create_stores_an_integral_float_expire_at_as_an_int(
    service: TaskService, store: FakeTaskStore
) -> None:
    task = service.create(ALICE, {TITLE: "t", EXPIRE_AT: 4102444800.0})
    for kept in (task, store.tasks[ALICE, task[ID]]):
        assert kept[EXPIRE_AT] == 4102444800
        assert type(kept[EXPIRE_AT]) is int


def test_create_never_overwrites_a_task_whose_id_a_new_id_repeats(
    store: FakeTaskStore, clock: Clock
) -> None:
    service = TaskService(store, clock=clock, new_id=Ids("same", "same", "other"))
    first = service.create(ALICE, {TITLE: "first"})
    second = service.create(ALICE, {TITLE: "second"})
    assert (first[ID], second[ID]) == ("same", "other")
    assert store.tasks[ALICE, "same"][TITLE] == "first"
    assert store.methods == ["create", "create", "create"]


def test_create_gives_up_on_a_new_id_that_keeps_drawing_taken_ids(
    store: FakeTaskStore, clock: Clock
) -> None:
    service = TaskService(store, clock=clock, new_id=lambda: "same")
    service.create(ALICE, {TITLE: "first"})
    with pytest.raises(RuntimeError, match="no free id"):
        service.create(ALICE, {TITLE: "second"})
    assert store.methods == ["create"] * (1 + MAX_ID_ATTEMPTS)
    assert store.tasks[ALICE, "same"][TITLE] == "first"


# Get


def test_get_returns_the_task_with_one_store_call(
    service: TaskService, store: FakeTaskStore, made: Callable[..., Task]
) -> None:
    task = made()
    assert service.get(ALICE, task[ID]) == task
    assert store.methods == ["get"]


def test_get_of_an_expired_task_is_not_found(
    service: TaskService, clock: Clock, made: Callable[..., Task]
) -> None:
    task = made(**{EXPIRE_AT: clock.epoch + 60})
    clock.advance(seconds=59)
    assert service.get(ALICE, task[ID]) == task
    clock.advance(seconds=1)
    with pytest.raises(NotFound):
        service.get(ALICE, task[ID])


def test_a_task_is_its_owners_only(service: TaskService, made: Callable[..., Task]) -> None:
    task = made()
    with pytest.raises(NotFound):
        service.get(BOB, task[ID])
    assert service.list(BOB, {}).items == []


def test_get_refuses_an_invalid_id_without_a_store_call(
    service: TaskService, store: FakeTaskStore
) -> None:
    with pytest.raises(ValidationFailed) as invalid:
        service.get(ALICE, "-leading-dash")
    assert only_error(invalid).parameter == ID
    assert store.calls == []


# Replace (PUT)


def test_replace_creates_then_replaces_keeping_created_at(
    service: TaskService, store: FakeTaskStore, clock: Clock
) -> None:
    first, created = service.replace(ALICE, "mine", {TITLE: "v1", DESCRIPTION: "details"})
    assert created
    assert first[VERSION] == 1
    assert first[CREATED_AT] == first[UPDATED_AT] == stamp(clock)
    clock.advance(seconds=5)
    second, created = service.replace(ALICE, "mine", {TITLE: "v2"})
    assert not created
    assert second == {
        **first,
        TITLE: "v2",
        DESCRIPTION: DEFAULTS[DESCRIPTION],  # a replace: what is left out takes its default
        UPDATED_AT: stamp(clock),
        VERSION: 2,
    }
    assert store.methods == ["upsert", "upsert"]


def test_replace_if_none_match_any_creates_with_one_store_call(
    service: TaskService, store: FakeTaskStore
) -> None:
    task, created = service.replace(ALICE, "mine", {TITLE: "t"}, Preconditions(if_none_match=ANY))
    assert created
    assert task[VERSION] == 1
    assert store.methods == ["create"]


def test_replace_if_none_match_any_refuses_an_existing_task(
    service: TaskService, store: FakeTaskStore
) -> None:
    existing, _ = service.replace(ALICE, "mine", {TITLE: "t"})
    with pytest.raises(PreconditionFailed):
        service.replace(ALICE, "mine", {TITLE: "other"}, Preconditions(if_none_match=ANY))
    assert store.tasks[ALICE, "mine"] == existing


def test_replace_with_if_match_and_if_none_match_any_is_refused_without_a_store_call(
    service: TaskService, store: FakeTaskStore
) -> None:
    with pytest.raises(PreconditionFailed):
        service.replace(ALICE, "mine", {TITLE: "t"}, Preconditions(if_match=ANY, if_none_match=ANY))
    assert store.calls == []


def test_replace_with_a_stale_if_match_is_refused(
    service: TaskService, store: FakeTaskStore
) -> None:
    service.replace(ALICE, "mine", {TITLE: "v1"})
    second, _ = service.replace(ALICE, "mine", {TITLE: "v2"})
    with pytest.raises(PreconditionFailed):
        service.replace(ALICE, "mine", {TITLE: "v3"}, Preconditions(if_match=stale(second)))
    assert store.tasks[ALICE, "mine"] == second
    third, created = service.replace(
        ALICE, "mine", {TITLE: "v3"}, Preconditions(if_match=current(second))
    )
    assert (third[TITLE], third[VERSION], created) == ("v3", 3, False)


def test_replace_with_if_match_of_a_missing_task_is_refused(
    service: TaskService, store: FakeTaskStore
) -> None:
    with pytest.raises(PreconditionFailed):
        service.replace(ALICE, "mine", {TITLE: "t"}, Preconditions(if_match=ANY))
    assert store.tasks == {}


def test_replace_with_a_matching_if_none_match_is_refused(service: TaskService) -> None:
    task, _ = service.replace(ALICE, "mine", {TITLE: "t"})
    with pytest.raises(PreconditionFailed):
        service.replace(ALICE, "mine", {TITLE: "u"}, Preconditions(if_none_match=current(task)))
    replaced, _ = service.replace(
        ALICE, "mine", {TITLE: "u"}, Preconditions(if_none_match=stale(task))
    )
    assert replaced[VERSION] == 2


def test_replace_over_an_expired_task_creates_a_new_one(
    service: TaskService, store: FakeTaskStore, clock: Clock
) -> None:
    old, _ = service.replace(ALICE, "mine", {TITLE: "old", EXPIRE_AT: clock.epoch + 60})
    clock.advance(seconds=60)
    store.calls.clear()
    new, created = service.replace(ALICE, "mine", {TITLE: "new"})
    assert created
    assert (new[TITLE], new[VERSION], new[EXPIRE_AT]) == ("new", 1, None)
    assert new[CREATED_AT] == stamp(clock) != old[CREATED_AT]
    assert store.methods == ["upsert", "create"]  # the rare second request


def test_replace_with_if_match_of_an_expired_task_is_refused(
    service: TaskService, store: FakeTaskStore, clock: Clock
) -> None:
    old, _ = service.replace(ALICE, "mine", {TITLE: "old", EXPIRE_AT: clock.epoch + 60})
    clock.advance(seconds=60)
    with pytest.raises(PreconditionFailed):
        service.replace(ALICE, "mine", {TITLE: "new"}, Preconditions(if_match=current(old)))
    assert store.tasks[ALICE, "mine"] == old


# Patch (JSON Merge Patch)


def test_patch_null_resets_fields_to_their_defaults(
    service: TaskService, store: FakeTaskStore, clock: Clock, made: Callable[..., Task]
) -> None:
    task = made(
        **{
            DESCRIPTION: "d",
            PRIORITY: "urgent",
            DUE_DATE: "2031-01-01",
            TAGS: ["x"],
            EXPIRE_AT: clock.epoch + 600,
        }
    )
    clock.advance(seconds=1)
    reset = [DESCRIPTION, PRIORITY, DUE_DATE, TAGS, EXPIRE_AT]
    patched = service.patch(ALICE, task[ID], dict.fromkeys(reset))
    assert patched == {
        **task,
        **{name: DEFAULTS[name] for name in reset},
        UPDATED_AT: stamp(clock),
        VERSION: 2,
    }
    assert store.methods == ["update"]


def test_patch_changes_only_the_fields_it_names(
    service: TaskService, made: Callable[..., Task]
) -> None:
    task = made(**{DESCRIPTION: "kept"})
    patched = service.patch(ALICE, task[ID], {STATUS: "completed"})
    assert (patched[STATUS], patched[DESCRIPTION], patched[TITLE]) == (
        "completed",
        "kept",
        "Existing",
    )


def test_patch_ignores_server_fields_in_the_body(
    service: TaskService, clock: Clock, made: Callable[..., Task]
) -> None:
    task = made()
    server = {ID: "other", VERSION: 9, CREATED_AT: "2000-01-01T00:00:00.000000Z"}
    patched = service.patch(ALICE, task[ID], {TITLE: "renamed", **server})
    assert patched == {**task, TITLE: "renamed", UPDATED_AT: stamp(clock), VERSION: 2}


@pytest.mark.parametrize(
    "operation", [TaskService.replace, TaskService.patch], ids=["replace", "patch"]
)
def test_replace_and_patch_refuse_an_expire_at_in_the_past(
    service: TaskService,
    store: FakeTaskStore,
    clock: Clock,
    made: Callable[..., Task],
    operation: Callable[[TaskService, str, str, dict[str, Any]], object],
) -> None:
    task = made()
    body = {TITLE: "t", EXPIRE_AT: clock.epoch - 1}
    with pytest.raises(ValidationFailed) as invalid:
        operation(service, ALICE, task[ID], body)
    assert only_error(invalid) == FieldError(
        pointer=f"/{EXPIRE_AT}", detail="must be in the future"
    )
    assert store.calls == []


@pytest.mark.parametrize("body", [{}, {VERSION: 9, ID: "other"}], ids=["empty", "server-only"])
def test_an_empty_patch_keeps_the_version_and_writes_nothing(
    service: TaskService, store: FakeTaskStore, made: Callable[..., Task], body: dict[str, Any]
) -> None:
    task = made()
    assert service.patch(ALICE, task[ID], body) == task
    assert store.methods == ["get"]


@pytest.mark.parametrize("body", [{}, {STATUS: "completed"}], ids=["empty", "change"])
def test_patch_with_a_stale_if_match_is_refused(
    service: TaskService, store: FakeTaskStore, made: Callable[..., Task], body: dict[str, Any]
) -> None:
    task = service.patch(ALICE, made()[ID], {DESCRIPTION: "v2"})
    with pytest.raises(PreconditionFailed):
        service.patch(ALICE, task[ID], body, if_match=stale(task))
    assert store.tasks[ALICE, task[ID]] == task


@pytest.mark.parametrize("body", [{}, {STATUS: "completed"}], ids=["empty", "change"])
@pytest.mark.parametrize("if_match", [None, ANY], ids=["no-if-match", "if-match-any"])
def test_patch_of_a_missing_task_is_not_found(
    service: TaskService, body: dict[str, Any], if_match: Match | None
) -> None:
    with pytest.raises(NotFound):
        service.patch(ALICE, "missing", body, if_match=if_match)


@pytest.mark.parametrize("body", [{}, {STATUS: "completed"}], ids=["empty", "change"])
@pytest.mark.parametrize("if_match", [None, "current"], ids=["no-if-match", "if-match"])
def test_patch_of_an_expired_task_is_not_found(
    service: TaskService,
    store: FakeTaskStore,
    clock: Clock,
    made: Callable[..., Task],
    body: dict[str, Any],
    if_match: str | None,
) -> None:
    task = made(**{EXPIRE_AT: clock.epoch + 60})
    clock.advance(seconds=60)
    with pytest.raises(NotFound):
        service.patch(ALICE, task[ID], body, if_match=current(task) if if_match else None)
    assert store.tasks[ALICE, task[ID]] == task


# Delete


@pytest.mark.parametrize("if_match", [None, ANY], ids=["no-if-match", "if-match-any"])
def test_delete_of_a_missing_task_is_not_found(
    service: TaskService, store: FakeTaskStore, if_match: Match | None
) -> None:
    with pytest.raises(NotFound):
        service.delete(ALICE, "missing", if_match=if_match)
    assert store.methods == ["delete"]


def test_delete_with_a_stale_if_match_is_refused_then_deletes_with_the_current_one(
    service: TaskService, store: FakeTaskStore, made: Callable[..., Task]
) -> None:
    task = service.patch(ALICE, made()[ID], {DESCRIPTION: "v2"})
    store.calls.clear()
    with pytest.raises(PreconditionFailed):
        service.delete(ALICE, task[ID], if_match=stale(task))
    assert store.tasks[ALICE, task[ID]] == task
    service.delete(ALICE, task[ID], if_match=current(task))
    assert store.methods == ["delete", "delete"]
    with pytest.raises(NotFound):
        service.get(ALICE, task[ID])


def test_delete_of_an_expired_task_is_not_found(
    service: TaskService, clock: Clock, made: Callable[..., Task]
) -> None:
    task = made(**{EXPIRE_AT: clock.epoch + 60})
    clock.advance(seconds=60)
    with pytest.raises(NotFound):
        service.delete(ALICE, task[ID], if_match=current(task))


# Idempotency-Key


def test_the_same_key_and_request_within_the_window_replays_the_first_task(
    service: TaskService, store: FakeTaskStore, clock: Clock
) -> None:
    first = service.create(ALICE, {TITLE: "once", EXPIRE_AT: 4102444800}, idempotency_key="k")
    clock.advance(seconds=IDEMPOTENCY_WINDOW_SECONDS - 1)
    # The same request: what it would store is the same (defaults spelled out, 1.0 for 1).
    again = {TITLE: "once", STATUS: "new", EXPIRE_AT: 4102444800.0}
    assert service.create(ALICE, again, idempotency_key="k") == first
    assert list(store.tasks) == [(ALICE, first[ID])]
    assert store.methods == ["create_idempotent", "create_idempotent"]


def test_the_same_key_with_another_request_is_refused(
    service: TaskService, store: FakeTaskStore
) -> None:
    service.create(ALICE, {TITLE: "once"}, idempotency_key="k")
    with pytest.raises(IdempotencyKeyReused):
        service.create(ALICE, {TITLE: "other"}, idempotency_key="k")
    assert len(store.tasks) == 1


def test_a_key_after_its_window_creates_a_new_task(
    service: TaskService, store: FakeTaskStore, clock: Clock
) -> None:
    first = service.create(ALICE, {TITLE: "once"}, idempotency_key="k")
    clock.advance(seconds=IDEMPOTENCY_WINDOW_SECONDS)
    second = service.create(ALICE, {TITLE: "once"}, idempotency_key="k")
    assert second[ID] != first[ID]
    assert len(store.tasks) == 2


def test_a_key_is_its_owners_only(service: TaskService, store: FakeTaskStore) -> None:
    mine = service.create(ALICE, {TITLE: "once"}, idempotency_key="k")
    theirs = service.create(BOB, {TITLE: "other"}, idempotency_key="k")
    assert theirs[ID] != mine[ID]
    assert store.tasks[BOB, theirs[ID]][TITLE] == "other"


def test_a_retry_whose_expire_at_has_passed_since_still_replays(
    service: TaskService, store: FakeTaskStore, clock: Clock
) -> None:
    body = {TITLE: "short-lived", EXPIRE_AT: clock.epoch + 60}
    first = service.create(ALICE, body, idempotency_key="k")
    clock.advance(seconds=120)
    store.calls.clear()
    assert service.create(ALICE, body, idempotency_key="k") == first
    assert store.methods == ["remembered"]


@pytest.mark.parametrize(
    ("key", "extra"),
    [(None, {}), ("unknown", {}), ("k", {STATUS: "someday"})],
    ids=["no-key", "unknown-key", "another-error"],
)
def test_an_expired_expire_at_is_refused_unless_it_retries_a_remembered_request(
    service: TaskService, clock: Clock, key: str | None, extra: dict[str, Any]
) -> None:
    body = {TITLE: "short-lived", EXPIRE_AT: clock.epoch + 60}
    service.create(ALICE, body, idempotency_key="k")
    clock.advance(seconds=120)
    with pytest.raises(ValidationFailed) as invalid:
        service.create(ALICE, {**body, **extra}, idempotency_key=key)
    assert FieldError(pointer=f"/{EXPIRE_AT}", detail="must be in the future") in (
        invalid.value.errors
    )


# List


def test_list_refuses_an_unknown_parameter_without_a_store_call(
    service: TaskService, store: FakeTaskStore
) -> None:
    with pytest.raises(ValidationFailed) as invalid:
        service.list(ALICE, {"colour": "red"})
    assert only_error(invalid).parameter == "colour"
    assert store.calls == []


@pytest.mark.parametrize("limit", ["0", "101", "ten"])
def test_list_refuses_an_invalid_limit(service: TaskService, limit: str) -> None:
    with pytest.raises(ValidationFailed) as invalid:
        service.list(ALICE, {LIMIT: limit})
    assert only_error(invalid).parameter == LIMIT


def test_list_passes_filters_and_limit_to_one_store_call(
    service: TaskService, store: FakeTaskStore
) -> None:
    service.list(ALICE, {STATUS: "completed", PRIORITY: "high", TAG: "home", LIMIT: "7"})
    [(method, arguments)] = store.calls
    assert method == "list_page"
    assert arguments["filters"] == ListFilters(status="completed", priority="high", tag="home")
    assert (arguments["owner"], arguments["limit"], arguments["cursor"]) == (ALICE, 7, None)


def test_list_without_a_limit_asks_for_the_schemas_default(
    service: TaskService, store: FakeTaskStore
) -> None:
    service.list(ALICE, {})
    [(_, arguments)] = store.calls
    assert arguments["limit"] == LIST_PARAMETERS[LIMIT]["default"]
    assert arguments["filters"] == ListFilters()


def test_list_pages_newest_first_through_the_cursor(
    service: TaskService, clock: Clock, made: Callable[..., Task]
) -> None:
    oldest, middle, newest = (made(**{TAGS: ["x"]}) for _ in range(3))
    made()  # untagged: filtered out
    first = service.list(ALICE, {TAG: "x", LIMIT: "2"})
    assert first.items == [newest, middle]
    assert first.next_cursor is not None
    second = service.list(ALICE, {TAG: "x", LIMIT: "2", CURSOR: first.next_cursor})
    assert (second.items, second.next_cursor) == ([oldest], None)


def test_list_leaves_out_expired_tasks(
    service: TaskService, clock: Clock, made: Callable[..., Task]
) -> None:
    lasting = made()
    made(**{EXPIRE_AT: clock.epoch + 60})
    clock.advance(seconds=60)
    assert service.list(ALICE, {}).items == [lasting]
