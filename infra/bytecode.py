"""Compiled bytecode in the deployment package.

Lambda's code directory is read-only, so Python cannot cache what it compiles there: with no
``.pyc`` in the zip, every cold start compiles ``app.py``, ``chalicelib`` and every vendored
library (jsonschema, attrs, referencing ...) from source again. ``with_bytecode`` adds a
``__pycache__/<module>.<cache tag>.pyc`` beside each ``.py`` of Chalice's zip.

The ``.pyc`` files are *unchecked-hash* ones: Python loads them without comparing them with
the source, whose timestamps the zip does not keep (Chalice writes every entry as of
1980-01-01). The package never changes once built, so they cannot go stale.

The rewritten zip is as reproducible as Chalice's: entries in their order, fixed
timestamps, and bytecode compiled in a child interpreter with a fixed hash seed (set and
frozenset constants keep their order) under Lambda's own path (``/var/task``, which
tracebacks then name). Packaging the same code twice gives the same bytes, so Terraform
publishes no new version.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

#: What the runtime imports: ``python3.11`` reads ``cpython-311`` bytecode only.
CACHE_TAG = sys.implementation.cache_tag
#: Where Lambda unpacks the zip: the file names that tracebacks show.
LAMBDA_TASK_ROOT = "/var/task"

_COMPILE = """
import compileall, py_compile, sys
ok = compileall.compile_dir(
    sys.argv[1], ddir=sys.argv[2], quiet=2, workers=1,
    invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
)
sys.exit(0 if ok else 1)
"""


def require_cache_tag(runtime: str) -> None:
    """Bytecode is per Python version: compiled by another one, the runtime would ignore it."""
    wanted = "cpython-" + runtime.removeprefix("python").replace(".", "")
    if wanted != CACHE_TAG:
        raise SystemExit(
            f"The functions run {runtime}, whose bytecode is {wanted}, but this Python writes "
            f"{CACHE_TAG}: package with Python {runtime.removeprefix('python')}"
        )


def _compiled(sources: Path) -> None:
    environment = {**os.environ, "PYTHONHASHSEED": "0", "SOURCE_DATE_EPOCH": "315532800"}
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run(
        [sys.executable, "-I", "-c", _COMPILE, str(sources), LAMBDA_TASK_ROOT],
        env=environment,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def with_bytecode(package: Path, runtime: str) -> int:
    """Rewrite ``package`` (a zip) with each module's bytecode beside it; return how many
    ``.pyc`` files it gained. A zip that has them already is left as it is."""
    require_cache_tag(runtime)
    with zipfile.ZipFile(package) as original:
        entries = original.infolist()
        if any(e.filename.endswith(".pyc") for e in entries):
            return 0
        with tempfile.TemporaryDirectory() as scratch:
            root = Path(scratch)
            sources = [e for e in entries if e.filename.endswith(".py")]
            for entry in sources:
                original.extract(entry, root)
            _compiled(root)
            rewritten = package.with_suffix(".tmp")
            added = 0
            with zipfile.ZipFile(rewritten, "w", zipfile.ZIP_DEFLATED) as out:
                for entry in entries:
                    out.writestr(entry, original.read(entry), entry.compress_type)
                    if not entry.filename.endswith(".py"):
                        continue
                    source = Path(entry.filename)
                    cached = source.parent / "__pycache__" / f"{source.stem}.{CACHE_TAG}.pyc"
                    info = zipfile.ZipInfo(cached.as_posix(), date_time=entry.date_time)
                    info.external_attr = entry.external_attr
                    out.writestr(info, (root / cached).read_bytes(), zipfile.ZIP_DEFLATED)
                    added += 1
    rewritten.replace(package)
    return added
