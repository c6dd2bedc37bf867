"""``make terraform-validate``: ``terraform init`` and ``terraform validate`` on each stage's
Terraform package and on the account's piece, offline.

The AWS provider comes from a filesystem mirror (the registry is not reachable here), named
in a CLI configuration of our own: ``TF_CLI_CONFIG_FILE`` is pointed at it, so nothing is
downloaded, and a configuration that needs any other provider fails ``init``. Each
directory is validated in a copy under ``.cache/terraform-validate/``, so the lock file and
``.terraform/`` that ``init`` writes never mix with the state and lock file of a user's
``build/<stage>/terraform``. The directories are validated in parallel, one ``init`` each;
an unpacked mirror is linked, not copied (a packed one is unpacked once, into a plugin cache).

Without Terraform or the mirror this says so loudly and exits 0, except under ``CI=true``,
where it fails: CI must validate.

On a machine that reaches Terraform's registry (GitHub's runners: .github/workflows/ci.yml)
and has no mirror, ``TASKS_TERRAFORM_REGISTRY=1`` lets ``terraform providers mirror``
download the provider once, into a mirror under ``.cache/terraform-validate/``, which is then
used as above. Nothing sets it on this project's machines, which stay offline.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from infra.stages import DEPLOYED_STAGES, PROJECT_DIR
from infra.terraform import REQUIRED_PROVIDERS

PROVIDER = "registry.terraform.io/hashicorp/aws"
#: Set to the directory that holds ``registry.terraform.io/`` to use another mirror.
MIRROR_ENV = "TASKS_TERRAFORM_MIRROR"
#: Where a mirror is looked for: this machine image's, then Terraform's implied local
#: mirror directories on Linux.
MIRROR_CANDIDATES = (
    Path("/opt/tf-plugins"),
    Path.home() / ".terraform.d" / "plugins",
    Path.home() / ".local" / "share" / "terraform" / "plugins",
    Path("/usr/local/share/terraform/plugins"),
    Path("/usr/share/terraform/plugins"),
)
WORK_DIR = PROJECT_DIR / ".cache" / "terraform-validate"
#: Set to 1 to let ``terraform providers mirror`` download the provider when no mirror is
#: found (a machine that reaches Terraform's registry); unset, nothing is downloaded.
REGISTRY_ENV = "TASKS_TERRAFORM_REGISTRY"
#: Where that download goes, unpacked (so that parallel ``init`` runs link it).
DOWNLOADED_MIRROR = WORK_DIR / "mirror"
TIMEOUT_SECONDS = 300
SKIPPED = "Terraform validate did NOT run"


@dataclass(frozen=True)
class Tools:
    terraform: Path
    mirror: Path  # the directory that holds registry.terraform.io/

    @property
    def packed(self) -> bool:
        """A mirror of zip archives, which ``init`` would unpack into every directory."""
        return any((self.mirror / PROVIDER).glob("*.zip"))


@dataclass
class Result:
    label: str
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.warnings

    def lines(self) -> list[str]:
        verdict = "valid" if self.ok else "NOT valid"
        out = [f"{self.label}: {verdict} ({self.seconds:.1f} s)"]
        out += [f"  ERROR   {e}" for e in self.errors]
        return out + [f"  WARNING {w}" for w in self.warnings]


def _has_provider(directory: Path) -> bool:
    return (directory / PROVIDER).is_dir() and any((directory / PROVIDER).iterdir())


def find_mirror() -> Path | None:
    configured = os.environ.get(MIRROR_ENV)
    candidates = [Path(configured)] if configured else list(MIRROR_CANDIDATES)
    return next((path for path in candidates if _has_provider(path)), None)


def registry_allowed() -> bool:
    return os.environ.get(REGISTRY_ENV, "").lower() in {"1", "true", "yes"}


def download_mirror(terraform: Path, target: Path = DOWNLOADED_MIRROR) -> Path | str:
    """``target``, holding the provider unpacked: downloaded by ``terraform providers
    mirror`` from the registry unless an earlier run (or a concurrent one, under the same
    lock) did. The error's text when the download fails."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / "mirror.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _has_provider(target):
            return target
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".mirror-") as tmp:
            config, packed, unpacked = Path(tmp) / "config", Path(tmp) / "packed", Path(tmp) / "out"
            config.mkdir()
            document = {"terraform": {"required_providers": REQUIRED_PROVIDERS}}
            (config / "main.tf.json").write_text(json.dumps(document))
            environment = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
            done = subprocess.run(
                [str(terraform), "providers", "mirror", str(packed)],
                cwd=config,
                env=environment | {"CHECKPOINT_DISABLE": "1"},
                capture_output=True,
                text=True,
                timeout=TIMEOUT_SECONDS,
            )
            archives = sorted((packed / PROVIDER).glob("terraform-provider-aws_*_*_*.zip"))
            if done.returncode != 0 or not archives:
                return f"{SKIPPED}: terraform providers mirror failed: {done.stderr[-2000:]}"
            for archive in archives:  # terraform-provider-aws_<version>_<os>_<arch>.zip
                _, version, system, arch = archive.stem.split("_")
                with zipfile.ZipFile(archive) as files:
                    platform = unpacked / PROVIDER / version / f"{system}_{arch}"
                    files.extractall(platform)
                    for name in files.namelist():  # zipfile drops the executable bit
                        (platform / name).chmod(0o755)
            shutil.rmtree(target, ignore_errors=True)
            unpacked.rename(target)
        return target


def find_tools() -> Tools | str:
    """Terraform and the mirror, or why they cannot be used."""
    terraform = shutil.which("terraform")
    mirror = find_mirror()
    if terraform is None:
        return f"{SKIPPED}: no terraform on PATH (Terraform 1.11 or later is needed)"
    if mirror is None and registry_allowed():
        downloaded = download_mirror(Path(terraform), DOWNLOADED_MIRROR)
        if isinstance(downloaded, str):
            return downloaded
        mirror = downloaded
    if mirror is None:
        where = os.environ.get(MIRROR_ENV) or ", ".join(map(str, MIRROR_CANDIDATES))
        return f"{SKIPPED}: no filesystem mirror of {PROVIDER} in {where} (set {MIRROR_ENV})"
    return Tools(Path(terraform), mirror)


def cli_config(tools: Tools, work: Path) -> Path:
    """A CLI configuration that installs providers from the mirror and nowhere else."""
    lines = [
        "provider_installation {",
        f"  filesystem_mirror {{\n    path = {json.dumps(str(tools.mirror))}\n  }}",
        "}",
    ]
    if tools.packed:
        lines.append(f"plugin_cache_dir = {json.dumps(str(work / 'plugin-cache'))}")
        (work / "plugin-cache").mkdir(parents=True, exist_ok=True)
    path = work / "terraformrc"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def _copy(source: Path, target: Path) -> None:
    """The configuration files of ``source`` (and a link to its code archive) in
    ``target``, keeping ``target``'s ``.terraform`` from the last run."""
    target.mkdir(parents=True, exist_ok=True)
    for stale in target.glob("*.tf.json"):
        stale.unlink()
    for config in source.glob("*.tf.json"):
        shutil.copy2(config, target / config.name)
    archive, link = source / "deployment.zip", target / "deployment.zip"
    link.unlink(missing_ok=True)
    if archive.exists():
        link.symlink_to(archive.resolve())


def _environment(config: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    return environment | {
        "TF_CLI_CONFIG_FILE": str(config),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",  # no version check over the network
    }


def validate(label: str, source: Path, tools: Tools, config: Path, work: Path) -> Result:
    """``init -backend=false`` then ``validate -json`` on a copy of ``source`` in
    ``work/<label>``, with the CLI configuration ``config`` (``cli_config``)."""
    result = Result(label)
    started = time.monotonic()
    if not list(source.glob("*.tf.json")):
        result.errors.append(f"no *.tf.json in {source}: run make package first")
        return result
    directory = work / label
    _copy(source, directory)
    environment = _environment(config)
    terraform = str(tools.terraform)
    init = subprocess.run(
        [terraform, "init", "-backend=false", "-input=false", "-no-color"],
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )
    if init.returncode != 0:
        result.errors.append("terraform init failed: " + " | ".join(init.stderr.split("\n")))
    else:
        checked = subprocess.run(
            [terraform, "validate", "-json", "-no-color"],
            cwd=directory,
            env=environment,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
        )
        report = json.loads(checked.stdout)
        for diagnostic in report.get("diagnostics", []):
            where = diagnostic.get("range", {}).get("filename", "")
            text = f"{diagnostic['summary']}: {diagnostic.get('detail', '')} {where}".strip()
            bucket = result.errors if diagnostic["severity"] == "error" else result.warnings
            bucket.append(text)
        if not report.get("valid") and not result.errors:
            result.errors.append("terraform validate found the configuration invalid")
    result.seconds = time.monotonic() - started
    return result


def validate_all(directories: dict[str, Path], tools: Tools, work: Path = WORK_DIR) -> list[Result]:
    """All directories at once: each ``validate`` mostly waits on its own terraform."""
    config = cli_config(tools, work)
    with ThreadPoolExecutor(max_workers=len(directories)) as pool:
        runs = [
            pool.submit(validate, label, source, tools, config, work)
            for label, source in directories.items()
        ]
        return [run.result() for run in runs]


def packaged_directories(build: Path = PROJECT_DIR / "build") -> dict[str, Path]:
    """What ``make package`` wrote: each stage's Terraform and the account's piece."""
    directories = {name: build / name / "terraform" for name in DEPLOYED_STAGES}
    return directories | {"account": build / "account" / "terraform"}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", type=Path, default=PROJECT_DIR / "build")
    args = parser.parse_args(argv)
    tools = find_tools()
    if isinstance(tools, str):
        print(f"!!! {tools}{' and CI must run it' if in_ci() else ''} !!!", file=sys.stderr)
        return 1 if in_ci() else 0
    started = time.monotonic()
    results = validate_all(packaged_directories(args.build_dir), tools)
    for result in results:
        print("\n".join(result.lines()))
    failed = [r.label for r in results if not r.ok]
    elapsed = time.monotonic() - started
    print(
        f"terraform validate: {len(results) - len(failed)} of {len(results)} valid in "
        f"{elapsed:.1f} s ({tools.terraform}, provider from {tools.mirror})"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
