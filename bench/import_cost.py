"""What the contract costs at import: the app, jsonschema, the document builder.

Each figure is the median of fresh interpreters (``--runs``), so no module is cached.
The app imports neither jsonschema (first write) nor the document builder (first GET
/openapi.json); this shows what those first requests add.

    .venv/bin/python -m bench.import_cost [--runs 9]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
_PROBE = """
import time
t0 = time.perf_counter(); import app; t1 = time.perf_counter()
import jsonschema; t2 = time.perf_counter()
from chalicelib.core import openapi; t3 = time.perf_counter()
openapi.document(app.app.routes); t4 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3)
"""
STEPS = (
    "import app",
    "then import jsonschema",
    "then import chalicelib.core.openapi",
    "build document",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    runs = parser.parse_args(argv).runs
    samples = []
    for _ in range(runs):
        output = subprocess.run(
            [sys.executable, "-c", _PROBE], cwd=PROJECT_DIR, capture_output=True, text=True
        ).stdout
        samples.append([float(value) * 1000 for value in output.split()])
    for step, column in zip(STEPS, zip(*samples, strict=True), strict=True):
        print(
            f"{step}: median {statistics.median(column):.1f} ms "
            f"(min {min(column):.1f}, max {max(column):.1f}, runs {runs})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
