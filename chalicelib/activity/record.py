"""An activity event as a type: the fields of ``chalicelib.activity.schema`` (checked against
it by a test). No ``from __future__ import annotations``: TypedDict must see ``NotRequired``
to know which keys are optional."""

from typing import Any, NamedTuple, NotRequired, TypedDict


class Actor(TypedDict):
    type: str
    id: NotRequired[str]


class Event(TypedDict):
    """One change of a task, as the history and the feed return it."""

    id: str
    taskId: str
    type: str
    at: str
    actor: Actor
    version: NotRequired[int]
    changes: NotRequired[dict[str, dict[str, Any]]]
    commentId: NotRequired[str]


class Entry(NamedTuple):
    """An event as the stream consumer writes it: where it sorts in the history and the feed
    (``order``, the order the table changed in), and when its retention starts (epoch
    seconds)."""

    event: Event
    order: str
    at_epoch: int
