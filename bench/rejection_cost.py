"""What rejecting the worst request bodies costs, against a normal create.

Why: a body the API rejects must cost time linear in its size. jsonschema's
``uniqueItems`` is quadratic for items it cannot sort, so ``{"title":"x","tags":[0,1,...,
6999,"x"]}`` (41 KB) once kept a core busy for 23 s before its 400; in Lambda, a few such
requests a second would take every reserved instance. Each body below is as bad as we can
build within the body limit (``chalicelib.core.http.MAX_BODY_BYTES``), sent as POST, PUT and
PATCH (``application/merge-patch+json``) through ``chalice.test.Client`` on the ``dev``
stage, each right after a normal create, in the same process. Each rejection is timed as a
ratio to the create just before it, and a case's figure is the median of those paired
ratios: a slow or busy stretch of the machine slows both alike, so the budget does not move
with the machine's speed. Every rejection must be a 4xx problem document of a few KB.

    .venv/bin/python -m bench.rejection_cost [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import signal
import statistics
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

from bench import operations
from bench.cold_start import median_paired_ratio
from chalicelib.core.http import MAX_BODY_BYTES, PROBLEM_JSON
from chalicelib.table import create_table
from tools import dynamodb_local

#: Every hostile body is sent with each method; PUT and PATCH name one task id.
TARGET = "/tasks/bench-hostile"
METHODS = (
    ("POST", "/tasks", "application/json"),
    ("PUT", TARGET, "application/json"),
    ("PATCH", TARGET, operations.MERGE_PATCH),
)
#: A problem document stays "a few KB" whatever the body: 50 errors of about 60 bytes.
MAX_PROBLEM_BYTES = 8 * 1024
#: The budget: the slowest case's median paired ratio (rejection / the create just before
#: it) at most this. Rejecting costs time linear in the body's size; the quadratic
#: ``uniqueItems`` took thousands of times a create.
MAX_RATIO = 20.0
#: A rejection still running after this long is stopped and counted at this figure, so
#: that a run on code without the fix takes minutes, not hours...
CUTOFF_SECONDS = 5.0
#: ...or after this many times the budget against the create just before it, if that is
#: longer: a stopped request is then over budget on any machine, so the cut-off is never a
#: timed gate of its own.
CUTOFF_BUDGETS = 2.0


class _Stopped(BaseException):
    """Raised in the request by the cut-off timer; a BaseException, so no handler in
    the app turns it into a response."""


@contextlib.contextmanager
def _cutoff(seconds: float) -> Iterator[None]:
    """Stop the code inside after ``seconds`` (a timer signal: main thread, POSIX)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(*_: Any) -> None:
        raise _Stopped

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _filled(prefix: str, items: Iterable[str], suffix: str, limit: int) -> bytes:
    """``prefix`` + as many comma-separated ``items`` as fit in ``limit`` bytes + ``suffix``
    (every piece is ASCII, so characters are bytes)."""
    parts: list[str] = []
    size = len(prefix) + len(suffix)
    for item in items:
        cost = len(item) + (1 if parts else 0)
        if size + cost > limit:
            break
        parts.append(item)
        size += cost
    return (prefix + ",".join(parts) + suffix).encode()


def _nested(prefix: str, opening: str, closing: str, suffix: str, limit: int) -> bytes:
    """``prefix`` + ``opening`` * n + ``closing`` * n + ``suffix``, as deep as fits."""
    depth = (limit - len(prefix) - len(suffix)) // (len(opening) + len(closing))
    return (prefix + opening * depth + closing * depth + suffix).encode()


def _every_json_type(i: int) -> str:
    return (str(i), f'"{i}"', f"[{i}]", f'{{"k":{i}}}', "true", "null", f"{i}.5")[i % 7]


def hostile_bodies(limit: int = MAX_BODY_BYTES) -> dict[str, bytes]:
    """The worst bodies we can build within ``limit`` bytes, by name."""
    count = itertools.count()
    tags = '{"title":"x","tags":['
    share = limit // 8  # long strings in every field: each field's share of the body
    every_field = {
        "title": "t" * share,
        "description": "d" * share,
        "status": "s" * share,
        "priority": "p" * share,
        "dueDate": "2025-01-01T00:00:00" + "0" * share,
        "tags": ["g" * share],
        "u" * 8: "u" * share,
    }
    bodies = {
        "tags: integers, then one string": _filled(tags, map(str, count), ',"x"]}', limit),
        "tags: strings and numbers alternating": _filled(
            tags, (str(i) if i % 2 else f'"{i}"' for i in itertools.count()), "]}", limit
        ),
        "tags: arrays": _filled(tags, (f"[{i}]" for i in itertools.count()), "]}", limit),
        "tags: objects": _filled(tags, (f'{{"k":{i}}}' for i in itertools.count()), "]}", limit),
        "tags: every JSON type": _filled(
            tags, map(_every_json_type, itertools.count()), "]}", limit
        ),
        "tags: many duplicates": _filled(
            tags, itertools.cycle(('"x"', "0", "[]", "{}", "[0]", '{"k":0}')), "]}", limit
        ),
        "tags: extreme finite numbers": _filled(
            tags,
            itertools.cycle(("1e308", "-1e308", "4102444800.0", "-0.0", "1" + "0" * 300)),
            "]}",
            limit,
        ),
        "tags: 1e400 repeated": _filled(tags, itertools.repeat("1e400"), "]}", limit),
        "unknown keys": _filled(
            '{"title":"x",', (f'"k{i}":0' for i in itertools.count()), "}", limit
        ),
        "unknown keys of 1,000 characters": _filled(
            '{"title":"x",', (f'"{i:06d}{"k" * 994}":0' for i in itertools.count()), "}", limit
        ),
        "one unknown key filling the body": _nested('{"title":"x","', "k", "", '":0}', limit),
        "deep objects": _nested('{"title":"x","a":', '{"a":', "}", "}", limit),
        "deep arrays in tags": _nested(tags[:-1], "[", "]", "}", limit),
        "arrays 500 deep in tags": ('{"title":"x","tags":' + "[" * 500 + "]" * 500 + "}").encode(),
        "long strings in every field": json.dumps(every_field, separators=(",", ":")).encode(),
        "title of whitespace": _nested('{"title":"', " ", "", '"}', limit),
        "title of escaped characters": _nested('{"title":"', "\\u00e9", "", '"}', limit),
        "expireAt: 1e400": b'{"title":"x","expireAt":1e400}',
        "expireAt: -1e400": b'{"title":"x","expireAt":-1e400}',
        "expireAt: 1e308": b'{"title":"x","expireAt":1e308}',
        "expireAt: -0.0": b'{"title":"x","expireAt":-0.0}',
        "expireAt: 10**4000 as digits": b'{"title":"x","expireAt":1' + b"0" * 4000 + b"}",
        "expireAt: an integer filling the body": _nested(
            '{"title":"x","expireAt":1', "0", "", "}", limit
        ),
        "expireAt: a decimal filling the body": _nested(
            '{"title":"x","expireAt":1', "0", "", ".5}", limit
        ),
    }
    oversized = [name for name, body in bodies.items() if len(body) > limit]
    if oversized:
        raise AssertionError(f"bodies over {limit} bytes: {oversized}")
    return bodies


def _is_problem(call: operations.Call) -> bool:
    content_type = next((v for k, v in call.headers.items() if k.lower() == "content-type"), "")
    return (
        400 <= call.status < 500
        and content_type == PROBLEM_JSON
        and isinstance(call.body, dict)
        and call.body.get("status") == call.status
    )


def cutoff_seconds(create_ms: float) -> float:
    """How long a rejection may run after a create of ``create_ms``: long enough that a
    stopped request is ``CUTOFF_BUDGETS`` times over the budget against that create."""
    return max(CUTOFF_SECONDS, CUTOFF_BUDGETS * MAX_RATIO * create_ms / 1000)


def measure(bench: operations.Bench, rounds: int) -> dict[str, Any]:
    """Each hostile body with each method ``rounds`` times, each right after a normal
    create; per case the median of its paired ratios (rejection / that create), the
    slowest case by that ratio, and the largest problem."""
    started = time.perf_counter()
    bodies = hostile_bodies()
    cases = [(method, name) for name in bodies for method, _, _ in METHODS]
    routes = {method: (path, content_type) for method, path, content_type in METHODS}
    numbers = itertools.count()

    def create() -> float:
        call = bench.call("POST", "/tasks", operations.WRITER, operations.task_body(next(numbers)))
        if call.status != 201:
            raise AssertionError(f"a normal create failed: {call.status} {call.body}")
        return call.milliseconds

    def send(method: str, name: str, seconds: float) -> operations.Call | None:
        path, content_type = routes[method]
        try:
            with _cutoff(seconds):
                return bench.send(method, path, operations.WRITER, bodies[name], None, content_type)
        except _Stopped:
            return None

    create()  # warm-up: the client, jsonschema's import and the validators, not counted
    for method, _, _ in METHODS:
        send(method, "unknown keys", CUTOFF_SECONDS)
    creates: dict[tuple[str, str], list[float]] = {case: [] for case in cases}
    rejections: dict[tuple[str, str], list[float]] = {case: [] for case in cases}
    answered: dict[tuple[str, str], list[operations.Call]] = {case: [] for case in cases}
    for _ in range(rounds):
        for case in cases:
            if 2 * (len(rejections[case]) - len(answered[case])) > rounds:
                continue  # stopped in most rounds: its median is past the budget already
            create_ms = create()
            seconds = cutoff_seconds(create_ms)
            call = send(*case, seconds)
            creates[case].append(create_ms)
            rejections[case].append(seconds * 1000 if call is None else call.milliseconds)
            if call is not None:
                answered[case].append(call)
    rows = [
        _row(*case, bodies[case[1]], creates[case], rejections[case], answered[case])
        for case in cases
    ]
    every_create = [ms for values in creates.values() for ms in values]
    return {
        "rounds": rounds,
        "cutoff_seconds": CUTOFF_SECONDS,
        "cutoff_budgets": CUTOFF_BUDGETS,
        "body_limit": MAX_BODY_BYTES,
        "create_ms": round(statistics.median(every_create), 2),
        "creates": len(every_create),
        "cases": rows,
        "rejected": sum(r["rejected"] for r in rows),
        "slowest": max(rows, key=lambda r: r["ratio"]),
        "largest_problem": max(rows, key=lambda r: r["problem_bytes"]),
        "seconds": round(time.perf_counter() - started, 1),
    }


def _row(
    method: str,
    name: str,
    body: bytes,
    creates: list[float],
    rejections: list[float],
    answered: list[operations.Call],
) -> dict[str, Any]:
    """One case: ``rejections[i]`` was sent right after ``creates[i]``; a stopped one is
    counted at its cut-off, and the case is stopped when most of its requests were."""
    stops = len(rejections) - len(answered)
    return {
        "method": method,
        "body": name,
        "body_bytes": len(body),
        "status": answered[-1].status if answered else None,
        "rejected": bool(answered) and all(_is_problem(call) for call in answered),
        "stopped": 2 * stops > len(rejections),
        "stops": stops,
        "problem_bytes": max((len(call.raw) for call in answered), default=0),
        "median_ms": round(statistics.median(rejections), 2),
        "ratio": round(median_paired_ratio(rejections, creates), 2),
        "runs": len(rejections),
    }


def measure_on_fresh_engine(rounds: int) -> dict[str, Any]:
    """``measure`` on a fresh in-memory DynamoDB Local (for running this file alone)."""
    with dynamodb_local.running() as server:
        create_table(server.client(), operations.stage_table())
        with operations.app_on(server.endpoint_url) as bench:
            return measure(bench, rounds)


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| Body | Bytes | POST | PUT | PATCH | Largest problem (bytes) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    by_body: dict[str, dict[str, dict[str, Any]]] = {}
    for row in result["cases"]:
        by_body.setdefault(row["body"], {})[row["method"]] = row
    for name, methods in by_body.items():
        cells = [_cell(methods[m]) if m in methods else "—" for m, _, _ in METHODS]
        size = next(iter(methods.values()))["body_bytes"]
        largest = max(r["problem_bytes"] for r in methods.values())
        lines.append(f"| {name} | {size:,} | " + " | ".join(cells) + f" | {largest:,} |")
    return "\n".join(lines)


def _cell(row: dict[str, Any]) -> str:
    """ "400, 3.1 ms (0.6x)": the status, the median time and the median paired ratio; a
    stopped or wrongly answered request in bold."""
    if row["stopped"]:
        return f"**stopped at {row['median_ms'] / 1000:g} s ({row['ratio']:g}x)**"
    text = f"{row['status']}, {row['median_ms']:g} ms ({row['ratio']:g}x)"
    return text if row["rejected"] else f"**{text}**"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rejection_cost", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="requests per body and method")
    result = measure_on_fresh_engine(parser.parse_args(argv).rounds)
    print(markdown(result))
    slowest = result["slowest"]
    print(
        f"\nnormal create: {result['create_ms']:g} ms (median of {result['creates']}); "
        f"slowest rejection: {slowest['method']} {slowest['body']}, {slowest['median_ms']:g} ms, "
        f"{slowest['ratio']:g}x the create before it (median of paired ratios; budget "
        f"{MAX_RATIO:g}x); largest problem: {result['largest_problem']['problem_bytes']:,}"
        f" bytes; rejected as problems: {result['rejected']} of {len(result['cases'])}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
