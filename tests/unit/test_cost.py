"""Cost per million requests (bench.cost over bench.pricing): every figure here is worked
out by hand in the comments, from the prices in bench/pricing.py (us-east-1):
Lambda $0.20 per million requests, $0.0000166667 per GB-s on x86_64 and $0.0000133334 on
arm64; API Gateway REST $3.50 per million; DynamoDB on-demand $0.125 per million read
request units and $0.625 per million write request units."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from bench import cost, pricing, suite
from bench.cost import AtSize, Measured


def _approx(value: float) -> Any:
    return pytest.approx(value, rel=1e-12, abs=1e-12)


def test_prices_are_the_ones_worked_out_below() -> None:
    # If a price changes, the hand-worked figures below change with it: update both.
    assert pricing.REGION == "us-east-1"
    assert pricing.LAMBDA_REQUESTS.usd == 0.20
    assert pricing.LAMBDA_GB_SECOND["x86_64"].usd == 0.0000166667
    assert pricing.LAMBDA_GB_SECOND["arm64"].usd == 0.0000133334
    assert pricing.API_GATEWAY_REST_REQUESTS.usd == 3.50
    assert pricing.DYNAMODB_READ_REQUEST_UNITS.usd == 0.125
    assert pricing.DYNAMODB_WRITE_REQUEST_UNITS.usd == 0.625


def test_every_price_says_where_and_when_it_was_read() -> None:
    prices = [
        pricing.LAMBDA_REQUESTS,
        *pricing.LAMBDA_GB_SECOND.values(),
        pricing.API_GATEWAY_REST_REQUESTS,
        pricing.DYNAMODB_READ_REQUEST_UNITS,
        pricing.DYNAMODB_WRITE_REQUEST_UNITS,
    ]
    for price in prices:
        assert price.source.startswith("https://"), price
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", price.read_on), price
        assert price.usd > 0, price
        assert price.unit.startswith("per "), price
    assert set(pricing.LAMBDA_GB_SECOND) == set(pricing.ARCHITECTURES)
    assert pricing.INIT_BILLING_SOURCE.startswith("https://aws.amazon.com/blogs/compute/")


@pytest.mark.parametrize(
    ("measured", "billed"),
    [
        (0.0, 0),
        (0.3, 1),  # any part of a millisecond is a whole one
        (9.2, 10),
        (10.0, 10),
        (10.01, 11),
        (0.1 + 0.2 + 9.7, 10),  # 10.000000000000002 in floats: no extra millisecond
        (5030.4, 5031),
    ],
)
def test_lambda_bills_duration_rounded_up_to_the_millisecond(measured: float, billed: int) -> None:
    assert pricing.billed_ms(measured) == billed


def test_a_negative_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        pricing.billed_ms(-1)


def test_memory_is_priced_per_gb_of_1024_mb() -> None:
    assert pricing.gigabytes(128) == 0.125
    assert pricing.gigabytes(1769) == 1769 / 1024


def test_128_mb_10_ms_one_read_unit() -> None:
    # Per million requests, warm (no cold starts):
    #   Lambda requests: $0.20
    #   Lambda duration: 1,000,000 x 0.010 s x 128/1024 GB = 1,250 GB-s
    #                    x $0.0000166667 = $0.020833375
    #   API Gateway: $3.50
    #   DynamoDB reads: 1 RRU x $0.125 = $0.125; writes: $0
    #   Total: 0.20 + 0.020833375 + 3.50 + 0.125 = $3.845833375
    got = cost.cost_per_million(10, 128, "x86_64", 1, 0, cold_start_rate=0)
    assert got == cost.Breakdown(
        lambda_requests=0.20,
        lambda_duration=_approx(0.020833375),
        cold_starts=0,
        api_gateway=3.50,
        dynamodb_reads=0.125,
        dynamodb_writes=0,
    )
    assert got.total == _approx(3.845833375)


def test_duration_is_billed_after_rounding_up() -> None:
    # 9.2 ms is billed as 10 ms: the same $0.020833375 as above; 10.01 ms as 11 ms:
    # 1,000,000 x 0.011 s x 0.125 GB = 1,375 GB-s x $0.0000166667 = $0.0229167125.

    def at(ms: float) -> cost.Breakdown:
        return cost.cost_per_million(ms, 128, "x86_64", 1, 0, cold_start_rate=0)

    assert at(9.2).lambda_duration == _approx(0.020833375)
    assert at(10.0).lambda_duration == at(9.2).lambda_duration
    assert at(10.01).lambda_duration == _approx(0.0229167125)


def test_arm64_costs_less_per_gb_second_and_nothing_else() -> None:
    # Same 1,250 GB-s on arm64: 1,250 x $0.0000133334 = $0.01666675, which is
    # $0.004166625 less than x86_64's $0.020833375 (1,250 x $0.0000033333). Requests, API
    # Gateway and DynamoDB are priced the same on both.
    x86 = cost.cost_per_million(10, 128, "x86_64", 1, 3, cold_start_rate=0)
    arm = cost.cost_per_million(10, 128, "arm64", 1, 3, cold_start_rate=0)
    assert arm.lambda_duration == _approx(0.01666675)
    assert x86.total - arm.total == _approx(0.004166625)
    for piece in ("lambda_requests", "api_gateway", "dynamodb_reads", "dynamodb_writes"):
        assert getattr(arm, piece) == getattr(x86, piece)


def test_writes_are_priced_per_write_request_unit() -> None:
    # create: 3 WRU x $0.625 = $1.875; create with Idempotency-Key (a transaction):
    # 16 WRU x $0.625 = $10.
    assert cost.cost_per_million(4, 128, "x86_64", 0, 3).dynamodb_writes == 1.875
    assert cost.cost_per_million(4, 128, "x86_64", 0, 16).dynamodb_writes == 10.0


def test_a_cold_start_bills_init_and_first_request_together_amortised() -> None:
    # 128 MB, warm 10 ms, init 5,000.4 ms, first request 30 ms, 1% of requests cold.
    # A cold request is billed ceil(5,000.4 + 30) = 5,031 ms instead of 10 ms: 5,021 ms more.
    # 10,000 cold requests per million x 5.021 s x 0.125 GB = 6,276.25 GB-s
    #   x $0.0000166667 = $0.104604375875.
    got = cost.cost_per_million(
        10, 128, "x86_64", 1, 0, init_ms=5000.4, first_request_ms=30, cold_start_rate=0.01
    )
    assert got.cold_starts == _approx(0.104604375875)
    assert got.lambda_duration == _approx(0.020833375)  # the warm part is unchanged
    # Before August 2025 the init was not billed: only the slower first request,
    # 30 - 10 = 20 ms: 10,000 x 0.020 s x 0.125 GB = 25 GB-s x $0.0000166667 = $0.0004166675.
    unbilled_init = cost.cost_per_million(
        10, 128, "x86_64", 1, 0, init_ms=5000.4, first_request_ms=30, init_billed=False
    )
    assert unbilled_init.cold_starts == _approx(0.0004166675)
    assert pricing.INIT_BILLED


def test_no_first_request_is_taken_as_faster_than_a_warm_one() -> None:
    # The first request is measured on one operation; a slower operation (20 ms) is not
    # credited for it (10 ms): its cold request is billed 1,000 + 20 ms, 1,000 ms more.
    got = cost.cost_per_million(20, 1024, "x86_64", 0, 0, init_ms=1000, first_request_ms=10)
    # 10,000 x 1 s x 1 GB = 10,000 GB-s x $0.0000166667 = $0.166667
    assert got.cold_starts == _approx(0.166667)


def test_every_piece_of_the_bill_has_a_name_in_the_tables() -> None:
    assert tuple(cost.PIECES) == tuple(f.name for f in dataclasses.fields(cost.Breakdown))


def test_cold_start_rate_is_a_share() -> None:
    with pytest.raises(ValueError, match="share"):
        cost.cost_per_million(10, 128, "x86_64", 1, 0, cold_start_rate=1.5)


def _size(
    memory_mb: int,
    durations: Mapping[str, tuple[float, float]],
    *,
    init_ms: float = 0.0,
    first_request_ms: float = 0.0,
) -> AtSize:
    """Measured figures: each operation's (p50, p99), with this API's capacity (BENCHMARKS.md:
    get 1 RRU, list page 2 RRU, create, patch and delete 3 WRU)."""
    units = {"get": (1, 0), "list page": (2, 0), "create": (0, 3), "patch": (0, 3)}
    units["delete"] = (0, 3)
    return AtSize(
        memory_mb,
        init_ms,
        first_request_ms,
        {n: Measured(p50, p99, *units[n]) for n, (p50, p99) in durations.items()},
    )


#: At 1,024 MB (1 GB): list page 20 ms, the others 10 ms at p50.
EVEN = {"get": (10, 30), "list page": (20, 45), "create": (10, 30), "patch": (10, 30)}
EVEN |= {"delete": (10, 25)}


def test_the_typical_mix() -> None:
    # Shares: get 60%, list page 15%, create 10%, patch 10%, delete 5%.
    # Billed ms, weighted: 0.6x10 + 0.15x20 + 0.1x10 + 0.1x10 + 0.05x10 = 11.5 ms
    #   -> 1,000,000 x 0.0115 s x 1 GB = 11,500 GB-s x $0.0000166667 = $0.19166705
    # Reads: 0.6x1 + 0.15x2 = 0.9 RRU x $0.125 = $0.1125
    # Writes: (0.1 + 0.1 + 0.05) x 3 = 0.75 WRU x $0.625 = $0.46875
    # Total: 0.20 + 0.19166705 + 3.50 + 0.1125 + 0.46875 = $4.47291705
    size = _size(1024, EVEN, first_request_ms=10)
    got = cost.mix_cost(size, "x86_64")
    assert got.lambda_duration == _approx(0.19166705)
    assert got.dynamodb_reads == _approx(0.1125)
    assert got.dynamodb_writes == _approx(0.46875)
    assert got.cold_starts == 0  # no init, and no first request slower than a warm one
    assert got.total == _approx(4.47291705)


def test_the_mix_amortises_cold_starts() -> None:
    # Init 1,000 ms: every operation's cold request is billed 1,000 ms more, so
    # 10,000 x 1 s x 1 GB = 10,000 GB-s x $0.0000166667 = $0.166667, whatever the shares.
    size = _size(1024, EVEN, init_ms=1000, first_request_ms=10)
    assert cost.mix_cost(size, "x86_64").cold_starts == _approx(0.166667)


def test_the_typical_mix_is_made_of_benchmarked_operations() -> None:
    assert sum(cost.TYPICAL_MIX.values()) == pytest.approx(1)
    assert set(cost.TYPICAL_MIX) <= set(suite.ONE_REQUEST)


def test_a_mix_must_add_up_to_one() -> None:
    with pytest.raises(ValueError, match="add up to 1"):
        cost.mix_cost(_size(1024, EVEN), "x86_64", {"get": 0.5})


def test_an_operation_not_measured_is_named() -> None:
    with pytest.raises(KeyError, match="'get' was not measured at 128 MB"):
        cost.mix_cost(_size(128, {"create": (10, 20)}), "x86_64", {"get": 1.0})


#: One operation, get (1 RRU), at four sizes. GB-s per request: 128 MB x 40 ms = 0.005,
#: 256 x 20 = 0.005, 512 x 9 = 0.0045, 1,024 x 5 = 0.005. So 512 MB is the cheapest:
#: 4,500 GB-s per million x $0.0000166667 = $0.07500015, total $3.90000015; the others
#: 5,000 GB-s, $0.0833335, total $3.9083335.
GETS = [
    _size(128, {"get": (40, 200)}, first_request_ms=40),
    _size(256, {"get": (20, 90)}, first_request_ms=20),
    _size(512, {"get": (9, 40)}, first_request_ms=9),
    _size(1024, {"get": (5, 20)}, first_request_ms=5),
]
ONLY_GETS = {"get": 1.0}


def test_the_chooser_picks_the_cheapest_size_within_the_target() -> None:
    choice = cost.choose(GETS, "x86_64", 50, ONLY_GETS)
    assert (choice.memory_mb, choice.meets_target, choice.p99_ms) == (512, True, 40)
    assert choice.cost == _approx(3.90000015)
    assert choice.reason == (
        "512 MB: $3.900 per million typical requests, the cheapest size whose slowest p99 "
        "(get, 40 ms) is within 50 ms."
    )


def test_the_chooser_pays_more_when_the_cheapest_is_too_slow() -> None:
    choice = cost.choose(GETS, "x86_64", 30, ONLY_GETS)
    assert (choice.memory_mb, choice.meets_target) == (1024, True)
    assert choice.reason == (
        "1024 MB: $3.908 per million typical requests, the cheapest size whose slowest p99 "
        "(get, 20 ms) is within 30 ms. 512 MB costs $3.900 but its get p99 is 40 ms."
    )


def test_the_chooser_takes_the_faster_of_equal_costs() -> None:
    # 128, 256 and 1,024 MB all cost $3.9083335; within 250 ms, 1,024 MB is the fastest.
    equal = [s for s in GETS if s.memory_mb != 512]
    assert cost.choose(equal, "x86_64", 250, ONLY_GETS).memory_mb == 1024


def test_the_chooser_says_when_no_size_meets_the_target() -> None:
    choice = cost.choose(GETS, "x86_64", 10, ONLY_GETS)
    assert (choice.memory_mb, choice.meets_target) == (1024, False)
    assert choice.reason.startswith("1024 MB: no size meets p99 <= 10 ms; this is the fastest")


def test_the_chooser_holds_the_slowest_operation_of_the_mix() -> None:
    # Within 40 ms: at 1,024 MB the list page's p99 is 45 ms, so no size of EVEN meets it.
    choice = cost.choose([_size(1024, EVEN)], "x86_64", 40)
    assert not choice.meets_target
    assert "list page p99 45 ms" in choice.reason


def _suite_shaped(size: AtSize) -> dict[str, Any]:
    """The dict the suite writes for a size (latencies under "latency_ms", as in
    bench/results.json)."""
    return {
        "memory_mb": size.memory_mb,
        "init_ms": size.init_ms,
        "first_request_ms": size.first_request_ms,
        "operations": {
            name: {
                "latency_ms": {"p50": m.p50_ms, "p99": m.p99_ms, "runs": 200},
                "read_units": m.read_units,
                "write_units": m.write_units,
                "requests": 1,
            }
            for name, m in size.operations.items()
        },
    }


def test_the_cost_table_renders_from_the_results() -> None:
    size = _size(1024, EVEN, first_request_ms=10)
    assert AtSize.from_dict(_suite_shaped(size)) == size
    table = cost.mix_table([AtSize.from_dict(_suite_shaped(size))], "x86_64").splitlines()
    assert table[0] == (
        "| Memory | Lambda requests | Lambda duration | Cold starts | API Gateway "
        "| DynamoDB reads | DynamoDB writes | Total | Total on arm64 | Slowest p99 |"
    )
    assert table[1] == "|" + "---:|" * 10
    # Worked out in test_the_typical_mix; on arm64 the duration is 11,500 GB-s x
    # $0.0000133334 = $0.153334100, total 4.47291705 - 11,500 x $0.0000033333 = $4.4345841.
    assert table[2] == (
        "| 1,024 MB | $0.200 | $0.192 | $0.000 | $3.500 | $0.113 | $0.469 | **$4.473** "
        "| $4.435 | 45 ms (list page) |"
    )


def test_dollars_round_halves_up_to_a_tenth_of_a_cent() -> None:
    assert cost.dollars(0.0005) == "$0.001"
    assert cost.dollars(0.6 * 0.125 + 0.15 * 2 * 0.125) == "$0.113"  # 0.1125, summed in floats
    assert cost.dollars(1234.5) == "$1,234.500"


def test_the_operations_table() -> None:
    # get at 1,024 MB, 10 ms: 10,000 GB-s x $0.0000166667 = $0.166667;
    # 0.20 + 0.166667 + 3.50 + 0.125 = $3.991667
    table = cost.operations_table([_size(1024, EVEN, first_request_ms=10)], "x86_64")
    lines = table.splitlines()
    assert lines[0] == "| Operation | 1,024 MB |"
    assert lines[2] == "| get | $3.992 |"
    assert len(lines) == 2 + len(cost.TYPICAL_MIX)


def test_the_command_prints_the_tables_and_the_choice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sizes.json"
    path.write_text(json.dumps({"sizes": [_suite_shaped(_size(1024, EVEN, first_request_ms=10))]}))
    assert cost.main([str(path), "--target-p99", "50"]) == 0
    out = capsys.readouterr().out
    assert "| 1,024 MB | $0.200 | $0.192 |" in out
    assert "| get | $3.992 |" in out
    assert out.rstrip().endswith("is within 50 ms.")


def test_the_costs_page_shows_what_the_code_computes() -> None:
    """docs/design/costs.md: its table has the generated table's columns and, in each row,
    the pieces that do not depend on the memory size, as the generator prints them."""
    page = (Path(__file__).parents[2] / "docs" / "design" / "costs.md").read_text()
    rendered = cost.mix_table([_size(1024, EVEN)], "x86_64").splitlines()
    assert rendered[0] in page
    assert rendered[1] in page
    fixed = cost.mix_cost(_size(1024, EVEN), "x86_64")
    together = fixed.api_gateway + fixed.dynamodb_writes + fixed.lambda_requests
    assert f"**${together + fixed.dynamodb_reads:.5f}**" in page  # $4.28125
    rows = re.findall(r"^\| [\d,]+ MB \|.*$", page, flags=re.MULTILINE)
    assert len(rows) == 5  # 128, 256, 512, 1,024 and 1,769 MB
    expected = rendered[2].split(" | ")
    for row in rows:
        cells = row.split(" | ")
        for piece in (1, 4, 5, 6):  # Lambda requests, API Gateway, DynamoDB reads and writes
            assert cells[piece] == expected[piece], row


def test_a_memory_benchmark_row_maps_to_the_cost_model() -> None:
    """``bench.memory`` writes each size's cold start per init mode and its warm figures
    flat; the model bills the init mode asked for (on-demand: ``burst``)."""
    operation = {"p50_ms": 4.0, "p99_ms": 9.5, "read_units": 1.0, "write_units": 0.0}
    row = {
        "memory_mb": 512,
        "cold_start": {
            "burst": {"app_import_ms": 300.0, "app_first_request_ms": 40.0},
            "quota": {"app_import_ms": 1100.0, "app_first_request_ms": 45.0},
        },
        "operations": {"get": operation},
    }
    burst = cost.AtSize.from_memory_row(row)
    assert (burst.memory_mb, burst.init_ms, burst.first_request_ms) == (512, 300.0, 40.0)
    assert burst.measured("get") == cost.Measured(4.0, 9.5, 1.0, 0.0)
    assert cost.AtSize.from_memory_row(row, "quota").init_ms == 1100.0
