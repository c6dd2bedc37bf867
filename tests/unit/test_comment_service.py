"""The comment service's rules, through its constructor seam: an in-memory store, a clock
moved by hand and deterministic ids. No DynamoDB, no app, no server: a failure here names
a rule of the service, not a request or a table."""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.comments.record import Comment
from chalicelib.comments.schema import (
    AUTHOR,
    BODY,
    CREATED_AT,
    ID,
    LIST_PARAMETERS,
    MAX_BODY_LENGTH,
    TASK_ID,
    UPDATED_AT,
    USER,
    VERSION,
)
from chalicelib.comments.service import (
    COMMENT_ID_PARAMETER,
    IDEMPOTENCY_WINDOW_SECONDS,
    MAX_ID_ATTEMPTS,
    MAX_PATCH_ATTEMPTS,
    TASK_ID_PARAMETER,
    CommentService,
    time_ordered_id,
)
from chalicelib.comments.store import CommentStore, Gone
from chalicelib.core.clock import utc_timestamp
from chalicelib.core.conditions import ANY, Match, Version, matches
from chalicelib.core.errors import (
    FieldError,
    IdempotencyKeyReused,
    InvalidCursor,
    NotFound,
    PreconditionFailed,
    StoreUnavailable,
    ValidationFailed,
)
from chalicelib.core.outcomes import Refused, Remembered
from chalicelib.core.paging import CURSOR, LIMIT, Page, PageBytes
from tests.conftest import Clock

ALICE, BOB = "alice", "bob"
TASK = "buy-milk"
START = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


class FakeCommentStore:
    """``CommentStore`` in memory, deciding nothing, as ``DynamoCommentStore`` behaves:
    owners are isolated, every operation first requires the task to exist and not to have
    expired (``Gone.TASK``), conditional writes report ``Refused(current)``. Every call is
    recorded, so tests can count the requests an operation costs; ``before_write`` runs
    before each conditional write, as another request would."""

    def __init__(self) -> None:
        #: (owner, task id) -> the task's expireAt (None: never)
        self.tasks: dict[tuple[str, str], int | None] = {}
        self.comments: dict[tuple[str, str, str], Comment] = {}
        self.keys: dict[tuple[str, str], tuple[int, Remembered]] = {}
        self.calls: list[str] = []
        self.before_write: Callable[[], None] = lambda: None

    def _task_gone(self, owner: str, task_id: str, now: int) -> bool:
        if (owner, task_id) not in self.tasks:
            return True
        expire_at = self.tasks[owner, task_id]
        return expire_at is not None and expire_at <= now

    def get(self, owner: str, task_id: str, comment_id: str, now: int) -> Comment | Gone:
        self.calls.append("get")
        if self._task_gone(owner, task_id, now):
            return Gone.TASK
        comment = self.comments.get((owner, task_id, comment_id))
        return Gone.COMMENT if comment is None else copy.deepcopy(comment)

    def create(self, owner: str, comment: Comment, now: int) -> bool | Gone:
        self.calls.append("create")
        if self._task_gone(owner, comment[TASK_ID], now):
            return Gone.TASK
        if (owner, comment[TASK_ID], comment[ID]) in self.comments:
            return False
        self.comments[owner, comment[TASK_ID], comment[ID]] = copy.deepcopy(comment)
        return True

    def create_idempotent(
        self,
        owner: str,
        comment: Comment,
        key: str,
        request_hash: str,
        now: int,
        remember_until: int,
    ) -> Comment | Remembered | Gone | None:
        self.calls.append("create_idempotent")
        if self._task_gone(owner, comment[TASK_ID], now):
            return Gone.TASK
        held = self.keys.get((owner, key))
        if held is not None and held[0] > now:
            return copy.deepcopy(held[1])
        if (owner, comment[TASK_ID], comment[ID]) in self.comments:
            return None
        self.keys[owner, key] = (remember_until, Remembered(request_hash, copy.deepcopy(comment)))
        self.comments[owner, comment[TASK_ID], comment[ID]] = copy.deepcopy(comment)
        return copy.deepcopy(comment)

    def replace(
        self, owner: str, comment: Comment, expected: Version, now: int
    ) -> Refused | Gone | None:
        self.calls.append("replace")
        self.before_write()
        if self._task_gone(owner, comment[TASK_ID], now):
            return Gone.TASK
        current = self.comments.get((owner, comment[TASK_ID], comment[ID]))
        if current is None or Version.of(current) != expected:
            return Refused(copy.deepcopy(current))
        self.comments[owner, comment[TASK_ID], comment[ID]] = copy.deepcopy(comment)
        return None

    def delete(
        self, owner: str, task_id: str, comment_id: str, if_match: Match | None, now: int
    ) -> Refused | Gone | None:
        self.calls.append("delete")
        if self._task_gone(owner, task_id, now):
            return Gone.TASK
        current = self.comments.get((owner, task_id, comment_id))
        if current is None or (if_match is not None and not matches(current, if_match)):
            return Refused(copy.deepcopy(current))
        del self.comments[owner, task_id, comment_id]
        return None

    def list_page(
        self,
        owner: str,
        task_id: str,
        limit: int,
        cursor: str | None,
        now: int,
        page_bytes: PageBytes[Comment] | None = None,
    ) -> Page[Comment] | Gone:
        """In id order, as the table's sort key; the cursor is the last id shown."""
        self.calls.append("list_page")
        if self._task_gone(owner, task_id, now):
            return Gone.TASK
        if cursor is not None and not cursor.startswith("after "):
            raise InvalidCursor("is malformed")
        after = cursor.removeprefix("after ") if cursor else ""
        ordered = sorted(
            (c for (o, t, i), c in self.comments.items() if (o, t) == (owner, task_id)),
            key=lambda c: c[ID],
        )
        following = [c for c in ordered if c[ID] > after]
        candidates = following[:limit]
        records = page_bytes.fitting(candidates) if page_bytes else candidates
        more = f"after {records[-1][ID]}" if len(records) < len(following) else None
        return Page(copy.deepcopy(records), more)


_TYPED: CommentStore = FakeCommentStore()  # mypy: the fake states the protocol it keeps


class Ids:
    """``new_id``: the given ids in turn, then the clock's time-ordered ids."""

    def __init__(self, *first: str) -> None:
        self.queue = list(first)
        self.moments: list[dt.datetime] = []

    def __call__(self, moment: dt.datetime) -> str:
        self.moments.append(moment)
        return self.queue.pop(0) if self.queue else time_ordered_id(moment)


@pytest.fixture
def store() -> FakeCommentStore:
    fake = FakeCommentStore()
    fake.tasks[ALICE, TASK] = None
    return fake


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
def service(store: FakeCommentStore, clock: Clock, ids: Ids) -> CommentService:
    return CommentService(store, clock=clock, new_id=ids)


@pytest.fixture
def made(service: CommentService, store: FakeCommentStore) -> Callable[..., Comment]:
    """Create a comment of ALICE's on TASK and forget the calls it cost."""

    def make(body: str = "Existing") -> Comment:
        comment = service.create(ALICE, TASK, {BODY: body})
        store.calls.clear()
        return comment

    return make


def stamp(clock: Clock) -> str:
    """The timestamp of the clock's last reading."""
    return utc_timestamp(clock.now)


def current(comment: Comment) -> tuple[Version, ...]:
    return (Version.of(comment),)


def stale(comment: Comment) -> tuple[Version, ...]:
    return (Version(comment[VERSION] - 1, comment[CREATED_AT]),)


def errors(invalid: pytest.ExceptionInfo[ValidationFailed]) -> list[FieldError]:
    return invalid.value.errors


def task_not_found(missing: pytest.ExceptionInfo[NotFound]) -> bool:
    return missing.value.detail == f"No task with id '{TASK}'."


# Ids


def test_ids_are_uuid_version_7_and_sort_as_their_moments_do_to_the_microsecond() -> None:
    moments = [START + dt.timedelta(microseconds=m) for m in (0, 1, 2, 999, 1000, 1001, 10**6)]
    made = [time_ordered_id(moment) for moment in moments]
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    for made_id in made:
        parsed = uuid.UUID(made_id)
        assert (str(parsed), parsed.version, parsed.variant) == (made_id, 7, uuid.RFC_4122)
    assert int(made[0][:8] + made[0][9:13], 16) == int(START.timestamp() * 1000)  # Unix ms


def test_ids_of_the_same_moment_differ() -> None:
    assert len({time_ordered_id(START) for _ in range(100)}) == 100


# Create


def test_create_writes_the_body_by_the_caller_with_a_new_id_at_version_1(
    service: CommentService, store: FakeCommentStore, clock: Clock, ids: Ids
) -> None:
    comment = service.create(ALICE, TASK, {BODY: "On my way"})
    now = stamp(clock)
    assert comment == {
        ID: comment[ID],
        TASK_ID: TASK,
        BODY: "On my way",
        AUTHOR: {"type": USER, "id": ALICE},
        CREATED_AT: now,
        UPDATED_AT: now,
        VERSION: 1,
    }
    assert ids.moments == [clock.now]  # the id is the creation time's
    assert comment[ID][:18] == time_ordered_id(clock.now)[:18]  # its time and version
    assert store.calls == ["create"]
    assert store.comments[ALICE, TASK, comment[ID]] == comment


def test_create_ignores_server_fields_in_the_body_and_takes_the_author_from_the_caller(
    service: CommentService,
) -> None:
    server_fields = {
        ID: "chosen",
        TASK_ID: "another-task",
        AUTHOR: {"type": USER, "id": BOB},
        VERSION: 7,
        CREATED_AT: "2000-01-01T00:00:00.000000Z",
        UPDATED_AT: "2000-01-01T00:00:00.000000Z",
    }
    comment = service.create(ALICE, TASK, {BODY: "b", **server_fields})
    assert (comment[TASK_ID], comment[VERSION], comment[AUTHOR]["id"]) == (TASK, 1, ALICE)
    assert comment[ID] != "chosen"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({}, "is required"),
        ({BODY: ""}, "must not be empty"),
        ({BODY: " \t\n\u3000"}, "must not be blank"),
        ({BODY: "x" * (MAX_BODY_LENGTH + 1)}, f"must be at most {MAX_BODY_LENGTH} characters"),
        ({BODY: 7}, "must be a string"),
        ({BODY: None}, "must be a string"),
    ],
)
def test_create_validates_the_body_without_a_store_call(
    service: CommentService, store: FakeCommentStore, body: dict[str, Any], detail: str
) -> None:
    with pytest.raises(ValidationFailed) as invalid:
        service.create(ALICE, TASK, body)
    assert errors(invalid) == [FieldError(pointer=f"/{BODY}", detail=detail)]
    assert store.calls == []


def test_the_longest_body_is_accepted(service: CommentService) -> None:
    longest = "é" * MAX_BODY_LENGTH
    assert service.create(ALICE, TASK, {BODY: longest})[BODY] == longest


def test_create_reports_every_invalid_value_at_once_with_the_path_id(
    service: CommentService, store: FakeCommentStore
) -> None:
    with pytest.raises(ValidationFailed) as invalid:
        service.create(ALICE, "-bad", {BODY: " ", "colour": "red"})
    assert [(e.parameter or e.pointer) for e in errors(invalid)] == [
        TASK_ID_PARAMETER,
        f"/{BODY}",
        "/colour",
    ]
    assert invalid.value.total == 3
    assert store.calls == []


@pytest.mark.parametrize("owner", [ALICE, BOB])
def test_create_on_a_missing_or_another_owners_task_is_404_for_the_task(
    service: CommentService, store: FakeCommentStore, owner: str
) -> None:
    task = "none" if owner == ALICE else TASK
    with pytest.raises(NotFound) as missing:
        service.create(owner, task, {BODY: "b"})
    assert missing.value.detail == f"No task with id '{task}'."
    assert store.calls == ["create"]
    assert store.comments == {}


def test_an_expired_task_takes_no_comments(
    service: CommentService, store: FakeCommentStore, clock: Clock
) -> None:
    store.tasks[ALICE, TASK] = clock.epoch + 10
    service.create(ALICE, TASK, {BODY: "before"})
    clock.advance(seconds=10)
    with pytest.raises(NotFound) as missing:
        service.create(ALICE, TASK, {BODY: "after"})
    assert task_not_found(missing)


def test_create_draws_another_id_when_one_is_taken(
    store: FakeCommentStore, clock: Clock, made: Callable[..., Comment]
) -> None:
    taken = made()[ID]
    service = CommentService(store, clock=clock, new_id=Ids(taken, taken))
    comment = service.create(ALICE, TASK, {BODY: "b"})
    assert comment[ID] != taken
    assert store.calls == ["create"] * 3
    assert store.comments[ALICE, TASK, taken][BODY] == "Existing"


def test_create_gives_up_when_new_id_keeps_drawing_taken_ids(
    store: FakeCommentStore, clock: Clock, made: Callable[..., Comment]
) -> None:
    taken = made()[ID]
    service = CommentService(store, clock=clock, new_id=lambda moment: taken)
    with pytest.raises(RuntimeError, match="no free id"):
        service.create(ALICE, TASK, {BODY: "b"})
    assert store.calls == ["create"] * MAX_ID_ATTEMPTS


# Create with an Idempotency-Key


def test_a_repeated_key_returns_the_first_comment_and_creates_nothing(
    service: CommentService, store: FakeCommentStore, clock: Clock
) -> None:
    first = service.create(ALICE, TASK, {BODY: "once"}, idempotency_key="k")
    clock.advance(seconds=60)
    again = service.create(ALICE, TASK, {BODY: "once", ID: "ignored"}, idempotency_key="k")
    assert again == first
    assert len(store.comments) == 1
    assert store.calls == ["create_idempotent"] * 2
    assert store.keys[ALICE, "k"][0] == clock.epoch - 60 + IDEMPOTENCY_WINDOW_SECONDS


@pytest.mark.parametrize(
    ("task", "body"), [(TASK, {BODY: "twice"}), ("other-task", {BODY: "once"})]
)
def test_a_key_reused_with_another_body_or_on_another_task_is_refused(
    service: CommentService, store: FakeCommentStore, task: str, body: dict[str, Any]
) -> None:
    store.tasks[ALICE, "other-task"] = None
    service.create(ALICE, TASK, {BODY: "once"}, idempotency_key="k")
    with pytest.raises(IdempotencyKeyReused):
        service.create(ALICE, task, body, idempotency_key="k")
    assert len(store.comments) == 1


def test_keys_are_per_owner(service: CommentService, store: FakeCommentStore) -> None:
    store.tasks[BOB, TASK] = None
    mine = service.create(ALICE, TASK, {BODY: "once"}, idempotency_key="k")
    theirs = service.create(BOB, TASK, {BODY: "once"}, idempotency_key="k")
    assert mine[ID] != theirs[ID]
    assert theirs[AUTHOR]["id"] == BOB


def test_a_key_is_forgotten_after_its_window(
    service: CommentService, store: FakeCommentStore, clock: Clock
) -> None:
    first = service.create(ALICE, TASK, {BODY: "once"}, idempotency_key="k")
    clock.advance(seconds=IDEMPOTENCY_WINDOW_SECONDS)
    second = service.create(ALICE, TASK, {BODY: "twice"}, idempotency_key="k")
    assert second[ID] != first[ID]
    assert len(store.comments) == 2


def test_a_key_on_a_missing_task_is_404_and_remembers_nothing(
    service: CommentService, store: FakeCommentStore
) -> None:
    with pytest.raises(NotFound) as missing:
        service.create(ALICE, "none", {BODY: "b"}, idempotency_key="k")
    assert "task" in missing.value.detail
    assert store.keys == {}


# Read


def test_get_returns_the_comment_in_one_call(
    service: CommentService, store: FakeCommentStore, made: Callable[..., Comment]
) -> None:
    comment = made()
    assert service.get(ALICE, TASK, comment[ID]) == comment
    assert store.calls == ["get"]


def test_get_tells_a_missing_comment_from_a_missing_task(
    service: CommentService, store: FakeCommentStore, made: Callable[..., Comment]
) -> None:
    comment = made()
    with pytest.raises(NotFound) as missing:
        service.get(ALICE, TASK, "none")
    assert missing.value.detail == "No comment with id 'none'."
    for owner, task in [(ALICE, "none"), (BOB, TASK)]:
        with pytest.raises(NotFound) as missing:
            service.get(owner, task, comment[ID])
        assert missing.value.detail == f"No task with id '{task}'."


def test_a_comment_of_an_expired_task_is_gone(
    service: CommentService, store: FakeCommentStore, clock: Clock, made: Callable[..., Comment]
) -> None:
    store.tasks[ALICE, TASK] = clock.epoch + 10
    comment = made()
    clock.advance(seconds=10)
    with pytest.raises(NotFound) as missing:
        service.get(ALICE, TASK, comment[ID])
    assert task_not_found(missing)


def test_both_path_ids_are_checked_at_once_without_a_store_call(
    service: CommentService, store: FakeCommentStore
) -> None:
    with pytest.raises(ValidationFailed) as invalid:
        service.get(ALICE, "-bad", "bad id")
    assert [e.parameter for e in errors(invalid)] == [TASK_ID_PARAMETER, COMMENT_ID_PARAMETER]
    assert store.calls == []


# Patch


def test_patch_with_one_etag_is_one_conditional_write(
    service: CommentService, store: FakeCommentStore, clock: Clock, made: Callable[..., Comment]
) -> None:
    comment = made()
    clock.advance(seconds=5)
    changed = service.patch(ALICE, TASK, comment[ID], {BODY: "edited"}, current(comment))
    assert changed == {
        **comment,
        BODY: "edited",
        UPDATED_AT: stamp(clock),
        VERSION: 2,
    }
    assert store.calls == ["replace"]
    assert store.comments[ALICE, TASK, comment[ID]] == changed


def test_patch_with_a_stale_etag_is_412_and_changes_nothing(
    service: CommentService, store: FakeCommentStore, made: Callable[..., Comment]
) -> None:
    comment = made()
    service.patch(ALICE, TASK, comment[ID], {BODY: "v2"})
    store.calls.clear()
    with pytest.raises(PreconditionFailed):
        service.patch(ALICE, TASK, comment[ID], {BODY: "v3"}, current(comment))
    assert store.calls == ["replace"]
    assert store.comments[ALICE, TASK, comment[ID]][BODY] == "v2"


def test_patch_without_if_match_reads_then_writes_that_version(
    service: CommentService, store: FakeCommentStore, made: Callable[..., Comment]
) -> None:
    comment = made()
    changed = service.patch(ALICE, TASK, comment[ID], {BODY: "edited"})
    assert (changed[BODY], changed[VERSION], changed[CREATED_AT]) == (
        "edited",
        2,
        comment[CREATED_AT],
    )
    assert store.calls == ["get", "replace"]


def test_patch_without_if_match_reads_again_when_another_write_came_first(
    service: CommentService, store: FakeCommentStore, made: Callable[..., Comment]
) -> None:
    comment = made()
    other = CommentService(store)

    def another_edit_once() -> None:
        store.before_write = lambda: None
        other.patch(ALICE, TASK, comment[ID], {BODY: "theirs"}, current(comment))

    store.before_write = another_edit_once
    changed = service.patch(ALICE, TASK, comment[ID], {BODY: "mine"})
    assert (changed[BODY], changed[VERSION]) == ("mine", 3)
    assert store.comments[ALICE, TASK, comment[ID]] == changed


def test_patch_gives_up_when_other_writes_keep_coming_first(
    service: CommentService, store: FakeCommentStore, made: Callable[..., Comment]
) -> None:
    comment = made()

    def another_edit() -> None:
        latest = store.comments[ALICE, TASK, comment[ID]]
        store.comments[ALICE, TASK, comment[ID]] = {**latest, VERSION: latest[VERSION] + 1}

    store.before_write = another_edit
    with pytest.raises(StoreUnavailable):
        service.patch(ALICE, TASK, comment[ID], {BODY: "mine"})
    assert store.calls == ["get", "replace"] * MAX_PATCH_ATTEMPTS


@pytest.mark.parametrize("if_match", ["any", "several"])
def test_patch_with_star_or_several_etags_checks_them_against_the_comment_read(
    service: CommentService, store: FakeCommentStore, made: Callable[..., Comment], if_match: str
) -> None:
    comment = made()
    match: Match = ANY if if_match == "any" else (*stale(comment), *current(comment))
    assert service.patch(ALICE, TASK, comment[ID], {BODY: "e"}, match)[VERSION] == 2
    assert store.calls == ["get", "replace"]
    if if_match == "several":
        with pytest.raises(PreconditionFailed):
            service.patch(ALICE, TASK, comment[ID], {BODY: "f"}, match)


def test_an_empty_patch_changes_nothing_and_keeps_the_version(
    service: CommentService, store: FakeCommentStore, made: Callable[..., Comment]
) -> None:
    comment = made()
    assert service.patch(ALICE, TASK, comment[ID], {VERSION: 9}) == comment
    assert store.calls == ["get"]
    with pytest.raises(PreconditionFailed):
        service.patch(ALICE, TASK, comment[ID], {}, stale(comment))


def test_a_patch_cannot_clear_the_body(
    service: CommentService, store: FakeCommentStore, made: Callable[..., Comment]
) -> None:
    comment = made()
    with pytest.raises(ValidationFailed) as invalid:
        service.patch(ALICE, TASK, comment[ID], {BODY: None})
    assert errors(invalid) == [FieldError(pointer=f"/{BODY}", detail="must be a string")]
    assert store.calls == []


def test_patch_reports_the_ids_and_the_body_at_once(
    service: CommentService, store: FakeCommentStore
) -> None:
    with pytest.raises(ValidationFailed) as invalid:
        service.patch(ALICE, "-t", "-c", {BODY: "", "x": 1})
    assert [(e.parameter or e.pointer) for e in errors(invalid)] == [
        TASK_ID_PARAMETER,
        COMMENT_ID_PARAMETER,
        f"/{BODY}",
        "/x",
    ]
    assert store.calls == []


@pytest.mark.parametrize("with_etag", [True, False])
def test_patch_tells_a_missing_comment_from_a_missing_task(
    service: CommentService, store: FakeCommentStore, made: Callable[..., Comment], with_etag: bool
) -> None:
    comment = made()
    match = current(comment) if with_etag else None
    with pytest.raises(NotFound) as missing:
        service.patch(ALICE, TASK, "none", {BODY: "e"}, match)
    assert missing.value.detail == "No comment with id 'none'."
    with pytest.raises(NotFound) as missing:
        service.patch(BOB, TASK, comment[ID], {BODY: "e"}, match)
    assert task_not_found(missing)
    assert store.comments[ALICE, TASK, comment[ID]] == comment


# Delete


def test_delete_is_one_call_and_a_second_one_is_404(
    service: CommentService, store: FakeCommentStore, made: Callable[..., Comment]
) -> None:
    comment = made()
    service.delete(ALICE, TASK, comment[ID])
    assert store.comments == {}
    with pytest.raises(NotFound) as missing:
        service.delete(ALICE, TASK, comment[ID])
    assert missing.value.detail == f"No comment with id '{comment[ID]}'."
    assert store.calls == ["delete", "delete"]


def test_delete_with_if_match(
    service: CommentService, store: FakeCommentStore, made: Callable[..., Comment]
) -> None:
    comment = made()
    with pytest.raises(PreconditionFailed):
        service.delete(ALICE, TASK, comment[ID], stale(comment))
    assert (ALICE, TASK, comment[ID]) in store.comments
    service.delete(ALICE, TASK, comment[ID], current(comment))
    assert store.comments == {}


def test_delete_on_a_missing_task_is_404_for_the_task_even_without_the_comment(
    service: CommentService,
) -> None:
    with pytest.raises(NotFound) as missing:
        service.delete(ALICE, "none", "none")
    assert missing.value.detail == "No task with id 'none'."


# List


def test_the_list_is_oldest_first_a_page_at_a_time(
    service: CommentService, store: FakeCommentStore, clock: Clock
) -> None:
    created = [service.create(ALICE, TASK, {BODY: f"c{i}"})[ID] for i in range(5)]
    store.calls.clear()
    shown: list[str] = []
    cursor: str | None = None
    for _ in range(3):
        params: dict[str, str | list[str]] = {LIMIT: "2", **({CURSOR: cursor} if cursor else {})}
        page = service.list(ALICE, TASK, params)
        shown += [comment[ID] for comment in page.items]
        cursor = page.next_cursor
    assert shown == created
    assert cursor is None
    assert store.calls == ["list_page"] * 3


def test_the_list_is_the_owners_and_the_tasks_only(
    service: CommentService, store: FakeCommentStore
) -> None:
    store.tasks[ALICE, "other"] = None
    service.create(ALICE, "other", {BODY: "elsewhere"})
    assert service.list(ALICE, TASK, {}).items == []
    with pytest.raises(NotFound) as missing:
        service.list(BOB, TASK, {})
    assert task_not_found(missing)


def test_the_list_takes_the_default_page_size(
    service: CommentService, store: FakeCommentStore
) -> None:
    for i in range(LIST_PARAMETERS[LIMIT]["default"] + 1):
        service.create(ALICE, TASK, {BODY: f"c{i}"})
    page = service.list(ALICE, TASK, {})
    assert len(page.items) == LIST_PARAMETERS[LIMIT]["default"]
    assert page.next_cursor is not None


def test_the_list_reports_its_parameters_and_the_task_id_at_once(
    service: CommentService, store: FakeCommentStore
) -> None:
    with pytest.raises(ValidationFailed) as invalid:
        service.list(ALICE, "-bad", {LIMIT: "0", "sort": "new"})
    assert [e.parameter for e in errors(invalid)] == [TASK_ID_PARAMETER, LIMIT, "sort"]
    assert store.calls == []
