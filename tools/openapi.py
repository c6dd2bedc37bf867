"""Write or check the committed copy of the API document, ``openapi.json``.

The copy is what a deployed stage serves at GET /openapi.json, fetched from the app
itself through Chalice's test client, so it can only ever be the served document.

    python -m tools.openapi            # write openapi.json (make openapi)
    python -m tools.openapi --check    # exit 1 if openapi.json differs from the app
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import warnings
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
COMMITTED = PROJECT_DIR / "openapi.json"
#: A deployed stage: tokens are required (the local stage also admits anonymous requests).
DEPLOYED_STAGE = "dev"


def served(stage: str = DEPLOYED_STAGE) -> dict[str, Any]:
    """GET /openapi.json from the app, configured as ``stage``."""
    from chalice.test import Client

    from app import app

    telemetry = io.StringIO()  # the request's log line and metrics: not this tool's output
    with warnings.catch_warnings(), contextlib.redirect_stdout(telemetry):
        warnings.simplefilter("ignore")
        with Client(app, stage_name=stage) as client:
            response = client.http.get("/openapi.json")
    if response.status_code != 200:
        raise RuntimeError(f"GET /openapi.json answered {response.status_code}")
    return json.loads(response.body)


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    text = render(served())
    if args.check:
        if not COMMITTED.exists() or COMMITTED.read_text() != text:
            print("openapi.json differs from what the app serves: run `make openapi`.")
            return 1
        print("openapi.json matches what the app serves.")
        return 0
    COMMITTED.write_text(text)
    print(f"wrote {COMMITTED}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
