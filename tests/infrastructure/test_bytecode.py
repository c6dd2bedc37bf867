"""The deployment package: its compiled bytecode (infra/bytecode.py): a ``.pyc`` beside every
module, that the runtime loads without looking at the source, and the same bytes each time
the same code is packaged (or every apply would publish a new version)."""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import subprocess
import zipfile
from pathlib import Path

import pytest

from infra import bytecode, definitions, package
from infra.stages import stage

#: Compiles in a child interpreter and runs chalice package: not in `make check`.
pytestmark = pytest.mark.external

#: A .pyc's flags word (PEP 552): bit 0 hash-based, bit 1 check the source.
HASH_BASED, CHECK_SOURCE = 0b01, 0b10


def small_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in {
            "app.py": "import lib.values\nVALUE = lib.values.NAMES\n",
            "lib/__init__.py": "",
            "lib/values.py": "NAMES = frozenset({'a', 'b', 'c', 'd', 'e'})\n",
            "lib/data.json": "{}",
        }.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), text)
    return path


def test_every_module_gains_an_unchecked_pyc_for_the_runtime(tmp_path: Path) -> None:
    zipped = small_zip(tmp_path / "deployment.zip")
    assert bytecode.with_bytecode(zipped, definitions.LAMBDA_RUNTIME) == 3
    with zipfile.ZipFile(zipped) as archive:
        names = archive.namelist()
        tag = bytecode.CACHE_TAG
        assert names == [
            "app.py",
            f"__pycache__/app.{tag}.pyc",
            "lib/__init__.py",
            f"lib/__pycache__/__init__.{tag}.pyc",
            "lib/values.py",
            f"lib/__pycache__/values.{tag}.pyc",
            "lib/data.json",
        ]
        compiled = archive.read(f"lib/__pycache__/values.{tag}.pyc")
        source = archive.read("lib/values.py")
    assert compiled[:4] == importlib.util.MAGIC_NUMBER
    flags = int.from_bytes(compiled[4:8], "little")
    assert flags & HASH_BASED
    assert not flags & CHECK_SOURCE  # loaded as it is: the zip keeps no timestamps
    assert compiled[8:16] == importlib.util.source_hash(source)
    code = marshal.loads(compiled[16:])
    assert code.co_filename == f"{bytecode.LAMBDA_TASK_ROOT}/lib/values.py"  # tracebacks
    # A zip that has its bytecode already is left alone.
    assert bytecode.with_bytecode(zipped, definitions.LAMBDA_RUNTIME) == 0


def test_the_same_code_gives_the_same_bytes(tmp_path: Path) -> None:
    digests = set()
    for attempt in range(3):
        zipped = small_zip(tmp_path / f"{attempt}.zip")
        bytecode.with_bytecode(zipped, definitions.LAMBDA_RUNTIME)
        digests.add(hashlib.sha256(zipped.read_bytes()).hexdigest())
    assert len(digests) == 1


def test_bytecode_of_another_python_is_refused(tmp_path: Path) -> None:
    zipped = small_zip(tmp_path / "deployment.zip")
    before = zipped.read_bytes()
    with pytest.raises(SystemExit, match=r"package with Python 3\.99"):
        bytecode.with_bytecode(zipped, "python3.99")
    assert zipped.read_bytes() == before


def test_both_formats_ship_the_same_bytecode_for_every_module(tmp_path: Path) -> None:
    cloudformation, terraform = package.package("dev", tmp_path)
    contents = []
    for directory in (cloudformation, terraform):
        with zipfile.ZipFile(directory / "deployment.zip") as archive:
            names = archive.namelist()
            sources = {n for n in names if n.endswith(".py")}
            cached = {n for n in names if n.endswith(".pyc")}
        assert "chalicelib/__init__.py" in sources
        assert {
            str(Path(n).parent / "__pycache__" / f"{Path(n).stem}.{bytecode.CACHE_TAG}.pyc")
            for n in sources
        } == cached
        contents.append((directory / "deployment.zip").read_bytes())
    assert contents[0] == contents[1]


def test_a_package_without_its_dependencies_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chalice prints a warning and zips the package anyway when it finds no Lambda wheel
    for a requirement; the function would fail on its first import."""
    warning = f"\n{package.MISSING_DEPENDENCIES}\nrpds-py==2026.9.1\n"

    def chalice(*args: object, **kwargs: object) -> subprocess.CompletedProcess[str]:
        (tmp_path / "project" / "package-output").mkdir(parents=True)
        return subprocess.CompletedProcess([], 0, stdout=warning)

    monkeypatch.setattr(package.subprocess, "run", chalice)
    (tmp_path / "project").mkdir(exist_ok=True)
    with pytest.raises(SystemExit, match="left dependencies out"):
        package._chalice_package(tmp_path / "project", stage("dev"), tmp_path / "out")
