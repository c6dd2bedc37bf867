"""Spectral on the API document: its OpenAPI rules and the OWASP API Security Top 10 rules
(`.spectral.yaml`), with no finding left at any severity.

Spectral and the OWASP ruleset come from npm, at the versions tools/spectral/ pins (with
its lockfile), installed by `npm ci` into .cache/spectral/ on the first run and again when
the lockfile changes. Without Node.js and npm the tests skip, loudly; under CI they fail.
`make spectral` runs this file alone.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import PROJECT_DIR, _in_ci

#: Starts another program (a server, a CLI or a browser): not in `make check`.
pytestmark = pytest.mark.external

RULESET = PROJECT_DIR / ".spectral.yaml"
DOCUMENT = "openapi.json"  # what the ruleset's exceptions name, relative to it
MANIFESTS = PROJECT_DIR / "tools" / "spectral"
CACHE = PROJECT_DIR / ".cache" / "spectral"
SPECTRAL_NOT_RUN = "Spectral did NOT run: Node.js and npm are needed on PATH"


def _installed_marker() -> Path:
    lock = (MANIFESTS / "package-lock.json").read_bytes()
    return CACHE / f".installed-{hashlib.sha256(lock).hexdigest()[:16]}"


def ensure_spectral() -> Path:
    """The spectral binary, installed with `npm ci` from the pinned lockfile if needed.
    A lock file keeps two test runs from installing into the same folder at once."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        if _in_ci():
            pytest.fail(SPECTRAL_NOT_RUN + " and CI must run it")
        pytest.skip(SPECTRAL_NOT_RUN + " (Debian: apt-get install -y npm)")
    binary = CACHE / "node_modules" / ".bin" / "spectral"
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = _installed_marker()
        if not (marker.exists() and binary.exists()):
            for stale in CACHE.glob(".installed-*"):
                stale.unlink()
            for name in ("package.json", "package-lock.json"):
                shutil.copyfile(MANIFESTS / name, CACHE / name)
            # --ignore-scripts: nothing here needs an install script (one only reports usage).
            command = ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"]
            done = subprocess.run(
                command, cwd=CACHE, capture_output=True, text=True, timeout=600, check=False
            )
            assert done.returncode == 0, f"npm ci failed:\n{done.stdout}{done.stderr}"
            marker.touch()
    return binary


def lint(ruleset: Path) -> list[dict[str, Any]]:
    """Spectral's findings on openapi.json, every severity, as JSON."""
    # The ruleset extends an npm package, which Spectral resolves like Node's require.
    env = {**os.environ, "NODE_PATH": str(CACHE / "node_modules")}
    command = [str(ensure_spectral()), "lint", DOCUMENT, "--ruleset", str(ruleset)]
    command += ["--format", "json", "--fail-severity", "hint", "--quiet"]
    done = subprocess.run(
        command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode in (0, 1), f"spectral failed:\n{done.stdout}{done.stderr}"
    return json.loads(done.stdout) if done.stdout.strip() else []


def readable(findings: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{f['code']}: {'.'.join(map(str, f['path']))}: {f['message']}" for f in findings
    )


def test_the_document_has_no_finding_left() -> None:
    """Fix the document; where a rule does not apply, except it in .spectral.yaml with
    the reason."""
    findings = lint(RULESET)
    assert findings == [], readable(findings)


def _pointer_path(pattern: str) -> list[str]:
    """``openapi.json#/a/b~1c`` as a path: ["a", "b/c"] (RFC 6901, URI fragment form)."""
    fragment = pattern.split("#", 1)[1]
    return [
        urllib.parse.unquote(part).replace("~1", "/").replace("~0", "~")
        for part in fragment.split("/")[1:]
    ]


def _off(setting: Any) -> bool:
    """A rule turned off: PyYAML (YAML 1.1) reads ``off`` as false; Spectral, "off"."""
    return setting is False or setting == "off"


def test_every_exception_is_still_needed(tmp_path: Path) -> None:
    """Without its exceptions, the ruleset finds something at each of them: an exception
    that no longer hides a finding goes (a stale one would hide the next real finding)."""
    ruleset = yaml.safe_load(RULESET.read_text())
    bare = tmp_path / "bare.yaml"
    bare.write_text(yaml.safe_dump({"extends": ruleset["extends"]}))
    findings = lint(bare)
    found = {(f["code"], tuple(map(str, f["path"]))) for f in findings}
    excepted_rules = {name for name, setting in ruleset.get("rules", {}).items() if _off(setting)}
    assert excepted_rules, "the ruleset turns off no rule: drop this part of the test"
    for rule in excepted_rules:
        assert any(code == rule for code, _ in found), f"{rule} is off but finds nothing"
    for override in ruleset["overrides"]:
        for pattern in override["files"]:
            assert pattern.startswith(DOCUMENT + "#/"), pattern
            prefix = tuple(_pointer_path(pattern))
            for rule, setting in override["rules"].items():
                assert _off(setting), (pattern, rule)
                hidden = [p for code, p in found if code == rule and p[: len(prefix)] == prefix]
                assert hidden, f"{rule} finds nothing at {pattern}: remove the exception"
