"""``make package STAGE=<stage>``: both deployable formats of a stage, with no hand edits.

Writes ``build/<stage>/cloudformation/`` (``sam.json`` + ``deployment.zip``: Chalice's SAM
template merged with ``infra.cloudformation.sam_merge_template``; on protected stages also
``adopt.json`` + ``adopt-resources.json``, to import retained resources again),
``build/<stage>/terraform/`` (``chalice.tf.json`` + ``deployment.zip`` + the two files
of ``infra.terraform``, and ``backend.tf.json`` when ``TASKS_TF_STATE_BUCKET`` names the
state bucket of ``infra.bootstrap``) and ``build/account/terraform/`` (the API Gateway account's
CloudWatch role, ``infra.terraform.account_file``: once per account and region).
Each ``deployment.zip`` carries its modules' compiled bytecode (``infra.bytecode``).

Two automated changes to what Chalice generates, in both formats alike: its API invokes the
function's ``live`` alias instead of the unqualified function (``invoking_the_alias``), and
``chalice.tf.json`` loses its unused ``null_data_source``
(``infra.terraform.without_null_provider``). Chalice's original stays in
``build/<stage>/.project-terraform/`` for comparison.

Packaging again replaces only these generated files, so ``terraform apply`` can run in
``build/<stage>/terraform/`` and keep its state there.

Chalice packages a copy of the project whose stage configuration names the resources
each format creates, so values that ``python -m infra.support`` wrote into
``.chalice/config.json`` for ``chalice deploy`` never leak into a package.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from infra import bootstrap, bytecode, cloudformation, terraform
from infra import definitions as d
from infra.stages import (
    DEPLOY_ONLY_SETTINGS,
    DEPLOY_ONLY_VARIABLES,
    DEPLOYED_STAGES,
    PROJECT_DIR,
    Stage,
    load_config,
    stage,
)

#: What ``chalice package`` reads. ``devserver`` too: the CLI loads chalice.local, so app.py
#: imports it there; Chalice zips only app.py, chalicelib/ and the requirements.
_PROJECT_FILES = ("app.py", "requirements.txt", "chalicelib", "devserver", ".chalice")
ACCOUNT_FILE = "account.tf.json"
#: On protected stages, next to sam.json: a CloudFormation IMPORT of what a deleted stack
#: retained (``infra.cloudformation.adoption``).
ADOPT_TEMPLATE = "adopt.json"
ADOPT_RESOURCES = "adopt-resources.json"
#: The start of Chalice's warning that it found no Lambda wheel for a requirement: it then
#: builds the package anyway, and the function fails on its first import.
MISSING_DEPENDENCIES = "Could not install dependencies:"
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "deployed", "deployments")


def app_environment(target: Stage) -> dict[str, str]:
    """The stage's own settings, without the resource names a package provides."""
    return {k: v for k, v in target.environment.items() if k not in DEPLOY_ONLY_VARIABLES}


def _project_copy(target: Stage, where: Path, environment: dict[str, str]) -> Path:
    """A copy of the project whose stage has exactly ``environment`` and none of the
    settings ``infra.support`` writes (the layer ARN: each format brings its own)."""
    if where.exists():
        shutil.rmtree(where)
    where.mkdir(parents=True)
    for name in _PROJECT_FILES:
        source = PROJECT_DIR / name
        if source.is_dir():
            shutil.copytree(source, where / name, ignore=_IGNORED)
        else:
            shutil.copy2(source, where / name)
    config = load_config()
    settings = config["stages"][target.name]
    settings["environment_variables"] = environment
    for key in DEPLOY_ONLY_SETTINGS:
        settings.pop(key, None)
    (where / ".chalice" / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return where


def _chalice_package(project: Path, target: Stage, out: Path, *extra: str) -> None:
    """Run ``chalice package`` into a fresh directory, then move what it wrote into
    ``out``: files users add there (Terraform state, an import block) are kept."""
    chalice = Path(sys.executable).with_name("chalice")
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    fresh = project / "package-output"
    shutil.rmtree(fresh, ignore_errors=True)
    command = [str(chalice), "package", "--stage", target.name, *extra, str(fresh)]
    done = subprocess.run(
        command, cwd=project, env=env, check=True, stdout=subprocess.PIPE, text=True
    )
    if MISSING_DEPENDENCIES in done.stdout:  # Chalice warns, then zips a package without them
        raise SystemExit(f"chalice package left dependencies out:\n{done.stdout.strip()}")
    out.mkdir(parents=True, exist_ok=True)
    for generated in fresh.iterdir():
        generated.replace(out / generated.name)


def _write_json(path: Path, document: dict) -> None:
    path.write_text(json.dumps(document, indent=2) + "\n")


def package_cloudformation(target: Stage, build: Path) -> Path:
    out = build / "cloudformation"
    project = _project_copy(target, build / ".project-cloudformation", app_environment(target))
    merge = project / "merge-template.json"
    _write_json(merge, cloudformation.sam_merge_template(target))
    _chalice_package(project, target, out, "--merge-template", str(merge))
    template = cloudformation.invoking_the_alias(json.loads((out / "sam.json").read_text()))
    function = template["Resources"]["APIHandler"]
    d.require_runtime(function["Properties"]["Runtime"])
    if function["Properties"]["CodeUri"] != cloudformation.CODE_URI:  # the hook shares it
        raise ValueError(f"Chalice's CodeUri is now {function['Properties']['CodeUri']!r}")
    bytecode.with_bytecode(out / "deployment.zip", function["Properties"]["Runtime"])
    _write_json(out / "sam.json", template)
    if target.tuning.protect_data:  # what a deleted stack kept, to import again
        template, resources = cloudformation.adoption(target)
        _write_json(out / ADOPT_TEMPLATE, template)
        (out / ADOPT_RESOURCES).write_text(json.dumps(resources, indent=2) + "\n")
    return out


def chalice_original(build: Path) -> Path:
    """Chalice's ``chalice.tf.json`` as it wrote it, before ``without_null_provider``."""
    return build / ".project-terraform" / "chalice.tf.json"


def package_terraform(target: Stage, build: Path) -> Path:
    out = build / "terraform"
    environment = app_environment(target)
    # Read by app.py at packaging time for the authorizer: Terraform interpolates it.
    packaging_environment = {
        **environment,
        "COGNITO_USER_POOL_ARN": terraform.USER_POOL_ARN_REFERENCE,
    }
    project = _project_copy(target, build / ".project-terraform", packaging_environment)
    _chalice_package(project, target, out, "--pkg-format", "terraform")
    shutil.copy2(out / "chalice.tf.json", chalice_original(build))
    chalice_tf = terraform.invoking_the_alias(
        terraform.without_null_provider(json.loads((out / "chalice.tf.json").read_text()))
    )
    _write_json(out / "chalice.tf.json", chalice_tf)
    runtime = chalice_tf["resource"]["aws_lambda_function"]["api_handler"]["runtime"]
    d.require_runtime(runtime)
    bytecode.with_bytecode(out / "deployment.zip", runtime)
    _write_json(out / "task_api.tf.json", terraform.supporting_file(target))
    _write_json(out / "task_api_override.tf.json", terraform.override_file(target, environment))
    backend = out / terraform.BACKEND_FILE
    if bucket := os.environ.get(terraform.STATE_BUCKET_ENV, "").strip():
        _write_json(backend, terraform.backend_file(bucket, bootstrap.state_key(target)))
    elif backend.exists() and terraform.is_generated_backend(json.loads(backend.read_text())):
        backend.unlink()  # a local package: local state, as before (a user's own file stays)
    return out


def package_account(build_root: Path = PROJECT_DIR / "build") -> Path:
    """The account's piece (no stage's): kept next to its state, like the stages'."""
    out = build_root / "account" / "terraform"
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / ACCOUNT_FILE, terraform.account_file(load_config()["app_name"]))
    return out


def package(name: str, build_root: Path = PROJECT_DIR / "build") -> tuple[Path, Path]:
    """Both formats of a stage (and the account's piece, which every stage needs)."""
    target = stage(name)
    build = build_root / name
    package_account(build_root)
    return package_cloudformation(target, build), package_terraform(target, build)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True, choices=DEPLOYED_STAGES)
    parser.add_argument("--build-dir", type=Path, default=PROJECT_DIR / "build")
    args = parser.parse_args(argv)
    for path in (*package(args.stage, args.build_dir), args.build_dir / "account" / "terraform"):
        print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")


if __name__ == "__main__":
    main()
