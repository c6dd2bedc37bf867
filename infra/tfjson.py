"""Offline checks of a Terraform JSON directory: no terraform binary, no providers.

``load`` merges the directory's ``*.tf.json`` files the way Terraform does: primary files
first, then ``*_override.tf.json`` files in name order, where an override's attribute or
nested block replaces the original whole, ``lifecycle`` merges per argument and
``terraform.required_providers`` merges per provider. ``unresolved_references`` lists each
``${...}`` reference that names nothing declared. ``python -m infra.tfjson DIR --emit F``
also writes the merged configuration for scanners that do not apply overrides (checkov).
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TWO_LABELS = ("resource", "data", "ephemeral")
ONE_LABEL = ("variable", "output", "locals", "provider")
#: Blocks without labels, a list of them in JSON; never in override files.
UNLABELLED = ("removed", "import", "moved")
_REFERENCE = re.compile(
    r"(?<![\w.\"])((?:data|ephemeral)\.[a-z0-9_]+\.[\w-]+|local\.\w+|var\.\w+|module\.\w+"
    r"|[a-z][a-z0-9]*_[a-z0-9_]+\.[A-Za-z_][\w-]*)"
)
_BUILT_IN = ("path.", "count.", "each.", "self.", "terraform.")


def is_override(path: Path) -> bool:
    return path.name == "override.tf.json" or path.name.endswith("_override.tf.json")


def interpolations(text: str) -> Iterator[str]:
    """The expression inside each top-level ``${...}`` (``$${`` is a literal)."""
    i = 0
    while (start := text.find("${", i)) != -1:
        if start > 0 and text[start - 1] == "$":
            i = start + 2
            continue
        depth, j = 0, start + 1
        while j < len(text):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            if depth == 0:
                break
            j += 1
        yield text[start + 2 : j]
        i = j + 1


def _strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, list):
        for n, value in enumerate(node):
            yield from _strings(value, f"{path}[{n}]")
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "depends_on" and isinstance(value, list):
                yield from ((f"{path}.depends_on", "${" + dep + "}") for dep in value)
            elif key != "//":
                yield from _strings(value, f"{path}.{key}" if path else key)


def _apply_override(merged: dict[str, Any], doc: dict[str, Any], source: str) -> list[str]:
    errors: list[str] = []
    for kind, body in doc.items():
        if kind == "//":
            continue
        if kind == "terraform":
            settings = merged.setdefault("terraform", {})
            for key, value in body.items():
                if key == "required_providers":
                    settings.setdefault(key, {}).update(copy.deepcopy(value))
                else:
                    settings[key] = copy.deepcopy(value)
        elif kind in TWO_LABELS:
            for type_, named in body.items():
                for name, changes in named.items():
                    target = merged.get(kind, {}).get(type_, {}).get(name)
                    if target is None:
                        errors.append(f"{source}: overrides undeclared {kind} {type_}.{name}")
                        continue
                    for key, value in changes.items():
                        if key == "depends_on":
                            errors.append(f"{source}: depends_on cannot be overridden")
                        elif key == "lifecycle":
                            target.setdefault("lifecycle", {}).update(copy.deepcopy(value))
                        else:
                            target[key] = copy.deepcopy(value)
        elif kind in ONE_LABEL:
            for name, changes in body.items():
                if kind == "locals":
                    if name not in merged.get("locals", {}):
                        errors.append(f"{source}: overrides undeclared local {name}")
                    merged.setdefault("locals", {})[name] = copy.deepcopy(changes)
                elif name not in merged.get(kind, {}):
                    errors.append(f"{source}: overrides undeclared {kind} {name}")
                else:
                    merged[kind][name].update(copy.deepcopy(changes))
        else:
            errors.append(f"{source}: '{kind}' blocks are not allowed in override files")
    return errors


def load(directory: Path) -> tuple[dict[str, Any], list[str]]:
    """The merged configuration of a directory, and the merge errors."""
    merged: dict[str, Any] = {}
    errors: list[str] = []
    files = sorted(directory.glob("*.tf.json"))
    for path in (p for p in files if not is_override(p)):
        for kind, body in json.loads(path.read_text()).items():
            if kind == "//":
                continue
            if kind in UNLABELLED:
                merged.setdefault(kind, []).extend(body if isinstance(body, list) else [body])
                continue
            slot = merged.setdefault(kind, {})
            if kind in TWO_LABELS:
                entries = [
                    (slot.setdefault(t, {}), n, b) for t, nb in body.items() for n, b in nb.items()
                ]
            else:
                entries = [(slot, n, b) for n, b in body.items()]
            for holder, name, value in entries:
                if name in holder and kind != "terraform":
                    errors.append(f"{path.name}: duplicate {kind} {name}")
                holder[name] = value
    for path in (p for p in files if is_override(p)):
        errors += _apply_override(merged, json.loads(path.read_text()), path.name)
    return merged, errors


def declarations(merged: dict[str, Any]) -> set[str]:
    names = {f"{t}.{n}" for t, nb in merged.get("resource", {}).items() for n in nb}
    names |= {f"data.{t}.{n}" for t, nb in merged.get("data", {}).items() for n in nb}
    names |= {f"ephemeral.{t}.{n}" for t, nb in merged.get("ephemeral", {}).items() for n in nb}
    names |= {f"local.{n}" for n in merged.get("locals", {})}
    return names | {f"var.{n}" for n in merged.get("variable", {})}


def references(merged: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, reference) for each reference in a ``${...}`` or ``depends_on``."""
    body = {k: v for k, v in merged.items() if k != "terraform"}
    for where, text in _strings(body):
        for expression in interpolations(text):
            for match in _REFERENCE.finditer(expression):
                ref = match.group(1)
                is_call = expression[match.end() :].lstrip().startswith("(")
                if not ref.startswith(_BUILT_IN) and not is_call:
                    yield where, ref


def unresolved_references(merged: dict[str, Any]) -> list[str]:
    declared = declarations(merged)
    return [f"{ref} at {where}" for where, ref in references(merged) if ref not in declared]


def scannable(merged: dict[str, Any]) -> dict[str, Any]:
    """The merged configuration as checkov's terraform_json parser can read it: without the
    terraform block and the unlabelled blocks (a JSON list makes it give up on the file),
    which declare no resource."""
    return {k: v for k, v in merged.items() if k != "terraform" and k not in UNLABELLED}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Merge and check a Terraform JSON directory")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--emit", type=Path, help="write the merged configuration here")
    args = parser.parse_args(argv)
    merged, errors = load(args.directory)
    errors += [f"unresolved reference {e}" for e in unresolved_references(merged)]
    for error in errors:
        print(error, file=sys.stderr)
    if args.emit:
        args.emit.write_text(json.dumps(scannable(merged), indent=1))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
