"""The wheel carries the template, and the CLI finds it there rather than in a checkout."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT

# Builds a wheel (seconds of setuptools): the full suite's, not the fast tier's.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    return next(out.glob("mlops_ladder-*.whl"))


def test_wheel_holds_the_template(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    template = {name for name in names if name.startswith("mlops_ladder/_template/")}
    assert "mlops_ladder/_template/copier.yml" in template
    assert "mlops_ladder/_template/levels.yml" in template
    shipped = {name.removeprefix("mlops_ladder/_template/") for name in template}
    in_repo = {
        p.relative_to(ROOT).as_posix() for p in (ROOT / "template").rglob("*") if p.is_file()
    }
    assert in_repo <= shipped


def test_installed_package_uses_its_own_template(wheel: Path, tmp_path: Path) -> None:
    zipfile.ZipFile(wheel).extractall(tmp_path)
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            "from mlops_ladder.embedded import template_root; print(template_root())",
        ],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(found.stdout.strip()) == tmp_path / "mlops_ladder" / "_template"


def test_wheel_ships_the_answers_schema_as_generated(wheel: Path) -> None:
    from mlops_ladder.schema import schema_json

    shipped = zipfile.ZipFile(wheel).read("mlops_ladder/answers.schema.json").decode()
    assert shipped == schema_json()
