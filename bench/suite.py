"""The benchmark suite: `make bench` writes BENCHMARKS.md and its plot, and fails when a
budget is broken.

At each table size, one fresh in-memory DynamoDB Local holds the benchmark's tasks, spread
over many owners, twice: in this API's table and in the typical implementation's
(``bench/baseline.py``). On it, in the same run:

1. this API's list pages are checked task by task (``bench.list_cost``);
2. every API operation is called through ``chalice.test.Client`` (``bench.operations``):
   DynamoDB requests, consumed capacity and in-process latency;
3. the typical implementation does the same work (``bench.baseline_cost``): its
   requests, its capacity, and the tasks its one-Scan list drops.

Then, on one more fresh DynamoDB Local, the hostile requests: the worst bodies the body
limit allows, rejected against a normal create (``bench.rejection_cost``); filters that
match none of one owner's many tasks (``bench.filter_cost``); the largest list page
(``bench.page_bytes``). Then the cold start against the floor (``bench.cold_start``), the
app's own time per request as Lambda calls it beside the typical handler's
(``bench.overhead``), the size of the deployment package (``chalice package`` through
``infra.package``), and the cold start and warm latency at Lambda's memory sizes, each
size's CPU share a cgroup quota (``bench.memory``; reported, not a budget; where no
quota can be set, said loudly and recorded as not measured).

    .venv/bin/python -m bench.suite                 # the published run: BENCHMARKS.md
    .venv/bin/python -m bench.suite --quick         # CI: smaller, into build/bench/
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import (
    baseline_cost,
    cold_start,
    filter_cost,
    list_cost,
    memory,
    operations,
    overhead,
    page_bytes,
    rejection_cost,
    report,
)
from chalicelib.table import create_table
from tools import dynamodb_local

PROJECT_DIR = Path(__file__).resolve().parent.parent
SEED = 1
PAGE = 25
#: Operations that must cost exactly one DynamoDB request.
ONE_REQUEST = (
    "create",
    "create with Idempotency-Key",
    "get",
    "conditional get (304)",
    "replace",
    "patch",
    "patch with If-Match",
    "delete",
    "list page",
    "list page 2 (cursor)",
    "list page, status filter",
    "history page",
    "history page 2 (cursor)",
    "feed page",
    "feed page 2 (cursor)",
    "comment create",
    "comment get",
    "comment patch with If-Match",
    "comment delete",
    "comment list page",
)
#: A later comment page: the task's GetItem (its comments are unreachable once it is gone),
#: then the Query from the cursor, which cannot reach the task's item (a Query reads one
#: contiguous key range, and the task's item sorts before all its comments).
TWO_REQUESTS = ("comment list page 2 (cursor)",)
#: What the stream consumer may spend on each change a task operation makes: one request
#: for its event; a deletion, one more to find the task's comments.
HISTORY_WRITE_REQUESTS = {"create": 1, "replace": 1, "patch": 1, "delete": 2, "comment": 1}
MAX_PAGE_READ_UNITS = 2.0
MAX_PAGE_GROWTH = 0.10
MAX_PACKAGE_BYTES = 2 * 1024 * 1024
#: Hostile requests, full run and quick: (rounds of the rejections, the owner's small
#: tasks, the owner's large tasks, requests walked per filter: None for whole walks).
HOSTILE = {"full": (9, 10_000, 2_000, None), "quick": (3, 2_000, 500, 3)}


def measure_size(size: int, runs: int) -> dict[str, Any]:
    """Both implementations on one engine holding ``size`` tasks."""
    pairs = list_cost.make_tasks(size, SEED, descriptions="typical")
    with dynamodb_local.running() as server:
        table = operations.stage_table()  # where the app under test reads and writes
        loaded, pages = list_cost.load_and_measure(server.client(), table, pairs, PAGE)
        with operations.app_on(server.endpoint_url) as bench:
            bench.call("GET", "/tasks/warm-up", operations.WRITER)  # builds the client
            ours = operations.measure(bench, list_cost.MEASURED_OWNER, runs)
        typical = baseline_cost.measure(server.endpoint_url, pairs, runs)
    print(f"size {size:,}: measured", file=sys.stderr, flush=True)
    return {"size": size, "load": loaded, "pages": pages, "ours": ours, "typical": typical}


def heavy_page(size: int) -> dict[str, Any]:
    """A list page when every task has a 300-character description (items of about
    750 bytes): what the page costs when items are larger than typical."""
    pairs = list_cost.make_tasks(size, SEED, descriptions="long")
    with dynamodb_local.running() as server:
        _, rows = list_cost.load_and_measure(server.client(), list_cost.TABLE, pairs, PAGE)
    return next(r for r in rows if r["query"] == "no filter" and r["page"] == 1)


def hostile(quick: bool) -> dict[str, Any]:
    """The hostile requests, on one fresh DynamoDB Local: each case has its own owner."""
    rounds, small, large, pages = HOSTILE["quick" if quick else "full"]
    started = time.perf_counter()
    with dynamodb_local.running() as server:
        table = operations.stage_table()
        create_table(server.client(), table)
        with operations.app_on(server.endpoint_url) as bench:
            rejections = rejection_cost.measure(bench, rounds)
            filtered = [
                filter_cost.measure(bench, server.client(), table, owner, count, chars, pages)
                for owner, count, chars in (
                    ("owner-small-tasks", small, filter_cost.SMALL_DESCRIPTION),
                    ("owner-large-tasks", large, filter_cost.LARGE_DESCRIPTION),
                )
            ]
            largest_page = page_bytes.measure(bench)
    seconds = round(time.perf_counter() - started, 1)
    print(f"hostile requests: measured in {seconds:g} s", file=sys.stderr, flush=True)
    return {
        "rejections": rejections,
        "filtered": filtered,
        "page_bytes": largest_page,
        "seconds": seconds,
    }


def package_size() -> dict[str, Any]:
    """`chalice package` for the dev stage, as `make package` runs it."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "infra.package", "--stage", "dev"],
        cwd=PROJECT_DIR,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    sizes = {
        fmt: (PROJECT_DIR / "build" / "dev" / fmt / "deployment.zip").stat().st_size
        for fmt in ("cloudformation", "terraform")
    }
    seconds = round(time.perf_counter() - started, 1)
    return {"bytes": max(sizes.values()), "by_format": sizes, "seconds": seconds}


def own_times(results: dict[str, Any]) -> dict[str, float]:
    """Per operation: the app's own time at p50, in milliseconds."""
    return {
        name: round(figures["own_ms"], 2)
        for name, figures in results["overhead"]["operations"].items()
    }


def failing(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The budgets that fail the run: broken, and gated in this run."""
    return [check for check in checks if not check["ok"] and check.get("gated", True)]


def budgets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each budget with what was measured and whether it holds."""
    checks = []
    sizes = results["sizes"]
    request_budgets = [(name, 1, "exactly 1 DynamoDB request") for name in ONE_REQUEST] + [
        (name, 2, "exactly 2 DynamoDB requests (the task's GetItem, the Query)")
        for name in TWO_REQUESTS
    ]
    for name, budget, wording in request_budgets:
        counts = {s["size"]: s["ours"][name]["requests"] for s in sizes}
        checks.append(
            {
                "budget": f"{name}: {wording}",
                "measured": ", ".join(f"{n} at {size:,}" for size, n in counts.items()),
                "ok": all(n == budget for n in counts.values()),
            }
        )
    for name, budget in HISTORY_WRITE_REQUESTS.items():
        counts = {s["size"]: s["ours"][f"history write, {name}"]["requests"] for s in sizes}
        checks.append(
            {
                "budget": f"history of a {name}: exactly {budget} DynamoDB request(s) "
                "by the stream consumer",
                "measured": ", ".join(f"{n} at {size:,}" for size, n in counts.items()),
                "ok": all(n == budget for n in counts.values()),
            }
        )
    feed_units = {s["size"]: s["ours"]["feed page"]["read_units"] for s in sizes}
    checks.append(
        {
            "budget": f"{PAGE}-event feed page: at most {MAX_PAGE_READ_UNITS:g} RCU at every size",
            "measured": ", ".join(f"{u:g} at {size:,}" for size, u in feed_units.items()),
            "ok": all(u <= MAX_PAGE_READ_UNITS for u in feed_units.values()),
        }
    )
    units = {s["size"]: s["ours"]["list page"]["read_units"] for s in sizes}
    checks.append(
        {
            "budget": f"{PAGE}-item list page: at most {MAX_PAGE_READ_UNITS:g} RCU at every size",
            "measured": ", ".join(f"{u:g} at {size:,}" for size, u in units.items()),
            "ok": all(u <= MAX_PAGE_READ_UNITS for u in units.values()),
        }
    )
    smallest, largest = min(units), max(units)
    growth = units[largest] / units[smallest] - 1
    checks.append(
        {
            "budget": f"list page at {largest:,} within {MAX_PAGE_GROWTH:.0%} of {smallest:,}",
            "measured": f"{units[largest]:g} vs {units[smallest]:g} RCU ({growth:+.0%})",
            "ok": abs(growth) <= MAX_PAGE_GROWTH,
        }
    )
    cold = results["cold_start"]
    low, high = cold["ratio_range"]
    checks.append(
        {
            "budget": f"cold start at most {cold_start.MAX_RATIO:g}x the floor (boto3, a "
            "client, one read; median of paired ratios)",
            "measured": f"{cold['ratio']:g}x ({cold['runs']} pairs, {low:g} to {high:g}); "
            f"medians {cold['app_ms']:g} ms against {cold['floor_ms']:g} ms",
            "ok": cold["ratio"] <= cold_start.MAX_RATIO,
        }
    )
    sized = results.get("memory_sizes") or {}
    if sized.get("measured"):
        ratios = {
            f"{row['memory_mb']} MB {mode}": cold["ratio"]
            for row in sized["sizes"]
            for mode, cold in row["cold_start"].items()
        }
        checks.append(
            {
                "budget": f"cold start at most {cold_start.MAX_RATIO:g}x the floor at every "
                "memory size and init mode (median of paired ratios under the quota)",
                "measured": ", ".join(f"{name} {ratio:g}x" for name, ratio in ratios.items()),
                "ok": all(ratio <= cold_start.MAX_RATIO for ratio in ratios.values()),
                # The quick run pairs too few interpreters per size for a budget's median.
                "gated": not results["quick"],
            }
        )
    own = own_times(results)
    checks.append(
        {
            "budget": f"the app's own time per request (its time minus its DynamoDB calls'): "
            f"p50 at most {overhead.MAX_OWN_MS:g} ms",
            "measured": ", ".join(f"{name} {ms:g} ms" for name, ms in own.items()),
            "ok": all(ms <= overhead.MAX_OWN_MS for ms in own.values()),
            # Milliseconds: gated by the full run only (CI's quick run reports it).
            "gated": not results["quick"],
        }
    )
    package = results["package"]
    checks.append(
        {
            "budget": f"deployment package at most {MAX_PACKAGE_BYTES / 1024 / 1024:g} MB",
            "measured": f"{package['bytes']:,} bytes",
            "ok": package["bytes"] <= MAX_PACKAGE_BYTES,
        }
    )
    return checks + hostile_budgets(results["hostile"])


def hostile_budgets(hostile: dict[str, Any]) -> list[dict[str, Any]]:
    """The hostile requests' budgets: rejections, filtered lists, the largest page."""
    rejections = hostile["rejections"]
    cases = rejections["cases"]
    wrong = [f"{c['method']} {c['body']} ({c['status']})" for c in cases if not c["rejected"]]
    slowest, largest = rejections["slowest"], rejections["largest_problem"]
    checks = [
        {
            "budget": "every hostile body, as POST, PUT and PATCH, rejected with a 4xx problem",
            "measured": f"{rejections['rejected']} of {len(cases)}"
            + "".join(f"; not {case}" for case in wrong[:3])
            + (" ..." if len(wrong) > 3 else ""),
            "ok": not wrong,
        },
        {
            "budget": f"slowest rejection at most {rejection_cost.MAX_RATIO:g}x the create "
            "just before it (median of paired ratios)",
            "measured": f"{slowest['ratio']:g}x: {slowest['method']} {slowest['body']}; "
            f"medians {slowest['median_ms']:g} ms against {rejections['create_ms']:g} ms",
            # A stopped request is over budget by its ratio (rejection_cost.cutoff_seconds),
            # so the cut-off is no timed gate of its own.
            "ok": slowest["ratio"] <= rejection_cost.MAX_RATIO,
        },
        {
            "budget": f"every problem document at most {rejection_cost.MAX_PROBLEM_BYTES:,} bytes",
            "measured": f"largest {largest['problem_bytes']:,} bytes "
            f"({largest['method']} {largest['body']})",
            "ok": largest["problem_bytes"] <= rejection_cost.MAX_PROBLEM_BYTES,
        },
    ]
    for filtered in hostile["filtered"]:
        data = filter_cost.describe(filtered)
        worst, yardstick = filtered["worst"], filtered["yardstick"]
        ceiling = yardstick["read_units"] + filtered["allowance"]
        checks += [
            {
                "budget": f"no-match filter, {data}: at most {filtered['max_queries']} "
                "Queries per request",
                "measured": f"at most {filtered['most_requests']}",
                "ok": filtered["most_requests"] <= filtered["max_queries"],
            },
            {
                "budget": f"no-match filter, {data}: at most the unfiltered "
                f"{filter_cost.LIMITS[-1]}-task page's RCU + {filtered['allowance']:g}",
                "measured": f"worst {worst['read_units']:g} RCU ({worst['query']}, limit "
                f"{worst['limit']}) against {yardstick['read_units']:g} + "
                f"{filtered['allowance']:g}",
                "ok": worst["read_units"] <= ceiling,
            },
        ]
    page = hostile["page_bytes"]
    largest_page = page["largest"]
    checks.append(
        {
            "budget": f"largest list page within Lambda's result limit "
            f"({page['limit_bytes']:,} bytes)",
            "measured": f"{largest_page['lambda_bytes']:,} bytes in Lambda's result, "
            f"{largest_page['wire_bytes']:,} on the wire ({largest_page['tasks']} tasks)",
            "ok": largest_page["lambda_bytes"] <= page["limit_bytes"],
        }
    )
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.suite", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="CI: smaller sizes, fewer runs")
    parser.add_argument("--sizes", help="table sizes (default 100,1000,10000; quick 100,1000)")
    parser.add_argument("--runs", type=int, help="requests per operation (200; quick 20)")
    parser.add_argument(
        "--cold-start-runs",
        type=int,
        help="interpreters each (21, quick too: a median of fewer is too noisy for a budget)",
    )
    parser.add_argument(
        "--memory-sizes", help="Lambda memory sizes in MB (128,256,512,1024,1769; quick 512)"
    )
    parser.add_argument("--out", type=Path, help="the report (BENCHMARKS.md; quick build/bench)")
    parser.add_argument("--command", default="make bench", help="the command, for the report")
    args = parser.parse_args(argv)
    quick = args.quick
    sizes = [int(s) for s in (args.sizes or ("100,1000" if quick else "100,1000,10000")).split(",")]
    runs = args.runs or (20 if quick else 200)
    cold_runs = args.cold_start_runs or 21
    folder = PROJECT_DIR / "build" / "bench" if quick else PROJECT_DIR / "bench"
    out = args.out or (folder / "BENCHMARKS.md" if quick else PROJECT_DIR / "BENCHMARKS.md")
    memory_sizes = (
        [int(s) for s in args.memory_sizes.split(",")]
        if args.memory_sizes
        else memory.QUICK_SIZES_MB
        if quick
        else memory.SIZES_MB
    )
    memory_runs, memory_cold_runs = memory.RUNS["quick" if quick else "full"]
    started = time.perf_counter()

    results: dict[str, Any] = {
        "command": args.command,
        "quick": quick,
        "machine": report.machine(),
        "runs": runs,
        "page": PAGE,
        "sizes": [measure_size(size, runs) for size in sizes],
        "heavy_page": heavy_page(sizes[0]),
        "hostile": hostile(quick),
        "cold_start": cold_start.compare(cold_runs),
        "overhead": overhead.measure(overhead.ROUNDS["quick" if quick else "full"]),
        "package": package_size(),
        "memory_sizes": memory.measure(memory_sizes, memory_runs, memory_cold_runs),
    }
    results["budgets"] = budgets(results)
    results["seconds"] = round(time.perf_counter() - started, 1)
    folder.mkdir(parents=True, exist_ok=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    plot = folder / "list-page-cost.png"
    report.plot(results, plot)
    memory_plot = folder / "memory-sizes.png"
    if results["memory_sizes"]["measured"]:
        report.plot_memory(results["memory_sizes"], memory_plot)
    plots = (os.path.relpath(plot, out.parent), os.path.relpath(memory_plot, out.parent))
    out.write_text(report.markdown(results, *plots))
    (folder / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    failed = failing(results["budgets"])
    for check in results["budgets"]:
        verdict = "ok  " if check["ok"] else "FAIL" if check.get("gated", True) else "over"
        print(f"{verdict} {check['budget']}: {check['measured']}")
    if not results["memory_sizes"]["measured"]:
        print(f"NOT MEASURED: memory sizes ({results['memory_sizes']['reason']})")
    print(f"wrote {out} and {plot} in {results['seconds']:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
