"""What a million requests cost at each memory size, from measured figures.

Pure functions over ``bench.pricing``: a request's billed duration, its memory size and
architecture, and the DynamoDB capacity it consumed give its cost, in the pieces an AWS bill
shows. Cold starts are amortised over the requests. The benchmark measures the figures
(durations per memory size, capacity with ``bench.meter``); this module only prices them, so
its tests can check every dollar by hand.

    .venv/bin/python -m bench.cost sizes.json [--architecture arm64] [--target-p99 50]

``sizes.json``: a list of ``AtSize.from_dict`` dicts, or ``{"sizes": [...]}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, NamedTuple

from bench import pricing
from bench.pricing import Architecture

#: The unit every figure here is per.
REQUESTS = 1_000_000

#: Share of requests that start a new execution environment. AWS's analysis of production
#: workloads: "INITs (cold starts) typically occur in under 1% of invocations"
#: (``pricing.INIT_BILLING_SOURCE``). 1% is that bound, not a measurement: a stage with
#: little traffic (dev) cold-starts far more often, but then its bill is cents anyway.
COLD_START_RATE = 0.01

#: A day of a task list's use, as shares of requests: mostly reading. A client opens the
#: list (a page), then reads tasks one at a time (get: the detail view, and the read before
#: an edit, which needs the ETag), far more often than it changes them; most changes are
#: status updates (patch), then new tasks (create); deletes are rarest, since finished tasks
#: are usually kept. Replace, filters and idempotent creates are left out: their costs are
#: close to patch's, the list page's and create's (BENCHMARKS.md has each).
TYPICAL_MIX: Mapping[str, float] = {
    "get": 0.60,
    "list page": 0.15,
    "create": 0.10,
    "patch": 0.10,
    "delete": 0.05,
}


@dataclass(frozen=True)
class Breakdown:
    """Dollars per million requests, in the pieces of the bill."""

    lambda_requests: float
    lambda_duration: float
    cold_starts: float
    api_gateway: float
    dynamodb_reads: float
    dynamodb_writes: float

    @property
    def total(self) -> float:
        return float(sum(getattr(self, piece) for piece in PIECES))

    def __add__(self, other: Breakdown) -> Breakdown:
        return Breakdown(**{p: getattr(self, p) + getattr(other, p) for p in PIECES})

    def __mul__(self, weight: float) -> Breakdown:
        return Breakdown(**{p: getattr(self, p) * weight for p in PIECES})


#: Each piece of a ``Breakdown``, with its name in the tables.
PIECES: Mapping[str, str] = {
    "lambda_requests": "Lambda requests",
    "lambda_duration": "Lambda duration",
    "cold_starts": "Cold starts",
    "api_gateway": "API Gateway",
    "dynamodb_reads": "DynamoDB reads",
    "dynamodb_writes": "DynamoDB writes",
}


def _duration_cost(ms: float, memory_mb: int, architecture: Architecture) -> float:
    """Dollars for one request billed ``ms`` (already rounded) at ``memory_mb``."""
    rate = pricing.LAMBDA_GB_SECOND[architecture].usd
    return ms / 1000 * pricing.gigabytes(memory_mb) * rate


def cost_per_million(
    duration_ms: float,
    memory_mb: int,
    architecture: Architecture,
    read_units: float,
    write_units: float,
    *,
    init_ms: float = 0.0,
    first_request_ms: float | None = None,
    cold_start_rate: float = COLD_START_RATE,
    init_billed: bool = pricing.INIT_BILLED,
) -> Breakdown:
    """One operation's cost per million requests.

    ``duration_ms``: a warm request's duration, as measured (Lambda rounds it up to 1 ms).
    ``read_units``, ``write_units``: DynamoDB request units per request.
    A cold request is billed once, for its init (when billed) and its first request
    together, rounded up once; the cold-start piece is what that adds over a warm request,
    times ``cold_start_rate``. ``first_request_ms`` is measured on one operation, so no
    operation's first request is taken as faster than its warm one.
    """
    if not 0 <= cold_start_rate <= 1:
        raise ValueError(f"cold_start_rate is a share of requests: {cold_start_rate}")
    warm_ms = pricing.billed_ms(duration_ms)
    first = max(duration_ms, first_request_ms or 0.0)
    cold_ms = pricing.billed_ms((init_ms if init_billed else 0.0) + first)
    return Breakdown(
        lambda_requests=pricing.LAMBDA_REQUESTS.usd,
        lambda_duration=REQUESTS * _duration_cost(warm_ms, memory_mb, architecture),
        cold_starts=REQUESTS
        * cold_start_rate
        * _duration_cost(cold_ms - warm_ms, memory_mb, architecture),
        api_gateway=pricing.API_GATEWAY_REST_REQUESTS.usd,
        dynamodb_reads=read_units * pricing.DYNAMODB_READ_REQUEST_UNITS.usd,
        dynamodb_writes=write_units * pricing.DYNAMODB_WRITE_REQUEST_UNITS.usd,
    )


@dataclass(frozen=True)
class Measured:
    """One operation at one memory size, as the benchmark measured it."""

    p50_ms: float
    p99_ms: float
    read_units: float
    write_units: float


@dataclass(frozen=True)
class AtSize:
    """Everything measured at one memory size."""

    memory_mb: int
    init_ms: float
    first_request_ms: float
    operations: Mapping[str, Measured]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AtSize:
        """From the suite's shape: ``{"memory_mb", "init_ms", "first_request_ms",
        "operations": {name: {"latency_ms": {"p50", "p99"}, "read_units", "write_units"}}}``.
        """
        return cls(
            memory_mb=int(data["memory_mb"]),
            init_ms=float(data["init_ms"]),
            first_request_ms=float(data["first_request_ms"]),
            operations={
                name: Measured(
                    p50_ms=float(op["latency_ms"]["p50"]),
                    p99_ms=float(op["latency_ms"]["p99"]),
                    read_units=float(op["read_units"]),
                    write_units=float(op["write_units"]),
                )
                for name, op in data["operations"].items()
            },
        )

    @classmethod
    def from_memory_row(cls, row: Mapping[str, Any], init_mode: str = "burst") -> AtSize:
        """From one size of ``bench.memory``: the cold start of ``init_mode`` (``burst``,
        init at full CPU, as AWS's guide describes on-demand init; ``quota``, the bound)."""
        cold = row["cold_start"][init_mode]
        return cls.from_dict(
            {
                "memory_mb": row["memory_mb"],
                "init_ms": cold["app_import_ms"],
                "first_request_ms": cold["app_first_request_ms"],
                "operations": {
                    name: {
                        "latency_ms": {"p50": op["p50_ms"], "p99": op["p99_ms"]},
                        "read_units": op["read_units"],
                        "write_units": op["write_units"],
                    }
                    for name, op in row["operations"].items()
                },
            }
        )

    def measured(self, name: str) -> Measured:
        try:
            return self.operations[name]
        except KeyError:
            raise KeyError(f"{name!r} was not measured at {self.memory_mb} MB") from None


def operation_cost(
    size: AtSize,
    name: str,
    architecture: Architecture,
    cold_start_rate: float = COLD_START_RATE,
) -> Breakdown:
    """An operation's cost per million at a size, billed at its p50: the typical request.
    (A mean would be a little higher; in process, on a shared machine, its tail is mostly
    the machine's, not Lambda's.)"""
    m = size.measured(name)
    return cost_per_million(
        m.p50_ms,
        size.memory_mb,
        architecture,
        m.read_units,
        m.write_units,
        init_ms=size.init_ms,
        first_request_ms=size.first_request_ms,
        cold_start_rate=cold_start_rate,
    )


def _check_mix(mix: Mapping[str, float]) -> None:
    if abs(sum(mix.values()) - 1) > 1e-9 or any(share < 0 for share in mix.values()):
        raise ValueError(f"a mix's shares must be positive and add up to 1: {dict(mix)}")


def mix_cost(
    size: AtSize,
    architecture: Architecture,
    mix: Mapping[str, float] = TYPICAL_MIX,
    cold_start_rate: float = COLD_START_RATE,
) -> Breakdown:
    """A million requests of ``mix`` at a size: each operation's cost, weighted by its share."""
    _check_mix(mix)
    total = Breakdown(0, 0, 0, 0, 0, 0)
    for name, share in mix.items():
        total += operation_cost(size, name, architecture, cold_start_rate) * share
    return total


def slowest_p99(size: AtSize, mix: Mapping[str, float] = TYPICAL_MIX) -> tuple[str, float]:
    """The mix's slowest operation at a size, and its p99: what a latency target must hold."""
    name = max(mix, key=lambda n: size.measured(n).p99_ms)
    return name, size.measured(name).p99_ms


class _Row(NamedTuple):
    memory_mb: int
    cost: float
    slowest: str
    p99_ms: float


@dataclass(frozen=True)
class Choice:
    memory_mb: int
    cost: float  # dollars per million requests of the mix
    p99_ms: float
    meets_target: bool
    reason: str


def choose(
    sizes: Sequence[AtSize],
    architecture: Architecture,
    target_p99_ms: float,
    mix: Mapping[str, float] = TYPICAL_MIX,
) -> Choice:
    """The cheapest size whose slowest p99 meets the target (at equal cost, the faster one).
    When none does, the fastest, and the reason says the target was missed."""
    if not sizes:
        raise ValueError("no memory size was measured")
    rows = [
        _Row(s.memory_mb, mix_cost(s, architecture, mix).total, *slowest_p99(s, mix)) for s in sizes
    ]
    meeting = [r for r in rows if r.p99_ms <= target_p99_ms]
    if not meeting:
        best = min(rows, key=lambda r: (r.p99_ms, r.cost))
        reason = (
            f"{best.memory_mb} MB: no size meets p99 <= {target_p99_ms:g} ms; this is the "
            f"fastest ({best.slowest} p99 {best.p99_ms:g} ms), at {dollars(best.cost)} per "
            "million typical requests."
        )
        return Choice(best.memory_mb, best.cost, best.p99_ms, False, reason)
    best = min(meeting, key=lambda r: (r.cost, r.p99_ms, r.memory_mb))
    reason = (
        f"{best.memory_mb} MB: {dollars(best.cost)} per million typical requests, the cheapest "
        f"size whose slowest p99 ({best.slowest}, {best.p99_ms:g} ms) is within "
        f"{target_p99_ms:g} ms."
    )
    cheaper = [r for r in rows if r.cost < best.cost]
    if cheaper:
        c = min(cheaper, key=lambda r: r.cost)
        reason += (
            f" {c.memory_mb} MB costs {dollars(c.cost)} but its {c.slowest} p99 is {c.p99_ms:g} ms."
        )
    return Choice(best.memory_mb, best.cost, best.p99_ms, True, reason)


def dollars(value: float) -> str:
    """Dollars to a tenth of a cent (the pieces differ by orders of magnitude), halves up,
    after dropping float noise below a billionth: $0.1125 shows as $0.113 however summed."""
    cents = Decimal(f"{value:.9f}").quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
    return f"${cents:,}"


def mix_table(
    sizes: Sequence[AtSize],
    architecture: Architecture,
    mix: Mapping[str, float] = TYPICAL_MIX,
) -> str:
    """Markdown: a million typical requests per memory size, piece by piece, with the total
    the other architecture would bill at the same durations (only Lambda duration differs)."""
    other: Architecture = "arm64" if architecture == "x86_64" else "x86_64"
    head = ["Memory", *PIECES.values(), "Total", f"Total on {other}", "Slowest p99"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for size in sizes:
        cost = mix_cost(size, architecture, mix)
        name, p99 = slowest_p99(size, mix)
        cells = [f"{size.memory_mb:,} MB", *(dollars(getattr(cost, p)) for p in PIECES)]
        cells += [f"**{dollars(cost.total)}**", dollars(mix_cost(size, other, mix).total)]
        cells.append(f"{p99:g} ms ({name})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def operations_table(
    sizes: Sequence[AtSize],
    architecture: Architecture,
    names: Sequence[str] = tuple(TYPICAL_MIX),
) -> str:
    """Markdown: each operation's cost per million requests at each memory size."""
    head = ["Operation", *(f"{s.memory_mb:,} MB" for s in sizes)]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * len(sizes)]
    for name in names:
        cells = [dollars(operation_cost(s, name, architecture).total) for s in sizes]
        lines.append("| " + " | ".join([name, *cells]) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", type=Path, help="JSON: the figures measured at each size")
    parser.add_argument("--architecture", choices=pricing.ARCHITECTURES, default="x86_64")
    parser.add_argument("--target-p99", type=float, help="ms: also choose a memory size")
    parser.add_argument(
        "--init", choices=("burst", "quota"), default="burst", help="bench.memory's init mode"
    )
    args = parser.parse_args(argv)
    data = json.loads(args.sizes.read_text())
    data = data.get("memory_sizes", data) if isinstance(data, dict) else data  # results.json
    rows = data["sizes"] if isinstance(data, dict) else data
    sizes = [
        AtSize.from_memory_row(r, args.init) if "cold_start" in r else AtSize.from_dict(r)
        for r in rows
    ]
    architecture: Architecture = args.architecture
    print(mix_table(sizes, architecture), end="\n\n")
    print(operations_table(sizes, architecture))
    if args.target_p99 is not None:
        print("\n" + choose(sizes, architecture, args.target_p99).reason)
    return 0


if __name__ == "__main__":
    sys.exit(main())
