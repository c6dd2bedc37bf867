"""The requirement files: each layer's pins, every dependency declared once, and
``make pins``, which resolves each layer's declared lines with uv.

A layer is one ``requirements*.txt`` file. It includes the layers it builds on (``-r``),
declares what it asks for (the lines above the resolved marker) and lists, below the
marker, every further distribution those need, each pinned exactly. The Makefile installs
a layer with ``uv pip install --no-deps``, so the environment is exactly the pins, with
nothing resolved at install time; ``uv pip check`` then proves the pins complete.

    .venv/bin/python -m tools.pins            # rewrite each layer's resolved lines
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
#: Bottom to top: each layer may include only those before it.
LAYERS = (
    "requirements-uv.txt",  # the installer, bootstrapped with the venv's own pip
    "requirements.txt",  # what Lambda runs (chalice packages this file)
    "requirements-local.txt",  # what `make run` serves with
    "requirements-lint.txt",  # what `make lint` and `make format` run
    "requirements-docs.txt",  # what `make docs` builds the documentation site with
    "requirements-dev.txt",  # everything `make test`, `make bench` and the tools need
)
RESOLVED_MARKER = "# Resolved by `make pins` (tools/pins.py) from the lines above; do not edit."
#: What the resolution is for: Lambda's runtime and this project's machines.
PYTHON_VERSION = "3.11"
PLATFORM = "x86_64-manylinux_2_28"
COMPILE_OPTIONS = ("--annotation-style", "line", "--python-version", PYTHON_VERSION)
COMPILE_OPTIONS += ("--python-platform", PLATFORM)
_PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[A-Za-z0-9,._-]+\])?(?:==(\S+))?")


def canonical(name: str) -> str:
    """PEP 503's normal form: ``Flask_Cors`` and ``flask-cors`` are one distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Layer:
    file: str
    includes: list[str] = field(default_factory=list)
    declared: dict[str, str] = field(default_factory=dict)  # name -> version
    extras: dict[str, str] = field(default_factory=dict)  # name -> "[extra]" asked for
    resolved: dict[str, str] = field(default_factory=dict)
    header: list[str] = field(default_factory=list)  # the declared part, as written

    @property
    def pins(self) -> dict[str, str]:
        return {**self.declared, **self.resolved}


class PinError(ValueError):
    """A requirement file breaks the layering rules."""


def read(file: str, project: Path = PROJECT) -> Layer:
    layer = Layer(file)
    below = False
    for number, raw in enumerate((project / file).read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if raw.strip() == RESOLVED_MARKER:
            below = True
            continue
        if not below:
            layer.header.append(raw)
        if not line:
            continue
        if line.startswith("-r "):
            layer.includes.append(line[3:].strip())
            continue
        match = _PIN.fullmatch(line)
        if match is None:
            raise PinError(f"{file}:{number}: not a pin or an include: {raw!r}")
        name, extras, version = canonical(match[1]), match[2], match[3]
        if extras:
            layer.extras[name] = extras
        if version is None:
            if not extras:
                raise PinError(f"{file}:{number}: {name} has no exact version (name==version)")
            continue  # an extra of a distribution pinned in an included layer
        (layer.resolved if below else layer.declared)[name] = version
    return layer


def read_all(project: Path = PROJECT) -> dict[str, Layer]:
    """Every layer as written, unchecked: while `make pins` rewrites them bottom up, a new
    layer may already pin what a layer above it still pins until its own turn comes."""
    return {file: read(file, project) for file in LAYERS}


def layers(project: Path = PROJECT) -> dict[str, Layer]:
    """Every layer, checked: includes point down, and each distribution is pinned once."""
    found = read_all(project)
    owner: dict[str, str] = {}
    for position, (file, layer) in enumerate(found.items()):
        for include in layer.includes:
            if include not in LAYERS[:position]:
                raise PinError(f"{file} includes {include}, which is not a layer below it")
        for name in layer.pins:
            if name in owner:
                raise PinError(f"{name} is pinned in both {owner[name]} and {file}")
            owner[name] = file
        for name in layer.extras:
            if name not in layer.pins and name not in closure(found, file):
                raise PinError(f"{file} asks for {name}'s extras but no layer pins {name}")
    return found


def closure(found: dict[str, Layer], file: str) -> dict[str, str]:
    """Every pin a layer installs: its own and those of the layers it includes."""
    layer = found[file]
    pins: dict[str, str] = {}
    for include in layer.includes:
        pins.update(closure(found, include))
    return {**pins, **layer.pins}


def extras_asked(found: dict[str, Layer], file: str) -> dict[str, set[str]]:
    """The extras each distribution is installed with, by a layer and those it includes."""
    asked: dict[str, set[str]] = {}
    for include in found[file].includes:
        for name, extras in extras_asked(found, include).items():
            asked.setdefault(name, set()).update(extras)
    for name, extras in found[file].extras.items():
        asked.setdefault(name, set()).update(e.strip() for e in extras.strip("[]").split(","))
    return asked


def resolve(file: str, uv: str, project: Path = PROJECT) -> dict[str, str]:
    """uv's resolution of a layer's declared lines, on top of the layers it includes:
    each distribution that no lower layer and no declared line pins, with why."""
    found = read_all(project)
    layer = found[file]
    lower = {name for include in layer.includes for name in closure(found, include)}
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / file
        header = [
            f"-r {project / line.strip()[3:]}" if line.strip().startswith("-r ") else line
            for line in layer.header
        ]
        source.write_text("\n".join(header) + "\n")
        done = subprocess.run(
            [uv, "pip", "compile", str(source), "--quiet", "--no-header", *COMPILE_OPTIONS],
            cwd=project,
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise PinError(f"uv pip compile {file} failed:\n{done.stderr}")
    resolved: dict[str, str] = {}
    for line in done.stdout.splitlines():
        pin, _, why = line.partition("#")
        match = _PIN.fullmatch(pin.strip())
        if match is None or match[3] is None:
            continue
        name = canonical(match[1])
        if name not in lower and name not in layer.declared:
            why = re.sub(r"-r \S*/(requirements[\w-]*\.txt)", r"\1", why.strip())
            resolved[name] = f"{name}=={match[3]}".ljust(40) + f"  # {why}"
    return resolved


def write(file: str, uv: str, project: Path = PROJECT) -> None:
    layer = read_all(project)[file]
    body = "\n".join(layer.header).rstrip("\n")
    resolved = resolve(file, uv, project)
    lines = [body, "", RESOLVED_MARKER, *(resolved[name] for name in sorted(resolved))]
    text = "\n".join(lines if resolved else [body]) + "\n"
    if (project / file).read_text() != text:  # an unchanged file keeps its time: the
        (project / file).write_text(text)  # Makefile reinstalls a layer when its files change


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.pins", description=__doc__)
    parser.add_argument("--uv", default=str(Path(sys.executable).parent / "uv"))
    args = parser.parse_args(argv)
    for file in LAYERS:  # bottom up: a layer's resolution sees the pins below it
        write(file, args.uv)
        print(f"{file}: {len(read(file).resolved)} resolved pins")
    layers()  # the result obeys the rules
    return 0


if __name__ == "__main__":
    sys.exit(main())
