"""The app at Lambda's memory sizes: each size's CPU share emulated by a CPU quota.

Lambda gives a function CPU in proportion to its memory, one vCPU at 1,769 MB
(https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html), so at 128 MB
the app runs on about 7 % of a core. Each size here is a cgroup v1 ``cpu`` group with
``cpu.cfs_quota_us = period * size / 1769`` (period 100,000 us; 128 MB: 7,236 us). The
measured process, never this one, is put in it; the group is removed afterwards. Where
no quota can be set, nothing is measured and the results say why: no figure is faked.

Per size, on one AWS DynamoDB Local (not throttled: DynamoDB is another service):

- the cold start (``bench.cold_start``'s scripts and environment): init (``import app``)
  and the first request apart, beside the floor (import boto3, create a client, read an item), as
  the median of paired ratios;
- warm p50 and p99 of every operation (``bench.operations``), in a child process that
  joins the group once its own set-up (import, first request) is done.

What AWS documents about the init phase (read 2026-11):

- Billing: since 1 August 2025 the INIT phase of on-demand functions on managed runtimes
  packaged as zip is billed like INVOKE, by duration at the configured memory
  (https://aws.amazon.com/blogs/compute/aws-lambda-standardizes-billing-for-init-phase).
  Init milliseconds therefore cost the same as request milliseconds.
- CPU: the Developer Guide states only the memory-proportional share and the 10 s init
  limit (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html);
  it gives no separate CPU figure for init. AWS's Serverless Land guide (by an AWS
  specialist SA, not the reference) says on-demand init runs on a full, unthrottled vCPU,
  and provisioned concurrency gets no burst
  (https://serverlessland.com/content/service/lambda/guides/effectively-running-java-on-serverless/init-heavy-lifting);
  outside measurements agree
  (https://lucvandonkersgoed.com/2022/04/09/when-is-the-lambda-init-phase-free-and-when-is-it-billed/).

The reference does not say, so both are measured (``--init``): ``quota``, the whole cold
start under the size's quota (the documented share; provisioned concurrency), and
``burst``, init at this machine's full CPU and the first request under the quota (the
guide's account of on-demand init).

    .venv/bin/python -m bench.memory [--sizes 128,1024] [--runs 20] [--cold-runs 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import cold_start, list_cost, operations

PROJECT_DIR = Path(__file__).resolve().parent.parent
#: Chalice's default (128) up to one full vCPU.
SIZES_MB = (128, 256, 512, 1024, 1769)
#: CI's quick run: the dev stage's size, enough to show the quota works (the full run
#: measures every size).
QUICK_SIZES_MB = (512,)
#: Lambda's memory size with exactly one vCPU.
FULL_VCPU_MB = 1769
PERIOD_US = 100_000
CGROUP_ROOT = Path("/sys/fs/cgroup/cpu")
#: Where the init runs: under the size's quota, or at full CPU (see the docstring).
INIT_MODES = ("quota", "burst")
#: (warm requests per operation, cold-start pairs per init mode): a p99 needs 100.
RUNS = {"full": (100, 9), "quick": (6, 3)}
#: Tasks loaded: the measured owner's 50 fill a list page and start a second.
TASKS = 100
SEED = 1
PAGE = 25

#: Lambda's context object at the measured size. ``bench.cold_start``'s app script builds
#: it after ``import app``, just before the first request: in ``burst`` mode the process
#: joins the quota's group there (a test holds that order).
_CONTEXT = """
import os as _os


class Context(Context):
    memory_limit_in_mb = int(_os.environ["BENCH_MEMORY_MB"])

    def __init__(self):
        procs = _os.environ.get("BENCH_CGROUP_PROCS")
        if procs:
            with open(procs, "w") as group:
                group.write(str(_os.getpid()))
"""
APP_SCRIPT = _CONTEXT + cold_start._APP
FLOOR_SCRIPT = _CONTEXT + cold_start._FLOOR


def quota_us(size_mb: int, period_us: int = PERIOD_US) -> int:
    """The CPU time per period that Lambda's share at ``size_mb`` amounts to."""
    return round(period_us * size_mb / FULL_VCPU_MB)


def unavailable(root: Path | None = None) -> str | None:
    """Why no CPU quota can be set under ``root`` (``CGROUP_ROOT``), or None when one can."""
    root = root or CGROUP_ROOT
    if not (root / "cpu.cfs_quota_us").is_file():
        return f"{root} has no cpu.cfs_quota_us (no cgroup v1 `cpu` controller mounted there)"
    if not os.access(root, os.W_OK):
        return f"{root} is not writable (creating a cgroup needs root)"
    probe = root / f"task-api-bench-probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as error:
        return f"cannot create a cgroup in {root}: {error}"
    return None


@dataclass(frozen=True)
class Quota:
    """A cgroup holding its processes to one memory size's CPU share."""

    size_mb: int
    path: Path
    quota_us: int
    period_us: int

    @property
    def procs(self) -> Path:
        return self.path / "cgroup.procs"

    def enter(self) -> None:
        """Move the calling process in (as ``preexec_fn``: the child, before exec)."""
        self.procs.write_text(str(os.getpid()))


def cpu_group(membership: str | None = None) -> str:
    """The name of this process's group in the ``cpu`` hierarchy ("" for the root), or the
    group that ``membership`` (a /proc/PID/cgroup's text) names."""
    if membership is None:
        membership = Path("/proc/self/cgroup").read_text()
    for line in membership.splitlines():
        _, controllers, group = line.split(":", 2)
        if "cpu" in controllers.split(","):
            return group.rstrip("/").rsplit("/", 1)[-1]
    return ""


@contextlib.contextmanager
def cpu_quota(
    size_mb: int, root: Path | None = None, period_us: int = PERIOD_US
) -> Iterator[Quota]:
    """A fresh group for ``size_mb`` (its name carries our pid: runs side by side do not
    meet), removed afterwards, also when the measurement fails."""
    root = root or CGROUP_ROOT
    path = root / f"task-api-bench-{size_mb}-{os.getpid()}"
    path.mkdir()
    try:
        (path / "cpu.cfs_period_us").write_text(str(period_us))
        (path / "cpu.cfs_quota_us").write_text(str(quota_us(size_mb, period_us)))
        yield Quota(size_mb, path, quota_us(size_mb, period_us), period_us)
    finally:
        _remove(path, root)


def _remove(path: Path, root: Path) -> None:
    """rmdir needs an empty group: a process left inside (a failed run's) goes back to
    the root group first."""
    procs = path / "cgroup.procs"
    for pid in procs.read_text().split() if procs.exists() else ():
        with contextlib.suppress(OSError):  # it may have exited meanwhile
            (root / "cgroup.procs").write_text(pid)
    path.rmdir()


#: A cold-start interpreter: its script, its environment, what puts it under the quota.
_Run = tuple[str, dict[str, str], Callable[[], None] | None]


def cold_starts(
    quota: Quota, environment: dict[str, str], runs: int, modes: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Per init mode: ``runs`` floor and app interpreters, alternating, summarised as
    ``bench.cold_start`` does, plus init alone over the floor."""
    sized = {**environment, "BENCH_MEMORY_MB": str(quota.size_mb)}
    results = {}
    plan: tuple[_Run, _Run]
    for mode in modes:
        if mode == "quota":
            plan = ((FLOOR_SCRIPT, sized, quota.enter), (APP_SCRIPT, sized, quota.enter))
        elif mode == "burst":  # both join the group after init, before the first request
            burst = {**sized, "BENCH_CGROUP_PROCS": str(quota.procs)}
            plan = ((FLOOR_SCRIPT, burst, None), (APP_SCRIPT, burst, None))
        else:
            raise ValueError(f"init mode {mode!r}: one of {INIT_MODES}")
        floor: dict[str, list[float]] = {}
        app: dict[str, list[float]] = {}
        for _ in range(runs):
            for figures, (script, variables, enter) in zip((floor, app), plan, strict=True):
                for name, values in cold_start.measure(script, variables, 1, enter).items():
                    figures.setdefault(name, []).extend(values)
        summary = cold_start.summarise(floor, app)
        summary["init_ratio"] = round(
            cold_start.median_paired_ratio(app["import"], floor["import"]), 2
        )
        results[mode] = summary
    return results


def warm(quota: Quota, endpoint_url: str, runs: int) -> dict[str, dict[str, Any]]:
    """Every operation's latency in a child process under ``quota`` (``_warm_child``)."""
    child = ["--runs", str(runs), "--warm-child", endpoint_url, str(quota.procs)]
    process = subprocess.run(
        [sys.executable, "-m", "bench.memory", *child],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
    )
    if process.returncode != 0:
        raise RuntimeError(f"warm requests at {quota.size_mb} MB failed:\n{process.stderr}")
    measured: dict[str, dict[str, Any]] = json.loads(process.stdout.strip().splitlines()[-1])
    return {
        name: {
            "p50_ms": figures["latency_ms"]["p50"],
            "p99_ms": figures["latency_ms"]["p99"],
            "runs": figures["latency_ms"]["runs"],
            "requests": figures["requests"],
            "read_units": figures["read_units"],
            "write_units": figures["write_units"],
        }
        for name, figures in measured.items()
        if "latency_ms" in figures  # not the stream consumer's cost: no client waits on it
    }


def _warm_child(endpoint_url: str, procs: Path, runs: int) -> int:
    """Set up at full CPU (import, client, first request: that is the cold start, measured
    apart), then join the group and measure warm requests."""
    with operations.app_on(endpoint_url) as bench:
        bench.call("GET", "/tasks/warm-up", operations.WRITER)
        procs.write_text(str(os.getpid()))
        if cpu_group() != procs.parent.name:
            raise SystemExit(f"not in {procs.parent} after joining it")
        figures = operations.measure(bench, list_cost.MEASURED_OWNER, runs)
    print(json.dumps(figures))
    return 0


def _say(message: str) -> None:
    print(f"\n*** {message} ***\n", file=sys.stderr, flush=True)


def measure(
    sizes: Sequence[int] = SIZES_MB,
    runs: int = RUNS["full"][0],
    cold_runs: int = RUNS["full"][1],
    modes: Sequence[str] = INIT_MODES,
    root: Path | None = None,
) -> dict[str, Any]:
    """Every size on one fresh DynamoDB Local; ``{"measured": False, "reason": ...}``
    (said loudly) where quotas are unavailable."""
    root = root or CGROUP_ROOT
    reason = unavailable(root)
    if reason is not None:
        _say(f"MEMORY SIZES NOT MEASURED: {reason}. The per-memory-size part is skipped")
        return {"measured": False, "reason": reason}
    from tools import dynamodb_local

    started = time.perf_counter()
    rows = []
    with (
        dynamodb_local.running() as engine,
        tempfile.TemporaryDirectory(prefix="memory-bytecode-") as cache,
    ):
        environment = cold_start.stage_environment(engine.endpoint_url)
        table = operations.stage_table()
        if environment["TASKS_TABLE_NAME"] != table:
            raise AssertionError("the cold start and the operations use different tables")
        pairs = list_cost.make_tasks(TASKS, SEED, descriptions="typical")
        list_cost.load_and_measure(engine.client(), table, pairs, PAGE)
        environment = cold_start.prepared(environment, Path(cache))
        for size in sizes:
            with cpu_quota(size, root) as quota:
                rows.append(
                    {
                        "memory_mb": size,
                        "cpu_quota_us": quota.quota_us,
                        "cpu_period_us": quota.period_us,
                        "vcpu": round(size / FULL_VCPU_MB, 3),
                        "cold_start": cold_starts(quota, environment, cold_runs, modes),
                        "operations": warm(quota, engine.endpoint_url, runs),
                    }
                )
            print(f"memory {size} MB: measured", file=sys.stderr, flush=True)
    return {
        "measured": True,
        "cgroup_root": str(root),
        "init_modes": list(modes),
        "runs": runs,
        "cold_start_runs": cold_runs,
        "sizes": rows,
        "seconds": round(time.perf_counter() - started, 1),
    }


def table(results: dict[str, Any]) -> str:
    """A plain-text summary for the terminal."""
    if not results["measured"]:
        return f"not measured: {results['reason']}"
    lines = []
    for row in results["sizes"]:
        lines.append(f"{row['memory_mb']} MB ({row['vcpu']:g} vCPU, {row['cpu_quota_us']} us):")
        for mode, cold in row["cold_start"].items():
            lines.append(
                f"  cold start, init {mode}: init {cold['app_import_ms']:g} ms, first request "
                f"{cold['app_first_request_ms']:g} ms, floor {cold['floor_ms']:g} ms; "
                f"init/floor {cold['init_ratio']:g}x, total/floor {cold['ratio']:g}x"
            )
        for name in ("create", "get", "patch", "delete", "list page"):
            op = row["operations"][name]
            lines.append(f"  {name}: p50 {op['p50_ms']:g} ms, p99 {op['p99_ms']:g} ms")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="CI's sizes and counts")
    parser.add_argument("--sizes", help="memory sizes in MB, e.g. 128,1024")
    parser.add_argument("--runs", type=int, help="warm requests per operation")
    parser.add_argument("--cold-runs", type=int, help="cold-start pairs per init mode")
    parser.add_argument("--init", choices=(*INIT_MODES, "both"), default="both")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--warm-child", nargs=2, help=argparse.SUPPRESS)  # endpoint, procs
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    if args.warm_child:
        endpoint_url, procs = args.warm_child
        return _warm_child(endpoint_url, Path(procs), args.runs or RUNS[mode][0])
    default_sizes = QUICK_SIZES_MB if args.quick else SIZES_MB
    results = measure(
        [int(s) for s in args.sizes.split(",")] if args.sizes else default_sizes,
        args.runs or RUNS[mode][0],
        args.cold_runs or RUNS[mode][1],
        INIT_MODES if args.init == "both" else (args.init,),
    )
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if results["measured"] else 1


if __name__ == "__main__":
    sys.exit(main())
