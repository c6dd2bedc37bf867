"""The requirement layers: every dependency pinned exactly and once, each layer complete on
its own, the environment exactly the pins, and each make target installing only its layer.

The Makefile installs a layer with ``uv pip install --no-deps``: nothing is resolved at
install time, so an incomplete layer would only show when a missing module fails to
import. These tests find that first, offline, from the installed distributions' metadata.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests.conftest import PROJECT_DIR
from tools import pins

LAYERS = pins.layers()
#: What serving must never install: the test, lint, scan and benchmark tools.
DEVELOPMENT_ONLY = {"pytest", "pytest-xdist", "playwright", "schemathesis", "hypothesis"}
DEVELOPMENT_ONLY |= {"cfn-lint", "aws-sam-translator", "matplotlib", "ruff", "flask"}


def installed() -> dict[str, str]:
    return {pins.canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}


def unmet(file: str) -> list[str]:
    """Each requirement of a layer's pinned distributions that the layer's pins do not
    meet: the pins must be complete, since nothing else is installed with them."""
    closure = pins.closure(LAYERS, file)
    asked = pins.extras_asked(LAYERS, file)
    problems = []
    for name in closure:
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            wanted = pins.canonical(requirement.name)
            extras = asked.get(name, set()) | {""}
            marker = requirement.marker
            if marker and not any(marker.evaluate({"extra": extra}) for extra in extras):
                continue
            if wanted not in closure:
                problems.append(f"{name} needs {requirement}, which {file} does not pin")
            elif not requirement.specifier.contains(Version(closure[wanted]), prereleases=True):
                problems.append(f"{name} needs {requirement}, {file} pins {closure[wanted]}")
    return problems


def test_every_distribution_is_pinned_exactly_once_across_the_layers() -> None:
    owners: dict[str, list[str]] = {}
    for file, layer in LAYERS.items():
        for name in layer.pins:
            owners.setdefault(name, []).append(file)
    assert owners, "no pins read"
    assert {name: files for name, files in owners.items() if len(files) > 1} == {}
    assert owners["botocore"] == ["requirements-local.txt"]  # unpinned before; now resolved


def test_the_environment_is_exactly_the_pins() -> None:
    """The suite runs in make test's environment (the dev layer and the installer)."""
    have = installed()
    want = {**pins.closure(LAYERS, "requirements-dev.txt"), **LAYERS["requirements-uv.txt"].pins}
    assert {name: (version, have.get(name)) for name, version in want.items()} == {
        name: (version, version) for name, version in want.items()
    }


@pytest.mark.parametrize("file", [f for f in pins.LAYERS if f != "requirements-uv.txt"])
def test_each_layer_is_complete_on_its_own(file: str) -> None:
    assert unmet(file) == []


def test_serving_installs_none_of_the_development_tools() -> None:
    local = pins.closure(LAYERS, "requirements-local.txt")
    assert DEVELOPMENT_ONLY & set(local) == set()
    assert set(pins.closure(LAYERS, "requirements-dev.txt")) >= DEVELOPMENT_ONLY
    lint = pins.closure(LAYERS, "requirements-lint.txt")
    assert {"ruff", "mypy", "mypy-boto3-dynamodb"} <= set(lint)  # mypy reads the code's deps:
    assert set(local) <= set(lint)  # the serving layer is part of the lint layer
    assert {"pytest", "playwright", "schemathesis"} & set(lint) == set()


def test_each_make_target_installs_only_its_layer() -> None:
    """make run needs the serving layer only, make lint that and ruff and mypy; the rest take
    the dev layer, which holds both. Installs are --no-deps: the environment is the pins."""
    makefile = (PROJECT_DIR / "Makefile").read_text()
    prerequisites = dict(re.findall(r"^([a-z-]+): ([^#\n]*?)\s*##", makefile, flags=re.M))
    assert prerequisites["run"] == "$(LOCAL)"
    assert prerequisites["lint"] == prerequisites["format"] == "$(LINT)"
    for target in ("test", "bench", "contract", "fuzz"):
        assert prerequisites[target] == "$(DEV)", target
    assert re.search(
        r"^INSTALL = .*uv pip install .*--no-deps", makefile.replace("$(UV)", "uv"), re.M
    )


# --- the rules, each of which fails a broken layout ----------------------------------


def write_layers(folder: Path, **contents: str) -> None:
    for file in pins.LAYERS:
        key = file.removesuffix(".txt").replace("-", "_")
        (folder / file).write_text(contents.get(key, ""))


@pytest.mark.parametrize(
    ("contents", "message"),
    [
        ({"requirements_local": "moto\n"}, "moto has no exact version"),
        ({"requirements_local": "moto>=5\n"}, "not a pin or an include"),
        (
            {"requirements": "six==1.17.0\n", "requirements_dev": "six==1.17.0\n"},
            "six is pinned in both requirements.txt and requirements-dev.txt",
        ),
        ({"requirements": "-r requirements-dev.txt\n"}, "not a layer below it"),
        ({"requirements_dev": "moto[server]\n"}, "asks for moto's extras but no layer pins"),
    ],
)
def test_a_broken_layout_is_refused(tmp_path: Path, contents: dict, message: str) -> None:
    write_layers(tmp_path, **contents)
    with pytest.raises(pins.PinError, match=re.escape(message)):
        pins.layers(tmp_path)


def test_resolved_pins_sit_below_the_marker_and_extras_reach_the_layers_above(
    tmp_path: Path,
) -> None:
    write_layers(
        tmp_path,
        requirements_local="-r requirements.txt\nmoto==5.2.5\n\n"
        f"{pins.RESOLVED_MARKER}\nwerkzeug==3.1.9  # via moto\n",
        requirements_dev="-r requirements-local.txt\nmoto[server]\n",
    )
    found = pins.layers(tmp_path)
    assert found["requirements-local.txt"].declared == {"moto": "5.2.5"}
    assert found["requirements-local.txt"].resolved == {"werkzeug": "3.1.9"}
    assert pins.closure(found, "requirements-dev.txt") == {"moto": "5.2.5", "werkzeug": "3.1.9"}
    assert pins.extras_asked(found, "requirements-dev.txt") == {"moto": {"server"}}
