"""The per-request figures: own time is each request's time minus its DynamoDB calls', at p50."""

from __future__ import annotations

from bench import overhead


def test_own_time_is_the_p50_of_each_request_less_its_dynamodb_time() -> None:
    samples = {
        "get": {
            "ours": [3.0, 4.0, 5.0],
            "typical": [2.0, 2.5, 9.0],
            "ours_own": [0.5, 0.6, 2.0],
            "typical_own": [0.1, 0.2, 0.3],
        }
    }
    (figures,) = overhead.summarise(samples).values()
    assert figures == {
        "p50_ms": 4.0,
        "typical_p50_ms": 2.5,
        "over_typical_ms": 1.5,
        "own_ms": 0.6,
        "typical_own_ms": 0.2,
        "runs": 3,
    }


class _Events:
    def __init__(self) -> None:
        self.handlers: dict[str, object] = {}

    def register(self, name: str, handler: object) -> None:
        self.handlers[name] = handler


class _Client:
    def __init__(self) -> None:
        self.meta = type("Meta", (), {"events": _Events()})()


def test_round_trips_add_up_each_call_from_its_first_event_to_its_last() -> None:
    client = _Client()
    trips = overhead._RoundTrips(client)
    handlers = client.meta.events.handlers
    assert set(handlers) == {"provide-client-params.dynamodb.*", "after-call.dynamodb.*"}
    for _ in range(2):
        handlers["provide-client-params.dynamodb.*"]()
        handlers["after-call.dynamodb.*"]()
    spent = trips.take()
    assert 0 < spent < 50
    assert trips.take() == 0.0
