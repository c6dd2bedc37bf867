"""BENCHMARKS.md and its plot, from the suite's results (``bench/results.json``)."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import cold_start, filter_cost, overhead, rejection_cost

#: This API's operations beside the typical implementation's equivalent, where it has one.
TYPICAL_EQUIVALENT = {
    "create": "create",
    "get": "get",
    "replace": "replace",
    "patch": "patch",
    "delete": "delete",
    "list page": "list",
}


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    memory_kib = next(
        (int(row.split()[1]) for row in _read("/proc/meminfo").splitlines() if "MemTotal" in row),
        0,
    )
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": {name: metadata.version(name) for name in ("chalice", "boto3", "botocore")},
        "java": java.splitlines()[0] if java else "unknown",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def plot(results: dict[str, Any], path: Path) -> None:
    """List-page read capacity against table size: this API and the typical Scan."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot, ticker

    sizes = [s["size"] for s in results["sizes"]]
    ours = [s["ours"]["list page"]["read_units"] for s in results["sizes"]]
    status = [s["ours"]["list page, status filter"]["read_units"] for s in results["sizes"]]
    typical = [s["typical"]["list"]["read_units"] for s in results["sizes"]]
    figure, axes = pyplot.subplots(figsize=(7.5, 4.5), dpi=120)
    axes.plot(sizes, typical, "o-", color="#b42318", label="typical: one Scan (bench/baseline.py)")
    axes.plot(sizes, ours, "o-", color="#0a58ca", label="this API: list page (25 tasks)")
    axes.plot(sizes, status, "s--", color="#14632b", label="this API: status-filtered page")
    for size, units, s in zip(sizes, typical, results["sizes"], strict=True):
        dropped = s["typical"]["list"]["dropped"]
        note = f"{units:g} RCU" + (f"\n{dropped:,} tasks dropped" if dropped else "")
        axes.annotate(note, (size, units), textcoords="offset points", xytext=(6, -4), fontsize=8)
    for size, units in zip(sizes, ours, strict=True):
        axes.annotate(
            f"{units:g}", (size, units), textcoords="offset points", xytext=(6, 4), fontsize=8
        )
    axes.set_xscale("log")
    axes.set_yscale("log")
    plain = ticker.FuncFormatter(lambda value, _: f"{value:,.0f}" if value >= 1 else f"{value:g}")
    axes.xaxis.set_major_formatter(plain)
    axes.set_xticks(sizes)
    axes.set_xlim(sizes[0] / 1.6, sizes[-1] * 4)  # room for the notes on the right
    axes.xaxis.set_minor_formatter(ticker.NullFormatter())
    axes.yaxis.set_major_formatter(plain)
    axes.yaxis.set_minor_formatter(ticker.NullFormatter())
    axes.set_xlabel("tasks in the table (all owners)")
    axes.set_ylabel("read capacity units per list request")
    axes.set_title("Cost of one list request as the table grows (DynamoDB Local)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    pyplot.close(figure)


#: The operations drawn in the memory-size plot (the table has every one).
PLOTTED_OPERATIONS = ("create", "get", "patch", "delete", "list page")


def plot_memory(measured: dict[str, Any], path: Path) -> None:
    """Cold start and warm p50 against Lambda memory size (``bench.memory``)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot, ticker

    rows = measured["sizes"]
    sizes = [row["memory_mb"] for row in rows]
    figure, (cold, warm) = pyplot.subplots(1, 2, figsize=(11, 4.5), dpi=120)
    styles = {"quota": "-", "burst": "--"}
    for mode in measured["init_modes"]:
        for key, label, colour in (
            ("app_import_ms", "init (import app)", "#0a58ca"),
            ("app_first_request_ms", "first request", "#14632b"),
            ("floor_ms", "floor (boto3, client, a read)", "#6c757d"),
        ):
            values = [row["cold_start"][mode][key] for row in rows]
            cold.plot(sizes, values, "o" + styles[mode], color=colour, label=f"{label}, {mode}")
    for name in PLOTTED_OPERATIONS:
        warm.plot(sizes, [row["operations"][name]["p50_ms"] for row in rows], "o-", label=name)
    plain = ticker.FuncFormatter(lambda value, _: f"{value:,.0f}" if value >= 1 else f"{value:g}")
    for axes, title in (
        (cold, "Cold start (init: under the quota, or burst at full CPU)"),
        (warm, "Warm requests, p50 (in process)"),
    ):
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xticks(sizes)
        axes.xaxis.set_major_formatter(plain)
        axes.xaxis.set_minor_formatter(ticker.NullFormatter())
        axes.yaxis.set_major_formatter(plain)
        axes.yaxis.set_minor_formatter(ticker.NullFormatter())
        axes.set_xlabel("Lambda memory (MB); CPU share = memory / 1,769 MB")
        axes.set_ylabel("milliseconds")
        axes.set_title(title, fontsize=10)
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    pyplot.close(figure)


def _overhead(measured: dict[str, Any] | None) -> list[str]:
    """The app's own time per request, as Lambda calls it (``bench.overhead``)."""
    if not measured:
        return []
    lines = [
        "## The app's own time per request\n",
        "One fresh interpreter with the `dev` stage's settings, as Lambda runs the app (JSON "
        "logs and EMF metrics written to a file, one write a line), calls `app.app(event, "
        "context)` and the typical handler beside it on one DynamoDB Local, in chunks of "
        f"each operation that alternate between the two ({measured['rounds']} calls of each; "
        f"{measured['warm_up_rounds']} more first, not counted). **Own time** is each "
        "request's time minus the time its DynamoDB calls took (serialising, signing, the "
        "round trip, parsing), at p50: the budget, at most "
        f"{overhead.MAX_OWN_MS:g} ms. **Over typical** is the app's p50 minus the typical "
        "handler's, "
        "as issue 23 asked for; on DynamoDB Local it also holds what DynamoDB does for the "
        "app's table alone (two indexes and a stream, written before it answers, where "
        "DynamoDB itself updates them after) and, on replace, patch and delete, the typical "
        "handler's second round trip (a GetItem first). Milliseconds, at full CPU.\n",
        "| Operation | p50 | Typical p50 | Over typical | Own time | Typical's own time |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, figures in measured["operations"].items():
        lines.append(
            f"| {name} | {figures['p50_ms']:g} | {figures['typical_p50_ms']:g} "
            f"| {figures['over_typical_ms']:+.2f} | {figures['own_ms']:g} "
            f"| {figures['typical_own_ms']:g} |"
        )
    return [*lines, ""]


def _memory_sizes(measured: dict[str, Any] | None, plot_path: str) -> list[str]:
    """The memory-size section: figures only, no budget (they follow the machine)."""
    if measured is None:
        return []
    lines = ["## Memory sizes (Lambda's CPU share, emulated)\n"]
    if not measured["measured"]:
        lines.append(f"**Not measured:** {measured['reason']}. No figures are given.\n")
        return lines
    rows = measured["sizes"]
    lines += [
        "Lambda gives CPU in proportion to memory, one vCPU at 1,769 MB. Each size ran in a "
        "cgroup v1 CPU quota of that share (`bench/memory.py`, "
        f"{measured['seconds']:g} s); DynamoDB Local ran outside it. The init phase is billed "
        "like a request since August 2025, but AWS's reference does not say what CPU it "
        "gets (AWS's Serverless Land guide: a full vCPU on demand), so the cold start was "
        "measured both ways: **quota**, all of it under the size's share, and **burst**, "
        "init at full CPU and the first request under the share. The floor is the typical "
        "handler's cold start (import boto3, create a client; then read one item, as the "
        "app's first request does), its init and read run as the app's. Ratios are medians "
        "of paired runs in this run "
        f"(pairs per row: {measured['cold_start_runs']}); milliseconds follow the machine.\n",
        f"![Cold start and warm latency against memory size]({plot_path})\n",
        "| Memory | vCPU | Init runs | Init (ms) | First request (ms) | Floor (ms) "
        "| Init / floor init | Total / floor |",
        "|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        for mode, cold in row["cold_start"].items():
            lines.append(
                f"| {row['memory_mb']:,} MB | {row['vcpu']:g} | {mode} "
                f"| {cold['app_import_ms']:g} | {cold['app_first_request_ms']:g} "
                f"| {cold['floor_ms']:g} | {cold['init_ratio']:g}x | {cold['ratio']:g}x |"
            )
    lines += [
        "",
        f"Warm requests under each quota, in process (`chalice.test.Client`, as above), "
        f"{measured['runs']} of each: p50 / p99 in milliseconds. A CFS quota of 100 ms "
        "periods lets a short request finish unthrottled or wait for the next period, so "
        "the spread is wide at small sizes.\n",
        "| Operation | " + " | ".join(f"{row['memory_mb']:,} MB" for row in rows) + " |",
        "|---|" + "---:|" * len(rows),
    ]
    for name in rows[0]["operations"]:
        cells = " | ".join(
            f"{row['operations'][name]['p50_ms']:g} / {row['operations'][name]['p99_ms']:g}"
            for row in rows
        )
        lines.append(f"| {name} | {cells} |")
    lines.append("")
    return lines + _memory_choice(rows)


def _memory_choice(rows: list[dict[str, Any]]) -> list[str]:
    """What a million typical requests cost at each size (``bench.cost``, the cold start
    billed as ``burst``), and each stage's memory against the size its p99 target picks."""
    from bench import cost
    from infra.stages import DEPLOYED_STAGES, stage

    sizes = [cost.AtSize.from_memory_row(row) for row in rows]
    try:
        table = cost.mix_table(sizes, "x86_64")
    except KeyError as missing:  # a run that measured only some operations
        return [f"No cost table: {missing}.\n"]
    lines = [
        "### What a million typical requests cost, per memory size\n",
        "From this run's figures and AWS's us-east-1 prices (`bench/cost.py`, "
        "`bench/pricing.py`; the mix and what is left out: docs/design/costs.md).\n",
        table,
        "",
        "### Each stage's memory\n",
        "`lambda_memory_size` in `.chalice/config.json`, against the cheapest size whose "
        "slowest operation of the mix meets the stage's p99 target "
        "(`Tuning.p99_target_ms`, infra/stages.py), in this run:\n",
        "| Stage | p99 target | Configured | This run picks | Why |",
        "|---|---:|---:|---:|---|",
    ]
    for name in DEPLOYED_STAGES:
        deployed = stage(name)
        choice = cost.choose(sizes, "x86_64", deployed.tuning.p99_target_ms)
        lines.append(
            f"| {name} | {deployed.tuning.p99_target_ms:g} ms | {deployed.memory_size:,} MB "
            f"| {choice.memory_mb:,} MB | {choice.reason} |"
        )
    lines.append("")
    return lines


def _units(cost: dict[str, Any]) -> str:
    parts = []
    if cost["read_units"]:
        parts.append(f"{cost['read_units']:g} RCU")
    if cost["write_units"]:
        parts.append(f"{cost['write_units']:g} WCU")
    return " + ".join(parts) or "0"


def _operations(cost: dict[str, Any]) -> str:
    """ "GetItem, PutItem": this API's results name them ``operations``, the typical
    implementation's ``requests``."""
    names = cost["operations"] if "operations" in cost else cost["requests"]
    return ", ".join(
        f"{name}" if count == 1 else f"{name} x{count}" for name, count in names.items()
    )


def _page(cost: dict[str, Any]) -> str:
    """ "2 RCU", or "1.5 RCU (15 tasks)" for a page that is not full."""
    items = cost.get("items", 25)
    return f"{cost['read_units']:g} RCU" + ("" if items == 25 else f" ({items} tasks)")


def _ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.1f}x" if denominator else "n/a"


def _hostile(hostile: dict[str, Any]) -> list[str]:
    """The hostile requests' section: rejections, filters that match nothing, the
    largest page."""
    rejections = hostile["rejections"]
    slowest, largest = rejections["slowest"], rejections["largest_problem"]
    lines = [
        "## Hostile requests\n",
        f"On one more fresh DynamoDB Local, through `chalice.test.Client` as above "
        f"({hostile['seconds']:g} s).\n",
        "### Rejecting the worst bodies\n",
        f"Each body is the worst of its kind that fits in the body limit "
        f"({rejections['body_limit']:,} bytes; `bench/rejection_cost.py`), sent "
        f"{rejections['rounds']} times with each method, each time right after a normal "
        f"create. A normal create took {rejections['create_ms']:g} ms (median of "
        f"{rejections['creates']}). Each rejection is timed against the create just before "
        f"it; a case's figure is the median of its paired ratios, which a slow stretch of "
        f"the machine moves far less than its milliseconds, and the budget holds the "
        f"slowest case to {rejection_cost.MAX_RATIO:g}x. The slowest rejection: "
        f"{slowest['method']} {slowest['body']}, {slowest['median_ms']:g} ms, "
        f"{slowest['ratio']:g}x a create. "
        f"The largest problem document: {largest['problem_bytes']:,} bytes "
        f"({largest['method']} {largest['body']}). Cells: status, median time, median "
        f"paired ratio; in bold, what is not a 4xx problem document, or was stopped in most "
        f"rounds (after {rejections['cutoff_seconds']:g} s, or "
        f"{rejections['cutoff_budgets'] * rejection_cost.MAX_RATIO:g} times the create "
        f"before it if longer: over budget on any machine).\n",
        rejection_cost.markdown(rejections) + "\n",
        "### Filters that match nothing\n",
        "Tasks of one owner, loaded with BatchWriteItem, every one of the same size, none "
        "matching the filter (`bench/filter_cost.py`). A list request's read budget: at most "
        f"{hostile['filtered'][0]['max_queries']} Queries evaluating at most "
        f"{hostile['filtered'][0]['max_items_read']} items. Each query at each page size is "
        "walked with its cursors (whole walks, or their first requests where the table "
        "says so); the row shows the walk's most expensive request, and the whole walk's "
        "capacity. The last rows walk a tag that one task in "
        f"{filter_cost.RARE_EVERY} has, checked task by task against the data.\n",
    ]
    for filtered in hostile["filtered"]:
        lines.append(filter_cost.markdown(filtered) + "\n")
    page = hostile["page_bytes"]
    biggest, pages = page["largest"], page["pages"]
    lines += [
        "### The largest list page\n",
        f"{page['tasks']} tasks at every maximum of the schema, every character an emoji "
        f"({page['task_request_bytes']:,} bytes each as a request body), listed with "
        f"`limit={page['tasks']}` (`bench/page_bytes.py`): {len(pages)} pages, every "
        f"task once. The largest page holds {biggest['tasks']} tasks: "
        f"{biggest['wire_bytes']:,} bytes on the wire (UTF-8) and "
        f"{biggest['lambda_bytes']:,} bytes in Lambda's result, where the python3.11 "
        f"runtime escapes each emoji as 12 bytes. Lambda's limit is "
        f"{page['limit_bytes']:,} bytes; the app ends a page before its tasks weigh "
        f"{page['page_budget_bytes']:,}. A page read {biggest['read_units']:g} RCU in "
        f"{biggest['requests']} request(s).\n",
    ]
    return lines


def markdown(
    results: dict[str, Any], plot_path: str, memory_plot_path: str = "bench/memory-sizes.png"
) -> str:
    sizes = results["sizes"]
    largest = sizes[-1]
    lines: list[str] = []
    add = lines.append
    m = results["machine"]
    add("# Benchmarks\n")
    add(
        "Measured by the benchmark suite (`bench/suite.py`) on AWS's DynamoDB Local, this API "
        "beside the typical implementation of a task API "
        "([`bench/baseline.py`](bench/baseline.py): one handler, a single Scan to list, a read "
        "before each update and delete), on the same engine in the same run. Generated: do not "
        "edit; run the command again.\n"
    )
    add(f"- **Command:** `{results['command']}` ({results['seconds']:.0f} s)")
    add(f"- **Date:** {m['date']}")
    add(
        f"- **Machine:** {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; {m['os']}; "
        f"Python {m['python']}; "
        + ", ".join(f"{k} {v}" for k, v in m["packages"].items())
        + f"; {m['java']}"
    )
    add(
        "- **Data:** at each size, a fresh in-memory DynamoDB Local holding that many tasks: "
        "the measured owner's (50 in a table of 100, 200 from 1,000 on; the newest 50 are "
        "the same at every size), the rest spread over other owners, 50 each. Descriptions "
        "as in typical use: half empty, 30 % short (80 characters), 20 % a paragraph (350 "
        f"characters). Each operation was called {results['runs']} times at each size.\n"
    )

    add("## Budgets\n")
    add("| Budget | Measured | Holds |")
    add("|---|---|---|")
    for check in results["budgets"]:
        holds = "yes" if check["ok"] else "**NO**" if check.get("gated", True) else "no (not gated)"
        add(f"| {check['budget']} | {check['measured']} | {holds} |")
    add("")

    typical_list = largest["typical"]["list"]
    our_page = largest["ours"]["list page"]
    cold = results["cold_start"]
    add("## Where we stand (ratios from this run)\n")
    add(
        f"- **Listing at {largest['size']:,} tasks:** a page costs this API "
        f"{our_page['read_units']:g} RCU in {our_page['requests']} request. The typical Scan "
        f"costs {typical_list['read_units']:g} RCU "
        f"({_ratio(typical_list['read_units'], our_page['read_units'])} as much) and returns "
        f"{typical_list['returned']:,} of the {typical_list['stored']:,} tasks stored: "
        f"{typical_list['dropped']:,} are silently dropped, and those it returns belong to "
        f"every owner. p50 latency: {our_page['latency_ms']['p50']:g} ms against "
        f"{largest['typical']['operations']['list']['latency_ms']['p50']:g} ms."
    )
    for ours_name, typical_name in TYPICAL_EQUIVALENT.items():
        if ours_name == "list page":
            continue
        ours = largest["ours"][ours_name]
        typical = largest["typical"]["operations"][typical_name]
        add(
            f"- **{ours_name}:** {ours['requests']} request ({_operations(ours)}, "
            f"{_units(ours)}) against {typical['request_count']} ({_operations(typical)}, "
            f"{_units(typical)}); p50 latency {ours['latency_ms']['p50']:g} ms against "
            f"{typical['latency_ms']['p50']:g} ms "
            f"({_ratio(ours['latency_ms']['p50'], typical['latency_ms']['p50'])} as long)."
        )
    add(
        f"- **Cold start:** {cold['ratio']:g}x the floor (a fresh interpreter that imports "
        f"boto3, creates a DynamoDB client and reads one item), the median of {cold['runs']} "
        "paired ratios; "
        f"{cold['app_ms']:g} ms against {cold['floor_ms']:g} ms, +{cold['gap_ms']:g} ms "
        f"(medians).\n"
    )

    add("## DynamoDB requests and capacity per operation\n")
    add(
        "Counted by a botocore event hook on the app's own client; capacity is what DynamoDB "
        "Local reports with `ReturnConsumedCapacity=TOTAL`. Reads of an item up to 4 KB cost "
        "0.5 RCU eventually consistent and 1 strongly consistent: this API reads single tasks "
        "strongly consistent (a read right after a write sees it), the typical one does not. "
        "Writes cost 1 WCU per KB for the table and for each index the item is in (this API "
        "keeps two, for newest-first and status-filtered pages; the typical table has none, "
        "which is why it cannot list without a Scan), twice inside a transaction (create with "
        "`Idempotency-Key` writes the task and the key's record together). Each operation was "
        f"called {results['runs']} times at each size; every call of an operation sent the "
        "same requests, and the capacity shown is their mean (the typical implementation's: "
        "its first call).\n"
    )
    header = "| Operation | Requests | " + " | ".join(f"{s['size']:,} tasks" for s in sizes)
    add(header + " | Typical: requests | Typical: capacity |")
    add("|---|---|" + "---|" * len(sizes) + "---|---|")
    for name in largest["ours"]:
        ours = largest["ours"][name]
        typical_name = TYPICAL_EQUIVALENT.get(name)
        typical = largest["typical"]["operations"].get(typical_name) if typical_name else None
        by_size = " | ".join(_units(s["ours"][name]) for s in sizes)
        typical_cells = (
            f"{typical['request_count']} ({_operations(typical)}) | {_units(typical)}"
            if typical
            else "— | —"
        )
        add(f"| {name} | {ours['requests']} ({_operations(ours)}) | {by_size} | {typical_cells} |")
    add("")

    add("## List cost against table size\n")
    add(f"![List request cost against table size]({plot_path})\n")
    add(
        "| Tasks | This API: page 1 | page 2 | status filter | tag filter | "
        "Typical: Scan | Typical: returned | Typical: dropped |"
    )
    add("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in sizes:
        o, t = s["ours"], s["typical"]["list"]
        tag = o["list page, tag filter"]
        add(
            f"| {s['size']:,} | {_page(o['list page'])} | {_page(o['list page 2 (cursor)'])} "
            f"| {_page(o['list page, status filter'])} "
            f"| {_page(tag)} in {tag['requests']} requests "
            f"| {t['read_units']:g} RCU | {t['returned']:,} of {t['stored']:,} "
            f"| {t['dropped']:,} |"
        )
    heavy = results["heavy_page"]
    add(
        "\nA page holds 25 tasks unless the table shows how many. A page's cost follows the "
        "size of its items: with "
        f"a 300-character description on every task (items of about 750 bytes), the first "
        f"page costs {heavy['capacity_units']:g} RCU ({heavy['size']:,} tasks, one "
        f"{_operations({'operations': heavy['operations']})}). Tag and priority filters are "
        "filter expressions: their pages read until 25 tasks match, so their cost depends on "
        "how many of the owner's tasks match, never on other owners' tasks.\n"
    )

    lines += _hostile(results["hostile"])

    add(f"## History: what the stream consumer writes ({largest['size']:,} tasks)\n")
    add(
        "Each task write is one request from the API; the table's stream then hands the "
        "change to the activity consumer, which writes its event (a deletion also looks for "
        "the task's comments). Measured record by record, as Lambda would deliver them, on "
        "DynamoDB Local; beside it, what the API's own request costs.\n"
    )
    add("| Operation | API: requests | API: WCU | Consumer: requests | Consumer: WCU | Changes |")
    add("|---|---:|---:|---:|---:|---:|")
    for name, api_name in (
        ("create", "create"),
        ("replace", "replace"),
        ("patch", "patch"),
        ("delete", "delete"),
        ("comment", "comment create"),
    ):
        api, history = largest["ours"][api_name], largest["ours"][f"history write, {name}"]
        add(
            f"| {name} | {api['requests']} | {api['write_units']:g} "
            f"| {history['requests']} ({_operations(history)}) | {history['write_units']:g} "
            f"| {history['changes']} |"
        )
    add("")

    add(f"## Latency in process ({largest['size']:,} tasks)\n")
    add(
        "`chalice.test.Client` calling the app (the `dev` stage: JSON logs and EMF metrics "
        "written to /dev/null) on DynamoDB Local on the same machine; the typical handler "
        "called directly. Milliseconds; nearest-rank percentiles.\n"
    )
    add(
        "These go through Chalice's local gateway (routing, the event built per call), which "
        "Lambda does not run: the app's own time per request is measured below, as Lambda "
        "calls it.\n"
    )
    add("| Operation | p50 | p99 | Runs | Typical p50 | Typical p99 |")
    add("|---|---:|---:|---:|---:|---:|")
    for name, ours in largest["ours"].items():
        if "latency_ms" not in ours:  # the stream consumer's cost: no request of a client
            continue
        typical_name = TYPICAL_EQUIVALENT.get(name)
        typical = largest["typical"]["operations"].get(typical_name) if typical_name else None
        latency = ours["latency_ms"]
        typical_cells = (
            f"{typical['latency_ms']['p50']:g} | {typical['latency_ms']['p99']:g}"
            if typical
            else "— | —"
        )
        cells = f"{latency['p50']:g} | {latency['p99']:g} | {latency['runs']}"
        add(f"| {name} | {cells} | {typical_cells} |")
    add("")
    lines += _overhead(results.get("overhead"))

    add("## Cold start\n")
    add(
        "A fresh interpreter with the `dev` stage's settings, as Lambda starts one (no "
        "X-Ray SDK: the stage leaves its subsegments off; init without garbage collection, "
        "as `app.py` runs it in Lambda), imports `app` and serves `GET /tasks/{id}` (a read "
        "on DynamoDB Local). The floor is the typical handler's cold start: a fresh interpreter "
        "that imports boto3, creates a DynamoDB client and reads one item (botocore's "
        "first-call work is no more the app's than the import is).\n"
    )
    add("| | Median (ms) |")
    add("|---|---:|")
    add(f"| Floor: import boto3, client | {cold['floor_import_ms']:g} |")
    add(f"| Floor: first read | {cold['floor_first_request_ms']:g} |")
    add(f"| Floor: total | {cold['floor_ms']:g} |")
    add(f"| App: import | {cold['app_import_ms']:g} |")
    add(f"| App: first request | {cold['app_first_request_ms']:g} |")
    add(f"| App: total | {cold['app_ms']:g} |")
    add(f"| App minus floor | {cold['gap_ms']:g} |")
    low, high = cold["ratio_range"]
    add(
        f"\n{cold['runs']} runs of each, alternating. The budget: the app's total at most "
        f"{cold_start.MAX_RATIO:g}x the floor's, as the median of the paired ratios (each "
        f"app run's total over the floor run's just before it): {cold['ratio']:g}x, the "
        f"pairs from {low:g} to {high:g}. The milliseconds move with the machine's speed "
        f"and are for information only.\n"
    )

    package = results["package"]
    lines += _memory_sizes(results.get("memory_sizes"), memory_plot_path)

    add("## Deployment package\n")
    add(
        "`chalice package` for the `dev` stage (`make package STAGE=dev`): "
        + ", ".join(f"{fmt} {size:,} bytes" for fmt, size in package["by_format"].items())
        + ". Powertools comes from AWS's Lambda layer and boto3 from the runtime, so neither "
        "is in the zip.\n"
    )
    add("## Reproduce\n")
    add("```sh")
    add("make bench          # this file, its plots (bench/*.png) and bench/results.json")
    add("make bench QUICK=1  # what CI runs: 100 and 1,000 tasks, fewer runs, into build/bench/")
    add(".venv/bin/python -m bench.rejection_cost  # one case alone: also filter_cost, page_bytes")
    add(".venv/bin/python -m bench.memory --sizes 128,1024  # memory sizes alone (needs root)")
    add("```")
    return "\n".join(lines) + "\n"
