"""``make scan``: checkov on both deployable formats of each deployed stage, and on the
account's Terraform piece, offline.

CloudFormation carries its accepted findings as resource Metadata, which checkov applies
itself. checkov's terraform_json runner ignores inline skips and cannot apply override
files, so Terraform is scanned merged (``infra.tfjson``) and ``ACCEPTED_FINDINGS`` is
applied here, by resource address. checkov pins a boto3 the project cannot use, so it
lives in a venv of its own, ``.cache/checkov-venv``.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra import definitions as d
from infra import tfjson
from infra.package import package, package_account
from infra.stages import DEPLOYED_STAGES, PROJECT_DIR, Stage, stage

CHECKOV_VERSION = "3.3.30"
#: checkov's dependencies resolve as PyPI stood then (uv's --exclude-newer): pinned in time.
CHECKOV_RESOLVED_AT = "2026-11-30T00:00:00Z"
CHECKOV_VENV = PROJECT_DIR / ".cache" / "checkov-venv"
CHECKOV = CHECKOV_VENV / "bin" / "checkov"
#: Written once pip has finished, so an interrupted install or a new pin installs again.
_INSTALLED = CHECKOV_VENV / f".installed-checkov-{CHECKOV_VERSION}-{CHECKOV_RESOLVED_AT[:10]}"
TIMEOUT_SECONDS = 300

#: What checkov reads, relative to ``build/<stage>`` (its working directory). Relative on
#: purpose: checkov's CloudFormation parser puts the path into every mapping as
#: ``__file__``, and CKV_AWS_45 reads an absolute path with 40 letters and slashes before
#: ``.json`` as an AWS secret key in the function's environment.
SAM = "cloudformation/sam.json"
SAM_UNSUPPRESSED = "checkov/sam_unsuppressed.json"  # no Metadata: which skips still matter
TERRAFORM = "checkov/terraform/main.tf.json"

_KEY = re.compile(r'^( *)("(?:[^"\\]|\\.)*"): ')


@dataclass(frozen=True)
class Finding:
    check_id: str
    resource: str
    text: str  # the check's name when failed, the reason when skipped


@dataclass
class Report:
    """One stage in one format."""

    label: str
    passed: int = 0
    failed: list[Finding] = field(default_factory=list)
    skipped: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        counts = f"{self.passed} passed, {len(self.failed)} failed, {len(self.skipped)} skipped"
        out = [f"{self.label}: {counts}" + (f", {len(self.errors)} errors" if self.errors else "")]
        out += [f"  FAILED  {f.check_id} {f.resource}: {f.text}" for f in self.failed]
        out += [f"  ERROR   {error}" for error in self.errors]
        out += [f"  skipped {f.check_id} {f.resource}: {f.text}" for f in self.skipped]
        return out


def ensure_checkov() -> Path:
    """checkov in its own venv: it pins boto3 1.35, which the project's venv cannot share.
    uv installs it, resolving checkov's own dependencies as PyPI stood on
    CHECKOV_RESOLVED_AT, so every machine and CI run gets the same versions."""
    if not (_INSTALLED.exists() and CHECKOV.exists()):
        where = CHECKOV_VENV.relative_to(PROJECT_DIR)
        print(f"installing checkov {CHECKOV_VERSION} into {where} (once, about 5 s)", flush=True)
        uv = str(Path(sys.executable).parent / "uv")  # the Makefile installs it first
        subprocess.run(
            [uv, "venv", "--quiet", "--clear", "--python", sys.executable, str(CHECKOV_VENV)],
            check=True,
        )
        subprocess.run(
            [
                uv,
                "pip",
                "install",
                "--quiet",
                "--python",
                str(CHECKOV_VENV / "bin" / "python"),
                "--exclude-newer",
                CHECKOV_RESOLVED_AT,
                f"checkov=={CHECKOV_VERSION}",
            ],
            check=True,
        )
        _INSTALLED.touch()
    return CHECKOV


def accepted(target: Stage, group: str) -> dict[str, str]:
    return d.accepted_findings(group, target)


def terraform_group(address: str) -> str | None:
    return next(
        (g for p, g in d.FINDING_GROUPS_TERRAFORM.items() if fnmatch.fnmatch(address, p)), None
    )


def resource_lines(text: str) -> dict[int, str]:
    """Line number -> address of each resource block of JSON written with ``indent=1``.

    checkov's terraform_json runner names a resource ``resource.<name>``, without its type
    (``api_handler`` is a function and a log group), but it gives the block's first line.
    """
    found: dict[int, str] = {}
    top = kind = ""
    for number, line in enumerate(text.splitlines(), 1):
        if match := _KEY.match(line):
            depth, key = len(match.group(1)), json.loads(match.group(2))
            if depth == 1:
                top = key
            elif depth == 2:
                kind = key
            elif depth == 3 and top == "resource":
                found[number] = f"{kind}.{key}"
    return found


def _merged_terraform(build: Path, terraform_dir: Path) -> tuple[dict[int, str], list[str]]:
    """Write ``terraform_dir`` merged to ``build/<TERRAFORM>``: its resource lines, and the
    merge errors."""
    shutil.rmtree(build / "checkov", ignore_errors=True)
    (build / TERRAFORM).parent.mkdir(parents=True)
    merged, errors = tfjson.load(terraform_dir)
    text = json.dumps(tfjson.scannable(merged), indent=1)
    (build / TERRAFORM).write_text(text)
    return resource_lines(text), [f"merging Terraform: {e}" for e in errors]


def prepare_account() -> tuple[Path, dict[int, str], list[str]]:
    """The account's piece (``build/account``), merged like a stage's Terraform."""
    build = package_account().parent
    return build, *_merged_terraform(build, build / "terraform")


def prepare(name: str) -> tuple[Path, dict[int, str], list[str]]:
    """Package the stage and write the merged Terraform and the unsuppressed SAM template.

    Returns ``build/<stage>``, the merged file's resource lines and the merge errors."""
    sam_dir, terraform_dir = package(name)
    build = sam_dir.parent
    lines, errors = _merged_terraform(build, terraform_dir)
    template = json.loads((build / SAM).read_text())
    for resource in template.get("Resources", {}).values():
        resource.pop("Metadata", None)
    (build / SAM_UNSUPPRESSED).write_text(json.dumps(template, indent=1))
    return build, lines, errors


def start_checkov(checkov: Path, build: Path, *, sam: bool = True) -> subprocess.Popen[str]:
    """checkov on a stage's files, or (``sam=False``) on the account's Terraform only."""
    command = [str(checkov), "--skip-download", "-o", "json", "--framework"]
    command += ["cloudformation", "terraform_json"] if sam else ["terraform_json"]
    command += ["-f", SAM, "-f", SAM_UNSUPPRESSED] if sam else []
    command += ["-f", TERRAFORM]
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}  # no platform look-ups either
    return subprocess.Popen(
        command, cwd=build, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def checkov_output(process: subprocess.Popen[str]) -> tuple[dict[str, Any], list[str]]:
    """checkov's reports by framework, or why there are none. Exit 1 means failed checks."""
    try:
        out, err = process.communicate(timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return {}, [f"checkov took more than {TIMEOUT_SECONDS} s"]
    tail = " | ".join(err.strip().splitlines()[-3:])
    try:
        reports = json.loads(out)
    except json.JSONDecodeError:
        return {}, [f"checkov exited {process.returncode} without JSON: {tail}"]
    if process.returncode not in (0, 1):
        return {}, [f"checkov exited {process.returncode}: {tail}"]
    reports = reports if isinstance(reports, list) else [reports]
    return {r.get("check_type"): r for r in reports}, []


def _checks(report: dict[str, Any], kind: str, path: str) -> list[dict[str, Any]]:
    checks = report.get("results", {}).get(kind, [])
    return [c for c in checks if c["file_path"].lstrip("/") == path]


def _parsing_errors(report: dict[str, Any]) -> list[str]:
    paths = report.get("results", {}).get("parsing_errors", [])
    return [f"checkov could not parse {path}" for path in paths]


def _nothing_checked(result: Report, path: str) -> None:
    if not (result.passed or result.failed or result.skipped):
        result.errors.append(f"checkov checked nothing in {path}")


def cloudformation_report(
    target: Stage, report: dict[str, Any], fired: set[tuple[str, str]]
) -> Report:
    """checkov applied the template's skips; the unsuppressed copy shows which still fire."""
    result = Report(f"{target.name} cloudformation", errors=_parsing_errors(report))
    result.passed = len(_checks(report, "passed_checks", SAM))
    for check in _checks(report, "failed_checks", SAM):
        result.failed.append(Finding(check["check_id"], check["resource"], check["check_name"]))
    for check in _checks(report, "skipped_checks", SAM):
        reason = check["check_result"].get("suppress_comment", "")
        result.skipped.append(Finding(check["check_id"], check["resource"], reason))
    for check in _checks(report, "failed_checks", SAM_UNSUPPRESSED):
        logical = check["resource"].split(".", 1)[-1]
        if group := d.FINDING_GROUPS_CLOUDFORMATION.get(logical):
            fired.add((group, check["check_id"]))
    _nothing_checked(result, SAM)
    return result


def terraform_report(
    target: Stage | None,
    report: dict[str, Any],
    lines: dict[int, str],
    fired: set[tuple[str, str]],
) -> Report:
    """Failed checks on resources whose group accepts them are skips, with the reason.
    ``target`` None: the account's piece, which accepts nothing."""
    label = target.name if target else "account"
    result = Report(f"{label} terraform", errors=_parsing_errors(report))
    result.passed = len(_checks(report, "passed_checks", TERRAFORM))
    for check in _checks(report, "skipped_checks", TERRAFORM):
        reason = check["check_result"].get("suppress_comment", "")
        result.skipped.append(Finding(check["check_id"], check["resource"], reason))
    for check in _checks(report, "failed_checks", TERRAFORM):
        check_id, address = check["check_id"], check["resource"]
        if address.startswith("resource."):
            found = lines.get(check["file_line_range"][0], "")
            # Unmatched, the address stays "resource.<name>": in no group, so it fails.
            address = found if found.endswith("." + address.split(".", 1)[1]) else address
        group = terraform_group(address) if target else None
        reason = accepted(target, group).get(check_id) if target and group else None
        if group:
            fired.add((group, check_id))
        if reason:
            result.skipped.append(Finding(check_id, address, reason))
        else:
            result.failed.append(Finding(check_id, address, check["check_name"]))
    _nothing_checked(result, TERRAFORM)
    return result


def stale_findings(names: list[str], fired: set[tuple[str, str]]) -> list[str]:
    """Accepted findings that no scanned template fails, in either format."""
    groups = set(d.FINDING_GROUPS_TERRAFORM.values()) | set(
        d.FINDING_GROUPS_CLOUDFORMATION.values()
    )
    wanted = {
        (group, check_id)
        for name in names
        for group in groups
        for check_id in accepted(stage(name), group)
    }
    return [
        f"info: {check_id} is accepted for {group} but fails nowhere ({', '.join(names)}): stale?"
        for group, check_id in sorted(wanted - fired)
    ]


def scan(names: list[str]) -> int:
    checkov = ensure_checkov()
    running = []
    for name in names:  # each stage's checkov runs while the next stage is packaged
        build, lines, errors = prepare(name)
        running.append((stage(name), lines, errors, start_checkov(checkov, build)))
    build, account_lines, account_errors = prepare_account()
    account = start_checkov(checkov, build, sam=False)
    fired: set[tuple[str, str]] = set()
    results: list[Report] = []
    for target, lines, merge_errors, process in running:
        reports, errors = checkov_output(process)
        cloudformation = cloudformation_report(target, reports.get("cloudformation", {}), fired)
        terraform = terraform_report(target, reports.get("terraform_json", {}), lines, fired)
        cloudformation.errors += errors
        terraform.errors += merge_errors + errors
        results += [cloudformation, terraform]
    reports, errors = checkov_output(account)
    results.append(terraform_report(None, reports.get("terraform_json", {}), account_lines, fired))
    results[-1].errors += account_errors + errors
    for result in results:
        print("\n".join(result.lines()))
    failed = sum(len(r.failed) for r in results)
    errors = sum(len(r.errors) for r in results)
    if not errors:  # a template checkov could not read fires nothing: no stale guesses
        for line in stale_findings(names, fired):
            print(line)
    print(f"scan: {failed} failed checks, {errors} errors in {len(results)} reports")
    return 1 if failed or errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--stage",
        action="append",
        choices=DEPLOYED_STAGES,
        help="a stage to scan (repeatable; default: every deployed stage)",
    )
    args = parser.parse_args(argv)
    return scan(list(dict.fromkeys(args.stage or DEPLOYED_STAGES)))


if __name__ == "__main__":
    sys.exit(main())
